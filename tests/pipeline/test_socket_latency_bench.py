"""bench/socket_latency.py's bookkeeping: matching revisions to trigger lines, and the sender.

The benchmark prints figures and never asserts; these check what its figures rest on (a
revision matched to the wrong line, an end-of-stream flush counted as live latency, a
sender that sends early or mangles lines), on small inputs, without running the pipeline.
"""

from __future__ import annotations

import math
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import IO

import numpy as np
import pytest

from tests.conftest import load_bench

BENCH = Path(__file__).resolve().parents[2] / "bench"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return load_bench("socket_latency")


def test_a_revision_matches_its_vessels_line_first_then_the_time_alone(
    bench: ModuleType,
) -> None:
    triggers = bench.Triggers()
    triggers.add(111, 100.0, 0)  # another vessel, same instant: first line of that time
    triggers.add(222, 100.0, 1)
    triggers.add(111, 103.0, 2)
    sent = [10.0, 10.5, 11.0]
    due = [9.9, 10.4, 10.9]
    read = [10.2, 10.6, 11.3]
    commits = [
        bench.Commit(222, 100.0, 10.62),  # its own report: line 1, not line 0
        bench.Commit(999, 103.0, 11.4),  # a tick at 103 s: the first line of that time
    ]
    m = bench.match(commits, triggers, sent, due, read, stopped=20.0)
    assert m.from_send_ms == pytest.approx([120.0, 400.0])
    assert m.from_read_ms == pytest.approx([20.0, 100.0])
    assert m.from_due_ms == pytest.approx([220.0, 500.0])
    assert (m.unmatched, m.at_end) == (0, 0)


def test_end_of_stream_revisions_are_left_out_and_unmatched_ones_counted(
    bench: ModuleType,
) -> None:
    triggers = bench.Triggers()
    triggers.add(111, 100.0, 0)
    triggers.add(222, 200.0, 1)  # never read (a lost UDP datagram)
    sent, due, read = [1.0, 2.0], [1.0, 2.0], [1.1, math.nan]
    commits = [
        bench.Commit(111, 100.0, 1.2),
        bench.Commit(111, 100.0, 9.0),  # after the feed stopped at 5 s: the flush
        bench.Commit(333, 300.0, 1.5),  # no line of that time
        bench.Commit(222, 200.0, 2.5),
    ]
    m = bench.match(commits, triggers, sent, due, read, stopped=5.0)
    assert m.from_send_ms == pytest.approx([200.0])
    assert (m.unmatched, m.at_end) == (2, 1)


def test_percentiles_are_nearest_rank_and_nan_when_empty(bench: ModuleType) -> None:
    values = [float(v) for v in range(1, 101)]  # 1 … 100
    assert bench.pct(values, 0.5) == 51.0  # round(0.5 × 99) = 50 -> the 51st
    assert bench.pct(values, 0.99) == 99.0
    assert bench.pct(values[::-1], 0.99) == 99.0  # order of the input does not matter
    assert math.isnan(bench.pct([], 0.99))


@contextmanager
def _sender(
    tmp_path: Path, proto: str, rate: float, lines: list[bytes], port: int = 0
) -> Iterator[tuple[IO[bytes], IO[bytes], subprocess.Popen[bytes]]]:
    """The bench's sender process: (its stdin, its stdout, the process); killed if the
    test fails before it has finished (the test waits for its exit when all went well)."""
    path, out = tmp_path / "in.nmea", tmp_path / "sent.npy"
    path.write_bytes(b"".join(line + b"\n" for line in lines))
    cmd = [sys.executable, str(BENCH / "socket_latency.py"), "--sender", "--proto", proto]
    cmd += ["--rate", str(rate), "--input", str(path), "--out", str(out), "--port", str(port)]
    with subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE) as proc:
        assert proc.stdout is not None
        assert proc.stdin is not None
        try:
            yield proc.stdin, proc.stdout, proc
        finally:
            if proc.poll() is None:
                proc.kill()


def _check_times(tmp_path: Path, n: int, rate: float) -> None:
    sent, due = np.load(tmp_path / "sent.npy")
    assert len(sent) == n
    assert (sent >= due).all()  # never early
    assert (np.diff(sent) >= 0).all()
    assert due[-1] - due[0] == pytest.approx((n - 1) / rate)


def test_the_tcp_sender_sends_every_line_paced_and_never_early(tmp_path: Path) -> None:
    lines = [f"!AIVDM,1,1,,A,line{i},0*00".encode() for i in range(400)]
    expected = b"".join(line + b"\r\n" for line in lines)
    got = b""
    with _sender(tmp_path, "tcp", 4000.0, lines) as (stdin, stdout, proc):
        ready = stdout.readline().split()
        assert ready[0] == b"ready"
        with socket.create_connection(("127.0.0.1", int(ready[1])), timeout=20) as conn:
            while len(got) < len(expected):
                chunk = conn.recv(65536)
                assert chunk
                got += chunk
            assert stdout.readline() == b"sent\n"
            stdin.close()
            assert proc.wait(20) == 0
    assert got == expected
    _check_times(tmp_path, len(lines), 4000.0)


def test_the_udp_sender_sends_one_sentence_a_datagram(tmp_path: Path) -> None:
    lines = [f"!AIVDM,1,1,,B,udp{i},0*00".encode() for i in range(100)]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as rx:
        rx.bind(("127.0.0.1", 0))
        rx.settimeout(20)
        port = rx.getsockname()[1]
        with _sender(tmp_path, "udp", 2000.0, lines, port=port) as (stdin, stdout, proc):
            assert stdout.readline() == b"ready\n"
            stdin.write(b"go\n")
            stdin.flush()
            got = [rx.recv(2048) for _ in lines]  # 100 small datagrams fit the buffer
            assert stdout.readline() == b"sent\n"
            stdin.close()
            assert proc.wait(20) == 0
    assert got == [line + b"\r\n" for line in lines]
    _check_times(tmp_path, len(lines), 2000.0)
