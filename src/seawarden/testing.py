"""Test doubles and harnesses shipped with the package (for our tests and for users').

``run_detectors`` feeds reports through the real fleet, area index and detector runner —
no mocks — and returns the events, so a detector can be exercised on a hand-built track or
on real traffic in a few lines. ``read_track`` loads any supported input file as records.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from seawarden.areas.index import AreaIndex
from seawarden.detectors.base import Detector, LandMask, Normalcy
from seawarden.detectors.runner import DetectorRunner
from seawarden.fleet.fleet import Fleet, FleetConfig
from seawarden.fleet.watchlist import Watchlist
from seawarden.ingest.files import open_source
from seawarden.model import Event, PositionReport, Record, StaticReport
from seawarden.pipeline.order import sort_key
from seawarden.pipeline.sinks import MemoryEventSink

__all__ = ["MemoryEventSink", "read_track", "run_detectors"]


def read_track(path: str | Path, *, sort: bool = True) -> list[Record]:
    """All records of a file (NMEA or CSV), rejections dropped, in event-time order."""
    records = [
        item for _, item in open_source(path) if isinstance(item, (PositionReport, StaticReport))
    ]
    if sort:
        records.sort(key=sort_key)
    return records


def run_detectors(
    detectors: Sequence[Detector[Any, Any]],
    records: Iterable[Record],
    *,
    areas: AreaIndex | None = None,
    watchlist: Watchlist | None = None,
    normalcy: Normalcy | None = None,
    land: LandMask | None = None,
    tick_every_s: float = 60.0,
    monitored: Iterable[int] = (),
) -> list[Event]:
    """Feed records (in time order) through fleet → areas → detectors; return all events."""
    fleet = Fleet(FleetConfig(), watchlist)
    runner = DetectorRunner(
        detectors, areas=areas, normalcy=normalcy, land=land, tick_every_s=tick_every_s
    )
    runner.monitored.update(monitored)
    events: list[Event] = []
    for rec in records:
        if isinstance(rec, PositionReport):
            vessel = fleet.on_position(rec)
            inside = areas.containing(rec.lon, rec.lat) if areas is not None else ()
            events.extend(runner.on_position(vessel, rec, inside))
        else:
            fleet.on_static(rec)
            vessel_state = fleet.get(rec.mmsi)
            if vessel_state is not None:
                events.extend(runner.on_static(vessel_state, rec))
        events.extend(runner.maybe_tick(rec.time, fleet))
    return events
