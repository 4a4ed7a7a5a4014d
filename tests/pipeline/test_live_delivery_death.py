"""``seawarden live`` stops within seconds when its delivery worker dies, alerts or not.

The worker used to be checked only when the pipeline queued an alert, or at shutdown: on a
quiet feed a ``live`` whose delivery thread had died ran on, sending nothing. Now the
one-second tick asks too. Real subprocess, real PostgreSQL store; the worker is killed as in
tests/alerts/test_delivery_failures_pg.py (a trigger refuses every outbox UPDATE, so its
first claim fails with a non-transient error), on a feed that connects and stays silent.
"""

from __future__ import annotations

import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from seawarden.alerts.outbox import OutboxSink
from seawarden.store.postgres import PostgresStore
from tests.alerts.factories import make_alert
from tests.alerts.receivers import HttpReceiver
from tests.alerts.test_delivery_failures_pg import (
    CLI,
    REFUSE_UPDATES,
    _env,
    _sql,
    _subscriptions,
)
from tests.alerts.test_outbox_pg import hook, sub
from tests.store import conftest as store_fixtures

pg_base_dsn = store_fixtures.pg_base_dsn
pg_dsn = store_fixtures.pg_dsn


@pytest.fixture
def silent_feed() -> Iterator[int]:
    """A TCP NMEA server that accepts and never sends a line; yields its port."""
    srv = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []

    def serve() -> None:
        while True:
            try:
                conn, _ = srv.accept()
            except OSError:
                return
            held.append(conn)

    threading.Thread(target=serve, daemon=True).start()
    yield srv.getsockname()[1]
    srv.close()
    for c in held:
        c.close()


def test_live_exits_1_soon_after_its_delivery_worker_dies_on_a_quiet_feed(
    pg_dsn: str, tmp_path: Path, silent_feed: int
) -> None:
    PostgresStore(pg_dsn).close()  # migrates the test's schema
    with HttpReceiver() as rx:
        subs_file = _subscriptions(tmp_path, rx.url)
        _sql(pg_dsn, REFUSE_UPDATES)
        proc = subprocess.Popen(
            [*CLI, "live", "--tcp", f"127.0.0.1:{silent_feed}", "--store", pg_dsn,
             "--subscriptions", str(subs_file)],
            env=_env(),
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )  # fmt: skip
        try:
            time.sleep(2.0)
            assert proc.poll() is None, proc.communicate(timeout=10)
            # A row queued by someone else (another runner): the live worker's claim of it
            # fails, and its thread dies. The feed brings no alert to notice it by.
            store = PostgresStore(pg_dsn)
            try:
                OutboxSink(store, [sub("fin-moc", hook(rx.url))]).write([make_alert(id="q1")])
            finally:
                store.close()
            died = time.monotonic()
            _, err = proc.communicate(timeout=30)
            took = time.monotonic() - died
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate(timeout=10)
    text = err.decode(errors="replace")
    assert proc.returncode == 1, text
    assert "the delivery worker stopped" in text
    assert "outbox updates refused by the test" in text
    assert "seawarden deliver --store" in text  # what to do about the queued rows
    assert took < 15, f"live took {took:.1f} s to stop"
    assert rx.alerts() == []
