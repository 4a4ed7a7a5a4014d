"""``learn`` on an archive: the Dask engine gives the very model the local engine gives."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from seawarden.cli import app
from seawarden.errors import ConfigError
from seawarden.risk.normalcy_dask import learn_any
from seawarden.risk.normalcy_fit import learn
from tests.backfill.conftest import Scenario

runner = CliRunner()


def test_dask_learn_equals_local_learn(scenario: Scenario, client: Any, tmp_path: Path) -> None:
    local, dask2, dask3 = tmp_path / "l.json.gz", tmp_path / "d2.json.gz", tmp_path / "d3.json.gz"
    model, st = learn_any([scenario.archive], local)
    learn_any([scenario.archive], dask2, engine="dask", partitions=2, client=client)
    learn_any([scenario.archive], dask3, engine="dask", partitions=3, client=client)
    assert st.positions > 20_000
    assert model.entries
    assert model.cells
    assert dask2.read_bytes() == local.read_bytes()
    assert dask3.read_bytes() == local.read_bytes()


def test_archive_model_matches_the_model_of_the_raw_log(scenario: Scenario, tmp_path: Path) -> None:
    """The archive keeps every field the fit uses: the same counts as learning from NMEA
    (the saved file differs only in ``created_from.inputs``)."""
    from_archive, _ = learn_any([scenario.archive], None)
    from_log, _ = learn([scenario.nmea], None)
    assert from_archive.entries.keys() == from_log.entries.keys()
    assert from_archive.cells == from_log.cells
    assert from_archive.knee == from_log.knee


def test_cli_learn_detects_an_archive(scenario: Scenario, tmp_path: Path) -> None:
    out = tmp_path / "m.json.gz"
    result = runner.invoke(app, ["learn", str(scenario.archive), "--out", str(out)])
    assert result.exit_code == 0, result.output
    expected = tmp_path / "e.json.gz"
    learn_any([scenario.archive], expected)
    assert out.read_bytes() == expected.read_bytes()


def test_dask_learn_refuses_raw_files(scenario: Scenario, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="archive directories only"):
        learn_any([scenario.nmea], None, engine="dask")
    with pytest.raises(ConfigError, match="no such file"):
        learn_any([tmp_path / "nope"], None)
    result = runner.invoke(
        app, ["learn", str(scenario.archive), "--out", "x.gz", "--engine", "dask",
              "--scheduler", "nope"]
    )  # fmt: skip
    assert result.exit_code != 0
    assert isinstance(result.exception, ConfigError)


def test_cli_learn_dask_on_a_running_scheduler(
    scenario: Scenario, client: Any, tmp_path: Path
) -> None:
    out, expected = tmp_path / "m.json.gz", tmp_path / "e.json.gz"
    result = runner.invoke(
        app,
        ["learn", str(scenario.archive), "--out", str(out), "--engine", "dask",
         "--scheduler", client.scheduler.address, "--partitions", "2"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    learn_any([scenario.archive], expected)
    assert out.read_bytes() == expected.read_bytes()
