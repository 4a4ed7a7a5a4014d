"""The e-mail channel against a real SMTP server (aiosmtpd on loopback)."""

from __future__ import annotations

from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

import orjson
import pytest

from seawarden.alerts.channels import Delivery
from seawarden.alerts.channels.email import EmailSender, parse_addresses
from seawarden.alerts.dispatch import Dispatcher, RetryPolicy
from seawarden.alerts.outbox import OutboxSink, envelope
from seawarden.alerts.subscriptions import Channel, Subscription
from seawarden.errors import ConfigError
from seawarden.store.sqlite import SQLiteStore
from tests.alerts.factories import make_alert, revise
from tests.alerts.receivers import free_port, smtp_server, wait_for

SUB = Subscription(
    id="isl-cg",
    recipient="Icelandic Coast Guard",
    nation="ISL",
    audience=frozenset({"ISL"}),
    areas=None,
    min_severity="medium",
)


def mail(port: int, to: str = "duty@lhg.example, ops@lhg.example", **options: str) -> Channel:
    opts = {"smtp": f"127.0.0.1:{port}", "from": "seawarden@moc.example", **options}
    return Channel(kind="email", target=to, options=opts)


def delivery(ch: Channel, did: str = "e" * 32) -> Delivery:
    alert = make_alert()
    body = orjson.dumps(envelope(alert, SUB, did))
    return Delivery(
        delivery_id=did,
        alert_id=alert.id,
        revision=1,
        subscription_id=SUB.id,
        recipient=SUB.recipient,
        channel=ch,
        payload=body,
        attempt=1,
    )


def parsed(env: Any) -> Message:
    raw = env.content if isinstance(env.content, bytes) else env.original_content
    return message_from_bytes(raw)


def test_message_reaches_every_recipient_with_marking_and_reasons() -> None:
    with smtp_server() as (port, received):
        sender = EmailSender(mail(port, subject_prefix="[SEAWARDEN]"), password=None, timeout_s=5)
        out = sender.send(delivery(mail(port)))
    assert out.ok, out
    (env,) = received
    assert env.mail_from == "seawarden@moc.example"
    assert sorted(env.rcpt_tos) == ["duty@lhg.example", "ops@lhg.example"]
    msg = parsed(env)
    assert msg["Subject"].startswith("[SEAWARDEN] [REL JEF] HIGH Alert: EAGLE S")
    assert msg["Message-ID"] == f"<{'e' * 32}@seawarden>"
    parts = list(msg.walk())
    text = next(p for p in parts if p.get_content_type() == "text/plain").get_payload(decode=True)
    assert b"anchor_drag" in text
    assert b"Release marking: REL JEF" in text
    attached = next(p for p in parts if p.get_content_type() == "application/json")
    assert orjson.loads(attached.get_payload(decode=True))["alert"]["name"] == "EAGLE S"


def test_refused_recipients_are_dead_and_a_down_server_is_retried() -> None:
    with smtp_server() as (port, _):
        refused = EmailSender(mail(port, to="nobody@refused.example"), password=None, timeout_s=5)
        out = refused.send(delivery(mail(port)))
    assert not out.ok
    assert not out.retry
    assert "refused" in (out.error or "")
    down = EmailSender(mail(free_port()), password=None, timeout_s=2)
    out = down.send(delivery(mail(0)))
    assert not out.ok
    assert out.retry


def test_starttls_required_but_not_offered_is_a_dead_letter() -> None:
    with smtp_server() as (port, received):
        sender = EmailSender(mail(port, starttls="true"), password=None, timeout_s=5)
        out = sender.send(delivery(mail(port)))
    assert not out.ok
    assert not out.retry
    assert "STARTTLS" in (out.error or "")
    assert received == []  # nothing went out in clear text


def test_worker_mails_alert_update_and_cancel(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.db")
    with smtp_server() as (port, received):
        sub = Subscription(
            id=SUB.id,
            recipient=SUB.recipient,
            nation="ISL",
            audience=SUB.audience,
            areas=None,
            min_severity="medium",
            channels=(mail(port),),
        )
        sink = OutboxSink(store, [sub])
        worker = Dispatcher(store.path, [sub], secrets={}, policy=RetryPolicy(base_s=0.05))
        worker.start()
        sink.on_enqueue = worker.wake
        first = make_alert()
        sink.write([first, revise(first, "Update"), revise(revise(first, "Update"), "Cancel")])
        wait_for(lambda: worker.stats.delivered == 3, what="three mails")
        worker.stop()
    store.close()
    subjects = sorted(parsed(e)["Subject"].split(":")[0] for e in received)
    assert subjects == ["[REL JEF] HIGH Alert", "[REL JEF] HIGH Cancel", "[REL JEF] HIGH Update"]


@pytest.mark.parametrize("target", ["", "a@b", "x <a@b.c>", "a@b.c\r\nBcc: evil@x.y", "@b.c"])
def test_bad_addresses_are_config_errors(target: str) -> None:
    with pytest.raises(ConfigError):
        parse_addresses(target)
