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

Both stores keep them: the SQLite file (tables created on first use) and PostgreSQL
(migration 0003; written in one ``INSERT … FROM unnest(…)`` per flush, in the store's
transaction). Raw bytes are stored as BLOBs / ``bytea``, untouched (line endings removed).

Matching a finding's evidence (``attrs["evidence"]``: time, source, line_no of each report)
to these rows is done by :func:`match_evidence` on (mmsi, event time, message type),
marking the exact reception (same station and input line) among repeats heard by other
stations.
"""

from __future__ import annotations

import hashlib
import logging
import sqlite3
import sys
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final, cast

from seawarden.errors import StoreError
from seawarden.model import Contact, Event, Record

if TYPE_CHECKING:
    import psycopg

    from seawarden.alerts.model import Alert

    PgConn = psycopg.Connection[Any]
    Conn = sqlite3.Connection | PgConn

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

CONTACT_TABLE: Final = "evidence_contacts"

CONTACT_SCHEMA: Final = (
    f"""CREATE TABLE IF NOT EXISTS {CONTACT_TABLE} (
        digest TEXT PRIMARY KEY,
        sensor TEXT NOT NULL,
        kind TEXT NOT NULL,
        track TEXT,
        pass_id TEXT,
        time TEXT NOT NULL,
        received TEXT,
        station TEXT NOT NULL,
        source TEXT NOT NULL,
        line_no INTEGER NOT NULL,
        fmt TEXT NOT NULL,
        raw BLOB NOT NULL,
        header BLOB
    ) WITHOUT ROWID""",
    f"CREATE INDEX IF NOT EXISTS evidence_contacts_sensor_time ON {CONTACT_TABLE}(sensor, time)",
)

# How a contact's raw input is held: an NMEA sentence (tag block included), an ASTERIX
# data block (binary; shown as hex), a satellite CSV row (with the file's header line) or a
# GeoJSON feature (re-serialised compactly: same members and values, not the file's layout).
ContactFormat = str
CONTACT_FORMATS: Final = ("nmea", "asterix", "csv", "geojson")

LineNos = int | tuple[int, ...]
RawLines = bytes | tuple[bytes, ...]
# (time, msg_type, station, line_nos, raw, received, source, header): a tuple, not a
# dataclass, because one is built per decoded message on the hot path.
_Entry = tuple[datetime, int, str, LineNos, RawLines, datetime | None, str, bytes | None]
# (time, line_no, raw, received, station, source, kind, fmt, header): per retained contact.
_CEntry = tuple[datetime, int, bytes, datetime | None, str, str, str, str, bytes | None]
# A contact ring: (sensor, "track" | "pass" | "sensor", track number / pass id / "").
RingKey = tuple[str, str, str]
Writer = Callable[[Sequence["EvidenceRow | ContactRow"]], None]


@dataclass(frozen=True, slots=True, kw_only=True)
class RetentionConfig:
    """``horizon_s``: how far back (event time, behind the vessel's newest message) raw
    messages are kept before an alert; ``max_lines``: at most this many messages per vessel;
    ``pending_max``: rows of alerted vessels buffered before they are written."""

    horizon_s: float = 6 * 3600.0
    max_lines: int = 2000
    pending_max: int = 1024
    # Radar/satellite contacts: at most ``contact_max_lines`` per ring (one ring per radar
    # track, per satellite pass) and ``contact_max_total`` over all rings (the least
    # recently fed rings go first): a hard bound whatever the contact rate.
    contact_max_lines: int = 2000
    contact_max_total: int = 100_000

    def __post_init__(self) -> None:
        if self.horizon_s <= 0 or self.max_lines <= 0 or self.pending_max <= 0:
            raise ValueError("evidence horizon_s, max_lines and pending_max must be > 0")
        if self.contact_max_lines <= 0 or self.contact_max_total <= 0:
            raise ValueError("evidence contact_max_lines and contact_max_total must be > 0")


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


@dataclass(frozen=True, slots=True, kw_only=True)
class ContactRow:
    """One retained radar/satellite input behind a contact, as stored.

    ``station`` is the contact's own ``source`` (tag-block station or input name, what a
    finding's evidence cites); ``source`` the input file or endpoint it was read from."""

    sensor: str
    kind: str
    track: str | None
    pass_id: str | None
    time: datetime
    received: datetime | None
    station: str
    source: str
    line_no: int
    fmt: ContactFormat
    raw: bytes
    header: bytes | None

    @property
    def line_nos(self) -> tuple[int, ...]:
        return (self.line_no,)

    @property
    def lines(self) -> list[bytes]:
        return self.raw.split(b"\n")

    @property
    def digest(self) -> str:
        h = hashlib.sha256()
        for part in (
            "contact",
            self.sensor,
            self.kind,
            self.track or "",
            self.pass_id or "",
            self.time.isoformat(),
            self.source,
            self.station,
            str(self.line_no),
            self.fmt,
        ):
            h.update(part.encode())
            h.update(b"\x00")
        h.update(self.raw)
        h.update(b"\x00")
        h.update(self.header or b"")
        return h.hexdigest()


def ring_key(sensor: str, track: object, pass_id: object) -> RingKey:
    """The ring a contact belongs to: its radar track, else its satellite pass, else its
    sensor (a single-shot detection without a pass id)."""
    if track is not None and track != "":
        return (sensor, "track", str(track))
    if pass_id is not None and pass_id != "":
        return (sensor, "pass", str(pass_id))
    return (sensor, "sensor", "")


def _crow(key: RingKey, e: _CEntry) -> ContactRow:
    time, line_no, raw, received, station, source, kind, fmt, header = e
    sensor, what, ident = key
    return ContactRow(
        sensor=sensor,
        kind=kind,
        track=ident if what == "track" else None,
        pass_id=ident if what == "pass" else None,
        time=time,
        received=received,
        station=station,
        source=source,
        line_no=line_no,
        fmt=fmt,
        raw=raw,
        header=header,
    )


def contact_keys(events: Iterable[Event]) -> dict[int, dict[RingKey, datetime]]:
    """Per vessel (or target id), the contact rings its fusion findings cite, with the
    latest event time each was cited at."""
    out: dict[int, dict[RingKey, datetime]] = {}
    for e in events:
        if e.kind != "fusion":
            continue
        for entry in e.attrs.get("evidence") or ():
            if not isinstance(entry, Mapping) or entry.get("sensor") is None:
                continue
            key = ring_key(str(entry["sensor"]), entry.get("track"), entry.get("pass_id"))
            refs = out.setdefault(e.mmsi, {})
            if key not in refs or refs[key] < e.time:
                refs[key] = e.time
    return out


class EvidenceRetention:
    """Per-vessel rings of raw messages, flushed through ``writer`` when alerts come; the
    same for radar tracks and satellite passes, flushed when an alerted vessel's fusion
    findings cite them."""

    def __init__(self, config: RetentionConfig | None = None, writer: Writer | None = None):
        self.config = config or RetentionConfig()
        self.writer = writer
        self._horizon = timedelta(seconds=self.config.horizon_s)
        self._rings: dict[int, deque[_Entry]] = {}
        self._open: set[int] = set()
        self._pending: list[EvidenceRow | ContactRow] = []
        self._strings: dict[str, str] = {}
        self.written = 0
        # contacts: rings in least-recently-fed order, the rings open alerts hold (and by
        # which vessels), the rings each vessel's fusion findings cited (and when)
        self._crings: OrderedDict[RingKey, deque[_CEntry]] = OrderedDict()
        self._clines = 0
        self._copen: dict[RingKey, set[int]] = {}
        self._refs: dict[int, dict[RingKey, datetime]] = {}

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

    def tap(
        self, source: str
    ) -> Callable[[Record | Contact, LineNos, RawLines, datetime | None], None]:
        """A decoder tap (``NmeaDecoder.tap``) for messages read from ``source``: AIS
        messages and radar TTM/TLL contacts."""
        observe, observe_contact = self.observe, self.observe_contact

        def tap(
            rec: Record | Contact, line_nos: LineNos, raw: RawLines, received: datetime | None
        ) -> None:
            if isinstance(rec, Contact):
                line = line_nos if isinstance(line_nos, int) else line_nos[0]
                data = raw if isinstance(raw, bytes) else b"\n".join(raw)
                observe_contact(rec, line, data, received, source, "nmea")
            else:
                observe(rec, line_nos, raw, received, source)

        return tap

    def contact_tap(
        self, source: str, fmt: ContactFormat, header: Callable[[], bytes | None] | None = None
    ) -> Callable[[Contact, int, bytes, datetime | None], None]:
        """A tap for a sensor file (``SensorFileSource.tap``): each contact with its raw
        input (an ASTERIX block, a CSV row with the file's header, a GeoJSON feature)."""
        observe_contact = self.observe_contact

        def tap(c: Contact, line_no: int, raw: bytes, received: datetime | None) -> None:
            observe_contact(c, line_no, raw, received, source, fmt, header() if header else None)

        return tap

    def observe_contact(
        self,
        c: Contact,
        line_no: int,
        raw: bytes,
        received: datetime | None,
        source: str,
        fmt: ContactFormat,
        header: bytes | None = None,
    ) -> None:
        """One decoded radar/satellite contact with the raw input it came from."""
        key = ring_key(c.sensor, c.track, c.pass_id)
        strings = self._strings
        station = strings.setdefault(c.source, c.source)
        entry: _CEntry = (c.time, line_no, raw, received, station, source, c.kind, fmt, header)
        if key in self._copen:
            self._pending.append(_crow(key, entry))
            if len(self._pending) >= self.config.pending_max:
                self.flush()
            return
        rings = self._crings
        ring = rings.get(key)
        if ring is None:
            ring = rings[key] = deque(maxlen=self.config.contact_max_lines)
        else:
            rings.move_to_end(key)
        if len(ring) < self.config.contact_max_lines:
            self._clines += 1
        ring.append(entry)
        cutoff = c.time - self._horizon
        while ring[0][0] < cutoff:
            ring.popleft()
            self._clines -= 1
        while self._clines > self.config.contact_max_total:
            oldest, first = next(iter(rings.items()))
            if oldest == key:  # only this ring is left: trim it
                first.popleft()
                self._clines -= 1
            else:
                del rings[oldest]
                self._clines -= len(first)

    def csv_tap(
        self, source: str, header: Callable[[], bytes | None]
    ) -> Callable[[Record | Contact, LineNos, RawLines, datetime | None], None]:
        """A tap for CSV rows: the file's header line goes with every row (columns)."""
        observe = self.observe

        def tap(
            rec: Record | Contact, line_nos: LineNos, raw: RawLines, received: datetime | None
        ) -> None:
            if not isinstance(rec, Contact):  # AIS CSV files hold no contacts
                observe(rec, line_nos, raw, received, source, header())

        return tap

    def attach(self, source: object) -> None:
        """Tap a file source from :func:`seawarden.ingest.files.open_source`."""
        from seawarden.ingest.files import CsvFileSource, NmeaFileSource, SensorFileSource

        if isinstance(source, NmeaFileSource):
            source.decoder.tap = self.tap(source.decoder.source)
        elif isinstance(source, CsvFileSource):
            source.tap = self.csv_tap(source.path.name, source.header)
        elif isinstance(source, SensorFileSource):
            source.tap = self.contact_tap(source.path.name, source.raw_format, source.header)

    # -- alerts -------------------------------------------------------------------------------
    def on_alerts(self, alerts: Iterable[Alert]) -> None:
        """Alert/Update: write the vessel's ring now and keep writing; Cancel: stop."""
        for a in alerts:
            if a.msg_type == "Cancel":
                self._open.discard(a.mmsi)
                for key in list(self._copen):
                    holders = self._copen[key]
                    holders.discard(a.mmsi)
                    if not holders:
                        del self._copen[key]  # back to ring mode
                continue
            ring = self._rings.pop(a.mmsi, None)
            if ring:
                self._pending.extend(_row(a.mmsi, e) for e in ring)
            self._open.add(a.mmsi)
            for key in self._refs.get(a.mmsi, ()):
                self._open_contacts(key, a.mmsi)
        self.flush()

    def on_findings(self, events: Iterable[Event]) -> None:
        """Fusion findings: remember which contact rings each vessel's findings cite; a
        vessel with an open alert gets newly cited rings written at once (and kept open)."""
        for mmsi, keys in contact_keys(events).items():
            refs = self._refs.setdefault(mmsi, {})
            for key, t in keys.items():
                if key not in refs or refs[key] < t:
                    refs[key] = t
                if mmsi in self._open:
                    self._open_contacts(key, mmsi)

    def _open_contacts(self, key: RingKey, mmsi: int) -> None:
        holders = self._copen.get(key)
        if holders is None:
            holders = self._copen[key] = set()
            ring = self._crings.pop(key, None)
            if ring:
                self._clines -= len(ring)
                self._pending.extend(_crow(key, e) for e in ring)
        holders.add(mmsi)

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
        cstale = [k for k, ring in self._crings.items() if not ring or ring[-1][0] < cutoff]
        for k in cstale:
            self._clines -= len(self._crings.pop(k))
        for mmsi in list(self._refs):
            if mmsi in self._open:
                continue
            refs = {k: t for k, t in self._refs[mmsi].items() if t >= cutoff}
            if refs:
                self._refs[mmsi] = refs
            else:
                del self._refs[mmsi]
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

    def contact_ring(self, key: RingKey) -> list[ContactRow]:
        return [_crow(key, e) for e in self._crings.get(key, ())]

    def contact_rings(self) -> int:
        return len(self._crings)

    def contact_lines(self) -> int:
        return self._clines

    def contact_memory_bytes(self) -> int:
        """Bytes held by the contact rings, counted like :meth:`memory_bytes` (an ASTERIX
        block shared by the contacts it holds is counted once)."""
        size = sys.getsizeof(self._crings)
        seen: set[int] = set()
        for key, ring in self._crings.items():
            size += sys.getsizeof(ring) + _deep(key, seen)
            for e in ring:
                size += sys.getsizeof(e) + _deep(e[0], seen) + _deep(e[1], seen)
                size += _deep(e[2], seen) + _deep(e[3], seen) + _deep(e[8], seen)
        return size


def _deep(obj: object, seen: set[int]) -> int:
    if obj is None or id(obj) in seen:
        return 0
    seen.add(id(obj))
    size = sys.getsizeof(obj)
    if isinstance(obj, tuple):
        size += sum(_deep(x, seen) for x in obj)
    return size


# -- the table --------------------------------------------------------------------------------
#
# Both stores hold the same rows: SQLite (``ensure_schema`` creates the tables in the store
# file) and PostgreSQL (migration 0003; times ``timestamptz``, bytes ``bytea``). Every
# function taking ``conn`` accepts either connection; PostgreSQL is told apart without
# importing psycopg (an optional dependency the SQLite default does without).

# Text columns are ordered bytewise on PostgreSQL, as SQLite's BINARY collation does, so
# both stores list the same rows in the same order whatever the database's locale.
_C = ' COLLATE "C"'

_MESSAGE_COLS = (
    "digest, mmsi, time, received, msg_type, station, source, line_no, line_nos, raw, header"
)
_CONTACT_COLS = (
    "digest, sensor, kind, track, pass_id, time, received, station, source, line_no, fmt,"
    " raw, header"
)
# One statement per flush and table (one round trip): the rows go in as one array per
# column. DO NOTHING: a row already there (re-flush, resumed run, second replay) is the same
# content, by its digest.
_PG_INSERT_MESSAGES = (
    f"INSERT INTO {TABLE} ({_MESSAGE_COLS}) SELECT * FROM unnest(%s::text[], %s::bigint[],"
    " %s::timestamptz[], %s::timestamptz[], %s::integer[], %s::text[], %s::text[],"
    " %s::integer[], %s::text[], %s::bytea[], %s::bytea[]) ON CONFLICT (digest) DO NOTHING"
)
_PG_INSERT_CONTACTS = (
    f"INSERT INTO {CONTACT_TABLE} ({_CONTACT_COLS}) SELECT * FROM unnest(%s::text[],"
    " %s::text[], %s::text[], %s::text[], %s::text[], %s::timestamptz[], %s::timestamptz[],"
    " %s::text[], %s::text[], %s::integer[], %s::text[], %s::bytea[], %s::bytea[])"
    " ON CONFLICT (digest) DO NOTHING"
)
# Rows per statement: bounds the statement's size (a ring flush is at most max_lines rows
# per vessel, but many vessels may be alerted in one batch).
PG_CHUNK: Final = 5000


def is_postgres(conn: object) -> bool:
    """``conn`` is a psycopg connection (psycopg is imported once a PostgresStore exists)."""
    psycopg = sys.modules.get("psycopg")
    return psycopg is not None and isinstance(conn, psycopg.Connection)


def ensure_schema(conn: sqlite3.Connection) -> None:
    """Create the SQLite tables; statement by statement, so an open transaction stays open.
    (On PostgreSQL the tables come with the store's migrations.)"""
    for stmt in (*SCHEMA, *CONTACT_SCHEMA):
        conn.execute(stmt)


def has_table(conn: Conn, table: str = TABLE) -> bool:
    if is_postgres(conn):
        pg = _pg(conn)
        found = pg.execute("SELECT to_regclass(%s) IS NOT NULL", (table,)).fetchone()
        return bool(found and found[0])
    lite = _lite(conn)
    row = lite.execute(
        "SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (table,)
    ).fetchone()
    return row is not None


def has_contact_table(conn: Conn) -> bool:
    """False for a store written before contact evidence was retained."""
    return has_table(conn, CONTACT_TABLE)


def write_rows(conn: sqlite3.Connection, rows: Sequence[EvidenceRow | ContactRow]) -> None:
    contacts = [r for r in rows if isinstance(r, ContactRow)]
    if contacts:
        conn.executemany(
            f"INSERT OR IGNORE INTO {CONTACT_TABLE} VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            [
                (
                    c.digest,
                    c.sensor,
                    c.kind,
                    c.track,
                    c.pass_id,
                    c.time.isoformat(),
                    None if c.received is None else c.received.isoformat(),
                    c.station,
                    c.source,
                    c.line_no,
                    c.fmt,
                    c.raw,
                    c.header,
                )
                for c in contacts
            ],
        )
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
            if isinstance(r, EvidenceRow)
        ],
    )


