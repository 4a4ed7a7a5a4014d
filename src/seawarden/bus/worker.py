"""``seawarden worker``: the pipeline core for some MMSI partitions, fed from the bus.

Every worker reads the *whole* ``SEAWARDEN_REPORTS`` stream in stream order (an ordered
consumer) and feeds every record to a core built with ``owns=spec.owns``: the vessel
picture is replicated, so encounters, coverage-aware silence and identity swaps across
partitions come out as in one process, while only owned vessels get detectors, risk,
alerts and store rows (pipeline/partition.py).

Alert revisions go to ``SEAWARDEN_ALERTS`` with ``Nats-Msg-Id = <alert id>:<revision>`` and
each PubAck is awaited before the next record. Every ``checkpoint_every`` messages the core
is flushed and {stream sequence, core snapshot} is committed to the worker's own store in
one transaction. A replacement loads that, restores the core and continues at the next
sequence: the records after the checkpoint are processed again, the same alert revisions
come out again, and the stream's dedup drops them. Nothing is lost (state and position move
together) and nothing is duplicated downstream (within the duplicate window).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import asdict, dataclass
from typing import Any

import nats.errors
import nats.js.errors
import orjson
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from seawarden.alerts.model import Alert
from seawarden.bus.codec import CodecError, decode
from seawarden.bus.publish import close, connect, refused_as
from seawarden.bus.streams import (
    ALERTS,
    EOS_SUBJECT,
    MSG_ID,
    REPORT_SUBJECTS,
    REPORTS,
    StreamSettings,
    alert_subject,
    ensure_streams,
)
from seawarden.errors import ConfigError, SourceError
from seawarden.pipeline.core import PipelineCore
from seawarden.pipeline.partition import PartitionSpec
from seawarden.pipeline.replay import build_core
from seawarden.pipeline.settings import RunConfig
from seawarden.store.base import Store

log = logging.getLogger(__name__)

STALL_CHECK_FETCHES = 10  # empty fetches (0.5 s each) between checks for a silent consumer


def partitioned_core(config: RunConfig, store: Store | None, spec: PartitionSpec) -> PipelineCore:
    """A core that owns ``spec``'s vessels (all of them for ``*/N``)."""
    if config.sensors is not None:
        raise ConfigError("radar/satellite fusion cannot run partitioned: give no --sensors")
    # A core owning everything is exactly the single-process one; no per-record test.
    return build_core(config, store, owns=None if spec.everything else spec.owns)


@dataclass(frozen=True, slots=True)
class Reconnect:
    """How long a worker or dispatcher waits for a lost bus before it ends with a
    ``SourceError`` (exit 1; a supervisor restarts it from its checkpoint): ``attempts``
    reconnects ``wait_s`` apart. The default, about a minute, rides out a broker restart."""

    attempts: int = 60
    wait_s: float = 1.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ConfigError("--reconnect-attempts must be at least 1")
        if not 0 <= self.wait_s <= 3600:  # also refuses NaN
            raise ConfigError("--reconnect-wait-s must be 0 … 3600 seconds")

    @property
    def outage_s(self) -> float:
        """How long a stream may stay unavailable (a cluster electing a new leader after a
        node is lost takes seconds) before the worker gives up: the same budget."""
        return max(self.attempts * self.wait_s, 5.0)

    def apply(self, nc: Client) -> None:
        """Set this budget on a connected client. ``bus.publish.connect`` opens it with
        60 × 1 s; nats-py reads both options at every reconnect attempt, so setting them
        after connecting is what the next loss of the bus goes by."""
        nc.options["max_reconnect_attempts"] = self.attempts
        nc.options["reconnect_time_wait"] = self.wait_s


class Outage:
    """A budget for one stretch of failures of a stream: ``wait(exc)`` backs off (0.25 s
    doubling to 2 s) and raises ``SourceError`` once ``budget_s`` have passed since the
    first failure; ``clear()`` after a success."""

    def __init__(self, budget_s: float, what: str) -> None:
        self.budget_s = budget_s
        self.what = what
        self.since: float | None = None
        self.delay = 0.25

    def clear(self) -> None:
        self.since = None
        self.delay = 0.25

    async def wait(self, exc: BaseException) -> None:
        now = time.monotonic()
        if self.since is None:
            self.since = now
            log.warning("%s is unavailable (%r); retrying", self.what, exc)
        elif now - self.since > self.budget_s:
            raise SourceError(f"{self.what} unavailable for {self.budget_s:g} s: {exc!r}")
        await asyncio.sleep(self.delay)
        self.delay = min(self.delay * 2, 2.0)


@dataclass(slots=True)
class WorkerStats:
    messages: int = 0
    records: int = 0
    bad_messages: int = 0
    missed: int = 0  # reports aged out of the stream before this worker read them
    alerts_published: int = 0
    alerts_duplicate: int = 0  # revisions a predecessor had already published
    checkpoints: int = 0
    resumed_at: int = 0  # stream sequence of the checkpoint started from (0: none)
    last_seq: int = 0
    eos: bool = False
    elapsed_s: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        busy = self.elapsed_s
        out["records_per_s"] = round(self.records / busy) if busy > 0 else None
        return out


