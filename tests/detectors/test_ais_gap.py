"""ais_gap: going dark while others are heard; receiver outages; reappearing far away;
real Solent and Baltic traffic.

The scenarios are built on the facts of the Gulf of Finland incidents (Eagle S, 25 Dec 2024,
Estlink 2 / Balticconnector area, ``incidents.md``): a ship among busy traffic at
59.8–59.9°N 24.5–25°E. No real AIS track of an incident is public; the tracks are synthetic.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seawarden.areas import load_areas
from seawarden.areas.index import AreaIndex
from seawarden.detectors.ais_gap import (
    AisGapConfig,
    AisGapDetector,
    AisGapState,
    nominal_interval_s,
)
from seawarden.errors import ConfigError
from seawarden.model import Event, PositionReport
from seawarden.testing import read_track, run_detectors
from tests.conftest import REPO, SHARED_DATA
from tests.factories import make_report

SOLENT = SHARED_DATA / "tracks" / "solent" / "SolentAIS_20160112_130211.csv"
BALTIC = SHARED_DATA / "tracks" / "baltic-cargo-2020" / "baltic_cargo_20201101.csv"
TARGET = 230_000_001
OTHERS = [230_000_100 + i for i in range(5)]


def traffic(
    *,
    silent: tuple[float, float],
    others_silent: bool = False,
    end_s: float = 3000.0,
    every_s: float = 10.0,
    reappear_dlon: float = 0.0,
) -> list[PositionReport]:
    """Six ships at 10 kn east in the Gulf of Finland; the target is silent in ``silent``."""
    out: list[PositionReport] = []
    t = 0.0
    while t <= end_s:
        in_gap = silent[0] < t < silent[1]
        for k, mmsi in enumerate([TARGET, *OTHERS]):
            if in_gap and (mmsi == TARGET or others_silent):
                continue
            lon = 24.5 + t * 1e-4 + (reappear_dlon if mmsi == TARGET and t >= silent[1] else 0)
            out.append(
                make_report(t + k * 0.5, mmsi=mmsi, lat=59.8 + 0.01 * k, lon=lon, speed_kn=10.0)
            )
        t += every_s
    return out


def only(events: list[Event], mmsi: int = TARGET) -> list[Event]:
    return [e for e in events if e.mmsi == mmsi]


def test_going_dark_among_traffic_opens_updates_and_closes() -> None:
    events = run_detectors([AisGapDetector()], traffic(silent=(600, 2400)))
    mine = only(events)
    assert mine[0].phase == "open"
    assert mine[-1].phase == "close"
    assert len({e.id for e in mine}) == 1
    opened, closed = mine[0], mine[-1]
    assert opened.attrs["others_heard"] >= 5
    assert 0.3 <= opened.attrs["confidence"] <= 0.6
    assert "other vessels were heard" in " ".join(opened.attrs["reasons"])
    assert closed.attrs["gap_s"] == pytest.approx(1800, abs=15)
    assert closed.attrs["reappeared_far"] is False
    assert opened.attrs["evidence"][0]["time"] == closed.attrs["started"]
    assert not only(events, OTHERS[0])


def test_receiver_outage_silencing_everyone_gives_no_event() -> None:
    events = run_detectors([AisGapDetector()], traffic(silent=(600, 2400), others_silent=True))
    assert [e for e in events if e.attrs["confidence"] >= 0.3] == []


def test_reappearing_40_km_away_after_20_min_flags_the_implied_speed() -> None:
    # its own 20 min at 10 kn (0.12°) + 0.6° = 0.72° of longitude at 59.8°N ≈ 40 km:
    # 40 km in 20 min = 65 kn against 10 kn reported
    events = run_detectors(
        [AisGapDetector()], traffic(silent=(600, 1800), reappear_dlon=0.6, end_s=2000)
    )
    closed = only(events)[-1]
    assert closed.phase == "close"
    assert closed.attrs["reappeared_far"] is True
    assert closed.attrs["distance_m"] == pytest.approx(40_300, rel=0.05)
    assert closed.attrs["implied_speed_kn"] > 60
    assert "implied speed" in " ".join(closed.attrs["reasons"])
    assert closed.attrs["confidence"] > only(events)[0].attrs["confidence"]


def test_inside_a_corridor_and_monitored_raise_confidence() -> None:
    areas = AreaIndex(load_areas(REPO / "config" / "areas.geojson"))
    track = traffic(silent=(600, 2400))
    inside = {a for r in track if r.mmsi == TARGET for a in areas.containing(r.lon, r.lat)}
    plain = only(run_detectors([AisGapDetector()], track))[0].attrs["confidence"]
    watched = only(run_detectors([AisGapDetector()], track, areas=areas, monitored=[TARGET]))
    assert watched[0].attrs["confidence"] >= plain + 0.1
    if inside:
        assert watched[0].attrs["last_area_ids"]


def test_monitored_vessels_have_tighter_timers() -> None:
    # 12 min of silence: under 10 min + 5 min confirmation, over half of that
    track = traffic(silent=(600, 1300), end_s=1600)
    assert not only(run_detectors([AisGapDetector()], track))
    assert only(run_detectors([AisGapDetector()], track, monitored=[TARGET]))


def test_class_b_usual_interval_sets_its_timer() -> None:
    # A class B set heard every 3 min: 25 min of silence is < 10 × 3 min, not a gap.
    det = AisGapDetector()
    state = det.initial_state(TARGET)
    from seawarden.detectors.base import Context
    from seawarden.fleet.vessel import VesselState

    vessel = VesselState(TARGET, make_report(0).time, track_window_n=4)
    for i in range(6):
        r = make_report(i * 180.0, mmsi=TARGET, msg_type=18, speed_kn=0.5)
        state, _ = det.step(state, r, Context(now=r.time, vessel=vessel))
    assert state.usual_s == pytest.approx(180.0)
    assert det.threshold_s(state, Context(now=r.time, vessel=vessel)) == pytest.approx(1800.0)
    assert nominal_interval_s(r) == 180.0


def test_state_round_trips_through_the_codec() -> None:
    det = AisGapDetector()
    from seawarden.detectors.runner import DetectorRunner

    runner = DetectorRunner([det])
    del runner  # the codec is the detector's own
    state = AisGapState()
    state.last = make_report(0)
    state.intervals.extend([10.0, 11.0, 9.5])
    state.usual_s = 10.0
    state.gap_open = True
    state.emitted_at = state.last.time + timedelta(minutes=20)
    state.last_area_ids = ("estlink2",)
    assert det.decode_state(det.encode_state(state)) == state


@pytest.mark.parametrize(
    "bad",
    [{"min_gap_s": 0}, {"min_others_heard": 0}, {"monitored_factor": 2.0}, {"max_gap_s": 60}],
)
def test_config_is_validated(bad: dict[str, float]) -> None:
    with pytest.raises(ConfigError):
        AisGapConfig(**bad)  # type: ignore[arg-type]


@settings(max_examples=20)
@given(st.floats(0.0, 0.4), st.integers(2, 30))
def test_vessel_at_rest_reporting_regularly_gives_no_event(speed: float, every_s: int) -> None:
    track = [
        make_report(t, mmsi=m, lat=59.8 + 0.001 * k, lon=24.5, speed_kn=speed)
        for t in range(0, 3600, every_s)
        for k, m in enumerate([TARGET, *OTHERS])
    ]
    assert run_detectors([AisGapDetector()], track) == []


def test_real_solent_traffic() -> None:
    """Solent, 84 min, one receiver: it loses ships in Portsmouth Harbour and behind the
    Isle of Wight for 15–40 min while it hears ~80 others, so gaps open (15 in 84 min), most
    below 0.6. Only one exceeds 0.7: a 20 kn ship silent for the file's last 25 min inside
    the ifa2 corridor, with others heard — exactly what the detector must show an officer."""
    events = run_detectors([AisGapDetector()], read_track(SOLENT))
    opens = [e for e in events if e.phase == "open"]
    assert 10 <= len(opens) <= 20
    high = {e.mmsi for e in events if e.attrs["confidence"] >= 0.7}
    assert high <= {235014661}
    assert all(e.attrs["others_heard"] >= 3 for e in events)


def test_real_baltic_traffic() -> None:
    """Baltic cargo, 1.5 days: the file holds one voyage per ship, so tracks end at the Kiel
    Canal locks and Norwegian ports while others are heard there — ~34 gaps, all below 0.6
    (no infrastructure, weak-reception and dead-reckoning discounts). None high next to
    infrastructure, and none without others heard."""
    areas = AreaIndex(load_areas(REPO / "config" / "areas.geojson"))
    events = run_detectors([AisGapDetector()], read_track(BALTIC), areas=areas)
    phases = Counter(e.phase for e in events)
    assert 20 <= phases["open"] <= 45
    assert max(e.attrs["confidence"] for e in events) < 0.7
    assert all(e.attrs["others_heard"] >= 3 for e in events)
    # updates are rate-limited: at most one per hour of gap plus confidence changes
    assert phases["update"] <= 12 * phases["open"]
