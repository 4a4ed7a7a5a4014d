"""Format detection from the header line, and dispatch by ``read_csv_records``."""

from __future__ import annotations

import io
from collections import Counter
from pathlib import Path

import pytest

from seawarden.errors import InputError
from seawarden.ingest.csv_detect import CSV_FORMATS, detect_csv_format, read_csv_records
from seawarden.model import PositionReport, StaticReport
from tests.conftest import SHARED_DATA

SHARED = SHARED_DATA / "tracks"
DMA = Path(__file__).resolve().parents[1] / "data" / "dma_aisdk_sample.csv"
NOAA = SHARED / "noaa" / "noaa_20230111_sample.csv"
SOLENT = SHARED / "solent" / "SolentAIS_20160112_130211.csv"
BALTIC = SHARED / "baltic-cargo-2020" / "baltic_cargo_20201101.csv"


def _header(path: Path) -> str:
    with path.open(newline="") as f:
        return f.readline()


@pytest.mark.parametrize(
    ("path", "fmt"), [(DMA, "dma"), (NOAA, "noaa"), (SOLENT, "simple"), (BALTIC, "simple")]
)
def test_real_headers(path: Path, fmt: str) -> None:
    assert detect_csv_format(_header(path)) == fmt


@pytest.mark.parametrize(
    ("header", "fmt"),
    [
        ("mmsi,base_date_time,latitude,longitude,sog,cog,heading,vessel_name,imo", "noaa"),
        ("MMSI,BaseDateTime,LAT,LON,SOG,COG", "simple"),  # no NOAA vessel columns
        ("\ufeffTime,MMSI,Lat,Lon", "simple"),
        ("timestamp,mmsi,latitude,longitude,speed,course", "simple"),
        ("time,mmsi,lat", None),
        ("", None),
        ("!AIVDM,1,1,,A,13aEOK?P00PD2wVMdLDRhgvL289?,0*26", None),
    ],
)
def test_synthetic_headers(header: str, fmt: str | None) -> None:
    assert detect_csv_format(header) == fmt


def test_dispatch_reads_each_real_file() -> None:
    kinds = {
        path.name: Counter(type(i).__name__ for i in read_csv_records(path))
        for path in (DMA, NOAA, SOLENT)
    }
    assert kinds[DMA.name]["StaticReport"] == 7
    assert kinds[NOAA.name] == {"PositionReport": 1_000, "StaticReport": 998}
    assert kinds[SOLENT.name] == {"PositionReport": 18_623}


def test_fmt_overrides_detection() -> None:
    # A NOAA file read as "simple" keeps positions and drops the static columns.
    items = list(read_csv_records(NOAA, fmt="simple"))
    assert len(items) == 1_000
    assert not any(isinstance(i, StaticReport) for i in items)
    assert isinstance(items[0], PositionReport)
    assert items[0].heading_deg == 95


def test_unknown_header_names_the_formats_and_the_flag() -> None:
    stream = io.StringIO("a,b,c\n1,2,3\n")
    with pytest.raises(InputError) as caught:
        list(read_csv_records(stream))
    message = str(caught.value)
    assert all(fmt in message for fmt in CSV_FORMATS)
    assert "--format" in message
    assert caught.value.line_no == 1


def test_unknown_fmt_is_refused_at_call() -> None:
    with pytest.raises(InputError, match="choose one of dma, noaa, simple"):
        read_csv_records(SOLENT, fmt="nmea")


def test_fmt_is_case_insensitive() -> None:
    assert sum(1 for _ in read_csv_records(DMA, fmt="DMA")) == 47


def test_empty_input_yields_nothing() -> None:
    assert list(read_csv_records(io.StringIO(""))) == []


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not found"):
        list(read_csv_records(tmp_path / "missing.csv.gz"))
