"""Spatial reads for the API: vessels in an area, a vessel's track in a time range.

On PostgreSQL they run in the database on its indexes (the GiST on the ``geography``
columns, the (mmsi, time) B-tree); on the embedded SQLite store, which has no spatial index,
``vessels_in_area`` filters the vessel table with shapely — the same answer, in O(vessels).

The area is a polygon (or multipolygon) in lon/lat (EPSG:4326), as WKT or as GeoJSON (a
geometry, a Feature, or a FeatureCollection of one feature). PostGIS ``geography`` draws edges
as great circles while a map (and shapely) draws them straight in lon/lat; the area is
densified to vertices at most ``DENSIFY_DEG`` apart first, so both read the same polygon to
within metres (a 20° east-west edge at 60° N would otherwise bulge ~0.4° poleward).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
import shapely
from shapely.geometry import MultiPolygon, Point, Polygon, shape

from seawarden.errors import StoreError
from seawarden.model import PositionReport
from seawarden.store.base import Store, VesselRow

DENSIFY_DEG = 0.05
MAX_LIMIT = 100_000


def parse_area(area: str | dict[str, Any]) -> Polygon | MultiPolygon:
    """A valid lon/lat polygon from WKT or GeoJSON; :class:`StoreError` says what is wrong."""
    try:
        if isinstance(area, dict) or area.lstrip().startswith("{"):
            doc: Any = orjson.loads(area) if isinstance(area, str) else area
            if doc.get("type") == "FeatureCollection":
                features = doc.get("features") or []
                if len(features) != 1:
                    raise StoreError("area: a FeatureCollection must hold exactly one feature")
                doc = features[0]
            if doc.get("type") == "Feature":
                doc = doc.get("geometry") or {}
            geom = shape(doc)
        else:
            geom = shapely.from_wkt(area)
    except StoreError:
        raise
    except (
        orjson.JSONDecodeError,
        shapely.errors.GEOSException,
        ValueError,
        AttributeError,
        KeyError,
        TypeError,
    ) as exc:
        raise StoreError(f"area: not WKT or GeoJSON ({exc})") from exc
    if not isinstance(geom, Polygon | MultiPolygon) or geom.is_empty:
        raise StoreError(f"area: expected a Polygon or MultiPolygon, got {geom.geom_type}")
    if not geom.is_valid:
        raise StoreError(f"area: invalid polygon ({shapely.is_valid_reason(geom)})")
    minx, miny, maxx, maxy = geom.bounds
    if minx < -180 or maxx > 180 or miny < -90 or maxy > 90:
        raise StoreError("area: coordinates must be lon/lat (EPSG:4326), lon first")
    return geom


def area_wkt(area: str | dict[str, Any]) -> str:
    """The densified WKT the PostgreSQL queries take."""
    wkt: str = shapely.to_wkt(
        shapely.segmentize(parse_area(area), DENSIFY_DEG), rounding_precision=-1
    )
    return wkt


def vessels_in_area(
    store: Store,
    area: str | dict[str, Any],
    *,
    since: datetime | None = None,
    limit: int = 1000,
) -> list[VesselRow]:
    """Vessels whose latest position is inside ``area`` (edges included), last seen at or after
    ``since``, ordered by MMSI, at most ``limit`` (1…100 000)."""
    if not 1 <= limit <= MAX_LIMIT:
        raise StoreError(f"limit must be 1…{MAX_LIMIT}, not {limit}")
    query = getattr(store, "vessels_in_area", None)
    if query is not None:  # PostgresStore: in the database, on the GiST index
        rows: list[VesselRow] = query(area_wkt(area), since=since, limit=limit)
        return rows
    geom = shapely.segmentize(parse_area(area), DENSIFY_DEG)
    shapely.prepare(geom)
    out = []
    for v in store.vessels():  # ordered by MMSI
        if v.lat is None or v.lon is None or (since is not None and v.last_seen < since):
            continue
        if geom.intersects(Point(v.lon, v.lat)):
            out.append(v)
            if len(out) == limit:
                break
    return out


def track(store: Store, mmsi: int, start: datetime, end: datetime) -> list[PositionReport]:
    """The stored positions of ``mmsi`` from ``start`` to ``end`` (inclusive), in time order
    (on either store, the (mmsi, time) primary key)."""
    if end < start:
        raise StoreError(f"track: end {end.isoformat()} is before start {start.isoformat()}")
    return store.track(mmsi, start, end)
