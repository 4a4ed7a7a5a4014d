"""Read a history archive back as the ordered record stream the pipeline core expects.

The archive (``seawarden.archive``) keeps positions and static reports as Parquet, sorted
by (mmsi, time) inside each (day, h3 cell) file. A backfill needs the opposite: every
report of every vessel in one global event-time order — the pipeline's canonical
:func:`~seawarden.pipeline.order.sort_key` order, so that a backfill sees records in the
same order a replay of the same data releases them.

Streaming: the archive is read one UTC day at a time (its ``day=`` partitions), each day as
one DuckDB query ordered by (time, mmsi, kind) and fetched in batches; DuckDB sorts a day
out of core if it must, Python never holds more than a batch plus one tie group. Records
that tie on (time, mmsi, kind) are put in full ``sort_key`` order in Python, since that key
ends in the ``repr`` of the record's content, which SQL cannot order by.

What the archive does not keep, and so a backfill cannot see (see docs/backfill.md):
``rot_deg_min``, ``accuracy`` and ``line_no`` of positions (rebuilt as ``None``/``None``/0),
``line_no`` of statics, and the raw NMEA lines (no evidence rings), radar/satellite
contacts (AIS only), and the decoders' and orderer's rejections (counted at archive time).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from seawarden.errors import InputError
from seawarden.model import PositionReport, StaticReport
from seawarden.pipeline.order import sort_key

EPOCH_US = datetime(1970, 1, 1, tzinfo=UTC)
AisRecord = PositionReport | StaticReport

# One row shape for both datasets (kind 0 = position, 1 = static; the pipeline's own
# rank within an instant), so one ORDER BY merges them.
_POS_SELECT = (
    "SELECT epoch_us(time) AS us, mmsi, 0 AS kind, lat, lon, speed_kn, course_deg, "
    "heading_deg, nav_status, NULL::BIGINT AS imo, NULL::VARCHAR AS callsign, "
    "NULL::VARCHAR AS name, NULL::SMALLINT AS ship_type, NULL::DOUBLE AS length_m, "
    "NULL::DOUBLE AS beam_m, NULL::DOUBLE AS draught_m, NULL::VARCHAR AS destination, "
    "msg_type, source FROM positions WHERE day = ?::DATE"
)
_STATIC_SELECT = (
    "SELECT epoch_us(time) AS us, mmsi, 1 AS kind, NULL::DOUBLE, NULL::DOUBLE, NULL::DOUBLE, "
    "NULL::DOUBLE, NULL::SMALLINT, NULL::SMALLINT, imo, callsign, name, ship_type, length_m, "
    "beam_m, draught_m, destination, msg_type, source FROM statics WHERE day = ?::DATE"
)


def is_archive(path: Path) -> bool:
    """Whether ``path`` is a history archive root (a directory with positions or statics)."""
    p = Path(path)
    return p.is_dir() and ((p / "positions").is_dir() or (p / "statics").is_dir())


def check_archive(path: Path) -> Path:
    """``path`` as an archive root, or an :class:`InputError` saying what is wrong."""
    p = Path(path)
    if not p.exists():
        raise InputError("no such archive directory", source=str(p))
    if not is_archive(p):
        raise InputError(
            "not a history archive (no positions/ or statics/ inside; write one with "
            "`seawarden archive --out DIR`)",
            source=str(p),
        )
    return p


def archive_days(root: Path) -> list[date]:
    """The UTC days the archive holds data for (from its ``day=`` directories), in order."""
    days: set[date] = set()
    for sub in ("positions", "statics"):
        for d in (Path(root) / sub).glob("day=*"):
            try:
                days.add(date.fromisoformat(d.name.removeprefix("day=")))
            except ValueError:
                continue  # not a partition directory the writer made
    return sorted(days)


@contextmanager
def archive_errors(root: Path) -> Iterator[None]:
    """DuckDB's errors on a damaged archive (a truncated or foreign Parquet file) as an
    :class:`InputError` naming the archive, not a traceback."""
    import duckdb

    try:
        yield
    except duckdb.Error as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"cannot read the archive: {first}", source=str(root)) from exc


def _utc(t: datetime | None) -> datetime | None:
    """Naive times are UTC, as everywhere in seawarden (never the machine's zone)."""
    return None if t is None or t.tzinfo is not None else t.replace(tzinfo=UTC)


def _us(t: datetime) -> int:
    t = t.replace(tzinfo=UTC) if t.tzinfo is None else t
    return (t - EPOCH_US) // timedelta(microseconds=1)


def _record(row: tuple[Any, ...]) -> AisRecord:
    time = EPOCH_US + timedelta(microseconds=int(row[0]))
    if row[2] == 0:
        return PositionReport(
            mmsi=int(row[1]),
            time=time,
            lat=row[3],
            lon=row[4],
            speed_kn=row[5],
            course_deg=row[6],
            heading_deg=row[7],
            nav_status=row[8],
            msg_type=int(row[17]),
            source=row[18],
        )
    return StaticReport(
        mmsi=int(row[1]),
        time=time,
        imo=row[9],
        callsign=row[10],
        name=row[11],
        ship_type=row[12],
        length_m=row[13],
        beam_m=row[14],
        draught_m=row[15],
        destination=row[16],
        msg_type=int(row[17]),
        source=row[18],
    )


@dataclass(frozen=True, slots=True)
class ArchiveSource:
    """The archive's reports with ``start <= time < end`` (either open), in ``sort_key``
    order, streamed day by day. Iterate it (each iteration reads the archive again)."""

    root: Path
    start: datetime | None = None
    end: datetime | None = None
    batch_rows: int = 50_000

    def __post_init__(self) -> None:
        if self.start is not None and self.start.tzinfo is None:
            object.__setattr__(self, "start", _utc(self.start))
        if self.end is not None and self.end.tzinfo is None:
            object.__setattr__(self, "end", _utc(self.end))

    def __iter__(self) -> Iterator[AisRecord]:
        from seawarden.archive.reader import connect  # duckdb: the archive extra

        root = check_archive(self.root)
        with archive_errors(root):
            con = connect(root)
            try:
                for day in archive_days(root):
                    if self.start is not None and day < self.start.astimezone(UTC).date():
                        continue
                    if self.end is not None and day > self.end.astimezone(UTC).date():
                        break
                    yield from self._day(con, day)
            finally:
                con.close()

    def _day(self, con: Any, day: date) -> Iterator[AisRecord]:
        where, params = "", [day.isoformat(), day.isoformat()]
        extra: list[int] = []
        if self.start is not None:
            where += " AND us >= ?"
            extra.append(_us(self.start))
        if self.end is not None:
            where += " AND us < ?"
            extra.append(_us(self.end))
        sql = (
            f"SELECT * FROM ({_POS_SELECT} UNION ALL {_STATIC_SELECT}) "
            f"WHERE true{where} ORDER BY us, mmsi, kind"
        )
        cur = con.execute(sql, [*params, *extra])
        group: list[AisRecord] = []
        group_key: tuple[int, int, int] | None = None
        while rows := cur.fetchmany(self.batch_rows):
            for row in rows:
                key = (row[0], row[1], row[2])
                if key != group_key:
                    yield from _ordered(group)
                    group, group_key = [], key
                group.append(_record(row))
        yield from _ordered(group)


def _ordered(group: list[AisRecord]) -> list[AisRecord]:
    """A tie group (same instant, vessel and kind) in full canonical order."""
    if len(group) > 1:
        group.sort(key=sort_key)
    return group
