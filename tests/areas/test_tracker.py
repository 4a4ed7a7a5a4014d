"""Area visits from constructed tracks: enter, dwell, exit, crossing, hysteresis, resume."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seawarden.areas import AreaIndex, AreaTracker, AreaTrackerConfig, parse_areas
from seawarden.areas.geodesic import GEOD
from seawarden.errors import ConfigError, StoreError
from seawarden.model import Event, PositionReport

from .conftest import T0, collection, corridor, feature, make_report

# A 1 km half-width cable drawn eastwards along 55°N: north is "left", south "right".
LINE = [(10.0, 55.0), (10.2, 55.0)]
HALF_WIDTH_M = 1000.0


@pytest.fixture(scope="module")
def index() -> AreaIndex:
    return AreaIndex([corridor("cable", LINE, HALF_WIDTH_M)])


def at(distance_north_m: float, lon: float = 10.1) -> tuple[float, float]:
    azimuth = 0.0 if distance_north_m >= 0 else 180.0
    x, y, _ = GEOD.fwd(lon, 55.0, azimuth, abs(distance_north_m))
    return x, y


def transit(
    start_m: float, end_m: float, speed_ms: float, every_s: float, mmsi: int = 1
) -> list[PositionReport]:
    """Reports of a ship steaming straight north (or south) across the cable."""
    t, pos = 0.0, start_m
    step = speed_ms * every_s * (1 if end_m > start_m else -1)
    out: list[PositionReport] = []
    while (pos - end_m) * (1 if step > 0 else -1) <= 0:
        lon, lat = at(pos)
        out.append(make_report(t, lon, lat, mmsi=mmsi))
        t += every_s
        pos += step
    return out


def run(tracker: AreaTracker, reports: list[PositionReport]) -> list[Event]:
    return [e for r in reports for e in tracker.step(r)]


def kinds(events: list[Event]) -> list[str]:
    return [e.kind for e in events]


def test_crossing_north_produces_enter_dwell_exit_crossing(index: AreaIndex) -> None:
    config = AreaTrackerConfig(dwell_interval_s=120.0)
    tracker = AreaTracker(index, config)
    # 5 m/s (~10 kn), a report every 10 s (50 m), fixes 25 m off the edges.
    events = run(tracker, transit(-2975, 3000, 5.0, 10.0))
    assert kinds(events) == [
        "area.enter",
        "area.dwell",
        "area.dwell",
        "area.dwell",
        "area.exit",
        "area.crossing",
    ]
    enter, *dwells, leave, crossing = events
    assert enter.time == T0 + timedelta(seconds=400)  # first fix inside (-975 m)
    assert leave.time == T0 + timedelta(seconds=800)  # first fix outside (+1025 m)
    assert [e.attrs["dwell_s"] for e in dwells] == [120.0, 240.0, 360.0]
    assert leave.attrs["dwell_s"] == 400.0
    assert leave.attrs["reason"] == "left"
    assert crossing.attrs["entry_side"] == "right"
    assert crossing.attrs["exit_side"] == "left"
    assert crossing.attrs["dwell_s"] == 400.0
    assert len({e.attrs["visit_id"] for e in events}) == 1
    assert len({e.id for e in events}) == len(events)
    assert all(e.producer_version == AreaTracker.version == "1" for e in events)
    assert all(e.area_id == "cable" and e.phase == "instant" for e in events)
    assert tracker.inside(1) == ()


def test_exit_waits_for_margin_when_leaving_slowly(index: AreaIndex) -> None:
    # The exit is confirmed only 250 m beyond the edge, but dated at the first fix outside.
    tracker = AreaTracker(index, AreaTrackerConfig(exit_grace_s=10_000.0, state_ttl_s=20_000.0))
    events = run(tracker, transit(-500, 1400, 1.0, 50.0))
    leave = next(e for e in events if e.kind == "area.exit")
    lon, lat = at(1050.0)
    assert (leave.lon, leave.lat) == pytest.approx((lon, lat))
    confirming = next(r for r in transit(-500, 1400, 1.0, 50.0) if r.lat > at(1250.0)[1])
    assert tracker.inside(1) == ()
    assert confirming.time > leave.time


def test_turning_back_is_not_a_crossing(index: AreaIndex) -> None:
    tracker = AreaTracker(index)
    there = transit(-3000, 0, 5.0, 10.0)
    back = transit(0, -3000, 5.0, 10.0)
    shift = there[-1].time - T0 + timedelta(seconds=10)
    back = [make_report(0, r.lon, r.lat, mmsi=1, time=r.time + shift) for r in back]
    events = run(tracker, there + back)
    assert kinds(events) == ["area.enter", "area.exit"]


def test_sparse_reports_take_entry_side_from_fix_before_entry(index: AreaIndex) -> None:
    # One fix south, one just north of the line (inside), then north: still a crossing.
    tracker = AreaTracker(index)
    reports = [
        make_report(0, *at(-1500)),
        make_report(100, *at(200)),
        make_report(200, *at(1600)),
    ]
    events = run(tracker, reports)
    assert kinds(events) == ["area.enter", "area.exit", "area.crossing"]
    assert events[2].attrs["entry_side"] == "right"


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.floats(1.0, 60.0), st.floats(-200.0, 200.0)), min_size=3, max_size=80))
def test_jitter_within_margin_does_not_flap(
    index: AreaIndex, jitter: list[tuple[float, float]]
) -> None:
    # A ship at rest on the northern edge; its fix wanders up to 200 m either side of it
    # (less than the 250 m margin) and comes back inside at least every third report, so
    # it is never outside for 180 s in a row: one enter, nothing else.
    tracker = AreaTracker(index, AreaTrackerConfig(dwell_interval_s=86_400.0))
    t, events = 0.0, []
    for i, (dt, offset) in enumerate(jitter):
        inward = i % 3 == 0
        distance = HALF_WIDTH_M - abs(offset) - 5.0 if inward else HALF_WIDTH_M + offset
        events += tracker.step(make_report(t, *at(distance), speed_kn=0.1))
        t += dt
    assert kinds(events) == ["area.enter"]


def test_same_jitter_without_hysteresis_flaps(index: AreaIndex) -> None:
    # Shows what the hysteresis prevents (and that the property above can fail).
    tracker = AreaTracker(index, AreaTrackerConfig(exit_grace_s=0.0, exit_margin_m=0.0))
    events = run(
        tracker,
        [make_report(i * 10.0, *at(HALF_WIDTH_M + (60 if i % 2 else -60))) for i in range(10)],
    )
    assert kinds(events).count("area.enter") == 5
    assert kinds(events).count("area.exit") == 5


def test_grace_confirms_exit_of_a_ship_lingering_just_outside(index: AreaIndex) -> None:
    tracker = AreaTracker(index)  # 180 s grace, 250 m margin
    reports = [make_report(0, *at(900))] + [make_report(t, *at(1100)) for t in (60, 120, 180, 240)]
    events = run(tracker, reports)
    assert kinds(events) == ["area.enter", "area.exit"]
    assert events[1].time == T0 + timedelta(seconds=60)
    assert events[1].attrs["dwell_s"] == 60.0


def test_expire_closes_visits_as_lost_and_forgets(index: AreaIndex) -> None:
    tracker = AreaTracker(index, AreaTrackerConfig(state_ttl_s=600.0))
    tracker.step(make_report(0, *at(0), mmsi=7))
    tracker.step(make_report(30, *at(100), mmsi=7))
    tracker.step(make_report(0, *at(5000), mmsi=8))
    assert tracker.expire(T0 + timedelta(seconds=600)) == []
    assert len(tracker) == 2
    events = tracker.expire(T0 + timedelta(seconds=631))
    assert kinds(events) == ["area.exit"]
    (lost,) = events
    assert (lost.mmsi, lost.attrs["reason"], lost.attrs["dwell_s"]) == (7, "lost", 30.0)
    assert lost.time == T0 + timedelta(seconds=30)
    assert len(tracker) == 0


def test_vessel_back_after_ttl_gets_lost_exit_then_new_visit(index: AreaIndex) -> None:
    tracker = AreaTracker(index, AreaTrackerConfig(state_ttl_s=600.0))
    first = tracker.step(make_report(0, *at(0)))
    again = tracker.step(make_report(5000, *at(0)))
    assert kinds(again) == ["area.exit", "area.enter"]
    assert again[0].attrs["reason"] == "lost"
    assert again[1].attrs["visit_id"] != first[0].attrs["visit_id"]


def test_late_reports_are_counted_and_ignored(index: AreaIndex) -> None:
    tracker = AreaTracker(index)
    tracker.step(make_report(100, *at(0)))
    assert tracker.step(make_report(50, *at(5000))) == []
    assert tracker.late_reports == 1
    assert tracker.inside(230_000_001) == ("cable",)


def test_inside_argument_skips_the_index(index: AreaIndex) -> None:
    tracker = AreaTracker(index)
    events = tracker.step(make_report(0, 0.0, 0.0), inside=("cable",))
    assert kinds(events) == ["area.enter"]


def test_ids_are_deterministic_and_independent_of_tracker_instance(index: AreaIndex) -> None:
    track = transit(-3000, 3000, 5.0, 10.0)
    assert run(AreaTracker(index), track) == run(AreaTracker(index), track)


def _two_ship_track() -> list[PositionReport]:
    a = transit(-3000, 3000, 5.0, 10.0, mmsi=1)
    b = transit(2500, -2500, 3.0, 7.0, mmsi=2)
    return sorted(a + b, key=lambda r: (r.time, r.mmsi))


@settings(max_examples=25, deadline=None)
@given(st.data())
def test_snapshot_restore_mid_track_gives_same_events(
    index: AreaIndex, data: st.DataObject
) -> None:
    track = _two_ship_track()
    cut = data.draw(st.integers(0, len(track)))
    config = AreaTrackerConfig(dwell_interval_s=45.0)
    whole = run(AreaTracker(index, config), track)
    first = AreaTracker(index, config)
    before = run(first, track[:cut])
    saved = json.loads(json.dumps(first.snapshot()))
    resumed = AreaTracker(index, config)
    resumed.restore(saved)
    assert before + run(resumed, track[cut:]) == whole


def test_restore_refuses_foreign_or_broken_state(index: AreaIndex) -> None:
    tracker = AreaTracker(index)
    with pytest.raises(StoreError, match="start without --resume"):
        tracker.restore({"producer": "area_tracker", "version": "0", "vessels": {}})
    with pytest.raises(StoreError, match="malformed"):
        tracker.restore({"producer": "area_tracker", "version": "1", "vessels": {"1": {}}})


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"exit_grace_s": -1.0}, "exit_grace_s=-1.0 must be in"),
        ({"exit_margin_m": float("nan")}, "exit_margin_m=nan"),
        ({"dwell_interval_s": 0.0}, "dwell_interval_s=0.0"),
        ({"state_ttl_s": 100.0}, "state_ttl_s (100) must exceed exit_grace_s (180)"),
        ({"exit_grace_s": "60"}, "exit_grace_s must be a number"),
        ({"exit_margin_m": True}, "exit_margin_m must be a number"),
    ],
)
def test_config_validation(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        AreaTrackerConfig(**overrides)  # type: ignore[arg-type]
    assert message in str(info.value)


def test_config_defaults() -> None:
    config = AreaTrackerConfig()
    assert (config.exit_grace_s, config.exit_margin_m) == (180.0, 250.0)
    assert (config.dwell_interval_s, config.state_ttl_s) == (600.0, 3600.0)


def test_zone_exit_margin_is_metres_beyond_the_polygon() -> None:
    zone = parse_areas(
        collection(
            feature(
                "Polygon",
                [[[10.0, 55.0], [10.2, 55.0], [10.2, 55.2], [10.0, 55.2], [10.0, 55.0]]],
                id="zone",
                name="Zone",
                kind="zone",
            )
        )
    )[0]
    tracker = AreaTracker(AreaIndex([zone]), AreaTrackerConfig(exit_grace_s=3000.0))
    inside = make_report(0, 10.1, 55.1)
    east_150 = make_report(10, GEOD.fwd(10.2, 55.1, 90.0, 150.0)[0], 55.1)
    east_350 = make_report(20, GEOD.fwd(10.2, 55.1, 90.0, 350.0)[0], 55.1)
    assert kinds(tracker.step(inside)) == ["area.enter"]
    assert tracker.step(east_150) == []  # outside, within the 250 m margin
    (leave,) = tracker.step(east_350)
    assert (leave.kind, leave.time, leave.attrs["dwell_s"]) == ("area.exit", east_150.time, 10.0)


def test_long_gap_inside_gives_one_dwell_with_the_latest_count(index: AreaIndex) -> None:
    tracker = AreaTracker(index, AreaTrackerConfig(dwell_interval_s=60.0))
    tracker.step(make_report(0, *at(0)))
    (dwell,) = tracker.step(make_report(250, *at(10)))
    assert dwell.attrs["dwell_s"] == 250.0
    assert tracker.step(make_report(260, *at(20))) == []
    (nxt,) = tracker.step(make_report(300, *at(30)))
    assert nxt.id != dwell.id
