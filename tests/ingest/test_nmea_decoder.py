"""NMEA decoder behaviour on real corpora: tag blocks, groups, event time, bad input.

Corpora (../shared/data/nmea): AISdb's raw Canadian feed with ``s:``/``c:`` tag blocks and
NMEA 4 ``g:`` groups (AGPL project, raw observations), pyais's edge cases (MIT), gpsd's logs
(BSD-2). Every line of every corpus must be accounted for.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pyais.messages import TagBlock
from pyais.util import checksum

from seawarden.ingest.nmea import NmeaConfig, NmeaDecoder
from seawarden.model import PositionReport, Rejection, StaticReport
from tests.conftest import SHARED_DATA

NMEA = SHARED_DATA / "nmea"
CORPORA = sorted(
    p
    for p in NMEA.glob("*/*")
    if p.suffix not in (".chk",) and p.name not in ("LICENSE", "COPYING")
)
AISDB = NMEA / "aisdb" / "test_data_20211101.nm4"


def run(lines: list[bytes] | list[str], **kw: Any) -> tuple[NmeaDecoder, list[Any]]:
    dec = NmeaDecoder(source="test", **kw)
    out: list[Any] = []
    for i, line in enumerate(lines, 1):
        out.extend(dec.feed(line, i))
    out.extend(dec.flush())
    return dec, out


def test_corpora_are_present() -> None:
    assert len(CORPORA) >= 12


@pytest.mark.parametrize("path", CORPORA, ids=lambda p: p.name)
def test_every_line_is_accounted_for(path: Path) -> None:
    dec, out = run(path.read_bytes().splitlines())
    s = dec.stats
    assert s.lines == s.blank_or_comment + s.wrappers + s.fragments_used + s.rejected_lines
    rejections = [o for o in out if isinstance(o, Rejection)]
    assert len(rejections) == s.rejected_lines + s.rejected_messages
    assert sum(s.rejections.values()) == len(rejections)
    positions = sum(isinstance(o, PositionReport) for o in out)
    statics = sum(isinstance(o, StaticReport) for o in out)
    assert (positions, statics) == (s.positions, s.statics)
    # a message gives a position, a static (type 19: both), a skip, or a rejection
    type19 = sum(1 for o in out if isinstance(o, StaticReport) and o.msg_type == 19)
    assert s.messages == positions + statics - type19 + sum(s.skipped_types.values()) + (
        s.rejected_messages
    )


def test_aisdb_tag_block_times_and_stations() -> None:
    lines = AISDB.read_bytes().splitlines()
    dec, out = run(lines)
    reps = [o for o in out if isinstance(o, PositionReport)]
    assert len(reps) > 900
    assert dec.stats.assumed_time == 0
    # every time is the tag block's c: (1 Nov 2021, seconds since the epoch)
    assert all(
        datetime(2021, 11, 1, tzinfo=UTC) <= r.time < datetime(2021, 11, 2, tzinfo=UTC)
        for r in reps
    )
    first = lines[0].decode()
    c_value = int(first.split("c:")[1].split(",")[0].split("*")[0])
    station = first.split("s:")[1].split(",")[0]
    assert reps[0].time == datetime.fromtimestamp(c_value, tz=UTC) or reps[0].source == station
    assert {r.source for r in reps} >= {station}


def test_aisdb_groups_assemble_type5_with_time_of_first_part() -> None:
    lines = AISDB.read_bytes().splitlines()
    grouped = [i for i, ln in enumerate(lines) if b"\\g:1-2-" in ln]
    assert grouped, "corpus has NMEA 4 groups"
    _, out = run(lines)
    statics = {o.line_no: o for o in out if isinstance(o, StaticReport)}
    for idx in grouped:
        head = lines[idx].decode()
        c_value = int(head.split("c:")[1].split(",")[0].split("*")[0])
        rec = statics.get(idx + 1)
        if rec is None:
            continue
        assert rec.time == datetime.fromtimestamp(c_value, tz=UTC)
        assert rec.source == head.split("s:")[1].split(",")[0]
    assert sum(1 for i in grouped if i + 1 in statics) >= len(grouped) - 2


SENTENCE = "!AIVDM,1,1,,A,15MrVH0000KH<:V:NtBLoqFP2H9:,0*2F"
TYPE5_PART1 = "!AIVDM,2,1,9,B,55R3Vn82=ILTQ3KKS>1<D60Dq@E918U<F222221J1`?164vc03S1CCAD,0*2A"


def tagged(sentence: str, **fields: Any) -> bytes:
    """A sentence behind a tag block with a correct tag-block checksum (built by pyais)."""
    return b"\\" + TagBlock.create(**fields) + b"\\" + sentence.encode()


def test_milliseconds_tag_time_is_detected() -> None:
    _, a = run([tagged(SENTENCE, receiver_timestamp=1635731889)])
    _, b = run([tagged(SENTENCE, receiver_timestamp=1635731889123)])
    assert a[0].time == datetime.fromtimestamp(1635731889, tz=UTC)
    assert b[0].time == datetime.fromtimestamp(1635731889.123, tz=UTC)


def test_gatehouse_wrapper_gives_time() -> None:
    path = NMEA / "pyais" / "examples_gatehouse.nmea"
    _, out = run(path.read_bytes().splitlines())
    reps = [o for o in out if isinstance(o, PositionReport)]
    assert reps[0].time == datetime(2008, 5, 9, 0, 0, 0, 10_000, tzinfo=UTC)


def test_bad_checksum_rejected_not_decoded() -> None:
    good = "!AIVDM,1,1,,A,15MrVH0000KH<:V:NtBLoqFP2H9:,0*2F"
    bad = good[:-2] + "00"
    _, out = run([good, bad])
    assert isinstance(out[0], PositionReport)
    assert isinstance(out[1], Rejection)
    assert out[1].reason == "checksum"
    assert out[1].line_no == 2


def test_orphan_fragment_times_out_in_event_time() -> None:
    lines = [
        tagged(TYPE5_PART1, receiver_timestamp=1000, source_station="a"),
        tagged(SENTENCE, receiver_timestamp=1010, source_station="a"),
        tagged(SENTENCE, receiver_timestamp=1100, source_station="a"),
    ]
    dec, out = run(lines, config=NmeaConfig(fragment_timeout_s=30))
    reasons = [o.reason for o in out if isinstance(o, Rejection)]
    assert reasons == ["fragment_timeout"]
    assert dec.stats.rejections["fragment_timeout"] == 1


def test_pending_fragments_are_bounded() -> None:
    lines = []
    for seq in range(10):
        body = TYPE5_PART1[1:].rsplit("*", 1)[0].replace(",9,B,", f",{seq},B,")
        lines.append(f"!{body}*{checksum(body.encode()):02X}")
    dec, _ = run(lines, config=NmeaConfig(max_pending_fragments=3))
    assert dec.stats.rejections["fragment_overflow"] >= 6
    assert dec.stats.lines == dec.stats.rejected_lines + dec.stats.fragments_used


@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_crash(data: bytes) -> None:
    dec = NmeaDecoder(source="fuzz")
    for i, line in enumerate(data.split(b"\n"), 1):
        for item in dec.feed(line, i):
            assert isinstance(item, (PositionReport, StaticReport, Rejection))
    dec.flush()
    s = dec.stats
    assert s.lines == s.blank_or_comment + s.wrappers + s.fragments_used + s.rejected_lines


@given(st.lists(st.sampled_from(AISDB.read_bytes().splitlines()[:200]), max_size=40), st.data())
def test_mutated_real_lines_never_crash(lines: list[bytes], data: st.DataObject) -> None:
    mutated = []
    for line in lines:
        if line and data.draw(st.booleans()):
            pos = data.draw(st.integers(0, len(line) - 1))
            line = line[:pos] + bytes([data.draw(st.integers(0, 255))]) + line[pos + 1 :]
        mutated.append(line)
    dec, out = run(mutated)
    s = dec.stats
    assert s.lines == s.blank_or_comment + s.wrappers + s.fragments_used + s.rejected_lines
    for o in out:
        if isinstance(o, PositionReport):
            assert -90 <= o.lat <= 90
            assert -180 <= o.lon <= 180
            assert o.speed_kn is None or 0 <= o.speed_kn < 102.3
            assert o.heading_deg is None or 0 <= o.heading_deg < 360
