"""Learning the normalcy model from a history archive, locally or on Dask.

Map: each task reads the columns the fit needs (positions: mmsi, time, lat, lon, speed,
course; statics: the last ship type per vessel) for one MMSI partition of the archive,
filtered inside DuckDB so a task only materialises its own vessels. Reduce: the parts are
concatenated in partition order and the unchanged :func:`fit_columns` runs once.

Why the result is identical to the local engine: the fit orders reports by a *stable*
sort on (mmsi, time), so only the relative order of one vessel's reports matters, and
every vessel lives in exactly one partition, read in the same (mmsi, time, content) order
the local engine reads the whole archive in. Ship types are per vessel, so a union of the
parts' maps is the whole map.

Why not partial histograms: the per-vessel counts add up across MMSI partitions, but the
calibration knee is a quantile over every training report under the *merged* tables (a
second round trip), the report-interval and dwell statistics are medians, and the time
sums would be added in another order — not bit-identical. Reading is what parallelises;
the fit itself is vectorised numpy (see ``normalcy_fit``) and runs on the client.
"""

from __future__ import annotations

import time as _time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from seawarden.backfill.source import archive_errors, check_archive, is_archive
from seawarden.errors import ConfigError
from seawarden.pipeline.partition import _GOLDEN, PartitionSpec
from seawarden.risk.normalcy import NormalcyModel, NormalcyParams
from seawarden.risk.normalcy_fit import LearnStats, RecordColumns, fit_and_save, read_records

if TYPE_CHECKING:
    import duckdb
    from distributed import Client

__all__ = ["ColumnsPart", "learn_any", "partition_sql", "read_archive_part"]


@dataclass(slots=True)
class ColumnsPart(RecordColumns):
    """One partition's share of the fit's input (plain lists: they pickle cheaply) and how
    long the task took to read it."""

    elapsed_s: float = 0.0


def partition_sql(spec: PartitionSpec) -> str:
    """A DuckDB predicate on ``mmsi`` true exactly when ``spec.owns(mmsi)`` (the same
    multiplicative hash as :func:`~seawarden.pipeline.partition.partition_of`; the product
    of a 32-bit MMSI and the 32-bit constant fits UBIGINT)."""
    mine = ", ".join(str(p) for p in sorted(spec.mine))
    return f"(((mmsi::UBIGINT * {_GOLDEN}) & 4294967295) % {spec.count}) IN ({mine})"


def read_archive_part(archive: str, spec: str | None = None) -> ColumnsPart:
    """The fit's columns for partition ``spec`` (all vessels if None) of ``archive``, in
    (mmsi, time, content) order. A module-level function of plain arguments: a Dask task."""
    from seawarden.archive.reader import connect

    started = _time.perf_counter()
    where = "true" if spec is None else partition_sql(PartitionSpec.parse(spec))
    root = check_archive(Path(archive))
    with archive_errors(root):
        return _read_part(connect(root), where, started)


def _read_part(con: duckdb.DuckDBPyConnection, where: str, started: float) -> ColumnsPart:
    part = ColumnsPart()
    try:
        cur = con.execute(
            "SELECT mmsi, epoch_us(time), lat, lon, speed_kn, course_deg FROM positions "
            f"WHERE {where} ORDER BY mmsi, time, lat, lon, speed_kn, course_deg"
        )
        nan = float("nan")
        while rows := cur.fetchmany(100_000):
            for m, us, lat, lon, sog, cog in rows:
                part.mmsi.append(int(m))
                part.t.append(us / 1e6)
                part.lat.append(lat)
                part.lon.append(lon)
                part.sog.append(nan if sog is None else sog)
                part.cog.append(nan if cog is None else cog)
        # RecordColumns keeps the last non-zero type heard per vessel: the same, in time order
        cur = con.execute(
            f"SELECT mmsi, ship_type FROM statics WHERE {where} "
            "ORDER BY mmsi, time, ship_type NULLS FIRST"
        )
        while rows := cur.fetchmany(100_000):
            for m, st in rows:
                part.statics += 1
                if st:
                    part.ship_types[int(m)] = int(st)
    finally:
        con.close()
    part.elapsed_s = _time.perf_counter() - started
    return part


def _extend(cols: RecordColumns, part: ColumnsPart) -> None:
    cols.mmsi.extend(part.mmsi)
    cols.t.extend(part.t)
    cols.lat.extend(part.lat)
    cols.lon.extend(part.lon)
    cols.sog.extend(part.sog)
    cols.cog.extend(part.cog)
    cols.ship_types.update(part.ship_types)
    cols.statics += part.statics


def _dask_parts(client: Client, archive: str, partitions: int) -> list[ColumnsPart]:
    import uuid

    run = uuid.uuid4().hex[:8]
    specs = [str(PartitionSpec(frozenset([p]), partitions)) for p in range(partitions)]
    futures = [client.submit(read_archive_part, archive, s, key=f"learn-{s}-{run}") for s in specs]
    parts: list[ColumnsPart] = client.gather(futures)  # type: ignore[no-untyped-call]
    return parts


def learn_any(
    inputs: Sequence[Path],
    out: Path | None,
    *,
    engine: str = "local",
    scheduler: str = "local",
    partitions: int = 2,
    workers: int | None = None,
    client: Client | None = None,
    params: NormalcyParams | None = None,
) -> tuple[NormalcyModel, LearnStats]:
    """Learn from NMEA/CSV files and/or archive directories (detected), locally or with
    the archive reads on Dask (``engine="dask"``: archive inputs only). Saves to ``out``."""
    if engine not in ("local", "dask"):
        raise ConfigError(f"bad engine {engine!r}: local or dask")
    paths = [Path(p) for p in inputs]
    for p in paths:
        if not p.exists():
            raise ConfigError(f"{p}: no such file or archive directory")
    archives = [p for p in paths if is_archive(p)]
    if engine == "dask" and len(archives) != len(paths):
        files = ", ".join(str(p) for p in paths if p not in archives)
        raise ConfigError(
            f"--engine dask learns from archive directories only, not {files}: write them "
            "into one with `seawarden archive --out DIR` first"
        )
    if not 1 <= partitions <= 4096:
        raise ConfigError("--partitions must be 1 … 4096")
    started = _time.perf_counter()
    cols = RecordColumns()
    rejected = 0
    for p in paths:
        if not is_archive(p):
            rejected += read_records(cols, p)
        elif engine == "local":
            _extend(cols, read_archive_part(str(p)))
        else:
            ap = str(p.resolve())
            if client is not None:
                parts = _dask_parts(client, ap, partitions)
            else:
                from seawarden.backfill.run import dask_client

                with dask_client(scheduler, workers or partitions) as c:
                    parts = _dask_parts(c, ap, partitions)
            for part in parts:
                _extend(cols, part)
    read_s = _time.perf_counter() - started
    return fit_and_save(
        cols, [p.name for p in paths], out, params=params, rejected=rejected, read_s=read_s
    )
