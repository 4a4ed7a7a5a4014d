"""Simple decoded-AIS track CSV: ``time, mmsi, lat, lon, sog, cog[, heading]`` in any order.

Research datasets and demo data publish vessel tracks as bare CSV with one position per row
and no static data, each with its own column names and order: Stone Soup's Solent file says
``Time,MMSI,Latitude_degrees,Longitude_degrees,COG_degrees,SOG_knots``; the DTU Baltic cargo
set says ``mmsi,time,long,lat,sog,cog`` followed by voyage labels. Columns are therefore
found by name (case, spaces and underscores ignored) and extra columns are ignored.

Times are ISO 8601 with or without a zone (naive means UTC), fractional seconds allowed, or
Unix seconds (milliseconds when too large to be seconds). Speeds are knots, courses and
headings degrees; AIS sentinels (SOG 102.3, COG 360, heading 511) become ``None``.
Each data row yields one :class:`~seawarden.model.PositionReport` (``msg_type`` 0) or one
:class:`~seawarden.model.Rejection`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from seawarden.ingest import normalise
from seawarden.ingest.csv_sources import (
    CsvInput,
    CsvItem,
    IsoTimeParser,
    Lines,
    checked_fields,
    header_names,
    indices,
    mmsi_and_time,
    opt_float,
    read_with,
    reject,
    resolve_columns,
)
from seawarden.model import PositionReport, Rejection

__all__ = ["SIMPLE_COLUMNS", "read_simple_csv", "simple_records"]

# Logical column → accepted header names after normalise_name (lower-case, letters/digits).
SIMPLE_COLUMNS: Final[dict[str, tuple[str, ...]]] = {
    "time": ("time", "timestamp", "basedatetime", "datetime"),
    "mmsi": ("mmsi",),
    "lat": ("lat", "latitude", "latitudedegrees"),
    "lon": ("lon", "long", "longitude", "longitudedegrees"),
    "sog": ("sog", "speed", "sogknots"),
    "cog": ("cog", "course", "cogdegrees"),
    "heading": ("heading", "headingdegrees", "trueheading"),
}
SIMPLE_REQUIRED: Final = ("time", "mmsi", "lat", "lon")


def read_simple_csv(src: CsvInput) -> Iterator[CsvItem]:
    """Positions from a simple track CSV at ``src`` (path, ``.gz`` path or text stream).

    Yields, in file order, one ``PositionReport`` or ``Rejection`` per data line.
    Raises :class:`~seawarden.errors.InputError` if the file is missing or its header
    lacks a time, MMSI, latitude or longitude column.
    """
    return read_with(simple_records, src)


def simple_records(source: str, header_line: str, lines: Lines) -> Iterator[CsvItem]:
    """The records of a simple CSV whose header line has already been read."""
    names = header_names(header_line)
    cols = resolve_columns(names, SIMPLE_COLUMNS, SIMPLE_REQUIRED, source=source, fmt="simple")
    width = len(names)
    # Absent optional columns point one past the end, where each row gets an empty field.
    i_time, i_mmsi, i_lat, i_lon, i_sog, i_cog, i_hdg = indices(
        cols, ("time", "mmsi", "lat", "lon", "sog", "cog", "heading"), width
    )
    parse_time = IsoTimeParser()
    to_position, to_speed, to_course, to_heading = (
        normalise.position,
        normalise.speed_kn,
        normalise.course_deg,
        normalise.heading_deg,
    )

    for line_no, line in lines:
        fields = checked_fields(line, width, source, line_no)
        if isinstance(fields, Rejection):
            yield fields
            continue
        ident = mmsi_and_time(fields, i_mmsi, i_time, parse_time, source, line_no, line)
        if isinstance(ident, Rejection):
            yield ident
            continue
        mmsi, time = ident
        try:
            lat = opt_float(fields[i_lat])
            lon = opt_float(fields[i_lon])
            sog = opt_float(fields[i_sog])
            cog = opt_float(fields[i_cog])
            hdg = opt_float(fields[i_hdg])
        except ValueError as exc:
            yield reject("malformed", source, line_no, line, str(exc))
            continue
        pos = to_position(lat, lon)
        if pos is None:
            yield reject("bad_position", source, line_no, line, f"lat {lat}, lon {lon}")
            continue
        yield PositionReport(
            mmsi=mmsi,
            time=time,
            lat=pos[0],
            lon=pos[1],
            speed_kn=to_speed(sog),
            course_deg=to_course(cog),
            heading_deg=to_heading(hdg),
            msg_type=0,
            source=source,
            line_no=line_no,
        )
