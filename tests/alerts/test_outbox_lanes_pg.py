"""Regression tests for the shared PostgreSQL outbox (review of issue 7): a recipient's
reply holding NUL, a worker with an older subscriptions config, and a lane's order and pause
across two deliverers. Each failed on the code before the fix (real PostgreSQL, real HTTP)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import orjson
import pytest

from seawarden.alerts.outbox import OutboxSink
from seawarden.store.postgres import PostgresStore
from tests.alerts.factories import make_alert, revise
from tests.alerts.receivers import HttpReceiver, Request, wait_for
from tests.alerts.test_outbox_pg import hook, pg_rows, sub, worker
from tests.store import conftest as store_fixtures

pg_base_dsn = store_fixtures.pg_base_dsn
pg_dsn = store_fixtures.pg_dsn


@pytest.fixture
def pg(pg_dsn: str) -> Iterator[PostgresStore]:
    s = PostgresStore(pg_dsn)
    yield s
    s.close()


class _NulReply(BaseHTTPRequestHandler):
    """A recipient whose 500 reply carries NUL and other control bytes."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        body = b"upstream\x00error\x1b[0m"
        self.send_response(500)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def test_a_reply_with_nul_is_recorded_cleaned_and_delivery_goes_on(
    pg: PostgresStore, pg_dsn: str
) -> None:
    bad = ThreadingHTTPServer(("127.0.0.1", 0), _NulReply)
    threading.Thread(target=bad.serve_forever, daemon=True).start()
    try:
        with HttpReceiver() as rx:
            subs = [
                sub("aaa", hook(f"http://127.0.0.1:{bad.server_address[1]}/a")),
                sub("dnk", hook(rx.url)),
            ]
            sink = OutboxSink(pg, subs)
            sink.write([make_alert(id="a1", mmsi=230000001)])
            w = worker(pg_dsn, subs, poll_s=0.05)
            w.start()
            try:
                wait_for(lambda: any(r["attempts"] for r in pg_rows(pg_dsn, subscription_id="aaa")))
                sink.write([make_alert(id="a2", mmsi=230000002)])  # after the bad reply
                wait_for(lambda: len(rx.alerts()) == 2, what="both alerts at dnk")
                assert w.failed is None
            finally:
                w.stop()
    finally:
        bad.shutdown()
        bad.server_close()
    errors = [
        str(r["last_error"]) for r in pg_rows(pg_dsn, subscription_id="aaa") if r["last_error"]
    ]
    assert errors
    assert all("\x00" not in e and "\\x00" in e for e in errors)


def test_a_worker_with_an_older_config_leaves_a_new_subscription_s_rows_pending(
    pg: PostgresStore, pg_dsn: str
) -> None:
    with HttpReceiver() as rx:
        dnk, fin = sub("dnk", hook(rx.url)), sub("fin", hook(rx.url))
        OutboxSink(pg, [dnk, fin]).write([make_alert(id="a1", mmsi=230000001)])
        old, new = worker(pg_dsn, [dnk]), worker(pg_dsn, [dnk, fin])
        try:
            old.run_once()
            new.run_once()
        finally:
            old.stop()
            new.stop()
    got = {r["subscription_id"]: r["status"] for r in pg_rows(pg_dsn)}
    assert got == {"dnk": "delivered", "fin": "delivered"}


def test_a_cancel_waits_behind_a_failed_alert_whichever_worker_holds_it(
    pg: PostgresStore, pg_dsn: str
) -> None:
    a1 = make_alert(id="a1", mmsi=230000001)
    a2 = revise(a1, "Cancel", severity="low", score=5.0)

    def behaviour(n: int, req: Request) -> tuple[int, dict[str, str]]:
        if orjson.loads(req.body)["alert"]["revision"] == 1:
            time.sleep(0.3)
            return 500, {"Retry-After": "30"}
        return 200, {}

    with HttpReceiver(behaviour=behaviour) as rx:
        dnk = sub("dnk", hook(rx.url))
        sink = OutboxSink(pg, [dnk])
        ws = [worker(pg_dsn, [dnk], lane_depth=1, batch=1, poll_s=0.02) for _ in range(2)]
        try:
            ws[0].start()
            sink.write([a1])
            time.sleep(0.1)  # a1 is in flight at worker 0
            sink.write([a2])
            ws[1].start()
            wait_for(lambda: any(r["attempts"] == 1 for r in pg_rows(pg_dsn)), what="a1 failed")
            time.sleep(1.0)  # both workers poll while the lane is paused
        finally:
            for w in ws:
                w.stop()
    state = {r["revision"]: r["status"] for r in pg_rows(pg_dsn)}
    assert state == {1: "pending", 2: "pending"}
