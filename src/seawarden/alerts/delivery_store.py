"""The delivery worker's storage: what it reads from and writes to the outbox, per store.

:class:`~seawarden.alerts.dispatch.Dispatcher` decides everything — which rows go to which
lane, when to retry, when to give up, what to audit — and speaks to the outbox only through
:class:`DeliveryStore`: *pick* due rows, *apply* a batch of outcomes in one transaction, and
a few reads for its schedule. :class:`SQLiteDeliveryStore` is the embedded store's (one
worker per file, held by a lock file in the dispatcher); the PostgreSQL one, which lets
several workers on several machines share one outbox by claiming rows with ``FOR UPDATE
SKIP LOCKED`` and a lease, is :class:`seawarden.alerts.outbox_pg.PgDeliveryStore`.
"""

from __future__ import annotations

import contextlib
import logging
import re
import sqlite3
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal, Protocol

import orjson

from seawarden.alerts import outbox
from seawarden.errors import StoreError
from seawarden.store import audit

log = logging.getLogger(__name__)

# A lane's key in SQL, as ``Dispatcher._paused_lanes`` writes it.
_LANE_KEY = "(subscription_id || char(31) || channel_index)"


class StoreBusyError(Exception):
    """The outbox cannot be written right now (locked, connection lost); try again later."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PickedRow:
    """One outbox row handed to a lane."""

    delivery_id: str
    alert_id: str
    revision: int
    subscription_id: str
    channel: str
    channel_index: int
    attempts: int
    created: float
    payload: bytes
    releasability: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Write:
    """One recorded outcome, as the store must apply it.

    ``delivered``: status delivered at ``at``. ``retry``: pending, next attempt at ``at``,
    and the lane's other pending rows not before then. ``dead``: status dead. ``defer``:
    not attempted, next attempt not before ``at``. ``audit`` is (action, detail) or None.
    """

    kind: Literal["delivered", "retry", "dead", "defer"]
    delivery_id: str
    subscription_id: str
    channel_index: int
    attempts: int = 0
    at: float = 0.0
    error: str | None = None
    audit: tuple[str, dict[str, Any]] | None = field(default=None)


class DeliveryStore(Protocol):
    """The outbox as the delivery worker sees it (one instance per worker, one thread)."""

    name: str

    def pick(
        self,
        *,
        now: float,
        paused: Sequence[str],
        depth: int,
        limit: int,
        ignore_schedule: bool,
        exclude: Collection[str],
        lanes: Sequence[tuple[str, int]] = (),
        labels: Mapping[tuple[str, int], str] | None = None,
    ) -> list[PickedRow]:
        """Pending rows, oldest first, at most ``depth`` per lane and ``limit`` in all, not
        in ``paused`` lanes nor ``exclude``; due at ``now`` unless ``ignore_schedule``. A
        store shared by several workers claims them (no other worker gets them until they
        are applied, released, or their claim lapses). ``lanes`` are the configured
        (subscription, channel index) pairs: a store may read those lanes by index, and
        rows of any other lane (a subscription since removed) only now and then. ``labels``
        are those lanes' channel labels: a shared store picks only rows of these."""
        ...

    def due_count(self, now: float, paused: Sequence[str]) -> int:
        """Due pending rows outside ``paused`` lanes that this worker could pick."""
        ...

    def next_due_after(self, now: float) -> float | None:
        """The earliest next attempt of a pending row after ``now``."""
        ...

    def apply(self, writes: Sequence[Write]) -> None:
        """All of ``writes`` (and their audit rows) in one transaction; :class:`StoreBusyError`
        if it cannot be done now (nothing is written then)."""
        ...

    def renew(self, ids: Collection[str]) -> None:
        """Keep the claims on ``ids`` (rows in flight) alive."""
        ...

    def release(self, ids: Collection[str]) -> None:
        """Give up the claims on ``ids`` (picked, not attempted, outcome not recorded)."""
        ...

    def requeue_dead(self, *, ids: Sequence[str] | None, actor: str) -> int: ...

    def close(self) -> None: ...


def picked(r: Sequence[Any], created: float) -> PickedRow:
    """A pick query's row — delivery_id, alert_id, revision, subscription_id, channel,
    channel_index, attempts, created, payload, releasability — with ``created`` read by
    the store (its own time format)."""
    return PickedRow(
        delivery_id=r[0],
        alert_id=r[1],
        revision=int(r[2]),
        subscription_id=r[3],
        channel=r[4],
        channel_index=int(r[5]),
        attempts=int(r[6]),
        created=created,
        payload=bytes(r[8]),
        releasability=r[9],
    )


def lane_key(subscription_id: str, channel_index: int) -> str:
    return f"{subscription_id}\x1f{channel_index}"


