"""The ``seawarden`` command: replay history, watch a live feed, run the demo.

Only this module prints; everything else logs. Exit codes: 0 success, 1 a seawarden error
(bad config, unreadable input, ``--strict`` rejection), 2 usage errors (from typer).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Callable, Coroutine
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from seawarden import __version__
from seawarden.alerts.cli_deliver import maybe_start as start_delivery
from seawarden.alerts.cli_deliver import register as register_delivery_commands
from seawarden.alerts.sinks import AlertSink, JsonlAlertSink, LogAlertSink
from seawarden.api.cli_commands import register as register_api_commands
from seawarden.archive.cli import register as register_archive_commands
from seawarden.backfill.cli import register as register_backfill_commands
from seawarden.bus.cli import register as register_bus_commands
from seawarden.cli_options import (
    STORE_HELP,
    AlertsOutOpt,
    AreasOpt,
    AssumeTimeOpt,
    DedupWindowOpt,
    DetectorsOpt,
    EventsOutOpt,
    FormatOpt,
    LatenessOpt,
    ModelOpt,
    NoDetectorsOpt,
    PositionsOpt,
    QuietOpt,
    RiskOpt,
    SortOpt,
    StrictOpt,
    SubscriptionsOpt,
    WatchlistOpt,
)

# re-exported: api/serve.py and tests take them from here (they moved to cli_options)
from seawarden.cli_options import InputFormat as InputFormat
from seawarden.cli_options import PositionsMode as PositionsMode
from seawarden.cli_sources import FusionOpt, RegistryOpt, SensorsOpt, WeatherOpt, source_settings
from seawarden.detectors.registry import load_detector_settings
from seawarden.errors import SeawardenError
from seawarden.ingest.nmea import NmeaConfig
from seawarden.pipeline.core import CoreConfig
from seawarden.pipeline.order import OrderConfig
from seawarden.pipeline.replay import Replay, ReplayStats
from seawarden.pipeline.settings import RunConfig, env_settings
from seawarden.pipeline.sinks import EventSink, JsonlEventSink, LogEventSink
from seawarden.report.cli import register as register_report_command
from seawarden.risk.cli_learn import register as register_learn_command
from seawarden.risk.config import load_risk_settings
from seawarden.store import Store, open_store

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="seawarden: watch vessels near undersea cables and pipelines.",
)
console = Console(stderr=True)
log = logging.getLogger("seawarden")

DEFAULT_AREAS = Path("config/areas.geojson")
DEFAULT_WATCHLIST = Path("config/watchlist.csv")
DEFAULT_DETECTORS = Path("config/detectors.yaml")
DEFAULT_RISK = Path("config/risk.yaml")


def _setup_logging(level: str, quiet: bool) -> None:
    logging.basicConfig(
        level=logging.WARNING if quiet else getattr(logging, level.upper(), logging.INFO),
        format="%(message)s",
        handlers=[RichHandler(console=console, show_path=False, rich_tracebacks=False)],
        force=True,
    )


def _bundled(name: str) -> Path:
    """A file shipped inside the package (demo data, default config)."""
    return Path(__file__).parent / "data" / name


def _default_areas() -> Path | None:
    if DEFAULT_AREAS.is_file():
        return DEFAULT_AREAS
    bundled = _bundled("areas.geojson")
    return bundled if bundled.is_file() else None


def _config(
    *,
    areas: Path | None,
    watchlists: list[Path],
    fmt: InputFormat | None,
    lateness_s: float,
    dedup_window_s: float,
    positions: PositionsMode,
    assume_time: str | None,
    detectors: Path | None = None,
    no_detectors: bool = False,
    risk: Path | None = None,
    model: Path | None = None,
    sources: dict[str, Any] | None = None,
) -> RunConfig:
    extra: dict[str, Any] = dict(sources or {})
    if no_detectors:
        extra["detectors"] = None
    else:
        det_path = detectors or (DEFAULT_DETECTORS if DEFAULT_DETECTORS.is_file() else None)
        extra["detectors"] = load_detector_settings(det_path) if det_path else {}
    risk_path = risk or (DEFAULT_RISK if DEFAULT_RISK.is_file() else None)
    if risk_path is not None:
        extra["risk"] = load_risk_settings(risk_path)
    if model is not None:
        extra["model"] = model
    if assume_time:
        try:
            parsed = datetime.fromisoformat(assume_time.replace("Z", "+00:00"))
        except ValueError as exc:
            raise typer.BadParameter(f"--assume-time: {exc}") from exc
        if parsed.tzinfo is None:
            raise typer.BadParameter("--assume-time needs a UTC offset, e.g. 2024-12-25T00:00Z")
        extra["assume_time"] = parsed
    return RunConfig(
        areas=areas,
        watchlists=tuple(watchlists),
        nmea=NmeaConfig(),
        order=OrderConfig(lateness_s=lateness_s, dedup_window_s=dedup_window_s),
        core=CoreConfig(positions=positions.value),
        input_format=fmt.value if fmt else None,
        **extra,
    )


def _summary(stats: ReplayStats, title: str) -> None:
    table = Table(title=title, show_header=False, title_justify="left")
    d = stats.as_dict()
    table.add_row("lines read", f"{d['lines']:,}")
    table.add_row(
        "records (positions / static)", f"{d['records']:,} ({d['positions']:,} / {d['statics']:,})"
    )
    if d.get("contacts"):
        table.add_row("radar/satellite contacts and passes", f"{d['contacts']:,}")
    for name, dec in sorted(d["decode"].items()):
        if "messages" not in dec:  # an ASTERIX or satellite file: its own counters
            table.add_row(f"  {name}", f"{dec.get('contacts', 0):,} contacts")
            continue
        radar = f"; {dec['contacts']:,} radar contacts" if dec.get("contacts") else ""
        table.add_row(
            f"  {name}",
            f"{dec['messages']:,} messages from {dec['fragments_used']:,} sentences; "
            f"{dec['blank_or_comment']:,} blank/comment{radar}",
        )
    table.add_row("rejected", f"{d['rejected']:,}")
    for reason, n in d["rejections"].items():
        table.add_row(f"  {reason}", f"{n:,}")
    table.add_row("vessels", f"{d['vessels']:,}")
    table.add_row("events", f"{sum(d['events'].values()):,}")
    for kind, n in d["events"].items():
        table.add_row(f"  {kind}", f"{n:,}")
    table.add_row("alert revisions", f"{sum(d['alerts'].values()):,}")
    for kind, n in d["alerts"].items():
        table.add_row(f"  {kind}", f"{n:,}")
    rate = d["lines_per_s"]
    table.add_row("elapsed", f"{d['elapsed_s']:.2f} s" + (f" ({rate:,} lines/s)" if rate else ""))
    if d["resumed_from"]:
        table.add_row("resumed after", f"input {d['resumed_from'][0]} line {d['resumed_from'][1]}")
    console.print(table)


def _live_sinks(
    events_out: Path | None, alerts_out: Path | None, *, append: bool
) -> tuple[list[EventSink], list[AlertSink]]:
    """Log sinks, plus JSON Lines files when asked for (appended to for a live feed)."""
    sinks: list[EventSink] = [LogEventSink()]
    if events_out is not None:
        sinks.append(JsonlEventSink(events_out, append=append))
    alert_sinks: list[AlertSink] = [LogAlertSink()]
    if alerts_out is not None:
        alert_sinks.append(JsonlAlertSink(alerts_out, append=append))
    return sinks, alert_sinks


def _run_until_stopped(
    feed: Callable[[asyncio.Event], Coroutine[Any, Any, None]], duration_s: float | None
) -> None:
    """Run a feed until Ctrl-C / SIGTERM (or ``duration_s``), then let it finish cleanly."""
    stop = asyncio.Event()

    async def main() -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        if duration_s is not None:
            loop.call_later(duration_s, stop.set)
        await feed(stop)

    asyncio.run(main())


def _outbox_store(db: Store | None, subscriptions: Path | None) -> Store | None:
    """The store the alert outbox lives in: the run's own, SQLite or PostgreSQL (the
    delivery wiring, alerts/cli_deliver.py, refuses a store that cannot hold one)."""
    del subscriptions  # both store kinds hold an outbox now
    return db


@app.command()
def replay(
    inputs: Annotated[list[Path], typer.Argument(help="NMEA logs (.nm4/.txt/.gz) or CSV files")],
    areas: AreasOpt = None,
    watchlist: WatchlistOpt = None,
    events_out: EventsOutOpt = None,
    alerts_out: AlertsOutOpt = None,
    rejects_out: Annotated[Path | None, typer.Option(help="write rejections as JSON Lines")] = None,
    detectors: DetectorsOpt = None,
    no_detectors: NoDetectorsOpt = False,
    risk: RiskOpt = None,
    model: ModelOpt = None,
    store: Annotated[str | None, typer.Option(help=STORE_HELP + "; in memory if omitted")] = None,
    resume: Annotated[bool, typer.Option(help="continue from the store's checkpoint")] = False,
    strict: StrictOpt = False,
    fmt: FormatOpt = None,
    lateness_s: LatenessOpt = 60.0,
    dedup_window_s: DedupWindowOpt = 3.0,
    positions: PositionsOpt = PositionsMode.sampled,
    assume_time: AssumeTimeOpt = None,
    sort: SortOpt = False,
    checkpoint_every: Annotated[int, typer.Option(help="lines between checkpoints")] = 200_000,
    subscriptions: SubscriptionsOpt = None,
    sensors: SensorsOpt = None,
    weather: WeatherOpt = None,
    registry: RegistryOpt = None,
    fusion: FusionOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Replay recorded AIS through the pipeline and summarise what it found."""
    env = env_settings()
    _setup_logging(env.log_level, quiet)
    if resume and store is None:
        raise typer.BadParameter("--resume needs --store (the checkpoint lives there)")
    cfg = _config(
        areas=areas or env.areas,
        watchlists=list(watchlist or env.watchlist),
        fmt=fmt,
        lateness_s=lateness_s,
        dedup_window_s=dedup_window_s,
        positions=positions,
        assume_time=assume_time,
        detectors=detectors,
        no_detectors=no_detectors,
        risk=risk,
        model=model,
        sources=source_settings(
            env, sensors=sensors, weather=weather, registry=registry, fusion=fusion
        ),
    )
    db = open_store(store) if store is not None else None
    delivery = start_delivery(subscriptions, _outbox_store(db, subscriptions))
    try:
        with Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[records]:,} records"),
            TimeElapsedColumn(),
            console=console,
            disable=quiet,
            transient=True,
        ) as progress:
            task = progress.add_task("replay", total=None, records=0)

            def on_progress(index: int, line_no: int, records: int) -> None:
                progress.update(
                    task, description=f"{inputs[index].name} line {line_no:,}", records=records
                )

            run = Replay(
                inputs,
                cfg,
                store=db,
                events_out=events_out,
                alerts_out=alerts_out,
                rejects_out=rejects_out,
                strict=strict,
                resume=resume,
                checkpoint_every=checkpoint_every,
                sort=sort,
                progress=on_progress,
                alert_sinks=[delivery.sink] if delivery else [],
            )
            stats = run.run()
    finally:
        if delivery is not None:
            delivery.close(wait_s=30.0)
        if db is not None:
            db.close()
    if not quiet:
        _summary(stats, "seawarden replay")
    late = stats.rejections.get("too_late", 0)
    if late > 0.05 * max(stats.records + late, 1):
        console.print(
            f"[yellow]{late:,} records arrived more than {lateness_s:g} s out of time order: "
            "the input is probably sorted by vessel. Re-run with --sort, or raise --lateness-s.[/]"
        )


