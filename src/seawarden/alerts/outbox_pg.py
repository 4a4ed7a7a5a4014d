"""The durable outbox on PostgreSQL: the same rows as on SQLite, shared by many deliverers.

Enqueueing (:class:`PgWriter`, used by :class:`~seawarden.alerts.outbox.OutboxSink` on a
:class:`~seawarden.store.postgres.PostgresStore`) runs the same rules as SQLite
(:func:`~seawarden.alerts.outbox.enqueue_with`) in the store's own transaction: the alert
revision, its outbox rows and their audit rows commit together; ``ON CONFLICT (delivery_id)
DO NOTHING`` makes queueing a revision twice a no-op.

Delivery (:class:`PgDeliveryStore`, behind :class:`~seawarden.alerts.dispatch.Dispatcher`
when its store is a ``postgresql://`` DSN) has no lock file and no single worker: any number
of ``seawarden deliver`` processes, on any machines, pick from one outbox. A pick is one
statement that *claims* the rows it returns — ``SELECT … FOR UPDATE SKIP LOCKED`` (rows
another worker is claiming at that instant are skipped, not waited for) and then
``claimed_until = now + lease`` — and commits at once, so no lock is held while sending.
The worker renews the lease of its rows in flight; outcomes clear it. A worker that dies
mid-send stops renewing, and when the lease runs out another worker picks the row and sends
it again: at-least-once, and the receiver deduplicates by ``delivery_id``. Leases run on the
database's clock (``clock_timestamp()``), so deliverers' clocks need not agree; retry times
are the worker's wall clock, as on SQLite.

Times are ``timestamptz``; :func:`deliveries` hands them back as the SQLite code's
fixed-width ISO 8601 text, so a reader gets the same dicts from either store.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import time
import uuid
from collections import Counter
from collections.abc import Collection, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import psycopg

from seawarden.alerts import outbox
from seawarden.alerts.delivery_store import (
    PickedRow,
    StoreBusyError,
    Write,
    cleaned,
    lane_key,
    picked,
)
from seawarden.alerts.model import Alert
from seawarden.alerts.subscriptions import Subscription
from seawarden.errors import StoreError
from seawarden.store import audit

log = logging.getLogger(__name__)

_LANE_KEY = "(subscription_id || chr(31) || channel_index::text)"


def _ts(t: float) -> datetime:
    return datetime.fromtimestamp(t, UTC)


def _wall(value: datetime | None) -> str | None:
    return None if value is None else outbox.wall_iso(value.timestamp())


_INSERT_SQL = f"""
INSERT INTO outbox ({outbox._INSERT_COLUMNS})
SELECT * FROM unnest(%b::text[], %b::text[], %b::int[], %b::text[], %b::text[], %b::int[],
    %b::text[], %b::timestamptz[], %b::text[], %b::timestamptz[], %b::bytea[])
