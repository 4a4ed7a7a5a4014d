"""Reports on the wire: PositionReport / StaticReport ↔ compact orjson bytes, exactly.

Every worker must see records equal, field for field, to what a single-process replay
feeds the core, or partitioned results would drift from sequential ones. So the encoding
is positional (a JSON array led by a kind tag and a format version) with the event time as
integer microseconds since the Unix epoch: no float rounding, no time-zone text to
re-parse, and about a third of the bytes of a keyed object. Floats go through orjson,
which writes the shortest repr that reads back to the same double.

A message that does not decode raises :class:`CodecError`; the worker counts and skips it.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from seawarden.errors import InputError
from seawarden.model import PositionReport, StaticReport

VERSION = 1
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)

BusRecord = PositionReport | StaticReport


class CodecError(InputError):
    """Bytes on the bus that are not a report this version understands."""


def _micros(t: datetime) -> int:
    if t.tzinfo is None:
        raise ValueError("report time must be time-zone aware (UTC)")
    return (t - _EPOCH) // _US


def _time(us: Any) -> datetime:
    if type(us) is not int:
        raise CodecError(f"time must be an integer of microseconds, got {us!r}")
    try:
        return _EPOCH + timedelta(microseconds=us)
    except OverflowError:
        raise CodecError(f"time out of range: {us}") from None


def encode(rec: BusRecord) -> bytes:
    """The wire form of one report (``ValueError`` for a naive time or a non-finite float)."""
    if isinstance(rec, PositionReport):
        row: list[Any] = [
            "P",
            VERSION,
            rec.mmsi,
            _micros(rec.time),
            rec.lat,
            rec.lon,
            rec.speed_kn,
            rec.course_deg,
            rec.heading_deg,
            rec.nav_status,
            rec.rot_deg_min,
            rec.accuracy,
            rec.msg_type,
            rec.source,
            rec.line_no,
        ]
        for v in (rec.lat, rec.lon, rec.speed_kn, rec.course_deg, rec.rot_deg_min):
            if v is not None and not math.isfinite(v):
                raise ValueError(f"non-finite value in a position of {rec.mmsi}")
    elif isinstance(rec, StaticReport):
        row = [
            "S",
            VERSION,
            rec.mmsi,
            _micros(rec.time),
            rec.imo,
            rec.callsign,
            rec.name,
            rec.ship_type,
            rec.length_m,
            rec.beam_m,
            rec.draught_m,
            rec.destination,
            rec.msg_type,
            rec.source,
            rec.line_no,
        ]
        for v in (rec.length_m, rec.beam_m, rec.draught_m):
            if v is not None and not math.isfinite(v):
                raise ValueError(f"non-finite value in a static report of {rec.mmsi}")
    else:
        raise TypeError(f"not a bus record: {type(rec).__name__}")
    return orjson.dumps(row)


def _int(v: Any, what: str) -> int:
    if type(v) is not int:
        raise CodecError(f"{what} must be an integer, got {v!r}")
    return v


def _opt_int(v: Any, what: str) -> int | None:
    return None if v is None else _int(v, what)


def _opt_float(v: Any, what: str) -> float | None:
    if v is None:
        return None
    if type(v) is int:  # orjson writes 3.0 as 3.0, but be lenient with other producers
        return float(v)
    if type(v) is not float:
        raise CodecError(f"{what} must be a number, got {v!r}")
    return v


def _float(v: Any, what: str) -> float:
    out = _opt_float(v, what)
    if out is None:
        raise CodecError(f"{what} is missing")
    return out


def _opt_str(v: Any, what: str) -> str | None:
    if v is not None and type(v) is not str:
        raise CodecError(f"{what} must be text, got {v!r}")
    return v


def _opt_bool(v: Any, what: str) -> bool | None:
    if v is not None and type(v) is not bool:
        raise CodecError(f"{what} must be true/false, got {v!r}")
    return v


def decode(data: bytes) -> BusRecord:
    """One report from its wire form; :class:`CodecError` for anything else."""
    try:
        row = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise CodecError(f"not JSON: {exc}") from None
    if not isinstance(row, list) or len(row) != 15:
        raise CodecError("not a report: expected a 15-element array")
    kind, version = row[0], row[1]
    if version != VERSION:
        raise CodecError(f"report format version {version!r}; this build reads {VERSION}")
    source = _opt_str(row[13], "source")
    common: dict[str, Any] = {
        "mmsi": _int(row[2], "mmsi"),
        "time": _time(row[3]),
        "msg_type": _int(row[12], "msg_type"),
        "source": "" if source is None else source,
        "line_no": _int(row[14], "line_no"),
    }
    if kind == "P":
        return PositionReport(
            **common,
            lat=_float(row[4], "lat"),
            lon=_float(row[5], "lon"),
            speed_kn=_opt_float(row[6], "speed_kn"),
            course_deg=_opt_float(row[7], "course_deg"),
            heading_deg=_opt_int(row[8], "heading_deg"),
            nav_status=_opt_int(row[9], "nav_status"),
            rot_deg_min=_opt_float(row[10], "rot_deg_min"),
            accuracy=_opt_bool(row[11], "accuracy"),
        )
    if kind == "S":
        return StaticReport(
            **common,
            imo=_opt_int(row[4], "imo"),
            callsign=_opt_str(row[5], "callsign"),
            name=_opt_str(row[6], "name"),
            ship_type=_opt_int(row[7], "ship_type"),
            length_m=_opt_float(row[8], "length_m"),
            beam_m=_opt_float(row[9], "beam_m"),
            draught_m=_opt_float(row[10], "draught_m"),
            destination=_opt_str(row[11], "destination"),
        )
    raise CodecError(f"unknown report kind {kind!r}")
