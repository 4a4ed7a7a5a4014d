"""Batched, pipelined JetStream publishing from synchronous code.

The file reader (a :class:`~seawarden.pipeline.replay.Replay`) is synchronous; nats-py is
asyncio. Rather than a second thread, the publisher owns an event loop and runs it once per
batch: the batch's messages go out with ``publish_async`` (the acks come back while the
reader decodes the next batch), and at most ``max_in_flight`` messages are unacknowledged
at any time. Messages from one connection reach the stream in the order they were sent, so
stream order is release order.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from types import TracebackType
from urllib.parse import urlsplit

import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import PubAck

from seawarden.bus.streams import MSG_ID, StreamSettings, ensure_streams
from seawarden.errors import SourceError

log = logging.getLogger(__name__)


async def connect(url: str, *, name: str) -> Client:
    """A connection to the bus; ``SourceError`` at once if nothing listens there.

    nats-py retries the first connect like a reconnect (for minutes with these settings),
    so the address is probed first: a wrong ``--bus`` is an error now, while a broker that
    restarts later (reconnect) is waited for, up to about a minute.
    """
    parsed = urlsplit(url if "://" in url else f"nats://{url}")
    host, port = parsed.hostname or "127.0.0.1", parsed.port or 4222
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout=5)
        writer.close()
    except (OSError, TimeoutError) as exc:
        raise SourceError(f"cannot connect to the bus at {url}: {exc}") from exc

    async def on_error(exc: Exception) -> None:
        log.warning("bus %s: %s", url, exc)

    try:
        return await nats.connect(
            url,
            name=name,
            connect_timeout=5,
            reconnect_time_wait=1.0,
            max_reconnect_attempts=60,
            error_cb=on_error,
        )
    except (OSError, nats.errors.Error, TimeoutError) as exc:
        raise SourceError(f"cannot connect to the bus at {url}: {exc}") from exc


async def close(nc: Client) -> None:
    """Flush what is written (acks, last publishes) and close. Not ``drain()``: with a pull
    subscription open it waits out its whole timeout."""
    try:
        await nc.flush(timeout=10)
    except (nats.errors.Error, TimeoutError) as exc:  # closing anyway
        log.warning("bus %s: flush before close failed: %s", nc.connected_url, exc)
    await nc.close()


class BatchPublisher:
    """``add()`` messages, ``close()`` at the end; raises ``SourceError`` on a failed ack."""

    def __init__(
        self,
        url: str,
        *,
        settings: StreamSettings | None = None,
        batch: int = 1000,
        max_in_flight: int = 8192,
    ) -> None:
        self.url = url
        self.settings = settings or StreamSettings()
        self.batch_size = batch
        self.max_in_flight = max_in_flight
        self.loop = asyncio.new_event_loop()
        self._nc: Client | None = None
        self._js: JetStreamContext | None = None
        self._batch: list[tuple[str, bytes, str]] = []
        self._futures: deque[asyncio.Future[PubAck]] = deque()
        self.published = 0
        self.duplicates = 0  # dropped by the stream's dedup (a re-run ingest)

    def start(self) -> BatchPublisher:
        try:
            self.loop.run_until_complete(self._start())
        except BaseException:
            self.loop.close()
            raise
        return self

    async def _start(self) -> None:
        self._nc = await connect(self.url, name="seawarden-ingest")
        self._js = self._nc.jetstream(publish_async_max_pending=self.max_in_flight)
        await ensure_streams(self._js, self.settings)

    def add(self, subject: str, data: bytes, msg_id: str) -> None:
        self._batch.append((subject, data, msg_id))
        if len(self._batch) >= self.batch_size:
            self.flush()

    def flush(self) -> None:
        """Send the current batch (returns once it is sent, not acknowledged)."""
        batch, self._batch = self._batch, []
        if batch:
            self.loop.run_until_complete(self._send(batch))

    async def _send(self, batch: list[tuple[str, bytes, str]]) -> None:
        js = self._js
        assert js is not None
        try:
            for subject, data, msg_id in batch:
                self._futures.append(
                    await js.publish_async(subject, data, headers={MSG_ID: msg_id})
                )
        except (nats.errors.Error, nats.js.errors.Error) as exc:
            raise SourceError(f"publishing to {self.url} failed: {exc!r}") from exc
        # Let the loop take in the acks that have arrived, then account for them.
        await asyncio.sleep(0)
        self._settle(wait=False)

    def _settle(self, *, wait: bool) -> None:
        futures = self._futures
        while futures and futures[0].done():
            self._account(futures.popleft())
        if wait and futures:
            raise RuntimeError("settle(wait=True) must run after all acks are awaited")

    def _account(self, fut: asyncio.Future[PubAck]) -> None:
        exc = fut.exception()
        if exc is not None:
            raise SourceError(f"the bus refused a report: {exc!r}") from exc
        if fut.result().duplicate:
            self.duplicates += 1
        self.published += 1

    def publish_sync(self, subject: str, data: bytes, msg_id: str) -> PubAck:
        """Send everything pending, then one message, awaiting every ack (the end marker)."""
        self.flush()
        return self.loop.run_until_complete(self._publish_last(subject, data, msg_id))

    async def _publish_last(self, subject: str, data: bytes, msg_id: str) -> PubAck:
        js = self._js
        assert js is not None
        await self._drain_acks()
        try:
            ack = await js.publish(subject, data, headers={MSG_ID: msg_id}, timeout=30)
        except (nats.errors.Error, nats.js.errors.Error, TimeoutError) as exc:
            raise SourceError(f"publishing to {self.url} failed: {exc!r}") from exc
        return ack

    async def _drain_acks(self) -> None:
        if self._futures:
            await asyncio.wait(list(self._futures), timeout=60)
        self._settle(wait=True)

    def close(self) -> None:
        """Wait for every ack and disconnect."""
        try:
            self.flush()
            self.loop.run_until_complete(self._drain_acks())
        finally:
            if self._nc is not None:
                self.loop.run_until_complete(self._nc.close())
                self._nc = None
            self.loop.close()

    def __enter__(self) -> BatchPublisher:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            if self._nc is not None:
                self.loop.run_until_complete(self._nc.close())
                self._nc = None
            self.loop.close()
