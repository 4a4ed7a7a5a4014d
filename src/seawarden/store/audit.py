"""The audit log: who did what, when — every management action and every delivery.

An operations centre must be able to show afterwards who acknowledged an alert, who issued
a token, and when each ally was told. Rows are append-only; nothing in seawarden updates or
deletes them. The table lives in the same database as the rest of the store (the SQLite
file, or the PostgreSQL schema, where migration 0002 creates it), so an alert, its
deliveries and the actions on it can be read together.

:func:`record` and :func:`entries` take either a ``sqlite3`` or a psycopg connection: the
statements are the same but for the parameter style, and PostgreSQL hands back
``timestamptz`` and ``jsonb`` already parsed.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import orjson

SCHEMA = """
CREATE TABLE IF NOT EXISTS audit (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    time TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_target ON audit(target, seq);
"""


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditEntry:
    seq: int
    time: datetime
    actor: str  # "token:<name>", "system", "cli:<user>"
    action: str  # "alert.ack", "token.create", "delivery.ok", "delivery.dead", ...
    target: str  # "alert:<id>", "token:<name>", "delivery:<id>"
    detail: dict[str, Any]


class _Conn(Protocol):
    """What both drivers' connections offer: ``execute(sql, params)`` returning a cursor."""

    def execute(self, query: Any, params: Any = ..., /) -> Any: ...

    def cursor(self) -> Any: ...


def _sql(conn: object, sql: str) -> str:
    """``sql`` in the connection's parameter style (sqlite3: ``?``; psycopg: ``%s``)."""
    return sql if isinstance(conn, sqlite3.Connection) else sql.replace("?", "%s")


# orjson writes U+0000 as the escape \u0000; it is that escape when an even number of
# backslashes (each written \\) comes before it, else the text of an escaped backslash.
_NUL_ESCAPE = re.compile(rb"(?<!\\)((?:\\\\)*)\\u0000")


def pg_text(text: str) -> str:
    """``text`` as PostgreSQL can store it: NUL, which ``text`` cannot hold, as U+FFFD."""
    return text.replace("\x00", "\ufffd")


def json_text(conn: object, detail: dict[str, Any] | None, *, sort_keys: bool = True) -> str:
    """A detail as JSON text for ``conn``'s store. PostgreSQL's ``jsonb`` refuses the
    ``\\u0000`` escape, so there a NUL is stored as U+FFFD: the API refuses NUL in its bodies
    already, and no other path may turn one into a failed write."""
    body = orjson.dumps(detail or {}, option=orjson.OPT_SORT_KEYS if sort_keys else None)
    if not isinstance(conn, sqlite3.Connection) and b"\\u0000" in body:
        body = _NUL_ESCAPE.sub(rb"\1\\ufffd", body)
    return body.decode()


def ensure_schema(conn: sqlite3.Connection) -> None:
    """SQLite only: on PostgreSQL the table comes with the store's migrations."""
    conn.executescript(SCHEMA)


def record(
    conn: sqlite3.Connection | _Conn,
    *,
    actor: str,
    action: str,
    target: str,
    detail: dict[str, Any] | None = None,
    time: datetime | None = None,
) -> None:
    """Append one entry; the caller commits (so it lands in the same transaction as the act)."""
    when = (time or datetime.now(UTC)).astimezone(UTC)
    body = json_text(conn, detail)
    if isinstance(conn, sqlite3.Connection):
        args: tuple[Any, ...] = (when.isoformat(), actor, action, target, body.encode())
    else:  # timestamptz, text, jsonb
        args = (when, pg_text(actor), pg_text(action), pg_text(target), body)
    sql = "INSERT INTO audit (time, actor, action, target, detail) VALUES (?, ?, ?, ?, ?)"
    conn.execute(_sql(conn, sql), args)


def record_many(
    conn: sqlite3.Connection | _Conn,
    rows: Sequence[tuple[str, str, str, dict[str, Any]]],
    *,
    time: datetime | None = None,
) -> None:
    """Append (actor, action, target, detail) entries at once (psycopg pipelines them);
    the caller commits."""
    when = (time or datetime.now(UTC)).astimezone(UTC)
    lite = isinstance(conn, sqlite3.Connection)
    args = [
        (when.isoformat(), actor, action, target, json_text(conn, detail).encode())
        if lite
        else (when, pg_text(actor), pg_text(action), pg_text(target), json_text(conn, detail))
        for actor, action, target, detail in rows
    ]
    sql = "INSERT INTO audit (time, actor, action, target, detail) VALUES (?, ?, ?, ?, ?)"
    if isinstance(conn, sqlite3.Connection):
        conn.executemany(sql, args)
    else:
        cur = conn.cursor()
        try:
            cur.executemany(_sql(conn, sql), args)
        finally:
            cur.close()


def entries(
    conn: sqlite3.Connection | _Conn,
    *,
    target: str | None = None,
    action_prefix: str | None = None,
    limit: int = 1000,
    after_seq: int = 0,
) -> list[AuditEntry]:
    sql = "SELECT seq, time, actor, action, target, detail FROM audit WHERE seq > ?"
    args: list[Any] = [after_seq]
    if target is not None:
        sql += " AND target = ?"
        args.append(target)
    if action_prefix is not None:
        sql += " AND action LIKE ? ESCAPE '\\'"
        escaped = action_prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        args.append(escaped + "%")
    sql += " ORDER BY seq LIMIT ?"
    args.append(max(1, min(limit, 10_000)))
    return [
        AuditEntry(
            seq=int(r[0]),
            time=r[1] if isinstance(r[1], datetime) else datetime.fromisoformat(r[1]),
            actor=r[2],
            action=r[3],
            target=r[4],
            detail=r[5] if isinstance(r[5], dict) else orjson.loads(r[5]),
        )
        for r in conn.execute(_sql(conn, sql), args)
    ]


__all__ = [
    "AuditEntry",
    "ensure_schema",
    "entries",
    "json_text",
    "pg_text",
    "record",
    "record_many",
]
