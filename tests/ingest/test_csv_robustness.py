"""Property tests: arbitrary lines appended to a valid CSV never raise, and each line is
accounted for by exactly one position or rejection (DMA/NOAA may add a static report)."""

from __future__ import annotations

import gzip
import io
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seawarden.ingest.csv_dma import read_dma_csv
from seawarden.ingest.csv_noaa import read_noaa_csv
from seawarden.ingest.csv_simple import read_simple_csv
from seawarden.ingest.csv_sources import CsvInput, CsvItem
from seawarden.model import StaticReport

DMA_SAMPLE = Path(__file__).resolve().parents[1] / "data" / "dma_aisdk_sample.csv"
NOAA_BASE = (
    "MMSI,BaseDateTime,LAT,LON,SOG,COG,Heading,VesselName,IMO,CallSign,VesselType,Status,"
    "Length,Width,Draft,Cargo,TransceiverClass\n"
    "636021061,2023-01-11T00:00:00,26.09241,-80.04806,8.8,272.7,270.0,MSC NAISHA III,"
    "IMO9307839,5LCB4,70,8.0,208.0,30.0,8.0,70.0,A\n"
)
SIMPLE_BASE = (
    "Time,MMSI,Latitude_degrees,Longitude_degrees,COG_degrees,SOG_knots\n"
    "2016-01-12 13:02:11.218,235070762,50.7730133333333,-1.092935,157.8,5.9\n"
)
Reader = Callable[[CsvInput], Iterator[CsvItem]]
READERS: list[tuple[Reader, str]] = [
    (read_simple_csv, SIMPLE_BASE),
    (read_noaa_csv, NOAA_BASE),
    (read_dma_csv, DMA_SAMPLE.read_text()),
]

# Field values near the edges of what the readers accept, to make valid rows likely too.
TOKENS = st.sampled_from(
    [
        "",
        "0",
        "235070762",
        "636021061",
        "50.77",
        "-1.09",
        "91",
        "181",
        "102.3",
        "511",
        "nan",
        "inf",
        "1e400",
        "²",
        "IMO9307839",
        "Class A",
        "Class B",
        "AtoN",
        "At anchor",
        "2016-01-12 13:02:11.218",
        "2023-01-11T00:00:00Z",
        "01/11/2024 00:00:00",
        "1452603731",
        '"',
        '"quoted,comma"',
        '"unterminated',
        "\x00",
        "\ufeff",
    ]
)
# No CR or LF: a "line" is what the reader sees between line endings.
ANY_CHAR = st.characters(exclude_characters="\r\n", exclude_categories=["Cs"])
LINE = st.one_of(
    st.text(ANY_CHAR, max_size=80),
    st.lists(st.one_of(TOKENS, st.text(ANY_CHAR, max_size=8)), min_size=1, max_size=30).map(
        ",".join
    ),
)


def _per_line(items: list[CsvItem], first_new_line: int) -> Counter[int]:
    return Counter(
        i.line_no for i in items if not isinstance(i, StaticReport) and i.line_no >= first_new_line
    )


@settings(max_examples=60, deadline=None)
@given(reader_index=st.integers(0, 2), lines=st.lists(LINE, max_size=8))
def test_appended_text_lines_each_give_one_result(reader_index: int, lines: list[str]) -> None:
    reader, base = READERS[reader_index]
    base_lines = base.count("\n")
    text = base + "".join(line + "\n" for line in lines)
    items = list(reader(io.StringIO(text, newline="")))
    expected = Counter(range(base_lines + 1, base_lines + 1 + len(lines)))
    assert _per_line(items, base_lines + 1) == expected
    assert all(i.source == "<stream>" for i in items)


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    reader_index=st.integers(0, 2),
    chunks=st.lists(
        st.binary(max_size=60).map(lambda b: b.replace(b"\r", b"").replace(b"\n", b"")), max_size=6
    ),
    packed=st.booleans(),
)
def test_appended_bytes_never_raise(reader_index: int, chunks: list[bytes], packed: bool) -> None:
    reader, base = READERS[reader_index]
    data = base.encode() + b"".join(chunk + b"\n" for chunk in chunks)
    base_lines = base.count("\n")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / ("f.csv.gz" if packed else "f.csv")
        path.write_bytes(gzip.compress(data) if packed else data)
        items = list(reader(path))
    expected = Counter(range(base_lines + 1, base_lines + 1 + len(chunks)))
    assert _per_line(items, base_lines + 1) == expected
