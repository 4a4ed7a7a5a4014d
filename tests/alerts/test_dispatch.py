"""The delivery worker over real loopback receivers: at-least-once, exactly-once effect,
recovery, dead letters that do not hold anyone up, restarts, hostile config."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from seawarden.alerts import outbox
from seawarden.alerts.dispatch import Dispatcher, RetryPolicy
from seawarden.alerts.outbox import OutboxSink
from seawarden.alerts.releasability import JEF
from seawarden.alerts.subscriptions import Channel, Subscription
from seawarden.errors import StoreError
from seawarden.store import audit
from seawarden.store.sqlite import SQLiteStore
from tests.alerts.factories import channel_from_config, make_alert, revise
from tests.alerts.receivers import SECRET, HttpReceiver, Request, free_port, wait_for

FAST = RetryPolicy(base_s=0.02, cap_s=0.2, max_attempts=6)
SECRETS = {"HOOK": SECRET}


def sub(
    sid: str,
    *channels: Channel,
    audience: frozenset[str] = JEF,
    areas: frozenset[str] | None = None,
) -> Subscription:
    return Subscription(
        id=sid,
        recipient=sid.upper(),
        nation=None,
        audience=audience,
        areas=areas,
        min_severity="low",
        channels=channels,
    )


def hook(url: str, **options: str) -> Channel:
    return channel_from_config("webhook", url, secret="HOOK", **options)


def alerts(n: int) -> list:  # type: ignore[type-arg]
    """``n`` situations, each Alert → Update → Cancel."""
    out = []
    for i in range(n):
        a = make_alert(id=f"{i:04d}beef", mmsi=230_000_000 + i, t=i)
        u = revise(a, "Update", score=80.0)
        out += [a, u, revise(u, "Cancel", severity="low", score=5.0)]
    return out


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteStore]:
    s = SQLiteStore(tmp_path / "s.db")
    yield s
    s.close()


def outbox_rows(path: str, **kw: str) -> list[dict[str, object]]:
    conn = sqlite3.connect(path)
    try:
        return outbox.deliveries(conn, **kw)  # type: ignore[arg-type]
    finally:
        conn.close()


def run_worker(store: SQLiteStore, subs: list[Subscription], **kw: object) -> Dispatcher:
    worker = Dispatcher(store.path, subs, secrets=SECRETS, policy=FAST, timeout_s=2.0, **kw)  # type: ignore[arg-type]
    worker.start()
    return worker


def test_exactly_once_effect_under_at_least_once(store: SQLiteStore) -> None:
    # The receiver processes every first request for a key, then answers 500: the worker
    # must send it again, and the receiver's idempotent view must hold each revision once.
    seen: set[str] = set()
    lock = threading.Lock()

    def flaky(n: int, req: Request) -> tuple[int, dict[str, str]]:
        key = req.headers["Idempotency-Key"]
        with lock:
            first = key not in seen
            seen.add(key)
        return (599, {}) if first else (200, {})

    with HttpReceiver(behaviour=flaky) as rx:
        subs = [sub("dnk", hook(rx.url))]
        sink = OutboxSink(store, subs)
        worker = run_worker(store, subs)
        sink.on_enqueue = worker.wake
        revs = alerts(4)
        sink.write(revs)
        wait_for(lambda: worker.stats.delivered == len(revs), what="all delivered")
        worker.stop()
    assert all(r.verified for r in rx.requests)
    assert rx.duplicates == len(revs)  # every revision arrived twice ...
    assert sorted(rx.alerts()) == sorted((a.id, a.revision) for a in revs)  # ... counted once
    assert len(rx.view) == len(revs)
    assert {r["status"] for r in outbox_rows(store.path)} == {"delivered"}


def test_receiver_down_for_a_while_then_recovers_gets_everything(store: SQLiteStore) -> None:
    def down_first(n: int, req: Request) -> tuple[int, dict[str, str]]:
        return (503, {}) if n <= 5 else (200, {})

    with HttpReceiver(behaviour=down_first) as rx:
        subs = [sub("fin", hook(rx.url))]
        sink = OutboxSink(store, subs)
        worker = run_worker(store, subs)
        sink.on_enqueue = worker.wake
        revs = alerts(3)
        sink.write(revs)
        wait_for(lambda: len(rx.view) == len(revs), what="every alert after recovery")
        wait_for(lambda: worker.stats.delivered == len(revs), what="recorded")
        worker.stop()
    assert worker.stats.retried == 5
    assert sorted(rx.alerts()) == sorted((a.id, a.revision) for a in revs)
    conn = sqlite3.connect(store.path)
    actions = [e.action for e in audit.entries(conn, action_prefix="delivery.")]
    conn.close()
    assert actions.count("delivery.retry") == 5
    assert actions.count("delivery.ok") == len(revs)


def test_failing_recipients_go_dead_visibly_and_delay_no_one(store: SQLiteStore) -> None:
    def refuse(n: int, req: Request) -> tuple[int, dict[str, str]]:
        return 410, {}

    with (
        HttpReceiver() as good,
        HttpReceiver(behaviour=refuse) as gone,
        HttpReceiver(delay_s=1.5) as slow,  # answers after the 0.3 s timeout: never in time
    ):
        subs = [
            sub("slow", hook(slow.url, timeout_s="0.3", max_attempts="1")),
            sub("gone", hook(gone.url)),
            sub("good", hook(good.url)),
            sub("down", hook(f"http://127.0.0.1:{free_port()}/x", max_attempts="3")),
        ]
        sink = OutboxSink(store, subs)
        worker = run_worker(store, subs)
        sink.on_enqueue = worker.wake
        revs = alerts(3)
        started = time.monotonic()
        sink.write(revs)
        wait_for(lambda: len(good.view) == len(revs), timeout_s=10, what="the good recipient")
        # In one shared queue the good recipient would wait for 9 slow timeouts (2.7 s);
        # it is served while the slow one is still on its first few.
        assert len(slow.requests) < len(revs) // 2, (time.monotonic() - started, slow.requests)
        wait_for(
            lambda: len(outbox_rows(store.path, status="dead")) >= 3 * len(revs),
            timeout_s=60,
            what="dead letters",
        )
        worker.stop()
    dead = outbox_rows(store.path, status="dead")
    by_sub = {s: [r for r in dead if r["subscription_id"] == s] for s in ("gone", "slow", "down")}
    assert len(by_sub["gone"]) == len(revs)
    assert all("HTTP 410" in str(r["last_error"]) and r["attempts"] == 1 for r in by_sub["gone"])
    assert len(by_sub["slow"]) == len(revs)
    assert all("timeout" in str(r["last_error"]) for r in by_sub["slow"])
    assert by_sub["down"]
    assert all("gave up" in str(r["last_error"]) for r in by_sub["down"])
    assert not [r for r in dead if r["subscription_id"] == "good"]


def test_pending_rows_survive_a_restart(store: SQLiteStore) -> None:
    port = free_port()
    subs = [sub("nor", hook(f"http://127.0.0.1:{port}/alerts"))]
    sink = OutboxSink(store, subs)
    revs = alerts(2)
    worker = run_worker(store, subs)
    sink.on_enqueue = worker.wake
    sink.write(revs)
    wait_for(lambda: worker.stats.retried >= 1, what="a failed attempt")
    worker.stop()
    assert len(outbox_rows(store.path, status="pending")) == len(revs)
    # The recipient comes back on the same port; a new worker (another process in real
    # life) sends everything still pending.
    import http.server

    rx = HttpReceiver()
    rx.server.server_close()
    rx.server = http.server.ThreadingHTTPServer(("127.0.0.1", port), rx.server.RequestHandlerClass)
    rx.thread = threading.Thread(target=rx.server.serve_forever, daemon=True)
    with rx:
        again = Dispatcher(store.path, subs, secrets=SECRETS, policy=FAST)
        again.run_once(all_pending=True)
        again.stop()
    assert sorted(rx.alerts()) == sorted((a.id, a.revision) for a in revs)
    assert {r["status"] for r in outbox_rows(store.path)} == {"delivered"}


def test_one_worker_per_store(store: SQLiteStore) -> None:
    first = Dispatcher(store.path, [], secrets={})
    with pytest.raises(StoreError, match="another delivery worker"):
        Dispatcher(store.path, [], secrets={})
    first.stop()
    Dispatcher(store.path, [], secrets={}).stop()  # free again


def test_hostile_config_and_payloads_are_counted_not_raised(store: SQLiteStore) -> None:
    with HttpReceiver() as rx:
        good = hook(rx.url)
        subs = [
            sub(
                "bad-url",
                Channel(kind="webhook", target="http://exa mple.com:99999/x", secret="HOOK"),
            ),
            sub("tiny", hook(rx.url, max_bytes="100")),
            sub("no-secret", Channel(kind="webhook", target=rx.url, secret="MISSING")),
            sub("bad-mqtt", Channel(kind="mqtt", target="mqtt://127.0.0.1/a/#")),
            sub("bad-mail", Channel(kind="email", target="not-an-address")),
            sub("down", hook(f"http://127.0.0.1:{free_port()}/x", max_attempts="2")),
            sub("good", good),
        ]
        sink = OutboxSink(store, subs)
        worker = run_worker(store, subs)
        sink.on_enqueue = worker.wake
        revs = alerts(1)
        sink.write(revs)
        wait_for(lambda: len(rx.view) == len(revs), what="the good recipient")
        wait_for(
            lambda: not outbox_rows(store.path, status="pending"),
            what="dead letters for the unusable channels",
        )
        worker.stop()
    dead = {
        r["subscription_id"]: str(r["last_error"]) for r in outbox_rows(store.path, status="dead")
    }
    assert "channel not usable" in dead["bad-url"]
    assert "exceeds" in dead["tiny"]
    assert "MISSING" in dead["no-secret"]
    assert "channel not usable" in dead["bad-mqtt"]
    assert "channel not usable" in dead["bad-mail"]
    assert worker.counts["bad_channel"] == 4
    assert "gave up after 2 attempts" in dead["down"]
    assert "Connect" in dead["down"]
    assert len(outbox_rows(store.path, status="dead")) == 6 * len(revs)


def test_changed_config_is_checked_before_sending(store: SQLiteStore) -> None:
    with HttpReceiver() as rx:
        subs = [sub("est", hook(rx.url))]
        sink = OutboxSink(store, subs)
        sink.write(alerts(1))
        # Restarted with a narrower clearance / without the subscription: nothing leaves.
        narrowed = [sub("est", hook(rx.url), audience=frozenset({"EST", "USA"}))]
        worker = Dispatcher(store.path, narrowed, secrets=SECRETS, policy=FAST)
        worker.run_once()
        worker.stop()
        assert rx.requests == []
        dead = outbox_rows(store.path, status="dead")
        assert len(dead) == 3
        assert all("not releasable" in str(r["last_error"]) for r in dead)


def test_a_down_recipient_with_a_backlog_larger_than_the_batch_holds_no_one_up(
    store: SQLiteStore,
) -> None:
    # The worker used to select the oldest due rows, batch at a time: with a dead recipient
    # 60 alerts behind and a batch of 10, every poll selected only its rows, skipped them
    # (its lane paused), and the healthy recipient's alert was never selected.
    down_url = f"http://127.0.0.1:{free_port()}/down"  # connection refused
    with HttpReceiver() as good:
        subs = [
            sub("down", hook(down_url), areas=frozenset({"estlink-2"})),
            sub("good", hook(good.url), areas=frozenset({"balticconnector"})),
        ]
        sink = OutboxSink(store, subs)
        backlog = [make_alert(id=f"{i:04d}dead", mmsi=230_000_000 + i, t=i) for i in range(60)]
        sink.write(backlog)  # near Estlink 2: for "down" only
        sink.write([make_alert(id="0001600d", t=100, area_ids=("balticconnector",))])
        worker = Dispatcher(
            store.path,
            subs,
            secrets=SECRETS,
            policy=RetryPolicy(base_s=30, cap_s=30),  # seed 0: the first pause is ~25 s
            timeout_s=2.0,
            batch=10,
            poll_s=0.05,
            seed=0,
        )
        worker.start()
        wait_for(lambda: len(good.view) == 1, timeout_s=10, what="the healthy recipient")
        wait_for(lambda: worker.stats.retried == 1, what="the failed attempt recorded")
        worker.stop()
    rows = outbox_rows(store.path, subscription_id="down")
    assert len(rows) == 60
    assert {r["status"] for r in rows} == {"pending"}
    assert sorted(int(str(r["attempts"])) for r in rows) == [0] * 59 + [1]
    # The lane paused: every one of its rows now waits for the same retry time, instead of
    # staying "due" (and refilling the batch) while nothing can be sent to it.
    (retry_at,) = {r["next_attempt"] for r in rows}
    assert outbox.parse_wall(str(retry_at)) > time.time() + 5


def test_rows_never_attempted_expire_at_max_age(store: SQLiteStore) -> None:
    # max_age used to apply only to rows that had been attempted, so a row stuck behind a
    # paused lane (attempts 0) never expired. A warning a day late is dead, attempted or not.
    with HttpReceiver() as rx:
        subs = [sub("late", hook(rx.url))]
        OutboxSink(store, subs).write(alerts(1))
        day_later = RetryPolicy(base_s=1, max_age_s=3600)
        worker = Dispatcher(
            store.path,
            subs,
            secrets=SECRETS,
            policy=day_later,
            clock=lambda: time.time() + 2 * 3600,
        )
        worker.run_once(all_pending=False)
        worker.stop()
    assert rx.requests == []
    dead = outbox_rows(store.path, status="dead")
    assert len(dead) == 3
    assert all(r["attempts"] == 0 for r in dead)
    assert all("expired: older than 3600 s" in str(r["last_error"]) for r in dead)
    conn = sqlite3.connect(store.path)
    actions = [e.action for e in audit.entries(conn, action_prefix="delivery.")]
    conn.close()
    assert actions == ["delivery.dead"] * 3


def test_a_lock_that_cannot_be_created_is_a_store_error(store: SQLiteStore) -> None:
    Path(store.path + ".deliver.lock").mkdir()  # where the lock file should go
    with pytest.raises(StoreError, match="cannot create the delivery lock"):
        Dispatcher(store.path, [], secrets={})
