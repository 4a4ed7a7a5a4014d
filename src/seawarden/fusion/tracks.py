"""Sensor-track state: one radar target's filter, its AIS partner, and its open findings.

A radar reports a target under its own track number scan after scan. :class:`SensorTrack`
keeps a CV Kalman filter for it (``predict.CVFilter``), which MMSI each update was
associated with, and the *partner*: the MMSI with at least ``partner_min`` of the last
``partner_window`` associations. The partner is sticky: it stays when later updates stop
associating (that is exactly what happens when the ship goes silent or its AIS starts to
lie) and changes only when another MMSI earns the majority.

The module also builds the events, in the house style of ``detectors/base.py``: every one
carries ``confidence``, ``reasons``, ``evidence``, ``version`` and ``params``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from seawarden.fusion.config import VERSION, FusionConfig
from seawarden.fusion.predict import CVFilter
from seawarden.model.contacts import Contact
from seawarden.model.events import Event, EventPhase, event_id


def contact_evidence(c: Contact) -> dict[str, Any]:
    """A contact as event evidence (JSON-ready)."""
    return {
        "time": c.time.isoformat(),
        "lat": round(c.lat, 6),
        "lon": round(c.lon, 6),
        "sensor": c.sensor,
        "kind": c.kind,
        "track": c.track,
        "speed_kn": c.speed_kn,
        "course_deg": c.course_deg,
        "length_m": c.length_m,
        "confidence": c.confidence,
        "sigma_m": c.sigma_m,
        "pass_id": c.pass_id,
        "label": c.label,
        "status": c.status,
        "source": c.source,
        "line_no": c.line_no,
    }


@dataclass(slots=True)
class OpenFinding:
    """An open/update/close finding: its id, onset, last emission and context."""

    id: str
    start: datetime
    last_emit: datetime
    area_id: str | None = None
    info: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "start": self.start.isoformat(),
            "last_emit": self.last_emit.isoformat(),
            "area_id": self.area_id,
            "info": self.info,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> OpenFinding:
        return cls(
            id=d["id"],
            start=datetime.fromisoformat(d["start"]),
            last_emit=datetime.fromisoformat(d["last_emit"]),
            area_id=d["area_id"],
            info=dict(d["info"]),
        )


class SensorTrack:
    """One radar target ``(sensor, track)``; see the module docstring."""

    def __init__(self, sensor: str, key: str, tid: int, first: Contact, filt: CVFilter,
                 cfg: FusionConfig) -> None:  # fmt: skip
        self.sensor = sensor
        self.key = key
        self.tid = tid
        self.kind: str = first.kind
        self.first = first.time
        self.last = first.time
        self.n = 0
        self.filt = filt
        self.assoc: deque[int | None] = deque(maxlen=cfg.partner_window)
        self.partner: int | None = None
        self.unassoc_run = 0
        self.dark_since: datetime | None = None
        self.length_m: float | None = None
        self.conf_sum = 0.0
        self.evidence: deque[dict[str, Any]] = deque(maxlen=cfg.evidence_n)
        self.contra_run = 0
        # the partner held >= partner_min of the partner_window associations *before* the
        # latest contact: a contradiction may only start from a stable partnership
        self.was_stable = False
        self.period_s: float | None = None  # interval between the last two updates
        self.open: dict[str, OpenFinding] = {}  # finding type → open state

    @property
    def mean_confidence(self) -> float:
        return self.conf_sum / self.n if self.n else 0.0

    def add(self, c: Contact, mmsi: int | None, cfg: FusionConfig) -> int | None:
        """Record one associated (or not) contact; returns the partner it newly earned."""
        if self.n:
            self.period_s = (c.time - self.last).total_seconds()
        self.was_stable = (
            self.partner is not None
            and sum(1 for m in self.assoc if m == self.partner) >= cfg.partner_min
        )
        self.n += 1
        self.last = c.time
        self.conf_sum += max(0.0, min(1.0, c.confidence))
        if c.length_m is not None and c.length_m > 0:
            self.length_m = c.length_m
        self.evidence.append(contact_evidence(c))
        self.assoc.append(mmsi)
        if mmsi is None:
            self.unassoc_run += 1
            if self.dark_since is None and self.partner is None:
                self.dark_since = c.time
        else:
            self.unassoc_run = 0
        counts: dict[int, int] = {}
        for m in self.assoc:
            if m is not None:
                counts[m] = counts.get(m, 0) + 1
        best = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        if best and best[0][1] >= cfg.partner_min and best[0][0] != self.partner:
            self.partner = best[0][0]
            return self.partner
        return None

    def run_of(self, mmsi: int) -> int:
        """How many of the latest associations, consecutively, were ``mmsi``."""
        n = 0
        for m in reversed(self.assoc):
            if m != mmsi:
                break
            n += 1
        return n

    def to_dict(self) -> dict[str, Any]:
        return {
            "sensor": self.sensor, "key": self.key, "tid": self.tid, "kind": self.kind,
            "first": self.first.isoformat(), "last": self.last.isoformat(), "n": self.n,
            "filt": self.filt.to_dict(), "assoc": list(self.assoc), "partner": self.partner,
            "unassoc_run": self.unassoc_run,
            "dark_since": self.dark_since.isoformat() if self.dark_since else None,
            "length_m": self.length_m, "conf_sum": self.conf_sum,
            "evidence": list(self.evidence), "contra_run": self.contra_run,
            "was_stable": self.was_stable, "period_s": self.period_s,
            "open": {k: v.to_dict() for k, v in self.open.items()},
        }  # fmt: skip

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], cfg: FusionConfig) -> SensorTrack:
        self = cls.__new__(cls)
        self.sensor, self.key, self.tid, self.kind = d["sensor"], d["key"], d["tid"], d["kind"]
        self.first = datetime.fromisoformat(d["first"])
        self.last = datetime.fromisoformat(d["last"])
        self.n = int(d["n"])
        self.filt = CVFilter.from_dict(d["filt"])
        self.assoc = deque(d["assoc"], maxlen=cfg.partner_window)
        self.partner = d["partner"]
        self.unassoc_run = int(d["unassoc_run"])
        self.dark_since = datetime.fromisoformat(d["dark_since"]) if d["dark_since"] else None
        self.length_m = d["length_m"]
        self.conf_sum = float(d["conf_sum"])
        self.evidence = deque(d["evidence"], maxlen=cfg.evidence_n)
        self.contra_run = int(d["contra_run"])
        self.was_stable = bool(d.get("was_stable", False))
        self.period_s = d.get("period_s")
        self.open = {k: OpenFinding.from_dict(v) for k, v in d["open"].items()}
        return self


def make_event(
    cfg: FusionConfig,
    ftype: str,
    phase: EventPhase,
    mmsi: int,
    start: datetime,
    *,
    time: datetime,
    lat: float,
    lon: float,
    confidence: float,
    reasons: Sequence[str],
    evidence: Sequence[Mapping[str, Any]] = (),
    area_id: str | None = None,
    attrs: Mapping[str, Any] | None = None,
    extra: Sequence[str] = (),
    eid: str | None = None,
) -> Event:
    """A fusion event: ``kind="fusion"``, ``attrs["type"] = ftype``, house-style attrs."""
    if not reasons:
        raise ValueError(f"fusion.{ftype}: an event needs at least one reason")
    body: dict[str, Any] = {
        "type": ftype,
        "confidence": round(max(0.0, min(1.0, confidence)), 3),
        "reasons": list(reasons),
        "started": start.isoformat(),
        "evidence": [dict(e) for e in evidence],
        "version": VERSION,
        "params": cfg.params(),
    }
    if attrs:
        body.update(attrs)
    return Event(
        id=eid or event_id(f"fusion.{ftype}", mmsi, start, *extra),
        kind="fusion",
        phase=phase,
        mmsi=mmsi,
        time=time,
        lat=lat,
        lon=lon,
        area_id=area_id,
        producer_version=VERSION,
        attrs=body,
    )


def minutes(seconds: float) -> str:
    """ "14 min" / "2.5 h" for reasons."""
    if seconds < 5400:
        return f"{round(seconds / 60)} min"
    return f"{seconds / 3600:.1f} h"
