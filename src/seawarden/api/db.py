"""The API's own connection to the store, separate from the pipeline's: SQLite or PostgreSQL.

SQLite: the pipeline may be writing the same file at the same moment; in WAL mode readers
never block it and it never blocks readers. Each request opens its own short-lived
connection (cheap for SQLite, and no connection is shared between threads); writes (operator
actions, token changes, retries) are short ``BEGIN IMMEDIATE`` transactions that wait up to
``busy_timeout`` for the pipeline's batch to commit.

PostgreSQL (a ``postgresql://`` DSN as the store): the API speaks the same SQL to a
:class:`PgConnection`, a thin wrapper over a psycopg 3 connection that

- translates the ``?`` placeholders of the API's statements to psycopg's ``%s``;
- reads ``timestamptz`` back as the ISO 8601 text the SQLite store writes
  (``datetime.isoformat()`` in UTC) and ``json``/``jsonb`` as their text, so every reader
  parses one format whichever store it is on (``bytea`` stays ``bytes``, as a BLOB);
- raises the DB-API errors as sqlite3 spells them (``IntegrityError``, ``OperationalError``
  for a lock wait over ``busy_timeout`` or a lost server, ``DatabaseError`` otherwise), so
  the API's error handling is one code path.

The few statements that differ between the dialects branch here (:func:`begin`,
:func:`table_exists`, :func:`ensure_schema`) or, where a whole query differs (the outbox
listing, the bounding-box read), in the module that owns the query, on :func:`is_pg`. The
API's tables on PostgreSQL come from the store's migrations (revision 0004), not from
``CREATE TABLE IF NOT EXISTS`` at start.
"""

from __future__ import annotations

import atexit
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC
from pathlib import Path
from typing import TYPE_CHECKING, Any

from seawarden.errors import StoreError

if TYPE_CHECKING:
    import psycopg

StoreTarget = Path | str  # a SQLite file, or a postgresql:// DSN (a str is always a DSN)
SCHEMES = ("postgresql://", "postgres://")  # = seawarden.store.postgres.SCHEMES
# pg_advisory_xact_lock key of the API's write transactions: they run one at a time, as
# SQLite's BEGIN IMMEDIATE makes them (a check-then-write such as "not closed yet, so
# close it" stays atomic against a second operator doing the same).
_WRITE_LOCK = 0x5EA_A91

ACTIONS_SCHEMA = """
CREATE TABLE IF NOT EXISTS alert_actions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    alert_id TEXT NOT NULL,
    time TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS alert_actions_alert ON alert_actions(alert_id, seq);
"""


def is_dsn(target: StoreTarget) -> bool:
    """Whether ``target`` names a PostgreSQL database (:func:`seawarden.store.postgres.is_dsn`,
    without importing psycopg, which the SQLite default does not need)."""
    return isinstance(target, str) and target.startswith(SCHEMES)


def store_target(text: str | Path) -> StoreTarget:
    """A ``--store`` value as the API takes it: a DSN stays text, anything else is a path
    (``Path("postgresql://h/db")`` would fold the ``//``)."""
    return text if isinstance(text, str) and is_dsn(text) else Path(text)


def display_name(target: StoreTarget) -> str:
    """``target`` for messages and logs: a DSN without any password."""
    from seawarden.store import display_name as name

    return name(target)


# -- PostgreSQL ---------------------------------------------------------------------------------


class PgCursor:
    """The part of a sqlite3 cursor the API uses, over a psycopg cursor (rows are tuples)."""

    def __init__(self, cur: psycopg.Cursor[Any]) -> None:
        self._cur = cur

    @property
    def description(self) -> Sequence[Any]:
        return self._cur.description or ()

    @property
    def rowcount(self) -> int:
        return self._cur.rowcount

    def fetchone(self) -> Any:
        return _translated(self._cur.fetchone)

    def fetchall(self) -> list[Any]:
        rows: list[Any] = _translated(self._cur.fetchall)
        return rows

    def __iter__(self) -> Iterator[Any]:
        return iter(self.fetchall())


