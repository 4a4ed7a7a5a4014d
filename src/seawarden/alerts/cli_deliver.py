"""Wiring dissemination into the CLI: ``--subscriptions`` on the runners, ``seawarden deliver``.

``replay``, ``live`` and ``run`` given ``--subscriptions FILE`` put an
:class:`~seawarden.alerts.outbox.OutboxSink` among their alert sinks (revision and deliveries
committed before anything is sent) and run the delivery worker in a background thread.
``seawarden deliver`` is the same worker on its own: to drain what a stopped or crashed run
left pending, to retry dead letters after fixing a recipient, or as a separate service
beside a runner started without a worker. On SQLite, one worker per store (a lock file
says which); on PostgreSQL (``--store postgresql://…``) any number, on any machines: they
share the outbox by claiming rows (:mod:`seawarden.alerts.outbox_pg`).
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from seawarden import secrets
from seawarden.alerts import outbox
from seawarden.alerts.channels import build_sender, label
from seawarden.alerts.dispatch import (
    DEFAULT_LEASE_S,
    Dispatcher,
    RetryPolicy,
    secret_names,
    signing_secret_names,
)
from seawarden.alerts.subscriptions import Subscription, load_subscriptions
from seawarden.errors import ConfigError, SeawardenError, StoreError
from seawarden.store.base import Store
from seawarden.store.sqlite import SQLiteStore

if TYPE_CHECKING:
    from seawarden.store.postgres import PostgresStore

log = logging.getLogger("seawarden.alerts.delivery")

CAP_SENDER_ENV = "SEAWARDEN_CAP_SENDER"


def load_checked(
    path: Path, *, demo: bool, known_areas: list[str] | None = None
) -> tuple[list[Subscription], dict[str, str]]:
    """Subscriptions and their resolved secrets; ``ConfigError`` if a secret is missing or
    a demo/default value outside ``--demo``, or a signed channel names no secret."""
    subs = load_subscriptions(path, known_areas=known_areas)
    for sub in subs:
        for ch in sub.channels:
            if ch.kind in ("webhook", "cap_http") and ch.secret is None and not demo:
                raise ConfigError(
                    f"{path}: subscription {sub.id!r}, {label(ch)}: needs `secret: NAME` "
                    "(the HMAC signing key)"
                )
    resolved = secrets.require(secret_names(subs), demo=demo, signing=signing_secret_names(subs))
    for sub in subs:
        for ch in sub.channels:
            try:
                build_sender(ch, secrets=resolved, timeout_s=1.0).close()
            except (SeawardenError, ValueError) as exc:
                # Counted and logged; its deliveries become visible dead letters.
                log.error("subscription %s, %s: unusable channel: %s", sub.id, label(ch), exc)
    return subs, resolved


class CheckedOutboxSink(outbox.OutboxSink):
    """The runner's outbox sink, answering for the delivery worker beside it: the live
    runner's one-second tick calls :meth:`check` (``pipeline.live.CheckedSink``), so a dead
    worker stops the run within a second even while no alert comes."""

    health: Callable[[], None] | None = None

    def check(self) -> None:
        if self.health is not None:
            self.health()


@dataclass(slots=True)
class Delivery:
    """What a runner holds while it disseminates: the sink and the worker (if it owns one)."""

    sink: outbox.OutboxSink
    worker: Dispatcher | None

    def check(self) -> None:
        """:class:`StoreError` if the worker thread died: a runner must not go on queueing
        alerts that nobody sends (they stay in the outbox for ``seawarden deliver``)."""
        worker = self.worker
        if worker is None or (why := worker.failed) is None:
            return
        log.critical("the delivery worker stopped (%s): nothing is being sent", why)
        raise StoreError(
            f"the delivery worker stopped ({why}); queued alerts stay in the outbox:"
            f" `seawarden deliver --store {worker.name}` sends them"
        )

    def close(self, *, wait_s: float) -> None:
        """Give due deliveries up to ``wait_s`` to go out, then stop the worker;
        :class:`StoreError` if its thread had died."""
        if self.worker is None:
            return
        try:
            self.check()  # before waiting: a dead worker is reported as such, at once
            if wait_s > 0 and not self.worker.wait_idle(wait_s):
                self.check()
                log.warning(
                    "deliveries still pending after %.0f s; `seawarden deliver --store %s`"
                    " sends them",
                    wait_s,
                    self.worker.name,
                )
            self.check()
        finally:
            self.worker.stop()


def _target(store: SQLiteStore | PostgresStore) -> str:
    """What the delivery worker opens: the SQLite file, or the PostgreSQL DSN."""
    return store.path if isinstance(store, SQLiteStore) else store.dsn


def start_delivery(
    subscriptions: Path,
    store: SQLiteStore | PostgresStore,
    *,
    demo: bool = False,
    known_areas: list[str] | None = None,
    policy: RetryPolicy | None = None,
) -> Delivery:
    subs, resolved = load_checked(subscriptions, demo=demo, known_areas=known_areas)
    sender = os.environ.get(CAP_SENDER_ENV, outbox.DEFAULT_SENDER)
    sink = CheckedOutboxSink(store, subs, sender=sender)
    worker: Dispatcher | None
    try:
        worker = Dispatcher(_target(store), subs, secrets=resolved, policy=policy)
    except StoreError as exc:
        log.warning("%s; this process only queues deliveries", exc)
        worker = None
    delivery = Delivery(sink=sink, worker=worker)
    sink.health = delivery.check
    if worker is not None:
        live = worker  # narrowed for the closure

        def wake() -> None:
            # After each commit of new rows: the worker is told, and a dead one stops the run.
            live.wake()
            delivery.check()

        sink.on_enqueue = wake
        worker.start()
    log.info("disseminating to %d subscriptions from %s", len(subs), subscriptions)
    return delivery


def maybe_start(
    subscriptions: Path | None, store: Store | None, *, demo: bool = False
) -> Delivery | None:
    """For the runners: a :class:`Delivery` when ``--subscriptions`` is given, else None."""
    if subscriptions is None:
        return None
    if store is None:
        raise typer.BadParameter("--subscriptions needs --store (the outbox lives there)")
    if not isinstance(store, SQLiteStore):
        from seawarden.store.postgres import PostgresStore

        if not isinstance(store, PostgresStore):
            store.close()
            raise typer.BadParameter(
                f"--subscriptions: a {type(store).__name__} cannot hold the alert outbox"
            )
    try:
        return start_delivery(subscriptions, store, demo=demo)
    except BaseException:
        store.close()  # the runner never gets it: do not leave the connection open
        raise


def deliver(
    store: Annotated[
        str,
        typer.Option(
            help="store holding the outbox: a SQLite file, or postgresql://user@host[:port]/db"
            " (password from PGPASSWORD or ~/.pgpass; several deliverers may share it)"
        ),
    ],
    subscriptions: Annotated[Path, typer.Option(help="subscriptions (YAML)")],
    once: Annotated[
        bool,
        typer.Option(
            help="send every pending delivery now (due or not, each recipient's in order),"
            " then exit; a recipient that fails is retried in a later run"
        ),
    ] = False,
    requeue_dead: Annotated[
        bool, typer.Option(help="put dead letters back to pending first")
    ] = False,
    demo: Annotated[bool, typer.Option(help="allow the published demo secrets")] = False,
    timeout_s: Annotated[
        float, typer.Option(min=0.001, max=600.0, help="per-attempt timeout (s)")
    ] = 10.0,
    lease_s: Annotated[
        float,
        typer.Option(
            min=1.0,
            max=3600.0,
            help="PostgreSQL: how long a claimed delivery stays this worker's without renewal"
            " (a worker that dies mid-send releases its rows after this)",
        ),
    ] = DEFAULT_LEASE_S,
) -> None:
    """Send the outbox's pending deliveries (and retries) until Ctrl-C, or once."""
    pg = store.startswith(("postgresql://", "postgres://"))
    if not pg and not Path(store).is_file():
        raise typer.BadParameter(f"{store}: no such store")
    subs, resolved = load_checked(subscriptions, demo=demo)
    if not pg:
        SQLiteStore(store).close()  # schema check: refuses a file that is not a seawarden store
    # On PostgreSQL the worker opens (and checks, and migrates) the store itself.
    worker = Dispatcher(store, subs, secrets=resolved, timeout_s=timeout_s, lease_s=lease_s)
    try:
        if requeue_dead:
            n = worker.requeue_dead(actor="cli")
            typer.echo(f"requeued {n} dead deliveries", err=True)
        if once:
            worker.run_once(all_pending=True)
        else:
            stop = threading.Event()
            for sig in (signal.SIGINT, signal.SIGTERM):
                signal.signal(sig, lambda *_: stop.set())
            worker.start()
            # A worker whose thread died delivers nothing: exit non-zero rather than idle.
            while not stop.wait(0.5):
                if (why := worker.failed) is not None:
                    typer.echo(f"deliver: the delivery worker stopped ({why}); exiting", err=True)
                    raise typer.Exit(1)
    finally:
        worker.stop()
    conn_counts = _counts(store)
    st = worker.stats.as_dict()
    left = conn_counts.get("pending", 0)
    waiting = (
        f"; {left} still pending (behind a failed recipient's retry time, or not this"
        " worker's to send): run again later"
        if once and left
        else ""
    )
    typer.echo(
        f"deliver: {st['delivered']} delivered, {st['retried']} retries scheduled, "
        f"{st['dead']} dead this run; outbox now {conn_counts}{waiting}",
        err=True,
    )
    for name, value in {**st, **{f"outbox_{k}": v for k, v in conn_counts.items()}}.items():
        typer.echo(f"{name}={value}")


def _counts(store: str) -> dict[str, int]:
    import sqlite3

    if store.startswith(("postgresql://", "postgres://")):
        from seawarden.alerts import outbox_pg
        from seawarden.store.postgres import PostgresStore

        db = PostgresStore(store)
        try:
            return outbox_pg.counts_by_status(db.connection)
        finally:
            db.close()
    conn = sqlite3.connect(store)
    try:
        return outbox.counts_by_status(conn)
    finally:
        conn.close()


def register(app: typer.Typer) -> None:
    app.command("deliver")(deliver)


__all__ = [
    "CAP_SENDER_ENV",
    "CheckedOutboxSink",
    "Delivery",
    "deliver",
    "load_checked",
    "maybe_start",
    "register",
    "start_delivery",
]
