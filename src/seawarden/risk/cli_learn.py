"""``seawarden learn``: fit the normalcy model from recorded traffic.

Inputs are NMEA/CSV files or history archive directories (``seawarden archive --out``;
detected by their ``positions/``/``statics/`` folders). ``--engine dask`` reads archive
partitions on a Dask cluster and fits once on the client (``risk/normalcy_dask.py``); the
model is identical to ``--engine local`` on the same archive.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from seawarden.cli_options import DaskPartitionsOpt, DaskWorkersOpt, SchedulerOpt

console = Console(stderr=True)


class LearnEngine(StrEnum):
    local = "local"
    dask = "dask"


def register(app: typer.Typer) -> None:
    @app.command()
    def learn(
        inputs: Annotated[
            list[Path], typer.Argument(help="history to learn from (NMEA, CSV or archive dirs)")
        ],
        out: Annotated[Path, typer.Option(help="where to write the model (.json.gz)")],
        engine: Annotated[
            LearnEngine, typer.Option(help="local, or dask (archive inputs only)")
        ] = LearnEngine.local,
        scheduler: SchedulerOpt = "local",
        partitions: DaskPartitionsOpt = 2,
        workers: DaskWorkersOpt = None,
    ) -> None:
        """Learn a model of normal traffic (speed, course, stops, report rate per H3 cell)."""
        from seawarden.backfill.run import check_scheduler
        from seawarden.backfill.source import is_archive
        from seawarden.cli import _setup_logging  # at run time: cli imports this module
        from seawarden.pipeline.settings import env_settings
        from seawarden.risk.normalcy_dask import learn_any
        from seawarden.risk.normalcy_fit import learn as fit

        _setup_logging(env_settings().log_level, False)
        if engine is LearnEngine.dask:
            check_scheduler(scheduler)
        if engine is LearnEngine.local and not any(is_archive(p) for p in inputs):
            _, st = fit(inputs, out)  # files only: the original reader, unchanged
        else:
            _, st = learn_any(
                inputs,
                out,
                engine=engine.value,
                scheduler=scheduler,
                partitions=partitions,
                workers=workers,
            )
        console.print(
            f"learned from {st.positions:,} positions of {st.vessels:,} vessels "
            f"({st.rejected:,} rejected): {st.cells:,} cells, {st.entries:,} entries; "
            f"read {st.read_s:.1f} s, fit {st.fit_s:.2f} s "
            f"({st.fit_reports_per_s:,.0f} reports/s) -> {out}"
        )
