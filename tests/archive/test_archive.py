"""The history archive on real data: Baltic DMA tracks (CSV) and AISdb raw NMEA.

Row counts against the decoders' own output, the partition layout against H3 computed
here, the GeoParquet 1.1.0 ``geo`` metadata against the specification's required keys
(https://geoparquet.org/releases/v1.1.0/), DuckDB's ``track`` against a replay's store,
idempotent re-runs, hostile input, and a round-trip property.
"""

from __future__ import annotations

import gzip
import itertools
import json
import random
import re
import shutil
import tempfile
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import h3
import pyarrow.parquet as pq
import pytest
import shapely
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from seawarden.archive.cli import archive_file, file_digest
from seawarden.archive.reader import connect, files_for, query, track, vessels_in_bbox
from seawarden.archive.writer import ArchiveWriter
from seawarden.cli import app
from seawarden.ingest.files import open_source
from seawarden.model import PositionReport, Rejection, StaticReport
from seawarden.store.sqlite import SQLiteStore
from tests.conftest import SHARED_DATA

BALTIC = SHARED_DATA / "tracks/baltic-cargo-2020/baltic_cargo_20201101.csv"
AISDB = SHARED_DATA / "nmea/aisdb/test_data_20211101.nm4"
GPSD = SHARED_DATA / "nmea/gpsd/sample.aivdm"
PART = re.compile(
    r"^positions/day=(\d{4}-\d{2}-\d{2})/h3=([0-9a-f]{15})/part-([0-9a-f]{16})-(\d{4})\.parquet$"
)
FAR = (datetime(1900, 1, 1, tzinfo=UTC), datetime(2200, 1, 1, tzinfo=UTC))
runner = CliRunner()


def decoded(path: Path) -> tuple[list[PositionReport], list[StaticReport], Counter[str]]:
    """What the decoders make of ``path``, read here independently of the archive."""
    pos: list[PositionReport] = []
    sta: list[StaticReport] = []
    rej: Counter[str] = Counter()
    for _, item in open_source(path):
        if isinstance(item, PositionReport):
            pos.append(item)
        elif isinstance(item, StaticReport):
            sta.append(item)
        elif isinstance(item, Rejection):
            rej[item.reason] += 1
    return pos, sta, rej


def key(r: PositionReport) -> tuple[Any, ...]:
    return (
        r.mmsi,
        r.time.astimezone(UTC),
        r.lat,
        r.lon,
        r.speed_kn,
        r.course_deg,
        r.heading_deg,
        r.nav_status,
        r.msg_type,
        r.source,
    )


def archived_rows(root: Path) -> Counter[tuple[Any, ...]]:
    _, rows = query(
        root,
        "SELECT mmsi, epoch_us(time), lat, lon, speed_kn, course_deg, heading_deg, nav_status,"
        " msg_type, source FROM positions",
    )
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    return Counter((r[0], epoch + timedelta(microseconds=r[1]), *r[2:]) for r in rows)


def position_files(root: Path) -> list[Path]:
    return sorted((root / "positions").rglob("*.parquet"))


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("archive")
    archive_file(BALTIC, root)
    archive_file(AISDB, root)
    return root


@pytest.mark.parametrize("path", [BALTIC, AISDB], ids=["baltic-dma-csv", "aisdb-nmea"])
def test_row_count_is_the_positions_decoded(path: Path, tmp_path: Path) -> None:
    pos, sta, rej = decoded(path)
    res, decode_rej = archive_file(path, tmp_path)
    assert decode_rej == rej  # the decoders' refusals, counted by reason
    assert res.positions + res.rejected == len(pos)
    assert res.statics == len(sta)
    assert archived_rows(tmp_path) == Counter(key(p) for p in pos if 0 <= p.mmsi < 2**32)
    _, [(n_static,)] = query(tmp_path, "SELECT count(*) FROM statics")
    assert n_static == len(sta)
    if path == BALTIC:
        assert len(pos) == 27_487
        assert not rej
        assert not res.rejections


