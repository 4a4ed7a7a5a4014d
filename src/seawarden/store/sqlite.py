"""The embedded store: one SQLite file in WAL mode, no server needed.

WAL lets the console read while the pipeline writes; batched transactions keep ingest
fast. Times are stored as ISO 8601 UTC text (sortable, readable in any SQLite client) and
JSON columns hold structured attributes. The schema carries a version so an old file is
refused with a clear message instead of misread.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from seawarden.alerts.model import Alert
from seawarden.errors import StoreError
from seawarden.model import Event, PositionReport
from seawarden.store.base import IdentityRow, RunInfo, VesselRow

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY, started TEXT NOT NULL, finished TEXT, command TEXT NOT NULL,
    inputs TEXT NOT NULL, config TEXT NOT NULL, versions TEXT NOT NULL,
    stats TEXT, status TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS vessels (
    mmsi INTEGER PRIMARY KEY, first_seen TEXT NOT NULL, last_seen TEXT NOT NULL,
    lat REAL, lon REAL, speed_kn REAL, course_deg REAL,
    imo INTEGER, name TEXT, callsign TEXT, ship_type INTEGER, flag TEXT, mmsi_class TEXT,
    watchlist TEXT
);
CREATE INDEX IF NOT EXISTS vessels_imo ON vessels(imo);
CREATE TABLE IF NOT EXISTS identity_history (
    mmsi INTEGER NOT NULL, time TEXT NOT NULL, field TEXT NOT NULL,
    old TEXT, new TEXT, source TEXT NOT NULL,
    PRIMARY KEY (mmsi, time, field)
);
CREATE TABLE IF NOT EXISTS positions (
    mmsi INTEGER NOT NULL, time TEXT NOT NULL, lat REAL NOT NULL, lon REAL NOT NULL,
    speed_kn REAL, course_deg REAL, heading_deg INTEGER, nav_status INTEGER,
    msg_type INTEGER NOT NULL, source TEXT NOT NULL,
    PRIMARY KEY (mmsi, time)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS events (
    id TEXT NOT NULL, phase TEXT NOT NULL, kind TEXT NOT NULL, mmsi INTEGER NOT NULL,
    time TEXT NOT NULL, lat REAL NOT NULL, lon REAL NOT NULL, area_id TEXT,
    producer_version TEXT NOT NULL, attrs TEXT NOT NULL,
    PRIMARY KEY (id, phase, time)
);
CREATE INDEX IF NOT EXISTS events_mmsi ON events(mmsi, time);
CREATE INDEX IF NOT EXISTS events_kind ON events(kind, time);
CREATE TABLE IF NOT EXISTS alerts (
    id TEXT NOT NULL, revision INTEGER NOT NULL, msg_type TEXT NOT NULL, mmsi INTEGER NOT NULL,
    time TEXT NOT NULL, severity TEXT NOT NULL, score REAL NOT NULL, body TEXT NOT NULL,
    PRIMARY KEY (id, revision)
);
CREATE INDEX IF NOT EXISTS alerts_time ON alerts(time);
CREATE TABLE IF NOT EXISTS checkpoints (
    key TEXT PRIMARY KEY, saved TEXT NOT NULL, state BLOB NOT NULL
);
"""


def _t(dt: datetime) -> str:
    return dt.isoformat()


def _dt(text: str) -> datetime:
    return datetime.fromisoformat(text)


