"""Registry priors: points for an uninsured, unclassed, re-flagged, renamed or old tanker.

These are *priors*, not findings: the risk engine calls them only for vessels that already
have something against them (an open detector event), so a registry profile never raises an
alert on its own — it only makes an existing suspicion weigh more. Each contribution says
precisely why ("flag changed from PA to CM on 2024-11-02 (3 months ago)").
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import date, datetime

from seawarden.errors import ConfigError
from seawarden.fleet.registry import Particulars, VesselRegistry
from seawarden.fleet.vessel import VesselState
from seawarden.risk.score import Contribution

__all__ = ["RegistryPriorConfig", "RegistryPriors"]

_Add = Callable[[str, float, str], None]


@dataclass(frozen=True)
class RegistryPriorConfig:
    """Points per prior (0 disables one) and the windows that make a change "recent"."""

    uninsured_points: float = 12.0
    unknown_insurer_points: float = 0.0
    reflag_points: float = 10.0
    reflag_within_days: int = 365
    renamed_points: float = 6.0
    renamed_within_days: int = 365
    old_tanker_points: float = 8.0
    old_tanker_age_years: int = 20
    unclassed_points: float = 8.0
    flag_mismatch_points: float = 10.0

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            ok = isinstance(value, int | float) and not isinstance(value, bool)
            if not ok or not math.isfinite(value) or value < 0:
                raise ConfigError(f"registry prior {f.name} must be a number >= 0, got {value!r}")
            if f.name.endswith("_points") and value > 100:
                raise ConfigError(f"registry prior {f.name} must be <= 100, got {value!r}")


def _ago(days: int) -> str:
    if days < 0:
        return "in the future"
    if days < 60:
        return f"{days} days ago"
    if days < 730:
        return f"{round(days / 30.44)} months ago"
    return f"{days / 365.25:.1f} years ago"


class RegistryPriors:
    """``priors(vessel, now)`` → the registry contributions for ``vessel`` (by its IMO)."""

    def __init__(self, registry: VesselRegistry, config: RegistryPriorConfig | None = None) -> None:
        self.registry = registry
        self.config = config or RegistryPriorConfig()

    def __call__(self, vessel: VesselState, now: datetime) -> list[Contribution]:
        p = self.registry.get(vessel.imo)
        if p is None:
            return []
        cfg = self.config
        today = now.date()
        who = f"IMO {p.imo}" + (f" ({p.name})" if p.name else "")
        out: list[Contribution] = []

        def add(name: str, points: float, text: str) -> None:
            if points > 0:
                out.append(Contribution(source=f"prior.registry.{name}", points=points, text=text))

        if p.insured is False:
            add("uninsured", cfg.uninsured_points, f"{who}: registry lists no P&I insurer")
        elif p.insured is None:
            add("unknown_insurer", cfg.unknown_insurer_points, f"{who}: P&I insurer unknown")
        if p.classed is False:
            add(
                "unclassed",
                cfg.unclassed_points,
                f"{who}: no classification society ({p.class_society})",
            )
        self._reflag(p, today, who, add)
        self._renamed(p, today, who, add)
        if p.build_year is not None and _is_tanker(vessel, p):
            age = today.year - p.build_year
            if age >= cfg.old_tanker_age_years:
                add(
                    "old_tanker",
                    cfg.old_tanker_points,
                    f"{who}: tanker built {p.build_year} ({age} years old, "
                    f"threshold {cfg.old_tanker_age_years})",
                )
        ais_flag = vessel.flag
        if ais_flag and p.flag and ais_flag != p.flag:
            add(
                "flag_mismatch",
                cfg.flag_mismatch_points,
                f"{who}: AIS MMSI {vessel.mmsi} says flag {ais_flag}, registry says {p.flag}",
            )
        return out

    def _reflag(self, p: Particulars, today: date, who: str, add: _Add) -> None:
        cfg = self.config
        # The most recently left previous flag (undated ones count as older).
        prev = sorted(p.previous_flags, key=lambda f: f[1] or date.min, reverse=True)
        since = p.flag_since or (prev[0][1] if prev else None)
        if since is None:
            return
        days = (today - since).days
        if not 0 <= days <= cfg.reflag_within_days:
            return
        old = prev[0][0] if prev else "another flag"
        new = p.flag or "an unknown flag"
        add(
            "reflagged",
            cfg.reflag_points,
            f"{who}: flag changed from {old} to {new} on {since.isoformat()} ({_ago(days)})",
        )

    def _renamed(self, p: Particulars, today: date, who: str, add: _Add) -> None:
        cfg = self.config
        dated = [(until, old) for old, until in p.previous_names if until is not None]
        for until, old in sorted(dated, reverse=True):
            days = (today - until).days
            if 0 <= days <= cfg.renamed_within_days:
                add(
                    "renamed",
                    cfg.renamed_points,
                    f"{who}: renamed from {old} to {p.name or 'its current name'} on "
                    f"{until.isoformat()} ({_ago(days)})",
                )
                return  # one contribution, for the most recent rename


def _is_tanker(vessel: VesselState, p: Particulars) -> bool:
    if vessel.ship_type is not None and 80 <= vessel.ship_type <= 89:
        return True
    return p.ship_type is not None and "tanker" in p.ship_type.lower()
