"""EUROCONTROL ASTERIX target reports (cat 010 / 048) as :class:`Contact` records.

The item decoding is done by ``asterix-decoder`` (Croatia Control's C++ decoder with the
EUROCONTROL category specs as XML); this module only *frames* data blocks (the 1-octet CAT,
2-octet LEN header every ASTERIX block starts with), maps decoded items to contacts and
reads pcap captures of UDP datagrams (pcap and UDP framing are not ASTERIX; the library's
own pcap example needs ``dpkt``, so the few header fields are read here with ``struct``).

Why frame blocks before calling the decoder: ``asterix.parse`` reads past the end of its
buffer when a block's LEN is larger than the bytes given (process-killing SIGSEGV), and
it also crashes on malformed cat 062 bodies. So only whole blocks whose LEN fits the data,
and only of the categories in :data:`DECODED_CATEGORIES` (fuzzed without a crash), reach
it; any other category is rejected as ``unsupported_category`` without decoding.

``docs/sources/asterix.md`` describes items, units, time and rejection rules.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import IO, Any

import asterix as _asterix
from pyproj import Geod

from seawarden.errors import InputError
from seawarden.fusion.sensors import SensorConfig, SensorRegistry
from seawarden.model.contacts import Contact
from seawarden.model.reports import Rejection

__all__ = [
    "DECODED_CATEGORIES",
    "KNOWN_CATEGORIES",
    "AsterixDecoder",
    "AsterixFileSource",
    "AsterixStats",
    "looks_like_asterix",
]

# Categories handed to the C decoder (fuzzed with random and bit-flipped framed blocks).
DECODED_CATEGORIES: frozenset[int] = frozenset({10, 34, 48, 240})
# Categories with a spec in the library's config: enough to recognise an ASTERIX file.
KNOWN_CATEGORIES: frozenset[int] = frozenset(
    {1, 2, 4, 8, 10, 11, 15, 19, 20, 21, 23, 25, 30, 31, 32, 34, 48, 62, 63, 65}
    | {205, 240, 247, 252}
)
TARGET_CATEGORIES: frozenset[int] = frozenset({10, 48})
VIDEO_CATEGORY = 240

_NM_M = 1852.0
_MS_TO_KN = 3600.0 / _NM_M
_DAY_S = 86_400.0
_RANGE_SLACK = 1.1  # a target a little beyond the configured range is still plausible
_RAW_MAX = 600  # hex characters of a rejected record kept as evidence
_GEOD = Geod(ellps="WGS84")

# pcap: classic format only (microsecond and nanosecond magic, either byte order).
_PCAP_MAGIC: dict[bytes, tuple[str, float]] = {
    b"\xd4\xc3\xb2\xa1": ("<", 1e-6),
    b"\xa1\xb2\xc3\xd4": (">", 1e-6),
    b"\x4d\x3c\xb2\xa1": ("<", 1e-9),
    b"\xa1\xb2\x3c\x4d": (">", 1e-9),
}
_PCAPNG_MAGIC = b"\x0a\x0d\x0d\x0a"
_MAX_PCAP_RECORD = 262_144
_MAX_RAW_BLOCK = 65_535


def _is_pcap(head: bytes) -> bool:
    return head[:4] in _PCAP_MAGIC


def looks_like_asterix(head: bytes) -> bool:
    """Whether the first bytes of a file are ASTERIX data blocks or a classic pcap.

    Every block within ``head`` must start with a known category and have LEN >= 4 (the
    3-octet header plus at least one FSPEC octet); a last block running past ``head`` is
    allowed (``head`` is usually a prefix of the file).
    """
    if _is_pcap(head):
        return True
    if len(head) < 4:
        return False
    pos = 0
    while pos < len(head):
        if head[pos] not in KNOWN_CATEGORIES:
            return False
        if pos + 3 > len(head):
            return True
        length = int.from_bytes(head[pos + 1 : pos + 3], "big")
        if length < 4:
            return False
        pos += length
    return True


@dataclass(slots=True)
class AsterixStats:
    """Counters of one decoder: data blocks framed, records decoded, contacts emitted,
    and rejections by reason."""

    blocks: int = 0
    records: int = 0
    contacts: int = 0
    rejected: dict[str, int] = field(default_factory=dict)

    def reject(self, reason: str) -> None:
        self.rejected[reason] = self.rejected.get(reason, 0) + 1


def _val(rec: dict[str, Any], item: str, name: str) -> Any:
    """``rec[item][name]['val']`` or None (field names compared case-insensitively:
    the specs spell cat 010's azimuth ``Theta`` and cat 048's ``THETA``)."""
    it = rec.get(item)
    if not isinstance(it, dict):
        return None
    sub = it.get(name)
    if sub is None:
        low = name.lower()
        sub = next((v for k, v in it.items() if k.lower() == low), None)
    if isinstance(sub, dict):
        return sub.get("val")
    return None


def _num(v: Any) -> float | None:
    if isinstance(v, bool) or not isinstance(v, int | float):
        return None
    f = float(v)
    return f if math.isfinite(f) else None


class AsterixDecoder:
    """Turns ASTERIX data (one UDP datagram or one data block) into contacts/rejections.

    ``reference`` dates the Time of Day items (seconds since midnight UTC): each time is put
    on the day that brings it nearest the reference, which then moves to that time, so a
    stream running over midnight rolls to the next date. ``feed(..., received=...)`` (a
    datagram's receive or capture time) is used instead as the reference when given.
    """

    def __init__(
        self, sensors: SensorRegistry, *, reference: datetime, source: str = "asterix"
    ) -> None:
        if reference.tzinfo is None:
            reference = reference.replace(tzinfo=UTC)
        self.sensors = sensors
        self.reference = reference.astimezone(UTC)
        self.source = source
        self.stats = AsterixStats()

    # -- framing ---------------------------------------------------------------------

    def feed(
        self, data: bytes, block_no: int, received: datetime | None = None
    ) -> list[Contact | Rejection]:
        """Decode every data block in ``data``; never raises on bad input."""
        out: list[Contact | Rejection] = []
        if received is not None:
            if received.tzinfo is None:
                received = received.replace(tzinfo=UTC)
            self.reference = received.astimezone(UTC)
        pos = 0
        data = bytes(data)
        while pos < len(data):
            if len(data) - pos < 3:
                out.append(
                    self._reject("malformed", block_no, "truncated block header", data[pos:])
                )
                break
            cat = data[pos]
            length = int.from_bytes(data[pos + 1 : pos + 3], "big")
            if length < 4 or pos + length > len(data):
                # The rest cannot be framed: LEN is the only way to the next block.
                out.append(
                    self._reject(
                        "malformed",
                        block_no,
                        f"cat {cat} block LEN {length} with {len(data) - pos} bytes left",
                        data[pos:],
                    )
                )
                break
            self.stats.blocks += 1
            out.extend(self._block(cat, data[pos : pos + length], block_no))
            pos += length
        return out

    def _block(self, cat: int, block: bytes, block_no: int) -> list[Contact | Rejection]:
        if cat not in DECODED_CATEGORIES:
            return [self._reject("unsupported_category", block_no, f"category {cat:03d}", block)]
        try:
            records = _asterix.parse(block, verbose=False)
        except Exception as exc:  # the binding raises on internal errors; never propagate
            return [self._reject("malformed", block_no, f"decoder: {exc}"[:120], block)]
        out: list[Contact | Rejection] = []
        used = 3
        for rec in records if isinstance(records, list) else []:
            rlen = rec.get("len") if isinstance(rec, dict) else None
            if not isinstance(rec, dict) or rec.get("hexdata") is None or not isinstance(rlen, int):
                # A record the decoder failed on: it cannot know where the next one
                # begins either, so the rest of the block is one malformed rejection.
                out.append(
                    self._reject(
                        "malformed",
                        block_no,
                        f"cat {cat} record at byte {used} not decodable",
                        block[used:],
                    )
                )
                return out
            raw = block[used : used + rlen]
            used += rlen
            self.stats.records += 1
            out.append(self._record(cat, rec, raw, block_no))
        if used != len(block):
            out.append(
                self._reject(
                    "malformed",
                    block_no,
                    f"cat {cat}: {len(block) - used} bytes not decoded",
                    block[used:],
                )
            )
        return out

    # -- records ---------------------------------------------------------------------

    def _reject(
        self, reason: str, block_no: int, detail: str, raw: bytes, source: str | None = None
    ) -> Rejection:
        self.stats.reject(reason)
        return Rejection(
            reason=reason,
            source=source or self.source,
            line_no=block_no,
            detail=detail,
            raw=raw.hex()[:_RAW_MAX],
        )

    def _record(
        self, cat: int, rec: dict[str, Any], raw: bytes, block_no: int
    ) -> Contact | Rejection:
        sac, sic = _val(rec, "I010", "SAC"), _val(rec, "I010", "SIC")
        if not isinstance(sac, int) or not isinstance(sic, int):
            return self._reject("malformed", block_no, f"cat {cat:03d} record without I010", raw)
        src = f"asterix:{sac}/{sic}"
        if cat == VIDEO_CATEGORY:
            return self._reject(
                "video", block_no, "cat 240 radar video carries no targets", raw, src
            )
        if cat not in TARGET_CATEGORIES:
            return self._reject("unsupported_category", block_no, f"category {cat:03d}", raw, src)
        if cat == 10 and _val(rec, "I000", "MsgTyp") not in (None, 1):
            # Cat 010 also carries start-of-update-cycle, periodic status, event status.
            return self._reject(
                "unsupported_category",
                block_no,
                f"cat 010 message type {_val(rec, 'I000', 'MsgTyp')}",
                raw,
                src,
            )
        sensor = self.sensors.by_asterix(sac, sic)
        if sensor is None:
            return self._reject(
                "unknown_sensor", block_no, f"no sensor with SAC/SIC {sac}/{sic}", raw, src
            )
        if _val(rec, "I020", "SIM") == 1 or _val(rec, "I020", "TST") == 1:
            return self._reject(
                "test_target", block_no, "I020 marks a simulated/test target", raw, src
            )
        when = self._time(_num(_val(rec, "I140", "ToD")))
        if when is None:
            return self._reject("bad_time", block_no, "no or invalid I140 Time of Day", raw, src)
        pos = _position(cat, rec, sensor)
        if isinstance(pos, str):
            return self._reject("bad_position", block_no, pos, raw, src)
        lat, lon = pos
        dist = sensor.distance_m(lat, lon)
        if (
            dist is not None
            and sensor.range_m is not None
            and (dist > sensor.range_m * _RANGE_SLACK)
        ):
            return self._reject(
                "out_of_range",
                block_no,
                f"{dist:.0f} m from {sensor.id} (range {sensor.range_m:.0f} m)",
                raw,
                src,
            )
        speed, course = _velocity(cat, rec)
        tn = _val(rec, "I161", "Tn" if cat == 48 else "TrkNb")
        length = _num(_val(rec, "I270", "Length")) if cat == 10 else None
        self.stats.contacts += 1
        return Contact(
            time=when,
            lat=lat,
            lon=lon,
            sensor=sensor.id,
            kind="radar",
            track=str(tn) if isinstance(tn, int) else None,
            speed_kn=speed,
            course_deg=course,
            length_m=length if length else None,  # 0 means "not measured"
            label=_label(cat, rec),
            status=_status(rec),
            source=src,
            line_no=block_no,
        )

    def _time(self, tod: float | None) -> datetime | None:
        """Put a Time of Day on the date nearest the reference; advance the reference."""
        if tod is None or not 0.0 <= tod < _DAY_S:
            return None
        ref = self.reference
        midnight = datetime.combine(ref.date(), time(), tzinfo=UTC)
        base = midnight + timedelta(seconds=tod)
        when = min(
            (base + timedelta(days=d) for d in (-1, 0, 1)),
            key=lambda t: abs((t - ref).total_seconds()),
        )
        self.reference = when
        return when


def _offset(sensor: SensorConfig, az_deg: float, dist_m: float) -> tuple[float, float] | str:
    """The point ``dist_m`` from the sensor's site along azimuth ``az_deg`` (geodesic)."""
    if sensor.lat is None or sensor.lon is None:
        return f"sensor {sensor.id} has no site to place a relative position"
    lon, lat, _ = _GEOD.fwd(sensor.lon, sensor.lat, az_deg, dist_m)
    return float(lat), float(lon)


def _position(cat: int, rec: dict[str, Any], sensor: SensorConfig) -> tuple[float, float] | str:
    """(lat, lon) of a target report, or why there is none.

    cat 048: I040 measured polar (slant range, NM — at sea level it is the ground range
    within metres), else I042 calculated cartesian (NM, x east / y north of the radar).
    cat 010: I041 WGS-84, else I042 cartesian (m), else I040 polar (m).
    """
    pos: tuple[float, float] | str
    if cat == 10:
        lat, lon = _num(_val(rec, "I041", "Lat")), _num(_val(rec, "I041", "Lon"))
        if lat is not None and lon is not None:
            pos = (lat, lon)
        else:
            pos = _relative(rec, sensor, scale_m=1.0)
    else:
        pos = _relative(rec, sensor, scale_m=_NM_M)
    if isinstance(pos, str):
        return pos
    lat, lon = pos
    if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
        return f"position {lat:.5f},{lon:.5f} out of bounds"
    return lat, lon


def _relative(
    rec: dict[str, Any], sensor: SensorConfig, *, scale_m: float
) -> tuple[float, float] | str:
    rho, theta = _num(_val(rec, "I040", "RHO")), _num(_val(rec, "I040", "THETA"))
    if rho is not None and theta is not None:
        return _offset(sensor, theta % 360.0, rho * scale_m)
    x, y = _num(_val(rec, "I042", "X")), _num(_val(rec, "I042", "Y"))
    if x is not None and y is not None:
        az = math.degrees(math.atan2(x, y)) % 360.0
        return _offset(sensor, az, math.hypot(x, y) * scale_m)
    return "no position item (I040/I041/I042)"


def _velocity(cat: int, rec: dict[str, Any]) -> tuple[float | None, float | None]:
    """Ground speed (knots) and course (degrees true) from I200, or cat 010's I202."""
    if cat == 48:
        # The library scales cat 048 I200 CGS (LSB 2^-14 NM/s) to knots already.
        gs, hdg = _num(_val(rec, "I200", "CGS")), _num(_val(rec, "I200", "CHdg"))
        return gs, (hdg % 360.0 if hdg is not None else None)
    gs_nms, ta = _num(_val(rec, "I200", "GS")), _num(_val(rec, "I200", "TA"))
    if gs_nms is not None:
        return gs_nms * 3600.0, (ta % 360.0 if ta is not None else None)
    vx, vy = _num(_val(rec, "I202", "Vx")), _num(_val(rec, "I202", "Vy"))
    if vx is not None and vy is not None:
        course = math.degrees(math.atan2(vx, vy)) % 360.0 if (vx or vy) else None
        return math.hypot(vx, vy) * _MS_TO_KN, course
    return None, None


def _label(cat: int, rec: dict[str, Any]) -> str | None:
    """The sensor's own target identification (evidence only, never identity)."""
    v = _val(rec, "I240", "TId") if cat == 48 else _val(rec, "I245", "TId")
    if isinstance(v, str):
        v = v.strip()
        return v[:32] if v and v.isprintable() else None
    return None


def _status(rec: dict[str, Any]) -> str | None:
    """I170 track status: last report (TRE) → L, tentative (CNF) → Q, else T."""
    if not isinstance(rec.get("I170"), dict):
        return None
    if _val(rec, "I170", "TRE") == 1:
        return "L"
    if _val(rec, "I170", "CNF") == 1:
        return "Q"
    return "T"


# -- files -------------------------------------------------------------------------------


class AsterixFileSource:
    """A raw file of concatenated data blocks, or a classic pcap of UDP datagrams.

    Yields ``(block_no, Contact | Rejection)``: ``block_no`` is the data block's index in a
    raw file and the packet's index in a pcap (1-based). In a pcap the capture time is each
    datagram's time reference; non-UDP packets are rejected as ``not_udp``.
    """

    def __init__(self, path: str | Path, sensors: SensorRegistry, *, reference: datetime) -> None:
        self.path = Path(path)
        self.decoder = AsterixDecoder(sensors, reference=reference, source=self.path.name)

    @property
    def stats(self) -> AsterixStats:
        return self.decoder.stats

    def __iter__(self) -> Iterator[tuple[int, Contact | Rejection]]:
        if not self.path.is_file():
            raise InputError("no such file (check the path)", source=str(self.path))
        try:
            fh = self.path.open("rb")
        except OSError as exc:  # pragma: no cover - permissions etc.
            raise InputError(f"cannot open: {exc}", source=str(self.path)) from exc
        with fh:
            head = fh.read(4)
            if head == _PCAPNG_MAGIC:
                raise InputError(
                    "pcapng is not supported; convert with `editcap -F pcap`",
                    source=str(self.path),
                )
            if head in _PCAP_MAGIC:
                yield from self._pcap(fh, head)
            else:
                yield from self._raw(fh, head)

    def _truncated(self, block_no: int, detail: str) -> Rejection:
        self.decoder.stats.reject("truncated_file")
        return Rejection(
            reason="truncated_file", source=self.path.name, line_no=block_no, detail=detail
        )

    def _raw(self, fh: IO[bytes], head: bytes) -> Iterator[tuple[int, Contact | Rejection]]:
        buf, block_no = head, 0
        while True:
            if len(buf) < 3:
                buf += fh.read(3 - len(buf))
            if not buf:
                return
            block_no += 1
            length = int.from_bytes(buf[1:3], "big") if len(buf) >= 3 else 0
            if length < 4:
                # LEN is the only way to the next block: the rest of the file is lost.
                rest = len(buf) + len(fh.read())
                yield block_no, self._truncated(block_no, f"unframable block: {rest} bytes left")
                return
            block = buf[:length] + fh.read(length - len(buf)) if length > len(buf) else buf
            buf = block[length:]
            if len(block) < length:
                yield (
                    block_no,
                    self._truncated(
                        block_no, f"last block LEN {length}, {len(block)} bytes present"
                    ),
                )
                return
            for item in self.decoder.feed(block[:length], block_no):
                yield block_no, item

    def _pcap(self, fh: IO[bytes], magic: bytes) -> Iterator[tuple[int, Contact | Rejection]]:
        endian, tick = _PCAP_MAGIC[magic]
        hdr = fh.read(20)
        if len(hdr) < 20:
            yield 0, self._truncated(0, "pcap header")
            return
        linktype = struct.unpack(endian + "HHiIII", hdr)[5] & 0x0FFFFFFF
        packet_no = 0
        while True:
            rh = fh.read(16)
            if not rh:
                return
            packet_no += 1
            if len(rh) < 16:
                yield packet_no, self._truncated(packet_no, "pcap record header")
                return
            sec, frac, incl, _orig = struct.unpack(endian + "IIII", rh)
            if incl > _MAX_PCAP_RECORD:
                yield packet_no, self._truncated(packet_no, f"pcap record of {incl} bytes")
                return
            pkt = fh.read(incl)
            if len(pkt) < incl:
                yield packet_no, self._truncated(packet_no, "pcap record data")
                return
            payload = _udp_payload(linktype, pkt)
            if payload is None:
                self.decoder.stats.reject("not_udp")
                yield (
                    packet_no,
                    Rejection(
                        reason="not_udp",
                        source=self.path.name,
                        line_no=packet_no,
                        detail=f"link type {linktype}: not an IP/UDP packet",
                    ),
                )
                continue
            received = datetime.fromtimestamp(sec + frac * tick, tz=UTC)
            for item in self.decoder.feed(payload, packet_no, received):
                yield packet_no, item


def _udp_payload(linktype: int, pkt: bytes) -> bytes | None:
    """The UDP payload of a captured frame (Ethernet with VLAN tags, raw IP, Linux SLL/SLL2,
    BSD loopback), or None if it is not an unfragmented IPv4/IPv6 UDP datagram."""
    ethertype: int | None = None
    if linktype == 1:  # Ethernet
        off, ethertype = 14, int.from_bytes(pkt[12:14], "big") if len(pkt) >= 14 else None
        while ethertype in (0x8100, 0x88A8) and len(pkt) >= off + 4:
            ethertype, off = int.from_bytes(pkt[off + 2 : off + 4], "big"), off + 4
    elif linktype in (101, 12, 228, 229):  # raw IP
        off = 0
    elif linktype == 113:  # Linux cooked (SLL)
        off, ethertype = 16, int.from_bytes(pkt[14:16], "big") if len(pkt) >= 16 else None
    elif linktype == 276:  # SLL2
        off, ethertype = 20, int.from_bytes(pkt[0:2], "big") if len(pkt) >= 20 else None
    elif linktype == 0:  # BSD loopback: 4-byte address family
        off = 4
    else:
        return None
    ip = pkt[off:]
    if not ip or ethertype not in (None, 0x0800, 0x86DD):
        return None
    version = ip[0] >> 4
    if version == 4:
        ihl = (ip[0] & 0x0F) * 4
        if len(ip) < 20 or ihl < 20 or ip[9] != 17:
            return None
        flags_frag = int.from_bytes(ip[6:8], "big")
        if flags_frag & 0x3FFF:  # a fragment: the datagram is not whole here
            return None
        udp = ip[ihl:]
    elif version == 6:
        if len(ip) < 40 or ip[6] != 17:  # no extension headers on radar feeds
            return None
        udp = ip[40:]
    else:
        return None
    if len(udp) < 8:
        return None
    ulen = int.from_bytes(udp[4:6], "big")
    if ulen < 8 or ulen > len(udp):
        return None
    return udp[8:ulen]
