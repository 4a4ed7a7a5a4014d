"""Areas of interest: read as GeoJSON, add or change one, delete one (admin)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Request, Response

from seawarden.api import managed
from seawarden.api.auth import STAFF, require
from seawarden.api.console_schemas import AreaCollection, AreaFeature
from seawarden.api.deps import Conn, Settings
from seawarden.api.principal import Principal
from seawarden.api.routes.vessels import link_of
from seawarden.api.schemas import ID_PATTERN, ErrorBody
from seawarden.errors import ConfigError

router = APIRouter(prefix="/areas", tags=["areas"])
Admin = Annotated[Principal, Depends(require("admin"))]
AreaId = Annotated[str, Path(pattern=ID_PATTERN, description="the area's id")]
_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "no valid token"},
    403: {"model": ErrorBody, "description": "role may not do this"},
    422: {"model": ErrorBody, "description": "invalid GeoJSON feature or parameters"},
}


@router.get(
    "",
    summary="The areas of interest (GeoJSON FeatureCollection)",
    response_model=AreaCollection,
    responses=_ERRORS,
)
def list_areas(_staff: Annotated[Principal, Depends(require(*STAFF))], conn: Conn) -> Any:
    return {"type": "FeatureCollection", "features": managed.features(conn)}


@router.put(
    "/{area_id}",
    summary="Add or replace an area (admin); validated like config/areas.geojson",
    response_model=AreaFeature,
    responses=_ERRORS
    | {
        201: {"model": AreaFeature, "description": "created"},
        413: {"model": ErrorBody, "description": "body over the size limit"},
    },
)
def put_area(
    request: Request,
    response: Response,
    area_id: AreaId,
    body: AreaFeature,
    admin: Admin,
    conn: Conn,
    settings: Settings,
) -> Any:
    try:
        stored, new = managed.put_area(conn, area_id, body.model_dump(), admin.actor)
    except ConfigError as exc:
        raise HTTPException(422, str(exc)) from exc
    if new:
        response.status_code = 201
    link = link_of(request)
    if link is not None:
        link.reload_areas(settings.store)
    return stored


@router.delete(
    "/{area_id}",
    summary="Delete an area (admin)",
    status_code=204,
    response_class=Response,
    responses=_ERRORS | {404: {"model": ErrorBody, "description": "no such area"}},
)
def delete_area(
    request: Request, area_id: AreaId, admin: Admin, conn: Conn, settings: Settings
) -> Response:
    if not managed.delete_area(conn, area_id, admin.actor):
        raise HTTPException(404, f"no area {area_id}")
    link = link_of(request)
    if link is not None:
        link.reload_areas(settings.store)
    return Response(status_code=204)
