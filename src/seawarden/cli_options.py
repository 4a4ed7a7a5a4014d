"""Command-line options that several ``seawarden`` commands share, declared once.

``replay``, ``live``, ``backfill``, ``ingest``, ``worker`` and ``learn`` build the same run
configuration (``seawarden.cli._config``), so an option that means the same thing in two of
them is one alias here: its type and help text change in one place. Defaults stay at the
use site (``lateness_s`` is 60 s for a replay, 10 s live). The non-AIS source options
(sensors, weather, registry, fusion) are in ``cli_sources.py``.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer


class InputFormat(StrEnum):
    nmea = "nmea"
    dma = "dma"
    noaa = "noaa"
    simple = "simple"


class PositionsMode(StrEnum):
    full = "full"
    sampled = "sampled"
    none = "none"


STORE_HELP = (
    "SQLite file, or postgresql://user@host[:port]/db (password from PGPASSWORD or ~/.pgpass)"
)

# What the pipeline watches for and scores.
AreasOpt = Annotated[Path | None, typer.Option(help="areas of interest (GeoJSON)")]
WatchlistOpt = Annotated[list[Path] | None, typer.Option(help="watchlist CSV (repeatable)")]
DetectorsOpt = Annotated[Path | None, typer.Option(help="detector parameters (YAML)")]
NoDetectorsOpt = Annotated[
    bool, typer.Option(help="areas and identity only: no detectors, risk or alerts")
]
RiskOpt = Annotated[Path | None, typer.Option(help="risk/monitor/alert policy (YAML)")]
ModelOpt = Annotated[Path | None, typer.Option(help="normalcy model from `seawarden learn`")]
PositionsOpt = Annotated[PositionsMode, typer.Option(help="positions kept in the store")]

# How the input is read.
FormatOpt = Annotated[
    InputFormat | None, typer.Option("--format", help="override format detection")
]
LatenessOpt = Annotated[float, typer.Option(help="out-of-order tolerance (event time)")]
DedupWindowOpt = Annotated[float, typer.Option(help="multi-receiver dedup window")]
AssumeTimeOpt = Annotated[str | None, typer.Option(help="event time for untimed NMEA (ISO 8601)")]
SortOpt = Annotated[bool, typer.Option(help="sort input by time first (files ordered by vessel)")]
StrictOpt = Annotated[bool, typer.Option(help="stop at the first rejected input")]

# What comes out.
EventsOutOpt = Annotated[Path | None, typer.Option(help="write events as JSON Lines")]
AlertsOutOpt = Annotated[Path | None, typer.Option(help="write alert revisions as JSON Lines")]
SubscriptionsOpt = Annotated[
    Path | None, typer.Option(help="disseminate alerts to these subscriptions (YAML)")
]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="no progress or summary")]

# A Dask cluster (``backfill --engine dask``, ``learn --engine dask``).
SchedulerOpt = Annotated[
    str, typer.Option(help="dask: 'local' (start a LocalCluster) or tcp://HOST:PORT")
]
DaskWorkersOpt = Annotated[
    int | None, typer.Option(help="dask: local cluster workers (default: --partitions)")
]
DaskPartitionsOpt = Annotated[int, typer.Option(help="dask: MMSI partitions (tasks)")]
