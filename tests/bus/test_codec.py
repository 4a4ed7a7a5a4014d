"""The wire form of a report reads back equal, field for field; bad bytes are a CodecError."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from seawarden.bus.codec import CodecError, decode, encode
from seawarden.model import PositionReport, StaticReport

times = st.datetimes(
    min_value=datetime(1970, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)
mmsis = st.integers(min_value=0, max_value=999_999_999)
floats = st.floats(allow_nan=False, allow_infinity=False)
texts = st.text(max_size=40)
small = st.integers(min_value=0, max_value=2**31)

positions = st.builds(
    PositionReport,
    mmsi=mmsis,
    time=times,
    lat=st.floats(min_value=-90, max_value=90),
    lon=st.floats(min_value=-180, max_value=180),
    speed_kn=st.none() | st.floats(min_value=0, max_value=102.3),
    course_deg=st.none() | st.floats(min_value=0, max_value=360, exclude_max=True),
    heading_deg=st.none() | st.integers(min_value=0, max_value=359),
    nav_status=st.none() | st.integers(min_value=0, max_value=15),
    rot_deg_min=st.none() | floats,
    accuracy=st.none() | st.booleans(),
    msg_type=st.sampled_from([0, 1, 2, 3, 18, 19, 27]),
    source=texts,
    line_no=small,
)
statics = st.builds(
    StaticReport,
    mmsi=mmsis,
    time=times,
    imo=st.none() | st.integers(min_value=0, max_value=9_999_999),
    callsign=st.none() | texts,
    name=st.none() | texts,
    ship_type=st.none() | st.integers(min_value=0, max_value=255),
    length_m=st.none() | st.floats(min_value=0, max_value=1000),
    beam_m=st.none() | st.floats(min_value=0, max_value=200),
    draught_m=st.none() | st.floats(min_value=0, max_value=30),
    destination=st.none() | texts,
    msg_type=st.sampled_from([0, 5, 19, 24]),
    source=texts,
    line_no=small,
)


@given(st.one_of(positions, statics))
def test_round_trip_is_exact(rec: PositionReport | StaticReport) -> None:
    back = decode(encode(rec))
    assert back == rec
    assert type(back) is type(rec)
    assert back.time.tzinfo is UTC
    assert back.time.microsecond == rec.time.microsecond


def test_other_time_zones_become_the_same_instant_in_utc() -> None:
    t = datetime(2024, 12, 25, 12, 0, 0, 123456, tzinfo=timezone(timedelta(hours=2)))
    rec = PositionReport(mmsi=1, time=t, lat=1.0, lon=2.0)
    back = decode(encode(rec))
    assert back.time == t
    assert back.time.tzinfo is UTC


def test_a_naive_time_is_refused_when_encoding() -> None:
    with pytest.raises(ValueError, match="aware"):
        encode(PositionReport(mmsi=1, time=datetime(2024, 1, 1), lat=0.0, lon=0.0))


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"not json",
        b"{}",
        b"[]",
        orjson.dumps(["P", 1, 1, 0, 0.0, 0.0]),
        orjson.dumps(["X", 1, 1, 0, *([None] * 8), 0, "", 0]),
        orjson.dumps(["P", 99, 1, 0, 0.0, 0.0, *([None] * 6), 0, "", 0]),
        orjson.dumps(["P", 1, "1", 0, 0.0, 0.0, *([None] * 6), 0, "", 0]),
        orjson.dumps(["P", 1, 1, 1.5, 0.0, 0.0, *([None] * 6), 0, "", 0]),
        orjson.dumps(["P", 1, 1, 0, None, 0.0, *([None] * 6), 0, "", 0]),
        b'["P",1,1,100000000000000000000,0.0,0.0,null,null,null,null,null,null,0,"",0]',
        orjson.dumps(["S", 1, 1, 0, "imo", *([None] * 7), 0, "", 0]),
    ],
)
def test_bad_bytes_are_a_codec_error(data: bytes) -> None:
    with pytest.raises(CodecError):
        decode(data)
