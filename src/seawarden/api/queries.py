"""SQL behind the API: alerts (latest revision per id), operator actions, the outbox.

Every statement takes its values as parameters. Alerts are paged newest first with a
keyset cursor on ``(time, id)`` of the latest revision, so a page costs the same however
deep the client has read and a pipeline writing meanwhile does not shift the pages.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from seawarden.alerts import outbox
from seawarden.api import db
from seawarden.api.db import table_exists
from seawarden.api.principal import Principal
from seawarden.store import audit

LEVELS: tuple[str, ...] = ("info", "low", "medium", "high", "critical")


CURSOR_PATTERN = r"^[0-9T :.+Z-]{0,40}~[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$"
_CURSOR = re.compile(CURSOR_PATTERN)


class CursorError(ValueError):
    """A cursor that is not of the ``<time>~<id>`` form."""


def encode_cursor(time: str, ident: str) -> str:
    """A page position: the sort key of the last item returned, ``<time>~<id>``.

    Not a secret and not opaque: the client has seen that item. Any string of this form is
    a valid position (the next page starts strictly after it), so no cursor can fail.
    """
    return f"{time}~{ident}"


def decode_cursor(text: str) -> tuple[str, str]:
    if not _CURSOR.match(text):
        raise CursorError("cursor must be <time>~<id>, as returned in next_cursor")
    time, _, ident = text.partition("~")
    return time, ident


# A timestamptz column as the text the SQLite store holds: an alert's time as
# ``datetime.isoformat()`` in UTC, an outbox time as ``outbox.wall_iso``; byte-wise order.
_PG_ISO = (
    "(to_char({c} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS') || CASE WHEN"
    " to_char({c} AT TIME ZONE 'UTC', 'US') = '000000' THEN '' ELSE"
    " '.' || to_char({c} AT TIME ZONE 'UTC', 'US') END || '+00:00') COLLATE \"C\""
)
_PG_WALL = 'to_char({c} AT TIME ZONE \'UTC\', \'YYYY-MM-DD"T"HH24:MI:SS.US"Z"\') COLLATE "C"'
WALL_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"  # = outbox.wall_iso


def _canonical(text: str, *, wall: bool) -> bool:
    """Whether ``text`` is a time exactly as the store writes it (every next_cursor is)."""
    try:
        t = datetime.fromisoformat(text.replace("Z", "+00:00") if wall else text)
    except ValueError:
        return False
    if t.tzinfo is None or t.utcoffset() != timedelta(0):
        return False
    return (t.strftime(WALL_FORMAT) if wall else t.isoformat()) == text


def cursor_column(conn: db.StoreConnection, column: str, text: str, *, wall: bool = False) -> str:
    """What a cursor's time ``text`` is compared with, so that the page boundary is where
    SQLite puts it. SQLite compares text, so any text is a position. On PostgreSQL a time as
    the store writes it compares with the ``timestamptz`` column itself (on its index: the
    same order); any other text with the column rendered as SQLite's text (a scan)."""
    if not db.is_pg(conn) or _canonical(text, wall=wall):
        return column
    return (_PG_WALL if wall else _PG_ISO).format(c=column)


@dataclass(frozen=True, slots=True)
class LatestRow:
    id: str
    time: str
    body: dict[str, Any]


def latest_alerts(
    conn: db.StoreConnection,
    *,
    since: datetime | None,
    min_severity: str | None,
    mmsi: int | None,
    before: tuple[str, str] | None,
    limit: int,
) -> list[LatestRow]:
    """Latest revision of each alert, newest first, after the filters."""
    sql = (
        "SELECT a.id, a.time, a.body FROM alerts a"
        " WHERE a.revision = (SELECT MAX(b.revision) FROM alerts b WHERE b.id = a.id)"
    )
    args: list[Any] = []
    if since is not None:
        sql += " AND a.time >= ?"
        args.append(since.astimezone(UTC).isoformat())
    if min_severity is not None:
        levels = LEVELS[LEVELS.index(min_severity) :]
        sql += f" AND a.severity IN ({','.join('?' * len(levels))})"
        args.extend(levels)
    if mmsi is not None:
        sql += " AND a.mmsi = ?"
        args.append(mmsi)
    # PostgreSQL: ids compare byte-wise as in SQLite (the database's collation may not)
    ident = 'a.id COLLATE "C"' if db.is_pg(conn) else "a.id"
    if before is not None:
        at = cursor_column(conn, "a.time", before[0])
        sql += f" AND ({at} < ? OR ({at} = ? AND {ident} < ?))"
        args.extend([before[0], before[0], before[1]])
    sql += f" ORDER BY a.time DESC, {ident} DESC LIMIT ?"
    args.append(limit)
    return [LatestRow(str(r[0]), str(r[1]), orjson.loads(r[2])) for r in conn.execute(sql, args)]


