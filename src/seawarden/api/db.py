"""The API's own connection to the store file, separate from the pipeline's.

The pipeline may be writing the same SQLite file at the same moment; in WAL mode readers
never block it and it never blocks readers. Each request opens its own short-lived
connection (cheap for SQLite, and no connection is shared between threads); writes (operator
actions, token changes, retries) are short ``BEGIN IMMEDIATE`` transactions that wait up to
``busy_timeout`` for the pipeline's batch to commit.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from seawarden.api import tokens
from seawarden.errors import StoreError

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


def connect(path: Path, *, busy_timeout_ms: int = 5000) -> sqlite3.Connection:
    """Open an existing store file (never creates one) in autocommit mode."""
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
def connection(path: Path, *, busy_timeout_ms: int = 5000) -> Iterator[sqlite3.Connection]:
    conn = connect(path, busy_timeout_ms=busy_timeout_ms)
    try:
        yield conn
    finally:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        conn.close()


def ensure_schema(path: Path) -> None:
    """Create the API's tables (tokens, alert actions, audit) if missing; checks the store."""
    with connection(path) as conn:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            has_alerts = conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type='table' AND name='alerts'"
            ).fetchone()
            if has_alerts is None:
                raise StoreError(
                    f"{path}: not a seawarden store (no alerts table); "
                    "create it with `seawarden replay --store`"
                )
            tokens.ensure_schema(conn)
            conn.executescript(ACTIONS_SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{path}: cannot use the store ({exc})") from exc


def table_exists(conn: sqlite3.Connection, name: str) -> bool:
    row = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (name,)
    ).fetchone()
    return row is not None
