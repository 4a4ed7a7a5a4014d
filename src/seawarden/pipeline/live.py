"""Run the pipeline on a live NMEA feed (TCP client or UDP listener) or a paced replay.

Receivers such as AIS-catcher, rtl-ais, gpsd and AISHub relays publish NMEA lines over TCP
or UDP. A feed drops, stalls and reconnects; the pipeline must neither block on it nor lose
what it already has. Lines are stamped on arrival (used when a line carries no tag-block
time), decoded, reordered within a short lateness bound and processed; a one-second tick
releases held records when the feed is quiet and commits the store, and asks the alert
sinks that can fail on their own (the delivery worker's thread) whether they still work: a
dead delivery worker stops the run within a second, not at shutdown.

The paced source replays a recorded file at a chosen speed-up through the same path, so
the demo shows exactly what a live run would do.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter, deque
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol, runtime_checkable

from seawarden.alerts.model import Alert
from seawarden.alerts.sinks import AlertSink
from seawarden.clock import Clock, SystemClock
from seawarden.errors import SourceError
from seawarden.fusion.sensors import load_sensors
from seawarden.ingest.files import open_source
from seawarden.ingest.nmea import NmeaDecoder
from seawarden.model import Event, Observation, PositionReport, Record, Rejection, StaticReport
from seawarden.pipeline.order import EventTimeOrderer
from seawarden.pipeline.replay import build_core
from seawarden.pipeline.settings import RunConfig
from seawarden.pipeline.sinks import EventSink
from seawarden.store.base import Store

log = logging.getLogger(__name__)


@runtime_checkable
class CheckedSink(Protocol):
    """An alert sink with a part that may fail on its own (a worker thread): ``check()``
    raises (a :class:`~seawarden.errors.SeawardenError`) once it has, and the run stops."""

    def check(self) -> None: ...


class LiveRunner:
    """Feed lines or records in; events go to the sinks; the store is committed each tick."""

    def __init__(
        self,
        config: RunConfig,
        *,
        store: Store | None = None,
        sinks: Sequence[EventSink] = (),
        alert_sinks: Sequence[AlertSink] = (),
        clock: Clock | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.sinks = list(sinks)
        self.alert_sinks = list(alert_sinks)
        self.alerts: Counter[str] = Counter()
        self.clock = clock or SystemClock()
        self.sensors = load_sensors(config.sensors) if config.sensors is not None else None
        self.core = build_core(config, store, self.sensors)
        self.orderer = EventTimeOrderer(config.order)
        self.decoders: dict[str, NmeaDecoder] = {}
        self.rejections: Counter[str] = Counter()
        self.events: Counter[str] = Counter()
        self.records = 0
        self.lines = 0
        self._last_push = self.clock.now()
        # Called with every record after it is processed (the API's live push). None unless
        # someone listens, so the hot path pays one attribute test per record.
        self.on_record: Callable[[Record], None] | None = None
        self.core.collect_targets = True  # for on_record; drained after every record
        # Work from other threads (the API: area/watchlist swaps, operator cancel, state
        # reads), run in the pipeline's own thread between two records.
        self.commands: deque[Callable[[], None]] = deque()

    def run_commands(self) -> None:
        """Run queued commands (each is expected to catch its own errors)."""
        while self.commands:
            self.commands.popleft()()

    # -- feeding ---------------------------------------------------------------------------------
    def feed_line(self, line: bytes, source: str) -> None:
        decoder = self.decoders.get(source)
        if decoder is None:
            decoder = self.decoders[source] = NmeaDecoder(
                source=source, config=self.config.nmea, sensors=self.sensors
            )
            if self.core.evidence is not None:
                decoder.tap = self.core.evidence.tap(source)
        self.lines += 1
        for item in decoder.feed(line, decoder.stats.lines + 1, received=self.clock.now()):
            self.feed_record(item)

    def feed_record(self, item: Observation | Rejection) -> None:
        if isinstance(item, Rejection):
            self._reject(item)
            return
        self._last_push = self.clock.now()
        self._handle(self.orderer.push(item))

    def tick(self, now: datetime | None = None) -> None:
        """Release held records if the feed has gone quiet, and commit the store; call
        about once a second. ``now`` is event time (paced replays); without it the feed's
        own clock is not trusted — a receiver may be skewed or replaying — so records are
        released only after ``lateness_s`` of wall-clock silence."""
        if self.commands:
            self.run_commands()
        self.check_sinks()
        if now is not None:
            self._handle(self.orderer.release_until(now.timestamp()))
        else:
            quiet_s = (self.clock.now() - self._last_push).total_seconds()
            if quiet_s >= self.config.order.lateness_s:
                self._handle(self.orderer.flush())
        self.core.flush()
        if self.store is not None:
            self.store.commit()

    def check_sinks(self) -> None:
        """Raise if an alert sink's own worker has died (alerts would be queued unsent)."""
        for sink in self.alert_sinks:
            if isinstance(sink, CheckedSink):
                sink.check()

    def finish(self) -> None:
        self._handle(self.orderer.flush())
        tail, alerts = self.core.end_of_stream()
        if tail:
            self._deliver(tail)
        if alerts:
            self.dispatch_alerts(alerts)
        self.core.flush()
        if self.store is not None:
            self.store.commit()
        for sink in self.sinks:
            sink.close()
        for alert_sink in self.alert_sinks:
            alert_sink.close()

    def _handle(self, released: list[Observation | Rejection]) -> None:
        if self.commands:
            self.run_commands()
        for rec in released:
            if isinstance(rec, Rejection):
                self._reject(rec)
                continue
            self.records += 1
            events = self.core.process(rec)
            if events:
                self._deliver(events)
            if self.on_record is not None:
                if isinstance(rec, PositionReport | StaticReport):
                    self.on_record(rec)
                for target in self.core.drain_targets():
                    self.on_record(target)  # dark vessels move on the console too
            alerts = self.core.drain_alerts()
            if alerts:
                self.dispatch_alerts(alerts)

    def dispatch_alerts(self, alerts: list[Alert]) -> None:
        """Count alert revisions and hand them to the alert sinks."""
        for a in alerts:
            self.alerts[f"{a.msg_type}:{a.severity}"] += 1
        for alert_sink in self.alert_sinks:
            alert_sink.write(alerts)

    def _deliver(self, events: list[Event]) -> None:
        for ev in events:
            self.events[ev.kind] += 1
        for sink in self.sinks:
            sink.write(events)

    def _reject(self, rej: Rejection) -> None:
        self.rejections[rej.reason] += 1
        log.debug("rejected %s at %s:%d %s", rej.reason, rej.source, rej.line_no, rej.detail)

    # -- sources -----------------------------------------------------------------------------------
    async def _ticker(self, stop: asyncio.Event) -> None:
        try:
            while not stop.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=1.0)
                self.tick()
        except BaseException:
            stop.set()  # a failed tick (a dead delivery worker) ends the feed too
            raise

    async def run_tcp(
        self, host: str, port: int, stop: asyncio.Event, *, max_backoff_s: float = 30.0
    ) -> None:
        """Read NMEA lines from a TCP server, reconnecting with backoff until ``stop``."""
        ticker = asyncio.create_task(self._ticker(stop))
        backoff = min(1.0, max_backoff_s)
        source = f"tcp:{host}:{port}"
        try:
            while not stop.is_set():
                try:
                    reader, writer = await asyncio.open_connection(host, port)
                except OSError as exc:
                    log.warning(
                        "cannot connect to %s (%s); retrying in %.0f s", source, exc, backoff
                    )
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), timeout=backoff)
                    backoff = min(backoff * 2, max_backoff_s)
                    continue
                log.info("connected to %s", source)
                got_data = False
                try:
                    while not stop.is_set():
                        read = asyncio.create_task(reader.readline())
                        stopper = asyncio.create_task(stop.wait())
                        done, _ = await asyncio.wait(
                            {read, stopper}, return_when=asyncio.FIRST_COMPLETED
                        )
                        stopper.cancel()
                        if read not in done:
                            read.cancel()
                            break
                        line = read.result()
                        if not line:
                            log.warning("%s closed the connection", source)
                            break
                        got_data = True
                        self.feed_line(line, source)
                except (OSError, asyncio.LimitOverrunError, ValueError) as exc:
                    log.warning("connection to %s failed: %s", source, exc)
                finally:
                    writer.close()
                    with contextlib.suppress(OSError):
                        await writer.wait_closed()
                # A server that accepts and hangs up at once must not be hammered.
                backoff = min(1.0, max_backoff_s) if got_data else min(backoff * 2, max_backoff_s)
                if not stop.is_set():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), timeout=min(backoff, max_backoff_s))
        finally:
            stop.set()
            try:
                await ticker  # raises what stopped it (the feed loop saw ``stop``)
            finally:
                self.finish()

    async def run_udp(self, host: str, port: int, stop: asyncio.Event) -> None:
        """Listen for NMEA datagrams (one or more lines each) until ``stop``."""
        runner = self

        class _Protocol(asyncio.DatagramProtocol):
            def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
                source = f"udp:{addr[0]}"
                for line in data.splitlines():
                    runner.feed_line(line, source)

        transport = await _listen_udp(_Protocol, host, port, "NMEA")
        try:
            await self._ticker(stop)
        finally:
            transport.close()
            self.finish()

    async def listen_asterix(self, host: str, port: int, stop: asyncio.Event) -> None:
        """Receive ASTERIX radar datagrams (cat 010/048; one or more data blocks each) until
        ``stop``, beside an AIS feed run by :meth:`run_tcp` / :meth:`run_udp` (which own the
        ticker). Needs the sensors registry: records are attributed by their SAC/SIC."""
        from seawarden.ingest.asterix import AsterixDecoder

        if self.sensors is None:
            raise SourceError("ASTERIX input needs the radars' positions: give --sensors FILE")
        decoder = AsterixDecoder(self.sensors, reference=self.clock.now(), source="asterix-udp")
        runner = self
        blocks = 0

        class _Protocol(asyncio.DatagramProtocol):
            def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
                nonlocal blocks
                blocks += 1
                for item in decoder.feed(data, blocks, received=runner.clock.now()):
                    runner.feed_record(item)

        transport = await _listen_udp(_Protocol, host, port, "ASTERIX")
        try:
            await stop.wait()
        finally:
            transport.close()

    async def run_paced(self, paths: Sequence[Path], speed: float, stop: asyncio.Event) -> None:
        """Replay files at ``speed`` x real time, as if they were a live feed (the demo).

        Files are played one after another; give them in time order (a later file that
        starts earlier than the previous one ends would be refused as ``too_late``).
        """
        last_tick = time.monotonic()
        for path in paths:
            started_wall = datetime.now(UTC)
            first_event: datetime | None = None
            paced = open_source(path, sensors=self.sensors)
            if self.core.evidence is not None:
                self.core.evidence.attach(paced)
            for _, item in paced:
                if stop.is_set():
                    self.finish()
                    return
                if not isinstance(item, Rejection):
                    first_event = first_event or item.time
                    due = (item.time - first_event).total_seconds() / speed
                    lag = due - (datetime.now(UTC) - started_wall).total_seconds()
                    if lag > 0.05:
                        self.tick(item.time)
                        last_tick = time.monotonic()
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(stop.wait(), timeout=lag)
                    elif time.monotonic() - last_tick >= 1.0:
                        # Behind the pace: still commit (and yield) once a second, so
                        # readers of the store see alerts while the replay catches up.
                        self.tick(item.time)
                        last_tick = time.monotonic()
                        await asyncio.sleep(0)
                self.feed_record(item)
            self._handle(self.orderer.flush())
            self.core.flush()
        self.finish()


async def _listen_udp(
    protocol: Callable[[], asyncio.DatagramProtocol], host: str, port: int, what: str
) -> asyncio.BaseTransport:
    loop = asyncio.get_running_loop()
    try:
        transport, _ = await loop.create_datagram_endpoint(
            protocol, local_addr=(host or "0.0.0.0", port)
        )
    except OSError as exc:
        raise SourceError(f"cannot listen on udp {host}:{port}: {exc}") from exc
    log.info("listening for %s on udp %s:%d", what, host or "0.0.0.0", port)
    return transport
