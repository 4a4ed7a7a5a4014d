"""Raw evidence on the PostgreSQL store (migration 0003, store/evidence.py).

A real replay (the report tests' simulated anchor drag over real Baltic AIS, tests/report/
conftest.py) written to PostgreSQL keeps exactly the rows the SQLite store keeps; a resumed
run and replays into the same database add no row twice; the rows commit (or roll back)
with the pipeline's transaction; bytes, NULs and contact rows survive the trip.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from seawarden.pipeline.replay import Replay
from seawarden.store.evidence import (
    ContactRow,
    EvidenceRow,
    match_contact,
    match_evidence,
    read_contact_rows,
    read_rows,
    store_writer,
)
from seawarden.store.postgres import PostgresStore
from seawarden.store.sqlite import SQLiteStore
from tests.report.conftest import Replayed, config
from tests.report.conftest import replayed as replayed  # the session fixture (one replay)

MESSAGE_COLS = (
    "digest, mmsi, time, received, msg_type, station, source, line_no, line_nos, raw, header"
)
T0 = datetime(2024, 12, 24, 12, 0, tzinfo=UTC)


def _utc(v: Any) -> Any:
    if isinstance(v, datetime):
        return v.astimezone(UTC)
    return v


def sqlite_rows(db: Path) -> list[tuple[Any, ...]]:
    """evidence_messages of a SQLite store, times parsed, by digest."""
    store = SQLiteStore(db)
    try:
        rows = store.connection.execute(
            f"SELECT {MESSAGE_COLS} FROM evidence_messages ORDER BY digest"
        ).fetchall()
    finally:
        store.close()
    return [
        (
            r[0],
            r[1],
            datetime.fromisoformat(r[2]),
            None if r[3] is None else datetime.fromisoformat(r[3]),
            *r[4:9],
            bytes(r[9]),
            None if r[10] is None else bytes(r[10]),
        )
        for r in rows
    ]


def pg_rows(dsn: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            f'SELECT {MESSAGE_COLS} FROM evidence_messages ORDER BY digest COLLATE "C"'
        ).fetchall()
    return [tuple(_utc(v) for v in r) for r in rows]


def replay_pg(dsn: str, nmea: Path, **kw: Any) -> Replay:
    store = PostgresStore(dsn)
    try:
        run = Replay([nmea], config(), store=store, **kw)
        run.run()
    finally:
        store.close()
    return run


@pytest.fixture
def pg_store(pg_dsn: str) -> Iterator[PostgresStore]:
    store = PostgresStore(pg_dsn)
    try:
        yield store
    finally:
        store.close()


def test_a_replay_into_postgres_keeps_the_rows_sqlite_keeps(
    replayed: Replayed, pg_dsn: str
) -> None:
    replay_pg(pg_dsn, replayed.nmea)
    expected = sqlite_rows(replayed.store)
    got = pg_rows(pg_dsn)
    assert len(expected) >= 20
    assert got == expected  # every column, byte for byte, times to the microsecond
    # the readers give the same rows on both stores, and each row's digest is its key
    store = PostgresStore(pg_dsn)
    lite = SQLiteStore(replayed.store)
    try:
        on_pg = read_rows(store.connection, replayed.mmsi)
        on_lite = read_rows(lite.connection, replayed.mmsi)
        assert on_pg == on_lite
        assert on_pg
        assert {r.digest for r in on_pg} <= {r[0] for r in got}
        lines = replayed.lines()
        for r in on_pg:
            assert r.lines == [lines[n] for n in r.line_nos]
        report = {
            "time": on_pg[0].time.isoformat(),
            "source": on_pg[0].station,
            "line_no": on_pg[0].line_no,
            "msg_type": on_pg[0].msg_type,
        }
        m_pg = match_evidence(on_pg, replayed.mmsi, report)
        assert m_pg.exact
        assert m_pg == match_evidence(on_lite, replayed.mmsi, report)
    finally:
        store.close()
        lite.close()


def test_a_resumed_run_and_replays_again_add_no_row_twice(replayed: Replayed, pg_dsn: str) -> None:
    n_lines = len(replayed.lines())
    run = replay_pg(
        pg_dsn, replayed.nmea, resume=True, checkpoint_every=500, stop_after_lines=n_lines // 2
    )
    assert not run.completed
    run = replay_pg(pg_dsn, replayed.nmea, resume=True, checkpoint_every=500)
    assert run.completed
    assert run.stats.resumed_from is not None
    expected = sqlite_rows(replayed.store)
    resumed = pg_rows(pg_dsn)
    # lines read before the restart point are not in the rings of the resumed run, so it
    # may keep fewer; it keeps nothing the full replay does not
    assert resumed
    assert set(resumed) <= set(expected)
    replay_pg(pg_dsn, replayed.nmea)
    replay_pg(pg_dsn, replayed.nmea)
    assert pg_rows(pg_dsn) == expected


def _rows() -> tuple[EvidenceRow, ContactRow, ContactRow]:
    ais = EvidenceRow(
        mmsi=230_000_001,
        time=T0,
        received=T0 + timedelta(seconds=2),
        msg_type=5,
        station="sim\x00station",  # PostgreSQL text cannot hold NUL: kept as U+FFFD
        source="in.nmea",
        line_no=7,
        line_nos=(7, 8),
        raw=b"!AIVDM,2,1,3,A,55NBsp02>qf`<LQ@001H4V0l58E:22222222220l1@F,0*0A\n"
        b"!AIVDM,2,2,3,A,88888888880,2*25",
        header=None,
    )
    block = bytes(range(256))  # an ASTERIX data block: every byte value, NUL included
    radar = ContactRow(
        sensor="vts-solent",
        kind="radar",
        track="17",
        pass_id=None,
        time=T0,
        received=None,
        station="solent-radar",
        source="cat048.raw",
        line_no=3,
        fmt="asterix",
        raw=block,
        header=None,
    )
    sar = ContactRow(
        sensor="S1A",
        kind="sar",
        track=None,
        pass_id="p1",
        time=T0 + timedelta(microseconds=1),
        received=None,
        station="s1a.csv",
        source="s1a.csv",
        line_no=2,
        fmt="csv",
        raw=b"2024-12-24T12:00:00.000001Z,50.7,-1.1",
        header=b"time,lat,lon",
    )
    return ais, radar, sar


def _count(dsn: str) -> tuple[int, int]:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "SELECT (SELECT count(*) FROM evidence_messages),"
            " (SELECT count(*) FROM evidence_contacts)"
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def test_rows_commit_and_roll_back_with_the_store_transaction(
    pg_store: PostgresStore, pg_dsn: str
) -> None:
    write = store_writer(pg_store)
    assert write is not None
    rows: list[EvidenceRow | ContactRow] = list(_rows())
    write(rows)
    assert _count(pg_dsn) == (0, 0)  # not committed yet: another session sees nothing
    pg_store.connection.rollback()
    assert _count(pg_dsn) == (0, 0)
    write(rows)
    write(rows)  # a re-flush in the same transaction
    pg_store.commit()
    assert _count(pg_dsn) == (1, 2)
    write(rows)
    pg_store.commit()
    assert _count(pg_dsn) == (1, 2)


def test_bytes_times_and_contacts_read_back_as_written(pg_store: PostgresStore) -> None:
    write = store_writer(pg_store)
    assert write is not None
    ais, radar, sar = _rows()
    write([ais, radar, sar])
    pg_store.commit()
    conn = pg_store.connection
    (got,) = read_rows(conn, ais.mmsi, T0, T0)
    assert got.raw == ais.raw
    assert got.line_nos == (7, 8)
    assert got.received == ais.received
    assert got.station == "sim\ufffdstation"
    assert read_rows(conn, ais.mmsi, T0 + timedelta(microseconds=1)) == []
    contacts = read_contact_rows(conn, "vts-solent", T0, T0 + timedelta(hours=1))
    assert contacts == [radar]  # bytea: all 256 byte values intact
    m = match_contact(
        contacts,
        {"time": T0.isoformat(), "sensor": "vts-solent", "track": "17", "source": "solent-radar",
         "line_no": 3},
    )  # fmt: skip
    assert m.exact
    assert m.rows == (radar,)
    assert read_contact_rows(conn, "S1A", T0, T0 + timedelta(seconds=1)) == [sar]
    assert read_contact_rows(conn, "S1A", T0, T0) == []  # microseconds kept


def test_a_flush_is_one_statement_per_table_and_chunk(
    pg_store: PostgresStore, tmp_path: Path
) -> None:
    """Batched, not a round trip per row: libpq's own protocol trace of a 20 000-row flush
    shows one statement per 5 000 rows (PG_CHUNK). The rate is printed for the report."""
    write = store_writer(pg_store)
    assert write is not None
    ais, _, _ = _rows()
    rows: list[EvidenceRow | ContactRow] = [
        EvidenceRow(
            mmsi=ais.mmsi, time=T0 + timedelta(seconds=i), received=None, msg_type=1,
            station="sim", source="in.nmea", line_no=i, line_nos=(i,), raw=b"!AIVDM,%d" % i,
            header=None,
        )
        for i in range(20_000)
    ]  # fmt: skip
    pgconn = pg_store.connection.pgconn
    trace = tmp_path / "libpq.trace"
    with trace.open("w") as f:
        pgconn.trace(f.fileno())
        try:
            t = time.perf_counter()
            write(rows)
            pg_store.commit()
            elapsed = time.perf_counter() - t
        finally:
            pgconn.untrace()
    print(f"evidence flush on PostgreSQL: {len(rows) / elapsed:,.0f} rows/s ({elapsed:.3f} s)")
    sent = [line.split("\t") for line in trace.read_text().splitlines()]
    # frontend messages that run a statement: Query (simple), Execute (extended protocol)
    statements = [m for m in sent if len(m) > 3 and m[1] == "F" and m[3] in ("Query", "Execute")]
    inserts = [m for m in statements if m[3] == "Execute"]
    assert len(inserts) == 4, statements  # 20 000 rows / PG_CHUNK; then the COMMIT query
    assert len(statements) <= 6, statements
    assert len(read_rows(pg_store.connection, ais.mmsi)) == 20_000


def test_a_contact_whose_sensor_holds_nul_is_read_and_matched_on_both_stores(
    pg_store: PostgresStore, tmp_path: Path
) -> None:
    """PostgreSQL keeps NUL in a sensor, track or station as U+FFFD (text holds no NUL): the
    reader looks the sensor up the same way and matching folds the finding's text alike, so
    the contact is found and matched exactly as on SQLite (which keeps the NUL itself)."""
    row = ContactRow(
        sensor="radar\x00A", kind="track", track="7\x00", pass_id=None, time=T0, received=None,
        station="st\x00", source="f.csv", line_no=3, fmt="csv", raw=b"x,\x00y", header=b"h",
    )  # fmt: skip
    finding = {"time": T0.isoformat(), "sensor": "radar\x00A", "track": "7\x00",
               "source": "st\x00", "line_no": 3}  # fmt: skip
    lite = SQLiteStore(tmp_path / "e.db")
    try:
        for store in (lite, pg_store):
            write = store_writer(store)
            assert write is not None
            write([row])
            store.commit()
            got = read_contact_rows(store.connection, "radar\x00A", T0, T0)
            assert len(got) == 1, type(store).__name__
            kept = "\x00" if store is lite else "\ufffd"
            assert (got[0].sensor, got[0].track, got[0].station) == (
                f"radar{kept}A", f"7{kept}", f"st{kept}",
            )  # fmt: skip
            assert got[0].raw == row.raw  # bytea keeps the NUL byte
            m = match_contact(got, finding)
            assert m.exact, type(store).__name__
            assert m.rows == tuple(got)
            assert read_contact_rows(store.connection, "radar", T0, T0) == []
    finally:
        lite.close()
