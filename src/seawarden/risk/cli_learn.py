"""``seawarden learn``: fit the normalcy model from recorded traffic."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

console = Console(stderr=True)


def register(app: typer.Typer) -> None:
    @app.command()
    def learn(
        inputs: Annotated[list[Path], typer.Argument(help="history to learn from (NMEA or CSV)")],
        out: Annotated[Path, typer.Option(help="where to write the model (.json.gz)")],
    ) -> None:
        """Learn a model of normal traffic (speed, course, stops, report rate per H3 cell)."""
        from seawarden.cli import _setup_logging  # at run time: cli imports this module
        from seawarden.pipeline.settings import env_settings
        from seawarden.risk.normalcy_fit import learn as fit

        _setup_logging(env_settings().log_level, False)
        _, st = fit(inputs, out)
        console.print(
            f"learned from {st.positions:,} positions of {st.vessels:,} vessels "
            f"({st.rejected:,} rejected): {st.cells:,} cells, {st.entries:,} entries; "
            f"read {st.read_s:.1f} s, fit {st.fit_s:.2f} s "
            f"({st.fit_reports_per_s:,.0f} reports/s) -> {out}"
        )
