"""History archive figures: write rate, bytes per row, DuckDB query times, on >= 1M rows.

Usage: ``python bench/archive.py [--rows 1000000] [--h3-res 3] [--keep DIR]``

The rows are real: the Baltic DMA tracks (27,487 positions, 1-2 Nov 2020) and the Solent
track (18,623 positions, 12 Jan 2016) decoded once, then replicated with their times
shifted by whole multiples of 3 days per copy until ``--rows`` is reached, so every copy
lands in partitions (days) of its own, like weeks of the same traffic. Positions, cells and
vessels are the real ones; only the times are shifted.

- ``archive_rows_per_s``: ``ArchiveWriter.add_many`` + ``close`` (partitioning, H3, sorting,
  WKB, zstd Parquet, manifest), decoding excluded (``decode_rows_per_s`` is that).
- ``archive_bytes_per_row``: bytes of all position files over rows.
- ``duckdb_track_query_ms``: median ``track()`` of one vessel over the whole archive time
  range, on an open connection (the 20 busiest vessels), by the manifests (the default);
  ``..._glob_ms`` the same over the whole ``positions`` glob (``use_manifest=False``);
  ``..._day_ms`` by the manifests for one day; ``..._files_for_ms`` a count over the
  manifest's files (no ``PositionReport`` built: the backfill's read);
  ``duckdb_bbox_query_ms`` one ``vessels_in_bbox`` over a day.

Ends with ``name=value`` lines. Figures, not assertions: never run in tests.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from seawarden.archive.reader import connect, files_for, track, vessels_in_bbox  # noqa: E402
from seawarden.archive.writer import ArchiveWriter  # noqa: E402
from seawarden.ingest.files import open_source  # noqa: E402
from seawarden.model import PositionReport  # noqa: E402

DATA = Path(os.environ.get("SEAWARDEN_SHARED_DATA", REPO.parent / "shared" / "data"))
INPUTS = [
    DATA / "tracks/baltic-cargo-2020/baltic_cargo_20201101.csv",
    DATA / "tracks/solent/SolentAIS_20160112_130211.csv",
]
FAR = (datetime(1900, 1, 1, tzinfo=UTC), datetime(2200, 1, 1, tzinfo=UTC))


def real_positions() -> tuple[list[PositionReport], float]:
    t = time.perf_counter()
    out = [
        item for path in INPUTS for _, item in open_source(path) if isinstance(item, PositionReport)
    ]
    return out, time.perf_counter() - t


def replicate(base: list[PositionReport], rows: int) -> list[PositionReport]:
    out: list[PositionReport] = []
    copy = 0
    while len(out) < rows:
        shift = timedelta(days=3 * copy)
        out.extend(dataclasses.replace(r, time=r.time + shift) for r in base)
        copy += 1
    return out[:rows]


def median_ms(fn: object, runs: int) -> float:
    assert callable(fn)
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1e3)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--h3-res", type=int, default=3)
    ap.add_argument("--keep", type=Path, help="write the archive here and keep it")
    args = ap.parse_args()

    base, decode_s = real_positions()
    rows = replicate(base, args.rows)
    root = args.keep or Path(tempfile.mkdtemp(prefix="seawarden-archive-bench-"))
    try:
        t = time.perf_counter()
        with ArchiveWriter(root, h3_res=args.h3_res, input_id="bench") as w:
            w.add_many(rows)
        write_s = time.perf_counter() - t
        files = sorted((root / "positions").rglob("*.parquet"))
        size = sum(f.stat().st_size for f in files)

        con = connect(root)
        n = con.execute("SELECT count(*) FROM positions").fetchone()
        if n is None or n[0] != len(rows):
            raise SystemExit(f"archive holds {n} rows, not {len(rows)}")
        mmsis = [
            int(m)
            for (m,) in con.execute(
                "SELECT mmsi FROM positions GROUP BY mmsi ORDER BY count(*) DESC, mmsi LIMIT 20"
            ).fetchall()
        ]
        track(root, mmsis[0], *FAR, con=con)  # warm the file listing and footers once
        whole = statistics.median(
            median_ms(lambda m=m: track(root, m, *FAR, con=con), 3) for m in mmsis
        )
        globbed = statistics.median(
            median_ms(lambda m=m: track(root, m, *FAR, con=con, use_manifest=False), 3)
            for m in mmsis
        )
        got = len(track(root, mmsis[0], *FAR, con=con))
        day0 = datetime(2020, 11, 1, tzinfo=UTC)
        one_day = statistics.median(
            median_ms(lambda m=m: track(root, m, day0, day0 + timedelta(days=1), con=con), 3)
            for m in mmsis
        )

        def via_manifest(m: int) -> int:
            paths = [p.as_posix() for p in files_for(root, m)]
            r = con.execute(
                "SELECT count(*) FROM read_parquet(?) WHERE mmsi = ?", [paths, m]
            ).fetchone()
            return int(r[0]) if r else 0

        assert via_manifest(mmsis[0]) == got
        manifest_ms = statistics.median(median_ms(lambda m=m: via_manifest(m), 3) for m in mmsis)
        bbox_ms = median_ms(
            lambda: vessels_in_bbox(
                root, (10.0, 54.0, 13.0, 58.0), day0, day0 + timedelta(days=1), con=con
            ),
            5,
        )
        con.close()
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)

    print(
        f"# {len(rows):,} rows ({len(base):,} real positions x {len(rows) / len(base):.1f}), "
        f"{len(files):,} files, {size / 1e6:.1f} MB, h3 res {args.h3_res}; "
        f"track of the busiest vessels: {got:,} rows"
    )
    print(f"decode_rows_per_s={len(base) / decode_s:.0f}")
    print(f"archive_rows_per_s={len(rows) / write_s:.0f}")
    print(f"archive_bytes_per_row={size / len(rows):.1f}")
    print(f"archive_files={len(files)}")
    print(f"duckdb_track_query_ms={whole:.1f}")
    print(f"duckdb_track_query_glob_ms={globbed:.1f}")
    print(f"duckdb_track_query_day_ms={one_day:.1f}")
    print(f"duckdb_track_query_files_for_ms={manifest_ms:.1f}")
    print(f"duckdb_bbox_query_ms={bbox_ms:.1f}")


if __name__ == "__main__":
    main()
