"""What a vessel says about itself: position and static/voyage reports.

These are the normalised records every source (NMEA, DMA CSV, NOAA CSV, simple CSV)
produces. A source that cannot turn an input into one of these emits a
:class:`Rejection` with a reason instead, so nothing is lost silently.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class PositionReport:
    """One observed position of one vessel at one event time.

    ``msg_type`` is the AIS message type (1, 2, 3, 18, 19, 27) or 0 for a decoded CSV row.
    ``source`` names the receiving station or file; ``line_no`` the input line (1-based)
    of the last sentence that completed it, for evidence and ``--strict`` errors.
    """

    mmsi: int
    time: datetime
    lat: float
    lon: float
    speed_kn: float | None = None
    course_deg: float | None = None
    heading_deg: int | None = None
    nav_status: int | None = None
    rot_deg_min: float | None = None
    accuracy: bool | None = None
    msg_type: int = 0
    source: str = ""
    line_no: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class StaticReport:
    """Static and voyage data (AIS types 5, 19, 24A/B, or CSV columns).

    Fields a report does not carry are ``None``; a type 24A carries only the name,
    a 24B only type/callsign/dimensions, so the fleet merges parts over time.
    """

    mmsi: int
    time: datetime
    imo: int | None = None
    callsign: str | None = None
    name: str | None = None
    ship_type: int | None = None
    length_m: float | None = None
    beam_m: float | None = None
    draught_m: float | None = None
    destination: str | None = None
    msg_type: int = 0
    source: str = ""
    line_no: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class Rejection:
    """An input that could not become a record, with the reason it was refused.

    Reasons are short stable words used as counter names, e.g. ``checksum``,
    ``bad_fragment``, ``fragment_timeout``, ``unsupported_type``, ``bad_position``,
    ``too_late``, ``duplicate``, ``not_ais``, ``malformed``, ``bad_time``.
    """

    reason: str
    source: str
    line_no: int
    detail: str = ""
    raw: str = ""


Record = PositionReport | StaticReport
