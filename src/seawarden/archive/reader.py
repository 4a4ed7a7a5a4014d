"""Query the history archive with DuckDB.

:func:`connect` opens an in-memory DuckDB connection with two views over the archive,
``positions`` (GeoParquet, partition columns ``day`` DATE and ``h3`` VARCHAR from the
paths) and ``statics`` (partition column ``day``); an archive without files of a kind
gets an empty view of the same columns, so queries never fail for want of data. The
session time zone is UTC, so ``time`` compares and prints in UTC.

:func:`track` and :func:`vessels_in_bbox` add the partition predicates (``day``) that let
DuckDB skip whole directories, and the ``mmsi``/``lat``/``lon`` predicates that its
row-group statistics skip inside files. :func:`files_for` reads the manifests instead
(no Parquet footer opened): the files holding one vessel, for a backfill.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb

from seawarden.archive.writer import MANIFEST, POSITIONS, STATICS
from seawarden.model import PositionReport

EPOCH_US = datetime(1970, 1, 1, tzinfo=UTC)
_EMPTY_POSITIONS = (
    "SELECT NULL::UINTEGER AS mmsi, NULL::TIMESTAMPTZ AS time, NULL::DOUBLE AS lat, "
    "NULL::DOUBLE AS lon, NULL::DOUBLE AS speed_kn, NULL::DOUBLE AS course_deg, "
    "NULL::SMALLINT AS heading_deg, NULL::SMALLINT AS nav_status, NULL::SMALLINT AS msg_type, "
    "NULL::VARCHAR AS source, NULL::BLOB AS geometry, NULL::DATE AS day, NULL::VARCHAR AS h3 "
    "WHERE false"
)
_EMPTY_STATICS = (
    "SELECT NULL::UINTEGER AS mmsi, NULL::TIMESTAMPTZ AS time, NULL::BIGINT AS imo, "
    "NULL::VARCHAR AS callsign, NULL::VARCHAR AS name, NULL::SMALLINT AS ship_type, "
    "NULL::DOUBLE AS length_m, NULL::DOUBLE AS beam_m, NULL::DOUBLE AS draught_m, "
    "NULL::VARCHAR AS destination, NULL::SMALLINT AS msg_type, NULL::VARCHAR AS source, "
    "NULL::DATE AS day WHERE false"
)


def _quote(path: Path) -> str:
    return "'" + path.as_posix().replace("'", "''") + "'"


def positions_source(root: Path) -> str:
    """The ``read_parquet(...)`` table expression of the archive's positions."""
    glob = Path(root) / POSITIONS / "**" / "*.parquet"
    return (
        f"read_parquet({_quote(glob)}, hive_partitioning = true, "
        "hive_types = {'day': DATE, 'h3': VARCHAR})"
    )


def statics_source(root: Path) -> str:
    glob = Path(root) / STATICS / "**" / "*.parquet"
    return f"read_parquet({_quote(glob)}, hive_partitioning = true, hive_types = {{'day': DATE}})"


