"""Commands of the live bus: ``seawarden ingest``, ``worker`` and ``bus-dispatch``.

The options mirror ``replay``'s: ingest takes the input-reading ones (format, lateness,
dedup window, assumed time), the worker the pipeline ones (areas, watchlist, detectors,
risk, model, registry). ``seawarden.cli`` is imported inside the commands (it imports this
module at load time) for its config builder and signal handling.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import orjson
import typer

from seawarden.bus.streams import StreamSettings
from seawarden.cli_options import (
    AreasOpt,
    AssumeTimeOpt,
    DedupWindowOpt,
    DetectorsOpt,
    FormatOpt,
    InputFormat,
    ModelOpt,
    NoDetectorsOpt,
    PositionsMode,
    PositionsOpt,
    QuietOpt,
    RiskOpt,
    SortOpt,
    StrictOpt,
    WatchlistOpt,
)
from seawarden.cli_sources import RegistryOpt
from seawarden.errors import ConfigError
from seawarden.pipeline.partition import PartitionSpec
from seawarden.pipeline.settings import RunConfig, env_settings

if TYPE_CHECKING:
    from seawarden.bus.publish import BatchPublisher

log = logging.getLogger("seawarden")

BusOpt = Annotated[
    str,
    typer.Option("--bus", help="NATS server URL(s), comma-separated for a cluster (JetStream)"),
]
DEFAULT_BUS = "nats://127.0.0.1:4222"


# replay's enums (the names tests and callers know this module by)
Format = InputFormat
Positions = PositionsMode


def worker_config(
    *,
    areas: Path | None,
    watchlists: list[Path],
    detectors: Path | None,
    no_detectors: bool,
    risk: Path | None,
    model: Path | None,
    registry: list[Path],
    positions: PositionsMode,
) -> RunConfig:
    """The pipeline config of a worker, built exactly as ``replay`` builds it (a
    single-process replay with the same options is the reference the workers must match)."""
    from seawarden import cli

    env = env_settings()
    return cli._config(
        areas=areas or env.areas,
        watchlists=list(watchlists or env.watchlist),
        fmt=None,
        lateness_s=env.lateness_s,
        dedup_window_s=env.dedup_window_s,
        positions=positions,
        assume_time=None,
        detectors=detectors,
        no_detectors=no_detectors,
        risk=risk,
        model=model,
        sources={"registry": tuple(registry or env.registry)},
    )


def _settings(max_age_s: float, duplicate_window_s: float, replicas: int | None) -> StreamSettings:
    return StreamSettings(
        max_age_s=max_age_s, duplicate_window_s=duplicate_window_s, replicas=replicas
    )


MaxAgeOpt = Annotated[
    float, typer.Option(help="keep stream messages this long, seconds (0: no age limit)")
]
DupOpt = Annotated[float, typer.Option(help="dedup window of the streams, seconds (≥ 3600)")]
ReplicasOpt = Annotated[
    int | None,
    typer.Option(
        help="copies of each stream in a NATS cluster (3: survives one lost node); "
        "default: 1 for a new stream, an existing one keeps its count"
    ),
]
ReconnectAttemptsOpt = Annotated[
    int, typer.Option(help="reconnects to a lost bus before giving up (exit 1)")
]
ReconnectWaitOpt = Annotated[float, typer.Option(help="seconds between reconnects")]


def register(app: typer.Typer) -> None:
    """Add this package's commands to ``app``."""
    app.command("ingest")(ingest_command)
    app.command("worker")(worker_command)
    app.command("bus-dispatch")(dispatch_command)


