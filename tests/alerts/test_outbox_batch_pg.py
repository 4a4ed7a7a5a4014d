"""Batched enqueue on PostgreSQL: the same rows and audit as row by row, in a few statements.

``outbox_pg.enqueue`` reads what the rules ask about a batch in two statements and inserts its
rows with one ``INSERT … SELECT FROM unnest(…) ON CONFLICT DO NOTHING``; SQLite still writes
row by row through ``OutboxWriter.insert``, so it is the reference here. Alerts come from a
real replay (simulated scenarios over real Baltic AIS), and from generated histories in
which one batch holds a revision and its follow-ups (a follow-up must see the rows its first
revision gets in the same batch) and the same revision twice.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seawarden.alerts import outbox, outbox_pg
from seawarden.alerts.model import Alert
from seawarden.alerts.subscriptions import Channel
from seawarden.pipeline.replay import Replay
from seawarden.sim import simulate
from seawarden.store import audit
from seawarden.store.postgres import PostgresStore
from seawarden.store.sqlite import SQLiteStore
from tests.alerts.factories import make_alert, revise
from tests.alerts.test_outbox_pg import NOW, REVISION, hook, pg_audit, situations, sub
from tests.report.conftest import BALTIC, config
from tests.store import conftest as store_fixtures

pg_base_dsn = store_fixtures.pg_base_dsn
pg_dsn = store_fixtures.pg_dsn

CAP = Channel(kind="cap_http", target="https://cap.example/in", secret="HOOK")
SUBS = [
    sub("jef", hook("https://jef.example/hook"), CAP),
    sub("fin", hook("https://fin.example/hook"), audience=frozenset({"FIN"})),
    sub("gbr", hook("https://gbr.example/hook"), audience=frozenset({"GBR", "NOR"})),
]


class _Collect:
    """An alert sink that keeps the batches the pipeline writes."""

    def __init__(self) -> None:
        self.batches: list[list[Alert]] = []

    def write(self, alerts: Sequence[Alert]) -> None:
        self.batches.append(list(alerts))

    def close(self) -> None:
        pass


@pytest.fixture(scope="module")
def replayed_batches(tmp_path_factory: pytest.TempPathFactory) -> list[list[Alert]]:
    if not BALTIC.is_file():
        pytest.skip(f"shared data missing: {BALTIC}")
    d = tmp_path_factory.mktemp("batch")
    nmea = d / "sim.nmea"
    simulate(
        nmea,
        d / "labels.jsonl",
        scenarios=[
            "anchor_drag_slowdown",
            "dark_spell",
            "sts_meeting",
            "spoofed_jump",
            "cloned_mmsi",
        ],
        background=BALTIC,
        seed=11,
    )
    sink = _Collect()
    Replay([nmea], config(), alert_sinks=[sink]).run()
    return sink.batches


@pytest.fixture
def pg(pg_dsn: str) -> Iterator[PostgresStore]:
    s = PostgresStore(pg_dsn)
    yield s
    s.close()


def _sqlite_reference(
    path: Path, batches: Sequence[Sequence[Alert]], *, per_alert: bool = True
) -> tuple[list[int], list[dict[str, Any]], dict[str, bytes], list[tuple[str, str, Any]]]:
    """Enqueue on SQLite, alert by alert (or batch by batch): counts per batch, rows,
    payloads, audit entries."""
    lite = SQLiteStore(path)
    outbox.ensure_schema(lite.connection)
    try:
        counts = []
        for batch in batches:
            lite.write_alerts(batch)
            # One alert per call: nothing of the batch is planned but not yet written.
            if per_alert:
                counts.append(
                    sum(outbox.enqueue(lite.connection, [a], SUBS, now=NOW) for a in batch)
                )
            else:
                counts.append(outbox.enqueue(lite.connection, batch, SUBS, now=NOW))
            lite.commit()
        with sqlite3.connect(lite.path) as conn:
            rows = outbox.deliveries(conn, limit=100_000)
            payloads = dict(conn.execute("SELECT delivery_id, payload FROM outbox"))
            audit.ensure_schema(conn)
            entries = [(e.action, e.target, e.detail) for e in audit.entries(conn)]
    finally:
        lite.close()
    return counts, rows, payloads, entries


def _pg_state(
    dsn: str,
) -> tuple[list[dict[str, Any]], dict[str, bytes], list[tuple[str, str, Any]]]:
    with psycopg.connect(dsn) as conn:
        payloads = {d: bytes(p) for d, p in conn.execute("SELECT delivery_id, payload FROM outbox")}
    entries = [(e.action, e.target, e.detail) for e in pg_audit(dsn, "")]
    return _rows(dsn), payloads, entries


def _rows(dsn: str) -> list[dict[str, Any]]:
    with psycopg.connect(dsn) as conn:
        return outbox_pg.deliveries(conn, limit=100_000)


def test_a_real_replay_s_alerts_give_the_same_rows_batched_and_again_nothing(
    replayed_batches: list[list[Alert]], pg: PostgresStore, pg_dsn: str, tmp_path: Path
) -> None:
    batches = replayed_batches
    alerts = [a for b in batches for a in b]
    assert len(alerts) >= 5
    assert any(a.revision > 1 for a in alerts)
    want_counts, want_rows, want_payloads, want_audit = _sqlite_reference(
        tmp_path / "s.db", batches
    )
    counts = []
    for batch in batches:  # the batches the pipeline wrote
        pg.write_alerts(batch)
        counts.append(outbox_pg.enqueue(pg.connection, batch, SUBS, now=NOW))
        pg.commit()
    assert counts == want_counts
    assert sum(counts) > 0
    assert _pg_state(pg_dsn) == (want_rows, want_payloads, want_audit)
    # The whole replay again, as one batch (a --resume that re-emits everything): a no-op.
    seen: Counter[str] = Counter()
    again = outbox.enqueue_with(
        outbox_pg.PgWriter(pg.connection), alerts, SUBS, now=NOW + 60, counts=seen
    )
    pg.commit()
    assert again == 0
    assert seen["queued"] == 0
    assert seen["already_queued"] == len(want_rows)
    assert _pg_state(pg_dsn) == (want_rows, want_payloads, want_audit)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    st.lists(st.lists(REVISION, min_size=1, max_size=3), min_size=1, max_size=4),
    st.integers(min_value=1, max_value=4),
    st.booleans(),
)
def test_one_batch_on_postgres_queues_what_sqlite_queues_row_by_row(
    pg: PostgresStore,
    pg_dsn: str,
    tmp_path_factory: pytest.TempPathFactory,
    histories: list,  # type: ignore[type-arg]
    n_batches: int,
    repeat: bool,
) -> None:
    # Revisions of one alert in one batch: the Update's "did this subscription receive the
    # Alert?" must count the row the Alert gets in the same batch, and a withheld follow-up
    # is audited once however often it is queued.
    revs: list[Alert] = []
    for k, history in enumerate(histories):
        alert = None
        for n, (severity, marking, status) in enumerate(history):
            kw = {"severity": severity, "releasability": marking, "status": status}
            if alert is None:
                alert = make_alert(id=f"{k:04d}cafe", mmsi=230_200_000 + k, t=k, **kw)
            else:
                alert = revise(alert, "Cancel" if n == 2 else "Update", **kw)
            revs.append(alert)
    if repeat:
        revs.append(revs[-1])  # the same revision twice in a batch
    size = -(-len(revs) // n_batches)
    batches = [revs[i : i + size] for i in range(0, len(revs), size)]
    with pg.connection.cursor() as cur:
        cur.execute("TRUNCATE outbox, audit, alerts")
    pg.commit()
    want_counts, want_rows, want_payloads, want_audit = _sqlite_reference(
        tmp_path_factory.mktemp("h") / "s.db", batches
    )
    counts = []
    for batch in batches:
        pg.write_alerts(batch)
        counts.append(outbox_pg.enqueue(pg.connection, batch, SUBS, now=NOW))
        pg.commit()
    assert counts == want_counts
    assert _pg_state(pg_dsn) == (want_rows, want_payloads, want_audit)
    # SQLite given the same batches (its row-by-row writer, the same planning) agrees too.
    lite = _sqlite_reference(tmp_path_factory.mktemp("b") / "s.db", batches, per_alert=False)
    assert lite == (want_counts, want_rows, want_payloads, want_audit)


class _Counting(psycopg.Cursor[Any]):
    """A real cursor that counts the statements it sends (one round trip each)."""

    sent = 0

    def execute(self, *args: Any, **kw: Any) -> Any:
        type(self).sent += 1
        return super().execute(*args, **kw)


def test_enqueueing_thousands_of_rows_takes_a_handful_of_statements(
    pg: PostgresStore, pg_dsn: str
) -> None:
    revs = situations(700)  # 2,100 revisions, 2 subscriptions: 4,200 rows
    subs = [sub("dnk", hook("https://dnk.example/hook")), sub("jef", hook("https://j.example/h"))]
    pg.write_alerts(revs)
    pg.commit()
    with psycopg.connect(pg_dsn, cursor_factory=_Counting) as conn:
        _Counting.sent = 0
        n = outbox_pg.enqueue(conn, revs, subs, now=NOW)
        conn.commit()
        first = _Counting.sent
        _Counting.sent = 0
        again = outbox_pg.enqueue(conn, revs, subs, now=NOW)
        conn.commit()
    assert n == 4200
    assert again == 0
    # Two reads and one INSERT per 2,000 rows (the per-row code sent over 8,000).
    assert first <= 6, first
    assert _Counting.sent <= 6, _Counting.sent
    assert len(_rows(pg_dsn)) == 4200
