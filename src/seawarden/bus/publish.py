"""Batched, pipelined JetStream publishing from synchronous code, in order through failover.

The file reader (a :class:`~seawarden.pipeline.replay.Replay`) is synchronous; nats-py is
asyncio. Rather than a second thread, the publisher owns an event loop and runs it once per
batch: the batch's messages go out as JetStream publish requests without waiting (the acks
come back while the reader decodes the next batch), and at most ``max_in_flight`` messages
are unacknowledged at any time. Messages from one connection reach the stream in the order
they were sent, so stream order is release order.

**Order through a lost node or leader.** In a NATS cluster the stream's leader can die with
messages in flight; the acks of some never come, and the messages after them may reach a
newly elected leader. Every message therefore says which stream sequence must be the last
one when it is stored (``Nats-Expected-Last-Sequence``: its predecessor's, counted from the
stream's last sequence at the start): the stream stores a message only right after the one
before it, so the stored messages are always a prefix of the sent ones. On a refused or
missing ack the publisher waits for the rest, reads the stream's last sequence again and
sends again from the first message not acknowledged, for up to ``retry_s``: a message that
was stored after all is a duplicate of its ``Nats-Msg-Id`` (dropped, and acknowledged as
such), so nothing is stored twice, lost or out of order. The resends carry no sequence
check, so a second writer on the same stream is not reliably refused: one ingest per stream
is the operator's rule (docs/bus.md). (Not ``Nats-Expected-Last-Msg-Id``: on a replicated stream of
nats-server 2.15 one refusal of that header stops the stream taking any further message.)

The acks are read here, not through nats-py's ``publish_async``: its reply handler raises an
API error response instead of failing the future (nats-py 2.16), so a refused message
would never resolve.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from types import TracebackType
from urllib.parse import urlsplit

import nats
import nats.errors
import nats.js.errors
import orjson
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from seawarden.bus.auth import BusAuth
from seawarden.bus.streams import (
    EXPECTED_LAST_SEQ,
    MSG_ID,
    REPORTS,
    StreamSettings,
    ensure_streams,
)
from seawarden.errors import ConfigError, SourceError

log = logging.getLogger(__name__)


def server_urls(url: str) -> list[str]:
    """``--bus`` as a list: one URL, or a cluster's URLs separated by commas."""
    urls = [u.strip() for u in url.split(",") if u.strip()]
    if not urls:
        raise ConfigError("--bus names no server")
    out = [u if "://" in u else f"nats://{u}" for u in urls]
    for u in out:
        try:
            parts = urlsplit(u)
            parts.port  # noqa: B018 - parses the port: ValueError when it is not one
        except ValueError as exc:
            raise ConfigError(f"--bus: {u!r} is not a server URL ({exc})") from None
        if parts.scheme not in ("nats", "tls") or not parts.hostname:
            raise ConfigError(f"--bus: {u!r} is not a nats:// or tls:// server URL")
    return out


async def connect(url: str, *, name: str) -> Client:
    """A connection to the bus; ``SourceError`` at once if nothing listens there.

    ``url`` may list a cluster's servers, comma-separated: the client connects to one and
    fails over to the others (and to servers the cluster tells it about). nats-py retries
    the first connect like a reconnect (for minutes with these settings), so the addresses
    are probed first: a wrong ``--bus`` is an error now, while a broker that restarts later
    (reconnect) is waited for, up to about a minute.
    """
    urls = server_urls(url)
    auth = BusAuth.from_env().connect_options(urls)  # ConfigError before any connection
    errors: list[str] = []
    for u in urls:
        parsed = urlsplit(u)
        host, port = parsed.hostname or "127.0.0.1", parsed.port or 4222
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout=5)
            writer.close()
            break
        except (OSError, TimeoutError) as exc:
            errors.append(f"{u}: {exc}")
    else:
        raise SourceError(f"cannot connect to the bus at {url}: {'; '.join(errors)}")

    seen: list[str] = []  # the distinct errors of the attempts (the server's reason first)

    async def on_error(exc: Exception) -> None:
        if str(exc) not in seen:
            seen.append(str(exc))
        log.warning("bus %s: %s", url, exc)

    try:
        # Each server is tried twice at first (a wrong password or certificate is an error
        # within seconds, not after a minute of retries); once connected, a lost bus is
        # waited for about a minute (worker and dispatcher set their own budget).
        # The overall bound: nats-py 2.16 can wait for good after a failed TLS handshake.
        nc = await asyncio.wait_for(
            nats.connect(
                urls,
                name=name,
                connect_timeout=5,
                reconnect_time_wait=1.0,
                max_reconnect_attempts=1,
                error_cb=on_error,
                **auth,
            ),
            timeout=5 + 6 * len(urls),  # two tries of 5 s per server, and a margin
        )
    except (OSError, nats.errors.Error, TimeoutError) as exc:
        cause = f"{exc}" + (f" ({'; '.join(seen[:3])})" if seen else "")
        raise SourceError(f"cannot connect to the bus at {url}: {cause}") from exc
    nc.options["max_reconnect_attempts"] = 60
    return nc


