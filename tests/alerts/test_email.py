"""The e-mail channel against a real SMTP server (aiosmtpd on loopback), configured from YAML.

Every channel here is built the way a deployment builds it — from a subscriptions file,
through the loader — so an option the loader accepts but the sender ignores (or the reverse)
fails these tests.
"""

from __future__ import annotations

from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

import orjson
import pytest

from seawarden.alerts.channels import Delivery, build_sender
from seawarden.alerts.channels import email as email_channel
from seawarden.alerts.channels.email import EmailSender, parse_addresses
from seawarden.alerts.dispatch import Dispatcher, RetryPolicy
from seawarden.alerts.outbox import OutboxSink, envelope
from seawarden.alerts.subscriptions import Channel, Subscription, load_subscriptions
from seawarden.errors import ConfigError
from seawarden.store.sqlite import SQLiteStore
from tests.alerts.factories import make_alert, revise
from tests.alerts.receivers import LoopbackCA, free_port, make_loopback_ca, smtp_server, wait_for

PASSWORD = "smtp-pass-5d1e9c0b7a"


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> LoopbackCA:
    return make_loopback_ca(str(tmp_path_factory.mktemp("ca")))


@pytest.fixture
def trust(ca: LoopbackCA, monkeypatch: pytest.MonkeyPatch) -> None:
    """The sender verifies certificates against the test CA instead of the system store
    (verification and host name checking stay on)."""
    monkeypatch.setattr(email_channel, "tls_context", ca.client_context)


def subscription(
    tmp_path: Path,
    options: str,
    *,
    to: str = "duty@lhg.example, ops@lhg.example",
    secret: str | None = None,
) -> Subscription:
    """The Icelandic Coast Guard's subscription with one e-mail channel, from a YAML file."""
    lines = [
        "subscriptions:",
        "  - id: isl-cg",
        "    recipient: Icelandic Coast Guard",
        "    nation: ISL",
        "    cleared_for: REL ISL",
        "    areas: all",
        "    min_severity: medium",
        "    channels:",
        "      - kind: email",
        f'        target: "{to}"',
        f"        options: {options}",
    ]
    if secret:
        lines.append(f"        secret: {secret}")
    path = tmp_path / "subscriptions.yaml"
    path.write_text("\n".join(lines) + "\n")
    (sub,) = load_subscriptions(path)
    return sub


def delivery(sub: Subscription, did: str = "e" * 32) -> Delivery:
    alert = make_alert()
    return Delivery(
        delivery_id=did,
        alert_id=alert.id,
        revision=1,
        subscription_id=sub.id,
        recipient=sub.recipient,
        channel=sub.channels[0],
        payload=orjson.dumps(envelope(alert, sub, did)),
        attempt=1,
    )


def sender_for(sub: Subscription, *, password: str | None = None) -> Any:
    secrets = {sub.channels[0].secret: password} if password and sub.channels[0].secret else {}
    return build_sender(sub.channels[0], secrets=secrets, timeout_s=5)


def parsed(env: Any) -> Message:
    raw = env.content if isinstance(env.content, bytes) else env.original_content
    return message_from_bytes(raw)


def test_yaml_options_reach_the_server(tmp_path: Path) -> None:
    with smtp_server() as (port, seen):
        sub = subscription(
            tmp_path,
            f"{{smtp_host: 127.0.0.1, smtp_port: {port}, from: seawarden@moc.example,"
            " subject_prefix: '[SEAWARDEN JEF]'}",
        )
        sender = sender_for(sub)
        assert (sender.host, sender.port, sender.tls) == ("127.0.0.1", port, "none")
        out = sender.send(delivery(sub))
    assert out.ok, out
    (env,) = seen.received
    assert env.mail_from == "seawarden@moc.example"
    assert sorted(env.rcpt_tos) == ["duty@lhg.example", "ops@lhg.example"]
    msg = parsed(env)
    assert msg["Subject"].startswith("[SEAWARDEN JEF] [REL JEF] HIGH Alert: EAGLE S")
    assert msg["Message-ID"] == f"<{'e' * 32}@seawarden>"
    parts = list(msg.walk())
    text = next(p for p in parts if p.get_content_type() == "text/plain").get_payload(decode=True)
    assert b"anchor_drag" in text
    assert b"Release marking: REL JEF" in text
    attached = next(p for p in parts if p.get_content_type() == "application/json")
    assert orjson.loads(attached.get_payload(decode=True))["alert"]["name"] == "EAGLE S"


def test_starttls_from_yaml_logs_in_only_after_the_upgrade(
    tmp_path: Path, ca: LoopbackCA, trust: None
) -> None:
    with smtp_server(starttls=ca.server_context(), auth=True) as (port, seen):
        sub = subscription(
            tmp_path,
            f"{{smtp_host: 127.0.0.1, smtp_port: {port}, tls: starttls, username: isl-relay,"
            " from: seawarden@moc.example}",
            secret="ISL_SMTP",
        )
        out = sender_for(sub, password=PASSWORD).send(delivery(sub))
    assert out.ok, out
    assert seen.logins == [("isl-relay", PASSWORD, True)]  # the password went over TLS
    assert len(seen.received) == 1


def test_implicit_tls_from_yaml(tmp_path: Path, ca: LoopbackCA, trust: None) -> None:
    with smtp_server(implicit_tls=ca.server_context(), auth=True) as (port, seen):
        sub = subscription(
            tmp_path,
            f"{{smtp_host: 127.0.0.1, smtp_port: {port}, tls: ssl}}",
            secret="ISL_SMTP",
        )
        out = sender_for(sub, password=PASSWORD).send(delivery(sub))
    assert out.ok, out
    assert seen.logins == [("seawarden@localhost", PASSWORD, True)]
    assert len(seen.received) == 1


