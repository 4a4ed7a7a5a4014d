"""The audit log: who did what, when — every management action and every delivery.

An operations centre must be able to show afterwards who acknowledged an alert, who issued
a token, and when each ally was told. Rows are append-only; nothing in seawarden updates or
deletes them. The table lives in the same SQLite file as the rest of the store, so an
alert, its deliveries and the actions on it can be read together.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

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


def ensure_schema(conn: sqlite3.Connection) -> None:
    conn.executescript(SCHEMA)


def record(
    conn: sqlite3.Connection,
    *,
    actor: str,
    action: str,
    target: str,
    detail: dict[str, Any] | None = None,
    time: datetime | None = None,
) -> None:
    """Append one entry; the caller commits (so it lands in the same transaction as the act)."""
    when = (time or datetime.now(UTC)).astimezone(UTC).isoformat()
    conn.execute(
        "INSERT INTO audit (time, actor, action, target, detail) VALUES (?, ?, ?, ?, ?)",
        (when, actor, action, target, orjson.dumps(detail or {}, option=orjson.OPT_SORT_KEYS)),
    )


def entries(
    conn: sqlite3.Connection,
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
            time=datetime.fromisoformat(r[1]),
            actor=r[2],
            action=r[3],
            target=r[4],
            detail=orjson.loads(r[5]),
        )
        for r in conn.execute(sql, args)
    ]


__all__ = ["AuditEntry", "ensure_schema", "entries", "record"]
