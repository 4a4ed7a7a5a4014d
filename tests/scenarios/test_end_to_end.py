"""End to end: simulated incidents over real Baltic traffic → replay → alerts → evaluate.

No real AIS track of any incident is public. The scenario vessels are built from the public
facts in ../shared/data/incidents.md (see docs/scenarios.md); the background is real AIS
(Baltic cargo ships, DMA data, 1-2 Nov 2020) shifted in time only. What this measures is
the whole system as an operator would run it: `simulate`, `replay --alerts-out`, `evaluate`.
"""

from __future__ import annotations

import itertools
import json
import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from seawarden.evaluate import evaluate, label_mmsis, vessel_days
from seawarden.geo.sphere import distance_m
from seawarden.model import PositionReport
from seawarden.pipeline.replay import Replay
from seawarden.pipeline.settings import RunConfig
from seawarden.sim import simulate
from seawarden.testing import read_track
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


# -- going dark next to infrastructure vs a receiver outage (real Solent traffic) -------------
# The Baltic cargo background has no ships within ~25 km of any corridor often enough for a
# coverage-aware detector to say "the others are still heard", so these two scenarios are laid
# on the real Solent background (Stone Soup demo file, 12 Jan 2016, 91 ships in 84 min): the
# scenario ship sails the real inbound lane Nab -> Spithead -> Cowes (waypoints are reports of
# real ships on it, see seawarden/sim/dark.py) inside the IFA2 corridor. dark_spell: it alone
# switches AIS off for 45 min at Spithead (public facts: AIS off during Yi Peng 3's drag,
# incidents.md). receiver_outage: it keeps transmitting, but nothing within 20 km is heard for
# 30 min. The vessel is synthetic; the traffic around it is real, shifted in time only.
SOLENT = SHARED_DATA / "tracks/solent/SolentAIS_20160112_130211.csv"


def _solent_run(tmp: Path, scenario: str) -> dict[str, Path]:
    nmea, labels, alerts = tmp / "sim.nmea", tmp / "labels.jsonl", tmp / "alerts.jsonl"
    simulate(nmea, labels, scenarios=[scenario], background=SOLENT, seed=11)
    config = RunConfig(
        areas=REPO / "config/areas.geojson", watchlists=(REPO / "config/watchlist.csv",)
    )
    Replay([nmea], config, alerts_out=alerts).run()
    return {"nmea": nmea, "labels": labels, "alerts": alerts}


@pytest.fixture(scope="module")
def solent_dark(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return _solent_run(tmp_path_factory.mktemp("dark"), "dark_spell")


@pytest.fixture(scope="module")
def solent_outage(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return _solent_run(tmp_path_factory.mktemp("outage"), "receiver_outage")


def _alerts(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_going_dark_in_a_corridor_among_heard_ships_is_alerted_medium(
    solent_dark: dict[str, Path],
) -> None:
    report = evaluate(solent_dark["labels"], solent_dark["alerts"], severity="medium").as_dict()
    (dark,) = [v for v in report["vessels"] if v["scenario"] == "dark_spell"]
    assert dark["detected"], dark
    # ais_gap's threshold is 10 min of silence for a ship reporting every 10 s; the alert
    # must follow within a few ticks of it
    assert dark["delay_s"] is not None
    assert dark["delay_s"] <= 15 * 60, dark
    mine = [a for a in _alerts(solent_dark["alerts"]) if a["mmsi"] == dark["mmsi"]]
    assert "ais_gap" in mine[0]["detectors"]
    assert "heard" in " ".join(r["text"] for r in mine[0]["reasons"])


def test_receiver_outage_raises_nothing_above_low(solent_outage: dict[str, Path]) -> None:
    report = evaluate(solent_outage["labels"], solent_outage["alerts"], severity="medium")
    assert report.summary()["no_alert_false_alerts"] == 0
    # and no real background ship silenced by the outage gets a medium alert either
    label = json.loads(solent_outage["labels"].read_text().splitlines()[0])
    m = re.search(r"within (\d+) km of ([\d.]+),(-?[\d.]+) heard for (\d+) min", label["notes"])
    assert m
    radius_m, lat, lon = float(m[1]) * 1000, float(m[2]), float(m[3])
    records = [r for r in read_track(solent_outage["nmea"]) if isinstance(r, PositionReport)]
    own = [r for r in records if r.mmsi == label["mmsi"]]
    gaps = [(b.time - a.time).total_seconds() for a, b in itertools.pairwise(own)]
    i = max(range(len(gaps)), key=gaps.__getitem__)
    start, end = own[i].time - timedelta(minutes=6), own[i + 1].time  # 6 min: slowest AIS
    silenced = {r.mmsi for r in records if start <= r.time <= end
                and distance_m(lat, lon, r.lat, r.lon) <= radius_m}  # fmt: skip
    assert len(silenced) >= 20  # the outage hit a busy area
    by_mmsi: dict[int, list[PositionReport]] = {}
    for r in records:
        by_mmsi.setdefault(r.mmsi, []).append(r)
    for a in _alerts(solent_outage["alerts"]):
        if a["score"] < 40 or "ais_gap" not in a["detectors"] or a["mmsi"] not in silenced:
            continue
        t = datetime.fromisoformat(a["event_time"])
        last = max((r for r in by_mmsi[a["mmsi"]] if r.time <= t), key=lambda r: r.time)
        in_outage = start <= last.time <= end and distance_m(lat, lon, last.lat, last.lon) <= (
            radius_m
        )
        assert not in_outage, a
