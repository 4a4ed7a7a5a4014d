"""The webhook channel against a real HTTP receiver on loopback: signature, key, answers."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest

from seawarden.alerts.channels import Delivery
from seawarden.alerts.channels.webhook import (
    WebhookSender,
    retry_after_s,
    sign,
    verify_signature,
)
from seawarden.alerts.subscriptions import Channel
from seawarden.errors import ConfigError
from tests.alerts.receivers import SECRET, HttpReceiver, Request, free_port

BODY = b'{"alert":{"id":"x","revision":1}}'


def delivery(channel: Channel, payload: bytes = BODY, did: str = "d" * 32) -> Delivery:
    return Delivery(
        delivery_id=did,
        alert_id="x",
        revision=1,
        subscription_id="dnk",
        recipient="Denmark",
        channel=channel,
        payload=payload,
        attempt=1,
    )


def hook(url: str) -> Channel:
    return Channel(kind="webhook", target=url, secret="HOOK")


def test_verify_signature_accepts_ours_and_refuses_tampering() -> None:
    ts = str(int(time.time()))
    sig = sign(SECRET, ts, BODY)
    assert sig.startswith("sha256=")
    assert len(sig) == 7 + 64
    assert verify_signature(SECRET, ts, BODY, sig)
    assert not verify_signature(SECRET, ts, BODY + b" ", sig)  # body changed
    assert not verify_signature("other-key", ts, BODY, sig)  # forged by someone else
    assert not verify_signature(SECRET, str(int(ts) + 1), BODY, sig)  # timestamp changed
    assert not verify_signature(SECRET, ts, BODY, sig.removeprefix("sha256="))
    assert not verify_signature(SECRET, "yesterday", BODY, sig)
    old = str(int(time.time()) - 301)
    assert not verify_signature(SECRET, old, BODY, sign(SECRET, old, BODY))  # replayed later
    assert verify_signature(SECRET, old, BODY, sign(SECRET, old, BODY), tolerance_s=600)


def test_post_is_signed_and_keyed() -> None:
    with HttpReceiver() as rx:
        sender = WebhookSender(hook(rx.url), secret=SECRET, timeout_s=5)
        out = sender.send(delivery(hook(rx.url)))
        sender.close()
    assert out.ok, out
    (req,) = rx.requests
    assert req.verified
    assert req.body == BODY
    assert req.headers["Idempotency-Key"] == "d" * 32
    assert req.headers["Content-Type"] == "application/json"
    assert rx.view == {"d" * 32: BODY}


@pytest.mark.parametrize(
    ("status", "retry", "headers"),
    [
        (404, False, {}),
        (400, False, {}),
        (401, False, {}),
        (301, False, {"Location": "http://127.0.0.1:1/elsewhere"}),
        (500, True, {}),
        (503, True, {"Retry-After": "7"}),
        (429, True, {"Retry-After": "120"}),
        (408, True, {}),
    ],
)
def test_answers_are_classified(status: int, retry: bool, headers: dict[str, str]) -> None:
    def answer(n: int, req: Request) -> tuple[int, dict[str, str]]:
        return status, headers

    with HttpReceiver(behaviour=answer) as rx:
        sender = WebhookSender(hook(rx.url), secret=SECRET, timeout_s=5)
        out = sender.send(delivery(hook(rx.url)))
        sender.close()
    assert not out.ok
    assert out.retry is retry
    assert out.error is not None
    assert str(status) in out.error
    if "Retry-After" in headers:
        assert out.retry_after_s == float(headers["Retry-After"])
    if status == 301:
        assert "not followed" in out.error
        assert len(rx.requests) == 1


def test_timeout_and_refused_connection_are_retried() -> None:
    with HttpReceiver(delay_s=1.0) as rx:
        sender = WebhookSender(hook(rx.url), secret=SECRET, timeout_s=0.2)
        started = time.monotonic()
        out = sender.send(delivery(hook(rx.url)))
        assert time.monotonic() - started < 0.9
        sender.close()
    assert not out.ok
    assert out.retry
    assert "timeout" in (out.error or "")
    dead_port = f"http://127.0.0.1:{free_port()}/alerts"
    sender = WebhookSender(hook(dead_port), secret=SECRET, timeout_s=1)
    out = sender.send(delivery(hook(dead_port)))
    sender.close()
    assert not out.ok
    assert out.retry
    assert "Connect" in (out.error or "")


@pytest.mark.parametrize(
    "url", ["ftp://127.0.0.1/x", "http://", "http://127.0.0.1:99999/x", "not a url", ""]
)
def test_malformed_urls_are_config_errors(url: str) -> None:
    with pytest.raises(ConfigError):
        WebhookSender(hook(url), secret=SECRET, timeout_s=1)


def test_unsigned_webhook_is_refused() -> None:
    with pytest.raises(ConfigError, match="secret"):
        WebhookSender(hook("https://moc.example/x"), secret=None, timeout_s=1)


def test_retry_after_as_http_date() -> None:
    now = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
    later = format_datetime(now + timedelta(seconds=90), usegmt=True)
    assert retry_after_s(later, now=now.timestamp()) == pytest.approx(90)
    assert retry_after_s("garbage") is None
    assert retry_after_s(None) is None


def test_cap_over_http_posts_signed_cap_xml(tmp_path: Path) -> None:
    from seawarden.alerts.channels.cap_http import CapHttpSender
    from seawarden.alerts.dispatch import Dispatcher
    from seawarden.alerts.outbox import OutboxSink
    from seawarden.alerts.subscriptions import Subscription
    from seawarden.store.sqlite import SQLiteStore
    from tests.alerts.factories import make_alert, revise
    from tests.alerts.receivers import wait_for

    with HttpReceiver() as rx:
        cap = Channel(kind="cap_http", target=rx.url, secret="HOOK")
        assert isinstance(CapHttpSender(cap, secret=SECRET, timeout_s=1), CapHttpSender)
        sub = Subscription(
            id="est-cap",
            recipient="Estonia",
            nation="EST",
            audience=frozenset({"EST"}),
            areas=None,
            min_severity="medium",
            channels=(cap,),
        )
        store = SQLiteStore(tmp_path / "s.db")
        sink = OutboxSink(store, [sub], sender="seawarden.test")
        first = make_alert()
        sink.write([first, revise(first, "Cancel", severity="low")])
        worker = Dispatcher(store.path, [sub], secrets={"HOOK": SECRET})
        worker.run_once()
        worker.stop()
        store.close()
        wait_for(lambda: len(rx.view) == 2, what="two CAP messages")
    assert all(r.verified for r in rx.requests)
    assert {r.headers["Content-Type"] for r in rx.requests} == {"application/cap+xml"}
    bodies = sorted(rx.view.values(), key=len)
    assert all(
        b.startswith(b"<?xml") and b"urn:oasis:names:tc:emergency:cap:1.2" in b for b in bodies
    )
    assert any(b"Cancel" in b and b"seawarden-" + first.id.encode() + b"-r1" in b for b in bodies)
