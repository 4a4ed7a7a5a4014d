"""The live-push hub: the pipeline publishes positions, alert revisions and area events;
every connected console or ally system gets the frames it may see, as they happen.

A watch floor needs the picture to move without polling, but the pipeline must never wait
for a browser on a bad link. So each client has a **bounded** queue of ready-made
Server-Sent-Events frames: publishing is an append under a short lock (from whatever
thread the pipeline runs in), and a client whose queue is full is disconnected and
counted — it reconnects and re-reads ``GET /api/alerts``. Frames are serialised once per
publish, not once per client. Positions are throttled to one per vessel per
``position_interval_s`` (wall clock), so a replay at 600x does not flood a browser.

What a client receives depends on its role: staff get everything; an ally only alert
revisions it could read through ``GET /api/alerts`` (:mod:`seawarden.api.principal`: the
revision's marking releases it to the ally's nation, and the alert has been about one of
the ally's areas in some revision the hub has seen *that the ally may read* — the very
rule of ``visible_revisions``, applied to the revisions the hub remembers per alert).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson

from seawarden.alerts.model import Alert
from seawarden.api.principal import Principal, areas_of, visible_revisions
from seawarden.model import Event, PositionReport
from seawarden.pipeline.sinks import event_to_dict, iso_utc

KINDS = ("position", "alert", "area_event", "heartbeat")
MAX_TRACKED_ALERTS = 20_000  # alert ids whose revisions the hub remembers (for the ally rule)


def frame(kind: str, data: Mapping[str, Any]) -> bytes:
    """One SSE frame: ``event: <kind>`` and one ``data:`` line of JSON."""
    return b"event: " + kind.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


def heartbeat() -> bytes:
    return frame("heartbeat", {"time": iso_utc(datetime.now(UTC))})


class StreamClient:
    """One connected stream: a bounded frame queue drained by its response task."""

    def __init__(
        self, principal: Principal, loop: asyncio.AbstractEventLoop, max_frames: int
    ) -> None:
        self.principal = principal
        self.max_frames = max_frames
        self.dropped = False
        self.closed = False
        self._loop = loop
        self._lock = threading.Lock()
        self._frames: deque[bytes] = deque()
        self._ready = asyncio.Event()
        self._closed = asyncio.Event()
        self._wake_pending = False

    def offer(self, data: bytes) -> bool:
        """Queue a frame (any thread). False if the client is closed or just overflowed."""
        with self._lock:
            if self.closed:
                return False
            if len(self._frames) >= self.max_frames:
                self.dropped = True
                self._close_locked()
                return False
            self._frames.append(data)
            self._wake_locked()
            return True

    def close(self) -> None:
        with self._lock:
            self._close_locked()

    def _close_locked(self) -> None:
        if self.closed:
            return
        self.closed = True
        self._frames.clear()
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(self._closed.set)
        self._wake_locked()

    async def wait_closed(self) -> None:
        await self._closed.wait()

    def _wake_locked(self) -> None:
        if self._wake_pending:
            return
        self._wake_pending = True
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody to wake
            self._loop.call_soon_threadsafe(self._ready.set)

    async def take(self, timeout_s: float) -> list[bytes]:
        """Frames queued so far, waiting up to ``timeout_s`` for one ([] on timeout)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._ready.wait(), timeout=timeout_s)
        with self._lock:
            out = list(self._frames)
            self._frames.clear()
            self._wake_pending = False
            self._ready.clear()
        return out


