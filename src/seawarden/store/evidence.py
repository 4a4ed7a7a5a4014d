"""Keep the raw AIS messages behind an alert, exactly as received, for the evidence report.

A prosecutor is not shown "the vessel was at 59.95 N"; they are shown the sentence the
vessel transmitted, where and when it was heard, and in which file it is recorded. Decoded
records do not carry their text (it would double the pipeline's memory for the ~0.01 % of
vessels ever alerted), so retention works beside them:

* **Ring per vessel** (:class:`EvidenceRetention`): the ingest path hands every decoded
  message — the full input line(s) incl. the NMEA 4 tag block, *both* parts of a multi-part
  message, or the CSV row with its header — to :meth:`EvidenceRetention.observe`. Each
  vessel keeps at most ``max_lines`` messages and none older than ``horizon_s`` (event time)
  behind its newest; rings of vessels unheard for ``horizon_s`` are dropped
  (:meth:`~EvidenceRetention.expire`). Memory is therefore bounded per vessel, and in total
  by the vessels heard in the last ``horizon_s``.
* **Flush on alert**: when a vessel gets an alert revision (Alert or Update), its ring is
  written to ``evidence_messages`` at once, through the pipeline's own connection, so it is
  committed in the same transaction as the revision. While the alert is open every further
  message of that vessel is written as it comes (buffered with the pipeline's batch); a
  Cancel returns the vessel to ring mode.
* **Rows are content-addressed**: the primary key is a SHA-256 of (vessel, event time,
  source, lines, raw bytes), so re-flushing, a second replay into the same store or a resumed
  run never duplicates a row, and two replays of the same input give identical rows.

Raw bytes are stored as BLOBs, untouched (line endings removed). Matching a finding's
evidence (``attrs["evidence"]``: time, source, line_no of each report) to these rows is done
by :func:`match_evidence` on (mmsi, event time, message type), marking the exact reception
(same station and input line) among repeats heard by other stations.
"""

from __future__ import annotations

import hashlib
import logging
import sqlite3
import sys
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

from seawarden.model import Record

if TYPE_CHECKING:
    from seawarden.alerts.model import Alert

log = logging.getLogger(__name__)

TABLE: Final = "evidence_messages"

SCHEMA: Final = (
    f"""CREATE TABLE IF NOT EXISTS {TABLE} (
        digest TEXT PRIMARY KEY,
        mmsi INTEGER NOT NULL,
        time TEXT NOT NULL,
        received TEXT,
        msg_type INTEGER NOT NULL,
        station TEXT NOT NULL,
        source TEXT NOT NULL,
        line_no INTEGER NOT NULL,
        line_nos TEXT NOT NULL,
        raw BLOB NOT NULL,
        header BLOB
    ) WITHOUT ROWID""",
    f"CREATE INDEX IF NOT EXISTS evidence_mmsi_time ON {TABLE}(mmsi, time)",
)

LineNos = int | tuple[int, ...]
RawLines = bytes | tuple[bytes, ...]
# (time, msg_type, station, line_nos, raw, received, source, header): a tuple, not a
# dataclass, because one is built per decoded message on the hot path.
_Entry = tuple[datetime, int, str, LineNos, RawLines, datetime | None, str, bytes | None]
Writer = Callable[[Sequence["EvidenceRow"]], None]


@dataclass(frozen=True, slots=True, kw_only=True)
class RetentionConfig:
    """``horizon_s``: how far back (event time, behind the vessel's newest message) raw
    messages are kept before an alert; ``max_lines``: at most this many messages per vessel;
    ``pending_max``: rows of alerted vessels buffered before they are written."""

    horizon_s: float = 6 * 3600.0
    max_lines: int = 2000
    pending_max: int = 1024

    def __post_init__(self) -> None:
        if self.horizon_s <= 0 or self.max_lines <= 0 or self.pending_max <= 0:
            raise ValueError("evidence horizon_s, max_lines and pending_max must be > 0")


@dataclass(frozen=True, slots=True, kw_only=True)
class EvidenceRow:
    """One retained raw message as stored; ``raw`` holds the lines joined by ``\\n``."""

    mmsi: int
    time: datetime
    received: datetime | None
    msg_type: int
    station: str
    source: str
    line_no: int
    line_nos: tuple[int, ...]
    raw: bytes
    header: bytes | None

    @property
    def lines(self) -> list[bytes]:
        return self.raw.split(b"\n")

    @property
    def digest(self) -> str:
        h = hashlib.sha256()
        for part in (
            str(self.mmsi),
            self.time.isoformat(),
            self.source,
            self.station,
            ",".join(map(str, self.line_nos)),
        ):
            h.update(part.encode())
            h.update(b"\x00")
        h.update(self.raw)
        h.update(b"\x00")
        h.update(self.header or b"")
        return h.hexdigest()