class PgConnection:
    """A psycopg connection (autocommit) that answers like the API's sqlite3 connection.

    As with sqlite3, :meth:`close` may be called again (a no-op) and a closed connection
    raises ``sqlite3.ProgrammingError``: its session is back in the idle pool by then, in
    use by another request, so running SQL on it would run inside that request's session."""

    def __init__(self, raw: psycopg.Connection[Any], *, pool_key: tuple[str, int]) -> None:
        self._raw: psycopg.Connection[Any] | None = raw
        self.pool_key = pool_key

    @property
    def raw(self) -> psycopg.Connection[Any]:
        """The psycopg connection (for the outbox_pg functions, which take psycopg's types)."""
        raw = self._raw
        if raw is None:
            raise sqlite3.ProgrammingError("Cannot operate on a closed database.")
        return raw

    @property
    def closed(self) -> bool:
        return self._raw is None

    @property
    def in_transaction(self) -> bool:
        import psycopg

        return self.raw.info.transaction_status != psycopg.pq.TransactionStatus.IDLE

    def execute(self, sql: str, params: Sequence[Any] | Mapping[str, Any] = (), /) -> PgCursor:
        cur = self.raw.cursor()
        for name, loader in _loaders():
            cur.adapters.register_loader(name, loader)
        if "?" in sql:  # the API's own statements; audit.py hands over %s already
            sql = sql.replace("%", "%%").replace("?", "%s")
        args = params if isinstance(params, Mapping) else list(params)
        _translated(lambda: cur.execute(sql, args or None))
        return PgCursor(cur)

    def cursor(self) -> psycopg.Cursor[Any]:
        """A plain psycopg cursor (audit.record_many pipelines its inserts on one)."""
        return self.raw.cursor()

    def close(self) -> None:
        """Hand the connection back for reuse (closed if it cannot be reused); once."""
        raw, self._raw = self._raw, None
        if raw is not None:
            _POOL.give(self.pool_key, raw)


def _translated(call: Any) -> Any:
    """Run ``call``; a psycopg error comes out as the sqlite3 error of the same DB-API kind."""
    import psycopg

    try:
        return call()
    except psycopg.errors.IntegrityError as exc:
        raise sqlite3.IntegrityError(_first_line(exc)) from exc
    except (psycopg.errors.LockNotAvailable, psycopg.errors.QueryCanceled) as exc:
        # lock_timeout (= busy_timeout) ran out: the same "busy" the SQLite path reports
        raise sqlite3.OperationalError(f"database is locked ({_first_line(exc)})") from exc
    except psycopg.OperationalError as exc:
        raise sqlite3.OperationalError(_first_line(exc)) from exc
    except psycopg.Error as exc:
        raise sqlite3.DatabaseError(_first_line(exc)) from exc


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


_LOADERS: list[tuple[str, Any]] = []


def _loaders() -> list[tuple[str, Any]]:
    """Result loaders of the API's cursors: timestamptz as SQLite's ISO text, JSON as text."""
    if _LOADERS:
        return _LOADERS
    from psycopg.adapt import Loader
    from psycopg.types.datetime import TimestamptzLoader

    class IsoTimestamptz(TimestamptzLoader):
        def load(self, data: Any) -> str:  # type: ignore[override]  # text, not datetime
            return super().load(data).astimezone(UTC).isoformat()

    class JsonText(Loader):
        def load(self, data: Any) -> str:
            return bytes(data).decode("utf-8")

    _LOADERS.extend([("timestamptz", IsoTimestamptz), ("json", JsonText), ("jsonb", JsonText)])
    return _LOADERS


class _IdlePool:
    """PostgreSQL connections a finished request left, for the next one (a connect costs
    ~8 ms on loopback with authentication; each request needs one, and its token lookup
    another). Bounded in all (``MAX_IDLE``), least recently used store first out; a
    connection is pinged before reuse and never kept with a transaction open."""

    MAX_IDLE = 8

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._idle: OrderedDict[tuple[str, int], list[psycopg.Connection[Any]]] = OrderedDict()

    def take(self, key: tuple[str, int]) -> psycopg.Connection[Any] | None:
        import psycopg

        while True:
            with self._lock:
                free = self._idle.get(key)
                if not free:
                    return None
                raw = free.pop()
            try:
                raw.execute("SELECT 1")  # the server may have ended an idle session
                return raw
            except psycopg.Error:
                raw.close()

    def give(self, key: tuple[str, int], raw: psycopg.Connection[Any]) -> None:
        import psycopg

        if raw.closed or raw.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            raw.close()
            return
        evicted = []
        with self._lock:
            free = self._idle.setdefault(key, [])
            if any(c is raw for c in free):  # given back twice: one session, one slot
                return
            free.append(raw)
            self._idle.move_to_end(key)
            while sum(len(v) for v in self._idle.values()) > self.MAX_IDLE:
                oldest = next(iter(self._idle))
                evicted.append(self._idle[oldest].pop(0))
                if not self._idle[oldest]:
                    del self._idle[oldest]
        for c in evicted:
            c.close()

    def close_all(self) -> None:
        with self._lock:
            conns = [c for v in self._idle.values() for c in v]
            self._idle.clear()
        for c in conns:
            c.close()


_POOL = _IdlePool()
atexit.register(_POOL.close_all)


def close_idle() -> None:
    """Close the idle PostgreSQL connections kept for reuse (tests; a shutting-down app)."""
    _POOL.close_all()