def test_partitions_hold_the_right_day_and_cell(archive: Path) -> None:
    files = position_files(archive)
    assert files
    for f in files:
        m = PART.match(f.relative_to(archive).as_posix())
        assert m, f
        table = pq.read_table(f, columns=["time", "lat", "lon"])
        # Sampled rows: the first, last and every 97th, their cell and day computed here.
        n = table.num_rows
        for i in sorted({0, n - 1, *range(0, n, 97)}):
            t = table["time"][i].as_py()
            lat, lon = table["lat"][i].as_py(), table["lon"][i].as_py()
            assert m.group(1) == t.astimezone(UTC).date().isoformat()
            assert m.group(2) == h3.latlng_to_cell(lat, lon, 3)
    # DuckDB sees the same partition values (as DATE and VARCHAR) as the paths say.
    _, rows = query(
        archive,
        "SELECT DISTINCT filename, day::VARCHAR, h3 FROM "
        "(SELECT * FROM read_parquet('"
        + (archive / "positions/**/*.parquet").as_posix()
        + "', hive_partitioning = true, filename = true))",
    )
    assert len(rows) == len(files)
    for filename, day, cell in rows:
        assert f"/day={day}/h3={cell}/" in filename


def test_files_are_sorted_by_vessel_and_time_with_mmsi_statistics(tmp_path: Path) -> None:
    pos, _, _ = decoded(BALTIC)
    random.Random(7).shuffle(pos)  # the file is ordered by vessel already: shuffle it
    with ArchiveWriter(tmp_path, rows_per_file=5_000, row_group_rows=500) as w:
        assert w.add_many(pos) == 27_487
    for f in position_files(tmp_path):
        t = pq.read_table(f, columns=["mmsi", "time"]).to_pylist()
        assert [(r["mmsi"], r["time"]) for r in t] == sorted((r["mmsi"], r["time"]) for r in t)
        assert len(t) <= 5_000
    # The row groups of one file cover MMSI ranges in order, each with min/max statistics.
    biggest = max(position_files(tmp_path), key=lambda f: pq.read_metadata(f).num_rows)
    meta = pq.read_metadata(biggest)
    assert meta.num_row_groups > 1
    col = meta.schema.to_arrow_schema().get_field_index("mmsi")
    ranges = []
    for g in range(meta.num_row_groups):
        stats = meta.row_group(g).column(col).statistics
        assert stats is not None
        assert stats.has_min_max
        ranges.append((stats.min, stats.max))
    assert all(a[1] <= b[0] for a, b in itertools.pairwise(ranges))


def test_geoparquet_metadata_follows_the_spec(archive: Path) -> None:
    for f in position_files(archive):
        pf = pq.ParquetFile(f)
        kv = pf.metadata.metadata
        assert b"geo" in kv
        geo = json.loads(kv[b"geo"])
        # Required file-level keys (GeoParquet 1.1.0 "File metadata").
        assert geo["version"] == "1.1.0"
        primary = geo["primary_column"]
        assert primary in geo["columns"]
        assert primary in pf.schema_arrow.names
        column = geo["columns"][primary]
        # Required column keys: encoding and geometry_types.
        assert column["encoding"] == "WKB"
        assert column["geometry_types"] == ["Point"]
        assert str(pf.schema_arrow.field(primary).type) == "binary"
        # crs omitted means OGC:CRS84; if present it must be PROJJSON (an object) or null.
        assert "crs" not in column or column["crs"] is None or isinstance(column["crs"], dict)
        xmin, ymin, xmax, ymax = column["bbox"]
        table = pf.read(columns=["lat", "lon", primary])
        lat = table["lat"].to_numpy()
        lon = table["lon"].to_numpy()
        assert xmin <= lon.min()
        assert lon.max() <= xmax
        assert ymin <= lat.min()
        assert lat.max() <= ymax
        assert (xmin, ymin, xmax, ymax) == (lon.min(), lat.min(), lon.max(), lat.max())
        points = shapely.from_wkb(table[primary].to_numpy(zero_copy_only=False))
        assert set(shapely.get_type_id(points)) == {0}  # Point
        assert (shapely.get_x(points) == lon).all()
        assert (shapely.get_y(points) == lat).all()


