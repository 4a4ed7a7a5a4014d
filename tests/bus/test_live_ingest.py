"""``seawarden ingest --tcp`` puts a live feed on the bus exactly as a file ingest would.

A real TCP server (in this test) serves the scenario's NMEA lines — real Solent AIS with a
simulated STS meeting and anchor drag, tag-blocked with station and time — to a real
``seawarden ingest --tcp`` process publishing to a real nats-server. Once every report is
on the stream the process is stopped (SIGTERM, as a supervisor does). The stream must hold
the records a single-process replay feeds its core, in the same order, each once, under
ids unique to the run and without an end marker (a live stream does not end).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import nats.js.errors
import pytest

from seawarden.bus.codec import decode
from seawarden.bus.server import NatsServer
from seawarden.bus.streams import EOS_SUBJECT, REPORT_SUBJECTS, REPORTS
from seawarden.pipeline.settings import RunConfig
from tests.bus.busread import read_stream, stream_messages
from tests.bus.conftest import PIPELINE_ARGS
from tests.bus.test_ingest import fed_to_core
from tests.bus.test_kill import _cli

pytestmark = pytest.mark.slow


def _serve_lines(path: Path) -> tuple[int, threading.Thread]:
    """A one-shot TCP server on 127.0.0.1 that sends ``path`` to its first client, then
    keeps the connection open (a receiver does not hang up)."""
    srv = socket.create_server(("127.0.0.1", 0))
    port = srv.getsockname()[1]
    done = threading.Event()

    def run() -> None:
        conn, _ = srv.accept()
        with conn:
            conn.sendall(path.read_bytes())
            done.wait(120)
        srv.close()

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.done = done  # type: ignore[attr-defined]
    return port, t


def _stored(url: str) -> int:
    try:
        return stream_messages(url, REPORTS)
    except nats.js.errors.NotFoundError:  # ingest has not created the stream yet
        return 0


def test_a_live_tcp_feed_reaches_the_bus_as_a_file_does(
    nats_server: NatsServer, scenario_nmea: Path, tmp_path: Path
) -> None:
    cfg = RunConfig(
        areas=PIPELINE_ARGS["areas"], watchlists=(PIPELINE_ARGS["watchlist"],), detectors=None
    )
    expected, _ = fed_to_core([scenario_nmea], cfg)
    port, server = _serve_lines(scenario_nmea)
    out = tmp_path / "ingest.out"
    with out.open("wb") as fh:
        proc = subprocess.Popen(
            _cli("ingest", "--tcp", f"127.0.0.1:{port}", "--bus", nats_server.url,
                 "--partitions", "2", "--lateness-s", "60"),
            stdout=fh, stderr=fh, env={**os.environ, "SEAWARDEN_LOG_LEVEL": "WARNING"},
        )  # fmt: skip
    try:
        # The orderer holds the newest minute of event time until the feed has been quiet
        # for the lateness bound (60 s); once the stream stops growing for 3 s the whole
        # feed has been read, and the SIGTERM must flush what is held.
        deadline = time.monotonic() + 120
        last, since = -1, time.monotonic()
        while time.monotonic() - since < 3.0:
            assert proc.poll() is None, out.read_text()
            assert time.monotonic() < deadline, "the live ingest did not settle"
            now = _stored(nats_server.url)
            if now != last:
                last, since = now, time.monotonic()
            time.sleep(0.2)
        assert 0 < last < len(expected)  # the tail is still held
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0, out.read_text()
    finally:
        server.done.set()  # type: ignore[attr-defined]
        if proc.poll() is None:
            proc.kill()
            proc.wait()

    msgs = read_stream(nats_server.url, REPORTS, list(REPORT_SUBJECTS))
    assert all(m.subject != EOS_SUBJECT for m in msgs)
    got = [decode(m.data) for m in msgs]
    assert got == expected  # field for field, in release order
    ids = [m.msg_id for m in msgs]
    run_id = str(ids[0]).rsplit(":", 1)[0]
    assert run_id.startswith("live-")
    assert ids == [f"{run_id}:{i}" for i in range(len(expected))]
    assert f"{len(expected):,} reports published" in out.read_text()
