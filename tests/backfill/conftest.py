"""Shared inputs of the backfill tests: one archive of a scenario over real traffic, and
one real Dask ``LocalCluster`` (2 worker processes), both built once for the package.

No AIS track of a ship-to-ship meeting near a cable is public: the two tankers are built
by ``seawarden.sim`` from the scenario facts (docs/scenarios.md) and laid over real Solent
traffic (Stone Soup demo data, 91 vessels, 84 min, shifted in time only), with a spoofed
position jump as a second alerting vessel.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from seawarden.archive.cli import archive_file
from seawarden.pipeline.settings import RunConfig
from seawarden.sim import simulate
from tests.conftest import REPO, SHARED_DATA

SOLENT = SHARED_DATA / "tracks/solent/SolentAIS_20160112_130211.csv"
SCENARIOS = ["sts_meeting:watchlisted=true", "spoofed_jump"]


@dataclass(frozen=True)
class Scenario:
    nmea: Path
    labels: Path
    archive: Path
    config: RunConfig


@pytest.fixture(scope="package")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    tmp = tmp_path_factory.mktemp("backfill")
    nmea, labels = tmp / "sim.nmea", tmp / "labels.jsonl"
    simulate(nmea, labels, scenarios=SCENARIOS, background=SOLENT, seed=11)
    result, rejected = archive_file(nmea, tmp / "archive")
    # Nothing refused: the archive holds every decoded report, so a backfill can match a replay.
    assert result.rejected == 0
    assert not rejected
    config = RunConfig(
        areas=REPO / "config/areas.geojson", watchlists=(REPO / "config/watchlist.csv",)
    )
    return Scenario(nmea=nmea, labels=labels, archive=tmp / "archive", config=config)


@pytest.fixture(scope="package")
def client() -> Iterator[object]:
    """A real 2-process LocalCluster, started once for all backfill tests."""
    from seawarden.backfill.run import dask_client

    with dask_client("local", 2) as c:
        yield c
