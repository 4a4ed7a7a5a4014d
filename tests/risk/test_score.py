"""Risk fusion, alert lifecycle and monitoring on constructed findings and real corridors."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from seawarden.alerts.lifecycle import AlertConfig, AlertLifecycle
from seawarden.alerts.model import Alert
from seawarden.areas import AreaIndex, load_areas
from seawarden.errors import ConfigError
from seawarden.fleet.vessel import VesselState
from seawarden.model import Event
from seawarden.risk.config import load_risk_settings
from seawarden.risk.monitor import CrossingPredictor, Monitor, predict
from seawarden.risk.score import Assessment, RiskConfig, RiskEngine, combine
from seawarden.risk.stage import RiskStage
from tests.conftest import REPO
from tests.factories import T0, make_report

AREAS = AreaIndex(load_areas(REPO / "config/areas.geojson"))


def finding(
    kind: str, phase: str, t: float, conf: float, *, mmsi: int = 230_123_456, **attrs: Any
) -> Event:
    return Event(
        id=f"{kind}-{attrs.pop('n', 1)}",
        kind=kind,
        phase=phase,  # type: ignore[arg-type]
        mmsi=mmsi,
        time=T0 + timedelta(seconds=t),
        lat=59.9,
        lon=24.9,
        attrs={"confidence": conf, "reasons": [f"{kind} test"], **attrs},
    )


def vessel(mmsi: int = 230_123_456) -> VesselState:
    return VesselState(mmsi, T0, track_window_n=8)


@given(st.lists(st.floats(0, 100), max_size=8))
def test_combined_score_is_bounded_and_monotone(points: list[float]) -> None:
    score = combine(points)
    assert 0 <= score <= 100
    assert score >= max(points, default=0) - 1e-9
    assert combine([*points, 10.0]) >= score - 1e-9


def test_anchor_drag_in_corridor_is_high_and_says_why() -> None:
    eng = RiskEngine()
    eng.observe([finding("anchor_drag", "open", 0, 0.7)])
    a = eng.assess(vessel(), T0, corridor_distance_m=0.0)
    assert a.level == "high"
    assert a.contributions[0].source == "anchor_drag"
    assert "anchor_drag test" in a.contributions[0].text


def test_behaviour_far_from_corridors_counts_less_than_identity() -> None:
    eng = RiskEngine()
    eng.observe(
        [finding("encounter", "open", 0, 0.8), finding("identity", "open", 0, 0.6, type="bad_imo")]
    )
    far = eng.assess(vessel(), T0, corridor_distance_m=100_000.0)
    near = eng.assess(vessel(), T0, corridor_distance_m=0.0)
    by = {c.source: c.points for c in far.contributions}
    assert by["identity.bad_imo"] == pytest.approx(0.6 * 70)
    assert by["encounter"] < 0.8 * 55
    assert near.score > far.score


def test_closed_and_instant_findings_fade() -> None:
    eng = RiskEngine()
    eng.observe(
        [
            finding("spoofing", "open", 0, 0.8, type="jump"),
            finding("course_speed", "instant", 0, 0.5, n=2),
        ]
    )
    eng.observe([finding("spoofing", "close", 60, 0.8, type="jump")])
    now = eng.assess(vessel(), T0 + timedelta(seconds=60), corridor_distance_m=0.0).score
    later = eng.assess(vessel(), T0 + timedelta(hours=1, seconds=60), corridor_distance_m=0.0).score
    assert later == pytest.approx(now / 4, rel=0.25)  # two half-lives, roughly
    gone = eng.assess(vessel(), T0 + timedelta(hours=12), corridor_distance_m=0.0)
    assert gone.score == 0
    assert 230_123_456 not in eng


def test_repeated_minor_findings_do_not_stack() -> None:
    eng = RiskEngine()
    eng.observe(
        [finding("course_speed", "instant", i, 0.3, n=i, type="speed_change") for i in range(10)]
    )
    a = eng.assess(vessel(), T0 + timedelta(seconds=10), corridor_distance_m=0.0)
    assert len(a.contributions) == 1
    assert "strongest of 10" in a.contributions[0].text
    assert a.level in ("info", "low")


def test_single_benign_rename_stays_low_and_watchlist_plus_meeting_is_medium() -> None:
    eng = RiskEngine()
    eng.observe([finding("identity", "open", 0, 0.15, type="identity_churn")])
    assert eng.assess(vessel(), T0, corridor_distance_m=None).level in ("info", "low")
    eng2 = RiskEngine()
    eng2.observe(
        [
            finding("identity", "open", 0, 1.0, type="watchlist"),
            finding("encounter", "open", 0, 0.5, n=2),
        ]
    )
    assert eng2.assess(vessel(), T0, corridor_distance_m=None).level == "medium"


def test_config_rejects_bad_levels_and_reads_yaml(tmp_path: Any) -> None:
    with pytest.raises(ConfigError):
        RiskConfig(levels=(50.0, 40.0, 60.0, 80.0))
    settings = load_risk_settings(REPO / "config/risk.yaml")
    assert settings.risk.weight("spoofing", "gnss_interference") == 12
    bad = tmp_path / "r.yaml"
    bad.write_text("risk:\n  nonsense: 1\n")
    with pytest.raises(ConfigError):
        load_risk_settings(bad)


def _assessment(
    t: float, score: float, level: str, sources: tuple[str, ...] = ("anchor_drag",)
) -> Assessment:
    from seawarden.risk.score import Contribution

    return Assessment(
        mmsi=1,
        time=T0 + timedelta(seconds=t),
        score=score,
        level=level,  # type: ignore[arg-type]
        contributions=tuple(Contribution(source=s, points=score, text=s) for s in sources),
        area_ids=(),
    )


def _build(a: Assessment) -> Any:
    def build(alert_id: str, revision: int, msg_type: str) -> Alert:
        return Alert(
            id=alert_id,
            revision=revision,
            msg_type=msg_type,
            mmsi=1,
            imo=None,
            name=None,  # type: ignore[arg-type]
            flag=None,
            severity=a.level,
            score=a.score,
            event_time=a.time,
            lat=0.0,
            lon=0.0,
            area_ids=(),
            detectors=(),
            reasons=(),
            next_crossing=None,
            watchlist=None,
            monitored=False,
        )

    return build


def test_alert_lifecycle_dedups_updates_and_cancels() -> None:
    life = AlertLifecycle(AlertConfig(min_update_s=300, rescore_points=10, cancel_after_s=900))
    seq = [
        (0, 30, "low"),  # nothing
        (10, 45, "medium"),  # Alert
        (20, 48, "medium"),  # no material change
        (30, 65, "high"),  # rise: Update at once
        (60, 75, "high"),  # +10 but within min_update_s: held
        (400, 76, "high"),  # due and changed since last sent: Update
        (500, 20, "low"),  # below: wait
        (1500, 18, "low"),  # 15 min below: Cancel
        (1600, 50, "medium"),  # a new situation: new id
    ]
    out = []
    for t, score, level in seq:
        a = _assessment(t, score, level)
        alert = life.update(a, lat=0, lon=0, build=_build(a))
        out.append(None if alert is None else (alert.msg_type, alert.revision, alert.id))
    kinds = [o[:2] if o else None for o in out]
    assert kinds == [
        None,
        ("Alert", 1),
        None,
        ("Update", 2),
        None,
        ("Update", 3),
        None,
        ("Cancel", 4),
        ("Alert", 1),
    ]
    assert out[1][2] == out[7][2] != out[8][2]  # type: ignore[index]


def test_predicted_track_finds_the_next_corridor_crossing() -> None:
    # a ship in the Gulf of Finland heading north at 10 kn from south of Estlink 2
    start = make_report(0, lat=59.55, lon=25.35, speed_kn=10.0, course_deg=0.0)
    path = predict(start, 10.0, 0.0, 3 * 3600, 120)
    crossing = CrossingPredictor(AREAS).next_crossing(path)
    assert crossing is not None
    assert crossing.inside_now is False
    assert crossing.eta > start.time
    assert AREAS.area(crossing.area_id).kind in ("cable", "pipeline")
    # the reported distance matches speed × time to the crossing
    hours = (crossing.eta - start.time).total_seconds() / 3600
    assert crossing.distance_m == pytest.approx(hours * 10 * 1852, rel=0.02)


def test_monitoring_hysteresis() -> None:
    mon = Monitor()
    assert mon.update(1, "high", T0)
    assert mon.update(1, "low", T0 + timedelta(minutes=10))  # still monitored
    assert not mon.update(1, "low", T0 + timedelta(minutes=41))  # 30 min below medium
    assert not mon.update(1, "medium", T0 + timedelta(minutes=50))


def test_stage_mirrors_encounter_to_a_partner_of_a_watchlisted_vessel() -> None:
    from seawarden.fleet.watchlist import Watchlist

    wl = Watchlist.load(REPO / "config/watchlist.csv")
    listed = vessel(518_998_167)
    listed.watch = wl.match(imo=9329760)
    stage = RiskStage(index=AREAS)
    ev = finding("encounter", "open", 0, 0.5, mmsi=518_998_167, partner_mmsi=538_140_102)
    stage.on_report(listed, make_report(0, mmsi=518_998_167), (), [ev])
    partner = vessel(538_140_102)
    partner.track.append(make_report(0, mmsi=538_140_102, speed_kn=0.5))
    _, alerts = stage.on_report(partner, make_report(1, mmsi=538_140_102, speed_kn=0.5), (), [])
    assert alerts
    assert alerts[0].severity in ("medium", "high", "critical")
    assert "watchlist" in alerts[0].reasons[0].text
