"""The delivery worker: sends what the outbox holds, retries what failed, buries what never will.

Ten JEF nations and NATO allies are reached over their own endpoints, any of which may be
slow, down or misconfigured at the moment a tanker starts dragging its anchor over a cable.
None of that may delay the others. So the worker keeps one *lane* per (subscription,
channel) — a thread with its own queue and its own connection (HTTP keep-alive, MQTT
session) — and every attempt is bounded by the channel's timeout. A lane that gets a
retryable failure pauses until its retry time (a dead host costs one timeout per backoff
step, not one per queued alert), and its other pending rows are rescheduled to that time;
the other lanes carry on. Rows are picked oldest first but never from a paused lane and at
most ``lane_depth`` per lane, so one recipient's backlog cannot fill the batch and starve
the rest.

Attempts follow the outbox (:mod:`seawarden.alerts.outbox`): due ``pending`` rows are
picked, sent, and their outcome recorded — ``delivered``; retried with exponential backoff
and full jitter (``uniform(0, min(cap, base·2^(attempt-1)))``, or the recipient's
``Retry-After``); or ``dead`` with the reason (a permanent refusal, ``max_attempts``
reached, older than ``max_age_s`` — whether attempted or not), visible in the outbox and
the audit log (``delivery.ok`` / ``delivery.retry`` / ``delivery.dead``). Times are
wall-clock: delivery is a real-world action (event-time determinism applies to alerts, not
to deliveries).

Only the worker's main thread touches the store, through a
:class:`~seawarden.alerts.delivery_store.DeliveryStore`. On SQLite it reads with plain
statements (WAL: readers never wait for the pipeline) and records outcomes in short
``BEGIN IMMEDIATE`` transactions with a busy timeout; the pipeline holds the write lock only
while it flushes a batch; a lock file beside the store keeps to one worker per store. On
PostgreSQL (``db_path`` a ``postgresql://`` DSN) any number of workers share the outbox:
each claims the rows it picks (``FOR UPDATE SKIP LOCKED``, then a lease it renews while they
are in flight — :mod:`seawarden.alerts.outbox_pg`), so no row is sent by two at once, and the
rows of a worker that dies are picked by another when its lease lapses. A row whose outcome
is not yet recorded stays marked in memory, so it is never sent twice by one process; a
process killed between sending and recording sends it again later (at-least-once —
receivers deduplicate by ``delivery_id``).

Before anything leaves, the row is checked again against the *current* subscription: it
must still exist, with the same channel, and the revision's marking must still cover its
audience.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import queue
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import orjson

from seawarden.alerts.channels import (
    Delivery,
    Outcome,
    Sender,
    build_sender,
    label,
    max_bytes,
    option,
)
from seawarden.alerts.delivery_store import (
    DeliveryStore,
    PickedRow,
    SQLiteDeliveryStore,
    StoreBusyError,
    Write,
    clean_text,
    lane_key,
)
from seawarden.alerts.releasability import releasable
from seawarden.alerts.subscriptions import Channel, Subscription
from seawarden.errors import ConfigError, SeawardenError, StoreError

log = logging.getLogger(__name__)

_Row = PickedRow
DEFAULT_LEASE_S = 30.0


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryPolicy:
    """When to try again, and when to give up (a channel's ``max_attempts`` overrides)."""

    base_s: float = 2.0
    cap_s: float = 600.0
    max_attempts: int = 12
    max_age_s: float = 24 * 3600.0
    max_retry_after_s: float = 3600.0

    def __post_init__(self) -> None:
        if self.base_s <= 0 or self.cap_s < self.base_s or self.max_attempts < 1:
            raise ConfigError("retry policy: need base_s > 0, cap_s >= base_s, max_attempts >= 1")
        if self.max_age_s <= 0 or self.max_retry_after_s <= 0:
            raise ConfigError("retry policy: max_age_s and max_retry_after_s must be > 0")

    def backoff_s(self, attempts: int, rng: random.Random) -> float:
        """Full jitter after ``attempts`` failed attempts."""
        return rng.uniform(0.0, min(self.cap_s, self.base_s * 2 ** max(attempts - 1, 0)))


@dataclass(frozen=True, slots=True, kw_only=True)
class _Result:
    row: _Row
    outcome: Outcome | None  # None: not attempted (lane paused); stays pending as it was
    finished: float
    attempted: bool = True  # False: refused before sending (no attempt counted)
    delay_s: float = 0.0  # before the next attempt, if retried
    defer_until: float = 0.0  # not attempted: the lane is paused until then


class _Lane:
    """One recipient channel: a thread, its queue and its sender."""

    def __init__(
        self,
        key: tuple[str, int],
        sub: Subscription,
        channel: Channel,
        sender: Sender | None,
        error: str | None,
        results: queue.SimpleQueue[_Result],
        on_result: Callable[[], None],
        pause_for: Callable[[_Row, Outcome], float],
        clock: Callable[[], float],
    ) -> None:
        self.key = key
        self.sub = sub
        self.channel = channel
        self.label = label(channel)
        self.sender = sender
        self.error = error
        self.limit = max_bytes(channel) if error is None else 0
        # (row, pick number): the rows one pick handed over, in the lane's order
        self.jobs: queue.SimpleQueue[tuple[_Row, int] | None] = queue.SimpleQueue()
        self.results = results
        self.on_result = on_result
        self.pause_for = pause_for
        self.clock = clock
        self.paused_until = 0.0
        # The pick whose row failed last: that pick's later rows are not sent even if the
        # pause is over (a short backoff), so none overtakes the failed row, which a later
        # pick hands over again first (oldest first).
        self.failed_pick = -1
        self.thread = threading.Thread(
            target=self._run, name=f"seawarden-lane-{key[0]}-{key[1]}", daemon=True
        )
        self.thread.start()

    def _run(self) -> None:
        while True:
            job = self.jobs.get()
            if job is None:
                break
            row, pick = job
            outcome: Outcome | None = None
            attempted, delay, defer_until = False, 0.0, 0.0
            if self.clock() < self.paused_until or pick <= self.failed_pick:
                defer_until = self.paused_until
            else:
                outcome, attempted = self._attempt(row)
                if not outcome.ok and outcome.retry:
                    delay = self.pause_for(row, outcome)
                    self.paused_until = self.clock() + delay
                    self.failed_pick = pick
            self.results.put(
                _Result(
                    row=row,
                    outcome=outcome,
                    finished=self.clock(),
                    attempted=attempted,
                    delay_s=delay,
                    defer_until=defer_until,
                )
            )
            self.on_result()
        if self.sender is not None:
            with contextlib.suppress(Exception):
                self.sender.close()

    def _attempt(self, row: _Row) -> tuple[Outcome, bool]:
        """The outcome, and whether anything was sent."""
        if self.error is not None or self.sender is None:
            return Outcome.dead(f"channel not usable: {self.error}"), False
        if row.releasability is None:
            return Outcome.dead("alert revision is not in the store"), False
        try:
            if not releasable(row.releasability, self.sub.audience):
                why = f"not releasable: {row.releasability} does not cover the audience"
                return Outcome.dead(why), False
        except ConfigError as exc:
            return Outcome.dead(f"bad release marking: {exc}"), False
        if len(row.payload) > self.limit:
            why = f"payload of {len(row.payload)} bytes exceeds the limit of {self.limit}"
            return Outcome.dead(why), False
        delivery = Delivery(
            delivery_id=row.delivery_id,
            alert_id=row.alert_id,
            revision=row.revision,
            subscription_id=row.subscription_id,
            recipient=self.sub.recipient,
            channel=self.channel,
            payload=row.payload,
            attempt=row.attempts + 1,
        )
        try:
            return self.sender.send(delivery), True
        except Exception as exc:  # a channel bug must not kill the lane
            log.exception("%s: unexpected error delivering %s", self.label, row.delivery_id)
            return Outcome.again(f"internal error: {type(exc).__name__}"), True

    def stop(self) -> None:
        self.jobs.put(None)


@dataclass(slots=True)
class DispatchStats:
    delivered: int = 0
    retried: int = 0
    dead: int = 0
    deferred: int = 0

    def as_dict(self) -> dict[str, int]:
        return {
            "delivered": self.delivered,
            "retried": self.retried,
            "dead": self.dead,
            "deferred": self.deferred,
        }


class Dispatcher:
    """The worker. ``start()`` runs it in a thread; ``run_once()`` drains and returns."""

    def __init__(
        self,
        db_path: str | Path,
        subscriptions: Sequence[Subscription],
        *,
        secrets: Mapping[str, str],
        policy: RetryPolicy | None = None,
        timeout_s: float = 10.0,
        poll_s: float = 0.25,
        batch: int = 500,
        lane_depth: int = 32,
        busy_timeout_s: float = 10.0,
        clock: Callable[[], float] = time.time,
        seed: int | None = None,
        lease_s: float = DEFAULT_LEASE_S,
    ) -> None:
        self.db_path = str(db_path)
        self.subscriptions = {s.id: s for s in subscriptions}
        self._configured = [(s.id, i) for s in subscriptions for i in range(len(s.channels))]
        self._labels = {
            (s.id, i): label(c) for s in subscriptions for i, c in enumerate(s.channels)
        }
        self.secrets = dict(secrets)
        self.policy = policy or RetryPolicy()
        self.timeout_s = timeout_s
        self.poll_s = poll_s
        self.batch = max(1, batch)
        # Rows one lane may hold picked at once: no lane, slow or backlogged, fills the batch.
        self.lane_depth = max(1, min(lane_depth, self.batch))
        self.clock = clock
        self.rng = random.Random(seed)
        self.stats = DispatchStats()
        self.counts: Counter[str] = Counter()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._results: queue.SimpleQueue[_Result] = queue.SimpleQueue()
        self._busy: set[str] = set()  # picked, outcome not yet recorded
        self._unrecorded: list[_Result] = []
        self._lanes: dict[tuple[str, int], _Lane] = {}
        self._thread: threading.Thread | None = None
        self._lock_fh: IO[str] | None = None
        self._cond = threading.Condition()
        self._iteration = 0  # loop iterations started
        self._picks = 0  # _pick calls: the lanes tell one pick's rows from the next's
        self._idle_iteration = -1  # the last iteration that found nothing due or in flight
        self._error: BaseException | None = None
        # Claims are renewed at a third of the lease, so two renewals may fail before it lapses.
        self.lease_s = max(lease_s, 0.3)
        self._renewed = time.monotonic()
        self._store: DeliveryStore
        if self.db_path.startswith(("postgresql://", "postgres://")):
            from seawarden.alerts.outbox_pg import PgDeliveryStore

            self._store = PgDeliveryStore(self.db_path, lease_s=self.lease_s)
        else:
            self._acquire_lock()
            try:
                self._store = SQLiteDeliveryStore(self.db_path, busy_timeout_s=busy_timeout_s)
            except StoreError:
                self._release_lock()
                raise
        self.name = self._store.name  # for messages: a DSN without its password

    # -- lifecycle ---------------------------------------------------------------------------
    def _acquire_lock(self) -> None:
        path = self.db_path + ".deliver.lock"
        try:
            fh = open(path, "a+")  # noqa: SIM115 - held for the worker's lifetime
        except OSError as exc:
            raise StoreError(
                f"{path}: cannot create the delivery lock ({exc.strerror}); "
                "the store's folder must be writable"
            ) from None
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            fh.seek(0)
            other = fh.read().strip() or "?"
            fh.close()
            raise StoreError(
                f"another delivery worker (pid {other}) is running on {self.db_path}; "
                "one worker per store: stop it or let it deliver"
            ) from None
        fh.seek(0)
        fh.truncate()
        fh.write(str(os.getpid()))
        fh.flush()
        self._lock_fh = fh

    def _release_lock(self) -> None:
        if self._lock_fh is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._lock_fh, fcntl.LOCK_UN)
            self._lock_fh.close()
            self._lock_fh = None

    def requeue_dead(self, *, ids: Sequence[str] | None = None, actor: str = "system") -> int:
        """Dead letters back to pending (after fixing the recipient); audited."""
        return self._store.requeue_dead(ids=ids, actor=actor)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="seawarden-deliver", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """New rows were committed: look now rather than at the next poll."""
        self._wake.set()

    def stop(self, grace_s: float = 5.0) -> None:
        """Stop picking; wait up to ``grace_s`` for attempts in flight; close. Unfinished
        rows stay pending for the next worker."""
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(grace_s + self.timeout_s + 5.0)
        else:
            self._finish(grace_s)
        self._close()

    def wait_idle(self, timeout_s: float) -> bool:
        """Wait (running worker) until an iteration that began after this call found no row
        due or in flight; rows waiting for a later retry may remain. False on timeout."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            target = self._iteration + 1
            self._wake.set()
            while self._idle_iteration < target:
                if self._error is not None:
                    raise StoreError(f"delivery worker failed: {self._error}")
                left = deadline - time.monotonic()
                if left <= 0 or self._thread is None or not self._thread.is_alive():
                    return False
                self._cond.wait(min(left, 0.5))
        return True

    def run_once(self, *, all_pending: bool = True, timeout_s: float = 300.0) -> DispatchStats:
        """Pass after pass until nothing more can be sent now, then return.

        Each pass hands every pending row (due or not, with ``all_pending``; up to the batch)
        to its lane, oldest first, and records the outcomes before the next pass starts, so a
        lane's rows go in order and the whole outbox is worked through, not only its first
        batch. A lane that fails pauses as in the running worker (a down recipient costs one
        attempt per backoff step, not one per row): its later rows are deferred to the retry
        time and the passes go on with the other lanes; rows behind a pause still running
        when no lane is left to serve stay pending for a later run (counted as deferred).
        """
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            taken = self._pick(ignore_schedule=all_pending)
            while (self._busy or self._unrecorded) and time.monotonic() < deadline:
                self._collect(wait_s=min(0.2, max(deadline - time.monotonic(), 0.01)))
                self._renew()
                self._record()
            if taken == 0:
                break
        return self.stats

    # -- the loop ----------------------------------------------------------------------------
    def _loop(self) -> None:
        try:
            while not self._stopping.is_set():
                with self._cond:
                    self._iteration += 1
                    current = self._iteration
                self._collect(wait_s=0)
                self._renew()
                self._record()
                self._pick(ignore_schedule=False)
                if not self._busy and not self._unrecorded and self._due_count() == 0:
                    with self._cond:
                        self._idle_iteration = current
                        self._cond.notify_all()
                self._wake.wait(self._sleep_s())
                self._wake.clear()
            self._finish(5.0)
        except Exception as exc:  # pragma: no cover - reported to wait_idle / logs
            self._error = exc
            log.exception("delivery worker stopped")
            with self._cond:
                self._cond.notify_all()

    def _finish(self, grace_s: float) -> None:
        deadline = time.monotonic() + grace_s
        while self._busy and time.monotonic() < deadline:
            self._collect(wait_s=0.1)
            self._renew()
        self._collect(wait_s=0)
        self._record()

    def _close(self) -> None:
        for lane in self._lanes.values():
            lane.stop()
        for lane in self._lanes.values():
            lane.thread.join(1.0)
        # Rows still in flight: another worker may take them now rather than after the lease.
        in_flight = self._busy - {r.row.delivery_id for r in self._unrecorded}
        with contextlib.suppress(Exception):
            self._store.release(in_flight)
        self._store.close()
        self._release_lock()

    def _renew(self) -> None:
        """Keep the claims on rows in flight (PostgreSQL), every third of the lease."""
        if not self._busy or time.monotonic() - self._renewed < self.lease_s / 3:
            return
        try:
            self._store.renew(self._busy)
            self._renewed = time.monotonic()
        except StoreBusyError as exc:
            log.warning("cannot renew the claims on %d deliveries (%s)", len(self._busy), exc)

    def _sleep_s(self) -> float:
        """Until the next poll, or sooner if a retry or a paused lane falls due first."""
        now = self.clock()
        wait = self.poll_s
        for lane in self._lanes.values():
            if lane.paused_until > now:
                wait = min(wait, lane.paused_until - now)
        try:
            due = self._store.next_due_after(now)
        except StoreBusyError:
            due = None
        if due is not None:
            wait = min(wait, due - now)
        return max(wait, 0.005)

    def _paused_lanes(self, now: float) -> list[str]:
        """The lanes paused at ``now``, as ``"<subscription>\x1f<index>"``."""
        return [lane_key(*k) for k, lane in self._lanes.items() if lane.paused_until > now]

    def _due_count(self) -> int:
        """Due pending rows, not counting those behind a paused lane (they are not due)."""
        now = self.clock()
        try:
            return self._store.due_count(now, self._paused_lanes(now))
        except StoreBusyError:
            return 1  # unknown: not idle

    def _pick(self, *, ignore_schedule: bool) -> int:
        """Hand due rows to their lanes, oldest first, at most ``lane_depth`` per lane;
        returns how many rows it took (handed to a lane or buried).

        A paused lane's rows are not selected at all and no lane gets more than its depth,
        so one recipient's backlog — however old and however large — never fills the batch
        and holds back the rows of the others. With ``ignore_schedule`` (``run_once``) every
        pending row of a lane that is not paused is taken, up to the batch.
        """
        now = self.clock()
        self._picks += 1
        paused = self._paused_lanes(now)
        if ignore_schedule:
            depth = self.batch + len(self._busy)
            # The SQLite store reads paused lanes' rows too when the schedule is ignored (they
            # are skipped below): room for them, so they cannot crowd the others out.
            limit = self.batch + len(self._busy) + depth * len(paused)
        else:
            depth, limit = self.lane_depth, self.batch + len(self._busy)
        rows = self._store.pick(
            now=now,
            paused=paused,
            depth=depth,
            limit=limit,
            ignore_schedule=ignore_schedule,
            exclude=self._busy,
            lanes=self._configured,
            labels=self._labels,
        )
        skipped: list[str] = []
        n = 0
        for row in rows:
            if row.delivery_id in self._busy:
                continue
            # Attempted or not: a warning a day late is no warning (and a row that waited
            # behind a dead recipient must not stay pending for ever).
            if now - row.created > self.policy.max_age_s:
                self._bury(row, f"expired: older than {self.policy.max_age_s:g} s undelivered")
                n += 1
                continue
            lane = self._lane(row)
            if lane is None:
                n += 1  # buried: its subscription or channel is gone
                continue
            if lane.paused_until > now:
                skipped.append(row.delivery_id)
                continue
            self._busy.add(row.delivery_id)
            lane.jobs.put((row, self._picks))
            n += 1
        if skipped:
            try:
                self._store.release(skipped)
            except StoreBusyError as exc:  # the claims lapse on their own
                log.warning("cannot release %d claims (%s)", len(skipped), exc)
        return n

    def _lane(self, row: _Row) -> _Lane | None:
        key = (row.subscription_id, row.channel_index)
        lane = self._lanes.get(key)
        if lane is not None:
            return lane
        sub = self.subscriptions.get(row.subscription_id)
        if sub is None:
            self._bury(row, f"subscription {row.subscription_id!r} is no longer configured")
            return None
        if (
            row.channel_index >= len(sub.channels)
            or label(sub.channels[row.channel_index]) != row.channel
        ):
            self._bury(row, f"channel {row.channel} is no longer in subscription {sub.id!r}")
            return None
        channel = sub.channels[row.channel_index]
        sender: Sender | None = None
        error: str | None = None
        try:
            timeout = float(option(channel, "timeout_s") or self.timeout_s)
            sender = build_sender(channel, secrets=self.secrets, timeout_s=timeout)
        except (SeawardenError, ValueError) as exc:
            error = str(exc)
            log.error("%s (subscription %s): %s", label(channel), sub.id, error)
            self.counts["bad_channel"] += 1
        lane = _Lane(
            key,
            sub,
            channel,
            sender,
            error,
            self._results,
            self._wake.set,
            self._pause_for,
            self.clock,
        )
        self._lanes[key] = lane
        return lane

    def _pause_for(self, row: _Row, outcome: Outcome) -> float:
        if outcome.retry_after_s is not None:
            return min(outcome.retry_after_s, self.policy.max_retry_after_s)
        return self.policy.backoff_s(row.attempts + 1, self.rng)

    def _max_attempts(self, row: _Row) -> int:
        sub = self.subscriptions.get(row.subscription_id)
        if sub is not None and row.channel_index < len(sub.channels):
            raw = option(sub.channels[row.channel_index], "max_attempts")
            if raw is not None and raw.isdigit():
                return max(1, int(raw))
        return self.policy.max_attempts

    def _collect(self, *, wait_s: float) -> None:
        try:
            first = self._results.get(timeout=wait_s) if wait_s > 0 else self._results.get_nowait()
        except queue.Empty:
            return
        self._unrecorded.append(first)
        while True:
            try:
                self._unrecorded.append(self._results.get_nowait())
            except queue.Empty:
                break

    def _bury(self, row: _Row, reason: str) -> None:
        self._busy.add(row.delivery_id)
        self._unrecorded.append(
            _Result(row=row, outcome=Outcome.dead(reason), finished=self.clock(), attempted=False)
        )

    def _record(self) -> None:
        """Write the collected outcomes in one short transaction (kept for later if busy)."""
        if not self._unrecorded:
            return
        batch = self._unrecorded
        tallies = [DispatchStats() for _ in batch]
        writes = [self._record_one(res, t) for res, t in zip(batch, tallies, strict=True)]
        buried: set[str] = set()
        try:
            self._store.apply(writes)
            done = len(batch)
        except StoreBusyError as exc:
            log.warning("store busy (%s): %d outcomes wait to be recorded", exc, len(batch))
            return
        except StoreError as exc:
            # One outcome the store refuses must not stop delivery to every recipient.
            log.error(
                "recording %d outcomes failed (%s); recording them one by one", len(batch), exc
            )
            done, buried = self._record_singly(writes)
        # The first ``done`` are recorded; the others (the store became busy) wait, so none
        # is written twice (its audit row would be).
        self._unrecorded = batch[done:]
        for res, t in zip(batch[:done], tallies[:done], strict=True):
            self._busy.discard(res.row.delivery_id)
            if res.row.delivery_id in buried:
                self.stats.dead += 1
                continue
            self.stats.delivered += t.delivered
            self.stats.retried += t.retried
            self.stats.dead += t.dead
            self.stats.deferred += t.deferred

    def _record_singly(self, writes: Sequence[Write]) -> tuple[int, set[str]]:
        """Apply ``writes`` one at a time; a write the store refuses (not busy) buries only
        its row, with the store's reason. Returns how many were recorded (the first ones:
        it stops where the store is busy) and the delivery ids buried."""
        buried: set[str] = set()
        for i, w in enumerate(writes):
            try:
                self._store.apply([w])
                continue
            except StoreBusyError:
                return i, buried
            except StoreError as exc:
                why = clean_text(f"outcome could not be recorded: {exc}")[:500]
            try:
                self._store.apply(
                    [
                        Write(
                            kind="dead",
                            delivery_id=w.delivery_id,
                            subscription_id=w.subscription_id,
                            channel_index=w.channel_index,
                            attempts=w.attempts,
                            error=why,
                            audit=("delivery.dead", {"error": why}),
                        )
                    ]
                )
            except StoreBusyError:
                return i, buried  # buried later, when the store answers again
            log.warning("DEAD LETTER %s: %s", w.delivery_id, why)
            buried.add(w.delivery_id)
        return len(writes), buried

    @property
    def failed(self) -> str | None:
        """Why the started worker thread is no longer running (None while it runs)."""
        if self._error is not None:
            return f"{type(self._error).__name__}: {self._error}"
        if self._thread is not None and not self._thread.is_alive() and not self._stopping.is_set():
            return "the delivery thread ended"
        return None

    def _record_one(self, res: _Result, tally: DispatchStats) -> Write:
        """What the store must write for ``res`` (and count it in ``tally``)."""
        row, out = res.row, res.outcome
        if out is None:
            # Not attempted: its lane paused (after another row failed). Due again when the
            # lane is, so it is neither re-picked meanwhile nor shown as due in the outbox.
            tally.deferred += 1
            return Write(
                kind="defer",
                delivery_id=row.delivery_id,
                at=res.defer_until,
                subscription_id=row.subscription_id,
                channel_index=row.channel_index,
            )
        attempts = row.attempts + (1 if res.attempted else 0)
        detail: dict[str, object] = {
            "alert_id": row.alert_id,
            "revision": row.revision,
            "subscription_id": row.subscription_id,
            "channel": row.channel,
            "attempt": attempts,
            **out.detail,
        }
        if out.ok:
            tally.delivered += 1
            log.info("delivered %s r%d to %s", row.alert_id, row.revision, row.channel)
            return Write(
                kind="delivered",
                delivery_id=row.delivery_id,
                attempts=attempts,
                at=res.finished,
                audit=("delivery.ok", _plain(detail)),
                subscription_id=row.subscription_id,
                channel_index=row.channel_index,
            )
        error = clean_text(out.error or "unknown error")[:500]
        delay = res.delay_s
        age = res.finished + delay - row.created
        limit = self._max_attempts(row)
        if out.retry and attempts < limit and age <= self.policy.max_age_s:
            detail["retry_in_s"] = round(delay, 3)
            detail["error"] = error
            tally.retried += 1
            log.info(
                "%s to %s failed (%s); retry in %.1f s", row.alert_id, row.channel, error, delay
            )
            return Write(
                kind="retry",
                delivery_id=row.delivery_id,
                attempts=attempts,
                at=res.finished + delay,
                error=error,
                audit=("delivery.retry", _plain(detail)),
                subscription_id=row.subscription_id,
                channel_index=row.channel_index,
            )
        if out.retry:
            error = f"gave up after {attempts} attempts: {error}"
        detail["error"] = error
        tally.dead += 1
        log.warning("DEAD LETTER %s r%d to %s: %s", row.alert_id, row.revision, row.channel, error)
        return Write(
            kind="dead",
            delivery_id=row.delivery_id,
            attempts=attempts,
            error=error,
            audit=("delivery.dead", _plain(detail)),
            subscription_id=row.subscription_id,
            channel_index=row.channel_index,
        )


def _plain(detail: dict[str, object]) -> dict[str, object]:
    """``detail`` as plain JSON values (an outcome's detail may hold anything)."""
    plain: dict[str, object] = orjson.loads(orjson.dumps(detail, default=str))
    return plain


def secret_names(subscriptions: Sequence[Subscription]) -> set[str]:
    return {c.secret for s in subscriptions for c in s.channels if c.secret is not None}


def signing_secret_names(subscriptions: Sequence[Subscription]) -> set[str]:
    """The secrets that are HMAC signing keys (webhook and CAP-over-HTTP channels)."""
    return {
        c.secret
        for s in subscriptions
        for c in s.channels
        if c.secret is not None and c.kind in ("webhook", "cap_http")
    }


__all__ = [
    "DEFAULT_LEASE_S",
    "DispatchStats",
    "Dispatcher",
    "RetryPolicy",
    "secret_names",
    "signing_secret_names",
]
