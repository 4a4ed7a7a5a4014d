"""NOAA MarineCadastre CSV on the real 1,000-row sample, plus static-on-change behaviour."""

from __future__ import annotations

import csv
import io
from collections import Counter
from datetime import UTC, datetime

import pytest

from seawarden.errors import InputError
from seawarden.ingest.csv_noaa import read_noaa_csv
from seawarden.model import PositionReport, Rejection, StaticReport
from tests.conftest import SHARED_DATA

NOAA = SHARED_DATA / "tracks" / "noaa"
SAMPLE = NOAA / "noaa_20230111_sample.csv"
HEADER = (
    "MMSI,BaseDateTime,LAT,LON,SOG,COG,Heading,VesselName,IMO,CallSign,VesselType,Status,"
    "Length,Width,Draft,Cargo,TransceiverClass\n"
)


def _raw_rows() -> list[dict[str, str]]:
    with SAMPLE.open(newline="") as f:
        return list(csv.DictReader(f))


def test_every_row_is_accounted_for_and_matches_the_raw_text() -> None:
    items = list(read_noaa_csv(SAMPLE))
    raw = _raw_rows()
    per_line = [i for i in items if not isinstance(i, StaticReport)]

    assert len(raw) == 1_000
    assert [i.line_no for i in per_line] == list(range(2, 1_002))
    # The sample has no unusable rows: 1,000 positions, static data for 998 vessels (two rows
    # carry no name, IMO, call sign, type or dimensions at all).
    assert Counter(type(i).__name__ for i in items) == {
        "PositionReport": 1_000,
        "StaticReport": 998,
    }
    for item, row in zip(per_line, raw, strict=True):
        assert isinstance(item, PositionReport)
        assert (item.mmsi, item.lat, item.lon) == (
            int(row["MMSI"]),
            float(row["LAT"]),
            float(row["LON"]),
        )
        assert item.msg_type == {"A": 1, "B": 18}[row["TransceiverClass"]]
        expected_heading = None if row["Heading"] == "511.0" else int(float(row["Heading"]))
        assert item.heading_deg == expected_heading
        assert item.speed_kn == (None if row["SOG"] == "102.3" else float(row["SOG"]))
        assert item.course_deg == (None if row["COG"] == "360.0" else float(row["COG"]))
        status = None if row["Status"] in ("", "15.0") else int(float(row["Status"]))
        assert item.nav_status == status


def test_spot_check_msc_naisha() -> None:
    items = list(read_noaa_csv(SAMPLE))
    static, position = (i for i in items if i.line_no == 3)
    assert static == StaticReport(
        mmsi=636021061,
        time=datetime(2023, 1, 11, tzinfo=UTC),
        imo=9307839,
        callsign="5LCB4",
        name="MSC NAISHA III",
        ship_type=70,
        length_m=208.0,
        beam_m=30.0,
        draught_m=8.0,
        source=SAMPLE.name,
        line_no=3,
    )
    assert isinstance(position, PositionReport)
    assert (position.lat, position.lon, position.speed_kn, position.course_deg) == (
        26.09241,
        -80.04806,
        8.8,
        272.7,
    )
    assert (position.heading_deg, position.nav_status, position.msg_type) == (270, 8, 1)


def test_imo_zero_and_missing_dimensions_are_none() -> None:
    statics = [i for i in read_noaa_csv(SAMPLE) if isinstance(i, StaticReport)]
    by_mmsi = {s.mmsi: s for s in statics}
    raw = {r["MMSI"]: r for r in _raw_rows()}
    zero_imo = [m for m, r in raw.items() if r["IMO"] == "IMO0000000" and int(m) in by_mmsi]
    assert zero_imo
    assert all(by_mmsi[int(m)].imo is None for m in zero_imo)
    san_jose = by_mmsi[367752440]  # row 2: no IMO, no dimensions, type 31
    assert (san_jose.imo, san_jose.length_m, san_jose.ship_type) == (None, None, 31)


def test_static_emitted_only_when_it_changes() -> None:
    rows = [
        "1,2023-01-11T00:00:00,40,-70,1,2,3,ALPHA,IMO9307839,CS1,70,0.0,100,20,5,70,A",
        "1,2023-01-11T00:01:00,40,-70,1,2,3,ALPHA,IMO9307839,CS1,70,0.0,100,20,5,70,A",
        "1,2023-01-11T00:02:00,40,-70,1,2,3,,,,,0.0,,,,,A",  # blank: not a change
        "1,2023-01-11T00:03:00,40,-70,1,2,3,ALPHA,IMO9307839,CS1,70,0.0,100,20,5,70,A",
        "1,2023-01-11T00:04:00,40,-70,1,2,3,ALPHA,IMO9307839,CS1,70,0.0,100,20,6.5,70,A",
        "2,2023-01-11T00:05:00,91,181,1,2,3,BRAVO,,,,,,,,,B",
    ]
    items = list(read_noaa_csv(io.StringIO(HEADER + "\n".join(rows) + "\n", newline="")))
    statics = [i for i in items if isinstance(i, StaticReport)]
    assert [(s.mmsi, s.line_no, s.draught_m) for s in statics] == [
        (1, 2, 5.0),
        (1, 6, 6.5),
        (2, 7, None),
    ]
    # The sentinel position of line 7 is refused, after its static report.
    last = items[-1]
    assert isinstance(last, Rejection)
    assert (last.reason, last.line_no) == ("bad_position", 7)


def test_static_cache_is_bounded_and_forgets_the_oldest_vessel() -> None:
    row = "{m},2023-01-11T00:00:00,40,-70,1,2,3,SHIP{m},,,,,,,,,A"
    order = [1, 2, 3, 1]
    text = HEADER + "".join(row.format(m=m) + "\n" for m in order)
    items = list(read_noaa_csv(io.StringIO(text, newline=""), static_cache_size=2))
    # Vessel 1 was forgotten when 3 arrived, so its unchanged static is reported again.
    assert [i.mmsi for i in items if isinstance(i, StaticReport)] == [1, 2, 3, 1]
    roomy = list(read_noaa_csv(io.StringIO(text, newline=""), static_cache_size=10))
    assert [i.mmsi for i in roomy if isinstance(i, StaticReport)] == [1, 2, 3]


def test_bad_status_or_dimension_text_is_malformed_not_raised() -> None:
    text = HEADER + "1,2023-01-11T00:00:00,40,-70,1,2,3,A,,,70,moored,100,20,5,70,A\n"
    (item,) = read_noaa_csv(io.StringIO(text, newline=""))
    assert isinstance(item, Rejection)
    assert item.reason == "malformed"


def test_simple_header_is_refused_with_a_hint() -> None:
    with pytest.raises(InputError, match="--format"):
        list(read_noaa_csv(io.StringIO("mmsi,time,lat,lon\n1,2,3,4\n")))
