"""The server store: PostgreSQL + PostGIS, behind the same interface as the SQLite store.

``PostgresStore(dsn)`` connects with psycopg 3, brings the schema to the newest Alembic
revision (``store/migrations``; raw SQL, run on open under an advisory lock so two processes
starting together do not race), and then behaves like :class:`SQLiteStore`: the same upserts
("insert or replace" on the same keys), idempotent event and alert writes, checkpoints, runs,
and one transaction per :meth:`commit`. Positions and vessels carry a PostGIS
``geography(Point, 4326)`` column (GiST-indexed) for :meth:`vessels_in_area`; tracks read the
(mmsi, time) primary key.

Passwords never come through the DSN: libpq reads them from ``PGPASSWORD``, ``~/.pgpass`` or
a service file, and a DSN that carries one is refused (it would show in the process list, the
shell history and the logs). :func:`redact_dsn` is what gets printed.

psycopg, Alembic and SQLAlchemy are the optional extra ``seawarden[postgres]``; this module
imports them only when a PostgreSQL store is opened, so the SQLite default needs none of them.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from seawarden.alerts.model import Alert
from seawarden.errors import StoreError
from seawarden.model import Event, PositionReport
from seawarden.store.base import IdentityRow, RunInfo, VesselRow

try:
    import psycopg
    from psycopg import conninfo as _conninfo
    from psycopg.types.json import set_json_loads
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise StoreError(
        "a postgresql:// store needs the optional dependencies: pip install 'seawarden[postgres]'"
    ) from exc

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).with_name("migrations")
_MIGRATION_LOCK = 0x5EA_3A2D  # pg_advisory_lock key: one migrating process at a time
DEFAULT_CONNECT_TIMEOUT_S = 10
SCHEMES = ("postgresql://", "postgres://")

_VESSEL_COLS = (
    "mmsi, first_seen, last_seen, lat, lon, speed_kn, course_deg, imo, name, callsign,"
    " ship_type, flag, mmsi_class, watchlist"
)
_POSITION_COLS = (
    "mmsi, time, lat, lon, speed_kn, course_deg, heading_deg, nav_status, msg_type, source"
)

# Session temp tables the batched writes COPY into (see _copy_upsert).
_STAGING = (
    "CREATE TEMP TABLE IF NOT EXISTS positions_in (mmsi bigint, time timestamptz,"
    " lat double precision, lon double precision, speed_kn double precision,"
    " course_deg double precision, heading_deg integer, nav_status integer,"
    " msg_type integer, source text)",
    "CREATE TEMP TABLE IF NOT EXISTS vessels_in (mmsi bigint, first_seen timestamptz,"
    " last_seen timestamptz, lat double precision, lon double precision,"
    " speed_kn double precision, course_deg double precision, imo bigint, name text,"
    " callsign text, ship_type integer, flag text, mmsi_class text, watchlist jsonb)",
)

# The spatial reads, module-level so a test can EXPLAIN exactly what the store runs.
# ST_Intersects on two geographies is index-assisted (the GiST on vessels.geog); edges are
# geodesics, so spatial.parse_area densifies the polygon first (see there).
VESSELS_IN_AREA_SQL = (
    f"SELECT {_VESSEL_COLS} FROM vessels"
    " WHERE ST_Intersects(geog, ST_GeogFromText(%(area)s))"
    " AND (%(since)s::timestamptz IS NULL OR last_seen >= %(since)s::timestamptz)"
    " ORDER BY mmsi LIMIT %(limit)s"
)
POSITIONS_IN_AREA_SQL = (
    f"SELECT {_POSITION_COLS} FROM positions"
    " WHERE ST_Intersects(geog, ST_GeogFromText(%(area)s))"
    " AND time >= %(start)s AND time <= %(end)s"
    " ORDER BY time, mmsi LIMIT %(limit)s"
)
TRACK_SQL = (
    f"SELECT {_POSITION_COLS} FROM positions"
    " WHERE mmsi = %(mmsi)s AND time >= %(start)s AND time <= %(end)s ORDER BY time"
)


def is_dsn(target: str | Path) -> bool:
    """Whether ``target`` names a PostgreSQL database rather than a SQLite file."""
    return isinstance(target, str) and target.startswith(SCHEMES)


def redact_dsn(dsn: str) -> str:
    """``postgresql://user@host:port/dbname`` for logs and messages: never a password, and
    nothing of a DSN that does not parse."""
    try:
        params = _conninfo.conninfo_to_dict(dsn)
    except psycopg.Error:
        return "postgresql://<unparseable DSN>"
    user = params.get("user")
    host = str(params.get("host") or "")
    port = params.get("port")
    db = params.get("dbname")
    where = f"{host}:{port}" if port else host
    return f"postgresql://{f'{user}@' if user else ''}{where}/{db or ''}"


class PostgresStore:
    """PostgreSQL implementation of :class:`~seawarden.store.base.Store`."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.name = redact_dsn(dsn)
        try:
            params = _conninfo.conninfo_to_dict(dsn)
        except psycopg.Error as exc:
            raise StoreError(
                f"{self.name}: not a valid PostgreSQL DSN ({_first_line(exc)})"
            ) from exc
        if params.get("password"):
            raise StoreError(
                f"{self.name}: the DSN carries a password; give it in PGPASSWORD, ~/.pgpass or a"
                " pg_service.conf service instead (a DSN shows in process lists and shell history)"
            )
        extra: dict[str, Any] = {}
        if "connect_timeout" not in params:
            extra["connect_timeout"] = DEFAULT_CONNECT_TIMEOUT_S
        if "application_name" not in params:
            extra["application_name"] = "seawarden"
        self._params = extra
        with self._errors("cannot open as a seawarden store"):
            self._db = psycopg.connect(dsn, autocommit=True, **extra)
        try:
            with self._errors("cannot open as a seawarden store"):
                self._db.execute("SET TimeZone TO 'UTC'")
                set_json_loads(orjson.loads, self._db)
                migrate(self)
                for sql in _STAGING:
                    self._db.execute(sql)
                self._db.autocommit = False
        except BaseException:
            self._db.close()
            raise
        log.info("store: %s", self.name)

    @contextlib.contextmanager
    def _errors(self, what: str) -> Iterator[None]:
        """psycopg errors as :class:`StoreError` naming the (redacted) database."""
        try:
            yield
        except psycopg.Error as exc:
            raise StoreError(f"{self.name}: {what} ({_first_line(exc)})") from exc

    def connect_migrations(self) -> psycopg.Connection[Any]:
        """A second connection, for Alembic (SQLAlchemy owns and closes it)."""
        conn = psycopg.connect(self.dsn, autocommit=True, **self._params)
        conn.execute("SET TimeZone TO 'UTC'")
        return conn

    # -- writes ---------------------------------------------------------------------------
    def begin_run(self, info: RunInfo) -> None:
        self._db.execute(
            "INSERT INTO runs (run_id, started, command, inputs, config, versions, status)"
            " VALUES (%s, %s, %s, %s, %s, %s, 'running')"
            " ON CONFLICT (run_id) DO UPDATE SET started=excluded.started,"
            " finished=NULL, command=excluded.command, inputs=excluded.inputs,"
            " config=excluded.config, versions=excluded.versions, stats=NULL, status='running'",
            (
                info.run_id,
                info.started,
                info.command,
                orjson.dumps(list(info.inputs)).decode(),
                orjson.dumps(info.config, option=orjson.OPT_SORT_KEYS).decode(),
                orjson.dumps(info.versions, option=orjson.OPT_SORT_KEYS).decode(),
            ),
        )
        self.commit()

    def end_run(self, run_id: str, stats: dict[str, Any], status: str) -> None:
        self._db.execute(
            "UPDATE runs SET finished=now(), stats=%s, status=%s WHERE run_id=%s",
            (orjson.dumps(stats, option=orjson.OPT_SORT_KEYS).decode(), status, run_id),
        )
        self.commit()

    def write_positions(self, reports: Sequence[PositionReport]) -> None:
        # One batch may hold the same (mmsi, time) twice: the last one wins, as INSERT OR
        # REPLACE does (and ON CONFLICT cannot touch a row twice in one statement).
        last = {(r.mmsi, r.time): r for r in reports}
        self._copy_upsert(
            "positions_in",
            _POSITION_COLS,
            [
                (
                    r.mmsi,
                    r.time,
                    r.lat,
                    r.lon,
                    r.speed_kn,
                    r.course_deg,
                    r.heading_deg,
                    r.nav_status,
                    r.msg_type,
                    r.source,
                )
                for r in last.values()
            ],
            "INSERT INTO positions ({cols}) SELECT {cols} FROM positions_in"
            " ON CONFLICT (mmsi, time) DO UPDATE SET lat=excluded.lat, lon=excluded.lon,"
            " speed_kn=excluded.speed_kn, course_deg=excluded.course_deg,"
            " heading_deg=excluded.heading_deg, nav_status=excluded.nav_status,"
            " msg_type=excluded.msg_type, source=excluded.source",
        )

    def upsert_vessels(self, rows: Sequence[VesselRow]) -> None:
        # the latest row per vessel, with the first_seen of the first (as row-by-row would)
        first: dict[int, datetime] = {}
        latest: dict[int, VesselRow] = {}
        for v in rows:
            first.setdefault(v.mmsi, v.first_seen)
            latest[v.mmsi] = v
        self._copy_upsert(
            "vessels_in",
            _VESSEL_COLS,
            [
                (
                    v.mmsi,
                    first[v.mmsi],
                    v.last_seen,
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
                for v in latest.values()
            ],
            "INSERT INTO vessels ({cols}) SELECT {cols} FROM vessels_in"
            " ON CONFLICT (mmsi) DO UPDATE SET last_seen=excluded.last_seen,"
            " lat=excluded.lat, lon=excluded.lon,"
            " speed_kn=excluded.speed_kn, course_deg=excluded.course_deg, imo=excluded.imo,"
            " name=excluded.name, callsign=excluded.callsign, ship_type=excluded.ship_type,"
            " flag=excluded.flag, mmsi_class=excluded.mmsi_class,"
            " watchlist=excluded.watchlist",
        )

    def _copy_upsert(
        self, staging: str, cols: str, rows: list[tuple[Any, ...]], upsert: str
    ) -> None:
        """COPY ``rows`` into a session temp table, then one INSERT … SELECT … ON CONFLICT:
        about five times the rate of a pipelined executemany."""
        if not rows:
            return
        with self._db.cursor() as cur:
            with cur.copy(f"COPY {staging} ({cols}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            cur.execute(upsert.format(cols=cols))
            cur.execute(f"TRUNCATE {staging}")

    def write_identity(self, rows: Sequence[IdentityRow]) -> None:
        with self._db.cursor() as cur:
            cur.executemany(
                "INSERT INTO identity_history (mmsi, time, field, old, new, source)"
                " VALUES (%s,%s,%s,%s,%s,%s) ON CONFLICT (mmsi, time, field) DO UPDATE"
                " SET old=excluded.old, new=excluded.new, source=excluded.source",
                [(r.mmsi, r.time, r.field, r.old, r.new, r.source) for r in rows],
            )

    def write_events(self, events: Sequence[Event]) -> None:
        with self._db.cursor() as cur:
            cur.executemany(
                "INSERT INTO events (id, phase, kind, mmsi, time, lat, lon, area_id,"
                " producer_version, attrs) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)"
                " ON CONFLICT (id, phase, time) DO UPDATE SET kind=excluded.kind,"
                " mmsi=excluded.mmsi, lat=excluded.lat, lon=excluded.lon,"
                " area_id=excluded.area_id, producer_version=excluded.producer_version,"
                " attrs=excluded.attrs",
                [
                    (
                        e.id,
                        e.phase,
                        e.kind,
                        e.mmsi,
                        e.time,
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
        with self._db.cursor() as cur:
            cur.executemany(
                "INSERT INTO alerts (id, revision, msg_type, mmsi, time, severity, score, body)"
                " VALUES (%s,%s,%s,%s,%s,%s,%s,%s) ON CONFLICT (id, revision) DO UPDATE"
                " SET msg_type=excluded.msg_type, mmsi=excluded.mmsi, time=excluded.time,"
                " severity=excluded.severity, score=excluded.score, body=excluded.body",
                [
                    (
                        a.id,
                        a.revision,
                        a.msg_type,
                        a.mmsi,
                        a.event_time,
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
            sql, args = sql + " WHERE mmsi=%s", [mmsi]
        rows = self._db.execute(sql + " ORDER BY time, id, revision", args).fetchall()
        return [r[0] for r in rows]

    def save_checkpoint(self, key: str, state: dict[str, Any]) -> None:
        self._db.execute(
            "INSERT INTO checkpoints (key, saved, state) VALUES (%s, now(), %s)"
            " ON CONFLICT (key) DO UPDATE SET saved=excluded.saved, state=excluded.state",
            (key, orjson.dumps(state)),
        )

    def load_checkpoint(self, key: str) -> dict[str, Any] | None:
        row = self._db.execute("SELECT state FROM checkpoints WHERE key=%s", (key,)).fetchone()
        self.commit()  # as SQLiteStore: a read ends the transaction (and commits pending writes)
        if row is None:
            return None
        state: dict[str, Any] = orjson.loads(row[0])
        return state

    @property
    def connection(self) -> psycopg.Connection[Any]:
        """The store's connection (its transaction is the pipeline's batch)."""
        return self._db

    def commit(self) -> None:
        with self._errors("commit failed"):
            self._db.commit()

    def close(self) -> None:
        if self._db.closed:
            return
        try:
            if self._db.info.transaction_status != psycopg.pq.TransactionStatus.INERROR:
                self.commit()
        finally:
            self._db.close()

    # -- reads ----------------------------------------------------------------------------
    def vessel(self, mmsi: int) -> VesselRow | None:
        row = self._db.execute(
            f"SELECT {_VESSEL_COLS} FROM vessels WHERE mmsi=%s", (mmsi,)
        ).fetchone()
        return None if row is None else _vessel(row)

    def vessels(self) -> list[VesselRow]:
        rows = self._db.execute(f"SELECT {_VESSEL_COLS} FROM vessels ORDER BY mmsi").fetchall()
        return [_vessel(r) for r in rows]

    def identity_history(self, mmsi: int) -> list[IdentityRow]:
        rows = self._db.execute(
            "SELECT mmsi, time, field, old, new, source FROM identity_history WHERE mmsi=%s"
            " ORDER BY time, field",
            (mmsi,),
        ).fetchall()
        return [
            IdentityRow(mmsi=r[0], time=r[1], field=r[2], old=r[3], new=r[4], source=r[5])
            for r in rows
        ]

    def track(self, mmsi: int, start: datetime, end: datetime) -> list[PositionReport]:
        rows = self._db.execute(TRACK_SQL, {"mmsi": mmsi, "start": start, "end": end})
        return [_position(r) for r in rows.fetchall()]

    def events(self, *, mmsi: int | None = None, kind: str | None = None) -> list[Event]:
        sql = (
            "SELECT id, phase, kind, mmsi, time, lat, lon, area_id, producer_version, attrs"
            " FROM events WHERE true"
        )
        args: list[Any] = []
        if mmsi is not None:
            sql, args = sql + " AND mmsi=%s", [*args, mmsi]
        if kind is not None:
            sql, args = sql + " AND kind=%s", [*args, kind]
        rows = self._db.execute(sql + " ORDER BY time, id, phase", args).fetchall()
        return [
            Event(
                id=r[0],
                phase=r[1],
                kind=r[2],
                mmsi=r[3],
                time=r[4],
                lat=r[5],
                lon=r[6],
                area_id=r[7],
                producer_version=r[8],
                attrs=r[9],
            )
            for r in rows
        ]

    def runs(self) -> list[dict[str, Any]]:
        """As SQLiteStore's: times as ISO 8601 text, JSON columns as (sorted-key) JSON text."""
        rows = self._db.execute(
            "SELECT run_id, started, finished, command, inputs, config, versions, stats, status"
            " FROM runs ORDER BY started"
        ).fetchall()
        out = []
        for r in rows:
            out.append(
                {
                    "run_id": r[0],
                    "started": r[1].isoformat(),
                    "finished": None if r[2] is None else r[2].isoformat(),
                    "command": r[3],
                    "inputs": _json_text(r[4]),
                    "config": _json_text(r[5]),
                    "versions": _json_text(r[6]),
                    "stats": None if r[7] is None else _json_text(r[7]),
                    "status": r[8],
                }
            )
        return out

    # -- spatial reads (index-assisted; see spatial.py for the area argument) ----------------
    def vessels_in_area(
        self, area_wkt: str, *, since: datetime | None = None, limit: int = 1000
    ) -> list[VesselRow]:
        """Vessels whose latest position lies in ``area_wkt`` (WKT, lon/lat, EPSG:4326),
        last seen at or after ``since``, by MMSI, at most ``limit``."""
        with self._errors("area query failed"):
            rows = self._db.execute(
                VESSELS_IN_AREA_SQL, {"area": area_wkt, "since": since, "limit": limit}
            ).fetchall()
        return [_vessel(r) for r in rows]

    def positions_in_area(
        self, area_wkt: str, start: datetime, end: datetime, *, limit: int = 100_000
    ) -> list[PositionReport]:
        """Stored positions inside ``area_wkt`` between ``start`` and ``end`` (inclusive)."""
        with self._errors("area query failed"):
            rows = self._db.execute(
                POSITIONS_IN_AREA_SQL,
                {"area": area_wkt, "start": start, "end": end, "limit": limit},
            ).fetchall()
        return [_position(r) for r in rows]


def migrate(store: PostgresStore) -> str:
    """Bring the database to the newest revision; refuse one at a revision this code does
    not know (a newer seawarden migrated it). Returns the revision now in place."""
    from alembic import command
    from alembic.config import Config
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory
    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    script = ScriptDirectory.from_config(cfg)
    known = {rev.revision for rev in script.walk_revisions()}
    head = script.get_current_head()
    engine = create_engine(
        "postgresql+psycopg://", creator=store.connect_migrations, poolclass=NullPool
    )
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _MIGRATION_LOCK})
            conn.commit()
            try:
                schema = conn.execute(text("SELECT current_schema()")).scalar()
                if schema is None:
                    raise StoreError(
                        f"{store.name}: no schema of the search_path exists to create tables in"
                    )
                # the version table lives beside the tables (a schema later in the
                # search_path may hold another seawarden's)
                opts = {"version_table_schema": schema}
                current = MigrationContext.configure(conn, opts=opts).get_current_heads()
                conn.commit()
                unknown = [rev for rev in current if rev not in known]
                if unknown:
                    raise StoreError(
                        f"{store.name}: schema revision {', '.join(unknown)} is newer than this"
                        f" seawarden knows (its newest is {head}); upgrade seawarden, or use"
                        " another database"
                    )
                if tuple(current) != (head,):
                    log.info("%s: migrating schema %s -> %s", store.name, current or "-", head)
                    cfg.attributes["connection"] = conn
                    cfg.attributes["version_table_schema"] = schema
                    command.upgrade(cfg, "head")
                    conn.commit()
            finally:
                conn.rollback()
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _MIGRATION_LOCK})
                conn.commit()
    except StoreError:
        raise
    except psycopg.Error as exc:
        raise StoreError(
            f"{store.name}: schema migration failed ({_first_line(exc)}){_hint(exc)}"
        ) from exc
    except Exception as exc:  # SQLAlchemy wraps psycopg errors in its own DBAPIError
        orig = getattr(exc, "orig", None)
        if isinstance(orig, psycopg.Error):
            raise StoreError(
                f"{store.name}: schema migration failed ({_first_line(orig)}){_hint(orig)}"
            ) from exc
        raise
    finally:
        engine.dispose()
    return str(head)


def _hint(exc: psycopg.Error) -> str:
    if isinstance(exc, psycopg.errors.InsufficientPrivilege | psycopg.errors.UndefinedFile):
        return (
            "; PostGIS must be installed on the server and created in the database by a"
            " superuser: CREATE EXTENSION postgis"
        )
    return ""


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _json_text(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


def _position(r: Sequence[Any]) -> PositionReport:
    return PositionReport(
        mmsi=r[0],
        time=r[1],
        lat=r[2],
        lon=r[3],
        speed_kn=r[4],
        course_deg=r[5],
        heading_deg=r[6],
        nav_status=r[7],
        msg_type=r[8],
        source=r[9],
    )


def _vessel(r: Sequence[Any]) -> VesselRow:
    return VesselRow(
        mmsi=r[0],
        first_seen=r[1],
        last_seen=r[2],
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
        watchlist=r[13],
    )
