"""Crash test: SIGKILL a replay with deliveries pending; after restart every alert revision
the store holds reaches the receiver, none twice in its idempotent view.

Input: a simulated Eagle S-style anchor drag over real Baltic AIS (see docs/scenarios.md),
which raises one alert with a few dozen revisions. The receiver is a real HTTP endpoint on
loopback, slow at first so that deliveries pile up in the outbox when the process dies.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from seawarden.sim import simulate
from tests.alerts.receivers import SECRET, HttpReceiver, wait_for, webhook_subscription
from tests.conftest import REPO, SHARED_DATA

BALTIC = SHARED_DATA / "tracks/baltic-cargo-2020/baltic_cargo_20201101.csv"

pytestmark = pytest.mark.slow


def _cli(*args: str | Path) -> list[str]:
    return [sys.executable, "-c", "from seawarden.cli import main; main()", *map(str, args)]


def _outbox(db: Path) -> dict[str, int]:
    if not db.exists():
        return {}
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        rows = conn.execute("SELECT status, COUNT(*) FROM outbox GROUP BY status").fetchall()
    except sqlite3.OperationalError:  # table not created yet
        return {}
    finally:
        conn.close()
    return {str(s): int(n) for s, n in rows}


@pytest.mark.skipif(not BALTIC.is_file(), reason="needs ../shared/data (real Baltic AIS)")
def test_sigkill_with_deliveries_pending_then_restart_delivers_each_revision_once(
    tmp_path: Path,
) -> None:
    nmea, labels = tmp_path / "sim.nmea", tmp_path / "labels.jsonl"
    simulate(nmea, labels, scenarios=["anchor_drag_slowdown"], background=BALTIC, seed=11)
    db = tmp_path / "warden.db"
    env = {**os.environ, "SEAWARDEN_SECRET_TEST_HOOK": SECRET, "SEAWARDEN_LOG_LEVEL": "WARNING"}
    with HttpReceiver(delay_s=0.4) as rx:
        subs = tmp_path / "subscriptions.yaml"
        subs.write_text(
            "subscriptions:\n" + webhook_subscription("fin-moc", "Finland MOC", "FIN", rx.url)
        )
        replay = _cli(
            "replay", nmea, "--areas", REPO / "config/areas.geojson",
            "--watchlist", REPO / "config/watchlist.csv", "--store", db,
            "--subscriptions", subs, "--checkpoint-every", "2000", "-q",
        )  # fmt: skip
        with (tmp_path / "killed.log").open("wb") as log:
            proc = subprocess.Popen(replay, env=env, cwd=tmp_path, stderr=log)
        try:
            wait_for(
                lambda: _outbox(db).get("delivered", 0) >= 1 and _outbox(db).get("pending", 0) >= 3,
                timeout_s=120,
                what="deliveries in flight",
            )
            proc.send_signal(signal.SIGKILL)
            proc.wait(30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(30)
        killed = _outbox(db)
        assert killed.get("pending", 0) >= 3, killed  # the crash left deliveries pending
        conn = sqlite3.connect(db)
        (status,) = conn.execute("SELECT status FROM runs").fetchone()
        conn.close()
        assert status == "running"  # killed mid-replay, not after it

        rx.delay_s = 0.0  # the recipient is fine again
        resumed = subprocess.run(
            [*replay, "--resume"], env=env, cwd=tmp_path, capture_output=True, timeout=300
        )
        assert resumed.returncode == 0, resumed.stderr.decode()[-2000:]
        drained = subprocess.run(
            _cli("deliver", "--store", db, "--subscriptions", subs, "--once"),
            env=env,
            cwd=tmp_path,
            capture_output=True,
            timeout=120,
        )
        assert drained.returncode == 0, drained.stderr.decode()[-2000:]
        assert "outbox_pending=0" in drained.stdout.decode()

        conn = sqlite3.connect(db)
        stored = sorted(conn.execute("SELECT id, revision FROM alerts").fetchall())
        statuses = {s for (s,) in conn.execute("SELECT status FROM outbox")}
        conn.close()
        got = sorted(rx.alerts())
        requests = len(rx.requests)
    assert len(stored) >= 10
    assert statuses == {"delivered"}
    assert got == stored  # every revision the store holds, and each once in the view
    assert len(rx.view) == len(stored)  # the idempotency key survived the restart
    assert all(r.verified for r in rx.requests)
    assert requests >= len(stored)