@contextlib.asynccontextmanager
async def refused_as(url: str, what: str) -> AsyncIterator[None]:
    """A JetStream set-up call that fails (refused, or unanswered: a user without the
    permission gets no reply at all) becomes a ``SourceError`` naming the step."""
    try:
        yield
    except (nats.errors.Error, nats.js.errors.Error, TimeoutError) as exc:
        raise SourceError(
            f"the bus at {url} refused or did not answer {what} ({exc!r}); if it requires "
            "authorization, does this user have the permission for it (docs/bus.md)?"
        ) from exc


async def close(nc: Client) -> None:
    """Flush what is written (acks, last publishes) and close. Not ``drain()``: with a pull
    subscription open it waits out its whole timeout."""
    try:
        await nc.flush(timeout=10)
    except (nats.errors.Error, TimeoutError) as exc:  # closing anyway
        log.warning("bus %s: flush before close failed: %s", nc.connected_url, exc)
    await nc.close()


@dataclass(slots=True)
class _Pending:
    subject: str
    data: bytes
    msg_id: str
    counted: bool = True  # a report (counted in published/duplicates), not the end marker
    future: asyncio.Future[bool] = field(init=False)  # result: stored before (duplicate)


def _why(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__  # a TimeoutError has no text


class PublishRefusedError(Exception):
    """The stream answered a publish with an error (or nobody answered)."""


class BatchPublisher:
    """``add()`` messages, ``close()`` at the end; ``SourceError`` when the bus does not take
    a message within ``retry_s`` (see the module docstring for the ordering guarantee)."""

    def __init__(
        self,
        url: str,
        *,
        settings: StreamSettings | None = None,
        batch: int = 1000,
        max_in_flight: int = 8192,
        ack_timeout_s: float = 10.0,
        retry_s: float = 120.0,
    ) -> None:
        self.url = url
        self.settings = settings or StreamSettings()
        self.batch_size = batch
        self.max_in_flight = max_in_flight
        self.ack_timeout_s = ack_timeout_s
        self.retry_s = retry_s
        self.loop = asyncio.new_event_loop()
        self._nc: Client | None = None
        self._inbox = ""
        self._acks: Subscription | None = None
        self._waiting: dict[str, asyncio.Future[bool]] = {}
        self._token = 0
        self._batch: list[tuple[str, bytes, str]] = []
        self._inflight: deque[_Pending] = deque()
        self._next_last_seq = 0  # the stream's last sequence the next message expects
        # The newest message id on the stream at the start, split as (prefix, index): a run
        # of the same input after a crash skips what is there (ids are "<input>:<n>").
        self._tail: tuple[str, int | None] | None = None
        self.published = 0
        self.duplicates = 0  # on the bus before this run (a re-run ingest), dropped by dedup
        self.resent = 0  # messages sent again after a lost ack (failover)
        self.marker_duplicate = False  # the end marker was on the bus already

    def start(self) -> BatchPublisher:
        try:
            self.loop.run_until_complete(self._start())
        except BaseException:
            self._disconnect()
            raise
        return self

    async def _start(self) -> None:
        self._nc = nc = await connect(self.url, name="seawarden-ingest")
        async with refused_as(self.url, "the stream set-up"):
            await ensure_streams(nc.jetstream(), self.settings)
            self._next_last_seq = await self._last_seq()
            self._tail = await self._tail_id(self._next_last_seq)
        self._inbox = nc.new_inbox()
        self._acks = await nc.subscribe(f"{self._inbox}.*", cb=self._on_ack)

    async def _on_ack(self, msg: Msg) -> None:
        fut = self._waiting.pop(msg.subject[len(self._inbox) + 1 :], None)
        if fut is None or fut.done():
            return  # an ack after its timeout: the resend settles that message
        if msg.headers and msg.headers.get("Status") == "503":
            fut.set_exception(PublishRefusedError("no stream answered (no leader?)"))
            return
        try:
            resp = orjson.loads(msg.data)
        except orjson.JSONDecodeError:
            fut.set_exception(PublishRefusedError(f"unreadable ack {msg.data[:200]!r}"))
            return
        err = resp.get("error") if isinstance(resp, dict) else None
        if err is not None or not isinstance(resp, dict) or "seq" not in resp:
            fut.set_exception(PublishRefusedError(f"{err or resp}"))
            return
        fut.set_result(bool(resp.get("duplicate")))

    def add(self, subject: str, data: bytes, msg_id: str) -> None:
        self._batch.append((subject, data, msg_id))
        if len(self._batch) >= self.batch_size:
            self.flush()

    def flush(self) -> None:
        """Send the current batch (returns once it is sent, not acknowledged)."""
        batch, self._batch = self._batch, []
        if batch:
            self.loop.run_until_complete(self._send_batch(batch))

    async def _send_batch(self, batch: list[tuple[str, bytes, str]]) -> None:
        for subject, data, msg_id in batch:
            if self._tail is not None and self._on_bus_already(msg_id):
                self.published += 1
                self.duplicates += 1
                continue
            if len(self._inflight) >= self.max_in_flight:
                await self._settle_oldest()
            await self._send(_Pending(subject, data, msg_id))
        # Let the loop take in the acks that have arrived, then account for them.
        await asyncio.sleep(0)
        while self._inflight and self._inflight[0].future.done():
            await self._settle_oldest()

    async def _send(self, p: _Pending) -> None:
        nc = self._nc
        assert nc is not None
        self._token += 1
        token = str(self._token)
        p.future = asyncio.get_running_loop().create_future()
        self._waiting[token] = p.future
        headers = {MSG_ID: p.msg_id, EXPECTED_LAST_SEQ: str(self._next_last_seq)}
        self._next_last_seq += 1
        try:
            await nc.publish(p.subject, p.data, reply=f"{self._inbox}.{token}", headers=headers)
        except (nats.errors.Error, OSError) as exc:
            # Disconnected right now: the message counts as not acknowledged (resent later).
            self._waiting.pop(token, None)
            p.future.set_exception(PublishRefusedError(repr(exc)))
        self._inflight.append(p)

    async def _settle_oldest(self) -> None:
        """Wait for the oldest message's ack; on a failure, resend from it (in order)."""
        try:
            await self._ack_oldest()
        except (PublishRefusedError, TimeoutError) as exc:
            await self._recover(exc)

    def _on_bus_already(self, msg_id: str) -> bool:
        """Whether ``msg_id`` is at or before the stream's tail at the start (same input);
        the first id past it ends the skipping."""
        assert self._tail is not None
        prefix, _, index = msg_id.rpartition(":")
        tail_prefix, tail_index = self._tail
        # tail_index None: the tail is the input's end marker, so all of it is there
        if (
            prefix == tail_prefix
            and index.isdigit()
            and (tail_index is None or int(index) <= tail_index)
        ):
            return True
        self._tail = None
        return False

    async def _tail_id(self, last_seq: int) -> tuple[str, int | None] | None:
        if last_seq == 0:
            return None
        assert self._nc is not None
        try:
            msg = await self._nc.jetstream().get_msg(REPORTS, seq=last_seq)
        except nats.js.errors.NotFoundError:
            return None  # aged out (max age) or deleted: nothing of ours to resume after
        tail = (msg.headers or {}).get(MSG_ID)
        if not tail:
            return None
        prefix, _, index = tail.rpartition(":")
        return prefix, int(index) if index.isdigit() else None

    async def _last_seq(self) -> int:
        assert self._nc is not None
        info = await self._nc.jetstream().stream_info(REPORTS)
        return int(info.state.last_seq)

    async def _ack_oldest(self) -> None:
        p = self._inflight[0]
        duplicate = await asyncio.wait_for(asyncio.shield(p.future), self.ack_timeout_s)
        self._inflight.popleft()
        if not p.counted:
            self.marker_duplicate = duplicate
            return
        if duplicate:
            self.duplicates += 1
        self.published += 1

    async def _recover(self, error: BaseException) -> None:
        """The oldest message in flight was not acknowledged, so none after it was stored
        (the last-sequence check). Wait them out, then send them again one at a time, each
        acknowledged before the next (a message stored after all comes back a duplicate of
        its id), and go on pipelining from the stream's last sequence. Up to ``retry_s``."""
        deadline = time.monotonic() + self.retry_s
        pending = list(self._inflight)
        self._inflight.clear()
        await asyncio.wait([p.future for p in pending], timeout=self.ack_timeout_s)
        for p in pending:
            if not p.future.done():
                p.future.cancel()
            elif not p.future.cancelled():
                p.future.exception()  # retrieved: no "never retrieved" warning
        self._waiting.clear()
        log.warning(
            "bus %s: %d report(s) from %s not acknowledged (%s); sending them again",
            self.url,
            len(pending),
            pending[0].msg_id,
            _why(error),
        )
        wait = 0.25
        i = 0
        while True:
            if time.monotonic() > deadline:
                raise SourceError(
                    f"the bus at {self.url} took no report for {self.retry_s:g} s (last: "
                    f"{_why(error)})"
                )
            if i == len(pending):  # all taken: pipeline on from the stream's last sequence
                if await self._resync():
                    return
                await asyncio.sleep(wait)
                wait = min(wait * 2, 2.0)
                continue
            p = pending[i]
            try:
                await self._send_one(p)
            except (PublishRefusedError, TimeoutError) as exc:
                error = exc
                await asyncio.sleep(wait)
                wait = min(wait * 2, 2.0)
                continue
            wait = 0.25
            i += 1
            self.resent += 1
            if p.counted:
                self.published += 1  # a duplicate here is this run's own lost ack
            else:
                self.marker_duplicate = False

    async def _resync(self) -> bool:
        try:
            self._next_last_seq = await self._last_seq()
        except (nats.errors.Error, nats.js.errors.Error, TimeoutError):
            return False
        return True

    async def _send_one(self, p: _Pending) -> bool:
        """Publish one message (no sequence expectation) and wait for its ack."""
        nc = self._nc
        assert nc is not None
        self._token += 1
        token = str(self._token)
        fut: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._waiting[token] = fut
        try:
            await nc.publish(
                p.subject, p.data, reply=f"{self._inbox}.{token}", headers={MSG_ID: p.msg_id}
            )
            return await asyncio.wait_for(fut, self.ack_timeout_s)
        except (nats.errors.Error, OSError) as exc:
            raise PublishRefusedError(repr(exc)) from exc
        finally:
            self._waiting.pop(token, None)

    def publish_sync(self, subject: str, data: bytes, msg_id: str) -> bool:
        """Send everything pending, then one message, awaiting every ack (the end marker).
        Returns whether the marker was already on the bus."""
        self.flush()
        self.loop.run_until_complete(self._send_marker(_Pending(subject, data, msg_id, False)))
        return self.marker_duplicate

    async def _send_marker(self, p: _Pending) -> None:
        await self._send(p)
        await self._drain()

    # -- from a running event loop (live ingest): queue() from sync code, a pump task sends
    async def astart(self) -> BatchPublisher:
        await self._start()
        return self

    def queue(self, subject: str, data: bytes, msg_id: str) -> None:
        """Hold a message for the next :meth:`asend` (no I/O: callable from sync code)."""
        self._batch.append((subject, data, msg_id))

    @property
    def queued(self) -> int:
        return len(self._batch)

    async def asend(self) -> None:
        """Send what is queued (acks are taken in as they come)."""
        batch, self._batch = self._batch, []
        if batch:
            await self._send_batch(batch)

    async def aclose(self) -> None:
        """Send what is queued, wait for every ack, disconnect."""
        try:
            await self.asend()
            await self._drain()
        finally:
            if self._nc is not None:
                await self._nc.close()
                self._nc = None
            self.loop.close()  # the loop of the synchronous methods, unused here

    async def _drain(self) -> None:
        while self._inflight:
            await self._settle_oldest()

    def close(self) -> None:
        """Wait for every ack and disconnect."""
        try:
            self.flush()
            self.loop.run_until_complete(self._drain())
        finally:
            self._disconnect()

    def _disconnect(self) -> None:
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
            self._disconnect()
