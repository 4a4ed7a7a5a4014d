"""spoofing: impossible jumps, positions on land, cloned MMSIs, area-wide GNSS interference,
and the real Solent and Baltic traffic (which must stay quiet).

Scenarios are synthetic tracks in the Gulf of Finland, where GNSS interference has been
reported since 2023; no real AIS track of a spoofing incident is public.
"""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seawarden.detectors.spoofing import (
    Episode,
    SpoofingConfig,
    SpoofingDetector,
    SpoofingState,
)
from seawarden.errors import ConfigError
from seawarden.model import Event, PositionReport
from seawarden.testing import read_track, run_detectors
from tests.conftest import SHARED_DATA
from tests.factories import make_report

SOLENT = SHARED_DATA / "tracks" / "solent" / "SolentAIS_20160112_130211.csv"
BALTIC = SHARED_DATA / "tracks" / "baltic-cargo-2020" / "baltic_cargo_20201101.csv"
SHIP = 230_000_001
# 12 kn east at 59.8°N ≈ 1.16e-4° of longitude per second
STEP_DEG_S = 12 * 1852 / 3600 / (111_195 * 0.5030)


def cruise(
    t0: float,
    t1: float,
    *,
    mmsi: int = SHIP,
    lat: float = 59.8,
    lon0: float = 24.5,
    every: float = 10,
) -> list[PositionReport]:
    out = []
    t = t0
    while t < t1:
        out.append(make_report(t, mmsi=mmsi, lat=lat, lon=lon0 + (t - t0) * STEP_DEG_S))
        t += every
    return out


def of_type(events: list[Event], kind: str) -> list[Event]:
    return [e for e in events if e.attrs["type"] == kind]


def test_single_jump_opens_one_episode_with_kinematics() -> None:
    track = cruise(0, 600) + cruise(600, 1200, lat=59.8, lon0=24.5 + 600 * STEP_DEG_S + 0.7)
    events = run_detectors([SpoofingDetector()], track + cruise(1200, 4000, lon0=25.5))
    jumps = of_type(events, "jump")
    assert jumps[0].phase == "open"
    assert jumps[-1].phase == "close"
    assert len({e.id for e in jumps}) == 1
    attrs = jumps[0].attrs
    assert attrs["jump_m"] == pytest.approx(39_100, rel=0.05)
    assert attrs["dt_s"] == 10
    assert attrs["implied_speed_kn"] > 5000
    assert attrs["reported_speed_kn"] == 12.0
    assert 0.6 <= attrs["confidence"] <= 0.7
    assert len(attrs["evidence"]) == 2
    assert not of_type(events, "cloned_mmsi")


def test_first_report_and_long_silences_are_not_jumps() -> None:
    # first report anywhere; then 2 h of silence at 12 kn and 40 km further on: plausible
    track = [make_report(0, mmsi=SHIP, lat=59.8, lon=24.5)]
    track.append(make_report(7200, mmsi=SHIP, lat=59.8, lon=25.2))
    assert run_detectors([SpoofingDetector()], track) == []


@settings(max_examples=25)
@given(
    st.lists(st.tuples(st.floats(-4e-4, 4e-4), st.floats(-8e-4, 8e-4)), min_size=20, max_size=60)
)
def test_gps_noise_on_short_intervals_is_tolerated(noise: list[tuple[float, float]]) -> None:
    """A ship at rest (0 kn, in the hysteresis band of "not moving") with ±45 m of GPS noise
    every 2 s gives nothing."""
    track = [
        make_report(2.0 * i, mmsi=SHIP, lat=59.8 + dy, lon=24.5 + dx, speed_kn=0.0)
        for i, (dy, dx) in enumerate(noise)
    ]
    assert run_detectors([SpoofingDetector()], track) == []


def test_single_bad_fix_is_discounted_when_the_track_resumes() -> None:
    track = cruise(0, 300)
    track.append(make_report(300, mmsi=SHIP, lat=61.0, lon=30.0))
    track += cruise(310, 600, lon0=24.5 + 310 * STEP_DEG_S)
    jumps = of_type(run_detectors([SpoofingDetector()], track), "jump")
    assert [e.phase for e in jumps] == ["open", "update"]
    assert jumps[1].attrs["confidence"] < jumps[0].attrs["confidence"]
    assert "single bad position" in jumps[1].attrs["reasons"][0]


def test_jump_onto_land_is_spoofing_with_high_confidence() -> None:
    track = cruise(0, 300)
    track += [
        make_report(300 + 10 * i, mmsi=SHIP, lat=60.45, lon=25.0, speed_kn=0.0) for i in range(4)
    ]
    events = run_detectors([SpoofingDetector()], track)
    land = of_type(events, "on_land")
    assert land
    assert land[0].phase == "open"
    assert land[0].attrs["via_jump"] is True
    assert land[0].attrs["confidence"] >= 0.8
    assert of_type(events, "jump")


