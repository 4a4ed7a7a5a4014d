"""`seawarden live --subscriptions`: alerts raised from a live TCP feed reach the allies.

The feed is a simulated Eagle S-style anchor drag over real Baltic AIS (docs/scenarios.md),
served over a real loopback TCP socket as a receiver would; the recipient is a real HTTP
endpoint that checks signatures. Releasability is checked on the live path too: a recipient
whose audience the alerts' marking does not cover receives nothing.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from seawarden.sim import simulate
from tests.alerts.receivers import SECRET, HttpReceiver, wait_for, webhook_subscription
from tests.conftest import REPO, SHARED_DATA

BALTIC = SHARED_DATA / "tracks/baltic-cargo-2020/baltic_cargo_20201101.csv"

pytestmark = pytest.mark.slow


def _serve_once(lines: list[bytes]) -> tuple[int, threading.Thread]:
    srv = socket.create_server(("127.0.0.1", 0))
    port = srv.getsockname()[1]

    def run() -> None:
        srv.settimeout(60)
        try:
            conn, _ = srv.accept()
        except TimeoutError:
            return
        with conn:
            for i in range(0, len(lines), 500):
                conn.sendall(b"".join(lines[i : i + 500]))
            # keep the connection open: a live feed does not end
            conn.settimeout(60)
            with contextlib.suppress(TimeoutError, OSError):
                conn.recv(1)
        srv.close()

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return port, t


def _alert_revisions(db: Path) -> set[tuple[str, int]]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        return {(str(a), int(r)) for a, r in conn.execute("SELECT id, revision FROM alerts")}
    except sqlite3.OperationalError:
        return set()
    finally:
        conn.close()


@pytest.mark.skipif(not BALTIC.is_file(), reason="needs ../shared/data (real Baltic AIS)")
def test_live_feed_alerts_are_delivered_to_cleared_recipients_only(tmp_path: Path) -> None:
    nmea, labels = tmp_path / "sim.nmea", tmp_path / "labels.jsonl"
    simulate(nmea, labels, scenarios=["anchor_drag_slowdown"], background=BALTIC, seed=11)
    port, feeder = _serve_once(nmea.read_bytes().splitlines(keepends=True))
    db = tmp_path / "warden.db"
    env = {**os.environ, "SEAWARDEN_SECRET_TEST_HOOK": SECRET, "SEAWARDEN_LOG_LEVEL": "WARNING"}
    with HttpReceiver() as fin, HttpReceiver() as narrow:
        subs = tmp_path / "subscriptions.yaml"
        subs.write_text(
            "subscriptions:\n"
            + webhook_subscription("fin-moc", "Finland MOC", "FIN", fin.url)
            # Alerts are marked REL JEF (config/risk.yaml); the US is not in JEF.
            + webhook_subscription("usa-liaison", "US liaison", "USA", narrow.url)
        )
        cmd = [
            sys.executable, "-c", "from seawarden.cli import main; main()",
            "live", "--tcp", f"127.0.0.1:{port}", "--lateness-s", "60",
            "--areas", str(REPO / "config/areas.geojson"),
            "--watchlist", str(REPO / "config/watchlist.csv"),
            "--store", str(db), "--subscriptions", str(subs),
        ]  # fmt: skip
        with (tmp_path / "live.log").open("wb") as log:
            proc = subprocess.Popen(cmd, env=env, cwd=tmp_path, stderr=log)
        try:
            wait_for(lambda: len(fin.alerts()) >= 2, timeout_s=150, what="live deliveries")
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        feeder.join(timeout=5)
        stored = _alert_revisions(db)
        delivered = fin.alerts()
        log_text = (tmp_path / "live.log").read_text(errors="replace")
        assert delivered, log_text
        assert set(delivered) <= stored  # only what the store committed went out
        # No crash here: every revision was accepted the first time it was sent.
        assert fin.duplicates == 0
        assert len(fin.requests) == len(delivered)
        assert all(r.verified for r in fin.requests)
        assert narrow.requests == [], "an alert marked REL JEF reached a REL USA recipient"