def _pg_clean(s: str) -> str:
    # PostgreSQL text cannot hold NUL (SQLite can): a NUL in a station or file name must not
    # abort the pipeline's transaction; the row keeps the digest of what was received.
    return s if "\x00" not in s else s.replace("\x00", "\ufffd")


def _pg_text(s: str | None) -> str | None:
    return None if s is None else _pg_clean(s)


def _folded(value: object) -> object:
    """``value`` as a PostgreSQL row holds it (NUL as U+FFFD): matching compares a finding's
    text with a stored row's in this form, so it finds its rows on either store."""
    return _pg_clean(value) if isinstance(value, str) else value


def write_rows_pg(conn: PgConn, rows: Sequence[EvidenceRow | ContactRow]) -> None:
    """The same rows as :func:`write_rows`, on PostgreSQL, in ``conn``'s open transaction:
    one ``INSERT … SELECT FROM unnest(…) ON CONFLICT DO NOTHING`` per table and chunk."""
    msgs = [r for r in rows if isinstance(r, EvidenceRow)]
    contacts = [r for r in rows if isinstance(r, ContactRow)]
    with conn.cursor() as cur:
        for i in range(0, len(contacts), PG_CHUNK):
            part = contacts[i : i + PG_CHUNK]
            cur.execute(
                _PG_INSERT_CONTACTS,
                (
                    [c.digest for c in part],
                    [_pg_clean(c.sensor) for c in part],
                    [_pg_clean(c.kind) for c in part],
                    [_pg_text(c.track) for c in part],
                    [_pg_text(c.pass_id) for c in part],
                    [c.time for c in part],
                    [c.received for c in part],
                    [_pg_clean(c.station) for c in part],
                    [_pg_clean(c.source) for c in part],
                    [c.line_no for c in part],
                    [c.fmt for c in part],
                    [c.raw for c in part],
                    [c.header for c in part],
                ),
            )
        for i in range(0, len(msgs), PG_CHUNK):
            mpart = msgs[i : i + PG_CHUNK]
            cur.execute(
                _PG_INSERT_MESSAGES,
                (
                    [r.digest for r in mpart],
                    [r.mmsi for r in mpart],
                    [r.time for r in mpart],
                    [r.received for r in mpart],
                    [r.msg_type for r in mpart],
                    [_pg_clean(r.station) for r in mpart],
                    [_pg_clean(r.source) for r in mpart],
                    [r.line_no for r in mpart],
                    [",".join(map(str, r.line_nos)) for r in mpart],
                    [r.raw for r in mpart],
                    [r.header for r in mpart],
                ),
            )


