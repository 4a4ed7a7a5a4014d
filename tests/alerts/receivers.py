"""Real local receivers for delivery tests: an HTTP endpoint, an MQTT broker, an SMTP server.

Each listens on 127.0.0.1 with an OS-chosen port and keeps what it got. The HTTP receiver
behaves as an ally's endpoint should: it checks the signature and deduplicates by
``Idempotency-Key`` (its *idempotent view* holds each key once), and can be told to misbehave
(answer 500 after processing, fail for a while, be slow, refuse everything).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson

from seawarden.alerts.channels.webhook import verify_signature

SECRET = "test-signing-key-0f9e8d7c6b5a"  # a test value: deliberately not a demo secret


def wait_for(
    predicate: Callable[[], bool], *, timeout_s: float = 20.0, what: str = "condition"
) -> None:
    """Poll ``predicate`` until true; fail the test after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout_s:g} s waiting for {what}")


def webhook_subscription(sub_id: str, recipient: str, nation: str, url: str) -> str:
    """One YAML subscription entry: a nation's centre, all areas, from ``low``, one webhook
    signed with the ``TEST_HOOK`` secret (set ``SEAWARDEN_SECRET_TEST_HOOK`` to ``SECRET``)."""
    return (
        f"  - id: {sub_id}\n"
        f"    recipient: {recipient}\n"
        f"    nation: {nation}\n"
        f"    cleared_for: REL {nation}\n"
        "    areas: all\n"
        "    min_severity: low\n"
        "    channels:\n"
        f"      - {{kind: webhook, target: '{url}', secret: TEST_HOOK}}\n"
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: bytes
    verified: bool
    at: float


@dataclass
class HttpReceiver:
    """A webhook endpoint. ``behaviour(n, request) -> (status, headers)`` picks the answer
    for the ``n``-th request (1-based); the default accepts everything."""

    secret: str = SECRET
    behaviour: Callable[[int, Request], tuple[int, dict[str, str]]] | None = None
    delay_s: float = 0.0
    requests: list[Request] = field(default_factory=list)
    view: dict[str, bytes] = field(default_factory=dict)  # idempotency key -> first body
    duplicates: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                headers = dict(self.headers.items())
                ok = verify_signature(
                    receiver.secret,
                    self.headers.get("X-Seawarden-Timestamp", ""),
                    body,
                    self.headers.get("X-Seawarden-Signature", ""),
                    idempotency_key=self.headers.get("Idempotency-Key", ""),
                )
                req = Request(self.path, headers, body, ok, time.time())
                with receiver.lock:
                    receiver.requests.append(req)
                    n = len(receiver.requests)
                if receiver.delay_s:
                    time.sleep(receiver.delay_s)
                status, extra = (
                    (200, {}) if receiver.behaviour is None else receiver.behaviour(n, req)
                )
                if ok and (status < 300 or status == 599):
                    # 599: "processed, then failed to answer" (at-least-once's duplicate).
                    key = self.headers.get("Idempotency-Key", "")
                    with receiver.lock:
                        if key in receiver.view:
                            receiver.duplicates += 1
                        else:
                            receiver.view[key] = body
                    status = 500 if status == 599 else status
                if not ok and status < 300:
                    status = 401
                self.send_response(status)
                for k, v in extra.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/alerts"

    def __enter__(self) -> HttpReceiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def alerts(self) -> list[tuple[str, int]]:
        """(alert id, revision) of each entry in the idempotent view."""
        with self.lock:
            bodies = list(self.view.values())
        out = []
        for b in bodies:
            env = orjson.loads(b)
            out.append((env["alert"]["id"], env["alert"]["revision"]))
        return out


@contextlib.contextmanager
def mqtt_broker() -> Iterator[int]:
    """An amqtt broker (pure-Python MQTT 3.1.1) in a thread on 127.0.0.1; yields the port."""
    from amqtt.broker import Broker

    port = free_port()
    config = {
        "listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{port}"}},
        "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
    }
    loop = asyncio.new_event_loop()
    started = threading.Event()
    holder: dict[str, Any] = {}

    def run() -> None:
        asyncio.set_event_loop(loop)
        broker = Broker(config, loop=loop)
        holder["broker"] = broker
        loop.run_until_complete(broker.start())
        started.set()
        loop.run_forever()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert started.wait(20), "MQTT broker did not start"
    try:
        yield port
    finally:
        asyncio.run_coroutine_threadsafe(holder["broker"].shutdown(), loop).result(20)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(20)
        loop.close()


@dataclass
class SmtpLog:
    """What an SMTP test server saw: messages, logins (with whether TLS was on), sessions."""

    received: list[Any] = field(default_factory=list)
    logins: list[tuple[str, str, bool]] = field(default_factory=list)
    connections: int = 0


