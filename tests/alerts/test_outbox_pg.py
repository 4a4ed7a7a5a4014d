"""The outbox, delivery and audit on a real PostgreSQL (``make postgres``; tests/store/conftest.py).

Enqueueing gives the same rows, payloads and audit entries as on SQLite, and is idempotent;
several deliverers sharing one outbox (``FOR UPDATE SKIP LOCKED`` claims) deliver every row
exactly once to a real HTTP receiver; a deliverer killed mid-send leaves its row to another
after the lease, which is the only way the receiver sees a duplicate; retries, dead letters
and requeueing behave as on SQLite; bad DSNs give a clear StoreError without the password.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from seawarden.alerts import outbox, outbox_pg
from seawarden.alerts.dispatch import Dispatcher, RetryPolicy
from seawarden.alerts.model import Alert
from seawarden.alerts.outbox import OutboxSink
from seawarden.alerts.releasability import JEF
from seawarden.alerts.subscriptions import Channel, Subscription
from seawarden.cli import app
from seawarden.errors import StoreError
from seawarden.store import audit
from seawarden.store.postgres import PostgresStore
from seawarden.store.sqlite import SQLiteStore
from tests.alerts.factories import channel_from_config, make_alert, revise
from tests.alerts.receivers import (
    SECRET,
    HttpReceiver,
    Request,
    wait_for,
    webhook_subscription,
)
from tests.conftest import REPO
from tests.store import conftest as store_fixtures

# The PostgreSQL fixtures of the store tests (a fresh schema per test).
pg_base_dsn = store_fixtures.pg_base_dsn
pg_dsn = store_fixtures.pg_dsn

FAST = RetryPolicy(base_s=0.02, cap_s=0.2, max_attempts=4)
SECRETS = {"HOOK": SECRET}
NOW = 1_767_000_000.0  # a fixed queue time, so both stores write identical rows


def sub(sid: str, *channels: Channel, audience: frozenset[str] = JEF) -> Subscription:
    return Subscription(
        id=sid,
        recipient=sid.upper(),
        nation=None,
        audience=audience,
        areas=None,
        min_severity="low",
        channels=channels,
    )


def hook(url: str) -> Channel:
    return channel_from_config("webhook", url, secret="HOOK")


def situations(n: int) -> list[Alert]:
    """``n`` situations, each Alert → Update → Cancel."""
    out = []
    for i in range(n):
        a = make_alert(id=f"{i:04d}beef", mmsi=230_000_000 + i, t=i)
        u = revise(a, "Update", score=80.0)
        out += [a, u, revise(u, "Cancel", severity="low", score=5.0)]
    return out


@pytest.fixture
def pg(pg_dsn: str) -> Iterator[PostgresStore]:
    s = PostgresStore(pg_dsn)
    yield s
    s.close()


def pg_rows(dsn: str, **kw: str) -> list[dict[str, object]]:
    with psycopg.connect(dsn) as conn:
        return outbox_pg.deliveries(conn, **kw)  # type: ignore[arg-type]


def pg_audit(dsn: str, prefix: str = "delivery.") -> list[audit.AuditEntry]:
    with psycopg.connect(dsn) as conn:
        return audit.entries(conn, action_prefix=prefix)


def worker(dsn: str, subs: list[Subscription], **kw: object) -> Dispatcher:
    return Dispatcher(dsn, subs, secrets=SECRETS, policy=FAST, timeout_s=5.0, **kw)  # type: ignore[arg-type]


# -- enqueue --------------------------------------------------------------------------------
def test_enqueue_gives_the_same_rows_payloads_and_audit_as_sqlite(
    pg: PostgresStore,
    pg_dsn: str,
    tmp_path: Path,
) -> None:
    cap = Channel(kind="cap_http", target="https://cap.example/in", secret="HOOK")
    bad_cap = Channel(kind="cap_http", target="https://cap2.example/in", secret="HOOK")
    subs = [
        sub("dnk", hook("https://dnk.example/hook"), cap),
        sub("gbr", hook("https://gbr.example/hook"), audience=frozenset({"GBR"})),
        sub("jef", hook("https://jef.example/hook"), bad_cap),
    ]
    revs = situations(3)
    first = make_alert(id="narrowed01", mmsi=230_999_000)
    revs += [first, revise(first, "Update", releasability="REL GBR, NOR")]  # withheld from JEF
    lite = SQLiteStore(tmp_path / "s.db")
    outbox.ensure_schema(lite.connection)
    try:
        counts = []
        for _ in range(2):  # the second time (a --resume) adds nothing
            lite.write_alerts(revs)
            pg.write_alerts(revs)
            n_lite = outbox.enqueue(lite.connection, revs, subs, now=NOW)
            n_pg = outbox_pg.enqueue(pg.connection, revs, subs, now=NOW)
            lite.commit()
            pg.commit()
            counts.append((n_lite, n_pg))
        with sqlite3.connect(lite.path) as conn:
            want = outbox.deliveries(conn)
            want_payloads = dict(conn.execute("SELECT delivery_id, payload FROM outbox"))
            want_audit = audit.entries(conn, action_prefix="delivery.")
    finally:
        lite.close()
    assert counts[0][0] == counts[0][1] > 20
    assert counts[1] == (0, 0)
    assert pg_rows(pg_dsn) == want
    with psycopg.connect(pg_dsn) as conn:
        got_payloads = {
            d: bytes(p) for d, p in conn.execute("SELECT delivery_id, payload FROM outbox")
        }
    assert got_payloads == want_payloads
    assert any(b"<references>" in p for p in got_payloads.values())  # CAP names earlier revisions
    got_audit = pg_audit(pg_dsn)
    assert [(e.action, e.target, e.detail) for e in got_audit] == [
        (e.action, e.target, e.detail) for e in want_audit
    ]
    assert {e.action for e in got_audit} == {"delivery.withheld"}  # bad_cap renders here


MARKINGS = ("REL JEF", "REL GBR, NOR", "REL FIN", "REL NATO")
REVISION = st.tuples(
    st.sampled_from(("low", "medium", "high", "critical")),
    st.sampled_from(MARKINGS),
    st.sampled_from(("Actual", "Exercise")),
)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(st.lists(st.lists(REVISION, min_size=1, max_size=3), min_size=1, max_size=4))
def test_both_stores_queue_the_same_rows_for_any_alert_history(
    pg: PostgresStore, pg_dsn: str, tmp_path_factory: pytest.TempPathFactory, histories: list
) -> None:  # type: ignore[type-arg]
    # Severity, marking and status vary along each alert's revisions (the last may be a
    # Cancel): who gets what, what is withheld and how it is audited must not depend on
    # the store.
    cap = Channel(kind="cap_http", target="https://cap.example/in", secret="HOOK")
    subs = [
        sub("jef", hook("https://jef.example/hook"), cap),
        sub("fin", hook("https://fin.example/hook"), audience=frozenset({"FIN"})),
        sub("gbr", hook("https://gbr.example/hook"), audience=frozenset({"GBR", "NOR"})),
    ]
    revs = []
    for k, history in enumerate(histories):
        alert = None
        for n, (severity, marking, status) in enumerate(history):
            kw = {"severity": severity, "releasability": marking, "status": status}
            if alert is None:
                alert = make_alert(id=f"{k:04d}feed", mmsi=230_100_000 + k, t=k, **kw)
            else:
                last = n == len(history) - 1 and n == 2
                alert = revise(alert, "Cancel" if last else "Update", **kw)
            revs.append(alert)
    with pg.connection.cursor() as cur:
        cur.execute("TRUNCATE outbox, audit, alerts")
    pg.commit()
    lite = SQLiteStore(tmp_path_factory.mktemp("h") / "s.db")
    outbox.ensure_schema(lite.connection)
    try:
        for alert in revs:  # one revision at a time, as the pipeline writes them
            lite.write_alerts([alert])
            pg.write_alerts([alert])
            outbox.enqueue(lite.connection, [alert], subs, now=NOW)
            outbox_pg.enqueue(pg.connection, [alert], subs, now=NOW)
            lite.commit()
            pg.commit()
        with sqlite3.connect(lite.path) as conn:
            want = outbox.deliveries(conn)
            audit.ensure_schema(conn)  # SQLite creates it at the first entry
            want_audit = audit.entries(conn)
    finally:
        lite.close()
    assert pg_rows(pg_dsn) == want
    got_audit = pg_audit(pg_dsn, "")
    assert [(e.action, e.target, e.detail) for e in got_audit] == [
        (e.action, e.target, e.detail) for e in want_audit
    ]


def test_sink_commits_revision_and_rows_together_and_is_idempotent(
    pg: PostgresStore,
    pg_dsn: str,
) -> None:
    sink = OutboxSink(pg, [sub("dnk", hook("https://dnk.example/hook"))])
    revs = situations(2)
    sink.write(revs)
    # another connection sees the revisions and their rows: committed before write returned
    with psycopg.connect(pg_dsn) as conn:
        (n_alerts,) = conn.execute("SELECT count(*) FROM alerts").fetchone()  # type: ignore[misc]
    assert n_alerts == len(revs)
    assert len(pg_rows(pg_dsn, status="pending")) == len(revs)
    sink.write(revs)
    assert sink.counts == {"queued": len(revs), "already_queued": len(revs)}
    assert len(pg_rows(pg_dsn)) == len(revs)


# -- delivery -------------------------------------------------------------------------------
def test_three_deliverers_share_the_outbox_and_send_each_row_exactly_once(
    pg: PostgresStore,
    pg_dsn: str,
) -> None:
    with HttpReceiver(delay_s=0.002) as rx:
        subs = [sub(s, hook(rx.url)) for s in ("dnk", "fin", "nor")]
        revs = situations(20)  # 60 revisions x 3 subscriptions
        OutboxSink(pg, subs).write(revs)
        workers = [worker(pg_dsn, subs, lane_depth=4, batch=16) for _ in range(3)]
        for w in workers:
            w.start()
        total = len(revs) * len(subs)
        try:
            wait_for(lambda: sum(w.stats.delivered for w in workers) >= total, timeout_s=60)
            for w in workers:
                assert w.wait_idle(10)
        finally:
            for w in workers:
                w.stop()
    assert len(rx.requests) == total
    assert rx.duplicates == 0
    assert all(r.verified for r in rx.requests)
    assert len(rx.view) == total
    assert sum(w.stats.delivered for w in workers) == total
    # A lane is served by one worker at a time (its order and pause hold across workers),
    # so with three lanes one worker may well have taken them all: no participation check.
    rows = pg_rows(pg_dsn)
    assert {r["status"] for r in rows} == {"delivered"}
    assert len(rows) == total
    ok = [e for e in pg_audit(pg_dsn) if e.action == "delivery.ok"]
    assert len(ok) == total
    assert len({e.target for e in ok}) == total


def test_retries_dead_letters_and_requeue_on_postgres(pg: PostgresStore, pg_dsn: str) -> None:
    def behaviour(n: int, req: Request) -> tuple[int, dict[str, str]]:
        if req.path.endswith("/refuse"):
            return 400, {}
        return (503, {}) if n <= 6 else (200, {})

    with HttpReceiver(behaviour=behaviour) as rx:
        subs = [sub("fin", hook(rx.url)), sub("est", hook(rx.url.replace("/alerts", "/refuse")))]
        revs = situations(2)
        OutboxSink(pg, subs).write(revs)
        w = worker(pg_dsn, subs, lane_depth=2)
        w.start()
        try:
            wait_for(lambda: w.stats.delivered + w.stats.dead == 2 * len(revs), timeout_s=30)
        finally:
            w.stop()
        assert w.stats.delivered == len(revs)
        assert w.stats.dead == len(revs)
        assert w.stats.retried >= 1
        fin = pg_rows(pg_dsn, subscription_id="fin")
        assert {r["status"] for r in fin} == {"delivered"}
        assert max(int(r["attempts"]) for r in fin) > 1  # type: ignore[call-overload]
        est = pg_rows(pg_dsn, subscription_id="est")
        assert {r["status"] for r in est} == {"dead"}
        assert all("HTTP 400" in str(r["last_error"]) for r in est)
        actions = {e.action for e in pg_audit(pg_dsn)}
        assert {"delivery.ok", "delivery.retry", "delivery.dead"} <= actions
        with psycopg.connect(pg_dsn) as conn:
            assert outbox_pg.requeue_dead(conn, actor="cli") == len(revs)
            assert outbox_pg.counts_by_status(conn) == {
                "pending": len(revs),
                "delivered": len(revs),
                "dead": 0,
            }
        assert len(pg_audit(pg_dsn, "delivery.requeue")) == len(revs)


def test_a_deliverer_killed_mid_send_leaves_the_row_to_another_after_the_lease(
    pg: PostgresStore,
    pg_dsn: str,
    tmp_path: Path,
) -> None:
    # The receiver holds the first request; the deliverer sending it (a real `seawarden
    # deliver` process) is killed meanwhile. Nobody may send that row again until its lease
    # lapses; then another deliverer sends it: the receiver's one duplicate.
    lease_s = 2.0
    first_in = threading.Event()

    def hold_first(n: int, req: Request) -> tuple[int, dict[str, str]]:
        if n == 1:
            first_in.set()
            time.sleep(1.0)
        return 200, {}

    with HttpReceiver(behaviour=hold_first) as rx:
        yaml = tmp_path / "subs.yaml"
        yaml.write_text("subscriptions:\n" + webhook_subscription("dnk", "DNK", "DNK", rx.url))
        env = {**os.environ, "SEAWARDEN_SECRET_TEST_HOOK": SECRET}
        from seawarden.alerts.subscriptions import load_subscriptions

        subs = load_subscriptions(yaml)
        OutboxSink(pg, subs).write([make_alert()])
        log = tmp_path / "deliver.log"
        with log.open("wb") as err:
            proc = subprocess.Popen(
                [str(Path(sys.executable).with_name("seawarden")), "deliver", "--store", pg_dsn,
                 "--subscriptions", str(yaml), "--lease-s", str(lease_s)],
                cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=err,
            )  # fmt: skip
        try:
            assert first_in.wait(30), f"the deliverer never sent: {log.read_text()[-2000:]}"
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
            killed = time.time()
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        (row,) = pg_rows(pg_dsn)
        assert row["status"] == "pending"  # sent, but the outcome was never recorded
        other = Dispatcher(
            pg_dsn, subs, secrets={"TEST_HOOK": SECRET}, policy=FAST, lease_s=lease_s
        )
        other.start()
        try:
            wait_for(lambda: other.stats.delivered == 1, timeout_s=20, what="redelivery")
        finally:
            other.stop()
    first, second = rx.requests
    assert second.at - first.at >= lease_s - 0.25  # not before the lease lapsed
    assert second.at >= killed
    assert rx.duplicates == 1
    assert len(rx.view) == 1
    assert first.headers["Idempotency-Key"] == second.headers["Idempotency-Key"]
    (row,) = pg_rows(pg_dsn)
    assert row["status"] == "delivered"
    assert row["attempts"] == 1
    assert [e.action for e in pg_audit(pg_dsn)] == ["delivery.ok"]


def test_a_send_slower_than_the_lease_is_not_taken_over_while_its_worker_lives(
    pg: PostgresStore, pg_dsn: str
) -> None:
    # The claim is renewed while the row is in flight: a recipient that takes three leases
    # to answer gets the delivery once, though another worker polls the whole time.
    lease_s = 1.0

    def slow_first(n: int, req: Request) -> tuple[int, dict[str, str]]:
        if n == 1:
            time.sleep(3 * lease_s)
        return 200, {}

    with HttpReceiver(behaviour=slow_first) as rx:
        subs = [sub("dnk", hook(rx.url))]
        OutboxSink(pg, subs).write([make_alert()])
        workers = [worker(pg_dsn, subs, lease_s=lease_s, poll_s=0.05) for _ in range(2)]
        for w in workers:
            w.start()
        try:
            wait_for(lambda: sum(w.stats.delivered for w in workers) == 1, timeout_s=20)
            time.sleep(lease_s)  # a takeover would show by now
        finally:
            for w in workers:
                w.stop()
    assert len(rx.requests) == 1
    assert rx.duplicates == 0


def test_a_worker_claims_no_more_than_its_lane_depth_and_leaves_unknown_lanes_pending(
    pg: PostgresStore, pg_dsn: str
) -> None:
    # A worker holds at most lane_depth rows of a lane at once, so others get the rest; and
    # rows of a subscription this worker does not know stay pending: on a shared store they
    # may be another worker's newer config (SQLite, one worker, buries them).
    with HttpReceiver(delay_s=0.4) as rx:
        subs = [sub("dnk", hook(rx.url))]
        OutboxSink(pg, [*subs, sub("gone", hook(rx.url))]).write(situations(4))
        w = worker(pg_dsn, subs, lane_depth=3, poll_s=0.05)
        w.start()
        try:
            wait_for(lambda: len(rx.requests) >= 1, what="first send")
            time.sleep(0.15)  # a few more polls while the first send is still in flight
            with psycopg.connect(pg_dsn) as conn:
                claimed = conn.execute(
                    "SELECT subscription_id, count(*) FROM outbox WHERE claimed_by IS NOT NULL"
                    " AND subscription_id = 'dnk' GROUP BY 1"
                ).fetchall()
            wait_for(lambda: w.stats.delivered == 12, timeout_s=30, what="all delivered")
        finally:
            w.stop()
    assert claimed == [("dnk", 3)]
    gone = pg_rows(pg_dsn, subscription_id="gone")
    assert len(gone) == 12
    assert {r["status"] for r in gone} == {"pending"}
    assert all(r["last_error"] is None for r in gone)


def test_a_worker_whose_connection_is_killed_reconnects_and_loses_nothing(
    pg: PostgresStore, pg_dsn: str, pg_base_dsn: str
) -> None:
    # The server ends the worker's session (a failover, an operator's pg_terminate_backend):
    # the worker reconnects, and what it had not recorded is recorded or sent again.
    with HttpReceiver() as rx:
        subs = [sub("dnk", hook(rx.url))]
        sink = OutboxSink(pg, subs)
        w = worker(pg_dsn, subs, poll_s=0.05)
        w.start()
        try:
            sink.write(situations(3))
            wait_for(lambda: w.stats.delivered == 9, what="first deliveries")
            with psycopg.connect(pg_base_dsn, autocommit=True) as admin:
                (n,) = admin.execute(  # type: ignore[misc]
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                    " WHERE application_name = 'seawarden-deliver'"
                    # only this database: another xdist worker has its own on the server
                    " AND datname = current_database()"
                ).fetchone()
            assert n >= 1
            more = [make_alert(id=f"{k:04d}dead", mmsi=230_200_000 + k, t=k) for k in range(5)]
            sink.write(more)
            wait_for(lambda: w.stats.delivered == 14, timeout_s=20, what="after the reconnect")
        finally:
            w.stop()
    assert len(rx.view) == 14
    assert {r["status"] for r in pg_rows(pg_dsn)} == {"delivered"}


# -- configuration errors -------------------------------------------------------------------
def test_bad_dsns_give_a_clear_store_error_without_the_password(
    pg_base_dsn: str, tmp_path: Path
) -> None:
    subs = [sub("dnk", hook("http://127.0.0.1:9/alerts"))]
    with pytest.raises(StoreError, match=r"postgresql://nobody@127\.0\.0\.1:1/x: cannot open"):
        worker("postgresql://nobody@127.0.0.1:1/x?connect_timeout=2", subs)
    with pytest.raises(StoreError, match="carries a password") as info:
        worker("postgresql://ops:hunter2@127.0.0.1:1/x", subs)
    assert "hunter2" not in str(info.value)
    runner = CliRunner(env={"SEAWARDEN_SECRET_TEST_HOOK": SECRET})
    yaml = tmp_path / "subs.yaml"
    yaml.write_text(
        "subscriptions:\n" + webhook_subscription("dnk", "DNK", "DNK", "http://127.0.0.1:9/")
    )
    result = runner.invoke(
        app,
        ["deliver", "--store", "postgresql://ops:hunter2@127.0.0.1:1/x", "--subscriptions",
         str(yaml), "--once"],
    )  # fmt: skip
    assert result.exit_code != 0
    assert isinstance(result.exception, StoreError), result.output
    assert "hunter2" not in str(result.exception) + result.output
