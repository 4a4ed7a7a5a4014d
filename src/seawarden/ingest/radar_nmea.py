"""Read radar tracks from NMEA 0183 ``TTM`` (tracked target) and ``TLL`` (target lat/lon).

ARPA and VTS radars put their tracked targets on the same serial/TCP/UDP feeds as AIS, one
sentence per target per scan. ``TTM`` gives range and bearing from the antenna, so a target
is placed by a WGS-84 geodesic from the radar's configured site; ``TLL`` gives the position
directly. Parsing is pynmea2's job; this module adds attribution, event time, units and
validation, and turns each sentence into a :class:`~seawarden.model.Contact` or a
:class:`~seawarden.model.Rejection` with a short stable reason (see ``REASONS``).

Attribution is never guessed: the sentence's tag-block station ``s:`` (or, without one, the
name of the input it came from) must name a configured radar, otherwise ``unknown_sensor``.
``docs/sources/radar.md`` describes the format as read here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from decimal import Decimal, InvalidOperation
from typing import Any

import pynmea2
from pyais.messages import TagBlock
from pyproj import Geod

from seawarden.fusion.sensors import SensorConfig, SensorRegistry
from seawarden.ingest import normalise as nz
from seawarden.model import Contact, Rejection

__all__ = [
    "DISTANCE_UNITS_M",
    "RANGE_SLACK",
    "REASONS",
    "RadarNmeaDecoder",
    "destination_point",
    "is_radar_sentence",
    "split_tag_block",
]

REASONS: tuple[str, ...] = (
    "checksum",
    "malformed",
    "unknown_sensor",
    "relative_bearing",
    "reference_target",
    "out_of_range",
    "lost_target",
    "bad_position",
    "bad_time",
)
# TTM field 10 gives one unit letter for both distance and speed: km & km/h, nautical miles
# & knots, statute miles & mph.
DISTANCE_UNITS_M: dict[str, float] = {"K": 1000.0, "N": 1852.0, "S": 1609.344}
# A target a little beyond the configured range is plausible (ducting, a generous config);
# far beyond it is a wrong site, wrong units or a corrupt field.
RANGE_SLACK = 1.1
# A live sentence's own time of day may trail its receipt (queues, a slow gateway) but not
# by more than this; further off, the radar's clock or the sentence is wrong.
MAX_TOD_SKEW_S = 300.0
MAX_TARGET_NUMBER = 9999  # IEC 61162-1 says 00-99; Furuno ARPAs number up to 999
MAX_LABEL = 64
_GEOD = Geod(ellps="WGS84")
_FORMATTERS = (b"TTM", b"TLL")
_STATUSES = frozenset({"", "T", "Q", "L"})


def split_tag_block(raw: bytes) -> tuple[bytes | None, bytes] | None:
    """``(tag block without the backslashes, sentence)``; ``None`` if a tag block is opened
    but never closed. Same split as pyais's ``NMEASentenceFactory`` (whose version silently
    mis-splits an unclosed block)."""
    raw = raw.strip()
    if raw[:1] != b"\\":
        return None, raw
    end = raw.find(b"\\", 1)
    if end < 0:
        return None
    return raw[1:end], raw[end + 1 :]


def is_radar_sentence(raw: bytes) -> bool:
    """Whether a line is a TTM or TLL sentence of any talker (``$RATTM``, ``$ARTLL``…),
    after an optional tag block. Cheap: looks at the address field only."""
    split = split_tag_block(raw)
    body = raw.strip() if split is None else split[1]
    return (
        len(body) >= 7
        and body[:1] == b"$"
        and body[1:3].isalnum()
        and body[3:6] in _FORMATTERS
        and body[6:7] in (b",", b"*")
    )


def destination_point(
    lat: float, lon: float, bearing_deg: float, dist_m: float
) -> tuple[float, float]:
    """(lat, lon) reached from (lat, lon) along a WGS-84 geodesic with the given initial
    true bearing and length — how a radar's range/bearing becomes a position."""
    lon2, lat2, _ = _GEOD.fwd(lon, lat, bearing_deg, dist_m)
    return float(lat2), (float(lon2) + 540.0) % 360.0 - 180.0


