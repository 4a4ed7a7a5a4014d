"""Write position (and static) reports to a Hive-partitioned GeoParquet archive.

Layout under ``root``::

    positions/day=YYYY-MM-DD/h3=<cell>/part-<input_id>-<seq>.parquet   (GeoParquet 1.1.0)
    statics/day=YYYY-MM-DD/part-<input_id>-<seq>.parquet                (plain Parquet)
    _manifest/<input_id>.json                                           (what one input wrote)

``day`` is the UTC date of the report, ``h3`` the H3 cell (resolution ``h3_res``, 3 by
default: ~12,400 km² cells) of its position. Within a file rows are sorted by
``(mmsi, time)`` and written in row groups of ``row_group_rows`` with min/max statistics,
so a reader looking for one vessel skips most of each file; the manifest lists, per file,
its row count, time range, bbox and the MMSIs in it, so a backfill can pick one vessel's
files without opening any footer.

Idempotence: every file an input writes is named by the input's id (``input_id``, by
default a BLAKE2b digest of the reports themselves; the CLI passes a digest of the input
file's bytes). Files are written to ``_staging/`` first; :meth:`ArchiveWriter.close`
deletes every file an earlier run wrote under the same id and moves the new ones into
place, so archiving the same input twice leaves the rows of one run, never both.

The ``geo`` file metadata follows GeoParquet 1.1.0 (https://geoparquet.org/releases/v1.1.0/):
``version``, ``primary_column`` and, for the column, ``encoding`` (``WKB``, ISO WKB points,
little-endian) and ``geometry_types`` (``["Point"]``), plus the optional per-file ``bbox``.
``crs`` is omitted, which the specification defines as OGC:CRS84 (longitude, latitude, WGS 84).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import shutil
import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import h3
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from seawarden.model import PositionReport, StaticReport

GEOPARQUET_VERSION = "1.1.0"
POSITIONS = "positions"
STATICS = "statics"
MANIFEST = "_manifest"
STAGING = "_staging"

POSITION_SCHEMA = pa.schema(
    [
        pa.field("mmsi", pa.uint32(), nullable=False),
        pa.field("time", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("lat", pa.float64(), nullable=False),
        pa.field("lon", pa.float64(), nullable=False),
        pa.field("speed_kn", pa.float64()),
        pa.field("course_deg", pa.float64()),
        pa.field("heading_deg", pa.int16()),
        pa.field("nav_status", pa.int16()),
        pa.field("msg_type", pa.int16(), nullable=False),
        pa.field("source", pa.string(), nullable=False),
        pa.field("geometry", pa.binary(), nullable=False),
    ]
)
STATIC_SCHEMA = pa.schema(
    [
        pa.field("mmsi", pa.uint32(), nullable=False),
        pa.field("time", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("imo", pa.int64()),
        pa.field("callsign", pa.string()),
        pa.field("name", pa.string()),
        pa.field("ship_type", pa.int16()),
        pa.field("length_m", pa.float64()),
        pa.field("beam_m", pa.float64()),
        pa.field("draught_m", pa.float64()),
        pa.field("destination", pa.string()),
        pa.field("msg_type", pa.int16(), nullable=False),
        pa.field("source", pa.string(), nullable=False),
    ]
)
_POS_COLS = [f.name for f in POSITION_SCHEMA if f.name != "geometry"]
_STATIC_COLS = [f.name for f in STATIC_SCHEMA]
_INT16 = (-(2**15), 2**15 - 1)
# ISO WKB of a 2D point: byte order (1 = little-endian), geometry type (1 = Point), x, y.
_WKB_POINT = np.dtype([("order", "u1"), ("kind", "<u4"), ("x", "<f8"), ("y", "<f8")])


@dataclass
class ArchiveResult:
    """What one writer wrote: rows per dataset, the files (relative to the root), the
    reports it refused by reason, and the id its files are named by."""

    input_id: str
    positions: int = 0
    statics: int = 0
    files: list[str] = field(default_factory=list)
    rejections: Counter[str] = field(default_factory=Counter)
    replaced_files: int = 0  # files of an earlier run under the same id, deleted

    @property
    def rejected(self) -> int:
        return sum(self.rejections.values())


def _utc(t: datetime) -> datetime:
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


def _small(v: int | None) -> bool:
    return v is None or _INT16[0] <= v <= _INT16[1]


def point_wkb(lon: np.ndarray[Any, Any], lat: np.ndarray[Any, Any]) -> pa.Array:
    """ISO WKB points (21 bytes each, little-endian) for the coordinate arrays, as one
    Arrow binary array built from a single buffer (no per-row Python objects)."""
    n = len(lon)
    buf = np.empty(n, dtype=_WKB_POINT)
    buf["order"], buf["kind"], buf["x"], buf["y"] = 1, 1, lon, lat
    offsets = np.arange(0, _WKB_POINT.itemsize * (n + 1), _WKB_POINT.itemsize, dtype=np.int32)
    return pa.Array.from_buffers(
        pa.binary(), n, [None, pa.py_buffer(offsets), pa.py_buffer(buf.tobytes())]
    )


def geo_metadata(bbox: tuple[float, float, float, float] | None) -> dict[str, Any]:
    """The GeoParquet 1.1.0 ``geo`` metadata of a positions file (bbox = its points')."""
    column: dict[str, Any] = {"encoding": "WKB", "geometry_types": ["Point"]}
    if bbox is not None:
        column["bbox"] = list(bbox)
    return {
        "version": GEOPARQUET_VERSION,
        "primary_column": "geometry",
        "columns": {"geometry": column},
    }


class _Buffer:
    """Column lists of the rows waiting for one partition."""

    __slots__ = ("cols", "rows", "seq")

    def __init__(self, names: list[str]) -> None:
        self.cols: dict[str, list[Any]] = {n: [] for n in names}
        self.rows = 0
        self.seq = 0  # files this partition has written in this run

    def clear(self) -> None:
        for v in self.cols.values():
            v.clear()
        self.rows = 0


class ArchiveWriter:
    """Buffer reports per partition and write them as sorted Parquet files.

    Use as a context manager (or call :meth:`close`); leaving the block by an exception
    discards what was staged and keeps the archive as it was. ``rows_per_file`` caps a
    file; ``buffer_rows`` caps the rows held in memory over all partitions (when reached,
    every partition is written out, so one partition may get several files per input).
    """

    def __init__(
        self,
        root: Path,
        *,
        h3_res: int = 3,
        rows_per_file: int = 1_000_000,
        row_group_rows: int = 32_768,
        buffer_rows: int = 1_000_000,
        input_id: str | None = None,
        compression: str = "zstd",
    ) -> None:
        if not 0 <= h3_res <= 15:
            raise ValueError(f"h3_res must be 0..15, not {h3_res}")
        if rows_per_file < 1 or row_group_rows < 1 or buffer_rows < 1:
            raise ValueError("rows_per_file, row_group_rows and buffer_rows must be positive")
        if input_id is not None and not input_id.replace("-", "").replace("_", "").isalnum():
            raise ValueError(f"input_id must be letters, digits, '-' or '_': {input_id!r}")
        self.root = Path(root)
        self.h3_res = h3_res
        self.rows_per_file = rows_per_file
        self.row_group_rows = row_group_rows
        self.buffer_rows = buffer_rows
        self.compression = compression
        self._input_id = input_id
        self._digest = hashlib.blake2b(digest_size=8) if input_id is None else None
        self._staging = self.root / STAGING / uuid.uuid4().hex
        self._positions: dict[tuple[str, str], _Buffer] = {}
        self._statics: dict[str, _Buffer] = {}
        self._buffered = 0
        self._staged: list[tuple[Path, str, dict[str, Any]]] = []  # (temp, final rel, info)
        self._cells: dict[tuple[float, float], str] = {}
        self.result = ArchiveResult(input_id=input_id or "")
        self._closed = False

    # -- input ---------------------------------------------------------------------------------
    def add(self, report: PositionReport | StaticReport) -> bool:
        """Buffer one report; False (and a counted rejection) if it cannot be archived."""
        if self._closed:
            raise RuntimeError("ArchiveWriter is closed")
        if not 0 <= report.mmsi <= 0xFFFFFFFF:
            self.result.rejections["bad_mmsi"] += 1
            return False
        t = _utc(report.time)
        if isinstance(report, PositionReport):
            ok = self._add_position(report, t)
        else:
            ok = self._add_static(report, t)
        if ok and self._buffered >= self.buffer_rows:
            self._flush_all()
        return ok

    def add_many(self, reports: Iterable[PositionReport | StaticReport]) -> int:
        """Buffer a batch; returns how many were accepted."""
        return sum(1 for r in reports if self.add(r))

    def _add_position(self, r: PositionReport, t: datetime) -> bool:
        lat, lon = r.lat, r.lon
        if not (
            math.isfinite(lat) and math.isfinite(lon) and -90 <= lat <= 90 and -180 <= lon <= 180
        ):
            self.result.rejections["bad_position"] += 1
            return False
        if not (_small(r.heading_deg) and _small(r.nav_status) and _small(r.msg_type)):
            self.result.rejections["bad_field"] += 1
            return False
        cell = self._cells.get((lat, lon))
        if cell is None:
            cell = h3.latlng_to_cell(lat, lon, self.h3_res)
            if len(self._cells) < 1_000_000:
                self._cells[(lat, lon)] = cell
        key = (t.date().isoformat(), cell)
        buf = self._positions.get(key)
        if buf is None:
            buf = self._positions[key] = _Buffer(_POS_COLS)
        row = (
            r.mmsi,
            t,
            lat,
            lon,
            r.speed_kn,
            r.course_deg,
            r.heading_deg,
            r.nav_status,
            r.msg_type,
            r.source,
        )
        for name, v in zip(_POS_COLS, row, strict=True):
            buf.cols[name].append(v)
        if self._digest is not None:
            self._digest.update(repr(row).encode())
        buf.rows += 1
        self._buffered += 1
        self.result.positions += 1
        if buf.rows >= self.rows_per_file:
            self._flush_position(key, buf)
        return True

    def _add_static(self, r: StaticReport, t: datetime) -> bool:
        if not (_small(r.ship_type) and _small(r.msg_type)):
            self.result.rejections["bad_field"] += 1
            return False
        if r.imo is not None and not -(2**63) <= r.imo < 2**63:
            self.result.rejections["bad_field"] += 1
            return False
        day = t.date().isoformat()
        buf = self._statics.get(day)
        if buf is None:
            buf = self._statics[day] = _Buffer(_STATIC_COLS)
        row = (
            r.mmsi,
            t,
            r.imo,
            r.callsign,
            r.name,
            r.ship_type,
            r.length_m,
            r.beam_m,
            r.draught_m,
            r.destination,
            r.msg_type,
            r.source,
        )
        for name, v in zip(_STATIC_COLS, row, strict=True):
            buf.cols[name].append(v)
        if self._digest is not None:
            self._digest.update(b"S" + repr(row).encode())
        buf.rows += 1
        self._buffered += 1
        self.result.statics += 1
        if buf.rows >= self.rows_per_file:
            self._flush_static(day, buf)
        return True

    # -- writing -------------------------------------------------------------------------------
    def _flush_all(self) -> None:
        for key, buf in self._positions.items():
            if buf.rows:
                self._flush_position(key, buf)
        for day, sbuf in self._statics.items():
            if sbuf.rows:
                self._flush_static(day, sbuf)

    def _flush_position(self, key: tuple[str, str], buf: _Buffer) -> None:
        day, cell = key
        arrays = [
            pa.array(buf.cols[f.name], type=f.type) for f in POSITION_SCHEMA if f.name != "geometry"
        ]
        lon = np.asarray(buf.cols["lon"], dtype=np.float64)
        lat = np.asarray(buf.cols["lat"], dtype=np.float64)
        table = pa.Table.from_arrays([*arrays, point_wkb(lon, lat)], schema=POSITION_SCHEMA)
        table = table.sort_by([("mmsi", "ascending"), ("time", "ascending")])
        bbox = (float(lon.min()), float(lat.min()), float(lon.max()), float(lat.max()))
        meta = {b"geo": json.dumps(geo_metadata(bbox), separators=(",", ":")).encode()}
        table = table.replace_schema_metadata(meta)
        rel = f"{POSITIONS}/day={day}/h3={cell}"
        self._write(table, rel, buf, bbox=list(bbox))

    def _flush_static(self, day: str, buf: _Buffer) -> None:
        arrays = [pa.array(buf.cols[f.name], type=f.type) for f in STATIC_SCHEMA]
        table = pa.Table.from_arrays(arrays, schema=STATIC_SCHEMA)
        table = table.sort_by([("mmsi", "ascending"), ("time", "ascending")])
        self._write(table, f"{STATICS}/day={day}", buf, bbox=None)

    def _write(
        self, table: pa.Table, rel_dir: str, buf: _Buffer, *, bbox: list[float] | None
    ) -> None:
        seq = buf.seq
        buf.seq += 1
        tmp = self._staging / f"{len(self._staged):06d}.parquet.tmp"
        tmp.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(
            table,
            tmp,
            row_group_size=self.row_group_rows,
            compression=self.compression,
            use_dictionary=["source", "callsign", "name", "destination"],
            write_statistics=["mmsi", "time", "lat", "lon", "imo"],
        )
        mmsi = table.column("mmsi")
        times = table.column("time")
        info: dict[str, Any] = {
            "rows": table.num_rows,
            "mmsi": sorted({int(m) for m in mmsi.unique().to_pylist()}),
            "time_min": None,
            "time_max": None,
            "bbox": bbox,
        }
        if table.num_rows:
            tt = times.to_numpy()
            info["time_min"] = str(np.datetime_as_string(tt.min(), unit="us")) + "Z"
            info["time_max"] = str(np.datetime_as_string(tt.max(), unit="us")) + "Z"
        self._staged.append((tmp, f"{rel_dir}/part-{{id}}-{seq:04d}.parquet", info))
        self._buffered -= buf.rows
        buf.clear()

    # -- finishing -----------------------------------------------------------------------------
    @property
    def input_id(self) -> str:
        """The id this writer's files are named by (known for certain after close)."""
        if self._input_id is not None:
            return self._input_id
        assert self._digest is not None
        return self._digest.hexdigest()

    def close(self) -> ArchiveResult:
        """Write what is buffered, replace an earlier run's files of the same input, and
        record the manifest. Returns what was written."""
        if self._closed:
            return self.result
        self._flush_all()
        self._closed = True
        input_id = self.result.input_id = self.input_id
        old = self._files_of(input_id)
        files: list[dict[str, Any]] = []
        for _tmp, pattern, info in self._staged:
            files.append({"path": pattern.format(id=input_id), **info})
        new_paths = {f["path"] for f in files}
        # The manifest first: at every moment it lists (at least) the files of this input
        # that are in place, so a reader going by manifests never misses one.
        manifest = self.root / MANIFEST / f"{input_id}.json"
        manifest.parent.mkdir(parents=True, exist_ok=True)
        doc = {
            "input_id": input_id,
            "h3_res": self.h3_res,
            "positions": self.result.positions,
            "statics": self.result.statics,
            "rejections": dict(sorted(self.result.rejections.items())),
            "files": sorted(files, key=lambda f: str(f["path"])),
        }
        tmp_manifest = manifest.with_suffix(".json.tmp")
        tmp_manifest.write_text(json.dumps(doc, indent=1) + "\n")
        os.replace(tmp_manifest, manifest)
        self.result.replaced_files = len(old)
        for path in old:  # an earlier run's files; those of the same name are overwritten
            if path.relative_to(self.root).as_posix() not in new_paths:
                path.unlink()
        for (tmp, _, _), f in zip(self._staged, files, strict=True):
            dest = self.root / f["path"]
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, dest)
        self.result.files = sorted(new_paths)
        self._cleanup()
        return self.result

    def abort(self) -> None:
        """Discard everything staged; the archive stays as it was."""
        self._closed = True
        self._cleanup()

    def _files_of(self, input_id: str) -> list[Path]:
        name = f"part-{input_id}-*.parquet"
        return [
            *self.root.glob(f"{POSITIONS}/day=*/h3=*/{name}"),
            *self.root.glob(f"{STATICS}/day=*/{name}"),
        ]

    def _cleanup(self) -> None:
        shutil.rmtree(self._staging, ignore_errors=True)
        with contextlib.suppress(OSError):
            (self.root / STAGING).rmdir()  # only if no other writer is staging

    def __enter__(self) -> ArchiveWriter:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()
