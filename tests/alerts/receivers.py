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


@contextlib.contextmanager
def smtp_server() -> Iterator[tuple[int, list[Any]]]:
    """An aiosmtpd SMTP server on 127.0.0.1; yields (port, received envelopes)."""
    from aiosmtpd.controller import Controller

    received: list[Any] = []

    class Handler:
        async def handle_DATA(  # noqa: N802 - aiosmtpd hook name
            self, server: Any, session: Any, envelope: Any
        ) -> str:
            received.append(envelope)
            return "250 OK"

        async def handle_RCPT(  # noqa: N802 - aiosmtpd hook name
            self, server: Any, session: Any, envelope: Any, address: str, options: Any
        ) -> str:
            if address.endswith("@refused.example"):
                return "550 no such user"
            envelope.rcpt_tos.append(address)
            return "250 OK"

    port = free_port()
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, received
    finally:
        controller.stop()