def revisions(conn: db.StoreConnection, alert_id: str) -> list[dict[str, Any]]:
    rows = conn.execute("SELECT body FROM alerts WHERE id = ? ORDER BY revision", (alert_id,))
    return [orjson.loads(r[0]) for r in rows]


def revisions_of(conn: db.StoreConnection, ids: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {i: [] for i in ids}
    for start in range(0, len(ids), 500):
        chunk = list(ids[start : start + 500])
        rows = conn.execute(
            f"SELECT id, body FROM alerts WHERE id IN ({','.join('?' * len(chunk))})"
            " ORDER BY id, revision",
            chunk,
        )
        for r in rows:
            out[str(r[0])].append(orjson.loads(r[1]))
    return out


# -- operator actions ------------------------------------------------------------------


def actions_of(conn: db.StoreConnection, ids: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {i: [] for i in ids}
    for start in range(0, len(ids), 500):
        chunk = list(ids[start : start + 500])
        rows = conn.execute(
            "SELECT seq, alert_id, time, actor, action, detail FROM alert_actions"
            f" WHERE alert_id IN ({','.join('?' * len(chunk))}) ORDER BY seq",
            chunk,
        )
        for r in rows:
            out[str(r[1])].append(
                {
                    "seq": int(r[0]),
                    "time": str(r[2]),
                    "actor": str(r[3]),
                    "action": str(r[4]),
                    "detail": orjson.loads(r[5]),
                }
            )
    return out


def operator_state(actions: Sequence[dict[str, Any]]) -> dict[str, str | None]:
    state: dict[str, str | None] = {}
    for a in actions:
        if a["action"] == "ack":
            state.update(acknowledged_by=a["actor"], acknowledged_at=a["time"])
        elif a["action"] == "assign":
            state.update(assigned_to=a["detail"].get("to"), assigned_by=a["actor"])
            state["assigned_at"] = a["time"]
        elif a["action"] == "close":
            state.update(closed_by=a["actor"], closed_at=a["time"])
            state["close_reason"] = a["detail"].get("reason")
        elif a["action"] == "cancel":
            state.update(cancelled_by=a["actor"], cancelled_at=a["time"])
            state["cancel_reason"] = a["detail"].get("reason")
    return state


class ConflictError(Exception):
    """The action does not apply to the alert's current state."""


def act(
    conn: db.StoreConnection,
    alert_id: str,
    principal: Principal,
    action: str,
    detail: dict[str, Any],
) -> bool:
    """Record an operator action and its audit entry in one transaction.

    Returns ``False`` if there is no such alert; raises :class:`ConflictError` for a closed one.
    """
    now = datetime.now(UTC)
    db.begin(conn)
    try:
        if (
            conn.execute("SELECT 1 FROM alerts WHERE id = ? LIMIT 1", (alert_id,)).fetchone()
            is None
        ):
            conn.execute("ROLLBACK")
            return False
        closed = conn.execute(
            "SELECT action FROM alert_actions WHERE alert_id = ?"
            " AND action IN ('close', 'cancel') LIMIT 1",
            (alert_id,),
        ).fetchone()
        if closed is not None:
            conn.execute("ROLLBACK")
            what = "closed" if closed[0] == "close" else "cancelled"
            raise ConflictError(f"the alert is {what}; no further actions apply")
        conn.execute(
            "INSERT INTO alert_actions (alert_id, time, actor, action, detail)"
            " VALUES (?, ?, ?, ?, ?)",
            (
                alert_id,
                now.isoformat(),
                principal.actor,
                action,
                audit.json_text(conn, detail, sort_keys=False),
            ),
        )
        audit.record(
            conn,
            actor=principal.actor,
            action=f"alert.{action}",
            target=f"alert:{alert_id}",
            detail=detail,
            time=now,
        )
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return True


# -- deliveries (the outbox another module owns) -----------------------------------------

OUTBOX = "outbox"
DELIVERY_FIELDS = (
    "delivery_id",
    "alert_id",
    "revision",
    "subscription_id",
    "channel",
    "status",
    "attempts",
    "next_attempt",
    "last_error",
    "created",
    "delivered",
)


def _delivery(names: Sequence[str], row: Sequence[Any]) -> dict[str, Any]:
    raw = dict(zip(names, row, strict=True))
    out: dict[str, Any] = {}
    for f in DELIVERY_FIELDS:
        v = raw.get(f)
        if f in ("revision", "attempts"):
            out[f] = v if isinstance(v, int) else None
        else:
            out[f] = None if v is None else str(v)
    out["status"] = out["status"] or "unknown"
    out["delivery_id"] = out["delivery_id"] or ""
    payload = raw.get("payload")
    out["payload_bytes"] = len(payload) if isinstance(payload, bytes | str) else None
    return out


def deliveries(
    conn: db.StoreConnection,
    *,
    status: str | None,
    before: tuple[str, str] | None,
    limit: int,
) -> list[dict[str, Any]] | None:
    """Outbox rows newest first (``None`` if this store has no outbox yet); no payloads."""
    if not table_exists(conn, OUTBOX):
        return None
    if db.is_pg(conn):
        return _pg_deliveries(conn, status=status, before=before, limit=limit)
    sql, args = f"SELECT * FROM {OUTBOX} WHERE 1=1", list[Any]()
    if status is not None:
        sql += " AND status = ?"
        args.append(status)
    if before is not None:
        sql += " AND (COALESCE(created, '') < ? OR (COALESCE(created, '') = ? AND delivery_id < ?))"
        args.extend([before[0], before[0], before[1]])
    sql += " ORDER BY COALESCE(created, '') DESC, delivery_id DESC LIMIT ?"
    args.append(limit)
    cur = conn.execute(sql, args)
    names = [d[0] for d in cur.description]
    return [_delivery(names, r) for r in cur]


_PG_TIMES = ("next_attempt", "created", "delivered")


def _wall_text(iso: str | None) -> str | None:
    """PostgreSQL's outbox time (ISO text from the API's cursor) in the fixed-width form the
    SQLite outbox stores (:func:`seawarden.alerts.outbox.wall_iso`), exactly."""
    if iso is None:
        return None
    return datetime.fromisoformat(iso).astimezone(UTC).strftime(WALL_FORMAT)


def _pg_delivery(cur: Any) -> list[dict[str, Any]]:
    names = [d[0] for d in cur.description]
    out = []
    for r in cur.fetchall():
        row = dict(zip(names, r, strict=True))
        for col in _PG_TIMES:
            row[col] = _wall_text(row[col])
        out.append(_delivery(list(row), list(row.values())))
    return out


def _pg_deliveries(
    conn: db.StoreConnection, *, status: str | None, before: tuple[str, str] | None, limit: int
) -> list[dict[str, Any]]:
    """The listing on PostgreSQL's outbox (``created`` is a timestamptz, never null), in
    the SQLite order: newest first, then delivery id byte-wise."""
    sql, args = f"SELECT * FROM {OUTBOX} WHERE true", list[Any]()
    if status is not None:
        sql += " AND status = ?"
        args.append(status)
    if before is not None:
        at = cursor_column(conn, "created", before[0], wall=True)
        sql += f' AND ({at} < ? OR ({at} = ? AND delivery_id COLLATE "C" < ?))'
        args.extend([before[0], before[0], before[1]])
    sql += ' ORDER BY created DESC, delivery_id COLLATE "C" DESC LIMIT ?'
    args.append(limit)
    return _pg_delivery(conn.execute(sql, args))


def retry_delivery(
    conn: db.StoreConnection, delivery_id: str, principal: Principal
) -> dict[str, Any] | None:
    """Put a dead delivery back in the queue (attempts 0, due now), audited; ``None`` if absent.

    The requeue itself is the outbox's own (:func:`seawarden.alerts.outbox.requeue_dead`), so
    the API and ``seawarden deliver --requeue-dead`` reset a row the same way.
    """
    if not table_exists(conn, OUTBOX):
        return None
    row = conn.execute(
        f"SELECT status, length(payload) FROM {OUTBOX} WHERE delivery_id = ?", (delivery_id,)
    ).fetchone()
    if row is None:
        return None
    if row[0] != "dead":
        raise ConflictError(f"only a dead delivery can be retried; this one is {row[0]}")
    if not row[1]:
        raise ConflictError("this delivery has no payload to send again")
    if isinstance(conn, db.PgConnection):
        from seawarden.alerts import outbox_pg

        done = outbox_pg.requeue_dead(conn.raw, ids=[delivery_id], actor=principal.actor)
    else:
        done = outbox.requeue_dead(conn, ids=[delivery_id], actor=principal.actor)
    if not done:
        raise ConflictError("the delivery changed while it was being retried; reload it")
    cur = conn.execute(f"SELECT * FROM {OUTBOX} WHERE delivery_id = ?", (delivery_id,))
    if db.is_pg(conn):
        got = _pg_delivery(cur)
        return got[0] if got else None
    names = [d[0] for d in cur.description]
    r = cur.fetchone()
    return None if r is None else _delivery(names, r)
