"""The audit log, for admins: who did what, when."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from seawarden.api.auth import require
from seawarden.api.deps import Conn, Settings
from seawarden.api.principal import Principal
from seawarden.api.schemas import AuditEntryOut, AuditPage, ErrorBody
from seawarden.store import audit

router = APIRouter(prefix="/audit", tags=["audit"])


@router.get(
    "",
    summary="Read the audit log in order (admin)",
    response_model=AuditPage,
    responses={
        401: {"model": ErrorBody, "description": "no valid token"},
        403: {"model": ErrorBody, "description": "admin only"},
        422: {"model": ErrorBody, "description": "invalid parameters"},
    },
)
def read_audit(
    _admin: Annotated[Principal, Depends(require("admin"))],
    conn: Conn,
    settings: Settings,
    after: Annotated[int, Query(ge=0, le=2**63 - 1, description="entries after this seq")] = 0,
    limit: Annotated[int, Query(ge=1, description="clamped to the server's maximum")] = 100,
) -> AuditPage:
    limit = min(limit, settings.max_page)
    rows = audit.entries(conn, after_seq=after, limit=limit)
    items = [
        AuditEntryOut(
            seq=e.seq,
            time=e.time.isoformat(),
            actor=e.actor,
            action=e.action,
            target=e.target,
            detail=e.detail,
        )
        for e in rows
    ]
    return AuditPage(items=items, next_after=items[-1].seq if len(items) == limit else None)
