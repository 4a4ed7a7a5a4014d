"""Transport-level guards: a body-size cap and security headers on every response."""

from __future__ import annotations

from fastapi import HTTPException
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from seawarden.api.errors import error_body

API_CSP = "default-src 'none'; frame-ancestors 'none'"
# The console: its own scripts, styles and images (data: URIs for the basemap's sprites),
# fetches to this origin only; no inline scripts, no framing.
CONSOLE_CSP = (
    "default-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; "
    "base-uri 'self'; frame-ancestors 'none'; form-action 'self'"
)
API_HEADERS: tuple[tuple[str, str], ...] = (("Cache-Control", "no-store"),)
NON_CONSOLE_PATHS: frozenset[str] = frozenset({"/metrics", "/openapi.json"})


def is_api_path(path: str) -> bool:
    """The API (token-protected, closed CSP): /api/..., /metrics, /openapi.json."""
    return path == "/api" or path.startswith("/api/") or path in NON_CONSOLE_PATHS


ALL_HEADERS: tuple[tuple[str, str], ...] = (
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "no-referrer"),
    ("Cross-Origin-Resource-Policy", "same-origin"),
)


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body over {limit} bytes")


class BodyLimitMiddleware:
    """413 for a body over ``max_bytes``: by Content-Length up front, or while streaming."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_bytes: int,
        upload_bytes: int | None = None,
        upload_prefixes: tuple[str, ...] = (),
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.upload_bytes = upload_bytes or max_bytes
        self.upload_prefixes = upload_prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = str(scope["path"])
        limit = self.max_bytes
        if self.upload_prefixes and path.startswith(self.upload_prefixes):
            limit = self.upload_bytes
        length = Headers(scope=scope).get("content-length")
        if length is not None and (not length.isdigit() or int(length) > limit):
            status = 413 if length.isdigit() else 400
            message = (
                f"request body over {limit} bytes" if status == 413 else "bad Content-Length header"
            )
            body = error_body(status, message)
            await send(
                {
                    "type": "http.response.start",
                    "status": status,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode()),
                        (b"connection", b"close"),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    # an HTTPException, so FastAPI's body reader passes it to the handlers
                    raise BodyTooLarge(limit)
            return message

        await self.app(scope, limited, send)


class SecurityHeadersMiddleware:
    """nosniff, no framing, no referrer everywhere; ``no-store`` and a closed CSP on the API
    (unless a route set its own CSP, e.g. a report download); the console's CSP elsewhere."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        api = is_api_path(str(scope["path"]))

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for k, v in ALL_HEADERS + (API_HEADERS if api else ()):
                    headers[k] = v
                if "content-security-policy" not in headers:
                    headers["Content-Security-Policy"] = API_CSP if api else CONSOLE_CSP
            await send(message)

        await self.app(scope, receive, with_headers)
