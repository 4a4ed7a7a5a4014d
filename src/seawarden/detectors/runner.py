"""Run every enabled detector over every vessel, owning their state.

The runner is the framework half of the detector contract: it keeps each vessel's state for
each detector, builds the :class:`~seawarden.detectors.base.Context` (areas containing the
report, neighbours, coverage, normalcy, land), calls ``step`` / ``on_static`` and, every
``tick_every_s`` of event time, ``on_tick`` (how a vessel that has gone silent is noticed),
and drops the state of vessels the fleet has forgotten. Everything it holds can be
snapshotted to JSON for ``--resume``.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from seawarden.areas.index import AreaIndex
from seawarden.detectors.base import Context, Detector, LandMask, Neighbour, Normalcy
from seawarden.detectors.coverage import CellCoverage
from seawarden.detectors.neighbours import NeighbourIndex
from seawarden.fleet.vessel import VesselState
from seawarden.model import Event, PositionReport, StaticReport

# A queue entry that is due at the first tick: a vessel whose states were just made (or
# restored) gets its real next-tick time worked out there.
_AT_ONCE = datetime.min.replace(tzinfo=UTC)


class FleetView(Protocol):
    """What ticking needs of the fleet: a vessel by MMSI (``VesselState.order`` gives the
    fleet's own order, in which ticks visit vessels)."""

    def get(self, mmsi: int) -> VesselState | None: ...


class DetectorRunner:
    def __init__(
        self,
        detectors: Sequence[Detector[Any, Any]],
        *,
        areas: AreaIndex | None = None,
        normalcy: Normalcy | None = None,
        land: LandMask | None = None,
        tick_every_s: float = 60.0,
        neighbour_max_age_s: float = 600.0,
        owns: Callable[[int], bool] | None = None,
    ) -> None:
        self.detectors = list(detectors)
        # A partitioned worker (pipeline/partition.py) sees every vessel but owns some: the
        # others feed the neighbour index and coverage and run only the cross-vessel
        # detectors (their other state slots stay None).
        self.owns = owns
        self._cross = [i for i, d in enumerate(self.detectors) if d.cross_vessel]
        self.areas = areas
        self.normalcy = normalcy
        self.land = land
        self.neighbours = NeighbourIndex(max_age_s=neighbour_max_age_s)
        self.coverage = CellCoverage()
        self.monitored: set[int] = set()
        self._tick = timedelta(seconds=tick_every_s)
        self._next_tick: datetime | None = None
        self.ticked = False  # whether the last maybe_tick call ran a tick
        self.quiet_after_s = 120.0
        self._vessel_due: dict[int, datetime] = {}
        # Vessels by the earliest event time their next tick can come (min-heap, lazy: an
        # entry is live only while ``_queued`` holds its time). A tick pops what is due
        # instead of walking the whole fleet, which cost O(fleet) every tick_every_s and
        # was the largest single item of a replay's profile (issue 8).
        self._queue: list[tuple[datetime, int]] = []
        self._queued: dict[int, datetime] = {}
        self._states: dict[int, list[Any]] = {}
        self._ticking = [
            i for i, d in enumerate(self.detectors) if type(d).on_tick is not Detector.on_tick
        ]
        self._static_aware = [
            i for i, d in enumerate(self.detectors) if type(d).on_static is not Detector.on_static
        ]

    def versions(self) -> dict[str, str]:
        return {d.name: d.version for d in self.detectors}

    def _context(self, vessel: VesselState, now: datetime, inside: tuple[str, ...]) -> Context:
        index = self.neighbours
        mmsi = vessel.mmsi

        def near(lat: float, lon: float, radius_m: float) -> list[Neighbour]:
            return index.near(lat, lon, radius_m, now, exclude=mmsi)

        return Context(
            now=now,
            vessel=vessel,
            inside=inside,
            areas=self.areas,
            neighbours=near,
            normalcy=self.normalcy,
            land=self.land,
            coverage=self.coverage,
            monitored=mmsi in self.monitored,
        )

    def _states_of(self, mmsi: int) -> list[Any]:
        states = self._states.get(mmsi)
        if states is None:
            if self.owns is None or self.owns(mmsi):
                states = [d.initial_state(mmsi) for d in self.detectors]
            else:
                cross = self._cross
                states = [
                    d.initial_state(mmsi) if i in cross else None
                    for i, d in enumerate(self.detectors)
                ]
            self._states[mmsi] = states
            self._enqueue(mmsi, _AT_ONCE)
        return states

    def _enqueue(self, mmsi: int, at: datetime) -> None:
        self._queued[mmsi] = at
        heapq.heappush(self._queue, (at, mmsi))

    def _active(self, mmsi: int, among: list[int] | None = None) -> list[int] | range:
        """Indices of the detectors that run for ``mmsi`` (of ``among``, default all)."""
        if self.owns is None or self.owns(mmsi):
            return range(len(self.detectors)) if among is None else among
        if among is None:
            return self._cross
        return [i for i in among if i in self._cross]

    def on_position(
        self, vessel: VesselState, report: PositionReport, inside: tuple[str, ...]
    ) -> list[Event]:
        self.neighbours.update(report)
        self.coverage.observe(report)
        if not self.detectors:
            return []
        ctx = self._context(vessel, report.time, inside)
        states = self._states_of(report.mmsi)
        events: list[Event] = []
        if self.owns is None:  # the common case, kept free of the index indirection
            for i, det in enumerate(self.detectors):
                states[i], out = det.step(states[i], report, ctx)
                events.extend(out)
            return events
        detectors = self.detectors
        for i in self._active(report.mmsi):
            states[i], out = detectors[i].step(states[i], report, ctx)
            events.extend(out)
        return events

    def on_static(self, vessel: VesselState, report: StaticReport) -> list[Event]:
        if not self._static_aware:
            return []
        last = vessel.last
        inside = self.areas.containing(last.lon, last.lat) if (self.areas and last) else ()
        ctx = self._context(vessel, report.time, inside)
        states = self._states_of(report.mmsi)
        events: list[Event] = []
        for i in self._active(report.mmsi, self._static_aware):
            states[i], out = self.detectors[i].on_static(states[i], report, ctx)
            events.extend(out)
        return events

    def maybe_tick(self, now: datetime, fleet: FleetView) -> list[Event]:
        """Run ``on_tick`` for the silent vessels that are due, when ``tick_every_s`` of
        event time has passed. Vessels are visited in the fleet's order, as a walk over the
        fleet would, so the events come out in the same order."""
        self.ticked = False
        if self._next_tick is None:
            self._next_tick = now + self._tick
            return []
        if now < self._next_tick:
            return []
        self._next_tick = now + self._tick
        self.ticked = True
        if not self._ticking:
            return []
        # Ticks exist for vessels that have gone quiet (``quiet_after_s``); a vessel still
        # reporting is handled by step(). The longer a silence, the less often it needs a
        # look: per-vessel ticks back off to a fifth of the silence, so work stays
        # proportional to traffic, not to fleet size × time.
        quiet = timedelta(seconds=self.quiet_after_s)
        queue, queued, states_of = self._queue, self._queued, self._states
        due: list[VesselState] = []
        while queue and queue[0][0] <= now:
            at, mmsi = heapq.heappop(queue)
            if queued.get(mmsi) != at:
                continue  # superseded by a later entry, or the vessel was forgotten
            if mmsi not in states_of:
                del queued[mmsi]
                continue
            vessel = fleet.get(mmsi)
            if vessel is None:  # states kept a moment longer than the fleet's vessel
                self._enqueue(mmsi, now + self._tick)
                continue
            earliest = vessel.last_seen + quiet  # it reported since the entry was made
            backoff = self._vessel_due.get(mmsi)
            if backoff is not None:
                if backoff > earliest:
                    earliest = backoff
                else:
                    # It reported since that back-off was set: last_seen only grows, so the
                    # back-off can never bind again; dropped rather than held (issue 8).
                    del self._vessel_due[mmsi]
            if earliest > now:
                self._enqueue(mmsi, earliest)
                continue
            due.append(vessel)
        if not due:
            return []
        due.sort(key=_fleet_order)
        events: list[Event] = []
        ticking_all = self._ticking
        for vessel in due:
            mmsi = vessel.mmsi
            states = states_of[mmsi]
            silence = (now - vessel.last_seen).total_seconds()
            next_due = now + max(self._tick, timedelta(seconds=silence / 5))
            self._vessel_due[mmsi] = next_due
            self._enqueue(mmsi, next_due)
            ctx: Context | None = None
            ticking = self._ticking if self.owns is None else self._active(mmsi, ticking_all)
            for i in ticking:
                if ctx is None:
                    last = vessel.last
                    inside = (
                        self.areas.containing(last.lon, last.lat) if (self.areas and last) else ()
                    )
                    ctx = self._context(vessel, now, inside)
                states[i], out = self.detectors[i].on_tick(states[i], now, ctx)
                events.extend(out)
        return events

    def expire(self, now: datetime, alive: Iterable[int]) -> None:
        keep = set(alive)
        for mmsi in [m for m in self._states if m not in keep]:
            del self._states[mmsi]
            self._vessel_due.pop(mmsi, None)
            self._queued.pop(mmsi, None)  # its queue entries are stale from now on
            self.neighbours.remove(mmsi)
        self.neighbours.expire(now)
        self.coverage.expire(now)
        self.monitored &= keep

    # -- checkpointing ------------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        return {
            "versions": self.versions(),
            "next_tick": self._next_tick.isoformat() if self._next_tick else None,
            "monitored": sorted(self.monitored),
            "vessel_due": {str(m): t.isoformat() for m, t in self._vessel_due.items()},
            "coverage": self.coverage.snapshot(),
            "neighbours": [_report_json(r) for r in self.neighbours._latest.values()],
            "states": {
                str(m): [
                    None if s is None else d.encode_state(s)
                    for d, s in zip(self.detectors, st, strict=True)
                ]
                for m, st in self._states.items()
            },
        }

    def restore(self, snap: dict[str, Any]) -> None:
        if snap.get("versions") != self.versions():
            raise ValueError(
                "checkpoint was made with other detectors or versions; start a new run"
            )
        nt = snap.get("next_tick")
        self._next_tick = datetime.fromisoformat(nt) if nt else None
        self.monitored = set(snap.get("monitored", []))
        self._vessel_due = {
            int(m): datetime.fromisoformat(t) for m, t in snap.get("vessel_due", {}).items()
        }
        self.coverage.restore(snap.get("coverage", {}))
        for row in snap.get("neighbours", []):
            self.neighbours.update(_report_from_json(row))
        self._states = {
            int(m): [
                None if s is None else d.decode_state(s)
                for d, s in zip(self.detectors, st, strict=True)
            ]
            for m, st in snap.get("states", {}).items()
        }
        self._queue, self._queued = [], {}
        for mmsi in self._states:
            self._enqueue(mmsi, _AT_ONCE)


def _fleet_order(vessel: VesselState) -> int:
    return vessel.order


def _report_json(r: PositionReport) -> dict[str, Any]:
    return {
        "mmsi": r.mmsi,
        "time": r.time.isoformat(),
        "lat": r.lat,
        "lon": r.lon,
        "speed_kn": r.speed_kn,
        "course_deg": r.course_deg,
        "heading_deg": r.heading_deg,
        "nav_status": r.nav_status,
        "msg_type": r.msg_type,
        "source": r.source,
        "line_no": r.line_no,
    }


def _report_from_json(d: dict[str, Any]) -> PositionReport:
    return PositionReport(**{**d, "time": datetime.fromisoformat(d["time"])})