class Worker:
    """One partitioned pipeline on the bus. ``await run(stop)``; set ``stop`` to end it."""

    def __init__(
        self,
        url: str,
        config: RunConfig,
        spec: PartitionSpec,
        store: Store,
        *,
        checkpoint_every: int = 5000,
        exit_on_eos: bool = False,
        settings: StreamSettings | None = None,
        reconnect: Reconnect | None = None,
    ) -> None:
        if checkpoint_every < 1:
            raise ConfigError("--checkpoint-every must be at least 1")
        self.url = url
        self.config = config
        self.spec = spec
        self.store = store
        self.checkpoint_every = checkpoint_every
        self.fetch_batch = 1000  # reports asked for at once (a round trip per batch)
        self.exit_on_eos = exit_on_eos
        self.settings = settings
        self.reconnect = reconnect or Reconnect()
        self.core = partitioned_core(config, store, spec)
        self.key = f"worker:{spec}:{config.digest()}"
        self.stats = WorkerStats()
        self.seq = 0
        self._stream_created: str | None = None
        self._js: JetStreamContext | None = None

    # -- checkpoint -----------------------------------------------------------------------
    def _restore(self) -> bool:
        """Load the checkpoint; True if it says the stream had already ended."""
        saved = self.store.load_checkpoint(self.key)
        if saved is None:
            return False
        created = saved.get("stream_created")
        if created and self._stream_created and created != self._stream_created:
            raise ConfigError(
                f"the checkpoint in the store is for another {REPORTS} stream (created "
                f"{created}, this one {self._stream_created}): use a fresh --store"
            )
        self.core.restore(saved["core"])
        self.seq = int(saved["seq"])
        self.stats.resumed_at = self.seq
        log.info("worker %s resumes after stream sequence %d", self.spec, self.seq)
        return bool(saved.get("eos"))

    def checkpoint(self) -> None:
        """Flush the core and commit its state with the last processed sequence."""
        self.core.flush()
        state = {
            "seq": self.seq,
            "core": self.core.snapshot(),
            "eos": self.stats.eos,
            "stream_created": self._stream_created,
            "partitions": str(self.spec),
        }
        self.store.save_checkpoint(self.key, state)
        self.store.commit()
        self.stats.checkpoints += 1

    # -- run --------------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> WorkerStats:
        nc = await connect(self.url, name=f"seawarden-worker-{self.spec}")
        self.reconnect.apply(nc)
        started = time.perf_counter()
        try:
            js = self._js = nc.jetstream()
            async with refused_as(self.url, "the stream set-up"):
                await ensure_streams(js, self.settings)
                info = await js.stream_info(REPORTS)
            self._stream_created = str(info.created) if info.created else None
            if self._restore() and self.exit_on_eos:
                self.stats.eos = True
                return self.stats
            await self._consume(js, stop)
        finally:
            self.stats.elapsed_s += time.perf_counter() - started
            await close(nc)
        return self.stats

    async def _consume(self, js: JetStreamContext, stop: asyncio.Event) -> None:
        # A pull consumer, not a push "ordered consumer": the worker asks for the next batch
        # only when it has processed the last one, so a backlog of millions of reports waits
        # on the server instead of overflowing the client's buffer. (A push consumer that
        # overflows drops the flow-control request with the messages, and the server then
        # stops sending: measured, a worker 44k messages into a 98k backlog never resumed.)
        # Ack policy none: no redeliveries, so a single fetcher sees stream order.
        async with refused_as(self.url, "a consumer of the report stream"):
            sub = await self._subscribe(js)
        since = 0
        idle = 0
        outage = Outage(self.reconnect.outage_s, f"the report stream at {self.url}")
        try:
            while not stop.is_set():
                try:
                    batch = await sub.fetch(self.fetch_batch, timeout=0.5)
                    outage.clear()
                    idle = 0
                except (nats.errors.TimeoutError, TimeoutError):  # nats-py raises either
                    idle += 1
                    if idle % STALL_CHECK_FETCHES or not await self._stalled(js):
                        continue
                    silent = "the consumer brings nothing while the stream has more"
                    sub = await self._resubscribe(js, sub, outage, silent)
                    continue
                except (nats.errors.ConnectionClosedError, nats.errors.NoServersError) as exc:
                    # The client gave up reconnecting: state up to the last checkpoint is
                    # kept, a replacement continues from there.
                    raise SourceError(
                        f"lost the bus at {self.url} after sequence {self.seq}: {exc}"
                    ) from exc
                except (nats.errors.Error, nats.js.errors.Error) as exc:
                    # The consumer is gone (its cluster node was lost: an ephemeral consumer
                    # lives on one node) or the stream has no leader yet.
                    sub = await self._resubscribe(js, sub, outage, exc)
                    continue
                for msg in batch:
                    seq = msg.metadata.sequence.stream
                    if seq <= self.seq:
                        continue  # already processed (before a checkpoint we resumed from)
                    if seq != self.seq + 1 and self.seq > 0:
                        # Aged out of the stream (max_age) before this worker read them.
                        self.stats.missed += seq - self.seq - 1
                        log.warning("reports %d-%d are gone from the stream", self.seq + 1, seq - 1)
                    self.stats.messages += 1
                    if msg.subject == EOS_SUBJECT:
                        await self._end_of_stream(seq)
                        if self.exit_on_eos:
                            return
                        continue
                    await self._record(msg)
                    self.seq = self.stats.last_seq = seq
                    since += 1
                    if since >= self.checkpoint_every:
                        self.checkpoint()
                        since = 0
            # Asked to stop (SIGTERM): what was processed is kept.
            self.checkpoint()
        finally:
            try:
                await sub.unsubscribe()
            except (nats.errors.Error, nats.js.errors.Error) as exc:  # pragma: no cover
                log.debug("unsubscribe: %s", exc)

    async def _subscribe(self, js: JetStreamContext) -> JetStreamContext.PullSubscription:
        # A fresh config every time: nats-py writes the created consumer's name into the one
        # it is given, and a re-created consumer must not be bound to the lost one.
        cfg = ConsumerConfig(
            deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
            opt_start_seq=self.seq + 1,
            filter_subjects=list(REPORT_SUBJECTS),
            ack_policy=AckPolicy.NONE,
            inactive_threshold=300.0,  # an ephemeral consumer of a dead worker goes away
        )
        return await js.pull_subscribe(REPORT_SUBJECTS[0], stream=REPORTS, config=cfg)

    async def _resubscribe(
        self,
        js: JetStreamContext,
        sub: JetStreamContext.PullSubscription,
        outage: Outage,
        why: object,
    ) -> JetStreamContext.PullSubscription:
        """A new consumer from the next sequence: with no acks and the position in hand,
        that is exact. Until one can be created, the old one is returned (and fails again)."""
        await outage.wait(why if isinstance(why, BaseException) else SourceError(str(why)))
        with contextlib.suppress(nats.errors.Error, nats.js.errors.Error, TimeoutError):
            await sub.unsubscribe()
        try:
            return await self._subscribe(js)
        except (nats.errors.Error, nats.js.errors.Error, TimeoutError) as again:
            log.info("worker %s: no consumer yet (%s)", self.spec, again)
            return sub

    async def _stalled(self, js: JetStreamContext) -> bool:
        """Whether the stream holds reports past ours while our consumer brings none (a
        consumer whose node was lost can stay silent instead of failing)."""
        try:
            info = await js.stream_info(REPORTS)
        except (nats.errors.Error, nats.js.errors.Error, TimeoutError):
            return True  # no answer either: try a new consumer
        return int(info.state.last_seq) > self.seq

    async def _record(self, msg: Msg) -> None:
        try:
            rec = decode(msg.data)
        except CodecError as exc:
            self.stats.bad_messages += 1
            if self.stats.bad_messages <= 3:
                log.warning("skipped an undecodable report (%s): %s", msg.subject, exc)
            return
        self.stats.records += 1
        self.core.process(rec)
        alerts = self.core.drain_alerts()
        if alerts:
            await self._publish(alerts)

    async def _end_of_stream(self, seq: int) -> None:
        _, alerts = self.core.end_of_stream()
        if alerts:
            await self._publish(alerts)
        self.seq = self.stats.last_seq = seq
        self.stats.eos = True
        self.checkpoint()
        log.info("worker %s reached the end of the stream at sequence %d", self.spec, seq)

    async def _publish(self, alerts: list[Alert]) -> None:
        js = self._js
        assert js is not None
        for a in alerts:
            body = orjson.dumps(a.to_dict(), option=orjson.OPT_SORT_KEYS)
            outage = Outage(self.reconnect.outage_s, f"the alert stream at {self.url}")
            while True:
                try:
                    ack = await js.publish(
                        alert_subject(a.severity),
                        body,
                        headers={MSG_ID: f"{a.id}:{a.revision}"},
                        stream=ALERTS,
                        timeout=10,
                    )
                    break
                except (nats.errors.Error, nats.js.errors.Error, TimeoutError) as exc:
                    # Sent again with the same id: stored once even if the lost ack's
                    # message was stored. Given up: not checkpointed, so the replacement
                    # produces it again.
                    try:
                        await outage.wait(exc)
                    except SourceError as gone:
                        what = f"cannot publish alert {a.id} r{a.revision}"
                        raise SourceError(f"{what}: {gone}") from exc
            if ack.duplicate:
                self.stats.alerts_duplicate += 1
            else:
                self.stats.alerts_published += 1