def test_one_report_on_land_is_not_enough() -> None:
    track = cruise(0, 300)
    track.append(make_report(300, mmsi=SHIP, lat=60.45, lon=25.0))
    track += cruise(310, 600, lon0=24.5 + 310 * STEP_DEG_S)
    assert not of_type(run_detectors([SpoofingDetector()], track), "on_land")


def test_cloned_mmsi_two_interleaved_tracks() -> None:
    a = cruise(0, 1200, lat=59.8, lon0=24.5, every=20)
    b = cruise(10, 1210, lat=59.4, lon0=22.0, every=20)  # 150 km away, also 12 kn east
    events = run_detectors([SpoofingDetector()], sorted(a + b, key=lambda r: r.time))
    clones = of_type(events, "cloned_mmsi")
    assert clones
    assert clones[0].phase == "open"
    assert clones[0].attrs["separation_m"] > 100_000
    assert clones[0].attrs["confidence"] >= 0.8
    assert len({e.id for e in clones}) == 1
    # only the first switch looked like a jump, the rest is explained by two transmitters
    assert len([e for e in of_type(events, "jump") if e.phase == "open"]) == 1


def test_area_wide_gnss_interference_is_labelled_not_blamed() -> None:
    """Six ships within 10 km all jump 25 km north within a minute (a jammer/spoofer)."""
    ships = [230_000_100 + k for k in range(6)]
    track: list[PositionReport] = []
    for k, mmsi in enumerate(ships):
        lat = 59.8 + 0.01 * k
        track += [
            make_report(t + k, mmsi=mmsi, lat=lat, lon=24.5 + t * STEP_DEG_S)
            for t in range(0, 300, 10)
        ]
        track += [
            make_report(t + k, mmsi=mmsi, lat=lat + 0.225, lon=24.5 + t * STEP_DEG_S)
            for t in range(300 + 5 * k, 900, 10)
        ]
    events = run_detectors([SpoofingDetector()], sorted(track, key=lambda r: r.time))
    opened = [e for e in events if e.phase == "open"]
    kinds = Counter(e.attrs["type"] for e in opened)
    assert kinds["gnss_interference"] == 4  # the first two are seen before it is an area effect
    assert kinds["jump"] == 2
    jam = of_type(opened, "gnss_interference")
    assert all(e.attrs["confidence"] <= 0.3 for e in jam)
    assert jam[-1].attrs["vessels_affected"] == 6
    assert "GNSS jamming" in jam[0].attrs["reasons"][1]


def test_state_round_trips_through_the_codec() -> None:
    det = SpoofingDetector()
    track = cruise(0, 300)
    track += [make_report(300 + 10 * i, mmsi=SHIP, lat=60.45, lon=25.0) for i in range(3)]
    state = det.initial_state(SHIP)
    from seawarden.detectors.base import Context
    from seawarden.fleet.vessel import VesselState

    vessel = VesselState(SHIP, track[0].time, track_window_n=4)
    for r in track:
        state, _ = det.step(state, r, Context(now=r.time, vessel=vessel))
    assert state.episodes
    assert isinstance(next(iter(state.episodes.values())), Episode)
    again = det.decode_state(det.encode_state(state))
    assert again == state
    assert isinstance(again, SpoofingState)


@pytest.mark.parametrize(
    "bad", [{"min_jump_m": 0}, {"jamming_min_vessels": 1}, {"on_land_enter_reports": 0}]
)
def test_config_is_validated(bad: dict[str, float]) -> None:
    with pytest.raises(ConfigError):
        SpoofingConfig(**bad)  # type: ignore[arg-type]


def test_real_solent_traffic() -> None:
    """One event in 18,623 positions: a single corrupted fix of 245188000 placed in
    Kazakhstan (50.81°N 54.83°E) between two Solent positions — a true bad position,
    discounted to 0.4 when the next report returned to the track."""
    events = run_detectors([SpoofingDetector()], read_track(SOLENT))
    assert {(e.mmsi, e.attrs["type"]) for e in events} == {(245188000, "jump")}
    assert events[-1].phase == "close"
    assert events[-1].attrs["confidence"] <= 0.45


def test_real_baltic_traffic() -> None:
    """76 cargo ships over 1.5 days, 30 through the Kiel Canal, which Natural Earth's land
    layer does not carve out: only low-confidence on_land episodes ("inland waterway"), one
    open and one close each, no jumps, no clones."""
    events = run_detectors([SpoofingDetector()], read_track(BALTIC))
    kinds = Counter((e.attrs["type"], e.phase) for e in events)
    assert set(kinds) <= {("on_land", "open"), ("on_land", "close")}
    assert kinds[("on_land", "open")] <= 40
    assert max(e.attrs["confidence"] for e in events) <= 0.3
