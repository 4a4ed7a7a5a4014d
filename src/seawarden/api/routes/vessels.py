"""Vessels: the live picture, one vessel's dossier, its stored track."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response

from seawarden.api import vessels
from seawarden.api.auth import STAFF, require
from seawarden.api.console_schemas import TrackPage, VesselDossier, VesselPage
from seawarden.api.deps import Conn, Settings
from seawarden.api.link import PipelineBusyError, PipelineLink
from seawarden.api.principal import Principal
from seawarden.api.routes.alerts import _rfc3339
from seawarden.api.schemas import ErrorBody
from seawarden.fusion.ids import TARGET_ID_MAX

router = APIRouter(prefix="/vessels", tags=["vessels"])
Staff = Annotated[Principal, Depends(require(*STAFF))]
# An MMSI (≤ 9 digits) or a seawarden target id of a non-AIS vessel (fusion/ids.py).
Mmsi = Annotated[
    int,
    Path(ge=0, le=TARGET_ID_MAX, description="the vessel's MMSI, or a non-AIS target id"),
]
_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "no valid token"},
    403: {"model": ErrorBody, "description": "analyst or admin only"},
    422: {"model": ErrorBody, "description": "invalid parameters"},
    503: {"model": ErrorBody, "description": "pipeline or store busy; retry"},
}
_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorBody, "description": "no such vessel"}
}
_NUM = r"-?[0-9]{1,3}(\.[0-9]{1,12})?"
BBOX_PATTERN = rf"^{_NUM},{_NUM},{_NUM},{_NUM}$"
MAX_TRACK_POINTS = 20_000
MAX_TRACK_WINDOW = timedelta(days=31)
DEFAULT_TRACK_S = 6 * 3600.0


def link_of(request: Request) -> PipelineLink | None:
    link = getattr(request.app.state, "link", None)
    return link if isinstance(link, PipelineLink) else None


def parse_bbox(text: str | None) -> vessels.BBox | None:
    if text is None:
        return None
    parts = text.split(",")
    try:
        nums = [float(p) for p in parts]
    except ValueError:
        nums = []
    if len(nums) != 4 or any(n != n or n in (float("inf"), float("-inf")) for n in nums):
        raise HTTPException(422, "bbox must be minlon,minlat,maxlon,maxlat (four numbers)")
    lo_lon, lo_lat, hi_lon, hi_lat = nums
    if not (-180 <= lo_lon <= hi_lon <= 180 and -90 <= lo_lat <= hi_lat <= 90):
        raise HTTPException(
            422, "bbox: need -180 <= minlon <= maxlon <= 180 and -90 <= minlat <= maxlat <= 90"
        )
    return lo_lon, lo_lat, hi_lon, hi_lat


def _busy(exc: PipelineBusyError) -> HTTPException:
    return HTTPException(503, str(exc), {"Retry-After": "1"})


@router.get(
    "",
    summary="Vessels now: position, risk, watchlist, next crossing (analyst, admin)",
    response_model=VesselPage,
    responses=_ERRORS,
)
def list_vessels(
    request: Request,
    _staff: Staff,
    conn: Conn,
    bbox: Annotated[
        str | None,
        Query(
            description="minlon,minlat,maxlon,maxlat",
            pattern=BBOX_PATTERN,
            examples=["9.5,53.5,30.5,66.0"],
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, description="clamped to 5000")] = 1000,
) -> VesselPage:
    box = parse_bbox(bbox)
    limit = min(limit, 5000)
    link = link_of(request)
    if link is not None:
        core, cache = link.runner.core, link.alerts
        try:
            items = link.call(lambda: vessels.live_vessels(core, cache, box, limit))
        except PipelineBusyError as exc:
            raise _busy(exc) from exc
    else:
        items = vessels.stored_vessels(conn, box, limit)
    return VesselPage.model_validate({"items": items})


@router.get(
    "/{mmsi}",
    summary="One vessel's dossier: identity history, risk contributions, events, alerts",
    response_model=VesselDossier,
    responses=_ERRORS | _NOT_FOUND,
)
def get_vessel(request: Request, mmsi: Mmsi, _staff: Staff, conn: Conn) -> VesselDossier:
    link = link_of(request)
    found = None
    if link is not None:
        core, cache = link.runner.core, link.alerts
        try:
            found = link.call(lambda: vessels.live_vessel(core, cache, mmsi))
        except PipelineBusyError as exc:
            raise _busy(exc) from exc
    if found is None:
        found = vessels.stored_vessel(conn, mmsi)
    if found is None:
        raise HTTPException(404, f"no vessel {mmsi}")
    item, contributions = found
    body = {
        **item,
        "identity_history": vessels.identity_history(conn, mmsi),
        "contributions": contributions,
        "events": vessels.events(conn, mmsi),
        "alerts": vessels.alert_refs(conn, mmsi),
    }
    return VesselDossier.model_validate(body)


@router.get(
    "/{mmsi}/track",
    summary="A vessel's stored positions in a time range (default: its last 6 h)",
    response_model=TrackPage,
    responses=_ERRORS,
)
def get_track(
    response: Response,
    mmsi: Mmsi,
    _staff: Staff,
    conn: Conn,
    settings: Settings,
    start: Annotated[
        str | None, Query(description="RFC 3339", json_schema_extra={"format": "date-time"})
    ] = None,
    end: Annotated[
        str | None, Query(description="RFC 3339", json_schema_extra={"format": "date-time"})
    ] = None,
) -> TrackPage:
    t0 = None if start is None else _rfc3339(start, "start")
    t1 = None if end is None else _rfc3339(end, "end")
    if t0 is not None and t1 is None:
        t1 = t0 + timedelta(seconds=DEFAULT_TRACK_S)
    if t0 is not None and t1 is not None:
        if t1 < t0:
            raise HTTPException(422, "end is before start")
        if t1 - t0 > MAX_TRACK_WINDOW:
            raise HTTPException(422, "the window is over 31 days; ask for less")
    items, truncated = vessels.track(
        conn, mmsi, t0, t1, default_window_s=DEFAULT_TRACK_S, max_points=MAX_TRACK_POINTS
    )
    if truncated:
        response.headers["X-Truncated"] = "true"
    return TrackPage.model_validate({"items": items, "truncated": truncated})
