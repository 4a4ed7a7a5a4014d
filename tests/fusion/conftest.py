"""Fusion test helpers: real Solent AIS tracks, radar contacts made from them, a stream driver.

No real radar or SAR recording of the Solent is public, so contacts are synthesised from the
real AIS tracks: the true position at each scan is interpolated between the ship's own
reports and Gaussian noise of the radar's σ is added (seeded). Everything else (traffic
density, ships passing close, ferries turning, ships at anchor) is the real traffic.
"""

from __future__ import annotations

import bisect
import math
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pytest

from seawarden.areas.index import AreaIndex
from seawarden.fleet.fleet import Fleet
from seawarden.fusion.config import FusionConfig
from seawarden.fusion.predict import from_plane, to_plane
from seawarden.fusion.sensors import SensorConfig, SensorRegistry
from seawarden.fusion.stage import FusionStage
from seawarden.model.contacts import Contact, SensorPass
from seawarden.model.events import Event
from seawarden.model.reports import PositionReport, StaticReport
from seawarden.testing import read_track
from tests.conftest import SHARED_DATA

SOLENT = SHARED_DATA / "tracks" / "solent" / "SolentAIS_20160112_130211.csv"
RADAR_ID = "vts-solent"
RADAR_SIGMA_M = 30.0


def radar_sensor(range_m: float = 60_000.0) -> SensorConfig:
    return SensorConfig(id=RADAR_ID, kind="radar", sigma_m=RADAR_SIGMA_M, min_length_m=10.0,
                        lat=50.78, lon=-1.15, range_m=range_m)  # fmt: skip


def sar_sensor() -> SensorConfig:
    return SensorConfig(id="s1a", kind="sar", sigma_m=150.0, min_length_m=20.0)


def registry() -> SensorRegistry:
    return SensorRegistry([radar_sensor(), sar_sensor()])


@pytest.fixture(scope="session")
def solent_positions() -> list[PositionReport]:
    if not SOLENT.is_file():
        pytest.skip(f"shared data missing: {SOLENT}")
    return [r for r in read_track(SOLENT) if isinstance(r, PositionReport)]


def by_mmsi(reports: Iterable[PositionReport]) -> dict[int, list[PositionReport]]:
    out: dict[int, list[PositionReport]] = {}
    for r in reports:
        out.setdefault(r.mmsi, []).append(r)
    for v in out.values():
        v.sort(key=lambda r: r.time)
    return out


def moving_ships(tracks: dict[int, list[PositionReport]], n: int, min_reports: int = 200,
                 min_speed_kn: float = 3.0) -> list[int]:  # fmt: skip
    """The ``n`` MMSIs with most reports whose median SOG is at least ``min_speed_kn``."""
    ok = []
    for m, tr in tracks.items():
        sogs = sorted(r.speed_kn or 0.0 for r in tr)
        if len(tr) >= min_reports and sogs[len(sogs) // 2] >= min_speed_kn:
            ok.append((-len(tr), m))
    return [m for _, m in sorted(ok)[:n]]


def true_position(
    track: Sequence[PositionReport], t: datetime, max_gap_s: float = 120.0
) -> tuple[float, float] | None:
    """Linear interpolation between the ship's own bracketing reports (None outside)."""
    times = [r.time for r in track]
    i = bisect.bisect_left(times, t)
    if i == 0 or i >= len(track):
        return None
    a, b = track[i - 1], track[i]
    h = (b.time - a.time).total_seconds()
    if h <= 0 or h > max_gap_s:
        return None
    s = (t - a.time).total_seconds() / h
    e, n = to_plane(a.lat, a.lon, b.lat, b.lon)
    return from_plane(a.lat, a.lon, e * s, n * s)


def radar_contacts(
    track: Sequence[PositionReport], *, start: datetime, end: datetime, period_s: float = 10.0,
    sigma_m: float = RADAR_SIGMA_M, rng: random.Random, track_no: str,
    offset: tuple[float, float] = (0.0, 0.0), length_m: float | None = None,
    sensor: str = RADAR_ID, max_gap_s: float = 120.0,
) -> list[Contact]:  # fmt: skip
    """Noisy radar contacts along a real track, one per scan (``offset`` east/north metres)."""
    out = []
    t = start
    k = 0
    while t <= end:
        p = true_position(track, t, max_gap_s)
        if p is not None:
            e = offset[0] + rng.gauss(0.0, sigma_m)
            n = offset[1] + rng.gauss(0.0, sigma_m)
            lat, lon = from_plane(p[0], p[1], e, n)
            k += 1
            out.append(Contact(time=t, lat=lat, lon=lon, sensor=sensor, kind="radar",
                               track=track_no, length_m=length_m, confidence=0.95,
                               source="synthetic-radar", line_no=k))  # fmt: skip
        t += timedelta(seconds=period_s)
    return out


def scan_times(reports: Sequence[PositionReport], period_s: float) -> tuple[datetime, datetime]:
    return reports[0].time, reports[-1].time


@dataclass
class Run:
    events: list[Event] = field(default_factory=list)
    targets: list[PositionReport] = field(default_factory=list)
    sensed: dict[int, list[PositionReport]] = field(default_factory=dict)
    fleet: Fleet = field(default_factory=Fleet)

    def of(self, ftype: str) -> list[Event]:
        return [e for e in self.events if e.attrs["type"] == ftype]

    def findings(self) -> list[Event]:
        return [e for e in self.events if e.attrs["type"] != "confirmed"]


Item = PositionReport | StaticReport | Contact | SensorPass


def stream_order(items: Iterable[Item]) -> list[Item]:
    def key(x: Item) -> tuple[datetime, int, str, int]:
        t = x.start if isinstance(x, SensorPass) else x.time
        kind = 1 if isinstance(x, Contact | SensorPass) else 0
        return (t, kind, getattr(x, "sensor", ""), x.line_no)

    return sorted(items, key=key)


def feed(stage: FusionStage, items: Sequence[Item], run: Run | None = None,
         *, flush: bool = True) -> Run:  # fmt: skip
    """Drive the stage like the pipeline: each record, then ``advance(record time)``."""
    run = run or Run()
    for x in items:
        if isinstance(x, PositionReport):
            run.fleet.on_position(x)
            if stage.coverage is not None:  # the detector runner's coverage, as in the pipeline
                stage.coverage.observe(x)
            stage.on_ais(x)
            now = x.time
        elif isinstance(x, StaticReport):
            run.fleet.on_static(x)
            now = x.time
        elif isinstance(x, Contact):
            stage.on_contact(x)
            now = x.time
        else:
            stage.on_pass(x)
            now = x.start
        _collect(run, stage.advance(now, run.fleet))
    if flush:
        _collect(run, stage.flush(run.fleet))
    return run


def _collect(run: Run, out: object) -> None:
    from seawarden.fusion.stage import FusionOutput

    assert isinstance(out, FusionOutput)
    run.events.extend(out.events)
    run.targets.extend(out.targets)
    for m, r in out.sensed.items():
        run.sensed.setdefault(m, []).append(r)


def statics(lengths: dict[int, float], t: datetime) -> list[StaticReport]:
    return [StaticReport(mmsi=m, time=t, length_m=v, source="test", line_no=0)
            for m, v in sorted(lengths.items())]  # fmt: skip


def new_stage(cfg: FusionConfig | None = None, areas: AreaIndex | None = None) -> FusionStage:
    return FusionStage(registry(), cfg, areas=areas)


def km(a: tuple[float, float], b: tuple[float, float]) -> float:
    e, n = to_plane(a[0], a[1], b[0], b[1])
    return math.hypot(e, n) / 1000.0