def connect(root: Path, *, threads: int | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection with the views ``positions`` and ``statics``."""
    root = Path(root)
    con = duckdb.connect(":memory:")
    con.execute("SET TimeZone = 'UTC'")
    if threads is not None:
        con.execute(f"SET threads = {int(threads)}")
    has_pos = next((root / POSITIONS).glob("day=*/h3=*/*.parquet"), None) is not None
    has_static = next((root / STATICS).glob("day=*/*.parquet"), None) is not None
    pos = f"SELECT * FROM {positions_source(root)}" if has_pos else _EMPTY_POSITIONS
    sta = f"SELECT * FROM {statics_source(root)}" if has_static else _EMPTY_STATICS
    con.execute(f"CREATE VIEW positions AS {pos}")
    con.execute(f"CREATE VIEW statics AS {sta}")
    return con


def query(
    root: Path, sql: str, params: Sequence[Any] | None = None
) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Run ``sql`` against the archive's views; returns (column names, rows)."""
    con = connect(root)
    try:
        cur = con.execute(sql, list(params) if params is not None else None)
        names = [d[0] for d in cur.description or []]
        return names, [tuple(r) for r in cur.fetchall()]
    finally:
        con.close()


def _us(t: datetime) -> int:
    t = t.replace(tzinfo=UTC) if t.tzinfo is None else t
    return (t - EPOCH_US) // timedelta(microseconds=1)


def _days(start: datetime, end: datetime) -> tuple[str, str]:
    s = start.replace(tzinfo=UTC) if start.tzinfo is None else start.astimezone(UTC)
    e = end.replace(tzinfo=UTC) if end.tzinfo is None else end.astimezone(UTC)
    return s.date().isoformat(), e.date().isoformat()


_TIME_RANGE = "time >= make_timestamptz(?::BIGINT) AND time <= make_timestamptz(?::BIGINT)"


def track(
    root: Path,
    mmsi: int,
    start: datetime,
    end: datetime,
    *,
    con: duckdb.DuckDBPyConnection | None = None,
    use_manifest: bool = True,
) -> list[PositionReport]:
    """One vessel's positions with ``start <= time <= end``, in time order (like a
    store's ``track``), as :class:`PositionReport` (``line_no`` is not archived: 0).

    With ``use_manifest`` (and manifests present) DuckDB reads only the files the
    manifests list for this vessel and time range; otherwise the whole ``positions`` view,
    pruned by ``day`` partition and row-group statistics. Both give the same rows for an
    archive written by :class:`~seawarden.archive.writer.ArchiveWriter`; files copied in by
    hand, without a manifest, are seen by the second only.
    """
    own = con is None
    c = connect(root) if con is None else con
    d0, d1 = _days(start, end)
    cols = (
        "SELECT mmsi, epoch_us(time), lat, lon, speed_kn, course_deg, heading_deg, "
        "nav_status, msg_type, source FROM "
    )
    order = " ORDER BY time, lat, lon"
    try:
        if use_manifest and (Path(root) / MANIFEST).is_dir():
            paths = [p.as_posix() for p in files_for(root, mmsi, start, end)]
            if not paths:
                return []
            sql = f"{cols}read_parquet(?) WHERE mmsi = ? AND {_TIME_RANGE}{order}"
            rows = c.execute(sql, [paths, mmsi, _us(start), _us(end)]).fetchall()
        else:
            sql = (
                f"{cols}positions WHERE mmsi = ? AND day BETWEEN ?::DATE AND ?::DATE "
                f"AND {_TIME_RANGE}{order}"
            )
            rows = c.execute(sql, [mmsi, d0, d1, _us(start), _us(end)]).fetchall()
    finally:
        if own:
            c.close()
    return [
        PositionReport(
            mmsi=int(r[0]),
            time=EPOCH_US + timedelta(microseconds=int(r[1])),
            lat=r[2],
            lon=r[3],
            speed_kn=r[4],
            course_deg=r[5],
            heading_deg=r[6],
            nav_status=r[7],
            msg_type=int(r[8]),
            source=r[9],
        )
        for r in rows
    ]


def vessels_in_bbox(
    root: Path,
    bbox: tuple[float, float, float, float],
    start: datetime,
    end: datetime,
    *,
    con: duckdb.DuckDBPyConnection | None = None,
) -> list[tuple[int, int]]:
    """``(mmsi, positions)`` of every vessel seen inside ``bbox`` = (min lon, min lat,
    max lon, max lat), edges included, with ``start <= time <= end``; by MMSI."""
    lon0, lat0, lon1, lat1 = bbox
    own = con is None
    c = connect(root) if con is None else con
    d0, d1 = _days(start, end)
    try:
        rows = c.execute(
            "SELECT mmsi, count(*) FROM positions "
            "WHERE day BETWEEN ?::DATE AND ?::DATE AND lon BETWEEN ? AND ? "
            f"AND lat BETWEEN ? AND ? AND {_TIME_RANGE} GROUP BY mmsi ORDER BY mmsi",
            [d0, d1, lon0, lon1, lat0, lat1, _us(start), _us(end)],
        ).fetchall()
    finally:
        if own:
            c.close()
    return [(int(m), int(n)) for m, n in rows]


def files_for(
    root: Path, mmsi: int, start: datetime | None = None, end: datetime | None = None
) -> list[Path]:
    """The position files that hold ``mmsi`` (with rows in ``start``..``end`` if given),
    from the manifests alone, no Parquet footer opened; files missing on disk are left
    out. Sorted. What a per-vessel backfill hands its reader instead of the whole glob."""
    root = Path(root)
    lo = None if start is None else _iso_us(start)
    hi = None if end is None else _iso_us(end)
    out: list[Path] = []
    for manifest in sorted((root / MANIFEST).glob("*.json")):
        try:
            doc = json.loads(manifest.read_text())
        except (OSError, ValueError):
            continue  # being replaced, or not ours
        for f in doc.get("files", []):
            path = str(f["path"])
            if not path.startswith(POSITIONS + "/") or mmsi not in f.get("mmsi", ()):
                continue
            # ISO 8601 UTC strings of one width compare as times do.
            if (hi is not None and f.get("time_min") and f["time_min"] > hi) or (
                lo is not None and f.get("time_max") and f["time_max"] < lo
            ):
                continue
            if (root / path).is_file():
                out.append(root / path)
    return sorted(out)


def _iso_us(t: datetime) -> str:
    """``t`` as the manifests write times: ``YYYY-MM-DDTHH:MM:SS.ffffffZ``."""
    u = t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)
    return u.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
