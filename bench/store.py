"""Write throughput of the two stores: positions per second, in the pipeline's batches.

Usage: ``python bench/store.py [--positions 200000] [--batch 5000] [--pg DSN]``

For each store (SQLite in a temp file; PostgreSQL at ``--pg``, else ``SEAWARDEN_TEST_PG_DSN``,
else the DSN ``make postgres`` wrote, in a throw-away schema), writes ``--positions`` position
reports of 500 vessels in ``--batch``-sized batches, one ``commit()`` per batch as the
pipeline does, then upserts the 500 vessels once per batch. Also replays the Solent track
(18,623 records, every position kept) through the real pipeline into each store.

Ends with ``name=value`` lines. Figures, not assertions: never run in tests.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from seawarden.model import PositionReport  # noqa: E402
from seawarden.pipeline.core import CoreConfig  # noqa: E402
from seawarden.pipeline.replay import Replay  # noqa: E402
from seawarden.pipeline.settings import RunConfig  # noqa: E402
from seawarden.store.base import Store, VesselRow  # noqa: E402
from seawarden.store.sqlite import SQLiteStore  # noqa: E402

T0 = datetime(2024, 12, 25, tzinfo=UTC)
SOLENT = (
    Path(os.environ.get("SEAWARDEN_SHARED_DATA", REPO.parent / "shared" / "data"))
    / "tracks/solent/SolentAIS_20160112_130211.csv"
)
N_VESSELS = 500


def reports(n: int) -> list[PositionReport]:
    return [
        PositionReport(
            mmsi=230_000_000 + i % N_VESSELS,
            time=T0 + timedelta(seconds=i // N_VESSELS * 10),
            lat=59.0 + (i % N_VESSELS) * 1e-3 + (i // N_VESSELS) * 1e-5,
            lon=20.0 + (i % N_VESSELS) * 1e-3,
            speed_kn=11.5,
            course_deg=90.0,
            heading_deg=91,
            nav_status=0,
            msg_type=1,
            source="bench",
        )
        for i in range(n)
    ]


def vessels(last: PositionReport) -> list[VesselRow]:
    return [
        VesselRow(mmsi=230_000_000 + k, first_seen=T0, last_seen=last.time, lat=last.lat,
                  lon=last.lon, speed_kn=11.5, course_deg=90.0, imo=None, name=f"V{k}",
                  callsign=None, ship_type=70, flag="FI", mmsi_class="ship", watchlist=None)
        for k in range(N_VESSELS)
    ]  # fmt: skip


def write(store: Store, rows: list[PositionReport], batch: int) -> float:
    start = time.perf_counter()
    for i in range(0, len(rows), batch):
        chunk = rows[i : i + batch]
        store.write_positions(chunk)
        store.upsert_vessels(vessels(chunk[-1]))
        store.commit()
    return time.perf_counter() - start


def replay(store: Store) -> tuple[int, float]:
    cfg = RunConfig(
        areas=REPO / "tests/data/solent_corridor.geojson", core=CoreConfig(positions="full")
    )
    start = time.perf_counter()
    stats = Replay([SOLENT], cfg, store=store).run()
    return stats.records, time.perf_counter() - start


def pg_dsn(arg: str | None) -> str | None:
    dsn = arg or os.environ.get("SEAWARDEN_TEST_PG_DSN")
    file = REPO / ".venv" / "seawarden-test-pg.dsn"
    if not dsn and file.is_file():
        dsn = file.read_text().strip()
    return dsn or None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--positions", type=int, default=200_000)
    ap.add_argument("--batch", type=int, default=5_000)
    ap.add_argument("--pg", default=None, help="PostgreSQL DSN (PostGIS created)")
    args = ap.parse_args()
    rows = reports(args.positions)
    results: dict[str, float | int | str] = {"positions": args.positions, "batch": args.batch}
    with tempfile.TemporaryDirectory() as tmp:
        opener: dict[str, Callable[[str], Store]] = {
            "sqlite": lambda name: SQLiteStore(Path(tmp) / f"{name}.db")
        }
        dsn = pg_dsn(args.pg)
        cleanup: Callable[[], None] = lambda: None  # noqa: E731
        if dsn:
            import psycopg

            from seawarden.store.postgres import PostgresStore

            schema = f"bench_{uuid.uuid4().hex[:8]}"
            with psycopg.connect(dsn, autocommit=True) as conn:
                conn.execute(f"CREATE SCHEMA {schema}")
                results["pg_server"] = str(conn.info.server_version)

            def open_pg(name: str) -> Store:
                with psycopg.connect(dsn, autocommit=True) as conn:
                    conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}_{name}")
                opt = quote(f"-c search_path={schema}_{name},public", safe="")
                return PostgresStore(f"{dsn}{'&' if '?' in dsn else '?'}options={opt}")

            def drop() -> None:
                with psycopg.connect(dsn, autocommit=True) as conn:
                    for name in ("write", "replay"):
                        conn.execute(f"DROP SCHEMA IF EXISTS {schema}_{name} CASCADE")
                    conn.execute(f"DROP SCHEMA {schema} CASCADE")

            opener["postgres"] = open_pg
            cleanup = drop
        else:
            print("no PostgreSQL (make postgres, or --pg DSN): SQLite only", file=sys.stderr)
        try:
            for kind, open_ in opener.items():
                store = open_("write")
                seconds = write(store, rows, args.batch)
                store.close()
                results[f"{kind}_write_s"] = round(seconds, 3)
                results[f"{kind}_positions_per_s"] = round(args.positions / seconds)
                if SOLENT.is_file():
                    store = open_("replay")
                    records, seconds = replay(store)
                    store.close()
                    results[f"{kind}_replay_records_per_s"] = round(records / seconds)
        finally:
            cleanup()
    for name, value in results.items():
        print(f"{name}={value}")


if __name__ == "__main__":
    main()
