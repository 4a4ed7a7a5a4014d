"""Bearer-token authentication (before anything else runs) and role checks per route.

Authentication is ASGI middleware, so a request without a valid token is answered 401
before routing, body parsing or validation: an anonymous caller learns nothing about which
API paths exist or what bodies they take. Only ``/api/health`` and the console's static
files (everything outside ``/api``, ``/metrics`` and ``/openapi.json``) are public. Each failure is
logged (reason, client address, path; never the token) and counted by reason.

Authorisation is a FastAPI dependency per route (:func:`require`): 403 for a role that may
not use a route; resources an ally may not see are answered 404 by the routes themselves.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Annotated

import anyio.to_thread
from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from seawarden.api import db, tokens
from seawarden.api.errors import error_body
from seawarden.api.middleware import is_api_path
from seawarden.api.principal import Principal
from seawarden.api.settings import ApiSettings, SubscriptionLike
from seawarden.api.tokens import Role
from seawarden.errors import StoreError

log = logging.getLogger("seawarden.api.auth")

PUBLIC_PATHS: frozenset[str] = frozenset({"/api/health"})


class AuthFailures:
    """Thread-safe counts of failed authentications by reason."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()

    def add(self, reason: str) -> None:
        with self._lock:
            self._counts[reason] += 1

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(sorted(self._counts.items()))


def _subscription_areas(sub: SubscriptionLike) -> frozenset[str] | None:
    """A subscription's areas: ``None`` (or ``"all"``) means every area."""
    areas = sub.areas
    if areas is None:
        return None
    if isinstance(areas, str):
        return None if areas == "all" else frozenset({areas})
    if isinstance(areas, Iterable):
        got = frozenset(str(a) for a in areas)
        return None if "all" in got else got
    return frozenset()


def resolve(settings: ApiSettings, presented: str) -> tuple[Principal | None, str]:
    """The principal for a presented token, or ``(None, reason)``."""
    if not tokens.TOKEN_RE.match(presented):
        return None, "malformed"
    if tokens.digest(presented) == tokens.DEMO_ADMIN_HASH and not settings.demo:
        return None, "demo_token"
    try:
        with db.connection(settings.store, busy_timeout_ms=settings.busy_timeout_ms) as conn:
            rec = tokens.lookup(conn, presented)
    except (sqlite3.DatabaseError, StoreError):  # StoreError: the server did not answer
        log.exception("api auth: token lookup failed")
        return None, "store_error"
    if rec is None:
        return None, "unknown_or_revoked"
    areas: frozenset[str] | None = None
    if rec.role == "ally":
        if rec.subscription_id is not None:
            sub = settings.subscriptions.get(rec.subscription_id)
            if sub is None:
                log.warning(
                    "api auth: token %s is bound to unknown subscription %r; it sees nothing",
                    rec.name,
                    rec.subscription_id,
                )
                areas = frozenset()
            else:
                areas = _subscription_areas(sub)
        else:
            areas = None if rec.areas is None else frozenset(rec.areas)
    return Principal(name=rec.name, role=rec.role, nation=rec.nation, areas=areas), "ok"


class BearerAuthMiddleware:
    """Require ``Authorization: Bearer <token>`` on every HTTP request but the public ones."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        settings: ApiSettings,
        failures: AuthFailures,
        public_paths: frozenset[str] = PUBLIC_PATHS,
    ) -> None:
        self.app = app
        self.settings = settings
        self.failures = failures
        self.public_paths = public_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = str(scope.get("path", ""))
        if (
            scope["type"] not in ("http", "websocket")
            or path in self.public_paths
            or not is_api_path(path)  # the console's static files are public
        ):
            await self.app(scope, receive, send)
            return
        header = Headers(scope=scope).get("authorization", "")
        scheme, _, presented = header.partition(" ")
        if scheme.lower() != "bearer" or not presented.strip():
            principal, reason = None, "missing" if not header else "not_bearer"
        else:
            principal, reason = await anyio.to_thread.run_sync(
                resolve, self.settings, presented.strip()
            )
        if principal is None:
            self.failures.add(reason)
            client = scope.get("client") or ("?", 0)
            log.warning(
                "api auth failed: reason=%s client=%s path=%r",
                reason,
                client[0],
                scope["path"][:200],
                extra={"reason": reason, "client": client[0]},
            )
            await self._reject(scope, send, reason)
            return
        scope.setdefault("state", {})["principal"] = principal
        await self.app(scope, receive, send)

    async def _reject(self, scope: Scope, send: Send, reason: str) -> None:
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        challenge = b'Bearer realm="seawarden"'
        if reason not in ("missing", "not_bearer"):
            challenge += b', error="invalid_token"'
        body = error_body(401, "a valid API token is required: Authorization: Bearer <token>")
        await send(
            {
                "type": "http.response.start",
                "status": 401,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"www-authenticate", challenge),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


bearer = HTTPBearer(auto_error=False, description="an API token from `seawarden token create`")


def require(*roles: Role) -> Callable[..., Principal]:
    """A dependency: the caller's principal, 403 unless its role is one of ``roles``."""

    def dependency(
        request: Request,
        _credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ) -> Principal:
        principal = getattr(request.state, "principal", None)
        if not isinstance(principal, Principal):
            raise HTTPException(
                401, "a valid API token is required", {"WWW-Authenticate": "Bearer"}
            )
        if principal.role not in roles:
            raise HTTPException(403, f"this needs the {' or '.join(roles)} role")
        return principal

    return dependency


ANY_ROLE: tuple[Role, ...] = ("admin", "analyst", "ally")
STAFF: tuple[Role, ...] = ("admin", "analyst")