ON CONFLICT (delivery_id) DO NOTHING
RETURNING delivery_id
"""
_INSERT_CHUNK = 2000  # rows per INSERT: bounds one statement's parameters, not the round trips


class PgWriter:
    """:class:`~seawarden.alerts.outbox.BatchWriter` on a psycopg connection (no commit).

    After :meth:`prepare`, ``received`` and ``previous`` answer from what it read in two
    statements (the batch's alert revisions were written before, and enqueueing writes no
    alerts); rows go in with one ``INSERT … SELECT FROM unnest(…)`` per few thousand."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn
        self._received: tuple[set[str], set[tuple[str, str]]] | None = None
        self._previous: dict[str, list[tuple[int, datetime]]] | None = None

    def prepare(self, alerts: Sequence[Alert]) -> None:
        # Only follow-ups ask whether a subscription received the alert, and only updates
        # and cancels name earlier revisions.
        later = sorted({a.id for a in alerts if a.revision > 1})
        got = self.conn.execute(
            "SELECT DISTINCT subscription_id, alert_id FROM outbox WHERE alert_id = ANY(%s)",
            (later,),
        ).fetchall()
        self._received = (set(later), {(str(s), str(a)) for s, a in got})
        follow = sorted({a.id for a in alerts if a.msg_type != "Alert"})
        self._previous = {i: [] for i in follow}
        for aid, rev, t in self.conn.execute(
            "SELECT id, revision, time FROM alerts WHERE id = ANY(%s) ORDER BY id, revision",
            (follow,),
        ):
            self._previous[aid].append((int(rev), t))

    def received(self, subscription_id: str, alert_id: str) -> bool:
        if self._received is not None and alert_id in self._received[0]:
            return (subscription_id, alert_id) in self._received[1]
        row = self.conn.execute(
            "SELECT 1 FROM outbox WHERE alert_id=%s AND subscription_id=%s LIMIT 1",
            (alert_id, subscription_id),
        ).fetchone()
        return row is not None

    def previous(self, alert: Alert) -> list[tuple[int, datetime]]:
        if self._previous is not None and alert.id in self._previous:
            return [(r, t) for r, t in self._previous[alert.id] if r < alert.revision]
        rows = self.conn.execute(
            "SELECT revision, time FROM alerts WHERE id=%s AND revision<%s ORDER BY revision",
            (alert.id, alert.revision),
        ).fetchall()
        return [(int(r), t) for r, t in rows]

    def insert(self, row: tuple[Any, ...]) -> bool:
        return bool(self.insert_many([row]))

    def insert_many(self, rows: Sequence[tuple[Any, ...]]) -> set[str]:
        added: set[str] = set()
        for start in range(0, len(rows), _INSERT_CHUNK):
            chunk = rows[start : start + _INSERT_CHUNK]
            cols = [list(c) for c in zip(*chunk, strict=True)]
            cols[7] = [_ts(t) for t in cols[7]]
            cols[9] = [_ts(t) for t in cols[9]]
            added.update(r[0] for r in self.conn.execute(_INSERT_SQL, cols))
        return added

    def audited(self, target: str, action: str) -> bool:
        seen = self.conn.execute(
            "SELECT 1 FROM audit WHERE target=%s AND action=%s LIMIT 1", (target, action)
        ).fetchone()
        return seen is not None

    def audit(self, action: str, target: str, detail: dict[str, Any]) -> None:
        audit.record(self.conn, actor="system", action=action, target=target, detail=detail)

    def audit_many(self, entries: Sequence[tuple[str, str, dict[str, Any]]]) -> None:
        if entries:
            audit.record_many(self.conn, [("system", *e) for e in entries])


def enqueue(
    conn: psycopg.Connection[Any],
    alerts: Sequence[Alert],
    subscriptions: Sequence[Subscription],
    *,
    sender: str = outbox.DEFAULT_SENDER,
    now: float | None = None,
) -> int:
    """:func:`seawarden.alerts.outbox.enqueue` on PostgreSQL (the caller commits)."""
    return outbox.enqueue_with(PgWriter(conn), alerts, subscriptions, sender=sender, now=now)