@contextlib.contextmanager
def smtp_server(
    *,
    starttls: ssl.SSLContext | None = None,
    implicit_tls: ssl.SSLContext | None = None,
    auth: bool = False,
    auth_require_tls: bool = True,
) -> Iterator[tuple[int, SmtpLog]]:
    """An aiosmtpd SMTP server on 127.0.0.1; yields (port, what it saw).

    ``starttls``: offer STARTTLS with that server context; ``implicit_tls``: TLS from the
    first byte (SMTPS); ``auth``: offer AUTH and accept any login, recording it (by default
    only over TLS, as aiosmtpd does).
    """
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    seen = SmtpLog()

    class Handler:
        async def handle_DATA(  # noqa: N802 - aiosmtpd hook name
            self, server: Any, session: Any, envelope: Any
        ) -> str:
            seen.received.append(envelope)
            return "250 OK"

        async def handle_RCPT(  # noqa: N802 - aiosmtpd hook name
            self, server: Any, session: Any, envelope: Any, address: str, options: Any
        ) -> str:
            if address.endswith("@refused.example"):
                return "550 no such user"
            envelope.rcpt_tos.append(address)
            return "250 OK"

        async def handle_EHLO(  # noqa: N802 - aiosmtpd hook name
            self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
        ) -> list[str]:
            seen.connections += 1
            session.host_name = hostname
            return responses

    def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
        if isinstance(data, LoginPassword):
            # aiosmtpd knows of STARTTLS only; an SMTPS listener is TLS from the first byte.
            tls = session.ssl is not None or implicit_tls is not None
            seen.logins.append((data.login.decode(), data.password.decode(), tls))
            return AuthResult(success=True)
        return AuthResult(success=False, handled=False)

    kwargs: dict[str, Any] = {}
    if starttls is not None:
        kwargs["tls_context"] = starttls
    if implicit_tls is not None:
        kwargs["ssl_context"] = implicit_tls
    if auth:
        kwargs["authenticator"] = authenticator
        # (aiosmtpd cannot tell that an SMTPS session is encrypted: it would offer no AUTH.)
        kwargs["auth_require_tls"] = auth_require_tls and implicit_tls is None
    port = free_port()
    controller = Controller(Handler(), hostname="127.0.0.1", port=port, **kwargs)
    controller.start()
    try:
        yield port, seen
    finally:
        controller.stop()


@dataclass(frozen=True)
class LoopbackCA:
    """A self-signed certificate for 127.0.0.1 (and localhost) and contexts using it."""

    cert_file: str
    key_file: str

    def server_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(self.cert_file, self.key_file)
        return ctx

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.cert_file)


def make_loopback_ca(directory: str) -> LoopbackCA:
    """Write a fresh self-signed certificate (cryptography) valid for a day."""
    import datetime as dt
    import ipaddress
    import os

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "seawarden test")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file = os.path.join(directory, "cert.pem")
    key_file = os.path.join(directory, "key.pem")
    with open(cert_file, "wb") as fh:
        fh.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(key_file, "wb") as fh:
        fh.write(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    return LoopbackCA(cert_file, key_file)


@contextlib.contextmanager
def hostile_http_server(mode: str, *, for_s: float = 10.0) -> Iterator[str]:
    """A loopback HTTP server that answers one request badly; yields its URL.

    ``drip-body``: a 400 whose chunked body arrives one byte every 0.2 s; ``flood-body``: a
    400 with an endless body (1 MiB chunks); ``drip-headers``: the status line and headers a
    byte every 0.2 s. Each stops after ``for_s`` seconds or when the client goes away.
    """
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(4)
    srv.settimeout(for_s)
    stop = threading.Event()

    def serve() -> None:
        try:
            conn, _ = srv.accept()
        except OSError:
            return
        until = time.monotonic() + for_s
        conn.settimeout(for_s)  # a blocked send ends too
        try:
            conn.recv(65536)
            head = b"HTTP/1.1 400 Bad Request\r\nTransfer-Encoding: chunked\r\n\r\n"
            if mode == "drip-headers":
                for i in range(len(head)):
                    if stop.is_set() or time.monotonic() > until:
                        break
                    conn.sendall(head[i : i + 1])
                    stop.wait(0.2)
                return
            conn.sendall(head)
            chunk = b"100000\r\n" + b"x" * 0x100000 + b"\r\n"
            while not stop.is_set() and time.monotonic() < until:
                if mode == "drip-body":
                    conn.sendall(b"1\r\nx\r\n")
                    stop.wait(0.2)
                else:
                    conn.sendall(chunk)
        except OSError:
            pass  # the client hung up: what a bounded client does
        finally:
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{srv.getsockname()[1]}/hook"
    finally:
        stop.set()
        srv.close()
        thread.join(for_s + 5)
