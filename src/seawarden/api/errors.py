"""Error responses: one JSON shape for every failure, and nothing internal in it.

Clients get ``{"error": "<code>", "message": "<what to do>"}`` (plus field-level details
for a request that failed validation, without echoing the submitted values). Unexpected
exceptions are logged with their traceback on the server and answered with a bare 500.
"""

from __future__ import annotations

import logging
import re
import sqlite3
from typing import Any

import orjson
from fastapi import FastAPI, HTTPException, Request
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger("seawarden.api")

FASTAPI_BODY_ERROR = "There was an error parsing the body"

CODES: dict[int, str] = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    500: "internal",
    503: "unavailable",
}


def error_body(status: int, message: str, details: list[dict[str, Any]] | None = None) -> bytes:
    body: dict[str, Any] = {"error": CODES.get(status, "error"), "message": message}
    if details is not None:
        body["details"] = details
    return orjson.dumps(body)


def _json(status: int, message: str, **kw: Any) -> JSONResponse:
    body: dict[str, Any] = {"error": CODES.get(status, "error"), "message": message}
    if kw.get("details") is not None:
        body["details"] = kw["details"]
    return JSONResponse(body, status_code=status, headers=kw.get("headers"))


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, StarletteHTTPException):  # registered for this type only
        return await _unexpected(request, exc)
    message = exc.detail if isinstance(exc.detail, str) else CODES.get(exc.status_code, "error")
    if exc.status_code == 400 and message == FASTAPI_BODY_ERROR:
        # FastAPI says 400 for a body it cannot decode (not UTF-8); bad JSON is 422 here
        return _json(422, "request body is not valid JSON (UTF-8 expected)")
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        # Starlette names only the first route's methods; list every route on this path.
        headers["Allow"] = ", ".join(_allowed_methods(request))
    return _json(exc.status_code, message, headers=headers or None)


def _allowed_methods(request: Request) -> list[str]:
    """The methods the OpenAPI document lists for the requested path."""
    path = request.url.path
    methods: set[str] = set()
    paths: dict[str, Any] = request.app.openapi().get("paths", {})
    if path in paths:  # a literal path (/api/watchlist/import) wins over a template
        return sorted(m.upper() for m in paths[path] if m.upper() in _HTTP_METHODS)
    for template, ops in paths.items():
        pattern = "^" + re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template)) + "$"
        if re.match(pattern, path):
            methods |= {m.upper() for m in ops if m.upper() in _HTTP_METHODS}
    return sorted(methods)


_HTTP_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def _query_names(dependant: Dependant) -> set[str]:
    names = {p.alias for p in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return names


def reject_unknown_query(request: Request) -> None:
    """A dependency on every route: 422 for a query parameter the route does not take.

    A mistyped filter (``severty=high``) would otherwise silently return everything.
    """
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    allowed = _query_names(route.dependant)
    unknown = sorted(set(request.query_params) - allowed)
    if unknown:
        names = ", ".join(repr(u[:40]) for u in unknown[:5])
        known = ", ".join(sorted(allowed)) or "none"
        raise HTTPException(422, f"unknown query parameter {names}; this route takes: {known}")


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, RequestValidationError):
        return await _unexpected(request, exc)
    details = []
    for e in exc.errors()[:20]:
        loc = [str(p) for p in e.get("loc", ())]
        msg = str(e.get("msg", "invalid"))
        if e.get("type") == "json_invalid":
            msg = "request body is not valid JSON: " + str(e.get("ctx", {}).get("error", ""))
        details.append({"loc": loc, "msg": msg[:300]})
    summary = "; ".join(f"{'.'.join(d['loc'])}: {d['msg']}" for d in details[:3])
    return _json(
        422, f"invalid request ({summary})" if summary else "invalid request", details=details
    )


async def _store_error(request: Request, exc: Exception) -> JSONResponse:
    text = str(exc).lower()
    if isinstance(exc, sqlite3.OperationalError) and ("locked" in text or "busy" in text):
        # The pipeline holds the write lock for a batch longer than our busy timeout.
        log.warning("api: store busy on %s %r", request.method, request.url.path)
        return _json(
            503,
            "the store is busy (the pipeline is writing a batch); retry in a moment",
            headers={"Retry-After": "1"},
        )
    return await _unexpected(request, exc)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("api: unexpected error on %s %r", request.method, request.url.path)
    return _json(500, "internal error; the server log has the details")


def install(app: FastAPI) -> None:
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(sqlite3.OperationalError, _store_error)
    app.add_exception_handler(Exception, _unexpected)
