"""Fixtures of the bus tests: a real ``nats-server`` with JetStream, and the scenario input.

The input is a simulated STS meeting (two tankers drifting alongside each other: an
encounter between two vessels) and an Eagle S-style anchor drag, written over 84 minutes of
real Solent AIS (Stone Soup demo data, MIT; shifted in time only, see docs/scenarios.md).
With seed 1 the two tankers fall in different partitions of 2 (518998167 in 1, 538229350
in 0, the dragging ship in 0), so the encounter is found only through the replicated
context. A single-process replay raises ~45 alert revisions on five alerts in ~8 s.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from seawarden.bus.server import NatsServer
from seawarden.sim import simulate
from tests.conftest import REPO, SHARED_DATA

SOLENT = SHARED_DATA / "tracks/solent/SolentAIS_20160112_130211.csv"
SCENARIOS = ["sts_meeting", "anchor_drag_slowdown"]

# The pipeline options of every worker and of the reference replay (bus/cli.worker_config).
PIPELINE_ARGS: dict[str, Path] = {
    "areas": REPO / "config/areas.geojson",
    "watchlist": REPO / "config/watchlist.csv",
    "detectors": REPO / "config/detectors.yaml",
    "risk": REPO / "config/risk.yaml",
}

needs_solent = pytest.mark.skipif(
    not SOLENT.is_file(), reason="needs ../shared/data (real Solent AIS)"
)


@pytest.fixture
def nats_server() -> Iterator[NatsServer]:
    with NatsServer() as server:
        yield server


@pytest.fixture(scope="session")
def scenario_nmea(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not SOLENT.is_file():
        pytest.skip("needs ../shared/data (real Solent AIS)")
    out = tmp_path_factory.mktemp("bus-input") / "sts-drag-solent.nmea"
    simulate(out, out.with_suffix(".labels.jsonl"), scenarios=SCENARIOS, background=SOLENT, seed=1)
    return out