def ingest_command(
    inputs: Annotated[
        list[Path] | None, typer.Argument(help="NMEA logs (.nm4/.txt/.gz) or CSV files")
    ] = None,
    tcp: Annotated[
        str | None, typer.Option(help="a live NMEA feed: read lines from this TCP HOST:PORT")
    ] = None,
    udp: Annotated[
        str | None, typer.Option(help="a live NMEA feed: listen for datagrams on [HOST]:PORT")
    ] = None,
    bus: BusOpt = DEFAULT_BUS,
    partitions: Annotated[int, typer.Option(help="MMSI partitions in the subjects")] = 1,
    fmt: FormatOpt = None,
    lateness_s: Annotated[
        float | None,
        typer.Option(help="out-of-order tolerance (event time); default 60 s, live 10 s"),
    ] = None,
    dedup_window_s: DedupWindowOpt = 3.0,
    assume_time: AssumeTimeOpt = None,
    sort: SortOpt = False,
    strict: StrictOpt = False,
    max_age_s: MaxAgeOpt = 7 * 24 * 3600.0,
    duplicate_window_s: DupOpt = 2 * 3600.0,
    replicas: ReplicasOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Publish decoded, normalised reports to JetStream, in event-time order: from files, or
    from a live feed (``--tcp``/``--udp``) until Ctrl-C."""
    from seawarden import cli
    from seawarden.bus.ingest import ingest
    from seawarden.bus.publish import BatchPublisher

    env = env_settings()
    cli._setup_logging(env.log_level, quiet)
    if sum(x is not None and x != [] for x in (inputs, tcp, udp)) != 1:
        raise typer.BadParameter("give input files, or exactly one of --tcp/--udp")
    live = tcp or udp
    cfg = cli._config(
        areas=None,
        watchlists=[],
        fmt=fmt,
        lateness_s=lateness_s if lateness_s is not None else (10.0 if live else 60.0),
        dedup_window_s=dedup_window_s,
        positions=PositionsMode.none,
        assume_time=assume_time,
        no_detectors=True,
    )
    publisher = BatchPublisher(bus, settings=_settings(max_age_s, duplicate_window_s, replicas))
    if live:
        _ingest_live(cfg, publisher, partitions, tcp=tcp, udp=udp, quiet=quiet)
        return
    assert inputs is not None
    run = ingest(
        inputs, cfg, bus, partitions=partitions, publisher=publisher, strict=strict, sort=sort
    )
    d = run.stats.as_dict()
    if not quiet:
        rate = run.released / d["elapsed_s"] if d["elapsed_s"] else 0.0
        cli.console.print(
            f"ingest: {d['lines']:,} lines, {run.released:,} reports published "
            f"({publisher.duplicates:,} already on the bus) in {d['elapsed_s']:.2f} s "
            f"({rate:,.0f} reports/s); rejected {d['rejections']}"
            + (
                f"; {run.unpublished_contacts:,} radar contacts not carried"
                if run.unpublished_contacts
                else ""
            )
        )


def _ingest_live(
    cfg: RunConfig,
    publisher: BatchPublisher,
    partitions: int,
    *,
    tcp: str | None,
    udp: str | None,
    quiet: bool,
) -> None:
    from seawarden import cli
    from seawarden.bus.live_ingest import LiveBusIngest

    endpoint = tcp or udp or ""
    host, _, port_text = endpoint.rpartition(":")
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise typer.BadParameter(f"{endpoint!r}: expected HOST:PORT")
    runner = LiveBusIngest(cfg, publisher, partitions=partitions)

    async def feed(stop: asyncio.Event) -> None:
        await publisher.astart()
        try:
            source = (
                runner.run_tcp(host, int(port_text), stop)
                if tcp
                else runner.run_udp(host, int(port_text), stop)
            )
            await asyncio.gather(source, runner.pump(stop))
        finally:
            await publisher.aclose()

    cli._run_until_stopped(feed, None)
    if not quiet:
        cli.console.print(
            f"ingest: {runner.lines:,} lines, {runner.released:,} reports published; "
            f"rejected {dict(runner.rejections)}"
        )


def worker_command(
    partitions: Annotated[str, typer.Option(help="e.g. 0/2, '0,1/4', '*/1'")],
    store: Annotated[str, typer.Option(help="this worker's store (checkpoint, rows)")],
    bus: BusOpt = DEFAULT_BUS,
    exit_on_eos: Annotated[bool, typer.Option(help="exit at the end-of-stream marker")] = False,
    checkpoint_every: Annotated[int, typer.Option(help="messages between checkpoints")] = 5000,
    areas: AreasOpt = None,
    watchlist: WatchlistOpt = None,
    detectors: DetectorsOpt = None,
    no_detectors: NoDetectorsOpt = False,
    risk: RiskOpt = None,
    model: ModelOpt = None,
    registry: RegistryOpt = None,
    positions: PositionsOpt = PositionsMode.sampled,
    max_age_s: MaxAgeOpt = 7 * 24 * 3600.0,
    duplicate_window_s: DupOpt = 2 * 3600.0,
    replicas: ReplicasOpt = None,
    reconnect_attempts: ReconnectAttemptsOpt = 60,
    reconnect_wait_s: ReconnectWaitOpt = 1.0,
) -> None:
    """Run the pipeline for some MMSI partitions on the bus (reads the whole stream)."""
    from seawarden import cli
    from seawarden.bus.worker import Reconnect, Worker
    from seawarden.store import open_store

    env = env_settings()
    cli._setup_logging(env.log_level, False)
    spec = PartitionSpec.parse(partitions)
    reconnect = Reconnect(reconnect_attempts, reconnect_wait_s)
    cfg = worker_config(
        areas=areas,
        watchlists=list(watchlist or []),
        detectors=detectors,
        no_detectors=no_detectors,
        risk=risk,
        model=model,
        registry=list(registry or []),
        positions=positions,
    )
    db = open_store(store)
    try:
        worker = Worker(
            bus,
            cfg,
            spec,
            db,
            checkpoint_every=checkpoint_every,
            exit_on_eos=exit_on_eos,
            settings=_settings(max_age_s, duplicate_window_s, replicas),
            reconnect=reconnect,
        )

        async def feed(stop: asyncio.Event) -> None:
            await worker.run(stop)

        cli._run_until_stopped(feed, None)
    finally:
        db.close()
    _report({"worker": str(spec), **worker.stats.as_dict()})


def dispatch_command(
    store: Annotated[
        str, typer.Option(help="store for alerts and the outbox: SQLite file or postgresql://")
    ],
    subscriptions: Annotated[Path, typer.Option(help="subscriptions (YAML)")],
    bus: BusOpt = DEFAULT_BUS,
    idle_exit_s: Annotated[
        float | None, typer.Option(help="exit after this many seconds with nothing new")
    ] = None,
    durable: Annotated[str, typer.Option(help="durable consumer name")] = "seawarden-dispatch",
    reconnect_attempts: ReconnectAttemptsOpt = 60,
    reconnect_wait_s: ReconnectWaitOpt = 1.0,
) -> None:
    """Queue alert revisions from the bus into the store's outbox (then `seawarden deliver`)."""
    from seawarden import cli
    from seawarden.alerts.subscriptions import load_subscriptions
    from seawarden.bus.dispatch import BusDispatcher
    from seawarden.bus.worker import Reconnect
    from seawarden.store import open_store
    from seawarden.store.postgres import PostgresStore
    from seawarden.store.sqlite import SQLiteStore

    env = env_settings()
    cli._setup_logging(env.log_level, False)
    if idle_exit_s is not None and idle_exit_s <= 0:
        raise ConfigError("--idle-exit-s must be > 0")
    reconnect = Reconnect(reconnect_attempts, reconnect_wait_s)
    # Secrets are resolved by `seawarden deliver`, which sends; queueing needs none.
    subs = load_subscriptions(subscriptions)
    db = open_store(store)
    if not isinstance(db, SQLiteStore | PostgresStore):  # pragma: no cover - no other stores
        db.close()
        raise ConfigError("--store: the outbox needs a SQLite or PostgreSQL store")
    try:
        dispatcher = BusDispatcher(
            bus, db, subs, durable=durable, idle_exit_s=idle_exit_s, reconnect=reconnect
        )

        async def feed(stop: asyncio.Event) -> None:
            await dispatcher.run(stop)

        cli._run_until_stopped(feed, None)
    finally:
        db.close()
    _report({"bus_dispatch": durable, **dispatcher.stats.as_dict()})


def _report(d: dict[str, Any]) -> None:
    """The run's counters as one JSON line on stdout (for operators' scripts and tests)."""
    typer.echo(orjson.dumps(d).decode())
