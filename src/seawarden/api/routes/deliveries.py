"""Deliveries from the outbox: what was sent to whom, what is pending, what died."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query

from seawarden.api import queries
from seawarden.api.auth import STAFF, require
from seawarden.api.deps import Conn, Settings
from seawarden.api.principal import Principal
from seawarden.api.schemas import ID_PATTERN, Delivery, DeliveryPage, DeliveryStatus, ErrorBody

router = APIRouter(prefix="/deliveries", tags=["deliveries"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "no valid token"},
    403: {"model": ErrorBody, "description": "role may not do this"},
    422: {"model": ErrorBody, "description": "invalid parameters"},
}


@router.get(
    "",
    summary="List deliveries, newest first (analyst, admin; payloads never returned)",
    response_model=DeliveryPage,
    responses=_ERRORS,
)
def list_deliveries(
    _staff: Annotated[Principal, Depends(require(*STAFF))],
    conn: Conn,
    settings: Settings,
    status: Annotated[DeliveryStatus | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, description="clamped to the server's maximum")] = 100,
    cursor: Annotated[
        str | None,
        Query(pattern=queries.CURSOR_PATTERN, description="`next_cursor` of the previous page"),
    ] = None,
) -> DeliveryPage:
    limit = min(limit, settings.max_page)
    try:
        before = None if cursor is None else queries.decode_cursor(cursor)
    except queries.CursorError as exc:
        raise HTTPException(422, str(exc)) from exc
    pos = None if before is None else (before[0], before[1])
    rows = queries.deliveries(conn, status=status, before=pos, limit=limit)
    if rows is None:  # no outbox in this store yet
        return DeliveryPage(items=[])
    nxt = None
    if len(rows) == limit:
        nxt = queries.encode_cursor(rows[-1]["created"] or "", rows[-1]["delivery_id"])
    return DeliveryPage(items=[Delivery.model_validate(r) for r in rows], next_cursor=nxt)


@router.post(
    "/{delivery_id}/retry",
    summary="Queue a dead delivery again: attempts 0, due now (admin)",
    response_model=Delivery,
    responses=_ERRORS
    | {
        404: {"model": ErrorBody, "description": "no such delivery"},
        409: {"model": ErrorBody, "description": "the delivery is not dead"},
    },
)
def retry_delivery(
    delivery_id: Annotated[str, Path(pattern=ID_PATTERN)],
    admin: Annotated[Principal, Depends(require("admin"))],
    conn: Conn,
) -> Delivery:
    try:
        row = queries.retry_delivery(conn, delivery_id, admin)
    except queries.ConflictError as exc:
        raise HTTPException(409, str(exc)) from exc
    if row is None:
        raise HTTPException(404, f"no delivery {delivery_id}")
    return Delivery.model_validate(row)