def _row(mmsi: int, e: _Entry) -> EvidenceRow:
    time, msg_type, station, line_nos, raw, received, source, header = e
    nos = (line_nos,) if isinstance(line_nos, int) else line_nos
    data = raw if isinstance(raw, bytes) else b"\n".join(raw)
    return EvidenceRow(
        mmsi=mmsi,
        time=time,
        received=received,
        msg_type=msg_type,
        station=station,
        source=source,
        line_no=nos[0],
        line_nos=nos,
        raw=data,
        header=header,
    )


class EvidenceRetention:
    """Per-vessel rings of raw messages, flushed through ``writer`` when alerts come."""

    def __init__(self, config: RetentionConfig | None = None, writer: Writer | None = None):
        self.config = config or RetentionConfig()
        self.writer = writer
        self._horizon = timedelta(seconds=self.config.horizon_s)
        self._rings: dict[int, deque[_Entry]] = {}
        self._open: set[int] = set()
        self._pending: list[EvidenceRow] = []
        self._strings: dict[str, str] = {}
        self.written = 0

    # -- the hot path -----------------------------------------------------------------------
    def observe(
        self,
        rec: Record,
        line_nos: LineNos,
        raw: RawLines,
        received: datetime | None,
        source: str,
        header: bytes | None = None,
    ) -> None:
        """One decoded message (called once per message, not per record)."""
        mmsi = rec.mmsi
        station = self._strings.setdefault(rec.source, rec.source)
        entry: _Entry = (rec.time, rec.msg_type, station, line_nos, raw, received, source, header)
        if mmsi in self._open:
            self._pending.append(_row(mmsi, entry))
            if len(self._pending) >= self.config.pending_max:
                self.flush()
            return
        ring = self._rings.get(mmsi)
        if ring is None:
            ring = self._rings[mmsi] = deque(maxlen=self.config.max_lines)
        ring.append(entry)
        cutoff = rec.time - self._horizon
        while ring[0][0] < cutoff:
            ring.popleft()

    def tap(self, source: str) -> Callable[[Record, LineNos, RawLines, datetime | None], None]:
        """A decoder tap (``NmeaDecoder.tap``) for messages read from ``source``."""
        observe = self.observe

        def tap(rec: Record, line_nos: LineNos, raw: RawLines, received: datetime | None) -> None:
            observe(rec, line_nos, raw, received, source)

        return tap

    def csv_tap(
        self, source: str, header: Callable[[], bytes | None]
    ) -> Callable[[Record, LineNos, RawLines, datetime | None], None]:
        """A tap for CSV rows: the file's header line goes with every row (columns)."""
        observe = self.observe

        def tap(rec: Record, line_nos: LineNos, raw: RawLines, received: datetime | None) -> None:
            observe(rec, line_nos, raw, received, source, header())

        return tap

    def attach(self, source: object) -> None:
        """Tap a file source from :func:`seawarden.ingest.files.open_source`."""
        from seawarden.ingest.files import CsvFileSource, NmeaFileSource

        if isinstance(source, NmeaFileSource):
            source.decoder.tap = self.tap(source.decoder.source)
        elif isinstance(source, CsvFileSource):
            source.tap = self.csv_tap(source.path.name, source.header)

    # -- alerts -------------------------------------------------------------------------------
    def on_alerts(self, alerts: Iterable[Alert]) -> None:
        """Alert/Update: write the vessel's ring now and keep writing; Cancel: stop."""
        for a in alerts:
            if a.msg_type == "Cancel":
                self._open.discard(a.mmsi)
                continue
            ring = self._rings.pop(a.mmsi, None)
            if ring:
                self._pending.extend(_row(a.mmsi, e) for e in ring)
            self._open.add(a.mmsi)
        self.flush()

    def is_open(self, mmsi: int) -> bool:
        return mmsi in self._open

    def flush(self) -> None:
        """Write buffered rows of alerted vessels (the pipeline calls it with each batch)."""
        if not self._pending:
            return
        rows, self._pending = self._pending, []
        if self.writer is not None:
            self.writer(rows)
            self.written += len(rows)

    def expire(self, now: datetime) -> None:
        """Drop rings of vessels whose newest message is older than the horizon."""
        cutoff = now - self._horizon
        stale = [m for m, ring in self._rings.items() if not ring or ring[-1][0] < cutoff]
        for m in stale:
            del self._rings[m]
        if len(self._strings) > 100_000:  # station names are few; never let this grow
            self._strings.clear()

    # -- introspection (bench, tests, docs) -------------------------------------------------
    def ring(self, mmsi: int) -> list[EvidenceRow]:
        return [_row(mmsi, e) for e in self._rings.get(mmsi, ())]

    def vessels(self) -> int:
        return len(self._rings)

    def lines(self) -> int:
        return sum(len(r) for r in self._rings.values())

    def memory_bytes(self) -> int:
        """Bytes held by the rings (containers, entries and their own objects; station and
        source names are shared and counted once)."""
        size = sys.getsizeof(self._rings)
        seen: set[int] = set()
        for ring in self._rings.values():
            size += sys.getsizeof(ring)
            for e in ring:
                size += sys.getsizeof(e) + _deep(e[0], seen) + _deep(e[3], seen)
                size += _deep(e[4], seen) + _deep(e[5], seen) + _deep(e[7], seen)
        return size + sum(sys.getsizeof(s) for s in self._strings)


