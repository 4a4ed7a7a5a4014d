"""End to end: simulated incidents over real Baltic traffic → replay → alerts → evaluate.

No real AIS track of any incident is public. The scenario vessels are built from the public
facts in ../shared/data/incidents.md (see docs/scenarios.md); the background is real AIS
(Baltic cargo ships, DMA data, 1-2 Nov 2020) shifted in time only. What this measures is
the whole system as an operator would run it: `simulate`, `replay --alerts-out`, `evaluate`.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from seawarden.evaluate import evaluate, label_mmsis, vessel_days
from seawarden.pipeline.replay import Replay
from seawarden.pipeline.settings import RunConfig
from seawarden.sim import simulate
from tests.conftest import REPO, SHARED_DATA

BALTIC = SHARED_DATA / "tracks/baltic-cargo-2020/baltic_cargo_20201101.csv"
SCENARIOS = ["anchor_drag_slowdown", "legit_anchoring", "pilot_pickup", "ferry", "trawler"]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("e2e")
    nmea, labels, alerts = tmp / "sim.nmea", tmp / "labels.jsonl", tmp / "alerts.jsonl"
    simulate(nmea, labels, scenarios=SCENARIOS, background=BALTIC, seed=11)
    config = RunConfig(
        areas=REPO / "config/areas.geojson", watchlists=(REPO / "config/watchlist.csv",)
    )
    Replay([nmea], config, alerts_out=alerts).run()
    return {"nmea": nmea, "labels": labels, "alerts": alerts}


def test_eagle_s_style_drag_is_alerted_high_before_the_crossing(run: dict[str, Path]) -> None:
    report = evaluate(run["labels"], run["alerts"], severity="high").as_dict()
    drags = [v for v in report["vessels"] if v["scenario"] == "anchor_drag_slowdown"]
    assert drags, report
    for v in drags:
        assert v["detected"], v
        assert v["lead_time_s"] is not None, v
        assert v["lead_time_s"] > 0, v


def test_normal_behaviour_raises_no_high_alert(run: dict[str, Path]) -> None:
    days = vessel_days(run["nmea"], exclude=label_mmsis(run["labels"]))
    report = evaluate(run["labels"], run["alerts"], severity="high", vessel_days=days)
    summary = report.summary()
    assert summary["no_alert_false_alerts"] == 0
    # goal: < 1 false high alert per 100 vessel-days of normal (real) traffic
    assert summary["false_alarms_per_100_vessel_days"] is not None
    assert float(summary["false_alarms_per_100_vessel_days"]) < 1.0


def test_every_alert_says_why(run: dict[str, Path]) -> None:
    rows = [json.loads(line) for line in run["alerts"].read_text().splitlines()]
    assert rows
    for a in rows:
        assert a["msg_type"] in ("Alert", "Update", "Cancel")
        assert a["reasons"], a
        assert all(r["text"] and r["weight"] >= 0 for r in a["reasons"])
        assert 0 <= a["score"] <= 100


# -- YI PENG 3-style drag: no real slow-down, a sustained zig-zag, AIS dark for part --------


@pytest.fixture(scope="module")
def no_slowdown_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("e2e-no-slowdown")
    nmea, labels, alerts = tmp / "sim.nmea", tmp / "labels.jsonl", tmp / "alerts.jsonl"
    simulate(nmea, labels, scenarios=["anchor_drag_no_slowdown"], background=BALTIC, seed=11)
    config = RunConfig(
        areas=REPO / "config/areas.geojson", watchlists=(REPO / "config/watchlist.csv",)
    )
    Replay([nmea], config, alerts_out=alerts).run()
    return {"nmea": nmea, "labels": labels, "alerts": alerts}


def test_yi_peng_3_style_drag_is_alerted_high_before_the_first_crossing(
    no_slowdown_run: dict[str, Path],
) -> None:
    """The ship eases from ~9 to 6.5 kn only (no speed-drop signal) and zig-zags; it must
    be alerted at ``high`` before it reaches the first cable (BCS), not only the last."""
    report = evaluate(no_slowdown_run["labels"], no_slowdown_run["alerts"], severity="high")
    drags = [v for v in report.as_dict()["vessels"] if v["scenario"] == "anchor_drag_no_slowdown"]
    assert drags, report.as_dict()
    labels = {
        json.loads(line)["mmsi"]: json.loads(line)
        for line in no_slowdown_run["labels"].read_text().splitlines()
    }
    for v in drags:
        assert v["detected"], v
        assert v["lead_time_s"] is not None, v
        assert v["lead_time_s"] > 0, v
        first_crossing = min(
            datetime.fromisoformat(c["time"]) for c in labels[v["mmsi"]]["crossings"]
        )
        assert datetime.fromisoformat(v["first_alert"]) < first_crossing, (v, first_crossing)
    days = vessel_days(no_slowdown_run["nmea"], exclude=label_mmsis(no_slowdown_run["labels"]))
    summary = evaluate(
        no_slowdown_run["labels"], no_slowdown_run["alerts"], severity="high", vessel_days=days
    ).summary()
    assert summary["background_alerts"] == 0


@pytest.mark.xfail(
    strict=True,
    reason="goal not met: at onset the ship is ~24 km (2 h) from the nearest corridor and a "
    "20-min zig-zag needs ~1 h to show; see docs/detectors/anchor_drag.md",
)
def test_yi_peng_3_style_drag_is_alerted_high_within_10_minutes(
    no_slowdown_run: dict[str, Path],
) -> None:
    report = evaluate(no_slowdown_run["labels"], no_slowdown_run["alerts"], severity="high")
    for v in report.as_dict()["vessels"]:
        if v["scenario"] == "anchor_drag_no_slowdown":
            assert v["delay_s"] is not None, v
            assert v["delay_s"] <= 600, v