def test_track_equals_a_replay_of_the_same_file(archive: Path, tmp_path: Path) -> None:
    db = tmp_path / "replay.db"
    result = runner.invoke(
        app,
        [
            "replay",
            str(BALTIC),
            "--store",
            str(db),
            "--positions",
            "full",
            "--no-detectors",
            "--sort",
            "-q",
        ],
    )
    assert result.exit_code == 0, result.output
    store = SQLiteStore(db)
    try:
        mmsis = [
            m
            for (m,) in query(
                archive,
                "SELECT DISTINCT mmsi FROM positions WHERE source = 'baltic_cargo_20201101.csv'",
            )[1]
        ]
        assert len(mmsis) == 76
        con = connect(archive)
        compared = 0
        for mmsi in mmsis:
            expected = store.track(mmsi, *FAR)
            got = track(archive, mmsi, *FAR, con=con)
            assert got, mmsi
            assert sorted(map(key, got)) == sorted(map(key, expected)), mmsi
            # The whole-glob route (partition and statistics pruning only): the same rows.
            globbed = track(archive, mmsi, *FAR, con=con, use_manifest=False)
            assert [key(r) for r in globbed] == [key(r) for r in got]
            compared += len(got)
        assert compared == 27_487
        # A window: start and end inclusive, in time order.
        mmsi = mmsis[0]
        full = track(archive, mmsi, *FAR, con=con)
        start, end = full[3].time, full[-4].time
        window = track(archive, mmsi, start, end, con=con)
        assert [key(r) for r in window] == [key(r) for r in full if start <= r.time <= end]
        assert track(archive, mmsi, start, end, con=con, use_manifest=False) == window
        # A window of one day, by the manifests: fewer files, the same rows.
        day = datetime(2020, 11, 2, tzinfo=UTC), datetime(2020, 11, 2, 23, 59, tzinfo=UTC)
        assert len(files_for(archive, mmsi, *day)) < len(files_for(archive, mmsi))
        assert track(archive, mmsi, *day, con=con) == track(
            archive, mmsi, *day, con=con, use_manifest=False
        )
        assert [r.time for r in window] == sorted(r.time for r in window)
        con.close()
    finally:
        store.close()


def test_vessels_in_bbox_and_files_for(archive: Path) -> None:
    pos, _, _ = decoded(BALTIC)
    bbox = (10.0, 54.0, 13.0, 58.0)  # Kattegat / Danish straits
    t0, t1 = datetime(2020, 11, 1, 6, tzinfo=UTC), datetime(2020, 11, 1, 18, tzinfo=UTC)
    expected = Counter(
        p.mmsi
        for p in pos
        if bbox[0] <= p.lon <= bbox[2] and bbox[1] <= p.lat <= bbox[3] and t0 <= p.time <= t1
    )
    got = vessels_in_bbox(archive, bbox, t0, t1)
    assert got
    assert dict(got) == dict(expected)
    mmsi = got[0][0]
    _, rows = query(
        archive,
        "SELECT DISTINCT filename FROM read_parquet('"
        + (archive / "positions/**/*.parquet").as_posix()
        + "', filename = true) WHERE mmsi = ?",
        [mmsi],
    )
    assert files_for(archive, mmsi) == sorted(Path(r[0]) for r in rows)
    assert files_for(archive, 1) == []


