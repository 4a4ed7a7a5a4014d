"""The application factory: ``create_app(settings)`` builds the whole HTTP service.

Everything the API serves is under ``/api`` (the operator console will be mounted at ``/``
by the same app). Middleware, outermost first: security headers, body-size cap, bearer
authentication; then FastAPI's routing with a role check per route.
"""

from __future__ import annotations

import logging

from fastapi import Depends, FastAPI

from seawarden.api import db, errors, managed
from seawarden.api.auth import AuthFailures, BearerAuthMiddleware
from seawarden.api.cursors import OpaqueCursors
from seawarden.api.hub import Hub
from seawarden.api.link import PipelineLink
from seawarden.api.metrics import registry_for
from seawarden.api.middleware import BodyLimitMiddleware, SecurityHeadersMiddleware
from seawarden.api.routes import (
    alerts,
    areas,
    audit,
    deliveries,
    report,
    stream,
    subscriptions,
    system,
    tokens,
    vessels,
    watchlist,
)
from seawarden.api.settings import ApiSettings

log = logging.getLogger("seawarden.api")
UPLOAD_PREFIXES = ("/api/areas/", "/api/watchlist/import")

OPENAPI_URL = "/api/openapi.json"

DESCRIPTION = """\
seawarden's HTTP API: the alert feed for watch officers and allies, operator actions,
the audit log and the delivery outbox.

Every request but `GET /api/health` needs `Authorization: Bearer <token>` (tokens come
from `seawarden token create`). Roles: **admin** (everything), **analyst** (all alerts;
acknowledge, assign, close; read deliveries), **ally** (only alerts releasable to its
nation and about its areas; read-only). Errors are `{"error": code, "message": text}`.
"""


def create_app(
    settings: ApiSettings,
    *,
    link: PipelineLink | None = None,
    hub: Hub | None = None,
    console: bool = False,
) -> FastAPI:
    """Build the API for one store. Creates the API's own tables if they are missing.

    ``link``: a pipeline running in this process (``seawarden serve``), whose live state
    the vessel routes read and whose areas/watchlist the management routes change; its
    ``hub`` feeds ``/api/stream``. ``console``: mount the web console at ``/``."""
    db.ensure_schema(settings.store)
    with db.connection(settings.store) as conn:
        managed.ensure_schema(conn)
    hub = hub or (link.hub if link is not None else None) or Hub()
    hub.max_frames = settings.stream_queue
    hub.position_interval_s = settings.position_interval_s
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
    app.state.cursors = OpaqueCursors()
    app.state.hub = hub
    app.state.link = link
    app.state.wake_delivery = None  # set by `serve` when it runs a delivery worker
    app.state.metrics = registry_for(
        store=settings.store, hub=hub, failures=app.state.auth_failures, link=link
    )
    errors.install(app)
    for module in (system, alerts, audit, deliveries, tokens, report):
        app.include_router(module.router, prefix="/api")
    for module in (vessels, areas, watchlist, subscriptions, stream):
        app.include_router(module.router, prefix="/api")
    app.include_router(system.root_router)
    app.add_middleware(BearerAuthMiddleware, settings=settings, failures=app.state.auth_failures)
    app.add_middleware(
        BodyLimitMiddleware,
        max_bytes=settings.max_body_bytes,
        upload_bytes=settings.max_upload_bytes,
        upload_prefixes=UPLOAD_PREFIXES,
    )
    app.add_middleware(SecurityHeadersMiddleware)
    if console:
        mount_console(app)
    return app


def mount_console(app: FastAPI) -> bool:
    """Mount the web console at ``/`` if this seawarden has one (after all API routes)."""
    try:
        from seawarden.web import mount_console as mount
    except ImportError:
        log.warning("no web console in this installation (seawarden.web); API only")
        return False
    mount(app)
    return True
