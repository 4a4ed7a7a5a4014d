"""Which CSV is this? Recognise DMA, NOAA and simple track files by their header.

Users hand the CLI whatever CSV they downloaded; asking them to name its dialect would be a
needless trap, and guessing from data rows is fragile. The header line is enough: DMA's
starts ``# Timestamp`` and has ``Type of mobile``; NOAA's has ``BaseDateTime`` plus its
vessel columns; anything else with a time, MMSI, latitude and longitude column is a simple
track file. ``--format`` overrides the guess when it is wrong.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final, Literal, TypeAlias

from seawarden.errors import InputError
from seawarden.ingest.csv_dma import dma_records
from seawarden.ingest.csv_noaa import noaa_records
from seawarden.ingest.csv_simple import SIMPLE_COLUMNS, SIMPLE_REQUIRED, simple_records
from seawarden.ingest.csv_sources import (
    CsvInput,
    CsvItem,
    Lines,
    RecordsBody,
    find_column,
    header_names,
    read_with,
)

__all__ = ["CSV_FORMATS", "CsvFormat", "detect_csv_format", "read_csv_records"]

CsvFormat: TypeAlias = Literal["dma", "noaa", "simple"]
CSV_FORMATS: Final[tuple[CsvFormat, ...]] = ("dma", "noaa", "simple")

_BODIES: Final[dict[str, RecordsBody]] = {
    "dma": dma_records,
    "noaa": noaa_records,
    "simple": simple_records,
}
# Columns only NOAA has, besides BaseDateTime (which simple files may also use).
_NOAA_MARKERS: Final = frozenset(
    {"vesselname", "vesseltype", "callsign", "transceiverclass", "transceiver"}
)


def detect_csv_format(header_line: str) -> CsvFormat | None:
    """The format a CSV header line belongs to, or None if none of ours fits.

    >>> detect_csv_format("MMSI,BaseDateTime,LAT,LON,SOG,COG,Heading,VesselName")
    'noaa'
    >>> detect_csv_format("Time,MMSI,Latitude_degrees,Longitude_degrees,COG_degrees,SOG_knots")
    'simple'
    """
    names = header_names(header_line)
    present = set(names)
    if {"timestamp", "typeofmobile", "mmsi", "latitude", "longitude"} <= present:
        return "dma"
    if {"basedatetime", "mmsi"} <= present and present & _NOAA_MARKERS:
        return "noaa"
    if all(find_column(names, SIMPLE_COLUMNS[key]) is not None for key in SIMPLE_REQUIRED):
        return "simple"
    return None


def read_csv_records(src: CsvInput, fmt: str | None = None) -> Iterator[CsvItem]:
    """Records from any supported CSV at ``src``, in file order.

    ``fmt`` (``dma``, ``noaa`` or ``simple``) skips detection. An empty file yields nothing.
    Raises :class:`~seawarden.errors.InputError` at once for an unknown ``fmt``, and on
    iteration for a missing file or a header that matches no format.
    """
    chosen = None if fmt is None else fmt.strip().lower()
    if chosen is not None and chosen not in _BODIES:
        raise InputError(f"unknown CSV format {fmt!r}; choose one of {', '.join(CSV_FORMATS)}")

    def body(source: str, header_line: str, lines: Lines) -> Iterator[CsvItem]:
        found = chosen if chosen is not None else detect_csv_format(header_line)
        if found is None:
            raise InputError(
                f"header matches none of the CSV formats {', '.join(CSV_FORMATS)}; "
                "check it is a DMA, NOAA or time/mmsi/lat/lon file, or name one with --format",
                source=source,
                line_no=1,
            )
        return _BODIES[found](source, header_line, lines)

    return read_with(body, src)
