"""``seawarden.evaluate``: recall, delay, lead time and false alarms on small worked examples."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from seawarden.errors import ConfigError, InputError
from seawarden.evaluate import evaluate, label_mmsis, vessel_days
from tests.conftest import SHARED_DATA

SOLENT = SHARED_DATA / "tracks" / "solent" / "SolentAIS_20160112_130211.csv"
DAY = "2024-12-25T"


def _label(scenario: str, mmsi: int, expected: str, onset: str, end: str, **kw: Any) -> dict:
    return {
        "scenario": scenario, "mmsi": mmsi, "imo": None, "name": f"V{mmsi}",
        "expected": expected, "min_severity": kw.get("min_severity"),
        "onset": DAY + onset + "Z", "end": DAY + end + "Z", "corridor_ids": [],
        "last_corridor_crossing": kw.get("crossing") and DAY + kw["crossing"] + "Z",
        "incident": None, "seed": 1,
    }  # fmt: skip


def _alert(aid: str, mmsi: int, severity: str, time: str, msg: str = "Alert", rev: int = 1) -> dict:
    return {
        "id": aid, "revision": rev, "msg_type": msg, "mmsi": mmsi, "imo": None, "name": None,
        "flag": None, "severity": severity, "score": 50, "event_time": DAY + time + "Z",
        "lat": 59.9, "lon": 25.9, "area_ids": [], "detectors": ["x"], "reasons": [],
        "next_crossing": None, "watchlist": None,
    }  # fmt: skip


LABELS = [
    _label("anchor_drag_slowdown", 1001, "alert", "10:00:00", "14:00:00",
           min_severity="high", crossing="13:00:00"),
    _label("dark_spell", 1002, "alert", "10:00:00", "10:45:00"),
    _label("anchor_drag_no_slowdown", 1003, "alert", "08:00:00", "12:00:00",
           min_severity="high", crossing="11:00:00"),
    _label("ferry", 2001, "no_alert", "00:00:00", "23:00:00"),
    _label("trawler", 2002, "no_alert", "00:00:00", "23:00:00"),
]  # fmt: skip
ALERTS = [
    _alert("a0", 1001, "high", "09:30:00"),  # before onset: not a detection of the drag
    _alert("a1", 1001, "medium", "10:20:00"),
    _alert("a1", 1001, "high", "10:40:00", "Update", 2),  # first qualifying: delay 40 min
    _alert("a1", 1001, "critical", "11:00:00", "Update", 3),
    _alert("a2", 1002, "high", "10:50:00"),  # after end, inside the 30 min grace
    _alert("a3", 1003, "medium", "09:00:00"),  # below the label's min_severity high
    _alert("a4", 1003, "high", "12:31:00"),  # end + grace is 12:30: too late
    _alert("f1", 2001, "high", "05:00:00"),
    _alert("f1", 2001, "high", "05:10:00", "Update", 2),  # same alert: counted once
    _alert("f2", 2001, "medium", "06:00:00"),
    _alert("c1", 2002, "high", "07:00:00", "Cancel", 2),  # a Cancel never counts
    _alert("b1", 9001, "high", "01:00:00"),
    _alert("b1", 9001, "high", "01:30:00", "Update", 2),
    _alert("b2", 9002, "critical", "02:00:00"),
    _alert("b3", 9003, "medium", "03:00:00"),
    _alert("b4", 9004, "high", "04:00:00", "Cancel", 2),
]


def _write(path: Path, docs: list[dict], extra: list[bytes] = ()) -> Path:  # type: ignore[assignment]
    path.write_bytes(b"".join(orjson.dumps(d) + b"\n" for d in docs) + b"".join(extra))
    return path


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    return _write(tmp_path / "labels.jsonl", LABELS), _write(tmp_path / "alerts.jsonl", ALERTS)


def test_worked_example_at_high(files: tuple[Path, Path]) -> None:
    report = evaluate(*files, severity="high", vessel_days=4.0)
    by = {v.mmsi: v for v in report.vessels}
    assert by[1001].detected
    assert by[1001].delay_s == 2400
    assert by[1001].lead_time_s == 8400
    assert by[1002].detected
    assert by[1002].delay_s == 3000
    assert by[1002].lead_time_s is None
    assert by[1002].threshold == "high"
    assert not by[1003].detected
    assert by[1003].delay_s is None
    assert by[2001].false_alerts == 1
    assert by[2002].false_alerts == 0
    assert report.expected_alerts == 3
    assert report.detected == 2
    assert report.recall == pytest.approx(2 / 3)
    assert report.median_delay_s == 2700
    assert report.median_lead_time_s == 8400
    assert report.no_alert_false_alerts == 1
    assert report.no_alert_vessels == 2
    assert report.background_alerts == 2  # b1 (two revisions) and b2; b3 medium, b4 cancel
    assert report.false_alarms_per_100_vessel_days == pytest.approx(50.0)
    summary = report.summary()
    assert summary["recall"] == pytest.approx(0.6667)
    assert summary["false_alarms_per_100_vessel_days"] == 50.0
    table = report.as_table()
    assert "DETECTED" in table
    assert "missed" in table
    assert "1 FALSE" in table
    assert "0h40m00s" in table
    assert "2h20m00s" in table
    assert orjson.loads(orjson.dumps(report.as_dict()))["vessels"][0]["delay_s"] == 2400


def test_worked_example_at_medium(files: tuple[Path, Path]) -> None:
    report = evaluate(*files, severity="medium", vessel_days=4.0)
    by = {v.mmsi: v for v in report.vessels}
    assert by[1001].delay_s == 2400  # the label's own min_severity (high) still applies
    assert not by[1003].detected  # label min_severity high: the medium alert is not enough
    assert by[1002].detected
    assert by[1002].threshold == "medium"
    assert by[2001].false_alerts == 2
    assert report.background_alerts == 3
    assert report.false_alarms_per_100_vessel_days == pytest.approx(75.0)


def test_label_without_min_severity_uses_the_threshold(tmp_path: Path) -> None:
    labels = _write(tmp_path / "l.jsonl", [_label("x", 1, "alert", "10:00:00", "11:00:00",
                                                   crossing="10:30:00")])  # fmt: skip
    alerts = _write(tmp_path / "a.jsonl", [_alert("z", 1, "low", "10:45:00")])
    assert evaluate(labels, alerts, severity="high").detected == 0
    low = evaluate(labels, alerts, severity="low")
    assert low.detected == 1
    assert low.vessels[0].lead_time_s == -900


def test_no_vessel_days_gives_no_rate(files: tuple[Path, Path]) -> None:
    report = evaluate(*files)
    assert report.false_alarms_per_100_vessel_days is None
    assert report.summary()["false_alarms_per_100_vessel_days"] is None
    assert any("vessel-days" in n for n in report.notes)


def test_malformed_lines_are_counted_not_fatal(tmp_path: Path) -> None:
    bad_labels = [b"{not json\n", b'{"scenario": "x"}\n', b"[1, 2]\n"]
    labels = _write(tmp_path / "l.jsonl", LABELS, bad_labels)
    bad_alerts = [
        b"garbage\n",
        orjson.dumps(_alert("q", 1, "severe", "10:00:00")) + b"\n",  # unknown severity
        orjson.dumps({**_alert("q", 1, "high", "10:00:00"), "event_time": "yesterday"}) + b"\n",
        orjson.dumps({**_alert("q", 1, "high", "10:00:00"), "mmsi": "1"}) + b"\n",
        b"\n",  # blank lines are not malformed
    ]
    alerts = _write(tmp_path / "a.jsonl", ALERTS, bad_alerts)
    report = evaluate(labels, alerts, vessel_days=4.0)
    assert report.malformed_labels == 3
    assert report.malformed_label_lines == (6, 7, 8)
    assert report.malformed_alerts == 4
    assert report.malformed_alert_lines == (17, 18, 19, 20)
    assert report.detected == 2  # the good lines still count
    assert "malformed lines skipped" in report.as_table()


def test_empty_alerts_file_is_zero_recall(tmp_path: Path) -> None:
    labels = _write(tmp_path / "l.jsonl", LABELS)
    alerts = tmp_path / "a.jsonl"
    alerts.write_bytes(b"")
    report = evaluate(labels, alerts, vessel_days=1.0)
    assert report.recall == 0.0
    assert report.background_alerts == 0
    assert report.false_alarms_per_100_vessel_days == 0.0
    assert any("no alerts" in n for n in report.notes)


def test_empty_or_missing_labels_are_clear_errors(tmp_path: Path) -> None:
    alerts = _write(tmp_path / "a.jsonl", ALERTS)
    empty = tmp_path / "l.jsonl"
    empty.write_bytes(b"\n")
    with pytest.raises(InputError, match="no usable label"):
        evaluate(empty, alerts)
    junk = tmp_path / "junk.jsonl"
    junk.write_bytes(b"nope\n")
    with pytest.raises(InputError, match="1 malformed"):
        evaluate(junk, alerts)
    with pytest.raises(InputError, match="no such labels file"):
        evaluate(tmp_path / "missing.jsonl", alerts)
    with pytest.raises(InputError, match="no such alerts file"):
        evaluate(_write(tmp_path / "ok.jsonl", LABELS), tmp_path / "missing.jsonl")


def test_bad_arguments_are_config_errors(files: tuple[Path, Path]) -> None:
    with pytest.raises(ConfigError):
        evaluate(*files, severity="severe")
    with pytest.raises(ConfigError):
        evaluate(*files, vessel_days=0.0)


def test_vessel_days_min_one_hour_and_exclusions(tmp_path: Path) -> None:
    csv = tmp_path / "t.csv"
    csv.write_text(
        "time,mmsi,lat,lon,sog,cog\n"
        "2024-12-25 00:00:00,111111111,59.9,25.9,10,90\n"
        "2024-12-25 12:00:00,111111111,59.9,26.0,10,90\n"  # 12 h
        "2024-12-25 00:00:00,222222222,59.8,25.9,10,90\n"
        "2024-12-25 00:10:00,222222222,59.8,25.95,10,90\n"  # 10 min -> counted as 1 h
        "2024-12-25 00:00:00,333333333,59.7,25.9,10,90\n"  # one report -> 1 h
    )
    assert vessel_days(csv) == pytest.approx((12 + 1 + 1) / 24)
    assert vessel_days(csv, exclude={111111111}) == pytest.approx(2 / 24)


def test_vessel_days_on_real_solent_track() -> None:
    days = vessel_days(SOLENT)
    # 91 vessels over 84 minutes, each counted for at least an hour
    assert 91 / 24 <= days <= 91 * 84 / 60 / 24


def test_label_mmsis(files: tuple[Path, Path]) -> None:
    assert label_mmsis(files[0]) == {1001, 1002, 1003, 2001, 2002}
