"""Error responses: one JSON shape for every failure, and nothing internal in it.

Clients get ``{"error": "<code>", "message": "<what to do>"}`` (plus field-level details
for a request that failed validation, without echoing the submitted values). Unexpected
exceptions are logged with their traceback on the server and answered with a bare 500.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger("seawarden.api")

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
    return _json(exc.status_code, message, headers=exc.headers)


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


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("api: unexpected error on %s %r", request.method, request.url.path)
    return _json(500, "internal error; the server log has the details")


def install(app: FastAPI) -> None:
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unexpected)