class Hub:
    """Thread-safe fan-out of pipeline output to stream clients."""

    def __init__(self, *, max_frames: int = 1000, position_interval_s: float = 1.0) -> None:
        self.max_frames = max_frames
        self.position_interval_s = position_interval_s
        self._lock = threading.Lock()
        self._clients: tuple[StreamClient, ...] = ()  # copy-on-write: publishers never lock it
        self._last_position: dict[int, float] = {}
        # per alert id: each revision seen so far, reduced to what the ally rule reads
        self._alert_history: dict[str, list[dict[str, Any]]] = {}
        self.dropped_clients = 0
        self.frames: Counter[str] = Counter()
        # Told True when the first client connects and False when the last leaves, so the
        # pipeline installs its position hook only while someone listens.
        self.on_active: Callable[[bool], None] | None = None

    # -- clients ---------------------------------------------------------------------------
    @property
    def active(self) -> bool:
        return bool(self._clients)

    @property
    def client_count(self) -> int:
        return len(self._clients)

    def connect(self, principal: Principal, loop: asyncio.AbstractEventLoop) -> StreamClient:
        client = StreamClient(principal, loop, self.max_frames)
        with self._lock:
            self._clients = (*self._clients, client)
            first = len(self._clients) == 1
        if first and self.on_active is not None:
            self.on_active(True)
        return client

    def disconnect(self, client: StreamClient) -> None:
        client.close()
        with self._lock:
            before = len(self._clients)
            self._clients = tuple(c for c in self._clients if c is not client)
            last = before > 0 and not self._clients
            if client.dropped and len(self._clients) < before:
                self.dropped_clients += 1
        if last and self.on_active is not None:
            self.on_active(False)

    def close_all(self) -> None:
        """End every stream (server shutdown)."""
        for c in self._clients:
            c.close()

    # -- publishing (any thread) -------------------------------------------------------------
    def _fan_out(self, kind: str, data: bytes, clients: Iterable[StreamClient]) -> None:
        sent = False
        for c in clients:
            sent = c.offer(data) or sent
        if sent:
            with self._lock:
                self.frames[kind] += 1

    def publish_position(self, rep: PositionReport, risk_level: str | None = None) -> None:
        staff = [c for c in self._clients if not c.principal.is_ally]
        if not staff:
            return
        now = time.monotonic()
        last = self._last_position.get(rep.mmsi)
        if last is not None and now - last < self.position_interval_s:
            return
        self._last_position[rep.mmsi] = now
        if len(self._last_position) > 100_000:  # vessels long gone
            cutoff = now - 60.0
            self._last_position = {m: t for m, t in self._last_position.items() if t >= cutoff}
        data = {
            "mmsi": rep.mmsi,
            "time": iso_utc(rep.time),
            "lat": round(rep.lat, 6),
            "lon": round(rep.lon, 6),
            "speed_kn": rep.speed_kn,
            "course_deg": rep.course_deg,
            "heading_deg": rep.heading_deg,
            "nav_status": rep.nav_status,
            "risk_level": risk_level or "info",
        }
        self._fan_out("position", frame("position", data), staff)

    def publish_events(self, events: Sequence[Event]) -> None:
        staff = [c for c in self._clients if not c.principal.is_ally]
        if not staff:
            return
        for ev in events:
            if ev.kind.startswith("area."):
                self._fan_out("area_event", frame("area_event", event_to_dict(ev)), staff)

    def publish_alerts(self, alerts: Sequence[Alert]) -> None:
        for alert in alerts:
            self.publish_alert_body(alert.to_dict())

    def publish_alert_body(self, body: Mapping[str, Any]) -> None:
        """Publish one revision (``Alert.to_dict()``); the ally rule is applied per client."""
        alert_id = str(body.get("id"))
        slim = {"releasability": body.get("releasability"), "area_ids": sorted(areas_of(body))}
        with self._lock:
            seen = self._alert_history.setdefault(alert_id, [])
            seen.append(slim)
            history = list(seen)
            if body.get("msg_type") == "Cancel":
                self._alert_history.pop(alert_id, None)
            while len(self._alert_history) > MAX_TRACKED_ALERTS:
                self._alert_history.pop(next(iter(self._alert_history)))
        clients = self._clients
        if not clients:
            return
        allowed = [c for c in clients if _may_see(c.principal, history)]
        if allowed:
            self._fan_out("alert", frame("alert", body), allowed)


def _may_see(p: Principal, history: Sequence[Mapping[str, Any]]) -> bool:
    """The ``GET /api/alerts`` rule (``visible_revisions``) for the newest revision in
    ``history`` (the alert's revisions so far, oldest first): shown iff the alert is
    visible to ``p`` with that revision as its latest."""
    return bool(visible_revisions(p, history))


class HubEventSink:
    """Pipeline event sink: area events to the hub (costs a tuple test with no clients)."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub

    def write(self, events: Sequence[Event]) -> None:
        if self.hub.active:
            self.hub.publish_events(events)

    def close(self) -> None:
        pass


class HubAlertSink:
    """Pipeline alert sink: every revision to the hub; remembers each vessel's open alert
    (its latest revision) for the vessel list."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.open_by_mmsi: dict[int, Alert] = {}

    def write(self, alerts: Sequence[Alert]) -> None:
        for a in alerts:
            if a.msg_type == "Cancel":
                self.open_by_mmsi.pop(a.mmsi, None)
            else:
                self.open_by_mmsi[a.mmsi] = a
        self.hub.publish_alerts(alerts)

    def close(self) -> None:
        pass


__all__ = ["KINDS", "Hub", "HubAlertSink", "HubEventSink", "StreamClient", "frame", "heartbeat"]
