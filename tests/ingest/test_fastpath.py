"""The decoder's fast path agrees with pyais on every field, on every corpus line it claims.

pyais is the reference (issue 8: a faster decoder may serve the hot path only if it agrees
with pyais on every field of every message in the shared corpora). Checked here: the
fields of every claimed line of every shared corpus against pyais's decode; the decoder's
whole output, counters and evidence taps with and without the fast path; mutated real
lines (never claimed when pyais would refuse them); generated payloads built bit by bit
from the ITU-R M.1371 layouts.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pyais.messages import NMEASentenceFactory
from pyais.util import checksum

from seawarden.ingest.fastpath import FastLine, FastPosition, claim
from seawarden.ingest.nmea import NmeaDecoder
from tests.ingest.test_nmea_decoder import AISDB, CORPORA

FIELDS = ("msg_type", "mmsi", "status", "turn", "speed", "accuracy", "lon", "lat", "course")


def reference(raw: bytes) -> dict[str, Any]:
    """What pyais makes of a line, in the fast path's terms."""
    sentence = NMEASentenceFactory.produce(raw)
    msg = sentence.decode()
    out: dict[str, Any] = {name: getattr(msg, name, None) for name in FIELDS}
    out["heading"] = msg.heading
    out["sentence"] = sentence.raw
    out["valid"] = sentence.is_valid
    tb = sentence.tag_block
    if tb is not None:
        tb.init()
        out["tag_valid"] = tb.is_valid
        out["timestamp"] = tb.receiver_timestamp
        out["station"] = tb.source_station or ""
        out["group"] = tb.group
    else:
        out["tag_valid"], out["timestamp"], out["station"], out["group"] = True, None, "", None
    return out


def assert_agrees(line: FastLine, raw: bytes) -> None:
    ref = reference(raw)
    assert ref["valid"]
    assert ref["tag_valid"]
    assert ref["group"] is None
    assert sentence_frag_count(raw) == 1
    m: FastPosition = line.message
    for name in FIELDS:
        mine, theirs = getattr(m, name), ref[name]
        if name == "status" and theirs is not None:
            theirs = int(theirs)
        assert mine == theirs, (name, mine, theirs, raw)
        assert type(mine) is type(theirs) or name in ("status", "turn"), (name, raw)
    if ref["turn"] is not None:  # the ±127/-128 specials are the same enum member
        assert type(m.turn) is type(ref["turn"])
    assert m.heading == ref["heading"]
    assert line.sentence == ref["sentence"]
    assert (line.timestamp, line.station) == (ref["timestamp"], ref["station"])


def sentence_frag_count(raw: bytes) -> int:
    sentence = NMEASentenceFactory.produce(raw)
    return int(sentence.frag_cnt)


def corpus_lines(path: Path) -> list[bytes]:
    return [line.strip() for line in path.read_bytes().splitlines()]


@pytest.mark.parametrize("path", CORPORA, ids=lambda p: p.name)
def test_every_claimed_corpus_line_has_pyais_fields(path: Path) -> None:
    claimed = 0
    for raw in corpus_lines(path):
        line = claim(raw)
        if line is not None:
            claimed += 1
            assert_agrees(line, raw)
    if path == AISDB:  # tag-blocked real feed: most lines are one-part positions
        assert claimed > 500


def test_the_fast_path_claims_most_of_a_real_feed() -> None:
    lines = [raw for path in CORPORA for raw in corpus_lines(path)]
    claimed = sum(claim(raw) is not None for raw in lines)
    # of the one-part 168-bit position reports pyais decodes without g: or fill bits
    eligible = 0
    for raw in lines:
        try:
            s = NMEASentenceFactory.produce(raw)
            if s.frag_cnt != 1 or s.fill_bits or len(s.payload) != 28 or not s.is_valid:
                continue
            if s.tag_block is not None:
                s.tag_block.init()
                if not s.tag_block.is_valid or s.tag_block.group is not None:
                    continue
            if s.decode().msg_type in (1, 2, 3, 18):
                eligible += 1
        except Exception:  # any line pyais refuses is not eligible
            continue
    assert eligible > 1000
    assert claimed >= 0.97 * eligible, (claimed, eligible)


def decode_all(path: Path, fast: bool) -> tuple[list[Any], dict[str, Any], list[Any]]:
    dec = NmeaDecoder(source="test")
    dec.fast_path = fast
    taps: list[Any] = []
    dec.tap = lambda rec, nos, raws, received: taps.append((rec, nos, raws, received))
    out: list[Any] = []
    for i, raw in enumerate(path.read_bytes().splitlines(), 1):
        out.extend(dec.feed(raw, i))
    out.extend(dec.flush())
    return out, dec.stats.as_dict(), taps


@pytest.mark.parametrize("path", CORPORA, ids=lambda p: p.name)
def test_decoder_output_is_the_same_with_and_without_the_fast_path(path: Path) -> None:
    fast, fast_stats, fast_taps = decode_all(path, fast=True)
    slow, slow_stats, slow_taps = decode_all(path, fast=False)
    assert fast == slow
    assert fast_stats == slow_stats
    assert fast_taps == slow_taps


