"""Alerts: the feed (latest revision per alert), one alert's history, operator actions."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request

from seawarden.api import cancel, queries
from seawarden.api.auth import ANY_ROLE, STAFF, require
from seawarden.api.console_schemas import CancelBody
from seawarden.api.cursors import OpaqueCursors
from seawarden.api.deps import Conn, Settings
from seawarden.api.hub import Hub
from seawarden.api.link import PipelineBusyError
from seawarden.api.principal import Principal, visible_revisions
from seawarden.api.schemas import (
    ID_PATTERN,
    AlertDetail,
    AlertPage,
    AssignBody,
    CloseBody,
    ErrorBody,
)
from seawarden.fusion.ids import TARGET_ID_MAX

router = APIRouter(prefix="/alerts", tags=["alerts"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "no valid token"},
    403: {"model": ErrorBody, "description": "role may not do this"},
    422: {"model": ErrorBody, "description": "invalid parameters or body"},
}
_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorBody, "description": "no such alert (or not releasable to the caller)"}
}
_CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"model": ErrorBody, "description": "the alert is closed"},
    413: {"model": ErrorBody, "description": "body over the size limit (64 KiB)"},
    503: {"model": ErrorBody, "description": "store busy (pipeline writing); retry"},
}

AlertId = Annotated[str, Path(pattern=ID_PATTERN, description="alert identifier")]
Reader = Annotated[Principal, Depends(require(*ANY_ROLE))]
Staff = Annotated[Principal, Depends(require(*STAFF))]
Severity = Literal["info", "low", "medium", "high", "critical"]


_RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:(\d{2})(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$"
)


_EARLIEST = datetime(1, 3, 1, tzinfo=UTC)
_LATEST = datetime(9999, 11, 1, tzinfo=UTC)


def _rfc3339(text: str, name: str = "since") -> datetime:
    """Parse an RFC 3339 date-time (with offset); 422 otherwise."""
    m = _RFC3339.match(text)
    if m is None:
        raise HTTPException(422, f"{name} must be an RFC 3339 date-time, e.g. 2020-11-01T00:00:00Z")
    norm = text.upper().replace("Z", "+00:00")
    if m.group(1) == "60":  # a leap second: the same instant as :59 for our purposes
        norm = norm[: m.start(1)] + "59" + norm[m.end(1) :]
    if m.group(2):  # Python takes at most 6 fractional digits
        frac = m.group(2)[:7]
        norm = norm[: m.start(2)] + frac + norm[m.end(2) :]
    try:
        t = datetime.fromisoformat(norm)
        utc = t.astimezone(UTC)
    except (ValueError, OverflowError):
        raise HTTPException(422, f"{name} {text[:40]!r} is not a valid date-time") from None
    # Clamp into a range that leaves room for the windows computed from it (a track's default
    # and maximum span), so no arithmetic on an extreme date can overflow. The schema says
    # "date-time", so a valid extreme one is honoured by its meaning ("since the year 1"
    # is "everything"), not refused.
    return min(max(utc, _EARLIEST), _LATEST)


@router.get(
    "",
    summary="List alerts, newest first (latest revision of each)",
    response_model=AlertPage,
    responses=_ERRORS,
)
def list_alerts(
    request: Request,
    principal: Reader,
    conn: Conn,
    settings: Settings,
    since: Annotated[
        str | None,
        Query(
            description="only alerts whose latest revision is at/after this (RFC 3339)",
            json_schema_extra={"format": "date-time"},
        ),
    ] = None,
    severity: Annotated[Severity | None, Query(description="this severity or higher")] = None,
    mmsi: Annotated[int | None, Query(ge=0, le=TARGET_ID_MAX)] = None,
    limit: Annotated[
        int, Query(ge=1, description="page size; clamped to the server's maximum")
    ] = 100,
    cursor: Annotated[
        str | None,
        Query(pattern=queries.CURSOR_PATTERN, description="`next_cursor` of the previous page"),
    ] = None,
) -> AlertPage:
    """Allies see only alerts releasable to their nation and about their areas."""
    since_t = None if since is None else _rfc3339(since)
    limit = min(limit, settings.max_page)
    handles: OpaqueCursors = request.app.state.cursors
    if cursor is not None and principal.is_ally and handles.is_handle(cursor):
        before = handles.resolve(principal.name, cursor)
        if before is None:
            raise HTTPException(422, "cursor unknown or expired; list again without a cursor")
    else:
        try:
            before = None if cursor is None else queries.decode_cursor(cursor)
        except queries.CursorError as exc:
            raise HTTPException(422, str(exc)) from exc
    pos: tuple[str, str] | None = None if before is None else (before[0], before[1])
    items: list[dict[str, Any]] = []
    scanned = 0
    next_cursor: str | None = None
    batch = limit if not principal.is_ally else min(max(4 * limit, 100), 1000)
    while True:
        rows = queries.latest_alerts(
            conn, since=since_t, min_severity=severity, mmsi=mmsi, before=pos, limit=batch
        )
        if not rows:
            break
        history = queries.revisions_of(conn, [r.id for r in rows]) if principal.is_ally else {}
        for r in rows:
            scanned += 1
            pos = (r.time, r.id)
            shown = visible_revisions(principal, history[r.id]) if principal.is_ally else [r.body]
            if shown:
                items.append({"alert": shown[-1], "revisions": int(r.body.get("revision", 1))})
            if len(items) >= limit:
                break
        if len(items) >= limit or (principal.is_ally and scanned >= settings.max_scan):
            end = pos or (rows[-1].time, rows[-1].id)  # pos is set: rows was not empty
            # An ally's page may end on a row it was not shown: never hand back its key.
            next_cursor = (
                handles.issue(principal.name, end)
                if principal.is_ally
                else queries.encode_cursor(*end)
            )
            break
        if len(rows) < batch:
            break
    if not principal.is_ally:
        acts = queries.actions_of(conn, [i["alert"]["id"] for i in items])
        for i in items:
            i["operator"] = queries.operator_state(acts[i["alert"]["id"]])
    return AlertPage.model_validate({"items": items, "next_cursor": next_cursor})


def _detail(conn: Conn, principal: Principal, alert_id: str) -> AlertDetail:
    shown = visible_revisions(principal, queries.revisions(conn, alert_id))
    if not shown:
        raise HTTPException(404, f"no alert {alert_id}")
    body: dict[str, Any] = {"id": alert_id, "revisions": shown}
    if not principal.is_ally:
        acts = queries.actions_of(conn, [alert_id])[alert_id]
        body.update(actions=acts, operator=queries.operator_state(acts))
    return AlertDetail.model_validate(body)


@router.get(
    "/{alert_id}",
    summary="One alert: every revision and the operator actions on it",
    response_model=AlertDetail,
    responses=_ERRORS | _NOT_FOUND,
)
def get_alert(alert_id: AlertId, principal: Reader, conn: Conn) -> AlertDetail:
    return _detail(conn, principal, alert_id)


def _act(
    conn: Conn, principal: Principal, alert_id: str, action: str, detail: dict[str, Any]
) -> AlertDetail:
    try:
        found = queries.act(conn, alert_id, principal, action, detail)
    except queries.ConflictError as exc:
        raise HTTPException(409, str(exc)) from exc
    if not found:
        raise HTTPException(404, f"no alert {alert_id}")
    return _detail(conn, principal, alert_id)


@router.post(
    "/{alert_id}/ack",
    summary="Acknowledge an alert (analyst, admin)",
    response_model=AlertDetail,
    responses=_ERRORS | _NOT_FOUND | _CONFLICT,
)
def ack_alert(alert_id: AlertId, principal: Staff, conn: Conn) -> AlertDetail:
    return _act(conn, principal, alert_id, "ack", {})


@router.post(
    "/{alert_id}/assign",
    summary="Assign an alert to an operator or team (analyst, admin)",
    response_model=AlertDetail,
    responses=_ERRORS | _NOT_FOUND | _CONFLICT,
)
def assign_alert(alert_id: AlertId, body: AssignBody, principal: Staff, conn: Conn) -> AlertDetail:
    return _act(conn, principal, alert_id, "assign", {"to": body.to})


@router.post(
    "/{alert_id}/close",
    summary="Close an alert with a reason (analyst, admin)",
    response_model=AlertDetail,
    responses=_ERRORS | _NOT_FOUND | _CONFLICT,
)
def close_alert(alert_id: AlertId, body: CloseBody, principal: Staff, conn: Conn) -> AlertDetail:
    return _act(conn, principal, alert_id, "close", {"reason": body.reason})


@router.post(
    "/{alert_id}/cancel",
    summary="Cancel an alert: a Cancel revision to the store and to its recipients",
    description="Analyst or admin. Allies that received the alert are sent the Cancel "
    "revision through the outbox; in `seawarden serve` the running lifecycle forgets the "
    "alert, so a new situation opens a new alert.",
    response_model=AlertDetail,
    responses=_ERRORS | _NOT_FOUND | _CONFLICT,
)
def cancel_alert(
    request: Request, alert_id: AlertId, body: CancelBody, principal: Staff, conn: Conn
) -> AlertDetail:
    from seawarden.api.routes.vessels import link_of

    settings = request.app.state.settings
    subs = cancel.subscriptions_of(list(settings.subscriptions.values()))
    try:
        if cancel.check(conn, alert_id) is None:
            raise HTTPException(404, f"no alert {alert_id}")
        link = link_of(request)
        done = None
        if link is not None:
            try:
                done = link.cancel(alert_id)
            except PipelineBusyError as exc:
                raise HTTPException(503, str(exc), {"Retry-After": "1"}) from exc
        if done is not None:
            detail = {"reason": body.reason, "revision": done.revision, "by": "pipeline"}
            cancel.record_action(conn, alert_id, principal, detail)
        else:
            done = cancel.cancel_in_store(conn, alert_id, principal, body.reason, subs)
            if done is None:
                raise HTTPException(404, f"no alert {alert_id}")
            hub = getattr(request.app.state, "hub", None)
            if isinstance(hub, Hub):
                hub.publish_alerts([done])
            wake = getattr(request.app.state, "wake_delivery", None)
            if callable(wake):
                wake()
    except queries.ConflictError as exc:
        raise HTTPException(409, str(exc)) from exc
    return _detail(conn, principal, alert_id)
