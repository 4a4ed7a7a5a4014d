"""Load areas of interest from GeoJSON and refuse anything that would watch the wrong sea.

An AOI file is edited by hand by analysts. A typo (latitude and longitude swapped, a
corridor without a width, two areas with the same id) would silently make the system blind
to a cable, so every feature is checked and the first problem is reported with the file,
the feature index and what to change. Lines become geodesic corridors (see ``geodesic``).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any, cast

import shapely
from shapely.geometry import LineString, MultiLineString, MultiPolygon, Polygon, shape
from shapely.validation import explain_validity

from seawarden.areas.geodesic import buffer_line_m, split_antimeridian
from seawarden.errors import ConfigError
from seawarden.model.area import AREA_KINDS, Area, AreaKind

__all__ = ["MAX_BUFFER_M", "load_areas", "parse_areas"]

# A corridor wider than this is almost certainly metres typed as something else.
MAX_BUFFER_M = 100_000.0
_CORE_KEYS = frozenset({"id", "name", "kind", "buffer_m"})
_LINES = ("LineString", "MultiLineString")
_POLYGONS = ("Polygon", "MultiPolygon")
# How many list levels sit above a [lon, lat] position for each geometry type.
_NESTING = {"LineString": 1, "MultiLineString": 2, "Polygon": 2, "MultiPolygon": 3}


def load_areas(path: str | os.PathLike[str]) -> list[Area]:
    """Read a GeoJSON FeatureCollection of AOIs; raise :class:`ConfigError` on any problem.

    Example: ``load_areas("config/areas.geojson")`` → 22 :class:`Area` in file order.
    """
    where = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            f"{where}: cannot read area file ({exc.strerror}); check the path"
        ) from exc
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"{where}: not valid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from exc
    return parse_areas(doc, source=where)


def parse_areas(doc: Any, *, source: str = "<areas>") -> list[Area]:
    """Validate an already-parsed GeoJSON document (see :func:`load_areas`)."""
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection":
        raise ConfigError(f"{source}: top level must be a GeoJSON FeatureCollection object")
    features = doc.get("features")
    if not isinstance(features, list):
        raise ConfigError(f"{source}: 'features' must be a list of GeoJSON Feature objects")
    areas: list[Area] = []
    seen: dict[str, int] = {}
    for index, feature in enumerate(features):
        area = _parse_feature(feature, source, index)
        if area.id in seen:
            raise ConfigError(
                f"{source}: feature {index}: duplicate id {area.id!r} (first used by feature "
                f"{seen[area.id]}); give every area a unique properties.id"
            )
        seen[area.id] = index
        areas.append(area)
    return areas


def _parse_feature(feature: Any, source: str, index: int) -> Area:
    def fail(problem: str) -> ConfigError:
        return ConfigError(f"{source}: feature {index}: {problem}")

    if not isinstance(feature, dict) or feature.get("type") != "Feature":
        raise fail('not a GeoJSON Feature object (needs "type": "Feature")')
    props = feature.get("properties")
    if not isinstance(props, dict):
        raise fail("missing 'properties' object; add id, name and kind")

    area_id = props.get("id")
    if not isinstance(area_id, str) or not area_id.strip():
        raise fail("missing properties.id; add a unique non-empty string id")
    label = f"feature {index} (id {area_id!r})"

    def fail_id(problem: str) -> ConfigError:
        return ConfigError(f"{source}: {label}: {problem}")

    name = props.get("name")
    if not isinstance(name, str) or not name.strip():
        raise fail_id("missing properties.name; add a human-readable name")
    kind = props.get("kind")
    if kind not in AREA_KINDS:
        raise fail_id(f"properties.kind is {kind!r}; use one of {', '.join(AREA_KINDS)}")

    geom_doc = feature.get("geometry")
    if not isinstance(geom_doc, dict):
        raise fail_id("missing geometry; draw a LineString (corridor) or Polygon (zone)")
    gtype = geom_doc.get("type")
    if gtype not in _LINES + _POLYGONS:
        raise fail_id(
            f"geometry type {gtype!r} is not supported; use LineString, MultiLineString, "
            "Polygon or MultiPolygon"
        )
    problem = _check_coordinates(geom_doc.get("coordinates"), _NESTING[gtype])
    if problem:
        raise fail_id(f"bad coordinates: {problem}")
    if gtype in _POLYGONS and not _rings_closed(geom_doc["coordinates"], gtype):
        raise fail_id("a polygon ring is not closed; repeat the first position at the end")
    try:
        geom = shape(geom_doc)
    except (ValueError, TypeError, shapely.errors.GEOSException) as exc:
        raise fail_id(f"geometry cannot be built ({exc}); check the coordinate nesting") from exc

    buffer_m = props.get("buffer_m")
    extra: Mapping[str, Any] = MappingProxyType(
        {k: v for k, v in props.items() if k not in _CORE_KEYS}
    )
    if gtype in _LINES:
        line = cast(LineString | MultiLineString, geom)
        if buffer_m is None:
            raise fail_id("a line needs properties.buffer_m (corridor half-width in metres)")
        width = _check_buffer(buffer_m)
        if width is None:
            raise fail_id(
                f"properties.buffer_m is {buffer_m!r}; use a number of metres in "
                f"(0, {MAX_BUFFER_M:g}]"
            )
        for part in shapely.get_parts(line):
            if part.length == 0.0:
                raise fail_id("a line has all its points in one place; draw at least 2 points")
        return Area(
            id=area_id,
            name=name,
            kind=cast(AreaKind, kind),
            geometry=buffer_line_m(line, width),
            centerline=line,
            buffer_m=width,
            properties=extra,
        )
    if buffer_m is not None:
        raise fail_id("buffer_m applies to lines only; remove it or draw the centerline")
    poly = cast(Polygon | MultiPolygon, geom)
    if not poly.is_valid:
        raise fail_id(
            f"invalid polygon ({explain_validity(poly)}); fix self-intersections, close rings, "
            "and split polygons at the antimeridian (RFC 7946 §3.1.9)"
        )
    if poly.area == 0.0:
        raise fail_id("polygon has no area; draw at least 3 distinct corners")
    return Area(
        id=area_id,
        name=name,
        kind=cast(AreaKind, kind),
        geometry=split_antimeridian(poly),
        properties=extra,
    )


def _check_buffer(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    width = float(value)
    if not math.isfinite(width) or width <= 0.0 or width > MAX_BUFFER_M:
        return None
    return width


def _check_coordinates(coords: Any, depth: int) -> str | None:
    """Walk nested coordinate arrays; ``depth`` is the number of lists above a position."""
    if not isinstance(coords, list) or not coords:
        return "expected a non-empty list of coordinates"
    if depth == 1:
        for pos in coords:
            if not isinstance(pos, list) or len(pos) < 2:
                return f"position {pos!r} is not [lon, lat]"
            lon, lat = pos[0], pos[1]
            if any(isinstance(v, bool) or not isinstance(v, int | float) for v in (lon, lat)):
                return f"position {pos!r} must hold numbers"
            if not (math.isfinite(lon) and math.isfinite(lat)):
                return f"position {pos!r} is not finite"
            if not -180.0 <= lon <= 180.0:
                return f"longitude {lon} out of range [-180, 180] (lon comes first in GeoJSON)"
            if not -90.0 <= lat <= 90.0:
                return f"latitude {lat} out of range [-90, 90] (GeoJSON order is [lon, lat])"
        if len(coords) < 2:
            return "a line needs at least 2 positions"
        return None
    for item in coords:
        problem = _check_coordinates(item, depth - 1)
        if problem:
            return problem
    return None


def _rings_closed(coords: Any, gtype: str) -> bool:
    """RFC 7946: a ring has at least 4 positions and ends where it starts."""
    polygons = coords if gtype == "MultiPolygon" else [coords]
    return all(len(ring) >= 4 and ring[0] == ring[-1] for poly in polygons for ring in poly)
