"""Simple decoded-AIS CSV on the real Solent and Baltic track files, plus edge cases."""

from __future__ import annotations

import csv
import gzip
import io
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from seawarden.errors import InputError
from seawarden.ingest.csv_simple import read_simple_csv
from seawarden.model import PositionReport, Rejection
from tests.conftest import SHARED_DATA

TRACKS = SHARED_DATA / "tracks"
SOLENT = TRACKS / "solent" / "SolentAIS_20160112_130211.csv"
BALTIC = TRACKS / "baltic-cargo-2020" / "baltic_cargo_20201101.csv"


def _read(text: str) -> list[PositionReport | Rejection]:
    items = list(read_simple_csv(io.StringIO(text, newline="")))
    assert all(isinstance(item, PositionReport | Rejection) for item in items)
    return items  # type: ignore[return-value]


def test_solent_every_row_is_a_position_matching_the_raw_text() -> None:
    items = list(read_simple_csv(SOLENT))
    with SOLENT.open(newline="") as f:
        raw = list(csv.DictReader(f))

    assert len(raw) == 18_623
    assert len(items) == len(raw)
    assert all(isinstance(item, PositionReport) for item in items)
    for item, row in zip(items, raw, strict=True):
        assert isinstance(item, PositionReport)
        assert item.mmsi == int(row["MMSI"])
        assert item.lat == float(row["Latitude_degrees"])
        assert item.lon == float(row["Longitude_degrees"])
    # Spot check one row fully; the Solent column order (COG before SOG) must not swap them.
    first = items[0]
    assert isinstance(first, PositionReport)
    assert first.time == datetime(2016, 1, 12, 13, 2, 11, 218000, tzinfo=UTC)
    assert (first.speed_kn, first.course_deg) == (5.9, 157.8)
    assert (first.source, first.line_no, first.msg_type) == (SOLENT.name, 2, 0)
    assert items[-1].line_no == 18_624
    assert len({item.mmsi for item in items if isinstance(item, PositionReport)}) == 91


def test_solent_course_360_is_not_a_course() -> None:
    items = [i for i in read_simple_csv(SOLENT) if isinstance(i, PositionReport)]
    with SOLENT.open(newline="") as f:
        raw = list(csv.DictReader(f))
    at_360 = [i for i, row in zip(items, raw, strict=True) if float(row["COG_degrees"]) == 360.0]
    assert at_360, "the Solent file has COG 360 (not available) rows"
    assert all(item.course_deg is None for item in at_360)


def test_baltic_every_row_is_a_position_with_long_lat_in_that_order() -> None:
    items = list(read_simple_csv(BALTIC))
    with BALTIC.open(newline="") as f:
        raw = list(csv.DictReader(f))

    assert len(raw) == 27_487
    assert Counter(type(i).__name__ for i in items) == {"PositionReport": 27_487}
    for item, row in zip(items, raw, strict=True):
        assert isinstance(item, PositionReport)
        assert (item.mmsi, item.lat, item.lon) == (
            int(row["mmsi"]),
            float(row["lat"]),
            float(row["long"]),
        )
    first = items[0]
    assert isinstance(first, PositionReport)
    assert first.time == datetime(2020, 11, 1, 9, 17, 45, tzinfo=UTC)
    assert (first.mmsi, first.speed_kn, first.course_deg) == (209318000, 2.3, 196.8)
    assert 54 < first.lat < 72  # latitude really came from "lat", not "long"


def test_gz_input_gives_the_same_records(tmp_path: Path) -> None:
    gz = tmp_path / "solent.csv.gz"
    gz.write_bytes(gzip.compress(SOLENT.read_bytes()))
    plain = list(read_simple_csv(SOLENT))
    packed = list(read_simple_csv(gz))
    assert [(p.mmsi, p.time, p.lat, p.line_no) for p in packed] == [  # type: ignore[union-attr]
        (p.mmsi, p.time, p.lat, p.line_no)  # type: ignore[union-attr]
        for p in plain
    ]
    assert packed[0].source == "solent.csv.gz"


def test_gz_detected_by_content_not_name(tmp_path: Path) -> None:
    disguised = tmp_path / "track.csv"
    disguised.write_bytes(gzip.compress(b"time,mmsi,lat,lon\n2020-01-01T00:00:00,1,2,3\n"))
    (item,) = read_simple_csv(disguised)
    assert isinstance(item, PositionReport)
    assert (item.mmsi, item.lat, item.lon) == (1, 2.0, 3.0)


