"""DMA ``aisdk`` CSV on the hand-made sample in the published format (see tests/data)."""

from __future__ import annotations

import gzip
import io
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from seawarden.errors import InputError
from seawarden.ingest.csv_dma import DMA_NAV_STATUS, DMA_SHIP_TYPES, read_dma_csv
from seawarden.model import PositionReport, Rejection, StaticReport

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "dma_aisdk_sample.csv"
HEADER = SAMPLE.read_text().splitlines()[0] + "\n"


def test_sample_accounting_adds_up() -> None:
    items = list(read_dma_csv(SAMPLE))
    per_line = [i for i in items if not isinstance(i, StaticReport)]
    data_lines = len(SAMPLE.read_text().splitlines()) - 1

    assert data_lines == 40
    assert [i.line_no for i in per_line] == list(range(2, 42))
    assert Counter(type(i).__name__ for i in items) == {
        "PositionReport": 32,
        "Rejection": 8,
        "StaticReport": 7,
    }
    assert Counter(i.reason for i in items if isinstance(i, Rejection)) == {
        "not_vessel": 3,  # base station, AtoN, SART
        "bad_position": 1,  # lat 91 / lon 181 on a static-only row
        "bad_time": 1,  # ISO timestamp in a dd/mm/yyyy file
        "bad_mmsi": 1,
        "malformed": 2,  # a short row, an unparseable SOG
    }


def test_rejections_point_at_their_lines() -> None:
    rejected = {i.line_no: i for i in read_dma_csv(SAMPLE) if isinstance(i, Rejection)}
    assert {n: r.reason for n, r in rejected.items()} == {
        2: "not_vessel",
        6: "not_vessel",
        11: "bad_position",
        16: "bad_time",
        21: "malformed",
        25: "not_vessel",
        28: "bad_mmsi",
        38: "malformed",
    }
    assert rejected[6].detail == "AtoN"
    assert rejected[21].detail == "18 fields, header has 26"
    assert rejected[16].raw.startswith("2024-11-01 00:00:14,Class A,265123450")


def test_class_a_position_parsed_from_text() -> None:
    first = next(i for i in read_dma_csv(SAMPLE) if isinstance(i, PositionReport))
    assert first == PositionReport(
        mmsi=219012345,
        time=datetime(2024, 11, 1, tzinfo=UTC),
        lat=55.51234,
        lon=11.03456,
        speed_kn=12.4,
        course_deg=88.3,
        heading_deg=87,
        nav_status=0,
        rot_deg_min=0.0,
        msg_type=1,
        source="dma_aisdk_sample.csv",
        line_no=3,
    )


def test_class_b_and_text_codes() -> None:
    positions = {i.line_no: i for i in read_dma_csv(SAMPLE) if isinstance(i, PositionReport)}
    sailing = positions[5]  # Class B, status "Unknown value", no heading or ROT
    assert (sailing.msg_type, sailing.nav_status, sailing.heading_deg) == (18, None, None)
    assert sailing.rot_deg_min is None
    assert positions[14].nav_status == 7  # Engaged in fishing
    assert positions[14].rot_deg_min == -2.1
    assert positions[19].nav_status == 3  # Restricted maneuverability (DMA spelling)
    assert positions[4].nav_status == 1  # At anchor
    assert positions[7].nav_status == 5  # Moored


def test_static_reports_only_on_change() -> None:
    statics = [i for i in read_dma_csv(SAMPLE) if isinstance(i, StaticReport)]
    assert [(s.mmsi, s.line_no) for s in statics] == [
        (219012345, 3),
        (265123450, 4),
        (211234560, 5),
        (220987650, 7),
        (246543210, 14),
        (230111220, 19),
        (219012345, 31),  # new destination and draught
    ]
    first, changed = statics[0], statics[-1]
    assert (first.imo, first.callsign, first.name) == (9312345, "OZAB2", "NORDIC TRADER")
    assert (first.ship_type, first.length_m, first.beam_m) == (70, 140.0, 20.0)
    assert (first.draught_m, first.destination) == (7.4, "AARHUS")
    assert (changed.draught_m, changed.destination) == (7.8, "GDANSK")
    assert changed.time == datetime(2024, 11, 1, 0, 0, 29, tzinfo=UTC)
    pleasure = statics[2]
    # "Unknown" placeholders are not values.
    assert (pleasure.imo, pleasure.destination, pleasure.ship_type) == (None, None, 36)
    fishing = statics[4]
    assert (fishing.imo, fishing.ship_type, fishing.destination) == (None, 30, None)


