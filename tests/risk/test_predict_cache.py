"""A tick reuses a vessel's last prediction only while nothing it was made from changed.

Ticks re-score every vessel with an open alert; the predicted track and next cable
crossing depend on the vessel's recent track, its last position, the areas it is in and
the crossing predictor — not on the tick's time. Checked against a fresh prediction after
every step of generated histories: reports in order and late ones (which change the track
behind the newest report), repeated ticks, moves in and out of real corridors (C-Lion1,
Estlink 1), and the areas being replaced.
"""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from seawarden.areas import AreaIndex, load_areas
from seawarden.fleet.fleet import Fleet
from seawarden.risk.monitor import CrossingPredictor
from seawarden.risk.stage import RiskStage
from tests.conftest import REPO
from tests.factories import make_report

AREAS = load_areas(REPO / "config/areas.geojson")
INDEX = AreaIndex(AREAS)
FEWER = AreaIndex([a for a in AREAS if a.id not in ("estlink-1", "c-lion1")])
MMSI = 230_123_456

report_op = st.tuples(
    st.just("report"),
    st.floats(-900.0, 300.0),  # seconds after the newest report (negative: a late one)
    st.floats(0.0, 20.0),  # speed, kn
    st.floats(0.0, 359.0),  # course
)
op = st.one_of(report_op, st.just(("tick",)), st.just(("areas",)))


@settings(max_examples=80, deadline=None)
@given(st.lists(op, min_size=1, max_size=40))
def test_reused_prediction_equals_a_fresh_one(ops: list[tuple[object, ...]]) -> None:
    stage = RiskStage(index=INDEX)
    fleet = Fleet()
    t, lon = 0.0, 24.62  # west of Estlink 1, heading for it at 12 kn by default
    vessel = fleet.on_position(make_report(t, mmsi=MMSI, lon=lon))
    for step in ops:
        if step[0] == "report":
            _, dt, speed, course = step
            assert isinstance(dt, float)
            assert isinstance(speed, float)
            when = t + dt
            if dt > 0:
                t = when
                lon += dt * speed * 1852 / 3600 / 55_800  # about metres per degree at 59.9° N
            vessel = fleet.on_position(
                make_report(when, mmsi=MMSI, lon=lon, speed_kn=speed, course_deg=course)
            )
        elif step[0] == "areas":
            stage.predictor = CrossingPredictor(
                FEWER if stage.predictor and stage.predictor.index is INDEX else INDEX
            )
        last = vessel.last
        assert last is not None
        inside = INDEX.containing(last.lon, last.lat)
        assert stage._predict(vessel, last, inside) == stage._predict_now(vessel, last, inside)


def test_ticks_without_news_reuse_the_prediction() -> None:
    stage = RiskStage(index=INDEX)
    fleet = Fleet()
    for t in (0, 10, 20):
        vessel = fleet.on_position(make_report(t, mmsi=MMSI, lon=24.62 + t * 1e-4))
    last = vessel.last
    assert last is not None
    crossing, track = stage._predict(vessel, last, ())
    assert crossing is not None  # C-Lion1 runs here
    assert track
    made = stage._predicted[MMSI]
    stage._predict(vessel, last, ())
    assert stage._predicted[MMSI] is made  # reused, not made again
    vessel = fleet.on_position(make_report(5, mmsi=MMSI, lon=24.6205))  # a late report
    stage._predict(vessel, last, ())
    assert stage._predicted[MMSI] is not made


def test_forgotten_vessels_drop_their_prediction() -> None:
    stage = RiskStage(index=INDEX)
    vessel = Fleet().on_position(make_report(0, mmsi=MMSI, lon=24.62))
    for t in (10, 20):
        vessel.add_position(
            make_report(t, mmsi=MMSI, lon=24.62 + t * 1e-4), window=timedelta(hours=1)
        )
    last = vessel.last
    assert last is not None
    stage._predict(vessel, last, ())
    assert MMSI in stage._predicted
    stage.forget(set())
    assert MMSI not in stage._predicted
