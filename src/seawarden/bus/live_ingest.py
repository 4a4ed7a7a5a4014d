"""``seawarden ingest --tcp/--udp``: a live NMEA feed onto the bus.

The reading is :class:`~seawarden.pipeline.live.LiveRunner`'s own — arrival stamps for
untagged lines, the decoders, the event-time orderer with its lateness bound and quiet-feed
ticks, the same counted rejections — with the hand-over replaced: released reports are
queued for the publisher instead of going to a pipeline core, and a pump task sends the
queue every ``PUMP_S``. Workers consume the stream as they do a file ingest's.

A live feed cannot be read again, so its message ids (``live-<run>:<n>``) are unique per
run: the stream's dedup serves the publisher's own resends after a lost ack (cluster
failover), not a restarted ingest. There is no end-of-stream marker: a live stream does not
end. While the bus is unreachable the queue grows up to ``max_queued`` reports; beyond that
reports are dropped, counted (``bus_backlog``) and logged, never silently.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid

from seawarden.bus.codec import encode
from seawarden.bus.ingest import reading_config
from seawarden.bus.publish import BatchPublisher
from seawarden.bus.streams import report_subject
from seawarden.errors import ConfigError
from seawarden.model import Observation, PositionReport, Rejection, StaticReport
from seawarden.pipeline.live import LiveRunner
from seawarden.pipeline.settings import RunConfig

log = logging.getLogger(__name__)

PUMP_S = 0.02  # how often queued reports are sent: the latency ingest adds


class LiveBusIngest(LiveRunner):
    """A live runner whose released reports go to the bus instead of a pipeline core."""

    def __init__(
        self,
        config: RunConfig,
        publisher: BatchPublisher,
        *,
        partitions: int,
        max_queued: int = 500_000,
    ) -> None:
        if partitions < 1 or partitions > 4096:
            raise ConfigError("--partitions must be 1 … 4096")
        super().__init__(reading_config(config))
        self.publisher = publisher
        self.partitions = partitions
        self.max_queued = max_queued
        self.run_id = f"live-{uuid.uuid4().hex[:16]}"
        self.released = 0
        self.unpublished_contacts = 0

    def _handle(self, released: list[Observation | Rejection]) -> None:
        for rec in released:
            if isinstance(rec, Rejection):
                self._reject(rec)
                continue
            if not isinstance(rec, PositionReport | StaticReport):
                self.unpublished_contacts += 1  # radar/satellite: not carried by the bus
                continue
            if self.publisher.queued >= self.max_queued:
                self.rejections["bus_backlog"] += 1
                if self.rejections["bus_backlog"] in (1, 1000, 100_000):
                    log.error(
                        "the bus is not taking reports: %d dropped so far (queue full at %d)",
                        self.rejections["bus_backlog"],
                        self.max_queued,
                    )
                continue
            self.records += 1
            self.publisher.queue(
                report_subject(rec, self.partitions), encode(rec), f"{self.run_id}:{self.released}"
            )
            self.released += 1

    async def pump(self, stop: asyncio.Event) -> None:
        """Send the queue every ``PUMP_S`` until ``stop``; then :meth:`BatchPublisher.aclose`
        sends the rest."""
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=PUMP_S)
            await self.publisher.asend()
