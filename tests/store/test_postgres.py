"""The PostgreSQL + PostGIS store on a real server (``make postgres``; see conftest.py).

The behaviour shared with SQLite is in test_contract.py (run on both). Here: a replay of real
traffic (the Solent track) gives the same vessels, events, alerts, identity history and
tracks in PostgreSQL as in SQLite; a replay stopped twice resumes from its checkpoint on
PostgreSQL to the same output; the spatial reads answer like the shapely fallback and their
plans use the GiST and (mmsi, time) indexes; migrations run from an empty schema and a newer
unknown revision is refused; bad DSNs and unreachable servers give a StoreError, not a
traceback, and never print a password.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import orjson
import psycopg
import pytest
from typer.testing import CliRunner

from seawarden.cli import app
from seawarden.errors import StoreError
from seawarden.pipeline.core import CoreConfig
from seawarden.pipeline.replay import Replay
from seawarden.pipeline.settings import RunConfig
from seawarden.store import display_name, open_store
from seawarden.store.base import VesselRow
from seawarden.store.postgres import (
    POSITIONS_IN_AREA_SQL,
    TRACK_SQL,
    VESSELS_IN_AREA_SQL,
    PostgresStore,
    redact_dsn,
)
from seawarden.store.spatial import area_wkt, parse_area, track, vessels_in_area
from seawarden.store.sqlite import SQLiteStore
from tests.conftest import REPO, SHARED_DATA
from tests.factories import T0
from tests.store.conftest import with_schema

SOLENT = SHARED_DATA / "tracks/solent/SolentAIS_20160112_130211.csv"
AISDB = SHARED_DATA / "nmea/aisdb/test_data_20211101.nm4"
CORRIDOR = REPO / "tests/data/solent_corridor.geojson"
WATCHLIST = REPO / "config/watchlist.csv"
# The eastern Solent and Portsmouth harbour approaches (lon/lat), where the ferries run.
EAST_SOLENT = "POLYGON((-1.20 50.72, -1.00 50.72, -1.00 50.82, -1.20 50.82, -1.20 50.72))"


def config(**kw: object) -> RunConfig:
    return RunConfig(areas=CORRIDOR, watchlists=(WATCHLIST,), **kw)  # type: ignore[arg-type]


def need(path: Path) -> None:
    if not path.is_file():
        pytest.skip(f"shared data missing: {path}")


@dataclass
class Replayed:
    pg: PostgresStore
    sqlite: SQLiteStore


@pytest.fixture(scope="module")
def replayed(pg_base_dsn: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Replayed]:
    """The Solent track replayed, every position kept, into PostgreSQL and into SQLite."""
    need(SOLENT)
    schema = f"m_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_base_dsn, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    pg = PostgresStore(with_schema(pg_base_dsn, schema))
    lite = SQLiteStore(tmp_path_factory.mktemp("replayed") / "w.db")
    cfg = config(core=CoreConfig(positions="full"))
    try:
        for store in (pg, lite):
            Replay([SOLENT], cfg, store=store).run()
        pg.connection.execute("ANALYZE")
        pg.commit()
        yield Replayed(pg=pg, sqlite=lite)
    finally:
        pg.close()
        lite.close()
        with psycopg.connect(pg_base_dsn, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


def test_replay_gives_the_same_store_as_sqlite(replayed: Replayed) -> None:
    pg, lite = replayed.pg, replayed.sqlite
    vessels = pg.vessels()
    assert len(vessels) == 91
    assert vessels == lite.vessels()
    events = pg.events()
    assert len(events) > 200
    assert events == lite.events()
    assert {e.kind for e in events} >= {"area.crossing", "area.enter", "course_speed"}
    assert pg.alerts() == lite.alerts()
    assert len(pg.alerts()) >= 1
    for v in vessels[::10]:
        assert pg.identity_history(v.mmsi) == lite.identity_history(v.mmsi)
        t = pg.track(v.mmsi, v.first_seen, v.last_seen)
        assert t == lite.track(v.mmsi, v.first_seen, v.last_seen)
        assert t
    (run,) = pg.runs()
    (lite_run,) = lite.runs()
    assert run["status"] == lite_run["status"] == "complete"
    for key in ("command", "inputs", "config", "versions"):  # run_id is random
        assert run[key] == lite_run[key], key
    timing = {"elapsed_s", "lines_per_s"}
    stats, lite_stats = orjson.loads(run["stats"]), orjson.loads(lite_run["stats"])
    assert {k: v for k, v in stats.items() if k not in timing} == {
        k: v for k, v in lite_stats.items() if k not in timing
    }
    assert stats["records"] > 18_000


def test_vessels_in_area_match_the_shapely_answer(replayed: Replayed) -> None:
    pg, lite = replayed.pg, replayed.sqlite
    inside = vessels_in_area(pg, EAST_SOLENT)
    assert 5 <= len(inside) < 91
    assert inside == vessels_in_area(lite, EAST_SOLENT)
    assert all(
        v.lon is not None and -1.20 <= v.lon <= -1.00 and 50.72 <= (v.lat or 0) <= 50.82
        for v in inside
    )
    # GeoJSON (a Feature) gives the same answer as WKT; since and limit apply in the database
    feature = {"type": "Feature", "geometry": parse_area(EAST_SOLENT).__geo_interface__}
    assert vessels_in_area(pg, feature) == inside
    cut = sorted(v.last_seen for v in inside)[len(inside) // 2]
    recent = vessels_in_area(pg, EAST_SOLENT, since=cut)
    assert (
        recent
        == [v for v in inside if v.last_seen >= cut]
        == vessels_in_area(lite, EAST_SOLENT, since=cut)
    )
    assert vessels_in_area(pg, EAST_SOLENT, limit=2) == inside[:2]


def test_positions_in_area_and_track_read_the_database(replayed: Replayed) -> None:
    pg = replayed.pg
    v = max(pg.vessels(), key=lambda r: r.last_seen - r.first_seen)
    full = track(pg, v.mmsi, v.first_seen, v.last_seen)
    assert len(full) > 20
    mid = full[len(full) // 2].time
    assert track(pg, v.mmsi, mid, v.last_seen) == [p for p in full if p.time >= mid]
    with pytest.raises(StoreError, match="before start"):
        track(pg, v.mmsi, v.last_seen, v.first_seen)
    start, end = min(p.time for p in full), max(p.time for p in full)
    got = pg.positions_in_area(area_wkt(EAST_SOLENT), start, end)
    assert got
    assert all(-1.20 <= p.lon <= -1.00 and 50.72 <= p.lat <= 50.82 for p in got)
    assert all(start <= p.time <= end for p in got)


def plan(store: PostgresStore, sql: str, params: dict[str, object]) -> str:
    rows = store.connection.execute("EXPLAIN " + sql, params).fetchall()
    store.commit()
    return "\n".join(r[0] for r in rows)


def test_spatial_and_track_plans_use_the_indexes(replayed: Replayed) -> None:
    pg = replayed.pg
    # the (mmsi, time) B-tree for a track (18,000 positions in the table)
    v = pg.vessels()[0]
    track_plan = plan(pg, TRACK_SQL, {"mmsi": v.mmsi, "start": v.first_seen, "end": v.last_seen})
    assert "positions_mmsi_time" in track_plan, track_plan
    assert "Seq Scan" not in track_plan, track_plan
    # the GiST on positions.geog for a small area over the whole day
    small = area_wkt("POLYGON((-1.11 50.78, -1.10 50.78, -1.10 50.79, -1.11 50.79, -1.11 50.78))")
    area_plan = plan(
        pg,
        POSITIONS_IN_AREA_SQL,
        {"area": small, "start": T0 - timedelta(days=9000), "end": T0, "limit": 1000},
    )
    assert "positions_geog" in area_plan, area_plan


def grid_vessel(i: int) -> VesselRow:
    return VesselRow(
        mmsi=200_000_000 + i,
        first_seen=T0,
        last_seen=T0 + timedelta(seconds=i),
        lat=50.0 + (i % 200) * 0.07,
        lon=-4.0 + (i // 200) * 0.3,
        speed_kn=None,
        course_deg=None,
        imo=None,
        name=None,
        callsign=None,
        ship_type=None,
        flag=None,
        mmsi_class=None,
        watchlist=None,
    )


def test_vessels_in_area_plan_uses_the_gist_index(pg_dsn: str) -> None:
    store = PostgresStore(pg_dsn)
    try:
        # 20,000 vessels spread over the North Sea and Baltic: enough for the planner to
        # prefer the index to a scan (91 vessels would rightly be scanned)
        rows = [grid_vessel(i) for i in range(20_000)]
        store.upsert_vessels(rows)
        store.commit()
        store.connection.execute("ANALYZE vessels")
        store.commit()
        small = area_wkt("POLYGON((1 55, 1.5 55, 1.5 55.5, 1 55.5, 1 55))")
        text = plan(store, VESSELS_IN_AREA_SQL, {"area": small, "since": None, "limit": 1000})
        assert "vessels_geog" in text, text
        got = vessels_in_area(store, small)
        expected = [r for r in rows if 1 <= (r.lon or 0) <= 1.5 and 55 <= (r.lat or 0) <= 55.5]
        assert [v.mmsi for v in got] == [r.mmsi for r in expected]
        assert expected
    finally:
        store.close()


@pytest.mark.slow
def test_resume_from_a_checkpoint_on_postgres(pg_dsn: str, tmp_path: Path) -> None:
    need(SOLENT)
    need(AISDB)
    inputs = [SOLENT, AISDB]  # 2016 then 2021: in time order across files
    expected_out = tmp_path / "full.jsonl"
    full = Replay(inputs, config(), events_out=expected_out)
    full.run()
    out = tmp_path / "resumed.jsonl"
    for stop in (9_000, 18_900, None):  # stop in the CSV, in the NMEA file, then finish
        store = PostgresStore(pg_dsn)
        run = Replay(inputs, config(), store=store, events_out=out, resume=True,
                     checkpoint_every=997, stop_after_lines=stop)  # fmt: skip
        stats = run.run()
        store.close()
        assert run.completed == (stop is None)
        if stop is not None:
            assert stats.records < full.stats.records
    assert stats.resumed_from is not None
    assert out.read_bytes() == expected_out.read_bytes()
    assert stats.records == full.stats.records
    store = PostgresStore(pg_dsn)
    try:
        n_events = sum(full.stats.events.values())
        assert len({(e.id, e.phase, e.time) for e in store.events()}) == n_events
        assert [r["status"] for r in store.runs()].count("complete") == 1
    finally:
        store.close()


def migration_head() -> str:
    """The one head of the revision chain (several heads would be a broken chain)."""
    from alembic.script import ScriptDirectory

    from seawarden.store.postgres import MIGRATIONS

    heads = ScriptDirectory(str(MIGRATIONS)).get_heads()
    assert len(heads) == 1, f"the migrations have several heads: {heads}"
    assert int(heads[0]) >= 2
    return str(heads[0])


def versions(dsn: str) -> list[str]:
    with psycopg.connect(dsn) as conn:
        return [r[0] for r in conn.execute("SELECT version_num FROM alembic_version")]


def test_migrations_run_from_empty_and_refuse_an_unknown_newer_revision(pg_dsn: str) -> None:
    with psycopg.connect(pg_dsn) as conn:
        schema = conn.execute("SELECT current_schema()").fetchone()
        tables = conn.execute(
            "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()"
        ).fetchone()
    assert schema is not None
    assert tables == (0,)
    PostgresStore(pg_dsn).close()
    assert versions(pg_dsn) == [migration_head()]
    with psycopg.connect(pg_dsn) as conn:
        names = {
            r[0]
            for r in conn.execute(
                "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()"
            )
        }
    assert {"positions_mmsi_time", "positions_geog", "vessels_geog"} <= names
    PostgresStore(pg_dsn).close()  # at head: opens without migrating
    assert versions(pg_dsn) == [migration_head()]
    with psycopg.connect(pg_dsn) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '0099_from_the_future'")
    newest = rf"0099_from_the_future is newer .* newest is {migration_head()}"
    with pytest.raises(StoreError, match=newest):
        PostgresStore(pg_dsn)
    assert versions(pg_dsn) == ["0099_from_the_future"]  # refused, not touched


def test_a_password_in_the_dsn_is_refused_and_never_shown(pg_base_dsn: str) -> None:
    dsn = pg_base_dsn.replace("://", "://seawarden:s3cret-pw@", 1).replace("seawarden@", "", 1)
    assert "s3cret-pw" in dsn
    with pytest.raises(StoreError, match="PGPASSWORD") as err:
        PostgresStore(dsn)
    assert "s3cret-pw" not in str(err.value)
    assert "s3cret-pw" not in redact_dsn(dsn)
    assert "s3cret-pw" not in display_name(dsn)
    assert redact_dsn("host=db.example port=5433 dbname=sw user=ops password=x") == (
        "postgresql://ops@db.example:5433/sw"
    )


@pytest.mark.parametrize(
    ("dsn", "message"),
    [
        ("postgresql://seawarden@127.0.0.1:1/seawarden_test", r"cannot open.*(refused|connect)"),
        ("postgresql://seawarden@[::1/x", r"not a valid PostgreSQL DSN"),
        ("postgresql://seawarden@127.0.0.1/x?frobnicate=1", r"not a valid PostgreSQL DSN"),
        ("postgresql://seawarden@127.0.0.1/x?sslmode=sometimes", r"cannot open|not a valid"),
    ],
)
def test_bad_dsns_and_unreachable_servers_are_store_errors(dsn: str, message: str) -> None:
    start = time.monotonic()
    with pytest.raises(StoreError, match=message):
        open_store(dsn)
    assert time.monotonic() - start < 15  # connect_timeout, not a hang


def test_a_database_that_does_not_exist_is_a_store_error(pg_base_dsn: str) -> None:
    dsn = pg_base_dsn.rsplit("/", 1)[0] + "/no_such_database_here"
    with pytest.raises(StoreError, match=r"no_such_database_here.*does not exist"):
        PostgresStore(dsn)


def test_cli_replays_into_postgres_and_reports_bad_dsns_cleanly(pg_dsn: str) -> None:
    need(AISDB)
    runner = CliRunner()
    result = runner.invoke(app, ["replay", str(AISDB), "--store", pg_dsn, "-q"])
    assert result.exit_code == 0, result.output
    store = open_store(pg_dsn)
    try:
        assert isinstance(store, PostgresStore)
        assert len(store.vessels()) > 10
        assert store.runs()[0]["status"] == "complete"
    finally:
        store.close()
    bad = "postgresql://ops:hunter2@127.0.0.1:1/seawarden"
    result = runner.invoke(app, ["replay", str(AISDB), "--store", bad, "-q"])
    assert result.exit_code != 0
    assert isinstance(result.exception, StoreError)  # main() prints it as "error: ..."
    assert "hunter2" not in str(result.exception)
    # the outbox lives on PostgreSQL too now: a bad subscriptions file is the error here
    result = runner.invoke(
        app, ["replay", str(AISDB), "--store", pg_dsn, "--subscriptions", "x.yaml", "-q"]
    )
    assert result.exit_code != 0
    assert "subscriptions" in str(result.exception or result.output)


def test_a_database_without_postgis_says_how_to_create_it(pg_base_dsn: str) -> None:
    admin = pg_base_dsn.replace("://seawarden@", "://postgres@", 1)
    try:
        conn = psycopg.connect(admin, autocommit=True, connect_timeout=5)
    except psycopg.Error as exc:
        pytest.skip(f"needs the server's superuser (make postgres gives it): {exc}")
    name = f"nopostgis_{uuid.uuid4().hex[:8]}"
    with conn:
        conn.execute(f"CREATE DATABASE {name} OWNER seawarden")
        try:
            dsn = pg_base_dsn.rsplit("/", 1)[0] + f"/{name}"
            with pytest.raises(StoreError, match=r"superuser: CREATE EXTENSION postgis"):
                PostgresStore(dsn)
        finally:
            conn.execute(f"DROP DATABASE {name}")


def test_processes_opening_an_empty_database_together_migrate_once(pg_dsn: str) -> None:
    errors: list[BaseException] = []

    def open_close() -> None:
        try:
            PostgresStore(pg_dsn).close()
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=open_close) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    assert versions(pg_dsn) == [migration_head()]
