"""The durable outbox: an alert revision is committed before anyone is told, and never lost.

"Immediately warn the allies" must survive a crash, a restart and a recipient that is down
for an hour. So delivery is split in two. The pipeline side (:class:`OutboxSink`, an
:class:`~seawarden.alerts.sinks.AlertSink`) writes the revision to the store's ``alerts``
table and one ``outbox`` row per (subscription, channel) it must reach, in the *same*
transaction, and commits before returning; only then is the delivery worker
(:mod:`seawarden.alerts.dispatch`) woken to send it. A process killed at any point leaves
either no trace of the revision (it will be produced again on ``--resume``) or the revision
with all its pending deliveries (the next worker sends them). Delivery is at-least-once;
each row's ``delivery_id`` — a hash of (alert id, revision, subscription id, channel index)
— is the idempotency key a receiver deduplicates by, and the primary key that makes
re-queueing a revision a no-op (``INSERT OR IGNORE``).

Who gets what (``decide``): a first revision goes to subscriptions it
:func:`~seawarden.alerts.subscriptions.matches` (releasable to the whole audience, status,
severity, areas, watchlist). A later revision (Update, Cancel) of an alert a subscription
already received goes to it whatever its severity or area — a watch officer must see the
Cancel — but still only if releasable: a marking that narrowed withholds it. A withheld
follow-up (``delivery.withheld``) and a row dead when queued (``cannot render``,
``delivery.dead``) are audited in the same transaction as the revision.

The table (read by the API as written here; times are wall-clock ISO 8601 UTC)::

    outbox(delivery_id TEXT PK, alert_id, revision, subscription_id,
           channel TEXT      -- "webhook:https://host/path": kind and target, no secrets
           channel_index INTEGER, status TEXT  -- pending | delivered | dead
           attempts, next_attempt, last_error, created, delivered, payload BLOB)

On PostgreSQL the same table comes with the store's migrations (0002: ``timestamptz`` times,
``bytea`` payload, plus the deliverers' claim columns); :mod:`seawarden.alerts.outbox_pg`
writes it through the same rules (:func:`enqueue_with`) and reads it back in this shape.
"""

from __future__ import annotations

import hashlib
import logging
import sqlite3
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import orjson

from seawarden.alerts.channels import label
from seawarden.alerts.model import Alert
from seawarden.alerts.releasability import releasable
from seawarden.alerts.subscriptions import Channel, Subscription, matches
from seawarden.store import audit
from seawarden.store.sqlite import SQLiteStore

if TYPE_CHECKING:
    from seawarden.store.postgres import PostgresStore

log = logging.getLogger(__name__)

STATUSES = ("pending", "delivered", "dead")

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS outbox (
        delivery_id TEXT PRIMARY KEY,
        alert_id TEXT NOT NULL,
        revision INTEGER NOT NULL,
        subscription_id TEXT NOT NULL,
        channel TEXT NOT NULL,
        channel_index INTEGER NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'dead')),
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt TEXT NOT NULL,
        last_error TEXT,
        created TEXT NOT NULL,
        delivered TEXT,
        payload BLOB NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS outbox_due ON outbox(status, next_attempt)",
    "CREATE INDEX IF NOT EXISTS outbox_alert ON outbox(alert_id, subscription_id)",
)

DEFAULT_SENDER = "seawarden"  # CAP <sender>; a deployment sets its own (e.g. its domain)


def ensure_schema(conn: sqlite3.Connection) -> None:
    """Create the outbox table; statement by statement, so an open transaction stays open."""
    for stmt in SCHEMA:
        conn.execute(stmt)


