"""Backfill: sequential over an archive == Dask with 2 partitions == a replay of the records.

The Dask runs use the package's real 2-worker LocalCluster; the two meeting tankers fall in
different partitions of 2 (asserted), so their encounter is a cross-partition finding.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from seawarden.backfill.run import absolute_paths, backfill, check_scheduler, dask_client
from seawarden.cli import app
from seawarden.errors import ConfigError, InputError
from seawarden.pipeline.partition import partition_of
from seawarden.pipeline.replay import Replay
from seawarden.pipeline.settings import RunConfig
from tests.backfill.conftest import Scenario

runner = CliRunner()


@pytest.fixture(scope="module")
def sequential(scenario: Scenario, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("seq")
    out = {"events": tmp / "events.jsonl", "alerts": tmp / "alerts.jsonl"}
    backfill(scenario.archive, scenario.config, events_out=out["events"], alerts_out=out["alerts"])
    return out


def _rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_the_input_has_alerts_and_a_two_vessel_encounter(
    scenario: Scenario, sequential: dict[str, Path]
) -> None:
    events = _rows(sequential["events"])
    alerts = _rows(sequential["alerts"])
    sts = [json.loads(x) for x in scenario.labels.read_text().splitlines()]
    tankers = {lb["mmsi"] for lb in sts if lb["scenario"] == "sts_meeting"}
    assert len(tankers) == 2
    assert {partition_of(m, 2) for m in tankers} == {0, 1}  # a cross-partition meeting
    met = {(e["mmsi"], e["attrs"]["partner_mmsi"]) for e in events if e["kind"] == "encounter"}
    assert met
    assert all(set(pair) == tankers for pair in met), met
    assert {a["mmsi"] for a in alerts} & tankers
    assert len({a["mmsi"] for a in alerts}) >= 2


def test_dask_two_partitions_equals_sequential_byte_for_byte(
    scenario: Scenario, sequential: dict[str, Path], client: Any, tmp_path: Path
) -> None:
    ev, al = tmp_path / "events.jsonl", tmp_path / "alerts.jsonl"
    stats = backfill(
        scenario.archive,
        scenario.config,
        engine="dask",
        partitions=2,
        client=client,
        events_out=ev,
        alerts_out=al,
    )
    assert stats.workers == 2
    assert len(stats.task_s) == 2
    assert sum(stats.alerts.values()) > 0
    assert ev.read_bytes() == sequential["events"].read_bytes()
    assert al.read_bytes() == sequential["alerts"].read_bytes()


def _no_lines(value: Any) -> Any:
    """Evidence cites input line numbers, which the archive does not keep."""
    if isinstance(value, dict):
        return {k: 0 if k == "line_no" else _no_lines(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_no_lines(v) for v in value]
    return value


def _canonical(rows: list[dict[str, Any]]) -> list[str]:
    return sorted(json.dumps(_no_lines(r), sort_keys=True) for r in rows)


def test_sequential_backfill_equals_replay_of_the_same_records(
    scenario: Scenario, sequential: dict[str, Path], tmp_path: Path
) -> None:
    ev, al = tmp_path / "events.jsonl", tmp_path / "alerts.jsonl"
    stats = Replay([scenario.nmea], scenario.config, events_out=ev, alerts_out=al).run()
    assert stats.rejections.get("too_late", 0) == 0  # else the archive would hold more
    assert _canonical(_rows(al)) == _canonical(_rows(sequential["alerts"]))
    assert _canonical(_rows(ev)) == _canonical(_rows(sequential["events"]))
    # the only difference: evidence line numbers (the replay's are real, the archive's 0)
    assert sorted(ev.read_text().splitlines()) != sorted(
        sequential["events"].read_text().splitlines()
    )


def test_cli_backfill_sequential_time_range(scenario: Scenario, tmp_path: Path) -> None:
    """The command (its options built by replay's ``_config``) over the first 30 minutes
    gives what the API gives for the same range."""
    ev, al = tmp_path / "e.jsonl", tmp_path / "a.jsonl"
    ev2, al2 = tmp_path / "e2.jsonl", tmp_path / "a2.jsonl"
    start, end = "2024-12-24T00:00:00Z", "2024-12-24T00:30:00Z"
    result = runner.invoke(
        app,
        [
            "backfill",
            str(scenario.archive),
            "--areas",
            str(scenario.config.areas),
            *(a for w in scenario.config.watchlists for a in ("--watchlist", str(w))),
            "--start",
            start,
            "--end",
            end,
            "--events-out",
            str(ev),
            "--alerts-out",
            str(al),
        ],
    )
    assert result.exit_code == 0, result.output
    stats = backfill(
        scenario.archive,
        scenario.config,
        start=datetime.fromisoformat(start),
        end=datetime.fromisoformat(end),
        events_out=ev2,
        alerts_out=al2,
    )
    assert 0 < stats.records < 15_000
    assert ev.read_bytes() == ev2.read_bytes()
    assert ev.read_bytes()
    assert al.read_bytes() == al2.read_bytes()


def test_missing_archive_is_an_input_error(scenario: Scenario, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such archive"):
        backfill(tmp_path / "nope", scenario.config)
    result = runner.invoke(app, ["backfill", str(tmp_path / "nope"), "-q"])
    assert result.exit_code != 0
    assert isinstance(result.exception, InputError)


@pytest.mark.parametrize("bad", ["tcp://", "http://host:8786", "host:8786", "tcp://h:port"])
def test_bad_scheduler_url_is_a_config_error(bad: str, scenario: Scenario) -> None:
    with pytest.raises(ConfigError, match="--scheduler"):
        check_scheduler(bad)
    with pytest.raises(ConfigError, match="--scheduler"):
        backfill(scenario.archive, scenario.config, engine="dask", scheduler=bad)


def test_unreachable_scheduler_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="cannot reach"):  # noqa: SIM117
        with dask_client("tcp://127.0.0.1:9", timeout_s=1.0):
            pass


def test_dask_not_installed_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    # a None entry in sys.modules makes `import distributed` raise ImportError
    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(ConfigError, match="'dask' extra"):  # noqa: SIM117
        with dask_client("local", 1):
            pass


def test_cli_dask_on_a_running_scheduler(
    scenario: Scenario, sequential: dict[str, Path], client: Any, tmp_path: Path
) -> None:
    """``--scheduler tcp://…`` connects to an existing cluster (the package's)."""
    address = client.scheduler.address
    assert address.startswith("tcp://")
    ev, al = tmp_path / "e.jsonl", tmp_path / "a.jsonl"
    result = runner.invoke(
        app,
        [
            "backfill",
            str(scenario.archive),
            "--engine",
            "dask",
            "--scheduler",
            address,
            "--partitions",
            "3",
            "--areas",
            str(scenario.config.areas),
            *(a for w in scenario.config.watchlists for a in ("--watchlist", str(w))),
            "--events-out",
            str(ev),
            "--alerts-out",
            str(al),
            "-q",
        ],
    )
    assert result.exit_code == 0, result.output
    assert ev.read_bytes() == sequential["events"].read_bytes()
    assert al.read_bytes() == sequential["alerts"].read_bytes()


def test_spilled_outputs_merge_to_the_same_files(
    scenario: Scenario, sequential: dict[str, Path], client: Any, tmp_path: Path
) -> None:
    """With a spill directory the tasks write their rows to files, merged by streaming."""
    spill = tmp_path / "spill"
    ev, al = tmp_path / "e.jsonl", tmp_path / "a.jsonl"
    backfill(
        scenario.archive,
        scenario.config,
        engine="dask",
        partitions=2,
        client=client,
        spill_dir=spill,
        events_out=ev,
        alerts_out=al,
    )
    assert ev.read_bytes() == sequential["events"].read_bytes()
    assert al.read_bytes() == sequential["alerts"].read_bytes()
    assert list(spill.iterdir()) == []  # merged, then deleted


def test_tasks_get_absolute_paths(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A worker's working directory is not the client's: relative inputs are resolved."""
    monkeypatch.chdir(tmp_path)
    cfg = absolute_paths(
        RunConfig(areas=Path("a.geojson"), watchlists=(Path("w.csv"),), registry=(Path("r"),))
    )
    assert cfg.areas == tmp_path / "a.geojson"
    assert cfg.watchlists == (tmp_path / "w.csv",)
    assert cfg.registry == (tmp_path / "r",)
    assert cfg.model is None
