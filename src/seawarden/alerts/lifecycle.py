"""From a stream of risk assessments to alert revisions: dedup, hold-down, cancel.

One ongoing situation is one alert: the first assessment at or above ``min_level`` raises it
(``Alert``), later material changes revise it (``Update``: the level changed, the score moved
by ``rescore_points``, a new detector joined, or the next crossing changed corridor) no more
often than every ``min_update_s`` — except a rise in level, which goes out at once — and it
is cancelled (``Cancel``) once the level has stayed below ``min_level`` for ``cancel_after_s``.
Alert ids hash the vessel and the situation's start, so a replay reproduces them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from seawarden.alerts.model import STATUSES, Alert, MsgType, NextCrossing, Reason
from seawarden.alerts.releasability import label_of, narrowest, parse_label
from seawarden.errors import ConfigError
from seawarden.model import event_id
from seawarden.risk.score import LEVELS, Assessment


@dataclass(frozen=True, slots=True, kw_only=True)
class AlertConfig:
    min_level: str = "medium"
    min_update_s: float = 300.0
    rescore_points: float = 10.0
    cancel_after_s: float = 900.0
    # CAP status of every alert this run raises: Actual (real), Exercise, Test.
    status: str = "Actual"
    # Release marking of every alert (``REL JEF``, ``REL NATO``, ``REL GBR, NOR``); an area's
    # own marking in ``releasability_by_area`` narrows it for alerts involving that area.
    releasability: str = "REL JEF"
    releasability_by_area: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.min_level not in LEVELS[1:]:
            raise ConfigError(f"alerts.min_level must be one of {LEVELS[1:]}")
        if self.status not in STATUSES:
            raise ConfigError(f"alerts.status must be one of {STATUSES}, not {self.status!r}")
        parse_label(self.releasability)
        for area_id, label in self.releasability_by_area.items():
            try:
                parse_label(label)
            except ConfigError as exc:
                raise ConfigError(f"alerts.releasability_by_area[{area_id}]: {exc}") from exc
        if self.min_update_s < 0 or self.cancel_after_s < 0 or self.rescore_points < 0:
            raise ConfigError("alert intervals and rescore_points must be >= 0")

    def marking_for(self, area_ids: tuple[str, ...]) -> str:
        """The release marking of an alert involving ``area_ids``: the narrowest that applies."""
        labels = [self.releasability]
        by_area = self.releasability_by_area
        labels += [by_area[a] for a in area_ids if a in by_area]
        return narrowest(labels) if len(labels) > 1 else label_of(parse_label(labels[0]))


@dataclass(slots=True)
class _Open:
    id: str
    revision: int
    level: str
    score: float
    detectors: frozenset[str]
    crossing_area: str | None
    last_sent: datetime
    below_since: datetime | None = None
    last: Alert | None = field(default=None)
    notes: tuple[str, ...] = ()


def _rank(level: str) -> int:
    return (*LEVELS,).index(level)


class AlertLifecycle:
    """Keeps open alerts per vessel; :meth:`update` returns revisions to send (0 or 1)."""

    def __init__(self, config: AlertConfig | None = None) -> None:
        self.config = config or AlertConfig()
        self._open: dict[int, _Open] = {}

    def has_open(self, mmsi: int) -> bool:
        return mmsi in self._open

    def open_alerts(self) -> dict[int, str]:
        return {m: o.id for m, o in self._open.items()}

    def update(
        self,
        a: Assessment,
        *,
        lat: float,
        lon: float,
        build: Callable[[str, int, MsgType], Alert],
    ) -> Alert | None:
        cfg = self.config
        current = self._open.get(a.mmsi)
        at_level = _rank(a.level) >= _rank(cfg.min_level)
        detectors = frozenset(c.source.split(".")[0] for c in a.contributions)
        if current is None:
            if not at_level:
                return None
            alert_id = event_id("alert", a.mmsi, a.time)
            alert = build(alert_id, 1, "Alert")
            self._open[a.mmsi] = _Open(
                id=alert_id,
                revision=1,
                level=a.level,
                score=a.score,
                detectors=detectors,
                crossing_area=alert.next_crossing.area_id if alert.next_crossing else None,
                last_sent=a.time,
                last=alert,
                notes=a.notes,
            )
            return alert
        if not at_level:
            current.below_since = current.below_since or a.time
            if (a.time - current.below_since).total_seconds() >= cfg.cancel_after_s:
                del self._open[a.mmsi]
                return build(current.id, current.revision + 1, "Cancel")
            return None
        current.below_since = None
        rose = _rank(a.level) > _rank(current.level)
        changed = (
            a.level != current.level
            or abs(a.score - current.score) >= cfg.rescore_points
            or not detectors <= current.detectors
            or a.notes != current.notes  # a new explanation ("likely accidental") is news
        )
        if not changed:
            return None
        due = (a.time - current.last_sent).total_seconds() >= cfg.min_update_s
        if not (rose or due):
            return None
        alert = build(current.id, current.revision + 1, "Update")
        new_crossing = alert.next_crossing.area_id if alert.next_crossing else None
        current.revision += 1
        current.level = a.level
        current.score = a.score
        current.detectors = current.detectors | detectors
        current.crossing_area = new_crossing
        current.last_sent = a.time
        current.last = alert
        current.notes = a.notes
        return alert

    def snapshot(self) -> dict[str, Any]:
        return {
            str(m): {
                "id": o.id,
                "revision": o.revision,
                "level": o.level,
                "score": o.score,
                "detectors": sorted(o.detectors),
                "crossing_area": o.crossing_area,
                "last_sent": o.last_sent.isoformat(),
                "below_since": o.below_since.isoformat() if o.below_since else None,
                "notes": list(o.notes),
            }
            for m, o in self._open.items()
        }

    def restore(self, snap: dict[str, Any]) -> None:
        self._open = {
            int(m): _Open(
                id=d["id"],
                revision=int(d["revision"]),
                level=d["level"],
                score=float(d["score"]),
                detectors=frozenset(d["detectors"]),
                crossing_area=d["crossing_area"],
                last_sent=datetime.fromisoformat(d["last_sent"]),
                below_since=datetime.fromisoformat(d["below_since"]) if d["below_since"] else None,
                notes=tuple(d.get("notes", ())),
            )
            for m, d in snap.items()
        }


def reasons_of(a: Assessment) -> tuple[Reason, ...]:
    return tuple(Reason(detector=c.source, weight=c.points, text=c.text) for c in a.contributions)


__all__ = ["AlertConfig", "AlertLifecycle", "NextCrossing", "reasons_of"]
