"""Turn raw AIS field values into clean, unit-named values.

AIS encodes "not available" as in-band sentinels (ITU-R M.1371-5): longitude 181,
latitude 91, speed over ground 102.3 kn, course over ground 360, true heading 511,
rate of turn -128. This module is the one place where those become ``None``, so
nothing downstream ever mistakes a sentinel for a reading. Sources call these
helpers whatever their input format (NMEA payloads, DMA or NOAA CSV columns).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

SPEED_NA_KN = 102.3
COURSE_NA_DEG = 360.0
HEADING_NA = 511
LAT_NA = 91.0
LON_NA = 181.0
ROT_NA = -128.0
# Speeds above this are physically implausible for a surface vessel; 102.2 means "102.2 or more".
MAX_PLAUSIBLE_SPEED_KN = 102.2


def position(lat: float | None, lon: float | None) -> tuple[float, float] | None:
    """A valid (lat, lon) pair, or None for "not available" or an impossible position."""
    if lat is None or lon is None:
        return None
    if not (math.isfinite(lat) and math.isfinite(lon)):
        return None
    if lat == LAT_NA or lon == LON_NA:
        return None
    if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
        return None
    return lat, lon


def speed_kn(value: float | None) -> float | None:
    if value is None or not math.isfinite(value) or value < 0 or value >= SPEED_NA_KN:
        return None
    return float(value)


def course_deg(value: float | None) -> float | None:
    if value is None or not math.isfinite(value) or value < 0 or value >= COURSE_NA_DEG:
        return None
    return float(value)


def heading_deg(value: float | int | None) -> int | None:
    if value is None or not math.isfinite(value):
        return None
    ivalue = int(value)
    if ivalue < 0 or ivalue >= 360:  # 511 and any out-of-range value
        return None
    return ivalue


def rot_deg_min(value: float | None) -> float | None:
    if value is None or not math.isfinite(value) or value == ROT_NA:
        return None
    return float(value)


def nav_status(value: int | None) -> int | None:
    """Navigational status 0..14; 15 is "not defined"."""
    if value is None:
        return None
    ivalue = int(value)
    return ivalue if 0 <= ivalue <= 14 else None


def text(value: str | None) -> str | None:
    """AIS six-bit text: strip '@' padding and blanks; empty means not available."""
    if value is None:
        return None
    cleaned = value.replace("@", " ").strip()
    return cleaned or None


def imo(value: int | str | None) -> int | None:
    """An IMO number as int, or None for 0/blank/unparseable ('IMO9307839' is accepted)."""
    if value is None:
        return None
    if isinstance(value, str):
        digits = value.strip().upper().removeprefix("IMO").strip()
        if not (digits.isascii() and digits.isdigit()):
            return None
        value = int(digits)
    return value if 0 < value <= 9_999_999 else None


def mmsi(value: int | str | None) -> int | None:
    """A nine-digit-or-shorter MMSI as int, or None."""
    if value is None:
        return None
    if isinstance(value, str):
        value = value.strip()
        if not (value.isascii() and value.isdigit()):
            return None
        value = int(value)
    return value if 0 < value <= 999_999_999 else None


def unix_time(seconds_or_ms: float) -> datetime:
    """Interpret a tag-block ``c:`` value: Unix seconds, or milliseconds when too large.

    Anything above 1e11 cannot be seconds (that is year 5138), so it is milliseconds.
    """
    value = float(seconds_or_ms)
    if value > 1e11:
        value /= 1000.0
    return datetime.fromtimestamp(value, tz=UTC)