@app.command()
def live(
    tcp: Annotated[str | None, typer.Option(help="HOST:PORT of an NMEA TCP server")] = None,
    udp: Annotated[
        str | None, typer.Option(help="[HOST]:PORT to listen on for NMEA over UDP")
    ] = None,
    asterix_udp: Annotated[
        str | None,
        typer.Option(help="[HOST]:PORT to listen on for ASTERIX radar (with --sensors)"),
    ] = None,
    areas: AreasOpt = None,
    watchlist: WatchlistOpt = None,
    events_out: Annotated[Path | None, typer.Option(help="append events as JSON Lines")] = None,
    alerts_out: Annotated[
        Path | None, typer.Option(help="append alert revisions as JSON Lines")
    ] = None,
    store: Annotated[str | None, typer.Option(help=STORE_HELP)] = None,
    lateness_s: LatenessOpt = 10.0,
    detectors: DetectorsOpt = None,
    risk: RiskOpt = None,
    model: ModelOpt = None,
    subscriptions: SubscriptionsOpt = None,
    sensors: SensorsOpt = None,
    weather: WeatherOpt = None,
    registry: RegistryOpt = None,
    fusion: FusionOpt = None,
) -> None:
    """Watch a live NMEA feed (AIS-catcher, gpsd, AISHub style) until Ctrl-C."""
    from seawarden.pipeline.live import LiveRunner

    env = env_settings()
    _setup_logging(env.log_level, False)
    if (tcp is None) == (udp is None):
        raise typer.BadParameter("give exactly one of --tcp HOST:PORT or --udp [HOST]:PORT")
    endpoint = tcp or udp or ""
    host, _, port_text = endpoint.rpartition(":")
    if not port_text.isdigit():
        raise typer.BadParameter(f"{endpoint!r}: expected HOST:PORT")
    if asterix_udp is not None and not asterix_udp.rpartition(":")[2].isdigit():
        raise typer.BadParameter(f"--asterix-udp {asterix_udp!r}: expected [HOST]:PORT")
    cfg = _config(
        areas=areas or env.areas or _default_areas(),
        watchlists=list(watchlist or env.watchlist),
        fmt=None,
        lateness_s=lateness_s,
        dedup_window_s=env.dedup_window_s,
        positions=PositionsMode.sampled,
        assume_time=None,
        detectors=detectors,
        risk=risk,
        model=model,
        sources=source_settings(
            env, sensors=sensors, weather=weather, registry=registry, fusion=fusion
        ),
    )
    store_path = store or env.store
    db = open_store(store_path) if store_path is not None else None
    sinks, alert_sinks = _live_sinks(events_out, alerts_out, append=True)
    delivery = start_delivery(subscriptions, _outbox_store(db, subscriptions))
    alert_sinks += [delivery.sink] if delivery else []
    runner = LiveRunner(cfg, store=db, sinks=sinks, alert_sinks=alert_sinks)

    async def feed(stop: asyncio.Event) -> None:
        ais = (
            runner.run_tcp(host, int(port_text), stop)
            if tcp
            else runner.run_udp(host, int(port_text), stop)
        )
        if asterix_udp is None:
            await ais
            return
        a_host, _, a_port = asterix_udp.rpartition(":")
        await asyncio.gather(ais, runner.listen_asterix(a_host, int(a_port), stop))

    try:
        _run_until_stopped(feed, None)
    finally:
        if delivery is not None:
            delivery.close(wait_s=5.0)
        if db is not None:
            db.close()
    console.print(
        f"live: {runner.lines:,} lines, {runner.records:,} records, "
        f"{sum(runner.events.values()):,} events, alerts {dict(runner.alerts)}, "
        f"rejected {dict(runner.rejections)}"
    )