def test_an_untrusted_certificate_is_not_accepted(tmp_path: Path, ca: LoopbackCA) -> None:
    # No `trust` fixture: the system store does not know the test CA.
    with smtp_server(starttls=ca.server_context(), auth=True) as (port, seen):
        sub = subscription(
            tmp_path,
            f"{{smtp_host: 127.0.0.1, smtp_port: {port}, tls: starttls}}",
            secret="ISL_SMTP",
        )
        out = sender_for(sub, password=PASSWORD).send(delivery(sub))
    assert not out.ok
    assert "CERTIFICATE_VERIFY_FAILED" in (out.error or "")
    assert seen.logins == []
    assert seen.received == []


def test_a_password_without_tls_is_refused_before_any_connection(tmp_path: Path) -> None:
    with smtp_server(auth=True, auth_require_tls=False) as (port, seen):
        sub = subscription(
            tmp_path, f"{{smtp_host: 127.0.0.1, smtp_port: {port}}}", secret="ISL_SMTP"
        )
        with pytest.raises(ConfigError, match="clear text") as exc:
            sender_for(sub, password=PASSWORD)
        assert PASSWORD not in str(exc.value)
        # Said explicitly (a relay on a trusted link), it is allowed.
        explicit = subscription(
            tmp_path,
            f"{{smtp_host: 127.0.0.1, smtp_port: {port}, tls: none}}",
            secret="ISL_SMTP",
        )
        out = sender_for(explicit, password=PASSWORD).send(delivery(explicit))
    assert out.ok, out
    assert seen.connections == 1
    assert seen.logins == [("seawarden@localhost", PASSWORD, False)]


def test_starttls_required_but_not_offered_is_a_dead_letter(tmp_path: Path) -> None:
    with smtp_server(auth=True, auth_require_tls=False) as (port, seen):
        sub = subscription(
            tmp_path,
            f"{{smtp_host: 127.0.0.1, smtp_port: {port}, tls: starttls}}",
            secret="ISL_SMTP",
        )
        out = sender_for(sub, password=PASSWORD).send(delivery(sub))
    assert not out.ok
    assert not out.retry
    assert "STARTTLS" in (out.error or "")
    assert seen.logins == []  # the password was not offered in clear text
    assert seen.received == []  # nothing went out in clear text


def test_refused_recipients_are_dead_and_a_down_server_is_retried(tmp_path: Path) -> None:
    with smtp_server() as (port, _):
        sub = subscription(
            tmp_path, f"{{smtp_host: 127.0.0.1, smtp_port: {port}}}", to="nobody@refused.example"
        )
        out = sender_for(sub).send(delivery(sub))
    assert not out.ok
    assert not out.retry
    assert "refused" in (out.error or "")
    down = subscription(tmp_path, f"{{smtp_host: 127.0.0.1, smtp_port: {free_port()}}}")
    out = sender_for(down).send(delivery(down))
    assert not out.ok
    assert out.retry


@pytest.mark.parametrize(
    ("options", "problem"),
    [
        ("{smtp: '127.0.0.1:25'}", "unknown email option 'smtp'"),
        ("{starttls: true}", "unknown email option 'starttls'"),
        ("{tls: true}", "email option tls: must be one of none, starttls, ssl"),
        ("{smtp_port: 0}", "email option smtp_port"),
        ('{subject_prefix: "a\\nBcc: x@y.z"}', "email option subject_prefix"),
    ],
)
def test_the_names_the_sender_once_read_are_refused_at_load(
    tmp_path: Path, options: str, problem: str
) -> None:
    with pytest.raises(ConfigError, match=problem):
        subscription(tmp_path, options)


def test_default_ports_follow_the_tls_mode(tmp_path: Path) -> None:
    for mode, port in (("none", 25), ("starttls", 587), ("ssl", 465)):
        sender = sender_for(subscription(tmp_path, f"{{smtp_host: relay.example, tls: {mode}}}"))
        assert (sender.host, sender.port, sender.tls) == ("relay.example", port, mode)


def test_worker_mails_alert_update_and_cancel(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.db")
    with smtp_server() as (port, seen):
        sub = subscription(tmp_path, f"{{smtp_host: 127.0.0.1, smtp_port: {port}}}")
        sink = OutboxSink(store, [sub])
        worker = Dispatcher(store.path, [sub], secrets={}, policy=RetryPolicy(base_s=0.05))
        worker.start()
        sink.on_enqueue = worker.wake
        first = make_alert(releasability="REL ISL")
        sink.write([first, revise(first, "Update"), revise(revise(first, "Update"), "Cancel")])
        wait_for(lambda: worker.stats.delivered == 3, what="three mails")
        worker.stop()
    store.close()
    subjects = sorted(parsed(e)["Subject"].split(":")[0] for e in seen.received)
    assert subjects == ["[REL ISL] HIGH Alert", "[REL ISL] HIGH Cancel", "[REL ISL] HIGH Update"]


@pytest.mark.parametrize("target", ["", "a@b", "x <a@b.c>", "a@b.c\r\nBcc: evil@x.y", "@b.c"])
def test_bad_addresses_are_config_errors(target: str) -> None:
    with pytest.raises(ConfigError):
        parse_addresses(target)
    with pytest.raises(ConfigError):
        EmailSender(Channel(kind="email", target=target), password=None, timeout_s=1)
