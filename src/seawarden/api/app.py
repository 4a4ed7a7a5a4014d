"""The application factory: ``create_app(settings)`` builds the whole HTTP service.

Everything the API serves is under ``/api`` (the operator console will be mounted at ``/``
by the same app). Middleware, outermost first: security headers, body-size cap, bearer
authentication; then FastAPI's routing with a role check per route.
"""

from __future__ import annotations

from fastapi import Depends, FastAPI

from seawarden.api import db, errors
from seawarden.api.auth import AuthFailures, BearerAuthMiddleware
from seawarden.api.middleware import BodyLimitMiddleware, SecurityHeadersMiddleware
from seawarden.api.routes import alerts, audit, deliveries, system, tokens
from seawarden.api.settings import ApiSettings

OPENAPI_URL = "/api/openapi.json"

DESCRIPTION = """\
seawarden's HTTP API: the alert feed for watch officers and allies, operator actions,
the audit log and the delivery outbox.

Every request but `GET /api/health` needs `Authorization: Bearer <token>` (tokens come
from `seawarden token create`). Roles: **admin** (everything), **analyst** (all alerts;
acknowledge, assign, close; read deliveries), **ally** (only alerts releasable to its
nation and about its areas; read-only). Errors are `{"error": code, "message": text}`.
"""


def create_app(settings: ApiSettings) -> FastAPI:
    """Build the API for one store. Creates the API's own tables if they are missing."""
    db.ensure_schema(settings.store)
    app = FastAPI(
        title="seawarden",
        summary="Warn allies about vessels threatening undersea cables",
        description=DESCRIPTION,
        version="1",  # the API's contract version, not the software's
        openapi_url=None,  # served by an authenticated route instead (routes/system.py)
        docs_url=None,  # Swagger UI would load scripts from a CDN
        redoc_url=None,
        dependencies=[Depends(errors.reject_unknown_query)],
    )
    app.state.settings = settings
    app.state.auth_failures = AuthFailures()
    errors.install(app)
    for module in (system, alerts, audit, deliveries, tokens):
        app.include_router(module.router, prefix="/api")
    app.add_middleware(BearerAuthMiddleware, settings=settings, failures=app.state.auth_failures)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(SecurityHeadersMiddleware)
    return app
