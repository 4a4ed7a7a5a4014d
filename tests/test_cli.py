"""The ``seawarden`` command end to end (typer's runner, real files)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from seawarden.cli import app
from tests.conftest import REPO, SHARED_DATA

AISDB = SHARED_DATA / "nmea/aisdb/test_data_20211101.nm4"
SOLENT = SHARED_DATA / "tracks/solent/SolentAIS_20160112_130211.csv"
runner = CliRunner()


def test_replay_writes_events_store_and_summary(tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    rejects = tmp_path / "rejects.jsonl"
    result = runner.invoke(
        app,
        [
            "replay",
            str(SOLENT),
            "--areas",
            str(REPO / "tests/data/solent_corridor.geojson"),
            "--watchlist",
            str(REPO / "config/watchlist.csv"),
            "--events-out",
            str(events),
            "--rejects-out",
            str(rejects),
            "--store",
            str(tmp_path / "w.db"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "area.crossing" in result.output
    rows = [json.loads(line) for line in events.read_text().splitlines()]
    assert {r["kind"] for r in rows} >= {"area.enter", "area.exit", "area.crossing"}
    assert all(r["time"].endswith("Z") for r in rows)
    rejected = [json.loads(line) for line in rejects.read_text().splitlines()]
    assert all(r["reason"] == "duplicate" for r in rejected)


def test_replay_of_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["replay", str(tmp_path / "nope.nmea")])
    assert result.exit_code != 0
    assert "no such file" in str(result.exception) or "no such file" in result.output


def test_resume_needs_a_store() -> None:
    result = runner.invoke(app, ["replay", str(AISDB), "--resume"])
    assert result.exit_code == 2


def test_strict_reports_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.nmea"
    bad.write_text("!AIVDM,1,1,,A,15MrVH0000KH<:V:NtBLoqFP2H9:,0*00\n")
    result = runner.invoke(app, ["replay", str(bad), "--strict", "-q"])
    assert result.exit_code != 0
    assert "bad.nmea:1" in str(result.exception)


def test_demo_runs_briefly(tmp_path: Path) -> None:
    events = tmp_path / "demo.jsonl"
    result = runner.invoke(
        app,
        [
            "run",
            "--demo",
            "--speed",
            "5000",
            "--duration-s",
            "8",
            "--store",
            str(tmp_path / "demo.db"),
            "--events-out",
            str(events),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "demo:" in result.output
    kinds = {json.loads(line)["kind"] for line in events.read_text().splitlines()}
    assert "area.enter" in kinds
