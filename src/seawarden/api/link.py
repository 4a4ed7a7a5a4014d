"""The API's handle on a pipeline running in the same process (``seawarden serve``).

The pipeline runs in its own thread with its own event loop, so a busy replay never stalls
a request. Everything the API does to it — read the live picture, swap the areas or the
watchlist, cancel an alert — is a *command* queued to that thread and run between two
records (:meth:`LiveRunner.run_commands`), so no pipeline state is ever touched from two
threads. Once the feed has ended (a replay file ran out) commands run in the caller's
thread under a lock: nothing else touches the state any more.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from seawarden.alerts.model import Alert
from seawarden.api import db, managed
from seawarden.api.hub import Hub, HubAlertSink, HubEventSink
from seawarden.areas.index import AreaIndex
from seawarden.model import PositionReport, Record
from seawarden.pipeline.live import LiveRunner

log = logging.getLogger("seawarden.api.link")
T = TypeVar("T")
Feed = Callable[[LiveRunner, asyncio.Event], Coroutine[Any, Any, None]]


class PipelineBusyError(Exception):
    """The pipeline did not run a command within the timeout."""


class PipelineLink:
    """Owns the pipeline thread; runs commands in it; wires the hub into its output."""

    def __init__(self, runner: LiveRunner, hub: Hub, *, command_timeout_s: float = 5.0) -> None:
        self.runner = runner
        self.hub = hub
        self.command_timeout_s = command_timeout_s
        self.alerts = HubAlertSink(hub)
        runner.sinks.append(HubEventSink(hub))
        runner.alert_sinks.append(self.alerts)
        hub.on_active = self._listen
        self.wake_delivery: Callable[[], None] | None = None
        self.error: BaseException | None = None
        self._lock = threading.Lock()
        self._finished = False
        self._started = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()

    # -- the position hook: installed only while a stream client listens --------------------
    def _listen(self, on: bool) -> None:
        self.runner.on_record = self._on_record if on else None

    def _on_record(self, rec: Record) -> None:
        if isinstance(rec, PositionReport):
            risk = self.runner.core.risk
            a = risk.latest.get(rec.mmsi) if risk is not None else None
            self.hub.publish_position(rec, a.level if a is not None else None)

    # -- lifetime -----------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._started and not self._finished

    def start(self, feed: Feed) -> None:
        """Run ``feed(runner, stop)`` in a new thread until it ends or :meth:`stop`."""
        self._started = True
        self._thread = threading.Thread(
            target=self._main, args=(feed,), name="seawarden-pipeline", daemon=True
        )
        self._thread.start()
        self._ready.wait(timeout=10.0)

    def _main(self, feed: Feed) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            stop = asyncio.Event()
            self._stop = stop
            self._ready.set()
            loop.run_until_complete(feed(self.runner, stop))
        except BaseException as exc:  # logged and kept for /metrics; the API keeps serving
            self.error = exc
            log.exception("the pipeline stopped with an error")
        finally:
            with self._lock:
                self.runner.run_commands()
                self._finished = True
            self._ready.set()
            with contextlib.suppress(RuntimeError):
                loop.close()
            log.info("pipeline feed ended: %d records", self.runner.records)

    def stop(self, timeout_s: float = 30.0) -> None:
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None and not self._finished:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(stop.set)
        if self._thread is not None:
            self._thread.join(timeout_s)

    # -- commands -----------------------------------------------------------------------------
    def submit(self, fn: Callable[[], None]) -> None:
        """Queue ``fn`` for the pipeline's thread without waiting (it is never dropped)."""
        with self._lock:
            if self._finished or not self._started:
                fn()
                return
            self.runner.commands.append(fn)
        self._wake()

    def _wake(self) -> None:
        loop = self._loop
        if loop is not None:  # an idle feed runs commands at once instead of at the next tick
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self.runner.run_commands)

    def call(self, fn: Callable[[], T], timeout_s: float | None = None) -> T:
        """Run ``fn`` in the pipeline's thread between two records and return its result."""
        future: concurrent.futures.Future[T] = concurrent.futures.Future()

        def command() -> None:
            if not future.set_running_or_notify_cancel():
                return
            try:
                future.set_result(fn())
            except BaseException as exc:
                future.set_exception(exc)

        with self._lock:
            if self._finished or not self._started:
                return fn()
            self.runner.commands.append(command)
        self._wake()
        try:
            return future.result(timeout=timeout_s or self.command_timeout_s)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise PipelineBusyError("the pipeline did not answer in time; retry") from None

    # -- what the API changes ---------------------------------------------------------------
    def reload_areas(self, store: db.StoreTarget) -> None:
        """Queue: read ``api_areas`` and swap the running pipeline's areas (latest wins)."""

        def command() -> None:
            try:
                with db.connection(store) as conn:
                    found = managed.areas(conn)
                self.runner.core.replace_areas(AreaIndex(found) if found else None)
                log.info("pipeline now watches %d areas", len(found))
            except Exception:
                log.exception("could not apply the stored areas to the pipeline")

        self.submit(command)

    def reload_watchlist(self, store: db.StoreTarget) -> None:
        """Queue: read ``api_watchlist`` and give the running fleet the new watchlist."""

        def command() -> None:
            try:
                with db.connection(store) as conn:
                    wl = managed.watchlist(conn)
                self.runner.core.replace_watchlist(wl if len(wl) else None)
                log.info("pipeline now matches against %d watchlist entries", len(wl))
            except Exception:
                log.exception("could not apply the stored watchlist to the pipeline")

        self.submit(command)

    def cancel(self, alert_id: str) -> Alert | None:
        """Cancel an alert the running lifecycle holds open; None if it holds no such alert.

        The Cancel revision goes out through the pipeline's own sinks (store, outbox, hub)."""
        runner = self.runner

        def command() -> Alert | None:
            alert = runner.core.cancel_alert(alert_id)
            if alert is not None:
                runner.dispatch_alerts(runner.core.drain_alerts())
                runner.core.flush()
                if runner.store is not None:
                    runner.store.commit()
            return alert

        return self.call(command)


__all__ = ["Feed", "PipelineBusyError", "PipelineLink"]