# -- delivery -------------------------------------------------------------------------------
# A lane is what a deliverer claims: it keeps a recipient's order and its pause across
# workers. A pick is one transaction of two statements. The first takes the lanes' advisory
# locks (``pg_try_advisory_xact_lock``; a lane another worker is picking right now is left
# for the next pass). The second, whose snapshot is taken after those locks were granted
# (so it sees every earlier picker's committed claims), reads each lane's oldest pending rows
# by the outbox_lane index and claims only the prefix up to the first row that is not due
# (the lane is paused: a retry rescheduled it) or is claimed by another worker: a later row
# never overtakes an earlier one, whoever holds it. Rows of other channel labels (a
# subscription changed by a config this worker does not have yet) are neither picked nor
# blocking. The claim (``claimed_until`` lease) is what holds rows once the pick commits.
_LANE_LOCK_SQL = """
SELECT l.sid, l.idx, l.room, l.label, l.held FROM unnest(%(sids)s::text[], %(idxs)s::int[],
    %(room)s::int[], %(labels)s::text[], %(held)s::int[]) AS l(sid, idx, room, label, held)
WHERE pg_try_advisory_xact_lock(%(ns)s, hashtext(l.sid || chr(31) || l.idx::text))
"""
_LANE_NS = 0x5EA0  # the first key of the two-key advisory locks: "seawarden outbox lanes"
_PICK_SQL = """
WITH lanes AS (
    SELECT * FROM unnest(%(sids)s::text[], %(idxs)s::int[], %(room)s::int[],
        %(labels)s::text[], %(held)s::int[]) AS l(sid, idx, room, label, held)
), head AS (
    SELECT h.*, l.room, bool_or(h.blocked) OVER w AS behind, count(*) FILTER
        (WHERE NOT h.mine) OVER w AS nth
    FROM lanes l CROSS JOIN LATERAL (
        SELECT delivery_id, created, alert_id, revision,
            delivery_id = ANY(%(exclude)s::text[]) OR coalesce(claimed_by = %(me)s
                AND claimed_until >= clock_timestamp(), false) AS mine,
            NOT (%(all)s OR next_attempt <= %(now)s) OR coalesce(claimed_until >=
                clock_timestamp() AND claimed_by <> %(me)s, false) AS blocked
        FROM outbox
        WHERE subscription_id = l.sid AND channel_index = l.idx AND status = 'pending'
            AND channel = l.label
        ORDER BY created, alert_id, revision
        LIMIT l.room + l.held
    ) h
    WINDOW w AS (PARTITION BY l.sid, l.idx ORDER BY h.created, h.alert_id, h.revision)
), chosen AS (
    SELECT delivery_id, created, alert_id, revision FROM head
    WHERE NOT behind AND NOT mine AND nth <= room
    ORDER BY created, alert_id, revision
    LIMIT %(limit)s
)
UPDATE outbox SET claimed_until = clock_timestamp() + make_interval(secs => %(lease)s),
    claimed_by = %(me)s
FROM chosen c LEFT JOIN alerts a ON a.id = c.alert_id AND a.revision = c.revision
WHERE outbox.delivery_id = c.delivery_id AND outbox.status = 'pending'
RETURNING outbox.delivery_id, outbox.alert_id, outbox.revision, outbox.subscription_id,
    outbox.channel, outbox.channel_index, outbox.attempts, outbox.created, outbox.payload,
    a.body->>'releasability'
"""
_CLAIMABLE = "status = 'pending' AND (claimed_until IS NULL OR claimed_until < clock_timestamp())"
# Pending rows of lanes (or channel labels) this worker is not configured for. On a shared
# store they may be another worker's, newer config (a rolling change): never buried here,
# only reported, once per lane, every ``UNKNOWN_EVERY_S``.
_UNKNOWN_SQL = f"""
SELECT subscription_id, channel_index, channel, COUNT(*) FROM outbox
WHERE status = 'pending'
    AND NOT ({_LANE_KEY} || chr(31) || channel) = ANY(%(configured)s::text[])
GROUP BY subscription_id, channel_index, channel
"""
UNKNOWN_EVERY_S = 10.0

_TRANSIENT = (psycopg.OperationalError, psycopg.errors.TransactionRollback)