def _pg_connect(dsn: str, *, busy_timeout_ms: int) -> PgConnection:
    import psycopg
    from psycopg import conninfo

    key = (dsn, int(busy_timeout_ms))
    reused = _POOL.take(key)
    if reused is not None:
        return PgConnection(reused, pool_key=key)
    name = display_name(dsn)
    try:
        params = conninfo.conninfo_to_dict(dsn)
    except psycopg.Error as exc:
        raise StoreError(f"{name}: not a valid PostgreSQL DSN ({_first_line(exc)})") from exc
    if params.get("password"):
        raise StoreError(
            f"{name}: the DSN carries a password; give it in PGPASSWORD, ~/.pgpass or a"
            " pg_service.conf service instead"
        )
    extra: dict[str, Any] = {}
    if "connect_timeout" not in params:
        extra["connect_timeout"] = 10
    if "application_name" not in params:
        extra["application_name"] = "seawarden-api"
    try:
        raw = psycopg.connect(dsn, autocommit=True, **extra)
    except psycopg.Error as exc:
        raise StoreError(f"{name}: cannot connect ({_first_line(exc)})") from exc
    try:
        raw.execute("SET TimeZone TO 'UTC'")
        raw.execute(f"SET lock_timeout = {int(busy_timeout_ms)}")
    except psycopg.Error as exc:
        raw.close()
        raise StoreError(f"{name}: cannot use the store ({_first_line(exc)})") from exc
    return PgConnection(raw, pool_key=key)


# -- both ---------------------------------------------------------------------------------------

StoreConnection = sqlite3.Connection | PgConnection


def is_pg(conn: StoreConnection) -> bool:
    return isinstance(conn, PgConnection)


def connect(target: StoreTarget, *, busy_timeout_ms: int = 5000) -> StoreConnection:
    """Open an existing store (never creates one) in autocommit mode."""
    if isinstance(target, str):
        if not is_dsn(target):
            raise StoreError(f"{target}: neither a store file path nor a postgresql:// DSN")
        return _pg_connect(target, busy_timeout_ms=busy_timeout_ms)
    path = target
    if not path.is_file():
        raise StoreError(f"{path}: no such store; create it with `seawarden replay --store`")
    try:
        conn = sqlite3.connect(
            f"file:{path.resolve()}?mode=rw",
            uri=True,
            isolation_level=None,
            check_same_thread=False,
            timeout=busy_timeout_ms / 1000,
        )
        conn.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{path}: cannot open the store ({exc})") from exc
    return conn


@contextmanager
def connection(target: StoreTarget, *, busy_timeout_ms: int = 5000) -> Iterator[StoreConnection]:
    conn = connect(target, busy_timeout_ms=busy_timeout_ms)
    try:
        yield conn
    finally:
        try:
            if _open(conn) and conn.in_transaction:
                conn.execute("ROLLBACK")
        finally:
            conn.close()


def _open(conn: StoreConnection) -> bool:
    """Whether ``conn`` is still open (the block may have closed it already)."""
    if isinstance(conn, PgConnection):
        return not conn.closed
    try:
        conn.in_transaction  # noqa: B018 - sqlite3 has no 'closed'; this raises when closed
    except sqlite3.ProgrammingError:
        return False
    return True


def begin(conn: StoreConnection) -> None:
    """Start one of the API's write transactions (the caller commits or rolls back)."""
    if isinstance(conn, PgConnection):
        conn.execute("BEGIN")
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_WRITE_LOCK,))
    else:
        conn.execute("BEGIN IMMEDIATE")


def exists(target: StoreTarget) -> bool:
    """Whether ``target`` holds a seawarden store already (a file; an ``alerts`` table)."""
    if not isinstance(target, str):
        return target.is_file()
    with connection(target) as conn:
        return table_exists(conn, "alerts")


def ensure_schema(target: StoreTarget) -> None:
    """Make the store ready for the API; checks it is a seawarden store.

    SQLite: create the API's tables (tokens, alert actions, audit) if missing.
    PostgreSQL: bring the schema to the newest migration (the API's tables are revision
    0004), as opening the pipeline's store does."""
    if isinstance(target, str):
        if not exists(target):
            raise StoreError(
                f"{display_name(target)}: not a seawarden store (no alerts table); "
                "create it with `seawarden replay --store`"
            )
        from seawarden.store.postgres import PostgresStore

        PostgresStore(target).close()  # migrates (under the store's advisory lock)
        return
    with connection(target) as conn:
        if not isinstance(conn, sqlite3.Connection):  # pragma: no cover - a path is SQLite
            raise AssertionError
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            if not table_exists(conn, "alerts"):
                raise StoreError(
                    f"{target}: not a seawarden store (no alerts table); "
                    "create it with `seawarden replay --store`"
                )
            from seawarden.api import tokens

            tokens.ensure_schema(conn)
            conn.executescript(ACTIONS_SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{target}: cannot use the store ({exc})") from exc


def table_exists(conn: StoreConnection, name: str) -> bool:
    if isinstance(conn, PgConnection):  # in the search_path, as unqualified names resolve
        return conn.execute("SELECT to_regclass(?) IS NOT NULL", (name,)).fetchone()[0] is True
    row = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (name,)
    ).fetchone()
    return row is not None
