"""The alert record: what is sent to a watch officer or an ally, revision by revision.

It follows OASIS CAP 1.2 semantics where they fit — a stable identifier, ``msg_type`` Alert
for the first revision, Update for later ones and Cancel when the risk subsides — and adds
what a maritime recipient needs: the vessel's identity, the score and *why*, the areas
involved and the predicted next corridor crossing. The JSON form is a stable contract
(``docs/formats.md``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from seawarden.pipeline.sinks import iso_utc

MsgType = Literal["Alert", "Update", "Cancel"]
Status = Literal["Actual", "Exercise", "Test"]
STATUSES: tuple[str, ...] = ("Actual", "Exercise", "Test")


@dataclass(frozen=True, slots=True, kw_only=True)
class Reason:
    detector: str
    weight: float  # points this reason adds to the score
    text: str


@dataclass(frozen=True, slots=True, kw_only=True)
class NextCrossing:
    area_id: str
    eta: datetime
    distance_m: float
    inside_now: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class Alert:
    id: str
    revision: int
    msg_type: MsgType
    mmsi: int
    imo: int | None
    name: str | None
    flag: str | None
    severity: str
    score: float
    event_time: datetime
    lat: float
    lon: float
    area_ids: tuple[str, ...]
    detectors: tuple[str, ...]
    reasons: tuple[Reason, ...]
    next_crossing: NextCrossing | None
    watchlist: dict[str, Any] | None
    monitored: bool
    predicted_track: tuple[tuple[datetime, float, float], ...] = ()
    # CAP status (Actual | Exercise | Test) and the release marking (alerts/releasability.py):
    # nothing leaves for a recipient whose audience the marking does not cover.
    status: Status = "Actual"
    releasability: str = "REL JEF"
    # Context that changes how the findings read, e.g. "likely accidental: storm, wind
    # 27 m/s (Beaufort 10) at the vessel" (risk modifiers: weather, sensor confirmation).
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        nc = self.next_crossing
        return {
            "id": self.id,
            "revision": self.revision,
            "msg_type": self.msg_type,
            "mmsi": self.mmsi,
            "imo": self.imo,
            "name": self.name,
            "flag": self.flag,
            "severity": self.severity,
            "score": self.score,
            "event_time": iso_utc(self.event_time),
            "lat": round(self.lat, 6),
            "lon": round(self.lon, 6),
            "area_ids": list(self.area_ids),
            "detectors": list(self.detectors),
            "reasons": [
                {"detector": r.detector, "weight": r.weight, "text": r.text} for r in self.reasons
            ],
            "next_crossing": None
            if nc is None
            else {
                "area_id": nc.area_id,
                "eta": iso_utc(nc.eta),
                "distance_m": round(nc.distance_m),
                "inside_now": nc.inside_now,
            },
            "watchlist": self.watchlist,
            "monitored": self.monitored,
            "status": self.status,
            "releasability": self.releasability,
            "notes": list(self.notes),
            "predicted_track": [
                {"time": iso_utc(t), "lat": round(la, 5), "lon": round(lo, 5)}
                for t, la, lo in self.predicted_track
            ],
        }
