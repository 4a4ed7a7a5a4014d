"""Webhook channel: the alert as a signed JSON POST to a recipient's HTTPS endpoint.

Allied operations centres integrate alerts into their own systems; an HTTP endpoint is the
lowest common denominator. Each request carries

* ``Idempotency-Key: <delivery id>`` — the same for every retry of one revision to one
  recipient, so a receiver that stores the key sees each revision exactly once although
  delivery is at-least-once;
* ``X-Seawarden-Timestamp: <unix seconds>`` and
  ``X-Seawarden-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">`` keyed with
  the subscription's secret, so the receiver knows the alert came from us, unaltered, and
  recently (:func:`verify_signature` is the receiver's side; a replayed request older than
  the tolerance is refused).

Answers: 2xx delivered; 408, 425, 429 and 5xx retried (``Retry-After`` honoured); any
other 4xx or a 3xx is dead at once with the reason (the endpoint refuses this request and
will go on refusing it); timeouts and connection errors retried. Redirects are not followed:
a signed alert goes only where it was configured to go.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import httpx

from seawarden import __version__
from seawarden.alerts.channels import Delivery, Outcome, label
from seawarden.errors import ConfigError

if TYPE_CHECKING:
    from seawarden.alerts.subscriptions import Channel

SIGNATURE_HEADER = "X-Seawarden-Signature"
TIMESTAMP_HEADER = "X-Seawarden-Timestamp"
IDEMPOTENCY_HEADER = "Idempotency-Key"
_RETRY_STATUSES = frozenset({408, 425, 429})


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The signature header value: ``sha256=<hex>`` over ``"<timestamp>.<body>"``."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify_signature(
    secret: str,
    timestamp: str,
    body: bytes,
    header: str,
    *,
    tolerance_s: float = 300,
    now: float | None = None,
) -> bool:
    """Receiver side: is ``header`` our signature of ``body`` at a recent ``timestamp``?

    Constant-time comparison; a timestamp more than ``tolerance_s`` from ``now`` (default:
    the system clock) is refused so a captured request cannot be replayed later.

    >>> sig = sign("k", "1700000000", b"{}")
    >>> verify_signature("k", "1700000000", b"{}", sig, now=1700000010)
    True
    >>> verify_signature("k", "1700000000", b"{}", sig, now=1700009999)
    False
    """
    try:
        ts = int(timestamp)
    except (TypeError, ValueError):
        return False
    current = time.time() if now is None else now
    if abs(current - ts) > tolerance_s:
        return False
    if not isinstance(header, str) or not header.startswith("sha256="):
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), header)


def check_url(channel: Channel) -> str:
    """The channel's URL if it is an absolute http(s) URL with a host, else ``ConfigError``."""
    url = channel.target.strip()
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises on a malformed port
    except ValueError as exc:
        raise ConfigError(f"{channel.kind} target is not a valid URL ({exc})") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            f"{label(channel)}: target must be an http:// or https:// URL with a host"
        )
    return url


def retry_after_s(value: str | None, *, now: float | None = None) -> float | None:
    """``Retry-After`` as seconds from now: delta-seconds or an HTTP date; None if absent."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    current = datetime.fromtimestamp(time.time() if now is None else now, UTC)
    return max(0.0, (when - current).total_seconds())


class HttpPoster:
    """One attempt = one signed POST; shared by the webhook and CAP channels."""

    content_type = "application/json"

    def __init__(self, channel: Channel, *, secret: str | None, timeout_s: float) -> None:
        self.channel = channel
        self.url = check_url(channel)
        if secret is None:
            raise ConfigError(
                f"{label(channel)}: a {channel.kind} channel needs `secret: NAME` "
                "(the HMAC signing key); unsigned alerts could be forged"
            )
        self.secret = secret
        self.client = httpx.Client(
            timeout=httpx.Timeout(timeout_s),
            follow_redirects=False,
            headers={"User-Agent": f"seawarden/{__version__}"},
        )

    def headers(self, delivery: Delivery, body: bytes) -> Mapping[str, str]:
        ts = str(int(time.time()))
        return {
            "Content-Type": self.content_type,
            IDEMPOTENCY_HEADER: delivery.delivery_id,
            TIMESTAMP_HEADER: ts,
            SIGNATURE_HEADER: sign(self.secret, ts, body),
            "X-Seawarden-Alert": f"{delivery.alert_id};revision={delivery.revision}",
            "X-Seawarden-Attempt": str(delivery.attempt),
        }

    def send(self, delivery: Delivery) -> Outcome:
        body = delivery.payload
        started = time.perf_counter()
        try:
            resp = self.client.post(self.url, content=body, headers=self.headers(delivery, body))
        except httpx.TimeoutException as exc:
            return Outcome.again(f"timeout ({type(exc).__name__})")
        except httpx.HTTPError as exc:
            return Outcome.again(f"{type(exc).__name__}: {_short(str(exc))}")
        except (OSError, ValueError) as exc:  # e.g. an unencodable host name
            return Outcome.again(f"{type(exc).__name__}: {_short(str(exc))}")
        elapsed_ms = round((time.perf_counter() - started) * 1000, 1)
        code = resp.status_code
        if 200 <= code < 300:
            return Outcome.delivered(http_status=code, elapsed_ms=elapsed_ms)
        reason = f"HTTP {code} {resp.reason_phrase}: {_short(resp.text)}".rstrip(": ")
        if code >= 500 or code in _RETRY_STATUSES:
            return Outcome.again(
                reason,
                retry_after_s=retry_after_s(resp.headers.get("Retry-After")),
                http_status=code,
            )
        if 300 <= code < 400:
            where = resp.headers.get("Location", "?")
            reason = f"HTTP {code}: redirect to {_short(where)} not followed; fix the URL"
        return Outcome.dead(reason, http_status=code)

    def close(self) -> None:
        self.client.close()


def _short(text: str, n: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"


class WebhookSender(HttpPoster):
    """JSON POST (the payload is the delivery envelope built when the revision was queued)."""

    content_type = "application/json"


__all__ = [
    "IDEMPOTENCY_HEADER",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "HttpPoster",
    "WebhookSender",
    "check_url",
    "retry_after_s",
    "sign",
    "verify_signature",
]