# C0 controls (but tab, newline, carriage return) and DEL: a recipient's reply may hold any
# byte, and PostgreSQL refuses NUL in text and jsonb (the outcome could not be recorded).
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def clean_text(text: str) -> str:
    """``text`` with control characters written as ``\\xNN`` (readable, storable anywhere)."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {clean_text(str(k)): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def cleaned(w: Write) -> Write:
    """``w`` with its error and audit detail free of control characters (both stores)."""
    error = None if w.error is None else clean_text(w.error)
    entry = None if w.audit is None else (w.audit[0], _clean(w.audit[1]))
    return replace(w, error=error, audit=entry)


class SQLiteDeliveryStore:
    """The outbox in a SQLite file (WAL; outcomes in short ``BEGIN IMMEDIATE`` transactions)."""

    def __init__(self, db_path: str, *, busy_timeout_s: float) -> None:
        self.name = db_path
        try:
            self.db = sqlite3.connect(
                db_path, isolation_level=None, timeout=busy_timeout_s, check_same_thread=False
            )
            self.db.execute("PRAGMA journal_mode=WAL")
            outbox.ensure_schema(self.db)
            audit.ensure_schema(self.db)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{db_path}: cannot open the outbox ({exc})") from exc

    def pick(
        self,
        *,
        now: float,
        paused: Sequence[str],
        depth: int,
        limit: int,
        ignore_schedule: bool,
        exclude: Collection[str],
        lanes: Sequence[tuple[str, int]] = (),
        labels: Mapping[tuple[str, int], str] | None = None,
    ) -> list[PickedRow]:
        where = "status='pending'"
        args: list[object] = []
        if not ignore_schedule:
            where += f" AND next_attempt<=? AND {_LANE_KEY} NOT IN (SELECT value FROM json_each(?))"
            args += [outbox.wall_iso(now), orjson.dumps(list(paused))]
        sql = (
            "WITH ranked AS (SELECT delivery_id, created, alert_id, revision,"
            " ROW_NUMBER() OVER (PARTITION BY subscription_id, channel_index"
            "  ORDER BY created, alert_id, revision) AS rn"
            f" FROM outbox WHERE {where})"
            " SELECT o.delivery_id, o.alert_id, o.revision, o.subscription_id, o.channel,"
            " o.channel_index, o.attempts, o.created, o.payload,"
            " json_extract(a.body, '$.releasability')"
            " FROM ranked r JOIN outbox o ON o.delivery_id = r.delivery_id"
            " LEFT JOIN alerts a ON a.id = o.alert_id AND a.revision = o.revision"
            " WHERE r.rn <= ?"
            " ORDER BY r.created, r.alert_id, r.revision LIMIT ?"
        )
        args += [depth, limit]
        try:
            rows = self.db.execute(sql, args).fetchall()
        except sqlite3.OperationalError as exc:
            log.warning("outbox read failed (%s); retrying", exc)
            return []
        return [picked(r, outbox.parse_wall(r[7])) for r in rows if r[0] not in exclude]

    def due_count(self, now: float, paused: Sequence[str]) -> int:
        row = self.db.execute(
            "SELECT COUNT(*) FROM outbox WHERE status='pending' AND next_attempt<=?"
            f" AND {_LANE_KEY} NOT IN (SELECT value FROM json_each(?))",
            (outbox.wall_iso(now), orjson.dumps(list(paused))),
        ).fetchone()
        return int(row[0])

    def next_due_after(self, now: float) -> float | None:
        row = self.db.execute(
            "SELECT MIN(next_attempt) FROM outbox WHERE status='pending' AND next_attempt>?",
            (outbox.wall_iso(now),),
        ).fetchone()
        return None if row[0] is None else outbox.parse_wall(row[0])

    def apply(self, writes: Sequence[Write]) -> None:
        try:
            self.db.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise StoreBusyError(str(exc)) from exc
        try:
            for w in writes:
                self._apply_one(cleaned(w))
            self.db.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                self.db.execute("ROLLBACK")
            raise

    def _apply_one(self, w: Write) -> None:
        db, at = self.db, outbox.wall_iso(w.at)
        if w.kind == "defer":
            db.execute(
                "UPDATE outbox SET next_attempt=? WHERE delivery_id=? AND status='pending'"
                " AND next_attempt<?",
                (at, w.delivery_id, at),
            )
        elif w.kind == "delivered":
            db.execute(
                "UPDATE outbox SET status='delivered', attempts=?, delivered=?, last_error=NULL"
                " WHERE delivery_id=? AND status='pending'",
                (w.attempts, at, w.delivery_id),
            )
        elif w.kind == "retry":
            db.execute(
                "UPDATE outbox SET attempts=?, next_attempt=?, last_error=?"
                " WHERE delivery_id=? AND status='pending'",
                (w.attempts, at, w.error, w.delivery_id),
            )
            # The lane pauses until then: its other pending rows wait with it.
            db.execute(
                "UPDATE outbox SET next_attempt=? WHERE status='pending'"
                " AND subscription_id=? AND channel_index=? AND next_attempt<?",
                (at, w.subscription_id, w.channel_index, at),
            )
        else:
            db.execute(
                "UPDATE outbox SET status='dead', attempts=?, last_error=?"
                " WHERE delivery_id=? AND status='pending'",
                (w.attempts, w.error, w.delivery_id),
            )
        if w.audit is not None:
            action, detail = w.audit
            audit.record(
                db, actor="system", action=action, target=f"delivery:{w.delivery_id}", detail=detail
            )

    def renew(self, ids: Collection[str]) -> None:
        pass  # one worker per file (the lock file): nothing to claim

    def release(self, ids: Collection[str]) -> None:
        pass

    def requeue_dead(self, *, ids: Sequence[str] | None, actor: str) -> int:
        return outbox.requeue_dead(self.db, ids=ids, actor=actor)

    def close(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            self.db.close()


__all__ = [
    "DeliveryStore",
    "PickedRow",
    "SQLiteDeliveryStore",
    "StoreBusyError",
    "Write",
    "clean_text",
    "cleaned",
    "lane_key",
    "picked",
]