class PgDeliveryStore:
    """:class:`~seawarden.alerts.delivery_store.DeliveryStore` on PostgreSQL: claims with
    ``FOR UPDATE SKIP LOCKED`` and a lease, so several workers share one outbox."""

    def __init__(self, dsn: str, *, lease_s: float) -> None:
        from seawarden.store.postgres import PostgresStore

        # Opening the store checks the DSN (no password in it), the server and the schema,
        # and migrates it: a deliverer may be the first process to reach a new database.
        store = PostgresStore(dsn)
        self.name = store.name
        self._params = {**store._params, "application_name": "seawarden-deliver"}
        store.close()
        self.dsn = dsn
        self.lease_s = lease_s
        self.worker = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self._db: psycopg.Connection[Any] | None = None
        self._unknown_at = float("-inf")
        self._unknown_seen: set[tuple[str, int, str]] = set()
        self._held: dict[str, tuple[str, int]] = {}  # claimed by pick, not yet applied
        with self._errors("cannot open the outbox"):
            self._connect()

    def _connect(self) -> psycopg.Connection[Any]:
        if self._db is None or self._db.closed:
            self._db = psycopg.connect(self.dsn, autocommit=True, **self._params)
            self._db.execute("SET TimeZone TO 'UTC'")
        return self._db

    @contextlib.contextmanager
    def _errors(self, what: str) -> Iterator[None]:
        """A lost connection or a deadlock: :class:`StoreBusyError` (the worker retries,
        reconnecting); anything else: :class:`StoreError`."""
        try:
            yield
        except _TRANSIENT as exc:
            if self._db is not None and self._db.closed:
                self._db = None
            raise StoreBusyError(f"{self.name}: {what} ({_first_line(exc)})") from exc
        except psycopg.Error as exc:
            raise StoreError(f"{self.name}: {what} ({_first_line(exc)})") from exc

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
        # A lane holds at most ``depth`` rows of this worker's at once (picked, outcome not
        # yet applied): the rows it still holds count against that.
        labels = labels or {}
        skip = set(paused)
        held = Counter(self._held.values())
        room = {k: depth - held[k] for k in lanes if lane_key(*k) not in skip and k in labels}
        open_lanes = [k for k, n in room.items() if n > 0]
        args: dict[str, Any] = {
            "all": ignore_schedule,
            "now": _ts(now),
            "exclude": list(exclude),
            "sids": [k[0] for k in open_lanes],
            "idxs": [k[1] for k in open_lanes],
            "room": [room[k] for k in open_lanes],
            "labels": [labels[k] for k in open_lanes],
            "held": [held[k] for k in open_lanes],
            "ns": _LANE_NS,
            "limit": limit,
            "lease": self.lease_s,
            "me": self.worker,
        }
        try:
            with self._errors("outbox claim failed"):
                conn = self._connect()
                rows = []
                if open_lanes:
                    with conn.transaction():
                        got = conn.execute(_LANE_LOCK_SQL, args).fetchall()
                        if got:
                            args |= dict(
                                zip(
                                    ("sids", "idxs", "room", "labels", "held"),
                                    (list(c) for c in zip(*got, strict=True)),
                                    strict=True,
                                )
                            )
                            rows = conn.execute(_PICK_SQL, args).fetchall()
                if time.monotonic() - self._unknown_at >= UNKNOWN_EVERY_S:
                    self._unknown_at = time.monotonic()
                    self._report_unknown(
                        conn, [f"{lane_key(*k)}\x1f{v}" for k, v in labels.items()]
                    )
        except StoreBusyError as exc:
            log.warning("%s; retrying", exc)
            return []
        got_rows = sorted(
            (picked(r, r[7].timestamp()) for r in rows),
            key=lambda p: (p.created, p.alert_id, p.revision),
        )
        for p in got_rows:
            self._held[p.delivery_id] = (p.subscription_id, p.channel_index)
        return got_rows

    def _report_unknown(self, conn: psycopg.Connection[Any], configured: list[str]) -> None:
        """Log, once per lane, pending rows this worker does not deliver (not configured
        here: another worker's newer config may be); they stay pending, never buried."""
        for sid, idx, channel, n in conn.execute(_UNKNOWN_SQL, {"configured": configured}):
            key = (str(sid), int(idx), str(channel))
            if key not in self._unknown_seen:
                self._unknown_seen.add(key)
                log.warning(
                    "%d pending deliveries to %s (subscription %r, channel %d) are not in this"
                    " worker's subscriptions; left pending for a worker that has them",
                    n,
                    channel,
                    sid,
                    idx,
                )

    def due_count(self, now: float, paused: Sequence[str]) -> int:
        with self._errors("outbox read failed"):
            row = (
                self._connect()
                .execute(
                    f"SELECT COUNT(*) FROM outbox WHERE {_CLAIMABLE} AND next_attempt <= %s"
                    f" AND NOT {_LANE_KEY} = ANY(%s::text[])",
                    (_ts(now), list(paused)),
                )
                .fetchone()
            )
        return 0 if row is None else int(row[0])

    def next_due_after(self, now: float) -> float | None:
        with self._errors("outbox read failed"):
            row = (
                self._connect()
                .execute(
                    "SELECT MIN(next_attempt) FROM outbox"
                    " WHERE status = 'pending' AND next_attempt > %s",
                    (_ts(now),),
                )
                .fetchone()
            )
        return None if row is None or row[0] is None else float(row[0].timestamp())

    def apply(self, writes: Sequence[Write]) -> None:
        with self._errors("recording outcomes failed"):
            conn = self._connect()
            with conn.transaction():
                self._apply(conn, writes)
        for w in writes:
            self._held.pop(w.delivery_id, None)

    def _apply(self, conn: psycopg.Connection[Any], writes: Sequence[Write]) -> None:
        """One statement per kind of outcome (a batch is mostly deliveries), then the audit
        rows in one pipelined insert. The outcomes touch distinct rows, so the order of
        the statements does not change the result."""
        me, unclaim = self.worker, "claimed_until = NULL, claimed_by = NULL"
        # Sorted by key: two workers' batches lock rows in the same order (no deadlock cycle).
        writes = sorted((cleaned(w) for w in writes), key=lambda w: w.delivery_id)
        done = [w for w in writes if w.kind == "delivered"]
        if done:
            # Delivered is delivered, whoever holds the claim now.
            conn.execute(
                f"UPDATE outbox SET status = 'delivered', attempts = u.attempts,"
                f" delivered = u.at, last_error = NULL, {unclaim}"
                " FROM unnest(%s::text[], %s::int[], %s::timestamptz[]) AS u(id, attempts, at)"
                " WHERE delivery_id = u.id AND status = 'pending'",
                (
                    [w.delivery_id for w in done],
                    [w.attempts for w in done],
                    [_ts(w.at) for w in done],
                ),
            )
        dead = [w for w in writes if w.kind == "dead"]
        if dead:
            conn.execute(
                "UPDATE outbox SET status = 'dead', attempts = u.attempts,"
                f" last_error = u.error, {unclaim}"
                " FROM unnest(%s::text[], %s::int[], %s::text[]) AS u(id, attempts, error)"
                " WHERE delivery_id = u.id AND status = 'pending'",
                (
                    [w.delivery_id for w in dead],
                    [w.attempts for w in dead],
                    [w.error for w in dead],
                ),
            )
        for w in writes:
            at = _ts(w.at)
            if w.kind == "defer":
                # Only while it is still ours: a row whose claim lapsed may be another's now.
                conn.execute(
                    f"UPDATE outbox SET next_attempt = GREATEST(next_attempt, %s), {unclaim}"
                    " WHERE delivery_id = %s AND status = 'pending' AND claimed_by = %s",
                    (at, w.delivery_id, me),
                )
            elif w.kind == "retry":
                conn.execute(
                    "UPDATE outbox SET attempts = %s, next_attempt = %s, last_error = %s,"
                    f" {unclaim} WHERE delivery_id = %s AND status = 'pending' AND claimed_by = %s",
                    (w.attempts, at, w.error, w.delivery_id, me),
                )
                # The lane pauses until then: its other pending rows wait with it (every worker).
                conn.execute(
                    "UPDATE outbox SET next_attempt = %s WHERE status = 'pending'"
                    " AND subscription_id = %s AND channel_index = %s AND next_attempt < %s",
                    (at, w.subscription_id, w.channel_index, at),
                )
        entries = [
            ("system", w.audit[0], f"delivery:{w.delivery_id}", w.audit[1])
            for w in writes
            if w.audit is not None
        ]
        if entries:
            audit.record_many(conn, entries)

    def renew(self, ids: Collection[str]) -> None:
        with self._errors("renewing claims failed"):
            self._connect().execute(
                "UPDATE outbox SET claimed_until = clock_timestamp() + make_interval(secs => %s)"
                " WHERE delivery_id = ANY(%s::text[]) AND claimed_by = %s AND status = 'pending'",
                (self.lease_s, list(ids), self.worker),
            )

    def release(self, ids: Collection[str]) -> None:
        if not ids:
            return
        with self._errors("releasing claims failed"):
            self._connect().execute(
                "UPDATE outbox SET claimed_until = NULL, claimed_by = NULL"
                " WHERE delivery_id = ANY(%s::text[]) AND claimed_by = %s",
                (list(ids), self.worker),
            )
        for did in ids:
            self._held.pop(did, None)

    def requeue_dead(self, *, ids: Sequence[str] | None, actor: str) -> int:
        with self._errors("requeueing dead deliveries failed"):
            return requeue_dead(self._connect(), ids=ids, actor=actor)

    def close(self) -> None:
        if self._db is not None:
            with contextlib.suppress(psycopg.Error):
                self._db.close()
            self._db = None