@app.command()
def run(
    demo: Annotated[bool, typer.Option(help="replay bundled real traffic as a live feed")] = False,
    speed: Annotated[float, typer.Option(help="demo speed-up over real time")] = 60.0,
    duration_s: Annotated[
        float | None, typer.Option(help="stop the demo after this many seconds")
    ] = None,
    store: Annotated[
        str,
        typer.Option(help="the store: a SQLite file, or a postgresql://user@host/db DSN"),
    ] = "seawarden-demo.db",
    port: Annotated[int, typer.Option(help="console/API port (0: any free port)")] = 8800,
    events_out: EventsOutOpt = None,
    open_console: Annotated[
        bool, typer.Option("--open/--no-open", help="open the console in a browser if possible")
    ] = True,
    alerts_out: AlertsOutOpt = None,
    subscriptions: SubscriptionsOpt = None,
) -> None:
    """The main job on the embedded default: ``--demo`` is ``serve --demo`` and opens the
    console (the pipeline on bundled real traffic with scenario vessels, the API, the
    console), needing no feed and no servers."""
    from seawarden.api.cli_commands import start_service
    from seawarden.api.db import store_target
    from seawarden.api.serve import ServeOptions

    env = env_settings()
    _setup_logging(env.log_level, False)
    if not demo:
        console.print(
            "Nothing to run: use `seawarden run --demo`, `seawarden serve --tcp HOST:PORT`, "
            "or `seawarden live --tcp HOST:PORT`."
        )
        raise typer.Exit(2)
    extra: list[AlertSink] = []
    if alerts_out is not None:
        extra.append(JsonlAlertSink(alerts_out, append=False))
    event_sinks: list[EventSink] = []
    if events_out is not None:
        event_sinks.append(JsonlEventSink(events_out, append=False))
    display = bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    runner = start_service(
        ServeOptions(
            store=store_target(store),  # a DSN stays text (as serve --store takes it)
            host="127.0.0.1",
            port=port,
            demo=True,
            subscriptions=subscriptions,
            speed=speed,
            open_browser=open_console and (display or sys.platform in ("darwin", "win32")),
            duration_s=duration_s,
            extra_alert_sinks=extra,
            extra_event_sinks=event_sinks,
        )
    )
    if runner is not None:
        console.print(
            f"demo: {runner.records:,} records, {len(runner.core.fleet):,} vessels, "
            f"events {dict(sorted(runner.events.items()))}, "
            f"alerts {dict(sorted(runner.alerts.items()))}, rejected {dict(runner.rejections)}"
        )