class _RejectError(Exception):
    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True, slots=True)
class _Meta:
    tag_time: datetime | None
    station: str


class RadarNmeaDecoder:
    """Turns TTM/TLL sentences of one stream into contacts.

    ``sensors``: the configured radars (``None``: every sentence is ``unknown_sensor``).
    ``source``: the input's name; a sentence without a tag-block station is attributed to
    the sensor whose id or station is this name. ``assume_time``: the date to put a bare
    UTC time-of-day on before any full time has been seen (``None``: such sentences are
    ``bad_time`` until one has).

    The decoder remembers the last event time it produced (``last_time``) as the reference
    for later time-of-day fields; :meth:`decode` can be given a caller's reference instead.
    """

    def __init__(
        self,
        *,
        sensors: SensorRegistry | None,
        source: str = "",
        assume_time: datetime | None = None,
    ) -> None:
        self.sensors = sensors
        self.source = source
        self.last_time: datetime | None = None
        self._assume_time = assume_time

    def decode(
        self,
        raw: bytes,
        line_no: int,
        *,
        received: datetime | None = None,
        reference: datetime | None = None,
    ) -> Contact | Rejection:
        """One input line (tag block included) → a contact or a rejection; never raises."""
        raw = raw.strip()
        try:
            contact = self._decode(raw, line_no, received, reference)
        except _RejectError as rej:
            return self._rejection(rej.reason, line_no, raw, rej.detail)
        self.last_time = contact.time
        return contact

    # -- internals ------------------------------------------------------------------------
    def _rejection(self, reason: str, line_no: int, raw: bytes, detail: str) -> Rejection:
        return Rejection(
            reason=reason,
            source=self.source,
            line_no=line_no,
            detail=detail[:80],
            raw=raw.decode("ascii", "replace")[:200],
        )

    def _decode(
        self, raw: bytes, line_no: int, received: datetime | None, reference: datetime | None
    ) -> Contact:
        meta, msg = self._parse(raw)
        sensor = self.sensors.by_station(meta.station) if self.sensors is not None else None
        if sensor is None or sensor.kind != "radar" or sensor.lat is None or sensor.lon is None:
            raise _RejectError("unknown_sensor", f"station={meta.station!r}")
        number = _target_number(msg.target_number)
        if isinstance(msg, pynmea2.TTM):
            status, ref_flag = _status(msg.status), str(msg.reference).strip()
        else:
            status, ref_flag = _status(msg.target_status), str(msg.reference).strip()
        if status == "L":
            raise _RejectError("lost_target", f"target={number}")
        if ref_flag == "R":
            # A reference target is a fixed echo the radar uses to stabilise itself (a buoy,
            # a pier head): not a vessel, and fusion would take it for a dark one.
            raise _RejectError("reference_target", f"target={number}")
        if ref_flag:
            raise _RejectError("malformed", f"reference flag {ref_flag!r}")
        if isinstance(msg, pynmea2.TTM):
            lat, lon, speed, course = self._place_ttm(msg, sensor)
            label = msg.name
        else:
            lat, lon = _tll_position(msg)
            speed = course = None
            label = msg.target_name
            dist = sensor.distance_m(lat, lon)
            limit = None if sensor.range_m is None else sensor.range_m * RANGE_SLACK
            if dist is not None and limit is not None and dist > limit:
                raise _RejectError("out_of_range", f"{dist:.0f} m > {sensor.range_m:.0f} m")
        time = self._event_time(meta, msg.timestamp, msg, received, reference)
        return Contact(
            time=time,
            lat=lat,
            lon=lon,
            sensor=sensor.id,
            kind="radar",
            track=None if number is None else str(number),
            speed_kn=speed,
            course_deg=course,
            label=_label(label),
            status=status or None,
            source=meta.station,
            line_no=line_no,
        )

    def _parse(self, raw: bytes) -> tuple[_Meta, Any]:
        split = split_tag_block(raw)
        if split is None:
            raise _RejectError("malformed", "unclosed tag block")
        tag_raw, body = split
        tag_time: datetime | None = None
        station = ""
        if tag_raw is not None:
            tb = TagBlock(tag_raw)
            tb.init()
            if not tb.is_valid:
                reason = "checksum" if tb.expected_checksum >= 0 else "malformed"
                raise _RejectError(reason, "tag block")
            if tb.receiver_timestamp is not None:
                try:
                    tag_time = nz.unix_time(float(tb.receiver_timestamp))
                except (ValueError, OverflowError, OSError) as exc:
                    raise _RejectError("bad_time", "tag block c:") from exc
            station = tb.source_station or ""
        try:
            text = body.decode("ascii")
        except UnicodeDecodeError as exc:
            raise _RejectError("malformed", "not ASCII") from exc
        if not text.isprintable():
            raise _RejectError("malformed", "control characters")
        try:
            # check=True: a sentence without a checksum is refused, as for AIS.
            msg = pynmea2.parse(text, check=True)
        except pynmea2.ChecksumError as exc:
            raise _RejectError("checksum", str(exc)[:80]) from exc
        except (pynmea2.ParseError, ValueError, TypeError, IndexError) as exc:
            raise _RejectError("malformed", type(exc).__name__) from exc
        if not isinstance(msg, pynmea2.TTM | pynmea2.TLL):
            raise _RejectError("malformed", f"not TTM/TLL: {type(msg).__name__}")
        return _Meta(tag_time=tag_time, station=station or self.source), msg

    def _place_ttm(
        self, msg: Any, sensor: SensorConfig
    ) -> tuple[float, float, float | None, float | None]:
        unit = str(msg.dist_unit).strip()
        if unit not in DISTANCE_UNITS_M:
            raise _RejectError("malformed", f"distance units {unit!r}")
        ref = str(msg.brg_ref).strip()
        if ref == "R":
            # Relative to own heading: a fixed radar reports no heading to resolve it with.
            raise _RejectError("relative_bearing")
        if ref != "T":
            raise _RejectError("malformed", f"bearing reference {ref!r}")
        dist_units = _number(msg.distance, "distance")
        bearing = _number(msg.bearing, "bearing")
        if dist_units is None or bearing is None:
            raise _RejectError("malformed", "distance or bearing missing")
        if dist_units < 0 or not 0.0 <= bearing <= 360.0:
            raise _RejectError("bad_position", f"distance={dist_units} bearing={bearing}")
        dist_m = dist_units * DISTANCE_UNITS_M[unit]
        assert sensor.lat is not None  # checked by the caller
        assert sensor.lon is not None
        if sensor.range_m is not None and dist_m > sensor.range_m * RANGE_SLACK:
            raise _RejectError("out_of_range", f"{dist_m:.0f} m > {sensor.range_m:.0f} m")
        lat, lon = destination_point(sensor.lat, sensor.lon, bearing % 360.0, dist_m)
        if not (math.isfinite(lat) and math.isfinite(lon)):  # pragma: no cover - defensive
            raise _RejectError("bad_position")
        # Speed in the same unit family as distance (per hour) → knots.
        speed = _number(msg.speed, "speed", strict=False)
        speed_kn = None
        if speed is not None and 0.0 <= speed < 1000.0:
            speed_kn = speed * DISTANCE_UNITS_M[unit] / 1852.0
        course = _number(msg.cog, "course", strict=False)
        course_deg = None
        # A relative course needs own heading too; the speed of relative motion seen from a
        # fixed site is the true speed, so only the direction is dropped.
        if course is not None and str(msg.cog_unit).strip() == "T" and 0.0 <= course <= 360.0:
            course_deg = course % 360.0
        return lat, lon, speed_kn, course_deg

    def _event_time(
        self,
        meta: _Meta,
        utc: Any,
        msg: Any,
        received: datetime | None,
        reference: datetime | None,
    ) -> datetime:
        if meta.tag_time is not None:
            return meta.tag_time
        field = _raw_field(msg, "timestamp")
        if field:
            if not isinstance(utc, dtime):
                raise _RejectError("bad_time", f"UTC field {field!r}")
            # Live, the receive time dates a bare time of day: a stream's own last time could
            # be walked a day off by one bad sentence and drag every later one with it.
            ref = received or reference or self.last_time or self._assume_time
            if ref is None:
                raise _RejectError("bad_time", "time of day without a reference date")
            when = nearest_datetime(utc, ref)
            if received is not None and abs((when - received).total_seconds()) > MAX_TOD_SKEW_S:
                raise _RejectError(
                    "bad_time", f"time of day {field} is over {MAX_TOD_SKEW_S:g} s from receipt"
                )
            return when
        if received is not None:
            return received
        raise _RejectError("bad_time", "no time")


