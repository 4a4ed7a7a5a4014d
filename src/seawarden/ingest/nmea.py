"""Decode NMEA 0183 AIS sentences (with NMEA 4 tag blocks) into vessel reports.

Real feeds are messy: receivers prefix tag blocks (``\\s:station,c:unix-time*hh\\``),
Gatehouse networks wrap sentences in ``$PGHP`` lines that carry the time, multi-part
messages arrive interleaved or incomplete, and corruption is routine. Decoding itself is
pyais's job; this module does everything around it — event time, fragment assembly,
normalisation into :mod:`seawarden.model` records — and turns every line it cannot use
into a :class:`~seawarden.model.Rejection` with a reason, so that for any input
``lines = blank/comment + wrappers + rejected lines + fragments used`` holds exactly.

Event time comes from, in order: the tag block ``c:`` (seconds or milliseconds), a
preceding ``$PGHP`` wrapper, the receive time given by a live source, the last event
time seen in the same stream, and finally the caller's ``assume_time``. Records whose
time was carried forward or assumed are counted (``stats.assumed_time``).

One-part position reports (types 1/2/3/18, three lines in four of a real feed) take a
fast path (:mod:`seawarden.ingest.fastpath`) that gives pyais's values for the fields read
here; every other line, and any line the fast path has a doubt about, goes through pyais.

Radar sentences (NMEA 0183 ``TTM``/``TLL``) on the same feed are routed, before pyais, to
:class:`~seawarden.ingest.radar_nmea.RadarNmeaDecoder` and become
:class:`~seawarden.model.Contact` records when a sensor registry attributes them; a used
radar sentence counts in ``fragments_used`` (and ``radar_used``), so the line accounting
above still holds.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pyais.exceptions import AISBaseException
from pyais.messages import AISSentence, GatehouseSentence, NMEASentenceFactory

from seawarden.clock import EPOCH
from seawarden.fusion.sensors import SensorRegistry
from seawarden.ingest import normalise as nz
from seawarden.ingest.assembler import FragmentAssembler, GroupKey
from seawarden.ingest.fastpath import FastLine, claim
from seawarden.ingest.radar_nmea import RadarNmeaDecoder, is_radar_sentence
from seawarden.model import Contact, PositionReport, Record, Rejection, StaticReport

log = logging.getLogger(__name__)

# pyais exception → our rejection reason, for complete messages that fail to decode.
_DECODE_REASONS = {
    "UnknownMessageException": "unsupported_type",
    "MissingPayloadException": "empty_payload",
    "UnknownPartNoException": "bad_part",
}

POSITION_TYPES = frozenset({1, 2, 3, 18, 19, 27})
STATIC_TYPES = frozenset({5, 19, 24})
# Evidence retention (store/evidence.py): called once per decoded message with its first
# record, the input line number(s) and raw line(s) (tag block included; a tuple for every
# part of a multi-part message) and the live receive time; and once per radar contact
# (TTM/TLL) with its sentence.
RawTap = Callable[
    [Record | Contact, int | tuple[int, ...], bytes | tuple[bytes, ...], datetime | None], None
]


@dataclass(frozen=True, slots=True, kw_only=True)
class NmeaConfig:
    """Decoder parameters.

    ``fragment_timeout_s``: how long (event time) to wait for the rest of a multi-part
    message; real receivers emit parts within a second, 30 s tolerates buffering.
    ``max_pending_fragments``: bound on waiting groups (memory).
    """

    fragment_timeout_s: float = 30.0
    max_pending_fragments: int = 10_000

    def __post_init__(self) -> None:
        if self.fragment_timeout_s <= 0 or self.max_pending_fragments <= 0:
            raise ValueError("fragment_timeout_s and max_pending_fragments must be positive")


@dataclass(slots=True)
class DecodeStats:
    """Counters for one stream; every input line lands in exactly one line bucket."""

    lines: int = 0
    blank_or_comment: int = 0
    wrappers: int = 0  # $PGHP lines consumed as metadata
    fragments_used: int = 0  # sentences that became part of a decoded message (or a contact)
    rejected_lines: int = 0  # sentences refused (checksum, malformed, fragment_timeout…)
    messages: int = 0  # complete AIS messages handed to pyais
    positions: int = 0
    statics: int = 0
    skipped_types: Counter[int] = field(default_factory=Counter)  # decoded, not a vessel report
    rejected_messages: int = 0  # complete messages that gave no record (no_position…)
    rejections: Counter[str] = field(default_factory=Counter)
    assumed_time: int = 0
    radar_used: int = 0  # TTM/TLL sentences that became a contact (also in fragments_used)
    contacts: int = 0
    radar_rejections: Counter[str] = field(default_factory=Counter)  # subset of rejections

    def as_dict(self) -> dict[str, Any]:
        return {
            "lines": self.lines,
            "blank_or_comment": self.blank_or_comment,
            "wrappers": self.wrappers,
            "fragments_used": self.fragments_used,
            "rejected_lines": self.rejected_lines,
            "messages": self.messages,
            "positions": self.positions,
            "statics": self.statics,
            "skipped_types": {str(k): v for k, v in sorted(self.skipped_types.items())},
            "rejected_messages": self.rejected_messages,
            "rejections": dict(sorted(self.rejections.items())),
            "assumed_time": self.assumed_time,
            "radar_used": self.radar_used,
            "contacts": self.contacts,
            "radar_rejections": dict(sorted(self.radar_rejections.items())),
        }


@dataclass(slots=True)
class _Fragment:
    sentence: AISSentence
    line_no: int
    time: datetime
    station: str
    raw: bytes = b""  # the input line as read (stripped), for evidence
    received: datetime | None = None


class NmeaDecoder:
    """Stateful decoder for one stream of lines (a file or a connection)."""

    def __init__(
        self,
        *,
        source: str,
        config: NmeaConfig | None = None,
        assume_time: datetime = EPOCH,
        sensors: SensorRegistry | None = None,
    ) -> None:
        self.source = source
        self.config = config or NmeaConfig()
        self.stats = DecodeStats()
        self._assembler: FragmentAssembler[_Fragment] = FragmentAssembler(
            timeout_s=self.config.fragment_timeout_s,
            max_pending=self.config.max_pending_fragments,
        )
        self._last_time: datetime | None = None
        self._assume_time = assume_time
        self._wrapper_time: datetime | None = None
        # NMEA 4 groups: the first part carries c:/s:, later parts only g:.
        self._group_meta: dict[int, tuple[datetime, str]] = {}
        self.tap: RawTap | None = None
        # pyais for every line when False: the reference the fast path is tested against
        self.fast_path = True
        # EPOCH is "no idea": a radar time-of-day is not put on 1 Jan 1970.
        self._radar = RadarNmeaDecoder(
            sensors=sensors,
            source=source,
            assume_time=None if assume_time == EPOCH else assume_time,
        )

    # -- public ---------------------------------------------------------------------------
    def feed(
        self, line: bytes | str, line_no: int, received: datetime | None = None
    ) -> list[Record | Contact | Rejection]:
        """Decode one input line; returns records, contacts and rejections it completed."""
        self.stats.lines += 1
        raw = line.encode("ascii", "replace") if isinstance(line, str) else line
        raw = raw.strip()
        if not raw or raw[:1] == b"#":
            self.stats.blank_or_comment += 1
            return []
        if self.fast_path and (fast := claim(raw)) is not None:
            done = self._fast(fast, raw, line_no, received)
            if done is not None:
                return done
        if b"$" in raw and is_radar_sentence(raw):  # AIS lines (!AIVDM) skip at C speed
            return [self._feed_radar(raw, line_no, received)]
        try:
            sentence = NMEASentenceFactory.produce(raw)
        except AISBaseException as exc:
            reason = "not_ais" if type(exc).__name__ == "UnknownMessageException" else "malformed"
            return [self._reject_line(reason, line_no, raw, str(exc)[:80])]
        except (ValueError, IndexError, TypeError, UnicodeDecodeError) as exc:
            return [self._reject_line("malformed", line_no, raw, type(exc).__name__)]

        if isinstance(sentence, GatehouseSentence):
            self.stats.wrappers += 1
            self._wrapper_time = sentence.timestamp.replace(tzinfo=UTC)
            return []
        if not isinstance(sentence, AISSentence):  # pragma: no cover - factory guarantees it
            return [self._reject_line("not_ais", line_no, raw)]
        if not sentence.is_valid:
            return [self._reject_line("checksum", line_no, raw)]

        time, station, group = self._stamp(sentence, received, line_no, raw)
        if time is None:
            return [self._reject_line("bad_tag_block", line_no, raw)]
        frag = _Fragment(
            sentence=sentence,
            line_no=line_no,
            time=time,
            station=station,
            raw=raw,
            received=received,
        )
        if sentence.frag_cnt == 1:
            self.stats.fragments_used += 1
            return [*self._decode([frag])]

        key: GroupKey
        if group is not None:
            key = ("g", group)
        else:
            key = (station, sentence.channel, sentence.seq_id, sentence.frag_cnt)
        result = self._assembler.add(key, sentence.frag_num, sentence.frag_cnt, time, frag)
        out: list[Record | Contact | Rejection] = [
            self._reject_line(reason, f.line_no, f.sentence.raw) for reason, f in result.evicted
        ]
        if result.complete is not None:
            self.stats.fragments_used += len(result.complete)
            out.extend(self._decode(result.complete))
        return out

    def pending_min_line(self) -> int | None:
        """The earliest line still needed to complete a waiting multi-part message."""
        return self._assembler.min_fragment(lambda f: f.line_no)

    def flush(self) -> list[Rejection]:
        """End of stream: fragments still waiting for their other parts are rejected."""
        return [self._reject_line(r, f.line_no, f.sentence.raw) for r, f in self._assembler.drain()]

    # -- internals ------------------------------------------------------------------------
    def _feed_radar(
        self, raw: bytes, line_no: int, received: datetime | None
    ) -> Contact | Rejection:
        item = self._radar.decode(raw, line_no, received=received, reference=self._last_time)
        if isinstance(item, Rejection):
            self.stats.rejected_lines += 1
            self.stats.rejections[item.reason] += 1
            self.stats.radar_rejections[item.reason] += 1
            return item
        self.stats.fragments_used += 1
        self.stats.radar_used += 1
        self.stats.contacts += 1
        # The radar's clock dates later bare times-of-day, AIS or radar, in this stream.
        self._last_time = item.time
        if self.tap is not None:
            self.tap(item, line_no, raw, received)
        return item

    def _reject_line(self, reason: str, line_no: int, raw: bytes, detail: str = "") -> Rejection:
        self.stats.rejected_lines += 1
        self.stats.rejections[reason] += 1
        return Rejection(
            reason=reason,
            source=self.source,
            line_no=line_no,
            detail=detail,
            raw=raw.decode("ascii", "replace")[:200],
        )

    def _reject_message(
        self, reason: str, line_no: int, sentence: bytes, detail: str = ""
    ) -> Rejection:
        self.stats.rejected_messages += 1
        self.stats.rejections[reason] += 1
        return Rejection(
            reason=reason,
            source=self.source,
            line_no=line_no,
            detail=detail,
            raw=sentence.decode("ascii", "replace")[:200],
        )

    def _fast(
        self, line: FastLine, raw: bytes, line_no: int, received: datetime | None
    ) -> list[Record | Contact | Rejection] | None:
        """A line :func:`~seawarden.ingest.fastpath.claim` decoded, accounted exactly as
        pyais's route would; ``None`` (nothing counted) sends it down that route, which
        rejects a ``c:`` that is not a time."""
        time: datetime | None = None
        if line.timestamp is not None:
            try:
                time = nz.unix_time(float(line.timestamp))
            except (ValueError, OverflowError, OSError):
                return None
        time = self._event_time(time, received)
        self.stats.fragments_used += 1
        self.stats.messages += 1
        station = line.station or self.source
        out = self._to_records(line.message, time, station, line_no, line.sentence)
        if self.tap is not None and out and not isinstance(out[0], Rejection):
            self.tap(out[0], line_no, raw, received)
        return [*out]

    def _stamp(
        self, sentence: AISSentence, received: datetime | None, line_no: int, raw: bytes
    ) -> tuple[datetime | None, str, int | None]:
        """Event time, station and NMEA 4 group id of a sentence."""
        time: datetime | None = None
        station = ""
        group: int | None = None
        tb = sentence.tag_block
        if tb is not None:
            tb.init()
            if not tb.is_valid:
                return None, "", None
            if tb.receiver_timestamp is not None:
                try:
                    time = nz.unix_time(float(tb.receiver_timestamp))
                except (ValueError, OverflowError, OSError):
                    return None, "", None
            station = tb.source_station or ""
            if tb.group is not None and tb.group.sentence_tot > 1:
                group = tb.group.group_id
                if time is not None:
                    self._group_meta[group] = (time, station)
                    if len(self._group_meta) > 4 * self.config.max_pending_fragments:
                        self._group_meta.pop(next(iter(self._group_meta)))
                elif group in self._group_meta:
                    time, group_station = self._group_meta[group]
                    station = station or group_station
        return self._event_time(time, received), station, group

    def _event_time(self, time: datetime | None, received: datetime | None) -> datetime:
        """A tag block's time if any, else a wrapper's, the receive time, the last time
        seen, the assumed time — and remember a real one for the lines that follow."""
        if time is None and self._wrapper_time is not None:
            time, self._wrapper_time = self._wrapper_time, None
        if time is None and received is not None:
            time = received
        if time is None:
            self.stats.assumed_time += 1
            time = self._last_time or self._assume_time
        else:
            self._last_time = time
        return time

    def _decode(self, frags: list[_Fragment]) -> list[Record | Rejection]:
        self.stats.messages += 1
        first, last = frags[0], frags[-1]
        try:
            sentence = (
                first.sentence
                if len(frags) == 1
                else AISSentence.assemble_from_iterable([f.sentence for f in frags])
            )
            msg = sentence.decode()
        except AISBaseException as exc:
            reason = _DECODE_REASONS.get(type(exc).__name__, "decode_error")
            return [self._reject_message(reason, last.line_no, last.sentence.raw, str(exc)[:80])]
        except (ValueError, IndexError, TypeError, KeyError, OverflowError) as exc:
            name = type(exc).__name__
            return [self._reject_message("decode_error", last.line_no, last.sentence.raw, name)]
        # Records name the first fragment's line: that is where a re-read must start.
        station = first.station or self.source
        out = self._to_records(msg, first.time, station, first.line_no, first.sentence.raw)
        if self.tap is not None and out:
            rec = out[0] if not isinstance(out[0], Rejection) else out[-1]
            if isinstance(rec, Rejection):
                pass
            elif len(frags) == 1:
                self.tap(rec, first.line_no, first.raw, first.received)
            else:
                nos, raws = tuple(f.line_no for f in frags), tuple(f.raw for f in frags)
                self.tap(rec, nos, raws, last.received)
        return out

    def _to_records(
        self, msg: Any, time: datetime, station: str, line_no: int, sentence: bytes
    ) -> list[Record | Rejection]:
        """A decoded message (pyais's, or the fast path's with the same fields) as records;
        ``line_no`` and ``sentence`` (the first fragment's) name it in a rejection."""
        msg_type = int(msg.msg_type)
        if msg_type not in POSITION_TYPES and msg_type not in STATIC_TYPES:
            self.stats.skipped_types[msg_type] += 1
            return []
        mmsi = nz.mmsi(int(msg.mmsi))
        if mmsi is None:
            return [self._reject_message("bad_mmsi", line_no, sentence, f"mmsi={msg.mmsi}")]
        out: list[Record | Rejection] = []
        if msg_type in POSITION_TYPES:
            out.append(self._position(msg, msg_type, mmsi, time, station, line_no, sentence))
        if msg_type in STATIC_TYPES:
            out.append(self._static(msg, msg_type, mmsi, time, station, line_no))
        return out

    def _position(
        self,
        msg: Any,
        msg_type: int,
        mmsi: int,
        time: datetime,
        station: str,
        line_no: int,
        sentence: bytes,
    ) -> PositionReport | Rejection:
        if msg_type == 27:
            # Long-range broadcast: 1/10' resolution, speed in whole knots (63 = n/a),
            # course in whole degrees (511 = n/a). pyais gives raw ints for both.
            raw_lat, raw_lon = float(msg.lat), float(msg.lon)
            lat_na, lon_na = 91.0, 181.0
            speed = None if int(msg.speed) >= 63 else float(msg.speed)
            course = None if int(msg.course) >= 360 else float(msg.course)
            heading = None
            rot = None
        else:
            raw_lat, raw_lon = float(msg.lat), float(msg.lon)
            lat_na, lon_na = nz.LAT_NA, nz.LON_NA
            speed = nz.speed_kn(float(msg.speed))
            course = nz.course_deg(float(msg.course))
            heading = nz.heading_deg(int(msg.heading))
            rot = _rot(getattr(msg, "turn", None))
        if raw_lat == lat_na or raw_lon == lon_na:
            return self._reject_message("no_position", line_no, sentence)
        pos = nz.position(raw_lat, raw_lon)
        if pos is None:
            detail = f"lat={raw_lat} lon={raw_lon}"
            return self._reject_message("bad_position", line_no, sentence, detail)
        self.stats.positions += 1
        status = getattr(msg, "status", None)
        return PositionReport(
            mmsi=mmsi,
            time=time,
            lat=pos[0],
            lon=pos[1],
            speed_kn=speed,
            course_deg=course,
            heading_deg=heading,
            nav_status=nz.nav_status(int(status)) if status is not None else None,
            rot_deg_min=rot,
            accuracy=bool(msg.accuracy),
            msg_type=msg_type,
            source=station,
            line_no=line_no,
        )

    def _static(
        self, msg: Any, msg_type: int, mmsi: int, time: datetime, station: str, line_no: int
    ) -> StaticReport:
        self.stats.statics += 1
        fields: dict[str, Any] = {}
        if msg_type in (5, 19) or (msg_type == 24 and int(msg.partno) == 0):
            fields["name"] = nz.text(msg.shipname)
        if msg_type in (5, 19) or (msg_type == 24 and int(msg.partno) == 1):
            ship_type = int(msg.ship_type)
            fields["ship_type"] = ship_type if 0 < ship_type < 100 else None
            if hasattr(msg, "to_bow"):
                length = int(msg.to_bow) + int(msg.to_stern)
                beam = int(msg.to_port) + int(msg.to_starboard)
                fields["length_m"] = float(length) if length > 0 else None
                fields["beam_m"] = float(beam) if beam > 0 else None
        if msg_type in (5, 24) and hasattr(msg, "callsign"):
            fields["callsign"] = nz.text(msg.callsign)
        if msg_type == 5:
            fields["imo"] = nz.imo(int(msg.imo))
            draught = float(msg.draught)
            fields["draught_m"] = draught if draught > 0 else None
            fields["destination"] = nz.text(msg.destination)
        return StaticReport(
            mmsi=mmsi,
            time=time,
            msg_type=msg_type,
            source=station,
            line_no=line_no,
            **fields,
        )


def _rot(turn: Any) -> float | None:
    """Rate of turn in °/min; pyais gives an enum for the ±127/-128 special values."""
    if turn is None or type(turn).__name__ == "TurnRate":
        return None
    return nz.rot_deg_min(float(turn))
