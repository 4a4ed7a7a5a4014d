"""Who is calling, and what an ally may see.

An ally (a partner nation's operations centre) may read an alert only if

* the marking of **every revision it is shown** releases it to the ally's nation
  (``releasable(marking, {nation})``, :mod:`seawarden.alerts.releasability`), and the
  alert's **latest** revision does too — an alert narrowed later vanishes from the ally's
  view rather than showing a stale broader revision; and
* the alert concerns one of the ally's areas: any readable revision's ``area_ids`` or predicted
  ``next_crossing`` area is in the token's areas (an alert that was ever about your cable
  stays yours until it is cancelled, including its Cancel revision). A token created
  with ``--areas all`` (or bound to a subscription for ``all``) sees every area.

Analysts and admins see everything. An unreadable marking releases to no one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from seawarden.alerts.releasability import releasable
from seawarden.api.tokens import Role
from seawarden.errors import ConfigError


@dataclass(frozen=True, slots=True, kw_only=True)
class Principal:
    name: str
    role: Role
    nation: str | None
    areas: frozenset[str] | None  # None = all areas

    @property
    def actor(self) -> str:
        return f"token:{self.name}"

    @property
    def is_ally(self) -> bool:
        return self.role == "ally"


def may_read_revision(p: Principal, body: Mapping[str, Any]) -> bool:
    """Releasability of one revision to ``p`` (areas are judged per alert, not here)."""
    if not p.is_ally:
        return True
    if p.nation is None:
        return False
    label = body.get("releasability")
    if not isinstance(label, str):
        return False
    try:
        return releasable(label, frozenset({p.nation}))
    except ConfigError:
        return False


def areas_of(body: Mapping[str, Any]) -> set[str]:
    out = {str(a) for a in body.get("area_ids") or () if isinstance(a, str)}
    nc = body.get("next_crossing")
    if isinstance(nc, Mapping) and isinstance(nc.get("area_id"), str):
        out.add(nc["area_id"])
    return out


def in_areas(p: Principal, area_sets: Iterable[set[str]]) -> bool:
    if not p.is_ally or p.areas is None:
        return True
    return any(s & p.areas for s in area_sets)


def visible_revisions(
    p: Principal, revisions: Sequence[Mapping[str, Any]]
) -> list[Mapping[str, Any]]:
    """The revisions of one alert (ordered by revision) that ``p`` may read; [] = hidden."""
    if not revisions:
        return []
    if not p.is_ally:
        return list(revisions)
    if not may_read_revision(p, revisions[-1]):
        return []
    readable = [r for r in revisions if may_read_revision(p, r)]
    # Areas are judged only over what the ally may read: a hidden revision about its area
    # must not make an alert visible (that would tell it the hidden revision existed).
    if not in_areas(p, (areas_of(r) for r in readable)):
        return []
    return readable


__all__ = ["Principal", "areas_of", "in_areas", "may_read_revision", "visible_revisions"]