def nearest_datetime(tod: dtime, reference: datetime) -> datetime:
    """The datetime with time-of-day ``tod`` (UTC) nearest ``reference``: the reference's
    date, the day before or the day after — so 23:59:58 after a 00:00:03 reference is
    yesterday, and 00:00:01 after 23:59:59 is tomorrow."""
    ref = reference.astimezone(UTC)
    base: date = ref.date()
    naive = tod.replace(tzinfo=None)
    candidates = [datetime.combine(base + timedelta(days=d), naive, tzinfo=UTC) for d in (-1, 0, 1)]
    return min(candidates, key=lambda c: abs((c - ref).total_seconds()))


def _raw_field(msg: Any, name: str) -> str:
    i = type(msg).name_to_idx[name]
    return str(msg.data[i]).strip() if i < len(msg.data) else ""


def _number(value: Any, what: str, *, strict: bool = True) -> float | None:
    """A pynmea2 Decimal field as a finite float; ``None`` when empty. pynmea2 hands back
    the raw string when conversion fails: that is ``malformed`` (or ``None`` if not strict,
    for fields we only keep when usable)."""
    if value is None:
        return None
    try:
        if not isinstance(value, Decimal):
            raise InvalidOperation
        out = float(value)
    except (InvalidOperation, ValueError, OverflowError) as exc:
        if not strict:
            return None
        raise _RejectError("malformed", f"{what} {str(value)[:20]!r}") from exc
    if not math.isfinite(out):
        if not strict:
            return None
        raise _RejectError("malformed", f"{what} not finite")
    return out


