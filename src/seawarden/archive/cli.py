"""``seawarden archive`` and ``seawarden archive-query``: write and query the history archive.

``archive`` reads any AIS input ``replay`` reads (NMEA logs, DMA/NOAA/simple CSV, plain or
gzip; format sniffed, ``--format`` overrides), counts what the decoders refused by reason,
and writes the positions (and, unless ``--no-statics``, the static reports) under ``--out``
(see :mod:`seawarden.archive.writer`). Each input's files are named by a digest of the
input file's bytes, so archiving the same file again replaces its rows instead of adding
them. Radar/satellite recordings are refused: the archive holds AIS reports only.

pyarrow and duckdb (the ``archive`` extra) are imported inside the commands only.
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from seawarden.clock import EPOCH
from seawarden.errors import ConfigError, InputError
from seawarden.ingest.files import FORMATS, SENSOR_FORMATS, InputFormat

if TYPE_CHECKING:
    from seawarden.archive.writer import ArchiveResult

console = Console(stderr=True)
out = Console()


def file_digest(path: Path) -> str:
    """The id of an input file's archive files: BLAKE2b-64 of its bytes (hex)."""
    h = hashlib.blake2b(digest_size=8)
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _need_extra() -> None:
    try:
        import duckdb  # noqa: F401
        import pyarrow  # noqa: F401
    except ImportError as exc:
        raise ConfigError(
            "the history archive needs pyarrow and duckdb: install seawarden with its "
            "'archive' extra, or pip install pyarrow==26.0.1 duckdb==2.0.1"
        ) from exc


def archive_file(
    path: Path,
    root: Path,
    *,
    fmt: InputFormat | None = None,
    h3_res: int = 3,
    rows_per_file: int = 1_000_000,
    statics: bool = True,
    assume_time: datetime = EPOCH,
) -> tuple[ArchiveResult, Counter[str]]:
    """Archive one input file; returns the writer's result and the decoders' rejections
    (by reason; the writer's own refusals are in the result's ``rejections``)."""
    from seawarden.archive.writer import ArchiveWriter
    from seawarden.ingest.files import open_source, sniff_format
    from seawarden.model import PositionReport, Rejection, StaticReport

    fmt = fmt or sniff_format(path)
    if fmt in SENSOR_FORMATS:
        raise InputError(
            f"a {fmt} file holds radar/satellite contacts; the archive holds AIS reports only",
            source=str(path),
        )
    source = open_source(path, fmt, assume_time=assume_time)
    decode_rejections: Counter[str] = Counter()
    with ArchiveWriter(
        root, h3_res=h3_res, rows_per_file=rows_per_file, input_id=file_digest(path)
    ) as writer:
        for _, item in source:
            if isinstance(item, Rejection):
                decode_rejections[item.reason] += 1
            elif isinstance(item, PositionReport) or (statics and isinstance(item, StaticReport)):
                writer.add(item)
    return writer.result, decode_rejections


def register(app: typer.Typer) -> None:
    """Add ``archive`` and ``archive-query`` to the ``seawarden`` command."""

    @app.command("archive")
    def archive(
        inputs: Annotated[list[Path], typer.Argument(help="NMEA logs or CSV files (.gz too)")],
        root: Annotated[Path, typer.Option("--out", help="archive root directory")],
        h3_res: Annotated[int, typer.Option("--h3-res", help="H3 resolution of the cells")] = 3,
        fmt: Annotated[
            str | None,
            typer.Option("--format", help="override format detection: " + ", ".join(FORMATS)),
        ] = None,
        rows_per_file: Annotated[int, typer.Option(help="most rows in one file")] = 1_000_000,
        statics: Annotated[bool, typer.Option(help="archive static reports too")] = True,
        assume_time: Annotated[
            str | None, typer.Option(help="event time for untimed NMEA (ISO 8601)")
        ] = None,
        quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no summary")] = False,
    ) -> None:
        """Write AIS positions to partitioned GeoParquet (by UTC day and H3 cell)."""
        _need_extra()
        if fmt is not None and fmt not in FORMATS:
            raise typer.BadParameter(f"--format must be one of {', '.join(FORMATS)}")
        if not 0 <= h3_res <= 15:
            raise typer.BadParameter("--h3-res must be 0..15")
        when = EPOCH
        if assume_time is not None:
            try:
                when = datetime.fromisoformat(assume_time)
            except ValueError as exc:
                raise typer.BadParameter(f"--assume-time: {exc}") from exc
        table = Table(title="seawarden archive", title_justify="left")
        for col in ("input", "positions", "statics", "files", "rejected", "replaced"):
            table.add_column(col, justify="left" if col == "input" else "right")
        totals: Counter[str] = Counter()
        t0 = time.perf_counter()
        for path in inputs:
            res, rejected = archive_file(
                path,
                root,
                fmt=fmt,  # type: ignore[arg-type]
                h3_res=h3_res,
                rows_per_file=rows_per_file,
                statics=statics,
                assume_time=when,
            )
            rejected.update(res.rejections)
            totals.update(rejected)
            totals["_positions"] += res.positions
            table.add_row(
                path.name,
                f"{res.positions:,}",
                f"{res.statics:,}",
                f"{len(res.files):,}",
                f"{sum(rejected.values()):,}",
                f"{res.replaced_files:,}",
            )
            for reason, n in sorted(rejected.items()):
                table.add_row(f"  {reason}", "", "", "", f"{n:,}", "")
        if not quiet:
            console.print(table)
            console.print(
                f"{totals['_positions']:,} positions in {time.perf_counter() - t0:.1f} s -> {root}"
            )

    @app.command("archive-query")
    def archive_query(
        root: Annotated[Path, typer.Argument(help="archive root directory")],
        sql: Annotated[str, typer.Argument(help="SQL over the views positions and statics")],
        limit: Annotated[int, typer.Option(help="most rows printed")] = 100,
    ) -> None:
        """Run SQL on the archive with DuckDB and print the result as a table."""
        _need_extra()
        import duckdb

        from seawarden.archive.reader import query

        if not root.is_dir():
            raise typer.BadParameter(f"{root}: no such archive directory")
        try:
            names, rows = query(root, sql)
        except duckdb.Error as exc:
            console.print(f"[red]query failed:[/] {exc}")
            raise typer.Exit(2) from exc
        # Printed whole: to a terminal at its width, to a pipe or file at 240 columns.
        printer = out if out.is_terminal else Console(width=240)
        table = Table(show_lines=False)
        for name in names:
            table.add_column(name)
        for row in rows[:limit]:
            table.add_row(*(_cell(v) for v in row))
        printer.print(table)
        if len(rows) > limit:
            console.print(f"({len(rows):,} rows, first {limit:,} shown; --limit to see more)")


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bytes | bytearray):
        return v.hex() if len(v) <= 32 else v[:16].hex() + "…"
    return str(v)