def sqlite_writer(store: object) -> Writer | None:
    """A writer on the store's own SQLite connection (same transaction as its batch), or
    None for a store without one."""
    conn = getattr(store, "connection", None)
    if not isinstance(conn, sqlite3.Connection):
        return None
    ensure_schema(conn)

    def write(rows: Sequence[EvidenceRow | ContactRow]) -> None:
        write_rows(conn, rows)

    return write


def postgres_writer(store: object) -> Writer | None:
    """A writer on a PostgresStore's own connection: the rows commit in the same
    transaction as the batch and the alert revision that flushed them. None for a store
    without a psycopg connection."""
    conn = getattr(store, "connection", None)
    if not is_postgres(conn):
        return None
    pg = _pg(conn)
    if not has_table(pg):  # a database this code migrated has them (migration 0003)
        raise StoreError(
            f"{getattr(store, 'name', 'store')}: no {TABLE} table; the schema is older than"
            " migration 0003"
        )
    from psycopg import Error as PgError

    def write(rows: Sequence[EvidenceRow | ContactRow]) -> None:
        try:
            write_rows_pg(pg, rows)
        except PgError as exc:
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise StoreError(
                f"{getattr(store, 'name', 'store')}: evidence write failed ({first})"
            ) from exc

    return write


def store_writer(store: object) -> Writer | None:
    """The evidence writer for ``store``'s kind (SQLite file or PostgreSQL), or None for a
    store with no connection (retention is then off: there is nowhere to keep evidence)."""
    writer = sqlite_writer(store) or postgres_writer(store)
    if writer is None:
        log.info("store has no SQLite or PostgreSQL connection: raw evidence is not retained")
    return writer


