"""Delivery channels: how one alert revision reaches one recipient.

Each channel module turns a :class:`Delivery` (payload bytes built when the revision was
queued, plus the subscription's channel config) into an :class:`Outcome`: delivered, retry
later (the recipient or the network is having a bad moment), or dead (it will never work
as configured: a 4xx answer, a refused recipient, an invalid URL). The delivery worker
(:mod:`seawarden.alerts.dispatch`) owns retries, backoff and the outbox; a channel makes
exactly one attempt, bounded by its timeout, and never raises for a failed attempt.

========== ================================================== ==============================
kind       target                                             secret
========== ================================================== ==============================
webhook    ``https://host/path`` — JSON POST, HMAC-signed     signing key (required)
cap_http   ``https://host/path`` — CAP 1.2 XML POST, signed   signing key (required)
mqtt       ``mqtt://host:port/topic`` (``mqtts://`` for TLS)  broker password (optional)
email      ``a@b.c, d@e.f`` (SMTP server in ``options``)      SMTP password (optional)
console    anything (logged at WARNING)                       —
========== ================================================== ==============================
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol
from urllib.parse import urlsplit, urlunsplit

from seawarden.errors import ConfigError

if TYPE_CHECKING:
    from seawarden.alerts.subscriptions import Channel

#: Largest payload any channel sends unless ``options: {max_bytes: ...}`` says otherwise.
DEFAULT_MAX_BYTES = 1_000_000


@dataclass(frozen=True, slots=True, kw_only=True)
class Delivery:
    """One attempt's input: an outbox row with its channel resolved."""

    delivery_id: str
    alert_id: str
    revision: int
    subscription_id: str
    recipient: str
    channel: Channel
    payload: bytes
    attempt: int  # 1 for the first attempt


@dataclass(frozen=True, slots=True, kw_only=True)
class Outcome:
    """What one attempt achieved. ``retry`` matters only when not ``ok``."""

    ok: bool
    retry: bool = False
    error: str | None = None
    retry_after_s: float | None = None
    detail: Mapping[str, object] = field(default_factory=dict)

    @classmethod
    def delivered(cls, **detail: object) -> Outcome:
        return cls(ok=True, detail=detail)

    @classmethod
    def again(cls, error: str, *, retry_after_s: float | None = None, **detail: object) -> Outcome:
        return cls(ok=False, retry=True, error=error, retry_after_s=retry_after_s, detail=detail)

    @classmethod
    def dead(cls, error: str, **detail: object) -> Outcome:
        return cls(ok=False, retry=False, error=error, detail=detail)


class Sender(Protocol):
    """A channel's connection to one recipient (one per subscription channel)."""

    def send(self, delivery: Delivery) -> Outcome: ...
    def close(self) -> None: ...


def redact_url(url: str) -> str:
    """``scheme://host:port/path`` without user, password, query or fragment (for logs)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "<invalid url>"
    if ":" in host:
        host = f"[{host}]"
    return urlunsplit((parts.scheme, host + port, parts.path, "", ""))


def label(channel: Channel) -> str:
    """The channel as shown in the outbox and logs: kind and target, never a secret."""
    if channel.kind in ("webhook", "cap_http", "mqtt"):
        return f"{channel.kind}:{redact_url(channel.target)}"
    return f"{channel.kind}:{channel.target}"


def option(channel: Channel, name: str, default: str | None = None) -> str | None:
    """A channel option as the subscriptions loader validated it (``default`` if absent).

    Senders read their options only through this, and only names the loader accepts for the
    kind (:data:`~seawarden.alerts.subscriptions.CHANNEL_OPTIONS`): a sender reading a name
    the loader refuses could never be configured from a file, so that is an error here.
    """
    from seawarden.alerts.subscriptions import CHANNEL_OPTIONS

    if name not in CHANNEL_OPTIONS.get(channel.kind, {}):
        raise ConfigError(
            f"{channel.kind} channel reads option {name!r}, which subscriptions do not accept "
            "(a seawarden bug: the loader and the channel disagree)"
        )
    return channel.options.get(name, default)


def max_bytes(channel: Channel) -> int:
    raw = option(channel, "max_bytes")
    if raw is None:
        return DEFAULT_MAX_BYTES
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{label(channel)}: options.max_bytes {raw!r} is not a number") from None
    if value <= 0:
        raise ConfigError(f"{label(channel)}: options.max_bytes must be > 0")
    return value


def build_sender(channel: Channel, *, secrets: Mapping[str, str], timeout_s: float) -> Sender:
    """The sender for a channel; ``ConfigError`` (naming the channel) if it cannot work."""
    secret = None
    if channel.secret is not None:
        if channel.secret not in secrets:
            raise ConfigError(f"{label(channel)}: secret {channel.secret!r} was not resolved")
        secret = secrets[channel.secret]
    max_bytes(channel)
    if channel.kind == "webhook":
        from seawarden.alerts.channels.webhook import WebhookSender

        return WebhookSender(channel, secret=secret, timeout_s=timeout_s)
    if channel.kind == "cap_http":
        from seawarden.alerts.channels.cap_http import CapHttpSender

        return CapHttpSender(channel, secret=secret, timeout_s=timeout_s)
    if channel.kind == "mqtt":
        from seawarden.alerts.channels.mqtt import MqttSender

        return MqttSender(channel, password=secret, timeout_s=timeout_s)
    if channel.kind == "email":
        from seawarden.alerts.channels.email import EmailSender

        return EmailSender(channel, password=secret, timeout_s=timeout_s)
    if channel.kind == "console":
        from seawarden.alerts.channels.console import ConsoleSender

        return ConsoleSender(channel)
    raise ConfigError(f"unknown channel kind {channel.kind!r}")


__all__ = [
    "DEFAULT_MAX_BYTES",
    "Delivery",
    "Outcome",
    "Sender",
    "build_sender",
    "label",
    "max_bytes",
    "option",
    "redact_url",
]