def test_mutated_real_lines_are_claimed_only_as_pyais_reads_them() -> None:
    rng = random.Random(8)
    lines = [raw for raw in corpus_lines(AISDB) if claim(raw) is not None]
    alphabet = b"0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVW`abcdefghijklmnopqrstuvw,*\\!gcs-X"
    claimed_after = refused = 0
    for raw in rng.sample(lines, 400):
        for _ in range(5):
            b = bytearray(raw)
            b[rng.randrange(len(b))] = rng.choice(alphabet)
            mutated = bytes(b)
            line = claim(mutated)
            if line is None:
                refused += 1
                continue
            claimed_after += 1
            assert_agrees(line, mutated)
    # a mutation mostly breaks a checksum: refused; some (hex case, a seq id) still agree
    assert refused > 1000
    assert claimed_after > 0


def armour(bits: int, n_bits: int = 168) -> bytes:
    chars = []
    for shift in range(n_bits - 6, -1, -6):
        v = (bits >> shift) & 0x3F
        chars.append(v + 48 if v < 40 else v + 56)
    return bytes(chars)


def nmea(payload: bytes, tag: bytes | None = None) -> bytes:
    body = b"AIVDM,1,1,,B," + payload + b",0"
    line = b"!" + body + b"*%02X" % checksum(body)
    if tag is not None:
        line = b"\\" + tag + b"*%02X" % checksum(tag) + b"\\" + line
    return line


def fields(layout: list[tuple[int, int]]) -> int:
    """Pack (width, value) pairs MSB first into 168 bits."""
    v, used = 0, 0
    for width, value in layout:
        v = (v << width) | (value & ((1 << width) - 1))
        used += width
    assert used == 168
    return v


def payload(layout: list[tuple[int, st.SearchStrategy[int]]]) -> st.SearchStrategy[int]:
    """168 bits packed from (width, values) fields in layout order."""
    widths = [w for w, _ in layout]
    return st.tuples(*(values for _, values in layout)).map(
        lambda vs: fields(list(zip(widths, vs, strict=True)))
    )


def uint(width: int) -> st.SearchStrategy[int]:
    return st.integers(0, 2**width - 1)


def sint(width: int) -> st.SearchStrategy[int]:
    return st.integers(-(2 ** (width - 1)), 2 ** (width - 1) - 1)


# ITU-R M.1371: repeat + MMSI, then (after the class's own fields) SOG, accuracy, lon, lat,
# COG, heading; class A has status and rate of turn first, class B 8 reserved bits
HEAD = [(2, st.just(0)), (30, uint(30))]
MOTION = [
    (10, uint(10)),
    (1, uint(1)),
    (28, sint(28)),
    (27, sint(27)),
    (12, uint(12)),
    (9, uint(9)),
]
class_a = payload(
    [(6, st.sampled_from([1, 2, 3])), *HEAD, (4, uint(4)), (8, sint(8)), *MOTION, (31, uint(31))]
)
class_b = payload([(6, st.just(18)), *HEAD, (8, uint(8)), *MOTION, (35, uint(35))])
tags = st.none() | st.builds(
    lambda c, s: b",".join(
        x for x in (b"c:%d" % c if c is not None else b"", b"s:" + s if s else b"") if x
    ),
    st.none() | st.integers(0, 2**41),
    st.binary(max_size=8).map(lambda b: bytes(48 + x % 43 for x in b)),
)


@settings(max_examples=400, deadline=None)
@given(bits=class_a | class_b, tag=tags)
def test_generated_position_payloads_decode_as_pyais(bits: int, tag: bytes | None) -> None:
    raw = nmea(armour(bits), tag)
    line = claim(raw)
    assert line is not None
    assert_agrees(line, raw)


@settings(max_examples=200, deadline=None)
@given(msg_type=st.integers(0, 63).filter(lambda t: t not in (1, 2, 3, 18)), rest=st.integers())
def test_other_message_types_are_left_to_pyais(msg_type: int, rest: int) -> None:
    bits = (msg_type << 162) | (rest & ((1 << 162) - 1))
    assert claim(nmea(armour(bits))) is None


def test_lines_outside_the_fast_path_are_left_to_pyais() -> None:
    good = nmea(armour(fields([(6, 1), (2, 0), (30, 244_123_456), (130, 0)])))
    assert claim(good) is not None
    assert claim(good[:-2] + b"00") is None  # a wrong checksum
    assert claim(good.replace(b"1,1,,B", b"2,1,,B")) is None  # a part of two
    assert claim(good.replace(b",0*", b",2*")) is None  # fill bits
    grouped = nmea(armour(fields([(6, 1), (2, 0), (30, 1), (130, 0)])), b"g:1-1-7,c:1")
    assert claim(grouped) is None  # an NMEA 4 group: the assembler's route
    bad_tag = b"\\c:1*00\\" + good
    assert claim(bad_tag) is None  # the tag block's checksum is wrong
