"""The decoder's hot path: one-part AIS position reports (types 1, 2, 3 and 18).

Three lines in four of a real feed are a single sentence carrying a class A or class B
position report, ``[\\c:…,s:…*hh\\]!AIVDM,1,1,,A,<28 characters>,0*hh``. For those,
pyais's general machinery (sentence object, lazily parsed tag block, bit vector, message
dataclass with ~20 fields) costs most of the decode time, while the pipeline reads ten
fields. :func:`claim` decodes exactly those lines — both checksums verified — with a
regular expression, one base64 translation of the 6-bit armour and integer shifts, and
converts the raw fields with pyais's own converters, so the values are pyais's.

pyais stays the reference and the decoder for everything else: a line the expression
does not match in full (multi-part, NMEA 4 ``g:`` groups, fill bits, a payload length
other than 168 bits, any other message type, lower-case or odd syntax, a bad checksum…)
returns ``None`` and takes pyais's route, which also gives every rejection its reason.
``tests/ingest/test_fastpath.py`` checks every field against pyais on every line of the
shared corpora and on generated payloads.
"""

from __future__ import annotations

import binascii
import re
from dataclasses import dataclass
from functools import reduce
from operator import xor

from pyais.constants import TurnRate
from pyais.messages import to_lat_lon, to_speed, to_turn

# group 1: tag block fields, 2: its checksum, 3: the sentence, 4: what its checksum
# covers, 5: the 28-character payload, 6: the sentence checksum. Tag block characters are
# printable ASCII other than ``*`` and ``\`` (pyais refuses a non-ASCII tag block).
_LINE = re.compile(
    rb"(?:\\([\x20-\x29\x2b-\x5b\x5d-\x7e]*)\*([0-9A-Fa-f]{1,2})\\)?"
    rb"(!([A-Z]{2}VD[MO],1,1,[0-9]?,[A-Za-z0-9]?,([0-W`-w]{28}),0)\*([0-9A-Fa-f]{2}))"
)
# AIS armour (ITU-R M.1371 §8.2.4: '0'..'W' → 0..39, '`'..'w' → 40..63) → base64's
# alphabet, so the C base64 decoder turns 28 characters into the 21 bytes of 168 bits.
_ARMOUR = bytes.maketrans(
    bytes(range(0x30, 0x58)) + bytes(range(0x60, 0x78)),
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
)
CLASS_A = frozenset({1, 2, 3})


@dataclass(frozen=True, slots=True)
class FastPosition:
    """The fields of a position report the decoder reads, valued as pyais's message.

    ``status`` and ``turn`` are ``None`` for type 18, which has neither (as ``getattr`` on
    pyais's message gives)."""

    msg_type: int
    mmsi: int
    status: int | None
    turn: float | TurnRate | None
    speed: float
    accuracy: bool
    lon: float
    lat: float
    course: float
    heading: int


@dataclass(frozen=True, slots=True)
class FastLine:
    """A claimed line: its sentence (without tag block, as pyais's ``raw``), the tag
    block's ``c:`` (as text, or ``None``) and ``s:`` (``""`` when absent), the message."""

    sentence: bytes
    timestamp: str | None
    station: str
    message: FastPosition


def _signed(value: int, bits: int) -> int:
    return value - (1 << bits) if value >> (bits - 1) else value


def decode_payload(payload: bytes) -> FastPosition | None:
    """A 168-bit type 1/2/3/18 payload (28 armoured characters, no fill), else ``None``.

    Bit offsets from ITU-R M.1371-5 Annex 8, tables 46 (class A) and 51 (class B)."""
    v = int.from_bytes(binascii.a2b_base64(payload.translate(_ARMOUR)), "big")
    msg_type = v >> 162
    mmsi = (v >> 130) & 0x3FFFFFFF
    if msg_type in CLASS_A:
        return FastPosition(
            msg_type=msg_type,
            mmsi=mmsi,
            status=(v >> 126) & 0xF,
            turn=to_turn(_signed((v >> 118) & 0xFF, 8)),
            speed=to_speed((v >> 108) & 0x3FF),
            accuracy=bool((v >> 107) & 1),
            lon=to_lat_lon(_signed((v >> 79) & 0xFFFFFFF, 28)),
            lat=to_lat_lon(_signed((v >> 52) & 0x7FFFFFF, 27)),
            course=((v >> 40) & 0xFFF) / 10.0,  # pyais's to_10th
            heading=(v >> 31) & 0x1FF,
        )
    if msg_type == 18:
        return FastPosition(
            msg_type=18,
            mmsi=mmsi,
            status=None,
            turn=None,
            speed=to_speed((v >> 112) & 0x3FF),
            accuracy=bool((v >> 111) & 1),
            lon=to_lat_lon(_signed((v >> 83) & 0xFFFFFFF, 28)),
            lat=to_lat_lon(_signed((v >> 56) & 0x7FFFFFF, 27)),
            course=((v >> 44) & 0xFFF) / 10.0,
            heading=(v >> 35) & 0x1FF,
        )
    return None


def claim(raw: bytes) -> FastLine | None:
    """Decode a stripped input line if it is a one-part position report with valid
    checksums and a tag block without an NMEA 4 group; ``None`` leaves it to pyais."""
    m = _LINE.fullmatch(raw)
    if m is None:
        return None
    tag, tag_sum, sentence, body, payload, body_sum = m.groups()
    if reduce(xor, body, 0) != int(body_sum, 16):
        return None
    timestamp: str | None = None
    station = ""
    if tag is not None:
        if reduce(xor, tag, 0) != int(tag_sum, 16):
            return None
        # pyais's reading: comma-separated ``k:v``, the last of a key wins, fields
        # without a colon are skipped; a ``g:`` group needs the assembler's route.
        for tag_field in tag.split(b","):
            key, colon, value = tag_field.partition(b":")
            if not colon:
                continue
            if key == b"c":
                timestamp = value.decode("ascii")
            elif key == b"s":
                station = value.decode("ascii")
            elif key == b"g":
                return None
    message = decode_payload(payload)
    if message is None:
        return None
    return FastLine(sentence, timestamp, station, message)