def test_rearchiving_the_same_input_does_not_duplicate(tmp_path: Path) -> None:
    root = tmp_path / "root"
    small, _ = archive_file(BALTIC, root, rows_per_file=1_000)  # more, smaller files
    before = archived_rows(root)
    assert sum(before.values()) == 27_487
    # Again with the default size: fewer files, and no stale part of the first run left.
    first, _ = archive_file(BALTIC, root)
    assert first.input_id == small.input_id
    assert first.replaced_files == len(small.files) > len(first.files)
    assert archived_rows(root) == before
    names = sorted(p.relative_to(root).as_posix() for p in position_files(root))
    assert names == first.files
    again, _ = archive_file(BALTIC, root)
    assert again.replaced_files == len(first.files)
    assert archived_rows(root) == before
    assert sorted(p.relative_to(root).as_posix() for p in position_files(root)) == names
    # The same bytes under another name are the same input (files named by content digest).
    copy = tmp_path / "renamed.csv"
    shutil.copyfile(BALTIC, copy)
    assert file_digest(copy) == first.input_id
    archive_file(copy, root)
    assert sum(archived_rows(root).values()) == 27_487
    assert not (root / "_staging").exists()
    manifest = json.loads((root / "_manifest" / f"{first.input_id}.json").read_text())
    assert sum(f["rows"] for f in manifest["files"]) == 27_487
    assert [f["path"] for f in manifest["files"]] == names


def test_a_failed_run_leaves_the_archive_as_it_was(tmp_path: Path) -> None:
    pos, _, _ = decoded(BALTIC)
    archive_file(BALTIC, tmp_path)
    before = archived_rows(tmp_path)

    def fail_midway() -> None:
        with ArchiveWriter(tmp_path, input_id=file_digest(BALTIC), rows_per_file=100) as w:
            w.add_many(pos[:5_000])  # staged files, not yet in place
            raise RuntimeError("stop")

    with pytest.raises(RuntimeError, match="stop"):
        fail_midway()
    assert archived_rows(tmp_path) == before
    assert not (tmp_path / "_staging").exists()


def hostile_nmea(path: Path) -> None:
    good = AISDB.read_bytes().splitlines(keepends=True)[:200]
    junk = [
        b"\x00\xff\xfe garbage \x81\x82\r\n",
        b"!AIVDM,1,1,,B,15M67FC000G?ufbE`FepT@3n00Sa,0*FF\r\n",  # wrong checksum
        b"!AIVDM,2,1,3,B,55P5TL01VIaAL@7WKO@mBplU@<PDhh000000001S;AJ::4A80?4i@E53,0*3E\r\n",
        b"!AIVDM,1,1,,A,,0*26\r\n",  # empty payload
        b"!AIVDM,9,9,9,Z,\xc3\x28" + b"x" * 5000 + b",0*00\r\n",  # absurd, long, invalid UTF-8
        b"\\s:2573135,c:notatime*00\\!AIVDM,1,1,,A,13u?etPv2;0n:dDPwUM1U1Cb069D,0*23\r\n",
        b"$GPGGA,\r\n",
        b"\r\n",
    ]
    lines = [good[0], *[j for pair in zip(junk, good[1:], strict=False) for j in pair], *good[9:]]
    path.write_bytes(b"".join(lines) + b"!AIVDM,1,1,,A,13u?etPv2;0n:dDP")  # cut mid-line


