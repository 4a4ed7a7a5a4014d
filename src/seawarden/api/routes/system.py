"""Health (public, says nothing about versions), auth statistics, the OpenAPI document."""

from __future__ import annotations

import sqlite3
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from seawarden.api import db
from seawarden.api.auth import ANY_ROLE, STAFF, AuthFailures, require
from seawarden.api.deps import Conn, Settings
from seawarden.api.principal import Principal
from seawarden.api.schemas import ErrorBody, Health, Me, Run, RunPage, Stats
from seawarden.errors import StoreError

router = APIRouter(tags=["system"])
root_router = APIRouter(tags=["system"])  # mounted at / (not under /api)


@router.get(
    "/health", summary="Liveness and store reachability (no token needed)", response_model=Health
)
def health(settings: Settings) -> Health:
    try:
        with db.connection(settings.store, busy_timeout_ms=1000) as conn:
            conn.execute("SELECT 1 FROM alerts LIMIT 1").fetchall()
    except (sqlite3.DatabaseError, OSError, StoreError):
        return Health(status="degraded", store="unavailable")
    return Health(status="ok", store="ok")


@router.get(
    "/runs",
    summary="Pipeline runs recorded in the store, newest first (analyst, admin)",
    response_model=RunPage,
    responses={
        401: {"model": ErrorBody, "description": "no valid token"},
        403: {"model": ErrorBody, "description": "analyst or admin only"},
    },
)
def runs(
    _staff: Annotated[Principal, Depends(require(*STAFF))],
    conn: Conn,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> RunPage:
    rows = conn.execute(
        "SELECT run_id, started, finished, command, status, inputs, config, versions, stats"
        " FROM runs ORDER BY started DESC, run_id DESC LIMIT ?",
        (limit,),
    ).fetchall()
    items = [
        Run(
            run_id=r[0],
            started=r[1],
            finished=r[2],
            command=r[3],
            status=r[4],
            inputs=orjson.loads(r[5]),
            config=orjson.loads(r[6]),
            versions=orjson.loads(r[7]),
            stats=None if r[8] is None else orjson.loads(r[8]),
        )
        for r in rows
    ]
    return RunPage(items=items)


@router.get(
    "/me",
    summary="The calling token: name, role, nation and areas (any role)",
    response_model=Me,
    responses={401: {"model": ErrorBody, "description": "no valid token"}},
)
def me(principal: Annotated[Principal, Depends(require(*ANY_ROLE))]) -> Me:
    areas = None if principal.areas is None else sorted(principal.areas)
    return Me(name=principal.name, role=principal.role, nation=principal.nation, areas=areas)


@router.get(
    "/stats",
    summary="Counts of failed authentications by reason (admin)",
    response_model=Stats,
    responses={
        401: {"model": ErrorBody, "description": "no valid token"},
        403: {"model": ErrorBody, "description": "admin only"},
    },
)
def stats(request: Request, _admin: Annotated[Principal, Depends(require("admin"))]) -> Stats:
    failures = request.app.state.auth_failures
    counts = failures.snapshot() if isinstance(failures, AuthFailures) else {}
    return Stats(auth_failures=counts)


@root_router.get(
    "/metrics",
    summary="Prometheus metrics (analyst, admin)",
    response_class=Response,
    responses={
        200: {"content": {"text/plain": {"schema": {"type": "string"}}}},
        401: {"model": ErrorBody, "description": "no valid token"},
        403: {"model": ErrorBody, "description": "analyst or admin only"},
    },
)
def metrics(request: Request, _staff: Annotated[Principal, Depends(require(*STAFF))]) -> Response:
    registry = request.app.state.metrics
    if not isinstance(registry, CollectorRegistry):
        raise RuntimeError("app.state.metrics is not a CollectorRegistry")
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


@root_router.get("/openapi.json", include_in_schema=False)
def openapi_root(
    request: Request, _who: Annotated[Principal, Depends(require(*ANY_ROLE))]
) -> JSONResponse:
    spec: dict[str, Any] = request.app.openapi()
    return JSONResponse(spec)


@router.get("/openapi.json", include_in_schema=False)
def openapi(
    request: Request, _who: Annotated[Principal, Depends(require(*ANY_ROLE))]
) -> JSONResponse:
    spec: dict[str, Any] = request.app.openapi()
    return JSONResponse(spec)
