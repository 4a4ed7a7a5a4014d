"""One real replay for the report tests: a simulated anchor drag over real Baltic traffic.

The background is real AIS (Baltic cargo ships, DMA, 1-2 Nov 2020, shifted in time only;
see tests/scenarios/test_end_to_end.py); the dragging ship is ``anchor_drag_slowdown``
(Eagle S pattern). ``seawarden.sim.simulate`` writes tagged NMEA (type 1 positions and
two-part type 5 statics), ``Replay`` writes the store the report reads.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

import pytest

from seawarden.pipeline.replay import Replay
from seawarden.pipeline.settings import RunConfig
from seawarden.sim import simulate
from seawarden.store.sqlite import SQLiteStore
from tests.conftest import REPO, SHARED_DATA

BALTIC = SHARED_DATA / "tracks/baltic-cargo-2020/baltic_cargo_20201101.csv"


@dataclass(frozen=True)
class Replayed:
    nmea: Path
    store: Path
    alert_id: str  # the drag vessel's alert
    mmsi: int

    def lines(self) -> dict[int, bytes]:
        """Input lines by 1-based number, exactly as in the file (line ending removed)."""
        data = self.nmea.read_bytes().split(b"\n")
        return {i: line.rstrip(b"\r") for i, line in enumerate(data, 1)}


def config() -> RunConfig:
    return RunConfig(
        areas=REPO / "config/areas.geojson", watchlists=(REPO / "config/watchlist.csv",)
    )


def replay_into(nmea: Path, db: Path) -> None:
    store = SQLiteStore(db)
    try:
        Replay([nmea], config(), store=store).run()
    finally:
        store.close()


@pytest.fixture(scope="session")
def replayed(tmp_path_factory: pytest.TempPathFactory) -> Replayed:
    if not BALTIC.is_file():
        pytest.skip(f"shared data missing: {BALTIC}")
    d = tmp_path_factory.mktemp("report")
    nmea = d / "sim.nmea"
    labels = simulate(
        nmea, d / "labels.jsonl", scenarios=["anchor_drag_slowdown"], background=BALTIC, seed=11
    )
    mmsi = next(lab.mmsi for lab in labels if lab.scenario == "anchor_drag_slowdown")
    db = d / "w.db"
    replay_into(nmea, db)
    conn = sqlite3.connect(db)
    row = conn.execute(
        "SELECT id FROM alerts WHERE mmsi = ? AND revision = 1 ORDER BY time", (mmsi,)
    ).fetchone()
    conn.close()
    assert row is not None, "the simulated drag must raise an alert"
    return Replayed(nmea=nmea, store=db, alert_id=str(row[0]), mmsi=mmsi)
