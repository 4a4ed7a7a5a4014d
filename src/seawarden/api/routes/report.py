"""The incident evidence report of one alert, as an HTML or PDF download.

Same rule as ``GET /api/alerts/{id}``: analysts and admins get any alert; an ally only an
alert releasable to its nation and about its areas (``principal.visible_revisions``, the
check that route uses), else 404 — and the report shows only the revisions the reader may
see. On a PostgreSQL store the revisions and the whole report are read in one
``REPEATABLE READ, READ ONLY`` transaction (as ``seawarden report --store postgresql://``
reads), so a pipeline committing meanwhile cannot tear the report. Every download is
audited (``report.download``) with the format and the evidence digest, so it can later be
shown which evidence left, when and to whom.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from seawarden.api import db, queries
from seawarden.api.auth import ANY_ROLE, require
from seawarden.api.deps import Conn
from seawarden.api.principal import Principal, visible_revisions
from seawarden.api.schemas import ID_PATTERN, ErrorBody
from seawarden.report import evidence_digest, gather, render_html
from seawarden.report.gather import Bundle
from seawarden.report.pdf import PdfFailedError, PdfUnavailableError, html_to_pdf
from seawarden.store import audit

router = APIRouter(prefix="/alerts", tags=["reports"])

AlertId = Annotated[str, Path(pattern=ID_PATTERN, description="alert identifier")]
Reader = Annotated[Principal, Depends(require(*ANY_ROLE))]

_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "no valid token"},
    403: {"model": ErrorBody, "description": "role may not do this"},
    404: {"model": ErrorBody, "description": "no such alert (or not releasable to the caller)"},
    422: {"model": ErrorBody, "description": "invalid parameters"},
}


def _build(conn: db.StoreConnection, principal: Principal, alert_id: str) -> tuple[str, str]:
    if isinstance(conn, db.PgConnection):
        return _build_pg(conn, principal, alert_id)
    return _render(gather(conn, alert_id, _shown(conn, principal, alert_id)))


def _build_pg(conn: db.PgConnection, principal: Principal, alert_id: str) -> tuple[str, str]:
    # one snapshot for the authorisation read and the report; the audit row is written after,
    # in autocommit, so a rolled-back read never loses it
    conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
    try:
        shown = _shown(conn, principal, alert_id)
        # gather takes psycopg's own connection; its errors come out as the sqlite3 kinds
        # the API's handlers know (a lost server or a lock wait: 503, as on SQLite)
        bundle: Bundle = db._translated(lambda: gather(conn.raw, alert_id, shown))
    except BaseException:
        with contextlib.suppress(sqlite3.DatabaseError):  # keep the first error (a lost server)
            conn.execute("ROLLBACK")
        raise
    conn.execute("ROLLBACK")
    return _render(bundle)


def _shown(conn: db.StoreConnection, who: Principal, alert_id: str) -> list[Mapping[str, Any]]:
    shown = visible_revisions(who, queries.revisions(conn, alert_id))
    if not shown:
        raise HTTPException(404, f"no alert {alert_id}")
    return shown


def _render(bundle: Bundle) -> tuple[str, str]:
    return render_html(bundle, generated=datetime.now(UTC)), evidence_digest(bundle)


def _audit(
    conn: db.StoreConnection, principal: Principal, alert_id: str, fmt: str, digest: str
) -> None:
    audit.record(
        conn,
        actor=principal.actor,
        action="report.download",
        target=f"alert:{alert_id}",
        detail={"format": fmt, "evidence_sha256": digest},
    )


def _attachment(alert_id: str, ext: str) -> dict[str, str]:
    # alert ids match ID_PATTERN (no quotes, no separators): safe in the header as is
    return {"Content-Disposition": f'attachment; filename="seawarden-evidence-{alert_id}.{ext}"'}


@router.get(
    "/{alert_id}/report.html",
    summary="The incident evidence report (self-contained HTML)",
    response_class=Response,
    responses=_RESPONSES | {200: {"content": {"text/html": {}}, "description": "the report"}},
)
def report_html(alert_id: AlertId, principal: Reader, conn: Conn) -> Response:
    html, digest = _build(conn, principal, alert_id)
    _audit(conn, principal, alert_id, "html", digest)
    return Response(
        html, media_type="text/html; charset=utf-8", headers=_attachment(alert_id, "html")
    )


@router.get(
    "/{alert_id}/report.pdf",
    summary="The incident evidence report as PDF (printed by headless Chromium)",
    response_class=Response,
    responses=_RESPONSES
    | {
        200: {"content": {"application/pdf": {}}, "description": "the report"},
        503: {"model": ErrorBody, "description": "no Chromium on the server (use report.html)"},
    },
)
async def report_pdf(alert_id: AlertId, principal: Reader, conn: Conn) -> Response:
    html, digest = await run_in_threadpool(_build, conn, principal, alert_id)
    try:
        pdf = await run_in_threadpool(html_to_pdf, html)
    except (PdfUnavailableError, PdfFailedError) as exc:
        raise HTTPException(503, str(exc)) from exc
    _audit(conn, principal, alert_id, "pdf", digest)
    return Response(pdf, media_type="application/pdf", headers=_attachment(alert_id, "pdf"))