def test_static_then_position_for_the_same_line() -> None:
    items = list(read_dma_csv(SAMPLE))
    line_3 = [type(i).__name__ for i in items if i.line_no == 3]
    assert line_3 == ["StaticReport", "PositionReport"]


def test_gz_sample(tmp_path: Path) -> None:
    gz = tmp_path / "aisdk-2024-11-01.csv.gz"
    gz.write_bytes(gzip.compress(SAMPLE.read_bytes()))
    plain = list(read_dma_csv(SAMPLE))
    packed = list(read_dma_csv(gz))
    assert [(type(i), i.line_no) for i in packed] == [(type(i), i.line_no) for i in plain]
    assert {i.source for i in packed} == {"aisdk-2024-11-01.csv.gz"}


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("Under way using engine", 0),
        ("At anchor", 1),
        ("Not under command", 2),
        ("Constrained by her draught", 4),
        ("Aground", 6),
        ("Under way sailing", 8),
        ("Power-driven vessel towing astern", 11),
        ("Power-driven vessel pushing ahead or towing alongside", 12),
        ("AIS-SART is active", 14),
        ("Unknown value", None),
        ("Something new", None),
    ],
)
def test_nav_status_text(text: str, code: int | None) -> None:
    row = f"01/11/2024 00:00:00,Class A,219012345,55.5,11.0,{text},,,,,,,,,,,,,,,,,,,,\n"
    (item,) = (i for i in read_dma_csv(io.StringIO(HEADER + row)) if isinstance(i, PositionReport))
    assert item.nav_status == code


def test_ship_type_table_uses_ais_codes() -> None:
    assert DMA_SHIP_TYPES["cargo"] == 70
    assert DMA_SHIP_TYPES["tanker"] == 80
    assert DMA_SHIP_TYPES["passenger"] == 60
    assert DMA_SHIP_TYPES["fishing"] == 30
    assert DMA_SHIP_TYPES["tug"] == 52
    assert DMA_SHIP_TYPES["pilot"] == 50
    assert DMA_SHIP_TYPES["sar"] == 51
    assert DMA_SHIP_TYPES["undefined"] is None
    codes = [c for c in DMA_SHIP_TYPES.values() if c is not None]
    assert all(20 <= c <= 99 for c in codes)
    assert len(set(codes)) == len(codes)
    assert sorted(set(DMA_NAV_STATUS.values())) == list(range(16))


def test_unknown_ship_type_text_is_none_not_a_guess() -> None:
    row = "01/11/2024 00:00:00,Class A,219012345,55.5,11.0,,,,,,,,X,Hovercraft,,,,,,,,,,,,\n"
    static = next(i for i in read_dma_csv(io.StringIO(HEADER + row)) if isinstance(i, StaticReport))
    assert (static.name, static.ship_type) == ("X", None)


@pytest.mark.parametrize(
    "stamp", ["1/11/2024 00:00:00", "32/11/2024 00:00:00", "01/11/2024 25:00:00", ""]
)
def test_bad_timestamps(stamp: str) -> None:
    row = f"{stamp},Class A,219012345,55.5,11.0,,,,,,,,,,,,,,,,,,,,,\n"
    (item,) = read_dma_csv(io.StringIO(HEADER + row))
    assert isinstance(item, Rejection)
    assert item.reason == "bad_time"


def test_noaa_header_is_refused() -> None:
    with pytest.raises(InputError, match="typeofmobile"):
        list(read_dma_csv(io.StringIO("MMSI,BaseDateTime,LAT,LON\n")))
