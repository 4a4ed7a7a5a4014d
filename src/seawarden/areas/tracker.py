"""Turn positions into area visits: enter, dwell, exit, and crossings of a cable.

A ship loitering over a cable matters; a ship crossing it at speed usually does not; a
ship whose GPS fix wobbles across the corridor edge while at anchor must not raise a
storm of enter/exit pairs. The tracker keeps one small state per vessel and area and
applies *hysteresis* to leaving: a ship is inside as soon as a fix falls in the area, but
only leaves once it has been outside for ``exit_grace_s`` or is more than
``exit_margin_m`` beyond the edge. Time is the reports' event time, never the wall clock,
so a replay yields the same events with the same ids as the live run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

import shapely

from seawarden.areas.geodesic import SideOfLine, buffer_line_m, buffer_polygon_m
from seawarden.areas.index import AreaIndex
from seawarden.errors import ConfigError, StoreError
from seawarden.model import Event, PositionReport, event_id
from seawarden.model.area import Area

__all__ = ["AreaTracker", "AreaTrackerConfig"]

_SIDE_NAMES = {1: "left", -1: "right", 0: "on"}


@dataclass(frozen=True, slots=True, kw_only=True)
class AreaTrackerConfig:
    """Hysteresis and housekeeping for :class:`AreaTracker` (all durations in seconds).

    - ``exit_grace_s``: a ship must stay outside this long before it has left (default
      180 s: one missed class A report at anchor, which reports every 3 minutes).
    - ``exit_margin_m``: ...or be this far beyond the edge, which ends the visit at once
      (default 250 m: well above typical GPS jitter, crossed in ~30 s at 15 kn).
    - ``dwell_interval_s``: an ``area.dwell`` every this long inside (default 600 s).
    - ``state_ttl_s``: forget a vessel unheard this long, closing its visits with
      ``reason: "lost"`` (default 3600 s; must exceed ``exit_grace_s``).
    """

    exit_grace_s: float = 180.0
    exit_margin_m: float = 250.0
    dwell_interval_s: float = 600.0
    state_ttl_s: float = 3600.0

    def __post_init__(self) -> None:
        checks = (
            ("exit_grace_s", self.exit_grace_s, 0.0, 86_400.0),
            ("exit_margin_m", self.exit_margin_m, 0.0, 50_000.0),
            ("dwell_interval_s", self.dwell_interval_s, 1.0, 7 * 86_400.0),
            ("state_ttl_s", self.state_ttl_s, 1.0, 30 * 86_400.0),
        )
        for name, value, lo, hi in checks:
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ConfigError(f"area tracker: {name} must be a number, got {value!r}")
            if not (math.isfinite(value) and lo <= value <= hi):
                raise ConfigError(f"area tracker: {name}={value!r} must be in [{lo:g}, {hi:g}]")
        if self.state_ttl_s <= self.exit_grace_s:
            raise ConfigError(
                f"area tracker: state_ttl_s ({self.state_ttl_s:g}) must exceed exit_grace_s "
                f"({self.exit_grace_s:g}), or vessels would be forgotten mid-exit"
            )


@dataclass(slots=True, kw_only=True)
class _Visit:
    entry_time: datetime
    entry_lon: float
    entry_lat: float
    entry_side: int
    dwell_count: int = 0
    # Set while the ship is outside but the exit is not yet confirmed.
    out_time: datetime | None = None
    out_lon: float = 0.0
    out_lat: float = 0.0
    out_side: int = 0


@dataclass(slots=True, kw_only=True)
class _Vessel:
    time: datetime
    lon: float
    lat: float
    visits: dict[str, _Visit]  # _NO_VISITS (shared, never written) while in no area


# Most vessels are in no area most of the time: they share this empty dict rather than
# hold one each (issue 8: memory per tracked vessel). Never written: replaced by a new dict
# before a visit is added, and put back when the last visit ends.
_NO_VISITS: dict[str, _Visit] = {}


class AreaTracker:
    """Per-vessel area visits from a stream of :class:`PositionReport` in event time.

    Events (``producer_version`` = :attr:`version`), all phase ``instant``, sharing
    ``attrs["visit_id"]`` within one visit:

    - ``area.enter`` at the first fix inside;
    - ``area.dwell`` every ``dwell_interval_s`` inside, ``dwell_s`` = time since entry;
    - ``area.exit`` at the first fix outside of a confirmed exit, ``dwell_s`` and
      ``reason`` (``"left"``, or ``"lost"`` when the vessel went silent inside);
    - ``area.crossing`` (corridors) with the exit when the ship entered on one side of
      the centerline and left on the other: ``entry_side``/``exit_side`` are ``"left"``
      or ``"right"`` looking along the centerline as drawn (first to last point).
    """

    version: ClassVar[str] = "1"

    def __init__(self, index: AreaIndex, config: AreaTrackerConfig | None = None) -> None:
        self.index = index
        self.config = config or AreaTrackerConfig()
        self.late_reports = 0
        self._vessels: dict[int, _Vessel] = {}
        self._sides = {a.id: SideOfLine(a.centerline) for a in index.areas if a.centerline}
        self._outer: dict[str, shapely.Geometry] = {}

    # -- public API -------------------------------------------------------------------
    def step(self, report: PositionReport, inside: tuple[str, ...] | None = None) -> list[Event]:
        """Advance one vessel by one report; ``inside`` skips the index lookup if given.

        Reports older than the vessel's last one are counted in ``late_reports`` and
        ignored (the pipeline orders input within its lateness bound before this).
        """
        vessel = self._vessels.get(report.mmsi)
        events: list[Event] = []
        if vessel is not None and report.time < vessel.time:
            self.late_reports += 1
            return events
        if vessel is not None and _seconds(vessel.time, report.time) > self.config.state_ttl_s:
            # Silent longer than the TTL: close as expire() would, whenever it runs.
            events.extend(self._close_all(report.mmsi, vessel))
            vessel = None
        if inside is None:
            inside = self.index.containing(report.lon, report.lat)
        here = set(inside)
        exits: list[Event] = []
        dwells: list[Event] = []
        visits = vessel.visits if vessel is not None else _NO_VISITS
        for area_id in sorted(visits):
            visit = visits[area_id]
            if area_id in here:
                visit.out_time = None
                dwells.extend(self._maybe_dwell(report, area_id, visit))
                continue
            if visit.out_time is None:
                visit.out_time = report.time
                visit.out_lon, visit.out_lat = report.lon, report.lat
                visit.out_side = self._side(area_id, report.lon, report.lat)
            outside_s = _seconds(visit.out_time, report.time)
            if outside_s >= self.config.exit_grace_s or self._beyond_margin(
                area_id, report.lon, report.lat
            ):
                exits.extend(self._exit(report.mmsi, area_id, visit, "left"))
                del visits[area_id]
        enters: list[Event] = []
        for area_id in sorted(here - visits.keys()):
            visit = self._open(report, vessel, area_id)
            if visits is _NO_VISITS:
                visits = {}
            visits[area_id] = visit
            enters.append(self._event("area.enter", report, area_id, visit))
        if not visits:
            visits = _NO_VISITS
        if vessel is None:
            self._vessels[report.mmsi] = _Vessel(
                time=report.time, lon=report.lon, lat=report.lat, visits=visits
            )
        else:  # updated in place: no new object per report
            vessel.time, vessel.lon, vessel.lat, vessel.visits = (
                report.time,
                report.lon,
                report.lat,
                visits,
            )
        return events + exits + enters + dwells

    def expire(self, now: datetime) -> list[Event]:
        """Forget vessels unheard for more than ``state_ttl_s`` before ``now`` (event time).

        Open visits are closed: a ship already outside gets its normal ``area.exit``
        (``reason: "left"``, plus ``area.crossing`` if it crossed); a ship last heard
        inside gets ``area.exit`` at its last fix with ``reason: "lost"`` — going silent
        over a cable is itself worth seeing, and every enter keeps a matching exit.
        """
        events: list[Event] = []
        for mmsi in sorted(self._vessels):
            vessel = self._vessels[mmsi]
            if _seconds(vessel.time, now) > self.config.state_ttl_s:
                events.extend(self._close_all(mmsi, vessel))
                del self._vessels[mmsi]
        return events

    def inside(self, mmsi: int) -> tuple[str, ...]:
        """Areas a vessel is currently visiting (including unconfirmed exits)."""
        vessel = self._vessels.get(mmsi)
        return tuple(sorted(vessel.visits)) if vessel else ()

    def __len__(self) -> int:
        return len(self._vessels)

    def snapshot(self) -> dict[str, Any]:
        """Per-vessel state as plain JSON types, for ``--resume``."""
        return {
            "producer": "area_tracker",
            "version": self.version,
            "late_reports": self.late_reports,
            "vessels": {
                str(mmsi): {
                    "time": v.time.isoformat(),
                    "lon": v.lon,
                    "lat": v.lat,
                    "visits": {aid: _visit_to_json(vis) for aid, vis in sorted(v.visits.items())},
                }
                for mmsi, v in sorted(self._vessels.items())
            },
        }

    def restore(self, state: dict[str, Any]) -> None:
        """Replace all state with a :meth:`snapshot`; ``StoreError`` if it cannot be used."""
        if state.get("producer") != "area_tracker" or state.get("version") != self.version:
            raise StoreError(
                f"area tracker state is {state.get('producer')!r} v{state.get('version')!r}, "
                f"this is area_tracker v{self.version}; start without --resume"
            )
        try:
            vessels = {
                int(mmsi): _Vessel(
                    time=datetime.fromisoformat(v["time"]),
                    lon=float(v["lon"]),
                    lat=float(v["lat"]),
                    visits={aid: _visit_from_json(vis) for aid, vis in v["visits"].items()}
                    or _NO_VISITS,
                )
                for mmsi, v in state["vessels"].items()
            }
            late = int(state.get("late_reports", 0))
        except (KeyError, TypeError, ValueError) as exc:
            raise StoreError(f"area tracker state is malformed ({exc!r}); start afresh") from exc
        self._vessels, self.late_reports = vessels, late

    # -- internals --------------------------------------------------------------------
    def _open(self, report: PositionReport, vessel: _Vessel | None, area_id: str) -> _Visit:
        # Take the side from the last fix before entry when it is recent: with sparse
        # reports the first fix inside may already be past the centerline.
        side_lon, side_lat = report.lon, report.lat
        if vessel is not None and _seconds(vessel.time, report.time) <= self.config.exit_grace_s:
            side_lon, side_lat = vessel.lon, vessel.lat
        side = self._side(area_id, side_lon, side_lat)
        if side == 0:
            side = self._side(area_id, report.lon, report.lat)
        return _Visit(
            entry_time=report.time, entry_lon=report.lon, entry_lat=report.lat, entry_side=side
        )

    def _maybe_dwell(self, report: PositionReport, area_id: str, visit: _Visit) -> list[Event]:
        dwell_s = _seconds(visit.entry_time, report.time)
        count = int(dwell_s // self.config.dwell_interval_s)
        if count <= visit.dwell_count:
            return []
        # One event per report even after a long gap: the latest count is what matters.
        visit.dwell_count = count
        return [self._event("area.dwell", report, area_id, visit, dwell_s=dwell_s, n=count)]

    def _exit(self, mmsi: int, area_id: str, visit: _Visit, reason: str) -> list[Event]:
        assert visit.out_time is not None  # internal invariant: callers set it first
        dwell_s = _seconds(visit.entry_time, visit.out_time)
        where = (visit.out_time, visit.out_lon, visit.out_lat)
        out = [self._event_at("area.exit", mmsi, where, area_id, visit, dwell_s, reason=reason)]
        a, b = visit.entry_side, visit.out_side
        if a != 0 and b != 0 and a != b:
            out.append(
                self._event_at(
                    "area.crossing",
                    mmsi,
                    where,
                    area_id,
                    visit,
                    dwell_s,
                    entry_side=_SIDE_NAMES[a],
                    exit_side=_SIDE_NAMES[b],
                )
            )
        return out

    def _close_all(self, mmsi: int, vessel: _Vessel) -> list[Event]:
        events: list[Event] = []
        for area_id in sorted(vessel.visits):
            visit = vessel.visits[area_id]
            if visit.out_time is not None:
                events.extend(self._exit(mmsi, area_id, visit, "left"))
                continue
            visit.out_time, visit.out_lon, visit.out_lat = vessel.time, vessel.lon, vessel.lat
            visit.out_side = 0  # never seen outside: no crossing claimed
            events.extend(self._exit(mmsi, area_id, visit, "lost"))
        vessel.visits = _NO_VISITS
        return events

    def _side(self, area_id: str, lon: float, lat: float) -> int:
        finder = self._sides.get(area_id)
        return finder.side(lon, lat) if finder else 0

    def _beyond_margin(self, area_id: str, lon: float, lat: float) -> bool:
        outer = self._outer.get(area_id)
        if outer is None:
            outer = _grow(self.index.area(area_id), self.config.exit_margin_m)
            shapely.prepare(outer)
            self._outer[area_id] = outer
        return not bool(shapely.intersects_xy(outer, lon, lat))

    def _event(
        self,
        kind: str,
        report: PositionReport,
        area_id: str,
        visit: _Visit,
        *,
        dwell_s: float | None = None,
        n: int = 0,
    ) -> Event:
        extra = (str(n),) if kind == "area.dwell" else ()
        attrs: dict[str, Any] = {"visit_id": _visit_id(report.mmsi, visit, area_id)}
        if dwell_s is not None:
            attrs["dwell_s"] = dwell_s
        attrs["area_kind"] = self.index.area(area_id).kind
        return Event(
            id=event_id(kind, report.mmsi, visit.entry_time, area_id, *extra),
            kind=kind,
            phase="instant",
            mmsi=report.mmsi,
            time=report.time,
            lat=report.lat,
            lon=report.lon,
            area_id=area_id,
            producer_version=self.version,
            attrs=attrs,
        )

    def _event_at(
        self,
        kind: str,
        mmsi: int,
        where: tuple[datetime, float, float],
        area_id: str,
        visit: _Visit,
        dwell_s: float,
        **attrs: Any,
    ) -> Event:
        time, lon, lat = where
        return Event(
            id=event_id(kind, mmsi, visit.entry_time, area_id),
            kind=kind,
            phase="instant",
            mmsi=mmsi,
            time=time,
            lat=lat,
            lon=lon,
            area_id=area_id,
            producer_version=self.version,
            attrs={
                "visit_id": _visit_id(mmsi, visit, area_id),
                "dwell_s": dwell_s,
                "area_kind": self.index.area(area_id).kind,
                **attrs,
            },
        )


def _grow(area: Area, margin_m: float) -> shapely.Geometry:
    """The area widened by the exit margin, in metres on the ellipsoid."""
    if margin_m <= 0.0:
        return area.geometry
    if area.centerline is not None and area.buffer_m is not None:
        return buffer_line_m(area.centerline, area.buffer_m + margin_m)
    return buffer_polygon_m(area.geometry, margin_m)


def _visit_id(mmsi: int, visit: _Visit, area_id: str) -> str:
    return event_id("area.visit", mmsi, visit.entry_time, area_id)


def _seconds(start: datetime, end: datetime) -> float:
    return (end - start).total_seconds()


def _visit_to_json(v: _Visit) -> dict[str, Any]:
    return {
        "entry_time": v.entry_time.isoformat(),
        "entry_lon": v.entry_lon,
        "entry_lat": v.entry_lat,
        "entry_side": v.entry_side,
        "dwell_count": v.dwell_count,
        "out_time": v.out_time.isoformat() if v.out_time else None,
        "out_lon": v.out_lon,
        "out_lat": v.out_lat,
        "out_side": v.out_side,
    }


def _visit_from_json(d: dict[str, Any]) -> _Visit:
    out_time = d["out_time"]
    return _Visit(
        entry_time=datetime.fromisoformat(d["entry_time"]),
        entry_lon=float(d["entry_lon"]),
        entry_lat=float(d["entry_lat"]),
        entry_side=int(d["entry_side"]),
        dwell_count=int(d["dwell_count"]),
        out_time=datetime.fromisoformat(out_time) if out_time is not None else None,
        out_lon=float(d["out_lon"]),
        out_lat=float(d["out_lat"]),
        out_side=int(d["out_side"]),
    )
