"""Webhook channel: the alert as a signed JSON POST to a recipient's HTTPS endpoint.

Allied operations centres integrate alerts into their own systems; an HTTP endpoint is the
lowest common denominator. Each request carries

* ``Idempotency-Key: <delivery id>`` — the same for every retry of one revision to one
  recipient, so a receiver that stores the key sees each revision exactly once although
  delivery is at-least-once;
* ``X-Seawarden-Timestamp: <unix seconds>`` and
  ``X-Seawarden-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<idempotency key>.<body>">``
  keyed with the subscription's secret, so the receiver knows the alert came from us,
  unaltered, under that key, and recently (:func:`verify_signature` is the receiver's side;
  a request older than the tolerance is refused, and one replayed with a fresh key fails).

Answers: 2xx delivered; 408, 425, 429 and 5xx retried (``Retry-After`` honoured); any
other 4xx or a 3xx is dead at once with the reason (the endpoint refuses this request and
will go on refusing it); timeouts and connection errors retried. Redirects are not followed:
a signed alert goes only where it was configured to go.

One attempt is bounded in wall-clock time by the channel's timeout — connect, TLS, sending,
the answer's headers and body together, not per read (a recipient that drips its answer a
byte at a time cannot hold a lane) — and at most :data:`MAX_ANSWER_BYTES` of the answer's
body are read (for the error message); the rest is dropped with the connection. The HTTP
client ignores the environment (``HTTP(S)_PROXY``, ``NO_PROXY``, ``.netrc``, ``SSL_CERT_*``):
an alert goes through a proxy only if the channel's ``proxy`` option names one.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import ssl
import time
import typing
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import httpcore
import httpx

from seawarden import __version__
from seawarden.alerts.channels import Delivery, Outcome, label, option
from seawarden.errors import ConfigError

if TYPE_CHECKING:
    from seawarden.alerts.subscriptions import Channel

SIGNATURE_HEADER = "X-Seawarden-Signature"
TIMESTAMP_HEADER = "X-Seawarden-Timestamp"
IDEMPOTENCY_HEADER = "Idempotency-Key"
_RETRY_STATUSES = frozenset({408, 425, 429})

#: The most of an answer's body one attempt reads (it only feeds ``last_error``).
MAX_ANSWER_BYTES = 4096
_KEY = re.compile(r"^[A-Za-z0-9_-]{1,128}$")


def _message(timestamp: str, idempotency_key: str, body: bytes) -> bytes:
    if not _KEY.match(idempotency_key):
        raise ValueError("idempotency key must be 1..128 of A-Z, a-z, 0-9, '_' and '-'")
    return f"{timestamp}.{idempotency_key}.".encode() + body


def sign(secret: str, timestamp: str, body: bytes, *, idempotency_key: str) -> str:
    """The signature header value: ``sha256=<hex>`` over ``"<timestamp>.<key>.<body>"``.

    The idempotency key is signed too: otherwise a captured request could be replayed with
    a fresh key and pass both the signature check and the receiver's deduplication.
    """
    message = _message(timestamp, idempotency_key, body)
    mac = hmac.new(secret.encode(), message, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify_signature(
    secret: str,
    timestamp: str,
    body: bytes,
    header: str,
    *,
    idempotency_key: str,
    tolerance_s: float = 300,
    now: float | None = None,
) -> bool:
    """Receiver side: is ``header`` our signature of ``body`` under ``idempotency_key`` (the
    request's ``Idempotency-Key``) at a recent ``timestamp``?

    Constant-time comparison; a timestamp more than ``tolerance_s`` from ``now`` (default:
    the system clock) is refused so a captured request cannot be replayed later, and the
    key is part of the signed message so it cannot be replaced.

    >>> sig = sign("k", "1700000000", b"{}", idempotency_key="d1")
    >>> verify_signature("k", "1700000000", b"{}", sig, idempotency_key="d1", now=1700000010)
    True
    >>> verify_signature("k", "1700000000", b"{}", sig, idempotency_key="d2", now=1700000010)
    False
    >>> verify_signature("k", "1700000000", b"{}", sig, idempotency_key="d1", now=1700009999)
    False
    """
    if not isinstance(timestamp, str) or not timestamp.isascii() or not timestamp.isdigit():
        return False
    current = time.time() if now is None else now
    if abs(current - int(timestamp)) > tolerance_s:
        return False
    if not isinstance(header, str) or not header.startswith("sha256="):
        return False
    if not isinstance(idempotency_key, str) or not _KEY.match(idempotency_key):
        return False
    expected = sign(secret, timestamp, body, idempotency_key=idempotency_key)
    return hmac.compare_digest(expected, header)


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


# -- a wall-clock bound on the whole attempt ---------------------------------------------------
class _Deadline:
    """The monotonic time by which the current attempt must be over (None: no attempt)."""

    def __init__(self) -> None:
        self.at: float | None = None

    def left(self, timeout: float | None, exc: type[Exception]) -> float | None:
        """The time one socket operation may take: its own timeout, cut to what is left."""
        if self.at is None:
            return timeout
        remaining = self.at - time.monotonic()
        if remaining <= 0:
            raise exc("attempt deadline passed")
        return remaining if timeout is None else min(timeout, remaining)


class _DeadlineStream(httpcore.NetworkStream):
    """A network stream whose every read, write and TLS handshake ends by the deadline."""

    def __init__(self, inner: httpcore.NetworkStream, deadline: _Deadline) -> None:
        self._inner = inner
        self._deadline = deadline

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, self._deadline.left(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, self._deadline.left(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        left = self._deadline.left(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(
            self._inner.start_tls(ssl_context, server_hostname, left), self._deadline
        )

    def get_extra_info(self, info: str) -> typing.Any:
        return self._inner.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    def __init__(self, inner: httpcore.NetworkBackend, deadline: _Deadline) -> None:
        self._inner = inner
        self._deadline = deadline

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[typing.Any] | None = None,
    ) -> httpcore.NetworkStream:
        left = self._deadline.left(timeout, httpcore.ConnectTimeout)
        stream = self._inner.connect_tcp(host, port, left, local_address, socket_options)
        return _DeadlineStream(stream, self._deadline)

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[typing.Any] | None = None,
    ) -> httpcore.NetworkStream:
        left = self._deadline.left(timeout, httpcore.ConnectTimeout)
        stream = self._inner.connect_unix_socket(path, left, socket_options)
        return _DeadlineStream(stream, self._deadline)

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


def check_proxy(channel: Channel) -> str | None:
    """The channel's ``proxy`` option (an http:// or https:// URL), or None."""
    raw = option(channel, "proxy")
    if raw is None:
        return None
    try:
        parts = urlsplit(raw)
        _ = parts.port
    except ValueError:
        raise ConfigError(f"{label(channel)}: options.proxy is not a valid URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{label(channel)}: options.proxy must be an http(s):// URL")
    return raw


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
        self.timeout_s = timeout_s
        self.deadline = _Deadline()
        proxy = check_proxy(channel)
        # No environment: a proxy variable or .netrc on the host must not redirect or
        # authenticate signed alerts; a proxy is used only when the channel names one.
        transport = httpx.HTTPTransport(proxy=proxy, trust_env=False)
        pool = transport._pool  # the one place httpx lets the socket layer be wrapped
        pool._network_backend = _DeadlineBackend(pool._network_backend, self.deadline)
        self.client = httpx.Client(
            transport=transport,
            timeout=httpx.Timeout(timeout_s),
            follow_redirects=False,
            trust_env=False,
            headers={"User-Agent": f"seawarden/{__version__}", "Accept-Encoding": "identity"},
        )

    def headers(self, delivery: Delivery, body: bytes) -> Mapping[str, str]:
        ts = str(int(time.time()))
        key = delivery.delivery_id
        return {
            "Content-Type": self.content_type,
            IDEMPOTENCY_HEADER: key,
            TIMESTAMP_HEADER: ts,
            SIGNATURE_HEADER: sign(self.secret, ts, body, idempotency_key=key),
            "X-Seawarden-Alert": f"{delivery.alert_id};revision={delivery.revision}",
            "X-Seawarden-Attempt": str(delivery.attempt),
        }

    def send(self, delivery: Delivery) -> Outcome:
        body = delivery.payload
        started = time.perf_counter()
        self.deadline.at = time.monotonic() + self.timeout_s
        try:
            with self.client.stream(
                "POST", self.url, content=body, headers=self.headers(delivery, body)
            ) as resp:
                code = resp.status_code
                answer, cut = self._read_answer(resp)
                outcome = self._classify(resp, code, answer, cut, started)
        except httpx.TimeoutException as exc:
            return Outcome.again(f"timeout after {self.timeout_s:g} s ({type(exc).__name__})")
        except httpx.HTTPError as exc:
            return Outcome.again(f"{type(exc).__name__}: {_short(str(exc))}")
        except (OSError, ValueError) as exc:  # e.g. an unencodable host name
            return Outcome.again(f"{type(exc).__name__}: {_short(str(exc))}")
        finally:
            self.deadline.at = None
        return outcome

    def _read_answer(self, resp: httpx.Response) -> tuple[bytes, str]:
        """At most :data:`MAX_ANSWER_BYTES` of the body, by the deadline; and why it was cut."""
        buf = bytearray()
        try:
            for chunk in resp.iter_raw():
                buf += chunk
                if len(buf) >= MAX_ANSWER_BYTES:
                    return bytes(buf[:MAX_ANSWER_BYTES]), "truncated"
                if self.deadline.at is not None and time.monotonic() >= self.deadline.at:
                    return bytes(buf), "cut off at the deadline"
        except httpx.TimeoutException:
            return bytes(buf), "cut off at the deadline"
        except httpx.HTTPError:
            return bytes(buf), "connection lost"
        return bytes(buf), ""

    def _classify(
        self, resp: httpx.Response, code: int, answer: bytes, cut: str, started: float
    ) -> Outcome:
        elapsed_ms = round((time.perf_counter() - started) * 1000, 1)
        if 200 <= code < 300:
            return Outcome.delivered(http_status=code, elapsed_ms=elapsed_ms)
        text = _short(answer.decode("utf-8", errors="replace"))
        if cut:
            text = f"{text} [body {cut}]".strip()
        reason = f"HTTP {code} {resp.reason_phrase}: {text}".rstrip(": ")
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
    "MAX_ANSWER_BYTES",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "HttpPoster",
    "WebhookSender",
    "check_proxy",
    "check_url",
    "retry_after_s",
    "sign",
    "verify_signature",
]