def _deep(obj: object, seen: set[int]) -> int:
    if obj is None or id(obj) in seen:
        return 0
    seen.add(id(obj))
    size = sys.getsizeof(obj)
    if isinstance(obj, tuple):
        size += sum(_deep(x, seen) for x in obj)
    return size


# -- the table --------------------------------------------------------------------------------


def ensure_schema(conn: sqlite3.Connection) -> None:
    """Create the table; statement by statement, so an open transaction stays open."""
    for stmt in SCHEMA:
        conn.execute(stmt)


def has_table(conn: sqlite3.Connection) -> bool:
    row = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (TABLE,)
    ).fetchone()
    return row is not None


def write_rows(conn: sqlite3.Connection, rows: Sequence[EvidenceRow]) -> None:
    conn.executemany(
        f"INSERT OR IGNORE INTO {TABLE} VALUES (?,?,?,?,?,?,?,?,?,?,?)",
        [
            (
                r.digest,
                r.mmsi,
                r.time.isoformat(),
                None if r.received is None else r.received.isoformat(),
                r.msg_type,
                r.station,
                r.source,
                r.line_no,
                ",".join(map(str, r.line_nos)),
                r.raw,
                r.header,
            )
            for r in rows
        ],
    )


def sqlite_writer(store: object) -> Writer | None:
    """A writer on the store's own connection (same transaction as its batch), or None for
    a store without one (retention is then off: there is nowhere to keep evidence)."""
    conn = getattr(store, "connection", None)
    if not isinstance(conn, sqlite3.Connection):
        log.info("store has no SQLite connection: raw evidence is not retained")
        return None
    ensure_schema(conn)

    def write(rows: Sequence[EvidenceRow]) -> None:
        write_rows(conn, rows)

    return write


def read_rows(
    conn: sqlite3.Connection, mmsi: int, start: datetime | None = None, end: datetime | None = None
) -> list[EvidenceRow]:
    """Rows of one vessel between ``start`` and ``end`` (inclusive), in event-time order."""
    if not has_table(conn):
        return []
    sql = (
        "SELECT mmsi, time, received, msg_type, station, source, line_no, line_nos, raw, header"
        f" FROM {TABLE} WHERE mmsi=?"
    )
    args: list[Any] = [mmsi]
    if start is not None:
        sql += " AND time>=?"
        args.append(start.isoformat())
    if end is not None:
        sql += " AND time<=?"
        args.append(end.isoformat())
    sql += " ORDER BY time, source, line_no, digest"
    return [
        EvidenceRow(
            mmsi=int(r[0]),
            time=datetime.fromisoformat(r[1]),
            received=None if r[2] is None else datetime.fromisoformat(r[2]),
            msg_type=int(r[3]),
            station=str(r[4]),
            source=str(r[5]),
            line_no=int(r[6]),
            line_nos=tuple(int(x) for x in str(r[7]).split(",")),
            raw=bytes(r[8]),
            header=None if r[9] is None else bytes(r[9]),
        )
        for r in conn.execute(sql, args)
    ]


@dataclass(frozen=True, slots=True, kw_only=True)
class Match:
    """The stored messages behind one evidence report of a finding."""

    report: Mapping[str, Any]  # the finding's evidence entry (time, lat, lon, source, line_no…)
    rows: tuple[EvidenceRow, ...]  # every reception of it (the exact one first)
    exact: bool  # a row with the same station and input line is among them


def match_evidence(rows: Sequence[EvidenceRow], mmsi: int, report: Mapping[str, Any]) -> Match:
    """Rows of ``mmsi`` at the report's event time and message type (repeats heard by other
    stations included); the one with the report's station and input line is listed first."""
    try:
        t = datetime.fromisoformat(str(report.get("time")))
    except ValueError:
        return Match(report=report, rows=(), exact=False)
    msg_type = report.get("msg_type")
    found = [
        r
        for r in rows
        if r.mmsi == mmsi and r.time == t and (msg_type is None or r.msg_type == msg_type)
    ]

    def is_exact(r: EvidenceRow) -> bool:
        return r.station == report.get("source") and r.line_no == report.get("line_no")

    found.sort(key=lambda r: (not is_exact(r), r.source, r.line_no))
    return Match(report=report, rows=tuple(found), exact=any(is_exact(r) for r in found))


__all__ = [
    "EvidenceRetention",
    "EvidenceRow",
    "Match",
    "RetentionConfig",
    "ensure_schema",
    "has_table",
    "match_evidence",
    "read_rows",
    "sqlite_writer",
    "write_rows",
]
