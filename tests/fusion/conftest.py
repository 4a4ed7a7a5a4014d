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
from collections.abc import Callable, Iterable, Sequence
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


# -- synthetic encounters with a real track: head-on and crossing ---------------------------

Path = Callable[[datetime], tuple[float, float] | None]


def real_path(track: Sequence[PositionReport]) -> Path:
    """The real ship's position at any time (between its own reports)."""
    return lambda t: true_position(track, t)


def reciprocal_path(track: Sequence[PositionReport], t_c: datetime, offset_m: float) -> Path:
    """A ship sailing the real ship's own track backwards in time, ``offset_m`` to its side:
    at ``t_c`` the two pass head-on ``offset_m`` apart, on reciprocal courses at the same
    speed, along the real (curving) lane."""
    vel = velocity_of(real_path(track), t_c)
    assert vel is not None
    assert vel[0] > 2.0, "the real ship must be under way at t_c"
    side = math.radians(vel[1] + 90.0)
    off = (offset_m * math.sin(side), offset_m * math.cos(side))

    def pos(t: datetime) -> tuple[float, float] | None:
        p = true_position(track, t_c - (t - t_c))
        return None if p is None else from_plane(p[0], p[1], *off)

    return pos


def crossing_path(track: Sequence[PositionReport], t_c: datetime, ahead_m: float,
                  angle_deg: float = 90.0) -> Path:  # fmt: skip
    """A ship on a straight line ``angle_deg`` to the real ship's course at ``t_c``, at the
    same speed, crossing its track ``ahead_m`` ahead of it at ``t_c``."""
    p0 = true_position(track, t_c)
    vel = velocity_of(real_path(track), t_c)
    assert p0 is not None
    assert vel is not None
    assert vel[0] > 2.0, "the real ship must be under way at t_c"
    ahead = math.radians(vel[1])
    lat0, lon0 = from_plane(p0[0], p0[1], ahead_m * math.sin(ahead), ahead_m * math.cos(ahead))
    v = vel[0] * 1852.0 / 3600.0
    c = math.radians(vel[1] + angle_deg)

    def pos(t: datetime) -> tuple[float, float] | None:
        s = (t - t_c).total_seconds()
        return from_plane(lat0, lon0, v * s * math.sin(c), v * s * math.cos(c))

    return pos


def velocity_of(path: Path, t: datetime, h_s: float = 15.0) -> tuple[float, float] | None:
    """(speed_kn, course_deg) of a path at ``t``: the central difference over ±``h_s``, as
    smooth as a radar tracker's output (over real AIS positions a shorter difference
    carries their GNSS jitter and the Solent feed's double reports a second apart)."""
    a, b = path(t - timedelta(seconds=h_s)), path(t + timedelta(seconds=h_s))
    if a is None or b is None:
        return None
    e, n = to_plane(a[0], a[1], b[0], b[1])
    return math.hypot(e, n) / (2 * h_s) * 3600.0 / 1852.0, math.degrees(math.atan2(e, n)) % 360


def path_contacts(
    path: Path, *, start: datetime, end: datetime, period_s: float = 6.0,
    rng: random.Random, track_no: str, sigma_m: float = RADAR_SIGMA_M,
    speed_sigma_kn: float = 0.5, course_sigma_deg: float = 4.0, with_velocity: bool = True,
) -> list[Contact]:  # fmt: skip
    """Noisy radar contacts along a path, with a tracker's speed/course (TTM) unless
    ``with_velocity`` is False (a TLL-like target)."""
    out: list[Contact] = []
    t = start
    while t <= end:
        p, vel = path(t), velocity_of(path, t)
        if p is not None and vel is not None:
            lat, lon = from_plane(p[0], p[1], rng.gauss(0.0, sigma_m), rng.gauss(0.0, sigma_m))
            sp = max(0.0, vel[0] + rng.gauss(0.0, speed_sigma_kn))
            co = (vel[1] + rng.gauss(0.0, course_sigma_deg)) % 360.0
            out.append(Contact(
                time=t, lat=lat, lon=lon, sensor=RADAR_ID, kind="radar", track=track_no,
                speed_kn=round(sp, 1) if with_velocity else None,
                course_deg=round(co, 1) if with_velocity else None,
                confidence=0.95, source="synthetic-radar", line_no=len(out) + 1,
            ))  # fmt: skip
        t += timedelta(seconds=period_s)
    return out


def path_ais(path: Path, mmsi: int, *, start: datetime, end: datetime,
             period_s: float = 10.0) -> list[PositionReport]:  # fmt: skip
    """AIS reports (with SOG/COG) of a synthetic ship along a path."""
    out: list[PositionReport] = []
    t = start
    while t <= end:
        p, vel = path(t), velocity_of(path, t)
        if p is not None and vel is not None:
            out.append(PositionReport(mmsi=mmsi, time=t, lat=p[0], lon=p[1],
                                      speed_kn=round(vel[0], 1), course_deg=round(vel[1], 1),
                                      source="synthetic-ais", line_no=len(out) + 1))  # fmt: skip
        t += timedelta(seconds=period_s)
    return out