def test_truncated_gz_raises_input_error_after_the_good_lines(tmp_path: Path) -> None:
    data = gzip.compress(SOLENT.read_bytes())
    cut = tmp_path / "cut.csv.gz"
    cut.write_bytes(data[: len(data) // 2])
    reader = read_simple_csv(cut)
    with pytest.raises(InputError, match="truncated or corrupt"):
        for _ in reader:
            pass


def test_missing_file_raises_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="file not found"):
        list(read_simple_csv(tmp_path / "nope.csv"))


def test_header_without_position_columns_raises_input_error() -> None:
    with pytest.raises(InputError, match=r"lat .*--format"):
        list(read_simple_csv(io.StringIO("time,mmsi,x,lon\n")))


def test_times_iso_with_and_without_zone_fractional_and_unix() -> None:
    text = (
        "mmsi,time,lat,lon,sog,cog,heading\n"
        "1,2024-01-01T10:00:00,1,1,,,\n"
        "1,2024-01-01T12:00:00+02:00,1,1,,,\n"
        "1,2024-01-01T10:00:00.5Z,1,1,,,\n"
        "1,1704103200,1,1,,,\n"
        "1,1704103200500,1,1,,,\n"
        "1,yesterday,1,1,,,\n"
    )
    items = _read(text)
    times = [i.time for i in items if isinstance(i, PositionReport)]
    ten = datetime(2024, 1, 1, 10, tzinfo=UTC)
    assert times == [
        ten,
        ten,
        ten.replace(microsecond=500000),
        ten,
        ten.replace(microsecond=500000),
    ]
    assert all(t.tzinfo is UTC for t in times)
    assert isinstance(items[-1], Rejection)
    assert (items[-1].reason, items[-1].line_no) == ("bad_time", 7)


def test_sentinels_become_none_and_bad_rows_are_rejected_by_reason() -> None:
    text = (
        "Timestamp,MMSI,Latitude,Longitude,Speed,Course,Heading\n"
        "2024-01-01 00:00:00,235070762,50.1,-1.2,102.3,360,511\n"  # 2: all NA but position
        "2024-01-01 00:00:00,235070762,91,181,1,2,3\n"  # 3: position NA
        "2024-01-01 00:00:00,235070762,95.0,-1.2,1,2,3\n"  # 4: impossible latitude
        "2024-01-01 00:00:00,23507076x,50.1,-1.2,1,2,3\n"  # 5
        "2024-01-01 00:00:00,235070762,50.1,west,1,2,3\n"  # 6
        "2024-01-01 00:00:00,235070762,50.1\n"  # 7: short
        "\n"  # 8: blank
        "2024-01-01 00:00:00,235070762,,,1,2,3\n"  # 9: empty position
        '"2024-01-01 00:00:00","235070762","50.5","-1.5","4.5","90","91"\n'  # 10: quoted
    )
    items = _read(text)
    assert [i.line_no for i in items] == list(range(2, 11))
    reasons = [i.reason if isinstance(i, Rejection) else "ok" for i in items]
    assert reasons == [
        "ok",
        "bad_position",
        "bad_position",
        "bad_mmsi",
        "malformed",
        "malformed",
        "malformed",
        "bad_position",
        "ok",
    ]
    na = items[0]
    assert isinstance(na, PositionReport)
    assert (na.speed_kn, na.course_deg, na.heading_deg) == (None, None, None)
    quoted = items[-1]
    assert isinstance(quoted, PositionReport)
    assert (quoted.lat, quoted.lon, quoted.speed_kn, quoted.heading_deg) == (50.5, -1.5, 4.5, 91)
    blank = items[6]
    assert isinstance(blank, Rejection)
    assert blank.detail == "blank line"


def test_undecodable_bytes_are_replaced_and_counted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes(
        b"time,mmsi,lat,lon,name\n"
        b"2024-01-01T00:00:00,1,2,3,S\xf8ren\n"
        b"2024-01-01T00:00:00,1,2,3,ok\n"
        b"2024-01-01T00:00:00,1,\xff,3,x\n"
    )
    with caplog.at_level("WARNING", logger="seawarden.ingest.csv_sources"):
        items = list(read_simple_csv(path))
    assert [type(i).__name__ for i in items] == ["PositionReport", "PositionReport", "Rejection"]
    assert isinstance(items[2], Rejection)
    assert items[2].reason == "malformed"
    assert "2 line(s)" in caplog.text
