"""``seawarden backfill``: the detectors over a history archive, sequential or on Dask.

The run configuration (areas, watchlists, detectors, risk, model, registry, weather) is
built by the same function ``replay`` uses (``seawarden.cli._config``), so a backfill and
a replay given the same options run the same pipeline.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from seawarden.cli_options import (
    AlertsOutOpt,
    AreasOpt,
    DaskPartitionsOpt,
    DaskWorkersOpt,
    DedupWindowOpt,
    DetectorsOpt,
    EventsOutOpt,
    ModelOpt,
    NoDetectorsOpt,
    PositionsMode,
    QuietOpt,
    RiskOpt,
    SchedulerOpt,
    WatchlistOpt,
)
from seawarden.cli_sources import RegistryOpt, WeatherOpt

console = Console(stderr=True)


class EngineOpt(StrEnum):
    sequential = "sequential"
    dask = "dask"


def _when(text: str | None, name: str) -> datetime | None:
    if text is None:
        return None
    try:
        t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise typer.BadParameter(f"{name}: {exc}") from exc
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t


def register(app: typer.Typer) -> None:
    """Add ``backfill`` to the ``seawarden`` command."""

    @app.command("backfill")
    def backfill_cmd(
        archive: Annotated[Path, typer.Argument(help="history archive (seawarden archive --out)")],
        engine: Annotated[
            EngineOpt, typer.Option(help="sequential or dask")
        ] = EngineOpt.sequential,
        scheduler: SchedulerOpt = "local",
        partitions: DaskPartitionsOpt = 2,
        workers: DaskWorkersOpt = None,
        events_out: EventsOutOpt = None,
        alerts_out: AlertsOutOpt = None,
        spill_dir: Annotated[
            Path | None,
            typer.Option(help="dask: tasks write their output here (shared with the workers)"),
        ] = None,
        start: Annotated[str | None, typer.Option(help="first event time (ISO 8601)")] = None,
        end: Annotated[str | None, typer.Option(help="end event time, exclusive")] = None,
        areas: AreasOpt = None,
        watchlist: WatchlistOpt = None,
        detectors: DetectorsOpt = None,
        no_detectors: NoDetectorsOpt = False,
        risk: RiskOpt = None,
        model: ModelOpt = None,
        dedup_window_s: DedupWindowOpt = 3.0,
        weather: WeatherOpt = None,
        registry: RegistryOpt = None,
        quiet: QuietOpt = False,
    ) -> None:
        """Run the detectors over an archive; events/alerts as a replay of it would give."""
        # at run time: seawarden.cli imports this module
        from seawarden.backfill.run import backfill, check_scheduler
        from seawarden.cli import _config, _setup_logging
        from seawarden.cli_sources import source_settings
        from seawarden.pipeline.settings import env_settings

        env = env_settings()
        _setup_logging(env.log_level, quiet)
        if engine is EngineOpt.dask:
            check_scheduler(scheduler)
        cfg = _config(
            areas=areas or env.areas,
            watchlists=list(watchlist or env.watchlist),
            fmt=None,
            lateness_s=60.0,  # the archive stream is already in order
            dedup_window_s=dedup_window_s,
            positions=PositionsMode.none,  # no store: nothing to keep
            assume_time=None,
            detectors=detectors,
            no_detectors=no_detectors,
            risk=risk,
            model=model,
            sources=source_settings(
                env, sensors=None, weather=weather, registry=registry, fusion=None
            ),
        )
        stats = backfill(
            archive,
            cfg,
            engine=engine.value,
            partitions=partitions,
            scheduler=scheduler,
            workers=workers,
            events_out=events_out,
            alerts_out=alerts_out,
            start=_when(start, "--start"),
            end=_when(end, "--end"),
            spill_dir=spill_dir,
        )
        if quiet:
            return
        table = Table(title="seawarden backfill", show_header=False, title_justify="left")
        table.add_row("engine", f"{stats.engine} ({stats.partitions} partitions, "
                      f"{stats.workers} workers)")  # fmt: skip
        table.add_row("records (positions / static)",
                      f"{stats.records:,} ({stats.positions:,} / {stats.statics:,})")  # fmt: skip
        for reason, n in sorted(stats.rejections.items()):
            table.add_row(f"  dropped: {reason}", f"{n:,}")
        table.add_row("events", f"{sum(stats.events.values()):,}")
        for kind, n in sorted(stats.events.items()):
            table.add_row(f"  {kind}", f"{n:,}")
        table.add_row("alert revisions", f"{sum(stats.alerts.values()):,}")
        for kind, n in sorted(stats.alerts.items()):
            table.add_row(f"  {kind}", f"{n:,}")
        tasks = ", ".join(f"{t:.1f}" for t in stats.task_s)
        table.add_row(
            "elapsed",
            f"{stats.elapsed_s:.2f} s ({stats.records_per_s:,.0f} records/s); tasks {tasks} s",
        )
        console.print(table)