# -- reads and operator actions ---------------------------------------------------------------
def deliveries(
    conn: psycopg.Connection[Any],
    *,
    status: str | None = None,
    alert_id: str | None = None,
    subscription_id: str | None = None,
    limit: int = 1000,
) -> list[dict[str, Any]]:
    """:func:`seawarden.alerts.outbox.deliveries` on PostgreSQL: the same dicts (times as
    ISO 8601 text), oldest first."""
    sql, args = outbox.deliveries_query("%s", status, alert_id, subscription_id, limit)
    cur = conn.execute(sql, args)
    names = [d[0] for d in cur.description or ()]
    out = []
    for r in cur.fetchall():
        row = dict(zip(names, r, strict=True))
        for col in ("next_attempt", "created", "delivered"):
            row[col] = _wall(row[col])
        out.append(row)
    return out


def counts_by_status(conn: psycopg.Connection[Any]) -> dict[str, int]:
    rows = conn.execute("SELECT status, COUNT(*) FROM outbox GROUP BY status").fetchall()
    return dict.fromkeys(outbox.STATUSES, 0) | {str(s): int(n) for s, n in rows}


def requeue_dead(
    conn: psycopg.Connection[Any], *, ids: Sequence[str] | None = None, actor: str = "system"
) -> int:
    """Dead rows back to pending (attempts reset), audited, in one transaction."""
    now = _ts(time.time())

    def requeue(did: str) -> int | None:
        # The row is locked (FOR UPDATE) before it is read, so its previous attempts are
        # the ones this statement overwrites, whoever else requeues at the same moment.
        before = conn.execute(
            "UPDATE outbox o SET status = 'pending', attempts = 0, next_attempt = %s,"
            " created = %s, claimed_until = NULL, claimed_by = NULL"
            " FROM (SELECT delivery_id, attempts FROM outbox WHERE delivery_id = %s"
            "  AND status = 'dead' FOR UPDATE) p"
            " WHERE o.delivery_id = p.delivery_id AND length(o.payload) > 0"
            " RETURNING p.attempts",
            (now, now, did),
        ).fetchone()
        return None if before is None else int(before[0])

    with conn.transaction():
        return outbox.requeue_each(conn, ids, requeue, actor=actor)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


__all__ = [
    "PgDeliveryStore",
    "PgWriter",
    "counts_by_status",
    "deliveries",
    "enqueue",
    "requeue_dead",
]
