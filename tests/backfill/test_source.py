"""The archive read back as the pipeline's ordered record stream."""

from __future__ import annotations

import dataclasses
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seawarden.archive.writer import ArchiveWriter
from seawarden.backfill.source import ArchiveSource, archive_days, check_archive
from seawarden.errors import InputError
from seawarden.ingest.files import open_source
from seawarden.model import PositionReport, StaticReport
from seawarden.pipeline.order import sort_key
from seawarden.pipeline.partition import PartitionSpec, partition_of
from seawarden.risk.normalcy_dask import partition_sql
from tests.backfill.conftest import Scenario

Rec = PositionReport | StaticReport


def _as_archived(rec: Rec) -> Rec:
    """A decoded record as the archive keeps it (no rate of turn, accuracy, line)."""
    if isinstance(rec, PositionReport):
        return dataclasses.replace(rec, rot_deg_min=None, accuracy=None, line_no=0)
    return dataclasses.replace(rec, line_no=0)


def _decoded(path: Path) -> list[Rec]:
    return [
        _as_archived(item)
        for _, item in open_source(path)
        if isinstance(item, PositionReport | StaticReport)
    ]


def test_stream_is_every_record_in_sort_key_order(scenario: Scenario) -> None:
    expected = sorted(_decoded(scenario.nmea), key=sort_key)
    got = list(ArchiveSource(scenario.archive))
    assert len(got) == len(expected) > 20_000
    assert any(isinstance(r, StaticReport) for r in got)
    assert got == expected  # every kept field rebuilt exactly, in the canonical order


def test_small_batches_give_the_same_stream(scenario: Scenario) -> None:
    # tie groups (same instant, vessel, kind) straddle batch boundaries of 7 rows
    assert list(ArchiveSource(scenario.archive, batch_rows=7)) == list(
        ArchiveSource(scenario.archive)
    )


def test_time_range_is_half_open(scenario: Scenario) -> None:
    every = list(ArchiveSource(scenario.archive))
    start = every[len(every) // 3].time
    end = start + timedelta(minutes=20)
    got = list(ArchiveSource(scenario.archive, start=start, end=end))
    assert got == [r for r in every if start <= r.time < end]
    assert got
    assert got[0].time == start
    assert archive_days(scenario.archive)


def test_missing_or_foreign_directory_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such archive"):
        check_archive(tmp_path / "nope")
    with pytest.raises(InputError, match="not a history archive"):
        list(ArchiveSource(tmp_path))


def test_a_naive_time_range_is_utc_whatever_the_machine_zone(
    scenario: Scenario, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time as _time

    every = list(ArchiveSource(scenario.archive))
    end = every[len(every) // 2].time  # aware (UTC), shortly after midnight
    # UTC+12: read as local time, that end would fall on the previous UTC day and the
    # archive's only day would be cut off (the defect this guards against)
    monkeypatch.setenv("TZ", "Etc/GMT-12")
    _time.tzset()
    try:
        naive = list(ArchiveSource(scenario.archive, end=end.replace(tzinfo=None)))
    finally:
        monkeypatch.delenv("TZ")
        _time.tzset()
    assert end.hour < 12  # the premise: 12 h earlier is another day
    assert naive == [r for r in every if r.time < end]
    assert naive


def test_a_damaged_parquet_file_is_an_input_error_not_a_traceback(
    scenario: Scenario, tmp_path: Path
) -> None:
    import shutil

    from typer.testing import CliRunner

    from seawarden.cli import app
    from seawarden.risk.normalcy_dask import read_archive_part

    bad = tmp_path / "archive"
    shutil.copytree(scenario.archive, bad)
    victim = next(bad.glob("positions/**/*.parquet"))
    victim.write_bytes(b"PAR1 this is not parquet")
    with pytest.raises(InputError, match="cannot read the archive"):
        list(ArchiveSource(bad))
    with pytest.raises(InputError, match="cannot read the archive"):
        read_archive_part(str(bad))
    result = CliRunner().invoke(app, ["backfill", str(bad), "-q"])
    assert result.exit_code != 0
    assert isinstance(result.exception, InputError)


@settings(max_examples=60, deadline=None)
@given(
    mmsis=st.lists(st.integers(0, 2**32 - 1), min_size=1, max_size=50),
    count=st.integers(1, 64),
    data=st.data(),
)
def test_partition_predicate_in_sql_matches_partition_of(
    mmsis: list[int], count: int, data: st.DataObject
) -> None:
    mine = data.draw(st.frozensets(st.integers(0, count - 1), min_size=1))
    spec = PartitionSpec(mine, count)
    con = duckdb.connect(":memory:")
    try:
        con.execute("CREATE TABLE t (mmsi UINTEGER)")
        con.executemany("INSERT INTO t VALUES (?)", [[m] for m in mmsis])
        rows = con.execute(f"SELECT mmsi FROM t WHERE {partition_sql(spec)}").fetchall()
    finally:
        con.close()
    assert sorted(r[0] for r in rows) == sorted(m for m in mmsis if partition_of(m, count) in mine)


_T0 = datetime(2024, 12, 24, 23, 59, 58, tzinfo=UTC)  # examples straddle a day boundary
_times = st.integers(0, 4).map(lambda s: _T0 + timedelta(seconds=s, microseconds=250))
_mmsis = st.sampled_from([211000001, 211000002, 518998167])
_opt_float = st.none() | st.floats(0, 50, allow_nan=False).map(lambda v: round(v, 1))
_positions = st.builds(
    PositionReport,
    mmsi=_mmsis,
    time=_times,
    lat=st.floats(54.0, 55.0),
    lon=st.floats(12.0, 13.0),
    speed_kn=_opt_float,
    course_deg=_opt_float,
    heading_deg=st.none() | st.integers(0, 359),
    nav_status=st.none() | st.integers(0, 15),
    msg_type=st.sampled_from([1, 3, 18]),
    source=st.sampled_from(["a", "b"]),
)
_statics = st.builds(
    StaticReport,
    mmsi=_mmsis,
    time=_times,
    imo=st.none() | st.integers(1_000_000, 9_999_999),
    name=st.none() | st.sampled_from(["EAGLE S", "X"]),
    ship_type=st.none() | st.integers(0, 99),
    draught_m=_opt_float,
    msg_type=st.sampled_from([5, 24]),
    source=st.sampled_from(["a", "b"]),
)


@settings(max_examples=40, deadline=None)
@given(records=st.lists(_positions | _statics, max_size=40), batch=st.integers(1, 9))
def test_any_archive_reads_back_in_sort_key_order(records: list[Rec], batch: int) -> None:
    """Ties on (time, vessel, kind) across sources, batches and a day boundary."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "archive"
        with ArchiveWriter(root, input_id="prop", rows_per_file=7) as writer:
            writer.add_many(records)
        if not records:
            root.mkdir(parents=True, exist_ok=True)
            (root / "positions").mkdir()
        got = list(ArchiveSource(root, batch_rows=batch))
    assert got == sorted(records, key=sort_key)
