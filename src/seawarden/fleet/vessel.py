"""What we currently know about one vessel, built from the reports it sends.

AIS splits a vessel's story over many messages: positions every 2 s to 3 min, the name
and IMO every 6 min (type 5), or in two halves for class B (24A name, 24B type/callsign/
dimensions), and any of them may arrive late or not at all. :class:`VesselState` merges
them into one record: the last position, a short recent track, each static field with the
time it was last heard, counts, the MMSI's identity verdict and the current watchlist
match. It is mutable and slotted because the fleet holds hundreds of thousands of them.
:class:`IdentityChange` records a vessel saying it is now someone else (renamed, new
callsign, an IMO turning up under another MMSI) — a classic sign of a shadow-fleet ship.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import Any, Final, Literal

from seawarden.fleet.identity import MmsiClass, classify_mmsi
from seawarden.fleet.watchlist import WatchlistMatch
from seawarden.model import PositionReport, StaticReport

__all__ = ["IDENTITY_FIELDS", "STATIC_FIELDS", "IdentityChange", "IdentityField", "VesselState"]

IdentityField = Literal["name", "callsign", "imo", "ship_type", "flag", "mmsi"]
# Fields whose change means "this hull now claims another identity".
IDENTITY_FIELDS: Final[tuple[IdentityField, ...]] = ("imo", "name", "callsign", "ship_type")
# Everything merged from static reports; draught and destination change every voyage.
STATIC_FIELDS: Final = (*IDENTITY_FIELDS, "length_m", "beam_m", "draught_m", "destination")
_REPORT_FIELDS: Final = tuple(f.name for f in fields(PositionReport))


@dataclass(frozen=True, slots=True, kw_only=True)
class IdentityChange:
    """A vessel's identity changed: ``field`` went from ``old`` to ``new`` at ``time``.

    For ``field="mmsi"``, ``mmsi`` is the new MMSI and ``old`` the one the same IMO was
    heard on before. ``source`` names the input that carried the new value.
    """

    mmsi: int
    time: datetime
    field: IdentityField
    old: str | int | None
    new: str | int | None
    source: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "mmsi": self.mmsi,
            "time": self.time.isoformat(),
            "field": self.field,
            "old": self.old,
            "new": self.new,
            "source": self.source,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> IdentityChange:
        return cls(
            mmsi=int(data["mmsi"]),
            time=datetime.fromisoformat(data["time"]),
            field=data["field"],
            old=data["old"],
            new=data["new"],
            source=str(data.get("source", "")),
        )


class VesselState:
    """Per-vessel state owned by :class:`~seawarden.fleet.fleet.Fleet`.

    ``track`` holds recent positions in event-time order, at most ``track_window_n`` of
    them and none older than ``track_window_s`` before the newest. Static fields are None
    until first heard; ``<field>_time`` is when each was last heard. ``changes`` keeps the
    last few :class:`IdentityChange` records (the fleet bounds it).
    """

    __slots__ = (
        "beam_m",
        "beam_m_time",
        "callsign",
        "callsign_time",
        "changes",
        "destination",
        "destination_time",
        "draught_m",
        "draught_m_time",
        "first_seen",
        "identity",
        "imo",
        "imo_time",
        "last_seen",
        "length_m",
        "length_m_time",
        "mmsi",
        "n_positions",
        "n_statics",
        "name",
        "name_time",
        "order",
        "ship_type",
        "ship_type_time",
        "track",
        "watch",
    )

    def __init__(self, mmsi: int, first_seen: datetime, *, track_window_n: int) -> None:
        self.mmsi = mmsi
        self.identity: MmsiClass = classify_mmsi(mmsi)
        self.first_seen = first_seen
        self.last_seen = first_seen
        self.track: deque[PositionReport] = deque(maxlen=track_window_n)
        self.n_positions = 0
        self.n_statics = 0
        self.imo: int | None = None
        self.name: str | None = None
        self.callsign: str | None = None
        self.ship_type: int | None = None
        self.length_m: float | None = None
        self.beam_m: float | None = None
        self.draught_m: float | None = None
        self.destination: str | None = None
        self.imo_time: datetime | None = None
        self.name_time: datetime | None = None
        self.callsign_time: datetime | None = None
        self.ship_type_time: datetime | None = None
        self.length_m_time: datetime | None = None
        self.beam_m_time: datetime | None = None
        self.draught_m_time: datetime | None = None
        self.destination_time: datetime | None = None
        self.watch: WatchlistMatch | None = None
        self.changes: tuple[IdentityChange, ...] = ()  # shared empty tuple: no allocation
        self.order = 0  # the fleet's creation counter: its iteration order, for ticks

    def __repr__(self) -> str:
        return (
            f"VesselState(mmsi={self.mmsi}, name={self.name!r}, imo={self.imo}, "
            f"positions={self.n_positions}, last_seen={self.last_seen.isoformat()})"
        )

    @property
    def last(self) -> PositionReport | None:
        """The newest position by event time, or None before the first one."""
        return self.track[-1] if self.track else None

    @property
    def flag(self) -> str | None:
        """ISO alpha-2 flag from the MMSI's MID (None for placeholders and unknown MIDs)."""
        return self.identity.flag

    def _seen(self, time: datetime) -> None:
        if time < self.first_seen:
            self.first_seen = time
        if time > self.last_seen:
            self.last_seen = time

    def add_position(self, report: PositionReport, window: timedelta) -> bool:
        """Count a position and place it in the track; False if too old or a repeat to keep.

        Late reports are inserted in time order, so the track never depends on arrival
        order within the window.
        """
        self.n_positions += 1
        self._seen(report.time)
        track = self.track
        if not track or report.time > track[-1].time:
            track.append(report)  # a full deque drops its oldest
        else:
            if report.time < track[-1].time - window:
                return False
            i = len(track)
            while i > 0 and track[i - 1].time > report.time:
                i -= 1
            if i > 0 and track[i - 1] == report:
                return False  # the same report twice (two receivers, replayed file)
            if len(track) == track.maxlen:
                if i == 0:
                    return False  # older than everything the window keeps
                track.popleft()
                i -= 1
            track.insert(i, report)
        cutoff = track[-1].time - window
        while track[0].time < cutoff:
            track.popleft()
        return True

    def merge_static(
        self, report: StaticReport
    ) -> list[tuple[IdentityField, str | int | None, str | int | None]]:
        """Merge the fields a static report carries; return (field, old, new) for changes.

        A field a report does not carry (None) never erases a known value, so 24A and 24B
        halves complete each other. A first value is a fill, not a change. A report older
        than a field's last update does not overwrite it.
        """
        self.n_statics += 1
        self._seen(report.time)
        changed: list[tuple[IdentityField, str | int | None, str | int | None]] = []
        for name in STATIC_FIELDS:
            new = getattr(report, name)
            if new is None:
                continue
            seen_at: datetime | None = getattr(self, f"{name}_time")
            if seen_at is not None and report.time < seen_at:
                continue
            old = getattr(self, name)
            if old is not None and old != new and name in IDENTITY_FIELDS:
                changed.append((name, old, new))
            setattr(self, name, new)
            setattr(self, f"{name}_time", report.time)
        return changed

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable snapshot of this vessel (see :meth:`from_dict`)."""
        statics: dict[str, Any] = {}
        for name in STATIC_FIELDS:
            seen_at: datetime | None = getattr(self, f"{name}_time")
            if seen_at is not None:
                statics[name] = [getattr(self, name), seen_at.isoformat()]
        watch = None
        if self.watch is not None:
            watch = {
                "entry": self.watch.entry.key,
                "key": self.watch.key,
                "score": self.watch.score,
                "detail": self.watch.detail,
            }
        return {
            "mmsi": self.mmsi,
            "first_seen": self.first_seen.isoformat(),
            "last_seen": self.last_seen.isoformat(),
            "n_positions": self.n_positions,
            "n_statics": self.n_statics,
            "static": statics,
            "track": [_report_row(r) for r in self.track],
            "changes": [c.to_dict() for c in self.changes],
            "watch": watch,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, track_window_n: int) -> VesselState:
        """Rebuild a vessel from :meth:`to_dict`; the watchlist match is restored by the fleet."""
        state = cls(
            int(data["mmsi"]),
            datetime.fromisoformat(data["first_seen"]),
            track_window_n=track_window_n,
        )
        state.last_seen = datetime.fromisoformat(data["last_seen"])
        state.n_positions = int(data["n_positions"])
        state.n_statics = int(data["n_statics"])
        for name, (value, seen_at) in data["static"].items():
            if name in STATIC_FIELDS:
                setattr(state, name, value)
                setattr(state, f"{name}_time", datetime.fromisoformat(seen_at))
        state.track.extend(_report_from_row(row) for row in data["track"])
        state.changes = tuple(IdentityChange.from_dict(c) for c in data["changes"])
        return state


def _report_row(report: PositionReport) -> dict[str, Any]:
    row = {name: getattr(report, name) for name in _REPORT_FIELDS}
    row["time"] = report.time.isoformat()
    return row


def _report_from_row(row: dict[str, Any]) -> PositionReport:
    values = {k: v for k, v in row.items() if k in _REPORT_FIELDS}
    values["time"] = datetime.fromisoformat(values["time"])
    return PositionReport(**values)
