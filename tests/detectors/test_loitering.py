"""loitering: drifting or circling in a cable corridor beyond 30 min (zones: 2 h) opens an
event; transits, short stops, known anchorages and real Solent/Baltic traffic stay quiet.

Tracks are synthetic (``tests/detectors/tracks.py``) over the real corridors of
``config/areas.geojson``; real traffic from ``../shared/data`` (see its MANIFEST).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seawarden.areas import load_areas
from seawarden.areas.index import AreaIndex
from seawarden.detectors.loitering import LoiteringConfig, LoiteringDetector, LoiteringState
from seawarden.detectors.runner import DetectorRunner
from seawarden.errors import ConfigError
from seawarden.fleet.fleet import Fleet, FleetConfig
from seawarden.model import Event, PositionReport, StaticReport
from seawarden.testing import read_track, run_detectors
from tests.conftest import REPO, SHARED_DATA
from tests.detectors import tracks

SOLENT = SHARED_DATA / "tracks" / "solent" / "SolentAIS_20160112_130211.csv"
BALTIC = SHARED_DATA / "tracks" / "baltic-cargo-2020" / "baltic_cargo_20201101.csv"
# Inside the Gulf of Finland cable zone, > 20 km from every corridor.
ZONE_POINT = (59.65, 25.30)
# Ships riding at anchor at Spithead during the whole real Solent recording, where the
# schematic IFA2 corridor of config/areas.geojson crosses the anchorage, and one vessel
# lying at a berth inside the test corridor (tests/data/solent_corridor.geojson).
SOLENT_AT_ANCHOR = {247006000, 236112059, 311758000, 249050000, 235007473}


@pytest.fixture(scope="module")
def areas() -> AreaIndex:
    return AreaIndex(load_areas(REPO / "config" / "areas.geojson"))


class FixedNormalcy:
    def __init__(self, stop_fraction: float | None, dwell_s: float | None = None) -> None:
        self.sf, self.dwell = stop_fraction, dwell_s

    def surprise(self, *args: Any) -> float | None:
        return None

    def stop_fraction(self, lat: float, lon: float) -> float | None:
        return self.sf

    def expected_interval_s(self, lat: float, lon: float) -> float | None:
        return None

    def typical_dwell_s(self, lat: float, lon: float) -> float | None:
        return self.dwell


def run(records: list[PositionReport], areas: AreaIndex | None, **kw: Any) -> list[Event]:
    return run_detectors([LoiteringDetector()], records, areas=areas, **kw)


def test_drifting_45_min_in_a_corridor_opens_and_closes(areas: AreaIndex) -> None:
    events = run(tracks.loiter(lat=tracks.ESTLINK2_POINT[0], lon=tracks.ESTLINK2_POINT[1]), areas)
    phases = [e.phase for e in events]
    assert phases[0] == "open"
    assert phases[-1] == "close"
    assert len({e.id for e in events}) == 1
    opened = events[0]
    a = opened.attrs
    assert opened.area_id == "estlink-2"
    assert a["area_id"] == "estlink-2"
    assert 1800 <= a["duration_s"] < 2000
    assert a["mean_speed_kn"] < 2.0
    assert a["net_displacement_m"] <= a["path_length_m"]
    assert 0.0 <= a["circling_ratio"] <= 1.0
    assert a["circling"] is False
    assert 0.4 <= a["confidence"] < 0.7
    assert any("30 min" in r for r in a["reasons"])
    assert a["evidence"]
    assert events[-1].attrs["duration_s"] >= 43 * 60


def test_circling_at_speed_in_a_corridor_opens(areas: AreaIndex) -> None:
    lat, lon = tracks.ESTLINK2_POINT
    events = run(tracks.loiter(lat=lat, lon=lon, circling=True), areas)
    assert events
    assert events[0].phase == "open"
    assert events[0].attrs["circling"] is True
    assert events[0].attrs["mean_speed_kn"] > 2.0


def test_short_stop_in_a_corridor_is_silent(areas: AreaIndex) -> None:
    lat, lon = tracks.ESTLINK2_POINT
    assert run(tracks.loiter(lat=lat, lon=lon, minutes=25), areas) == []


def test_fast_transit_is_silent(areas: AreaIndex) -> None:
    lat, lon = tracks.ESTLINK2_POINT
    assert run(tracks.transit(lat=lat, lon=lon, speed=12.0), areas) == []
    assert run(tracks.transit(lat=ZONE_POINT[0], lon=ZONE_POINT[1], speed=4.0), areas) == []


def test_zones_need_two_hours(areas: AreaIndex) -> None:
    lat, lon = ZONE_POINT
    assert areas.containing(lon, lat) == ("gulf-of-finland-cables",)
    assert run(tracks.loiter(lat=lat, lon=lon, minutes=90), areas) == []
    events = run(tracks.loiter(lat=lat, lon=lon, minutes=150), areas)
    assert events
    assert events[0].area_id == "gulf-of-finland-cables"
    assert events[0].attrs["duration_s"] >= 7200


def test_known_anchorage_and_typical_dwell_damp(areas: AreaIndex) -> None:
    lat, lon = tracks.ESTLINK2_POINT
    track = tracks.loiter(lat=lat, lon=lon, minutes=60)
    assert run(track, areas, normalcy=FixedNormalcy(0.9)) == []
    assert run(track, areas, normalcy=FixedNormalcy(None, dwell_s=4 * 3600)) == []
    unusual = run(track, areas, normalcy=FixedNormalcy(0.0, dwell_s=300))
    plain = run(track, areas)
    assert max(e.attrs["confidence"] for e in unusual) > max(e.attrs["confidence"] for e in plain)


def test_tug_is_damped_below_open(areas: AreaIndex) -> None:
    lat, lon = tracks.ESTLINK2_POINT
    track = tracks.loiter(lat=lat, lon=lon, minutes=60)
    tug = StaticReport(mmsi=track[0].mmsi, time=track[0].time, ship_type=52)
    assert run_detectors([LoiteringDetector()], [tug, *track], areas=areas) == []


@given(
    speeds=st.lists(st.floats(min_value=0.0, max_value=2.9), min_size=10, max_size=80),
    seed=st.integers(0, 1000),
)
@settings(max_examples=25, deadline=None)
def test_at_rest_in_the_hysteresis_band_outside_areas_never_fires(
    speeds: list[float], seed: int
) -> None:
    legs = [
        tracks.Leg(duration_s=120.0, speed_kn=s, course_deg=(seed + 53 * i) % 360)
        for i, s in enumerate(speeds)
    ]
    track = tracks.build_track(legs, lat=59.62, lon=26.80, seed=seed)
    areas = AreaIndex(load_areas(REPO / "config" / "areas.geojson"))
    assert run(track, areas) == []


def test_state_round_trips_through_the_checkpoint_codec(areas: AreaIndex) -> None:
    lat, lon = tracks.ESTLINK2_POINT
    track = tracks.loiter(lat=lat, lon=lon, minutes=60)
    whole = run(track, areas)
    fleet = Fleet(FleetConfig())
    first = DetectorRunner([LoiteringDetector()], areas=areas)
    half = len(track) // 2
    out: list[Event] = []
    for r in track[:half]:
        out += first.on_position(fleet.on_position(r), r, areas.containing(r.lon, r.lat))
    second = DetectorRunner([LoiteringDetector()], areas=areas)
    second.restore(json.loads(json.dumps(first.snapshot())))
    assert isinstance(second._states[track[0].mmsi][0], LoiteringState)
    for r in track[half:]:
        out += second.on_position(fleet.on_position(r), r, areas.containing(r.lon, r.lat))
    assert [(e.id, e.phase) for e in out] == [(e.id, e.phase) for e in whole]


def test_config_is_validated() -> None:
    with pytest.raises(ConfigError):
        LoiteringConfig(slow_speed_kn=3.0, resume_speed_kn=2.0)
    with pytest.raises(ConfigError):
        LoiteringConfig(corridor_min_duration_s=0)
    with pytest.raises(ConfigError):
        LoiteringConfig(zone_factor=2.0)


def test_real_solent_traffic_has_no_high_confidence_loitering() -> None:
    """Ferries, pilots, tugs and small craft: nothing ≥ 0.7. The only events are ships at
    anchor at Spithead inside the schematic IFA2 corridor, and one vessel at a berth in the
    test corridor (both damped once a normalcy model knows these cells as stopping places)."""
    areas = AreaIndex(
        load_areas(REPO / "config" / "areas.geojson")
        + load_areas(REPO / "tests" / "data" / "solent_corridor.geojson")
    )
    events = run(read_track(SOLENT), areas)
    assert all(e.attrs["confidence"] < 0.7 for e in events)
    assert {e.mmsi for e in events} <= SOLENT_AT_ANCHOR
    assert all(e.attrs["mean_speed_kn"] < 1.0 for e in events if e.phase == "open")
    # with a normalcy model that knows Spithead as an anchorage, all of them disappear
    assert run(read_track(SOLENT), areas, normalcy=FixedNormalcy(0.8)) == []


def test_real_baltic_cargo_traffic_is_silent(areas: AreaIndex) -> None:
    assert run(read_track(BALTIC), areas) == []
