"""NOAA MarineCadastre AIS CSV: US coastal traffic, decoded and thinned to about one a minute.

NOAA and BOEM publish daily US AIS files (``AIS_YYYY_MM_DD.csv``) in which every row is a
position with the vessel's static data repeated::

    MMSI,BaseDateTime,LAT,LON,SOG,COG,Heading,VesselName,IMO,CallSign,VesselType,Status,
    Length,Width,Draft,Cargo,TransceiverClass

``BaseDateTime`` is ISO 8601 without a zone and is UTC. Numeric codes arrive as floats
(``Status`` ``"0.0"``), IMO as ``"IMO9307839"`` (``IMO0000000`` = none), and AIS sentinels are
kept (heading ``511.0``, SOG ``102.3``, COG ``360.0``) until :mod:`~seawarden.ingest.normalise`
turns them into ``None``. ``Cargo`` (the hazard-category digit again) is ignored.
``TransceiverClass`` ``A`` rows become ``msg_type`` 1, ``B`` 18, absent 0. Files before 2018
lack that column; newer snake_case headers (``base_date_time``, ``vessel_name``…) are
accepted because names are compared without case or underscores.
"""

from __future__ import annotations

from collections.abc import Iterator
from operator import itemgetter
from typing import Final

from seawarden.ingest import normalise
from seawarden.ingest.csv_sources import (
    DEFAULT_STATIC_CACHE_SIZE,
    CsvInput,
    CsvItem,
    IsoTimeParser,
    Lines,
    StaticTracker,
    StaticValues,
    checked_fields,
    dimension_m,
    header_names,
    indices,
    mmsi_and_time,
    opt_code,
    opt_float,
    parse_imo,
    read_with,
    reject,
    resolve_columns,
    ship_type_code,
    static_report,
)
from seawarden.model import PositionReport, Rejection

__all__ = ["NOAA_COLUMNS", "noaa_records", "read_noaa_csv"]

NOAA_COLUMNS: Final[dict[str, tuple[str, ...]]] = {
    "time": ("basedatetime",),
    "mmsi": ("mmsi",),
    "lat": ("lat", "latitude"),
    "lon": ("lon", "longitude"),
    "sog": ("sog",),
    "cog": ("cog",),
    "heading": ("heading",),
    "name": ("vesselname",),
    "imo": ("imo",),
    "callsign": ("callsign",),
    "ship_type": ("vesseltype",),
    "status": ("status",),
    "length": ("length",),
    "beam": ("width",),
    "draught": ("draft", "draught"),
    "transceiver": ("transceiverclass", "transceiver"),
}
NOAA_REQUIRED: Final = ("time", "mmsi", "lat", "lon")

_TRANSCEIVER_MSG_TYPE: Final[dict[str, int]] = {"A": 1, "B": 18}
_STATIC_KEYS: Final = (
    "imo",
    "callsign",
    "name",
    "ship_type",
    "length",
    "beam",
    "draught",
)


def _static_values(raw: tuple[str, ...]) -> StaticValues:
    imo, callsign, name, ship_type, length, beam, draught = raw
    return (
        parse_imo(imo),
        normalise.text(callsign),
        normalise.text(name),
        ship_type_code(opt_code(ship_type)),
        dimension_m(opt_float(length)),
        dimension_m(opt_float(beam)),
        dimension_m(opt_float(draught)),
        None,  # NOAA publishes no destination
    )


def read_noaa_csv(
    src: CsvInput, *, static_cache_size: int = DEFAULT_STATIC_CACHE_SIZE
) -> Iterator[CsvItem]:
    """Records from a NOAA MarineCadastre CSV at ``src`` (path, ``.gz`` path or text stream).

    Yields, in file order, per data line one ``PositionReport`` or ``Rejection``, preceded
    by a ``StaticReport`` when that vessel's static columns changed. Raises
    :class:`~seawarden.errors.InputError` if the file is missing or not NOAA-shaped.
    """
    return read_with(
        lambda source, header, lines: noaa_records(
            source, header, lines, static_cache_size=static_cache_size
        ),
        src,
    )


def noaa_records(
    source: str,
    header_line: str,
    lines: Lines,
    *,
    static_cache_size: int = DEFAULT_STATIC_CACHE_SIZE,
) -> Iterator[CsvItem]:
    """The records of a NOAA CSV whose header line has already been read."""
    names = header_names(header_line)
    cols = resolve_columns(names, NOAA_COLUMNS, NOAA_REQUIRED, source=source, fmt="noaa")
    width = len(names)
    i_time, i_mmsi, i_lat, i_lon, i_sog, i_cog, i_hdg, i_status, i_class = indices(
        cols,
        ("time", "mmsi", "lat", "lon", "sog", "cog", "heading", "status", "transceiver"),
        width,
    )
    static_raw = itemgetter(*indices(cols, _STATIC_KEYS, width))
    tracker = StaticTracker(static_cache_size)
    parse_time = IsoTimeParser()
    msg_types = _TRANSCEIVER_MSG_TYPE
    to_position, to_speed, to_course, to_heading, to_status = (
        normalise.position,
        normalise.speed_kn,
        normalise.course_deg,
        normalise.heading_deg,
        normalise.nav_status,
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
            status = opt_code(fields[i_status])
            raw: tuple[str, ...] = static_raw(fields)
            statics = None if tracker.unchanged_raw(mmsi, raw) else _static_values(raw)
        except (ValueError, OverflowError) as exc:
            yield reject("malformed", source, line_no, line, str(exc))
            continue
        if statics is not None and tracker.update(mmsi, raw, statics):
            yield static_report(mmsi, time, statics, msg_type=0, source=source, line_no=line_no)
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
            nav_status=to_status(status),
            msg_type=msg_types.get(fields[i_class].strip(), 0),
            source=source,
            line_no=line_no,
        )