@app.command()
def simulate(
    out: Annotated[Path, typer.Option(help="NMEA file to write")],
    labels: Annotated[Path, typer.Option(help="ground-truth labels (JSON Lines) to write")],
    scenario: Annotated[
        list[str] | None, typer.Option(help="scenario name or name:key=value,... (repeatable)")
    ] = None,
    background: Annotated[
        Path | None, typer.Option(help="real traffic to write under them")
    ] = None,
    seed: Annotated[int, typer.Option(help="random seed (same seed, same bytes)")] = 1,
    start: Annotated[str | None, typer.Option(help="start time, ISO 8601 UTC")] = None,
) -> None:
    """Write scenario vessels (anchor drags, dark spells, STS, spoofing...) over real traffic."""
    from seawarden.sim import SCENARIOS
    from seawarden.sim import simulate as run_simulation

    _setup_logging(env_settings().log_level, False)
    chosen = scenario or sorted(SCENARIOS)
    when = datetime.fromisoformat(start.replace("Z", "+00:00")) if start else None
    written = run_simulation(
        out, labels, scenarios=chosen, background=background, seed=seed, start=when
    )
    console.print(
        f"wrote {out} and {labels}: {len(written)} scenario vessels ({', '.join(chosen)})"
    )


@app.command()
def evaluate(
    labels: Annotated[Path, typer.Option(help="labels from `seawarden simulate`")],
    alerts: Annotated[Path, typer.Option(help="alerts from `seawarden replay --alerts-out`")],
    severity: Annotated[str, typer.Option(help="minimum severity that counts")] = "high",
    input_file: Annotated[
        Path | None, typer.Option("--input", help="the replayed input, for vessel-days")
    ] = None,
    vessel_days: Annotated[float | None, typer.Option(help="background exposure, if known")] = None,
) -> None:
    """Recall, delay from onset, lead time before the last corridor crossing, false alarms."""
    from seawarden.evaluate import evaluate as run_evaluation
    from seawarden.evaluate import label_mmsis
    from seawarden.evaluate import vessel_days as exposure

    days = vessel_days
    if days is None and input_file is not None:
        days = exposure(input_file, exclude=label_mmsis(labels))
    report = run_evaluation(labels, alerts, severity=severity, vessel_days=days)
    typer.echo(report.as_table())
    for name, value in report.summary().items():
        typer.echo(f"{name}={value}")


register_api_commands(app)  # `seawarden token ...` and `seawarden serve` (api/cli_commands.py)
register_delivery_commands(app)  # `seawarden deliver` (alerts/cli_deliver.py)
register_report_command(app)  # `seawarden report` (report/cli.py)
register_archive_commands(app)  # `seawarden archive`, `archive-query` (archive/cli.py)
register_learn_command(app)  # `seawarden learn` (risk/cli_learn.py)
register_bus_commands(app)  # `seawarden ingest`, `worker`, ... on NATS JetStream (bus/cli.py)
register_backfill_commands(app)  # `seawarden backfill` (backfill/cli.py)


@app.command()
def version() -> None:
    """Print the version."""
    typer.echo(__version__)


def main() -> None:
    try:
        app()
    except SeawardenError as exc:
        console.print(f"[red]error:[/] {exc}")
        sys.exit(1)
