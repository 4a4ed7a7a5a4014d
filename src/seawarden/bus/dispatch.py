"""``seawarden bus-dispatch``: alert revisions from the bus into the store's durable outbox.

A durable pull consumer on ``SEAWARDEN_ALERTS`` (explicit acks) hands each fetched batch to
:class:`~seawarden.alerts.outbox.OutboxSink`, which writes the revisions to ``alerts`` and
their deliveries to ``outbox`` in one committed transaction; only then are the messages
acked. A crash between commit and ack redelivers them, and writing them again is a no-op:
``alerts`` is keyed by (id, revision) (``INSERT OR REPLACE`` of the same body) and outbox
rows by ``delivery_id``, a hash of (alert id, revision, subscription, channel)
(``INSERT OR IGNORE``). ``seawarden deliver`` then sends what is pending.

The store is a SQLite file or PostgreSQL (whatever OutboxSink writes to). Run one
dispatcher per consumer name; its consumer is durable, so a restarted dispatcher continues
where the last ack left off.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import nats.errors
import nats.js.errors
import orjson
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from seawarden.alerts.model import Alert
from seawarden.alerts.outbox import OutboxSink
from seawarden.alerts.subscriptions import Subscription
from seawarden.bus.publish import close, connect, refused_as
from seawarden.bus.streams import ALERT_SUBJECTS, ALERTS, StreamSettings, ensure_streams
from seawarden.bus.worker import Outage, Reconnect
from seawarden.errors import SourceError
from seawarden.store.sqlite import SQLiteStore

if TYPE_CHECKING:
    from seawarden.store.postgres import PostgresStore

log = logging.getLogger(__name__)

DURABLE = "seawarden-dispatch"


def alert_from_bytes(data: bytes) -> Alert:
    """An alert revision from its bus form (``Alert.to_dict()`` as JSON); ``ValueError``
    (or ``KeyError``/``TypeError``) for anything else."""
    from seawarden.api.cancel import alert_from_dict  # the stored-body reader, reused

    body = orjson.loads(data)
    if not isinstance(body, dict):
        raise ValueError("an alert must be a JSON object")
    return alert_from_dict(body)


@dataclass(slots=True)
class DispatchStats:
    messages: int = 0
    revisions: int = 0
    bad_messages: int = 0
    batches: int = 0
    elapsed_s: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class BusDispatcher:
    """``await run(stop)``; with ``idle_exit_s`` it returns after that long with nothing new."""

    def __init__(
        self,
        url: str,
        store: SQLiteStore | PostgresStore,
        subscriptions: Sequence[Subscription],
        *,
        durable: str = DURABLE,
        batch: int = 256,
        idle_exit_s: float | None = None,
        settings: StreamSettings | None = None,
        reconnect: Reconnect | None = None,
    ) -> None:
        self.url = url
        self.sink = OutboxSink(store, subscriptions)
        self.durable = durable
        self.batch = batch
        self.idle_exit_s = idle_exit_s
        self.settings = settings
        self.reconnect = reconnect or Reconnect()
        self.stats = DispatchStats()

    async def run(self, stop: asyncio.Event) -> DispatchStats:
        nc = await connect(self.url, name="seawarden-bus-dispatch")
        self.reconnect.apply(nc)
        started = time.perf_counter()
        try:
            js = nc.jetstream()
            async with refused_as(self.url, "the stream set-up"):
                await ensure_streams(js, self.settings)
            async with refused_as(self.url, f"the alert consumer {self.durable!r}"):
                sub = await js.pull_subscribe(
                    ALERT_SUBJECTS[0],
                    durable=self.durable,
                    stream=ALERTS,
                    config=ConsumerConfig(
                        ack_policy=AckPolicy.EXPLICIT,
                        deliver_policy=DeliverPolicy.ALL,
                        ack_wait=60.0,
                        # revisions of one alert must be queued in order (a follow-up goes to
                        # whoever got the earlier one): one batch in flight at a time
                        max_ack_pending=self.batch,
                    ),
                )
            idle_since = time.monotonic()
            outage = Outage(self.reconnect.outage_s, f"the alert stream at {self.url}")
            while not stop.is_set():
                try:
                    msgs = await sub.fetch(self.batch, timeout=0.5)
                    outage.clear()
                except (nats.errors.TimeoutError, nats.js.errors.FetchTimeoutError, TimeoutError):
                    msgs = []
                except (nats.errors.ConnectionClosedError, nats.errors.NoServersError) as exc:
                    raise SourceError(f"lost the bus at {self.url}: {exc}") from exc
                except (nats.errors.Error, nats.js.errors.Error) as exc:
                    # No consumer leader for now (a cluster node was lost; the durable
                    # consumer is replicated with its stream and gets a new leader).
                    await outage.wait(exc)
                    continue
                if not msgs:
                    if self.idle_exit_s is not None and (
                        time.monotonic() - idle_since >= self.idle_exit_s
                    ):
                        break
                    continue
                idle_since = time.monotonic()
                await self._handle(msgs)
        finally:
            self.stats.elapsed_s += time.perf_counter() - started
            await close(nc)
        return self.stats

    async def _handle(self, msgs: list[Msg]) -> None:
        alerts: list[Alert] = []
        bad: set[int] = set()
        for msg in msgs:
            self.stats.messages += 1
            try:
                alerts.append(alert_from_bytes(msg.data))
            except (
                Exception
            ) as exc:  # any body that does not rebuild an Alert is that message's fault
                self.stats.bad_messages += 1
                log.warning("skipped an undecodable alert on %s: %s", msg.subject, exc)
                bad.add(id(msg))
        self.sink.write(alerts)  # committed: revisions and their deliveries
        self.stats.revisions += len(alerts)
        self.stats.batches += 1
        for msg in msgs:
            if id(msg) in bad:
                await msg.term()  # never redeliver what cannot be read
            else:
                await msg.ack()
