"""``seawarden serve``: the pipeline, the delivery worker, the API and the console, one process.

The embedded deployment a coast-guard watch floor runs on one machine: a live feed (TCP,
UDP, or a recorded file replayed at a chosen pace) goes through the pipeline in its own
thread; the API serves the store and the pipeline's live picture; the console is static
files on the same origin. ``--demo`` needs nothing at all: it lays simulated scenario
vessels (an EAGLE S-style anchor drag among them) over bundled real Baltic traffic and
replays that as a live feed, so an alert appears within a minute at the default pace.

Once the socket is bound, ``listening on http://HOST:PORT`` is printed on stdout (flushed):
with ``--port 0`` that line is how a test or a script learns the port.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import sys
import threading
import webbrowser
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import uvicorn

from seawarden.alerts.cli_deliver import Delivery, maybe_start
from seawarden.alerts.sinks import AlertSink, LogAlertSink
from seawarden.api import db, managed
from seawarden.api.app import create_app
from seawarden.api.hub import Hub
from seawarden.api.link import Feed, PipelineLink
from seawarden.api.settings import ApiSettings
from seawarden.areas.index import AreaIndex
from seawarden.errors import ConfigError, StoreError
from seawarden.pipeline.live import LiveRunner
from seawarden.pipeline.sinks import EventSink
from seawarden.store import Store, open_store

log = logging.getLogger("seawarden.api.serve")
PACKAGE_DATA = Path(__file__).resolve().parents[1] / "data"
DEMO_BACKGROUND = PACKAGE_DATA / "demo" / "2-baltic-cargo-20201101.csv.gz"
# An EAGLE S-style drag 3 min into the traffic, 15 min of transit before the anchor drops:
# the first alert comes ~23 min of event time in (~25 s at the default 60x).
DEMO_SCENARIOS = ("anchor_drag_slowdown:start_h=0.05,pre_min=15",)
DEMO_SEED = 1


@dataclass(slots=True, kw_only=True)
class ServeOptions:
    store: db.StoreTarget  # a SQLite file or a postgresql:// DSN
    host: str = "127.0.0.1"
    port: int = 8800
    demo: bool = False
    areas: Path | None = None
    watchlists: Sequence[Path] = ()
    subscriptions: Path | None = None
    tcp: str | None = None
    udp: str | None = None
    replay: Sequence[Path] = ()
    speed: float = 60.0
    open_browser: bool = False
    duration_s: float | None = None
    extra_alert_sinks: list[AlertSink] = field(default_factory=list)
    extra_event_sinks: list[EventSink] = field(default_factory=list)
    # non-AIS sources (cli_sources.py): RunConfig keywords sensors/weather/registry/fusion...
    sources: dict[str, Any] = field(default_factory=dict)


def split_endpoint(text: str, what: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"{what} {text!r}: expected HOST:PORT (port 1-65535)")
    return host.strip("[]"), int(port)


def demo_feed_file(store: db.StoreTarget) -> Path:
    """Write (once) the demo's scenario file next to the store (a PostgreSQL store: in the
    temporary directory) and return its path."""
    import tempfile

    from seawarden.sim import simulate

    if isinstance(store, Path):
        out = store.with_name(store.name + ".demo-sim.nmea")
    else:
        out = Path(tempfile.gettempdir()) / "seawarden-demo-sim.nmea"
    if not out.is_file():
        if not DEMO_BACKGROUND.is_file():
            raise ConfigError(f"demo data missing: {DEMO_BACKGROUND}; reinstall seawarden")
        log.info("building the demo feed %s (scenario vessels over real Baltic traffic)", out)
        simulate(
            out,
            out.with_suffix(".labels.jsonl"),
            scenarios=list(DEMO_SCENARIOS),
            background=DEMO_BACKGROUND,
            seed=DEMO_SEED,
        )
    return out


def default_areas(given: Path | None) -> Path | None:
    if given is not None:
        return given
    for p in (Path("config/areas.geojson"), PACKAGE_DATA / "areas.geojson"):
        if p.is_file():
            return p
    return None


def default_watchlists(given: Sequence[Path], demo: bool) -> list[Path]:
    if given:
        return list(given)
    found = [p for p in (Path("config/watchlist.csv"),) if p.is_file()]
    if demo and (PACKAGE_DATA / "demo-watchlist.csv").is_file():
        found.append(PACKAGE_DATA / "demo-watchlist.csv")
    return found


def seed_managed(store: db.StoreTarget, areas: Path | None, watchlists: Sequence[Path]) -> None:
    with db.connection(store) as conn:
        managed.ensure_schema(conn)
        n = managed.seed_areas(conn, areas, "system:serve")
        if n:
            log.info("areas: %d seeded from %s", n, areas)
        elif areas is not None:
            log.info("areas: the store's (managed over the API); %s not re-read", areas)
        n = managed.seed_watchlist(conn, watchlists, "system:serve")
        if n:
            log.info("watchlist: %d entries seeded from %s", n, ", ".join(map(str, watchlists)))


def build_link(opts: ServeOptions, store_db: Store, alert_sinks: list[AlertSink]) -> PipelineLink:
    """The live runner on the managed areas and watchlist, wired to a fresh hub."""
    from seawarden.cli import PositionsMode, _config  # the CLI's config builder (no cycle)

    cfg = _config(
        areas=None,
        watchlists=[],
        fmt=None,
        lateness_s=60.0 if opts.replay or not (opts.tcp or opts.udp) else 10.0,
        dedup_window_s=3.0,
        positions=PositionsMode.sampled,
        assume_time=None,
        sources=opts.sources,
    )
    runner = LiveRunner(
        cfg, store=store_db, sinks=list(opts.extra_event_sinks), alert_sinks=alert_sinks
    )
    with db.connection(opts.store) as conn:
        found = managed.areas(conn)
        wl = managed.watchlist(conn)
    runner.core.replace_areas(AreaIndex(found) if found else None)
    runner.core.replace_watchlist(wl if len(wl) else None)
    return PipelineLink(runner, Hub())


def feed_for(opts: ServeOptions, files: Sequence[Path]) -> Feed | None:
    if opts.tcp:
        host, port = split_endpoint(opts.tcp, "--tcp")
        return lambda runner, stop: runner.run_tcp(host, port, stop)
    if opts.udp:
        host, port = split_endpoint(opts.udp, "--udp")
        return lambda runner, stop: runner.run_udp(host, port, stop)
    if files:
        return lambda runner, stop: runner.run_paced(list(files), opts.speed, stop)
    return None


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def url_of(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def run(opts: ServeOptions, *, app_settings: ApiSettings) -> LiveRunner | None:
    """Run until Ctrl-C / SIGTERM (or ``duration_s``); returns the pipeline's runner."""
    files = list(opts.replay)
    if opts.demo and not (opts.tcp or opts.udp or files):
        files = [demo_feed_file(opts.store)]
    seed_managed(
        opts.store, default_areas(opts.areas), default_watchlists(opts.watchlists, opts.demo)
    )
    feed = feed_for(opts, files)
    # the pipeline writes the API's store (a file or the PostgreSQL database) through its own
    # connection
    store_db = open_store(opts.store) if feed is not None else None
    delivery = maybe_start(opts.subscriptions, store_db, demo=opts.demo) if store_db else None
    link = None
    if feed is not None and store_db is not None:
        sinks: list[AlertSink] = [LogAlertSink(), *opts.extra_alert_sinks]
        if delivery is not None:
            sinks.append(delivery.sink)
        link = build_link(opts, store_db, sinks)
    app = create_app(app_settings, link=link, hub=link.hub if link else None, console=True)
    sock = _bind(opts.host, opts.port)
    url = url_of(opts.host, sock.getsockname()[1])
    config = uvicorn.Config(
        app, server_header=False, log_level="warning", timeout_graceful_shutdown=5
    )
    server = _Server(config, hub=link.hub if link is not None else app.state.hub)
    if delivery is not None and delivery.worker is not None:
        app.state.wake_delivery = _waker(delivery, server)
    if link is not None and feed is not None:
        link.start(feed)
        what = opts.tcp or opts.udp or ", ".join(p.name for p in files)
        log.info("pipeline: %s%s", what, f" at {opts.speed:g}x" if files else "")
    sys.stdout.write(f"listening on {url}\n")
    sys.stdout.flush()
    if opts.duration_s is not None:
        timer = threading.Timer(opts.duration_s, server.request_exit)
        timer.daemon = True
        timer.start()
    if opts.open_browser:
        threading.Timer(1.0, webbrowser.open, args=(url + "/",)).start()
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
        if link is not None:
            link.stop()
        if delivery is not None:
            delivery.close(wait_s=5.0)
        if store_db is not None:
            store_db.close()
        if link is not None:
            r = link.runner
            log.info(
                "served: %d records, %d vessels, alerts %s, rejected %s",
                r.records,
                len(r.core.fleet),
                dict(r.alerts),
                dict(r.rejections),
            )
    return link.runner if link is not None else None


def _waker(delivery: Delivery, server: _Server) -> Callable[[], None]:
    """What the API calls after writing outbox rows (an operator's cancel): wake the worker,
    and stop serving if its thread has died (the rows stay queued, nobody would send them;
    the shutdown then reports it and exits 1)."""

    def wake() -> None:
        if delivery.worker is not None:
            delivery.worker.wake()
        try:
            delivery.check()
        except StoreError:  # logged by check(); the request that woke it has succeeded
            server.request_exit()

    return wake


class _Server:
    """uvicorn's server, ending the live streams first so shutdown does not wait on them."""

    def __init__(self, config: uvicorn.Config, *, hub: Hub) -> None:
        hub_ref = hub

        class Server(uvicorn.Server):
            def handle_exit(self, sig: int, frame: FrameType | None) -> None:
                hub_ref.close_all()
                super().handle_exit(sig, frame)

        self.server = Server(config)
        self.hub = hub

    def request_exit(self) -> None:
        self.hub.close_all()
        self.server.should_exit = True

    def run(self, sockets: list[socket.socket]) -> None:
        # uvicorn re-raises the signal it stopped on; Ctrl-C / SIGTERM is a normal stop here
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(self.server.serve(sockets=sockets))