def _utc(value: Any) -> datetime:
    """A stored time as an aware datetime: SQLite holds ISO text, PostgreSQL timestamptz
    (in the session's time zone; turned to UTC like everything the pipeline writes)."""
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    return datetime.fromisoformat(str(value))


def _utc_or_none(value: Any) -> datetime | None:
    return None if value is None else _utc(value)


def _select(conn: Conn, sql: str, args: Sequence[Any], times: Sequence[int]) -> list[Sequence[Any]]:
    """Run ``sql`` (``?`` placeholders; ``{C}`` marks text columns ordered bytewise) on
    either store; ``args`` at the indexes ``times`` are datetimes (ISO text on SQLite)."""
    if is_postgres(conn):
        return list(_pg(conn).execute(sql.replace("?", "%s").format(C=_C), args).fetchall())
    lite_args = [a.isoformat() if i in times else a for i, a in enumerate(args)]
    return list(_lite(conn).execute(sql.format(C=""), lite_args).fetchall())


def read_rows(
    conn: Conn, mmsi: int, start: datetime | None = None, end: datetime | None = None
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
        args.append(start)
    if end is not None:
        sql += " AND time<=?"
        args.append(end)
    sql += " ORDER BY time, source{C}, line_no, digest{C}"
    return [
        EvidenceRow(
            mmsi=int(r[0]),
            time=_utc(r[1]),
            received=_utc_or_none(r[2]),
            msg_type=int(r[3]),
            station=str(r[4]),
            source=str(r[5]),
            line_no=int(r[6]),
            line_nos=tuple(int(x) for x in str(r[7]).split(",")),
            raw=bytes(r[8]),
            header=None if r[9] is None else bytes(r[9]),
        )
        for r in _select(conn, sql, args, times=range(1, len(args)))
    ]


def read_contact_rows(conn: Conn, sensor: str, start: datetime, end: datetime) -> list[ContactRow]:
    """Retained inputs of one sensor between ``start`` and ``end`` (inclusive)."""
    if not has_contact_table(conn):
        return []
    sql = (
        "SELECT sensor, kind, track, pass_id, time, received, station, source, line_no, fmt,"
        f" raw, header FROM {CONTACT_TABLE} WHERE sensor=? AND time>=? AND time<=?"
        " ORDER BY time, source{C}, line_no, digest{C}"
    )
    # write_rows_pg stored the sensor _pg_clean'ed (PostgreSQL text holds no NUL)
    stored = _pg_clean(sensor) if is_postgres(conn) else sensor
    return [
        ContactRow(
            sensor=str(r[0]),
            kind=str(r[1]),
            track=None if r[2] is None else str(r[2]),
            pass_id=None if r[3] is None else str(r[3]),
            time=_utc(r[4]),
            received=_utc_or_none(r[5]),
            station=str(r[6]),
            source=str(r[7]),
            line_no=int(r[8]),
            fmt=str(r[9]),
            raw=bytes(r[10]),
            header=None if r[11] is None else bytes(r[11]),
        )
        for r in _select(conn, sql, (stored, start, end), times=(1, 2))
    ]


def _pg(conn: object) -> PgConn:
    return cast("PgConn", conn)  # the caller checked is_postgres


def _lite(conn: object) -> sqlite3.Connection:
    if not isinstance(conn, sqlite3.Connection):
        raise TypeError(f"not a SQLite or PostgreSQL connection: {type(conn).__name__}")
    return conn


@dataclass(frozen=True, slots=True, kw_only=True)
class Match:
    """The stored messages behind one evidence report of a finding."""

    report: Mapping[str, Any]  # the finding's evidence entry (time, lat, lon, source, line_no…)
    rows: tuple[EvidenceRow | ContactRow, ...]  # every reception of it (the exact one first)
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
        station = _folded(report.get("source"))
        return _folded(r.station) == station and r.line_no == report.get("line_no")

    found.sort(key=lambda r: (not is_exact(r), r.source, r.line_no))
    return Match(report=report, rows=tuple(found), exact=any(is_exact(r) for r in found))


def is_contact_report(report: Mapping[str, Any]) -> bool:
    """A finding's evidence entry that is a radar/satellite contact (it names a sensor)."""
    return report.get("sensor") is not None


def match_contact(rows: Sequence[ContactRow], report: Mapping[str, Any]) -> Match:
    """Rows of the entry's sensor and ring (track / pass) at its event time; the one read
    from the entry's station and input line (block, row, feature) is listed first."""
    try:
        t = datetime.fromisoformat(str(report.get("time")))
    except ValueError:
        return Match(report=report, rows=(), exact=False)

    def folded_key(sensor: str, track: object, pass_id: object) -> tuple[object, ...]:
        return tuple(_folded(part) for part in ring_key(sensor, track, pass_id))

    key = folded_key(str(report.get("sensor")), report.get("track"), report.get("pass_id"))
    found = [r for r in rows if r.time == t and folded_key(r.sensor, r.track, r.pass_id) == key]

    def is_exact(r: ContactRow) -> bool:
        station = _folded(report.get("source"))
        return _folded(r.station) == station and r.line_no == report.get("line_no")

    found.sort(key=lambda r: (not is_exact(r), r.source, r.line_no))
    return Match(report=report, rows=tuple(found), exact=any(is_exact(r) for r in found))


__all__ = [
    "CONTACT_TABLE",
    "ContactRow",
    "EvidenceRetention",
    "EvidenceRow",
    "Match",
    "RetentionConfig",
    "RingKey",
    "contact_keys",
    "ensure_schema",
    "has_contact_table",
    "has_table",
    "is_contact_report",
    "is_postgres",
    "match_contact",
    "match_evidence",
    "postgres_writer",
    "read_contact_rows",
    "read_rows",
    "ring_key",
    "sqlite_writer",
    "store_writer",
    "write_rows",
    "write_rows_pg",
]
