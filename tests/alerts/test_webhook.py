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
from tests.alerts.factories import channel_from_config
from tests.alerts.receivers import SECRET, HttpReceiver, Request, free_port, hostile_http_server

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


KEY = "d" * 32


def hook(url: str, **options: str) -> Channel:
    return channel_from_config("webhook", url, secret="HOOK", **options)


def test_verify_signature_accepts_ours_and_refuses_tampering() -> None:
    ts = str(int(time.time()))
    sig = sign(SECRET, ts, BODY, idempotency_key=KEY)
    assert sig.startswith("sha256=")
    assert len(sig) == 7 + 64

    def ok(secret: str, t: str, body: bytes, header: str, key: str = KEY, **kw: float) -> bool:
        return verify_signature(secret, t, body, header, idempotency_key=key, **kw)

    assert ok(SECRET, ts, BODY, sig)
    assert not ok(SECRET, ts, BODY + b" ", sig)  # body changed
    assert not ok("other-key", ts, BODY, sig)  # forged by someone else
    assert not ok(SECRET, str(int(ts) + 1), BODY, sig)  # timestamp changed
    assert not ok(SECRET, ts, BODY, sig, key="e" * 32)  # idempotency key changed
    assert not ok(SECRET, ts, BODY, sig, key="")
    assert not ok(SECRET, ts, BODY, sig.removeprefix("sha256="))
    assert not ok(SECRET, "yesterday", BODY, sig)
    assert not ok(SECRET, "-5", BODY, sig)
    old = str(int(time.time()) - 301)
    old_sig = sign(SECRET, old, BODY, idempotency_key=KEY)
    assert not ok(SECRET, old, BODY, old_sig)  # replayed later
    assert ok(SECRET, old, BODY, old_sig, tolerance_s=600)
    # A key holding the delimiter would make "<ts>.<key>.<body>" ambiguous: refused.
    with pytest.raises(ValueError, match="idempotency key"):
        sign(SECRET, ts, BODY, idempotency_key="a.x")


def test_a_captured_request_replayed_with_a_fresh_key_is_refused() -> None:
    # Before the key was signed, a captured request could be sent again at once with a new
    # Idempotency-Key: the signature still verified, and the receiver's deduplication
    # (by key) counted it as a second alert.
    import httpx

    with HttpReceiver() as rx:
        sender = WebhookSender(hook(rx.url), secret=SECRET, timeout_s=5)
        assert sender.send(delivery(hook(rx.url))).ok
        sender.close()
        (captured,) = rx.requests
        forged = {
            k: v
            for k, v in captured.headers.items()
            if k.lower().startswith("x-seawarden") or k.lower() == "content-type"
        }
        forged["Idempotency-Key"] = "f" * 32
        resp = httpx.post(rx.url, content=captured.body, headers=forged, trust_env=False)
        assert resp.status_code == 401
        same = dict(forged, **{"Idempotency-Key": captured.headers["Idempotency-Key"]})
        assert httpx.post(rx.url, content=captured.body, headers=same).status_code == 200
    assert not rx.requests[1].verified
    assert rx.requests[2].verified  # the genuine replay verifies, and is deduplicated
    assert list(rx.view) == ["d" * 32]
    assert rx.duplicates == 1


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
    assert req.headers["Accept-Encoding"] == "identity"


@pytest.mark.parametrize("mode", ["drip-body", "drip-headers"])
def test_a_dripping_answer_cannot_hold_the_attempt_past_its_timeout(mode: str) -> None:
    # httpx's timeout is per read: one byte every 0.2 s kept an attempt going for as long as
    # the recipient liked. The attempt's deadline is wall-clock.
    with hostile_http_server(mode, for_s=8) as url:
        sender = WebhookSender(hook(url), secret=SECRET, timeout_s=1.0)
        started = time.monotonic()
        out = sender.send(delivery(hook(url)))
        took = time.monotonic() - started
        sender.close()
    assert took < 2.0, took
    assert not out.ok
    if mode == "drip-body":  # the status came in time: classified, body cut off
        assert not out.retry
        assert "HTTP 400" in (out.error or "")
        assert "cut off at the deadline" in (out.error or "")
    else:
        assert out.retry
        assert "timeout" in (out.error or "")


def test_an_endless_answer_body_is_read_only_to_its_cap() -> None:
    import resource

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with hostile_http_server("flood-body", for_s=4) as url:
        sender = WebhookSender(hook(url), secret=SECRET, timeout_s=3.0)
        started = time.monotonic()
        out = sender.send(delivery(hook(url)))
        took = time.monotonic() - started
        sender.close()
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert took < 2.0, took  # stopped at the cap, not at the deadline
    assert grown_mb < 50, grown_mb  # was ~800 MB in four seconds
    assert not out.ok
    assert "HTTP 400" in (out.error or "")
    assert "truncated" in (out.error or "")
    assert len(out.error or "") < 300


def test_the_environment_proxy_is_ignored_and_an_explicit_one_is_used(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A proxy variable on the host must not route signed alerts elsewhere.
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("http_proxy", f"http://127.0.0.1:{free_port()}")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    with HttpReceiver() as rx:
        sender = WebhookSender(hook(rx.url), secret=SECRET, timeout_s=5)
        out = sender.send(delivery(hook(rx.url)))
        sender.close()
        assert out.ok, out
        # Named in the channel, the proxy (here the receiver itself) gets the request.
        proxy = rx.url.removesuffix("/alerts")
        far = hook("http://moc.invalid/alerts", proxy=proxy)
        sender = WebhookSender(far, secret=SECRET, timeout_s=5)
        out = sender.send(delivery(far, did="p" * 32))
        sender.close()
    assert out.ok, out
    assert rx.requests[1].path == "http://moc.invalid/alerts"
    assert rx.requests[1].verified


@pytest.mark.parametrize("proxy", ["socks5://127.0.0.1:1080", "http://u:p@proxy.example", "x"])
def test_bad_proxy_options_are_refused_by_the_loader(proxy: str) -> None:
    with pytest.raises(ConfigError, match="proxy"):
        hook("https://moc.example/x", proxy=proxy)


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
    with pytest.raises(ConfigError):  # refused by the loader, and by the sender if built
        hook(url)
    with pytest.raises(ConfigError):
        WebhookSender(Channel(kind="webhook", target=url, secret="H"), secret=SECRET, timeout_s=1)


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
        cap = channel_from_config("cap_http", rx.url, secret="HOOK")
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
