"""Delivery on PostgreSQL when the database refuses: real refusals, no mocks of the database.

A constraint or trigger added to the test's own schema makes PostgreSQL refuse one write, as
a bad value or a broken migration would in production:

- an outcome batch refused because of one row is recorded row by row: only that row is
  buried (dead, with the database's reason), the others recorded as they happened;
- ``seawarden deliver`` whose worker thread dies exits 1 (not idle for ever);
- a runner's built-in worker that dies stops the runner at its next enqueue, and ``replay``
  exits non-zero saying so, rather than queueing alerts nobody sends.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest

from seawarden.alerts import outbox_pg
from seawarden.alerts.cli_deliver import start_delivery
from seawarden.alerts.outbox import OutboxSink, delivery_id
from seawarden.errors import StoreError
from seawarden.sim import simulate
from seawarden.store.postgres import PostgresStore
from tests.alerts.factories import make_alert
from tests.alerts.receivers import SECRET, HttpReceiver, Request, wait_for, webhook_subscription
from tests.alerts.test_outbox_pg import hook, pg_audit, pg_rows, sub, worker
from tests.conftest import REPO
from tests.report.conftest import BALTIC
from tests.store import conftest as store_fixtures

pg_base_dsn = store_fixtures.pg_base_dsn
pg_dsn = store_fixtures.pg_dsn

CLI = [sys.executable, "-c", "from seawarden.cli import main; main()"]

# Claiming a row is an UPDATE: with this trigger every pick fails (a non-transient error, so
# the worker thread dies), while inserts, and so the runner's enqueueing, still work.
REFUSE_UPDATES = """
CREATE FUNCTION refuse_update() RETURNS trigger LANGUAGE plpgsql AS
$$ BEGIN RAISE EXCEPTION 'outbox updates refused by the test'; END $$;
CREATE TRIGGER refuse_update BEFORE UPDATE ON outbox FOR EACH ROW EXECUTE FUNCTION refuse_update();
"""


@pytest.fixture
def pg(pg_dsn: str) -> Iterator[PostgresStore]:
    s = PostgresStore(pg_dsn)  # migrates the test's schema
    yield s
    s.close()


def _sql(dsn: str, sql: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql)  # type: ignore[arg-type]


def test_a_refused_outcome_batch_is_recorded_row_by_row_and_only_the_refused_row_buried(
    pg: PostgresStore, pg_dsn: str, caplog: pytest.LogCaptureFixture
) -> None:
    subs_ids = ("dnk", "est", "fin")
    alert = make_alert(id="refuse01", mmsi=230_000_010)
    bad = delivery_id(alert.id, alert.revision, "est", 0)
    # The three outcomes must reach the store as one batch, and the buried row must meet a
    # busy store. While the sends are answered, other transactions hold the rows' locks:
    # each attempt to record gives up after lock_timeout (busy: the outcomes wait) until all
    # three are in hand; the refused row's lock is held 1.5 s longer, so burying it is busy
    # once (it must wait, and the rows recorded meanwhile must not be written twice).
    lock_others, lock_bad = psycopg.connect(pg_dsn), psycopg.connect(pg_dsn)
    arrived = threading.Barrier(len(subs_ids), timeout=20)
    guard = threading.Lock()

    def behaviour(n: int, req: Request) -> tuple[int, dict[str, str]]:
        with guard:
            if n == 1:
                lock_others.execute(
                    "SELECT 1 FROM outbox WHERE delivery_id <> %s FOR UPDATE", (bad,)
                ).fetchall()
                lock_bad.execute(
                    "SELECT 1 FROM outbox WHERE delivery_id = %s FOR UPDATE", (bad,)
                ).fetchall()
        if arrived.wait() == 0:
            threading.Timer(1.5, lock_others.rollback).start()
            threading.Timer(3.0, lock_bad.rollback).start()
        return 200, {}

    dsn = pg_dsn.replace("options=", "options=" + quote("-c lock_timeout=200 ", safe=""))
    try:
        with HttpReceiver(behaviour=behaviour) as rx:
            subs = [sub(s, hook(rx.url)) for s in subs_ids]
            OutboxSink(pg, subs).write([alert])
            # PostgreSQL refuses to mark that one row delivered (a CHECK, as a bad value would).
            _sql(
                pg_dsn,
                "ALTER TABLE outbox ADD CONSTRAINT no_est_delivery"
                f" CHECK (status <> 'delivered' OR delivery_id <> '{bad}')",
            )
            w = worker(dsn, subs)
            try:
                with caplog.at_level(logging.WARNING, logger="seawarden.alerts.dispatch"):
                    w.run_once(all_pending=True, timeout_s=30)
            finally:
                w.stop()
    finally:
        lock_others.close()
        lock_bad.close()
    assert len(rx.alerts()) == 3  # all three were sent
    # The three outcomes went as one batch, refused; then one by one.
    assert "recording 3 outcomes failed" in caplog.text
    assert (w.stats.delivered, w.stats.dead) == (2, 1)
    rows = {r["delivery_id"]: r for r in pg_rows(pg_dsn)}
    assert rows[bad]["status"] == "dead"
    assert "outcome could not be recorded" in str(rows[bad]["last_error"])
    assert "no_est_delivery" in str(rows[bad]["last_error"])  # the database's reason
    others = [r for d, r in rows.items() if d != bad]
    assert [r["status"] for r in others] == ["delivered", "delivered"]
    assert all(r["delivered"] is not None and int(r["attempts"]) == 1 for r in others)  # type: ignore[call-overload]
    audited = {(e.action, e.target) for e in pg_audit(pg_dsn)}
    assert audited == {("delivery.ok", f"delivery:{r['delivery_id']}") for r in others} | {
        ("delivery.dead", f"delivery:{bad}")
    }
    with psycopg.connect(pg_dsn) as conn:
        assert outbox_pg.counts_by_status(conn) == {"pending": 0, "delivered": 2, "dead": 1}


def _subscriptions(tmp_path: Path, url: str) -> Path:
    path = tmp_path / "subscriptions.yaml"
    path.write_text("subscriptions:\n" + webhook_subscription("fin-moc", "Finland MOC", "FIN", url))
    return path


def _env() -> dict[str, str]:
    return {**os.environ, "SEAWARDEN_SECRET_TEST_HOOK": SECRET, "SEAWARDEN_LOG_LEVEL": "WARNING"}


def test_deliver_exits_1_when_its_worker_thread_dies(
    pg: PostgresStore, pg_dsn: str, tmp_path: Path
) -> None:
    with HttpReceiver() as rx:
        subs_file = _subscriptions(tmp_path, rx.url)
        proc = subprocess.Popen(
            [*CLI, "deliver", "--store", pg_dsn, "--subscriptions", str(subs_file)],
            env=_env(),
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        try:
            # It runs: a first alert goes out.
            OutboxSink(pg, [sub("fin-moc", hook(rx.url))]).write([make_alert(id="d1")])
            wait_for(lambda: len(rx.alerts()) == 1, timeout_s=30, what="first delivery")
            assert proc.poll() is None
            _sql(pg_dsn, REFUSE_UPDATES)
            OutboxSink(pg, [sub("fin-moc", hook(rx.url))]).write([make_alert(id="d2")])
            _, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate(timeout=10)
    text = err.decode(errors="replace")
    assert proc.returncode == 1, text
    assert "the delivery worker stopped" in text
    assert "outbox updates refused by the test" in text


def test_a_runner_s_delivery_worker_that_dies_stops_the_next_enqueue(
    pg: PostgresStore, pg_dsn: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SEAWARDEN_SECRET_TEST_HOOK", SECRET)
    _sql(pg_dsn, REFUSE_UPDATES)
    with HttpReceiver() as rx:
        delivery = start_delivery(_subscriptions(tmp_path, rx.url), pg)
        assert delivery.worker is not None
        try:
            delivery.sink.write([make_alert(id="r1", mmsi=230_000_011)])  # the worker dies on it
            wait_for(lambda: delivery.worker.failed is not None, timeout_s=30, what="worker death")  # type: ignore[union-attr]
            with pytest.raises(StoreError, match="the delivery worker stopped"):
                delivery.sink.write([make_alert(id="r2", mmsi=230_000_012)])
        finally:
            with pytest.raises(StoreError, match="the delivery worker stopped"):
                delivery.close(wait_s=5)
    assert rx.alerts() == []
    # Both revisions are committed with their rows: `seawarden deliver` can send them later.
    assert len(pg_rows(pg_dsn, status="pending")) == 2


@pytest.mark.slow
@pytest.mark.skipif(not BALTIC.is_file(), reason="needs ../shared/data (real Baltic AIS)")
def test_replay_whose_delivery_worker_dies_exits_non_zero(
    pg: PostgresStore, pg_dsn: str, tmp_path: Path
) -> None:
    nmea = tmp_path / "sim.nmea"
    simulate(
        nmea,
        tmp_path / "labels.jsonl",
        scenarios=["anchor_drag_slowdown"],
        background=BALTIC,
        seed=11,
    )
    _sql(pg_dsn, REFUSE_UPDATES)
    with HttpReceiver() as rx:
        cmd = [
            *CLI, "replay", str(nmea), "--quiet",
            "--areas", str(REPO / "config/areas.geojson"),
            "--watchlist", str(REPO / "config/watchlist.csv"),
            "--store", pg_dsn, "--subscriptions", str(_subscriptions(tmp_path, rx.url)),
        ]  # fmt: skip
        done = subprocess.run(cmd, env=_env(), cwd=tmp_path, capture_output=True, timeout=300)
    text = (done.stdout + done.stderr).decode(errors="replace")
    assert done.returncode == 1, text
    assert "the delivery worker stopped" in text
    assert "outbox updates refused by the test" in text
    assert "`seawarden deliver --store" in text  # what to do about the queued alerts
    assert rx.alerts() == []