def wall_iso(t: float | None = None) -> str:
    """Wall-clock time as fixed-width ISO 8601 UTC (sorts as text)."""
    when = datetime.fromtimestamp(time.time() if t is None else t, UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_wall(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def delivery_id(alert_id: str, revision: int, subscription_id: str, channel_index: int) -> str:
    """The idempotency key of one revision to one channel of one subscription."""
    key = f"{alert_id}\x1f{revision}\x1f{subscription_id}\x1f{channel_index}"
    return hashlib.sha256(key.encode()).hexdigest()[:32]


class OutboxWriter(Protocol):
    """The few statements :func:`enqueue_with` needs, for one store's connection.

    The rules (who gets what, what is dead at birth, what is audited) are the same on every
    store; only the SQL differs. :class:`_SQLiteWriter` is SQLite's; the PostgreSQL one is
    in :mod:`seawarden.alerts.outbox_pg`.
    """

    def received(self, subscription_id: str, alert_id: str) -> bool:
        """Whether any revision of ``alert_id`` was queued for ``subscription_id``."""

    def previous(self, alert: Alert) -> list[tuple[int, datetime]]:
        """(revision, event time) of the stored revisions of ``alert`` before it."""

    def insert(self, row: tuple[Any, ...]) -> bool:
        """Insert one outbox row (the order of ``_INSERT_COLUMNS``) unless its delivery_id
        is there; True if inserted."""

    def audited(self, target: str, action: str) -> bool:
        """Whether an audit row for (target, action) exists."""

    def audit(self, action: str, target: str, detail: dict[str, Any]) -> None:
        """Append a system audit row in the current transaction."""


@runtime_checkable
class BatchWriter(OutboxWriter, Protocol):
    """An :class:`OutboxWriter` that writes a whole batch in a few statements (a server
    store, where every statement is a round trip)."""

    def prepare(self, alerts: Sequence[Alert]) -> None:
        """Read at once what ``received`` and ``previous`` will be asked about ``alerts``."""

    def insert_many(self, rows: Sequence[tuple[Any, ...]]) -> set[str]:
        """Insert the rows whose delivery_id is not there yet; the delivery ids inserted."""

    def audit_many(self, entries: Sequence[tuple[str, str, dict[str, Any]]]) -> None:
        """Append system audit rows (action, target, detail), in order."""


_INSERT_COLUMNS = (
    "delivery_id, alert_id, revision, subscription_id, channel, channel_index, status,"
    " next_attempt, last_error, created, payload"
)


class _SQLiteWriter:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def received(self, subscription_id: str, alert_id: str) -> bool:
        row = self.conn.execute(
            "SELECT 1 FROM outbox WHERE alert_id=? AND subscription_id=? LIMIT 1",
            (alert_id, subscription_id),
        ).fetchone()
        return row is not None

    def previous(self, alert: Alert) -> list[tuple[int, datetime]]:
        rows = self.conn.execute(
            "SELECT revision, time FROM alerts WHERE id=? AND revision<? ORDER BY revision",
            (alert.id, alert.revision),
        ).fetchall()
        return [(int(r), datetime.fromisoformat(t)) for r, t in rows]

    def insert(self, row: tuple[Any, ...]) -> bool:
        cur = self.conn.execute(
            f"INSERT OR IGNORE INTO outbox ({_INSERT_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (*row[:7], wall_iso(row[7]), row[8], wall_iso(row[9]), row[10]),
        )
        return cur.rowcount > 0

    def audited(self, target: str, action: str) -> bool:
        _ensure_audit(self.conn)
        seen = self.conn.execute(
            "SELECT 1 FROM audit WHERE target=? AND action=? LIMIT 1", (target, action)
        ).fetchone()
        return seen is not None

    def audit(self, action: str, target: str, detail: dict[str, Any]) -> None:
        _ensure_audit(self.conn)
        audit.record(self.conn, actor="system", action=action, target=target, detail=detail)


def decide(conn: sqlite3.Connection, sub: Subscription, alert: Alert) -> str | None:
    """None if ``alert`` goes to ``sub``; else why not (for the log)."""
    return decide_with(_SQLiteWriter(conn), sub, alert)


def decide_with(db: OutboxWriter, sub: Subscription, alert: Alert) -> str | None:
    """:func:`decide` on any store."""
    if alert.revision > 1 and db.received(sub.id, alert.id):
        if not releasable(alert.releasability, sub.audience):
            return f"follow-up withheld: {alert.releasability} does not cover the audience"
        if alert.status not in sub.statuses:
            return f"status {alert.status} not subscribed"
        return None
    return None if matches(sub, alert) else "no match"


def envelope(alert: Alert, sub: Subscription, did: str) -> dict[str, Any]:
    """The JSON body of a webhook/MQTT/e-mail delivery."""
    return {
        "delivery_id": did,
        "subscription_id": sub.id,
        "recipient": sub.recipient,
        "alert": alert.to_dict(),
    }


def payload(
    conn: sqlite3.Connection,
    alert: Alert,
    sub: Subscription,
    channel: Channel,
    did: str,
    *,
    sender: str,
) -> bytes:
    """The bytes a channel will send, fixed when queued so every retry sends the same."""
    return payload_with(_SQLiteWriter(conn), alert, sub, channel, did, sender=sender)


def payload_with(
    db: OutboxWriter,
    alert: Alert,
    sub: Subscription,
    channel: Channel,
    did: str,
    *,
    sender: str,
) -> bytes:
    """:func:`payload` on any store (CAP updates name the stored earlier revisions)."""
    fmt = channel.options.get("format")
    if channel.kind == "cap_http" or fmt in ("cap_xml", "cap_json"):
        from seawarden.alerts.cap import cap_identifier, to_cap_json, to_cap_xml

        previous = (
            [(cap_identifier(alert.id, r), t) for r, t in db.previous(alert)]
            if alert.msg_type != "Alert"
            else []
        )
        if channel.kind == "cap_http" or (fmt == "cap_xml" and channel.kind == "mqtt"):
            return to_cap_xml(alert, sender=sender, previous=previous)
        if fmt == "cap_json":
            body = to_cap_json(alert, sender=sender, previous=previous)
            return orjson.dumps(body, option=orjson.OPT_SORT_KEYS)
        env = envelope(alert, sub, did)  # e-mail with the CAP document attached
        env["cap_xml"] = to_cap_xml(alert, sender=sender, previous=previous).decode()
        return orjson.dumps(env, option=orjson.OPT_SORT_KEYS)
    return orjson.dumps(envelope(alert, sub, did), option=orjson.OPT_SORT_KEYS)


def enqueue(
    conn: sqlite3.Connection,
    alerts: Sequence[Alert],
    subscriptions: Sequence[Subscription],
    *,
    sender: str = DEFAULT_SENDER,
    now: float | None = None,
    counts: Counter[str] | None = None,
) -> int:
    """Insert the outbox rows for ``alerts`` (already written to ``alerts`` on ``conn``).

    Does not commit: the caller commits the revision and its rows together. Returns the
    number of rows inserted (0 for a revision queued before: idempotent).
    """
    return enqueue_with(
        _SQLiteWriter(conn), alerts, subscriptions, sender=sender, now=now, counts=counts
    )


def enqueue_with(
    db: OutboxWriter,
    alerts: Sequence[Alert],
    subscriptions: Sequence[Subscription],
    *,
    sender: str = DEFAULT_SENDER,
    now: float | None = None,
    counts: Counter[str] | None = None,
) -> int:
    """:func:`enqueue` on any store: the same rows, decisions and audit entries.

    The rules run first over the whole batch (:func:`_plan`), then the rows are written: one
    by one through ``db.insert``, or at once when ``db`` is a :class:`BatchWriter` (the
    PostgreSQL one: a few statements per batch instead of several per row). Either way the
    audit rows come in the same order."""
    created = time.time() if now is None else now
    counts = counts if counts is not None else Counter()
    batch = db if isinstance(db, BatchWriter) else None
    if batch is not None:
        batch.prepare(alerts)
    steps = _plan(db, alerts, subscriptions, sender=sender, created=created, counts=counts)
    rows = [s.row for s in steps if isinstance(s, _Queued)]
    added_ids = batch.insert_many(rows) if batch is not None else set()
    inserted, seen = 0, set[str]()
    entries: list[tuple[str, str, dict[str, Any]]] = []
    for step in steps:
        if not isinstance(step, _Queued):
            entries.append(step)
            continue
        did = step.row[0]
        # A row twice in one batch (the same revision given twice) is queued once.
        added = did not in seen and (did in added_ids if batch is not None else db.insert(step.row))
        seen.add(did)
        inserted += added
        counts["queued" if added else "already_queued"] += 1
        if added and step.dead is not None:
            # Dead at birth: audited like any other dead letter, in this transaction.
            entries.append(step.dead)
    if batch is not None:
        batch.audit_many(entries)
    else:
        for entry in entries:
            db.audit(*entry)
    return inserted


@dataclass(frozen=True, slots=True)
class _Queued:
    """An outbox row to insert; ``dead`` is its ``delivery.dead`` audit entry if it is dead
    at birth (written only if the row is new)."""

    row: tuple[Any, ...]
    dead: tuple[str, str, dict[str, Any]] | None


def _plan(
    db: OutboxWriter,
    alerts: Sequence[Alert],
    subscriptions: Sequence[Subscription],
    *,
    sender: str,
    created: float,
    counts: Counter[str],
) -> list[_Queued | tuple[str, str, dict[str, Any]]]:
    """The rows and the audit entries (action, target, detail) of ``alerts``, in order.

    Nothing is written yet, so what earlier alerts of the batch queue or audit is tracked
    here: a follow-up sees the rows its first revision is about to get."""
    steps: list[_Queued | tuple[str, str, dict[str, Any]]] = []
    planned: set[tuple[str, str]] = set()  # (subscription, alert) given a row in this batch
    withheld: set[str] = set()  # targets given a delivery.withheld entry in this batch
    for alert in alerts:
        for sub in subscriptions:
            why_not = decide_with(_Planned(db, planned, withheld), sub, alert)
            if why_not is not None:
                if why_not.startswith("follow-up withheld"):
                    log.warning("alert %s r%d to %s: %s", alert.id, alert.revision, sub.id, why_not)
                    counts["withheld"] += 1
                    for index, channel in enumerate(sub.channels):
                        target = f"delivery:{delivery_id(alert.id, alert.revision, sub.id, index)}"
                        # Once each, so a resumed run that queues the revision again does not
                        # repeat it.
                        if target not in withheld and not db.audited(target, "delivery.withheld"):
                            withheld.add(target)
                            detail = _detail(alert, sub, label(channel), reason=why_not)
                            steps.append(("delivery.withheld", target, detail))
                continue
            for index, channel in enumerate(sub.channels):
                did = delivery_id(alert.id, alert.revision, sub.id, index)
                status, error = "pending", None
                try:
                    body = payload_with(db, alert, sub, channel, did, sender=sender)
                except ValueError as exc:
                    # Cannot be rendered (e.g. a CAP rule): a visible dead letter, not a crash.
                    status, error, body = "dead", f"cannot render: {exc}", b""
                row = (
                    did,
                    alert.id,
                    alert.revision,
                    sub.id,
                    label(channel),
                    index,
                    status,
                    created,
                    error,
                    created,
                    body,
                )
                dead = None
                if status == "dead":
                    detail = _detail(alert, sub, label(channel), error=error, attempt=0)
                    dead = ("delivery.dead", f"delivery:{did}", detail)
                steps.append(_Queued(row, dead))
                planned.add((sub.id, alert.id))
    return steps


class _Planned:
    """``db`` as :func:`decide_with` sees it while a batch is planned: a subscription has
    received an alert if the store says so or the batch gives it a row of it."""

    def __init__(self, db: OutboxWriter, planned: set[tuple[str, str]], withheld: set[str]):
        self.db, self.planned, self.withheld = db, planned, withheld

    def received(self, subscription_id: str, alert_id: str) -> bool:
        return (subscription_id, alert_id) in self.planned or self.db.received(
            subscription_id, alert_id
        )

    def previous(self, alert: Alert) -> list[tuple[int, datetime]]:
        return self.db.previous(alert)

    def insert(self, row: tuple[Any, ...]) -> bool:
        raise NotImplementedError  # planning writes nothing

    def audited(self, target: str, action: str) -> bool:
        return self.db.audited(target, action)

    def audit(self, action: str, target: str, detail: dict[str, Any]) -> None:
        raise NotImplementedError


def _ensure_audit(conn: sqlite3.Connection) -> None:
    """The audit table, statement by statement (``executescript`` would commit)."""
    for stmt in audit.SCHEMA.split(";"):
        if stmt.strip():
            conn.execute(stmt)


def _detail(alert: Alert, sub: Subscription, channel: str, **extra: Any) -> dict[str, Any]:
    return {
        "alert_id": alert.id,
        "revision": alert.revision,
        "subscription_id": sub.id,
        "channel": channel,
        **extra,
    }


class OutboxSink:
    """Alert sink for the pipeline: revision + outbox rows, committed, then ``on_enqueue()``.

    On a :class:`~seawarden.store.postgres.PostgresStore` the rows go through
    :mod:`seawarden.alerts.outbox_pg` (same rules, same rows), in the store's transaction.
    It writes through the pipeline's own store connection, because SQLite has one writer at
    a time and the store keeps a transaction open between batch commits; committing here
    also commits whatever the pipeline had buffered (harmless: every store write is an
    idempotent upsert, and resume state lives only in the checkpoint row).
    """

    def __init__(
        self,
        store: SQLiteStore | PostgresStore,
        subscriptions: Sequence[Subscription],
        *,
        sender: str = DEFAULT_SENDER,
        on_enqueue: Callable[[], None] | None = None,
    ) -> None:
        self.store = store
        self.subscriptions = list(subscriptions)
        self.sender = sender
        self.on_enqueue = on_enqueue
        self.counts: Counter[str] = Counter()
        if isinstance(store, SQLiteStore):
            ensure_schema(store.connection)
        store.commit()  # PostgreSQL: the table came with the store's migrations

    def write(self, alerts: Sequence[Alert]) -> None:
        if not alerts:
            return
        # The write comes first, so this transaction holds the write lock before it reads.
        self.store.write_alerts(alerts)
        db: OutboxWriter
        if isinstance(self.store, SQLiteStore):
            db = _SQLiteWriter(self.store.connection)
        else:
            from seawarden.alerts.outbox_pg import PgWriter

            db = PgWriter(self.store.connection)
        n = enqueue_with(db, alerts, self.subscriptions, sender=self.sender, counts=self.counts)
        self.store.commit()
        if n and self.on_enqueue is not None:
            self.on_enqueue()

    def close(self) -> None:
        pass


# -- reads and operator actions (CLI, API) ---------------------------------------------------
_COLUMNS = (
    "delivery_id, alert_id, revision, subscription_id, channel, channel_index, status,"
    " attempts, next_attempt, last_error, created, delivered"
)


def deliveries(
    conn: sqlite3.Connection,
    *,
    status: str | None = None,
    alert_id: str | None = None,
    subscription_id: str | None = None,
    limit: int = 1000,
) -> list[dict[str, Any]]:
    """Outbox rows without their payload, oldest first."""
    sql, args = deliveries_query("?", status, alert_id, subscription_id, limit)
    cur = conn.execute(sql, args)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur]


def deliveries_query(
    mark: str, status: str | None, alert_id: str | None, subscription_id: str | None, limit: int
) -> tuple[str, list[Any]]:
    """:func:`deliveries`' statement and arguments, with ``mark`` the store's placeholder."""
    sql, args = f"SELECT {_COLUMNS} FROM outbox WHERE true", list[Any]()
    for col, value in (
        ("status", status),
        ("alert_id", alert_id),
        ("subscription_id", subscription_id),
    ):
        if value is not None:
            sql += f" AND {col} = {mark}"
            args.append(value)
    sql += f" ORDER BY created, alert_id, revision, subscription_id, channel_index LIMIT {mark}"
    args.append(max(1, min(limit, 100_000)))
    return sql, args


def counts_by_status(conn: sqlite3.Connection) -> dict[str, int]:
    rows = conn.execute("SELECT status, COUNT(*) FROM outbox GROUP BY status").fetchall()
    return dict.fromkeys(STATUSES, 0) | {str(s): int(n) for s, n in rows}


def requeue_dead(
    conn: sqlite3.Connection, *, ids: Sequence[str] | None = None, actor: str = "system"
) -> int:
    """Put dead rows back to pending (attempts reset), audited; commits. Returns the count."""
    audit.ensure_schema(conn)
    now = wall_iso()

    def requeue(did: str) -> int | None:
        before = conn.execute(
            "SELECT attempts FROM outbox WHERE delivery_id=? AND status='dead'", (did,)
        ).fetchone()
        cur = conn.execute(
            "UPDATE outbox SET status='pending', attempts=0, next_attempt=?, created=?"
            " WHERE delivery_id=? AND status='dead' AND length(payload) > 0",
            (now, now, did),
        )
        return int(before[0]) if cur.rowcount else None

    conn.execute("BEGIN IMMEDIATE")
    try:
        n = requeue_each(conn, ids, requeue, actor=actor)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return n


def requeue_each(
    conn: Any,
    ids: Sequence[str] | None,
    requeue: Callable[[str], int | None],
    *,
    actor: str,
) -> int:
    """What ``requeue_dead`` does on either store, in the caller's transaction: for each of
    ``ids`` (None: every dead row), ``requeue(id)`` puts it back to pending and returns its
    previous attempts (None if it was not dead, or has no payload to send); each one
    requeued is audited. ``conn`` is the store's connection (sqlite3 or psycopg)."""
    if ids is None:
        chosen = [r[0] for r in conn.execute("SELECT delivery_id FROM outbox WHERE status='dead'")]
    else:
        chosen = list(ids)
    n = 0
    for did in chosen:
        before = requeue(did)
        if before is not None:
            n += 1
            audit.record(
                conn,
                actor=actor,
                action="delivery.requeue",
                target=f"delivery:{did}",
                detail={"previous_status": "dead", "previous_attempts": before},
            )
    return n


__all__ = [
    "DEFAULT_SENDER",
    "BatchWriter",
    "OutboxSink",
    "OutboxWriter",
    "counts_by_status",
    "decide",
    "decide_with",
    "deliveries",
    "deliveries_query",
    "delivery_id",
    "enqueue",
    "enqueue_with",
    "ensure_schema",
    "envelope",
    "parse_wall",
    "payload",
    "payload_with",
    "requeue_dead",
    "requeue_each",
    "wall_iso",
]
