"""`seawarden live --store postgresql://… --subscriptions` with a second `seawarden deliver`
beside it: alerts from a live TCP feed reach the ally once each, from a shared outbox.

The same simulated Eagle S-style anchor drag over real Baltic AIS as test_live_delivery.py,
served over loopback TCP; the store is a real PostgreSQL (tests/store/conftest.py). The
runner's own delivery worker and a separate deliverer process claim rows from the one
outbox: every revision the store committed for the recipient arrives, none twice, and the
audit log records one ``delivery.ok`` per delivery.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from seawarden.alerts import outbox_pg
from seawarden.sim import simulate
from seawarden.store import audit
from tests.alerts.receivers import SECRET, HttpReceiver, wait_for, webhook_subscription
from tests.alerts.test_live_delivery import BALTIC, _serve_once
from tests.conftest import REPO
from tests.store import conftest as store_fixtures

pg_base_dsn = store_fixtures.pg_base_dsn
pg_dsn = store_fixtures.pg_dsn

pytestmark = pytest.mark.slow


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


@pytest.mark.skipif(not BALTIC.is_file(), reason="needs ../shared/data (real Baltic AIS)")
def test_live_on_postgres_with_a_second_deliverer_delivers_each_revision_once(
    pg_dsn: str, tmp_path: Path
) -> None:
    nmea, labels = tmp_path / "sim.nmea", tmp_path / "labels.jsonl"
    simulate(nmea, labels, scenarios=["anchor_drag_slowdown"], background=BALTIC, seed=11)
    port, feeder = _serve_once(nmea.read_bytes().splitlines(keepends=True))
    env = {**os.environ, "SEAWARDEN_SECRET_TEST_HOOK": SECRET, "SEAWARDEN_LOG_LEVEL": "WARNING"}
    cli = [sys.executable, "-c", "from seawarden.cli import main; main()"]
    with HttpReceiver() as fin:
        subs = tmp_path / "subscriptions.yaml"
        subs.write_text(
            "subscriptions:\n" + webhook_subscription("fin-moc", "Finland MOC", "FIN", fin.url)
        )
        live = [
            *cli, "live", "--tcp", f"127.0.0.1:{port}", "--lateness-s", "60",
            "--areas", str(REPO / "config/areas.geojson"),
            "--watchlist", str(REPO / "config/watchlist.csv"),
            "--store", pg_dsn, "--subscriptions", str(subs),
        ]  # fmt: skip
        deliver = [*cli, "deliver", "--store", pg_dsn, "--subscriptions", str(subs)]
        out = tmp_path / "deliver.out"
        with (tmp_path / "live.log").open("wb") as log, out.open("wb") as stats:
            procs = [
                subprocess.Popen(live, env=env, cwd=tmp_path, stderr=log),
                subprocess.Popen(deliver, env=env, cwd=tmp_path, stderr=log, stdout=stats),
            ]
        try:
            wait_for(lambda: len(fin.alerts()) >= 2, timeout_s=150, what="live deliveries")
            with psycopg.connect(pg_dsn) as conn:
                wait_for(
                    lambda: outbox_pg.counts_by_status(conn)["pending"] == 0,
                    timeout_s=30,
                    what="outbox drained",
                )
        finally:
            for p in procs:
                _stop(p)
        feeder.join(timeout=5)
        log_text = (tmp_path / "live.log").read_text(errors="replace")
        with psycopg.connect(pg_dsn) as conn:
            stored = {(str(a), int(r)) for a, r in conn.execute("SELECT id, revision FROM alerts")}
            rows = outbox_pg.deliveries(conn)
            ok = audit.entries(conn, action_prefix="delivery.ok")
    delivered = fin.alerts()
    assert delivered, log_text
    assert set(delivered) <= stored  # only what the store committed went out
    assert {r["status"] for r in rows} == {"delivered"}, log_text
    assert sorted(delivered) == sorted((str(r["alert_id"]), int(r["revision"])) for r in rows)  # type: ignore[call-overload]
    assert fin.duplicates == 0
    assert len(fin.requests) == len(delivered)
    assert all(r.verified for r in fin.requests)
    assert len(ok) == len(rows)
    # the second deliverer ran beside the runner's own worker and stopped cleanly
    assert procs[1].returncode == 0, log_text
    assert "delivered=" in out.read_text(), log_text