def _target_number(value: Any) -> int | None:
    if value is None:
        return None  # some TLL senders leave it empty (go-nmea's example): still a position
    if not isinstance(value, int) or not 0 <= value <= MAX_TARGET_NUMBER:
        raise _RejectError("malformed", f"target number {str(value)[:20]!r}")
    return value


def _status(value: Any) -> str:
    s = str(value).strip()
    if s not in _STATUSES:
        raise _RejectError("malformed", f"target status {s[:10]!r}")
    return s


def _label(value: Any) -> str | None:
    s = str(value).strip()[:MAX_LABEL]
    return s or None


def _tll_position(msg: Any) -> tuple[float, float]:
    if str(msg.lat_dir) not in ("N", "S") or str(msg.lon_dir) not in ("E", "W"):
        raise _RejectError("malformed", "hemisphere")
    if not str(msg.lat).strip() or not str(msg.lon).strip():
        # pynmea2 reads an empty coordinate as 0.0: that is "no position", not the equator.
        raise _RejectError("bad_position", "empty coordinate")
    try:
        lat, lon = float(msg.latitude), float(msg.longitude)
    except ValueError as exc:
        raise _RejectError("malformed", "coordinate") from exc
    lat_min = math.fmod(abs(float(str(msg.lat))), 100.0)
    lon_min = math.fmod(abs(float(str(msg.lon))), 100.0)
    pos = nz.position(lat, lon)
    if pos is None or lat_min >= 60.0 or lon_min >= 60.0:
        raise _RejectError("bad_position", f"lat={msg.lat} lon={msg.lon}")
    return pos