class SQLiteStore:
    """SQLite implementation of :class:`~seawarden.store.base.Store`."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        try:
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
            row = self._db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path}: cannot open as a seawarden store ({exc})") from exc
        if row is None:
            self._db.execute(
                "INSERT INTO meta(key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
            )
        elif int(row[0]) != SCHEMA_VERSION:
            raise StoreError(
                f"{self.path}: schema version {row[0]}, this seawarden needs {SCHEMA_VERSION}; "
                "use a new --store file"
            )
        self._db.execute("BEGIN")

    # -- writes ---------------------------------------------------------------------------
    def begin_run(self, info: RunInfo) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO runs(run_id, started, command, inputs, config, versions,"
            " status) VALUES (?, ?, ?, ?, ?, ?, 'running')",
            (
                info.run_id,
                _t(info.started),
                info.command,
                orjson.dumps(list(info.inputs)).decode(),
                orjson.dumps(info.config, option=orjson.OPT_SORT_KEYS).decode(),
                orjson.dumps(info.versions, option=orjson.OPT_SORT_KEYS).decode(),
            ),
        )
        self.commit()

    def end_run(self, run_id: str, stats: dict[str, Any], status: str) -> None:
        self._db.execute(
            "UPDATE runs SET finished=datetime('now'), stats=?, status=? WHERE run_id=?",
            (orjson.dumps(stats, option=orjson.OPT_SORT_KEYS).decode(), status, run_id),
        )
        self.commit()

    def write_positions(self, reports: Sequence[PositionReport]) -> None:
        self._db.executemany(
            "INSERT OR REPLACE INTO positions VALUES (?,?,?,?,?,?,?,?,?,?)",
            [
                (
                    r.mmsi,
                    _t(r.time),
                    r.lat,
                    r.lon,
                    r.speed_kn,
                    r.course_deg,
                    r.heading_deg,
                    r.nav_status,
                    r.msg_type,
                    r.source,
                )
                for r in reports
            ],
        )

    def upsert_vessels(self, rows: Sequence[VesselRow]) -> None:
        self._db.executemany(
            "INSERT INTO vessels VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
            " ON CONFLICT(mmsi) DO UPDATE SET last_seen=excluded.last_seen,"
            " lat=excluded.lat, lon=excluded.lon,"
            " speed_kn=excluded.speed_kn, course_deg=excluded.course_deg, imo=excluded.imo,"
            " name=excluded.name, callsign=excluded.callsign, ship_type=excluded.ship_type,"
            " flag=excluded.flag, mmsi_class=excluded.mmsi_class, watchlist=excluded.watchlist",
            [
                (
                    v.mmsi,
                    _t(v.first_seen),
                    _t(v.last_seen),
                    v.lat,
                    v.lon,
                    v.speed_kn,
                    v.course_deg,
                    v.imo,
                    v.name,
                    v.callsign,
                    v.ship_type,
                    v.flag,
                    v.mmsi_class,
                    None if v.watchlist is None else orjson.dumps(v.watchlist).decode(),
                )
                for v in rows
            ],
        )

    def write_identity(self, rows: Sequence[IdentityRow]) -> None:
        self._db.executemany(
            "INSERT OR REPLACE INTO identity_history VALUES (?,?,?,?,?,?)",
            [(r.mmsi, _t(r.time), r.field, r.old, r.new, r.source) for r in rows],
        )

    def write_events(self, events: Sequence[Event]) -> None:
        self._db.executemany(
            "INSERT OR REPLACE INTO events VALUES (?,?,?,?,?,?,?,?,?,?)",
            [
                (
                    e.id,
                    e.phase,
                    e.kind,
                    e.mmsi,
                    _t(e.time),
                    e.lat,
                    e.lon,
                    e.area_id,
                    e.producer_version,
                    orjson.dumps(dict(e.attrs), option=orjson.OPT_SORT_KEYS).decode(),
                )
                for e in events
            ],
        )

    def write_alerts(self, alerts: Sequence[Alert]) -> None:
        self._db.executemany(
            "INSERT OR REPLACE INTO alerts VALUES (?,?,?,?,?,?,?,?)",
            [
                (
                    a.id,
                    a.revision,
                    a.msg_type,
                    a.mmsi,
                    _t(a.event_time),
                    a.severity,
                    a.score,
                    orjson.dumps(a.to_dict(), option=orjson.OPT_SORT_KEYS).decode(),
                )
                for a in alerts
            ],
        )

    def alerts(self, *, mmsi: int | None = None) -> list[dict[str, Any]]:
        sql, args = "SELECT body FROM alerts", list[Any]()
        if mmsi is not None:
            sql, args = sql + " WHERE mmsi=?", [mmsi]
        rows = self._db.execute(sql + " ORDER BY time, id, revision", args)
        return [orjson.loads(r[0]) for r in rows]

    def save_checkpoint(self, key: str, state: dict[str, Any]) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO checkpoints VALUES (?, datetime('now'), ?)",
            (key, orjson.dumps(state)),
        )

    def load_checkpoint(self, key: str) -> dict[str, Any] | None:
        row = self._db.execute("SELECT state FROM checkpoints WHERE key=?", (key,)).fetchone()
        # End the read snapshot: had this transaction begun with a read, its first write
        # would fail (SQLITE_BUSY_SNAPSHOT) once another connection — the delivery worker,
        # the API — committed in between.
        self.commit()
        if row is None:
            return None
        state: dict[str, Any] = orjson.loads(row[0])
        return state

    @property
    def connection(self) -> sqlite3.Connection:
        """The store's connection, for modules that keep their tables in the same file and
        must write in the pipeline's transaction (the alert outbox)."""
        return self._db

    def commit(self) -> None:
        self._db.execute("COMMIT")
        self._db.execute("BEGIN")

    def close(self) -> None:
        if self._db.in_transaction:
            self._db.execute("COMMIT")
        self._db.close()

    # -- reads ----------------------------------------------------------------------------
    def vessel(self, mmsi: int) -> VesselRow | None:
        row = self._db.execute("SELECT * FROM vessels WHERE mmsi=?", (mmsi,)).fetchone()
        return None if row is None else _vessel(row)

    def vessels(self) -> list[VesselRow]:
        return [_vessel(r) for r in self._db.execute("SELECT * FROM vessels ORDER BY mmsi")]

    def identity_history(self, mmsi: int) -> list[IdentityRow]:
        rows = self._db.execute(
            "SELECT * FROM identity_history WHERE mmsi=? ORDER BY time, field", (mmsi,)
        )
        return [
            IdentityRow(mmsi=r[0], time=_dt(r[1]), field=r[2], old=r[3], new=r[4], source=r[5])
            for r in rows
        ]

    def track(self, mmsi: int, start: datetime, end: datetime) -> list[PositionReport]:
        rows = self._db.execute(
            "SELECT * FROM positions WHERE mmsi=? AND time>=? AND time<=? ORDER BY time",
            (mmsi, _t(start), _t(end)),
        )
        return [
            PositionReport(
                mmsi=r[0],
                time=_dt(r[1]),
                lat=r[2],
                lon=r[3],
                speed_kn=r[4],
                course_deg=r[5],
                heading_deg=r[6],
                nav_status=r[7],
                msg_type=r[8],
                source=r[9],
            )
            for r in rows
        ]

    def events(self, *, mmsi: int | None = None, kind: str | None = None) -> list[Event]:
        sql, args = "SELECT * FROM events WHERE 1=1", list[Any]()
        if mmsi is not None:
            sql, args = sql + " AND mmsi=?", [*args, mmsi]
        if kind is not None:
            sql, args = sql + " AND kind=?", [*args, kind]
        rows = self._db.execute(sql + " ORDER BY time, id, phase", args)
        return [
            Event(
                id=r[0],
                phase=r[1],
                kind=r[2],
                mmsi=r[3],
                time=_dt(r[4]),
                lat=r[5],
                lon=r[6],
                area_id=r[7],
                producer_version=r[8],
                attrs=orjson.loads(r[9]),
            )
            for r in rows
        ]

    def runs(self) -> list[dict[str, Any]]:
        cur = self._db.execute("SELECT * FROM runs ORDER BY started")
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r, strict=True)) for r in cur]


def _vessel(r: Sequence[Any]) -> VesselRow:
    return VesselRow(
        mmsi=r[0],
        first_seen=_dt(r[1]),
        last_seen=_dt(r[2]),
        lat=r[3],
        lon=r[4],
        speed_kn=r[5],
        course_deg=r[6],
        imo=r[7],
        name=r[8],
        callsign=r[9],
        ship_type=r[10],
        flag=r[11],
        mmsi_class=r[12],
        watchlist=None if r[13] is None else orjson.loads(r[13]),
    )