def test_hostile_input_is_counted_not_a_crash(tmp_path: Path) -> None:
    bad = tmp_path / "hostile.nm4"
    hostile_nmea(bad)
    pos, _, rej = decoded(bad)
    res, got_rej = archive_file(bad, tmp_path / "root")
    assert got_rej == rej
    assert sum(rej.values()) >= 5
    assert res.positions + res.rejected == len(pos)
    assert res.positions > 0
    # A gzip cut short: what was read is archived, the truncation counted.
    cut = tmp_path / "cut.nm4.gz"
    data = gzip.compress(AISDB.read_bytes())
    cut.write_bytes(data[: len(data) // 2])
    pos2, _, rej2 = decoded(cut)
    res2, got2 = archive_file(cut, tmp_path / "root2")
    assert got2 == rej2
    assert got2["truncated_file"] == 1
    assert res2.positions + res2.rejected == len(pos2) > 0
    # Reports no decoder would make are refused by the writer, by reason.
    t = datetime(2024, 1, 1, tzinfo=UTC)
    with ArchiveWriter(tmp_path / "root3", input_id="w") as w:
        assert not w.add(PositionReport(mmsi=1, time=t, lat=91.0, lon=0.0))
        assert not w.add(PositionReport(mmsi=1, time=t, lat=float("nan"), lon=0.0))
        assert not w.add(PositionReport(mmsi=2**32, time=t, lat=0.0, lon=0.0))
        assert not w.add(PositionReport(mmsi=1, time=t, lat=0.0, lon=0.0, heading_deg=2**20))
        assert w.add(PositionReport(mmsi=1, time=t, lat=0.0, lon=0.0))
    assert w.result.rejections == {"bad_position": 2, "bad_mmsi": 1, "bad_field": 1}
    assert sum(archived_rows(tmp_path / "root3").values()) == 1


def test_cli_archive_and_query(tmp_path: Path) -> None:
    root = tmp_path / "root"
    result = runner.invoke(app, ["archive", str(GPSD), "--out", str(root), "--h3-res", "2"])
    assert result.exit_code == 0, result.output
    pos, _, _ = decoded(GPSD)
    assert sum(archived_rows(root).values()) == len(pos) > 0
    assert all(PART.match(p.relative_to(root).as_posix()) for p in position_files(root))
    assert {h3.get_resolution(p.parent.name[3:]) for p in position_files(root)} == {2}
    result = runner.invoke(app, ["archive-query", str(root), "SELECT count(*) AS n FROM positions"])
    assert result.exit_code == 0, result.output
    assert re.search(rf"│\s*{len(pos)}\s*│", result.output), result.output
    result = runner.invoke(app, ["archive-query", str(root), "SELECT nope FROM positions"])
    assert result.exit_code == 2
    result = runner.invoke(app, ["archive", str(GPSD), "--out", str(root), "--format", "radar"])
    assert result.exit_code != 0


def test_an_empty_archive_answers_with_no_rows(tmp_path: Path) -> None:
    names, rows = query(tmp_path, "SELECT * FROM positions")
    assert rows == []
    assert names[:2] == ["mmsi", "time"]
    assert "geometry" in names
    assert query(tmp_path, "SELECT count(*) FROM statics")[1] == [(0,)]
    assert track(tmp_path, 1, *FAR) == []


reports = st.builds(
    PositionReport,
    mmsi=st.integers(0, 2**32 - 1),
    time=st.datetimes(
        min_value=datetime(1980, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
    ),
    lat=st.floats(-90, 90, allow_nan=False),
    lon=st.floats(-180, 180, allow_nan=False),
    speed_kn=st.none() | st.floats(allow_nan=False, allow_infinity=False),
    course_deg=st.none() | st.floats(0, 360, allow_nan=False),
    heading_deg=st.none() | st.integers(0, 511),
    nav_status=st.none() | st.integers(0, 15),
    msg_type=st.sampled_from([0, 1, 2, 3, 18, 19, 27]),
    source=st.text(st.characters(exclude_categories=["Cs"]), max_size=12),
)


@given(batch=st.lists(reports, max_size=40), rows_per_file=st.integers(1, 50))
def test_any_valid_reports_round_trip(batch: list[PositionReport], rows_per_file: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        with ArchiveWriter(root, rows_per_file=rows_per_file) as w:
            assert w.add_many(batch) == len(batch)
        assert archived_rows(root) == Counter(key(r) for r in batch)
        if batch:
            r = batch[0]
            for use_manifest in (True, False):
                got = track(root, r.mmsi, r.time, r.time, use_manifest=use_manifest)
                assert key(r) in {key(x) for x in got}
