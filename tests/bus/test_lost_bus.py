"""A bus lost for good ends ``seawarden worker`` and ``bus-dispatch`` with a clear error.

A real nats-server is started, the command is started as a real process against it, and
once the server lists the command's connection the server is SIGKILLed and not restarted.
With a reconnect budget of 2 attempts 0.2 s apart the process must exit within seconds
with status 1 and ``error: lost the bus at …`` (the ``SourceError`` the CLI prints), and
no Python traceback. The default budget (60 × 1 s) is what rides out a broker restart;
this test shortens it only to keep the run short.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from seawarden.bus.server import NatsServer
from tests.bus.test_kill import SUBSCRIPTIONS

BUDGET = ["--reconnect-attempts", "2", "--reconnect-wait-s", "0.2"]
EXIT_WITHIN_S = 10.0  # the budget is ~1 s; the default budget would take ~60 s


def _cli(*args: str | Path) -> list[str]:
    return [sys.executable, "-c", "from seawarden.cli import main; main()", *map(str, args)]


def _connected(server: NatsServer, name: str) -> bool:
    url = f"http://127.0.0.1:{server.monitor_port}/connz"
    try:
        with urllib.request.urlopen(url, timeout=1.0) as resp:
            conns = json.loads(resp.read())["connections"] or []
    except (urllib.error.URLError, OSError):
        return False
    return any(c.get("name") == name for c in conns)


def _lose_bus_under(cmd: list[str], server: NatsServer, name: str) -> tuple[int, str, float]:
    """Run ``cmd``, kill the server once ``name`` is connected; (status, output, seconds
    from the kill to the exit)."""
    env = {**os.environ, "COLUMNS": "200"}  # the error line unwrapped
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    )
    try:
        deadline = time.monotonic() + 60
        while not _connected(server, name):
            if proc.poll() is not None or time.monotonic() > deadline:
                out = proc.communicate(timeout=10)[0]
                pytest.fail(f"{name} never connected (status {proc.poll()}):\n{out}")
            time.sleep(0.1)
        time.sleep(0.5)  # inside its fetch loop, past stream setup
        server.kill()  # for good: never restarted
        killed = time.monotonic()
        try:
            out = proc.communicate(timeout=EXIT_WITHIN_S + 60)[0]
        except subprocess.TimeoutExpired:
            proc.kill()
            out = proc.communicate()[0]
            pytest.fail(f"{name} still running {EXIT_WITHIN_S + 60:g} s after the bus died")
        return proc.returncode, out, time.monotonic() - killed
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _assert_clear_exit(status: int, out: str, took_s: float, url: str) -> None:
    assert "Traceback" not in out, out
    assert status == 1, out
    assert f"error: lost the bus at {url}" in out, out
    assert took_s < EXIT_WITHIN_S, f"exited {took_s:.1f} s after the bus died:\n{out}"


def test_worker_exits_cleanly_when_the_bus_is_gone(tmp_path: Path) -> None:
    with NatsServer() as server:
        cmd = _cli(
            "worker", "--bus", server.url, "--partitions", "0/1", "--no-detectors",
            "--store", tmp_path / "w.db", *BUDGET,
        )  # fmt: skip
        status, out, took_s = _lose_bus_under(cmd, server, "seawarden-worker-0/1")
        _assert_clear_exit(status, out, took_s, server.url)


def test_bus_dispatch_exits_cleanly_when_the_bus_is_gone(tmp_path: Path) -> None:
    subs = tmp_path / "subscriptions.yaml"
    subs.write_text(SUBSCRIPTIONS, encoding="utf-8")
    with NatsServer() as server:
        cmd = _cli(
            "bus-dispatch", "--bus", server.url, "--store", tmp_path / "d.db",
            "--subscriptions", subs, *BUDGET,
        )  # fmt: skip
        status, out, took_s = _lose_bus_under(cmd, server, "seawarden-bus-dispatch")
        _assert_clear_exit(status, out, took_s, server.url)


def test_reconnect_budget_is_validated(tmp_path: Path) -> None:
    """A budget of no reconnects at all is refused before anything connects."""
    run = subprocess.run(
        _cli("worker", "--bus", "nats://127.0.0.1:1", "--partitions", "0/1",
             "--store", tmp_path / "w.db", "--reconnect-attempts", "0"),
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert run.returncode == 1, run.stderr
    assert "--reconnect-attempts must be at least 1" in run.stderr
    assert "Traceback" not in run.stderr
