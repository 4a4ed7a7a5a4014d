"""Geodesic geometry for corridors: metres on the ellipsoid, not degrees on a chart.

A cable corridor "2 km either side" is 2 km on the sea floor. Buffering in degrees gets
that wrong by a factor of two at 60°N (a degree of longitude is half as long there as at
the equator), so lines are buffered in a local azimuthal-equidistant projection centred on
each stretch of the line, where distances are true near the centre, and projected back.

Corridors in the Pacific cross the antimeridian; a polygon spanning 179°E..179°W written
in [-180, 180] would wrap the long way round the globe. Lines are therefore unwrapped to
continuous longitude before buffering and the result is cut at ±180° into parts that each
stay in range, so point-in-polygon tests are right on both sides.

This module also answers "which side of the cable is this ship on", for crossings.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import shapely
from numpy.typing import NDArray
from pyproj import CRS, Geod, Transformer
from shapely import affinity
from shapely.geometry import LineString, MultiLineString, MultiPolygon, Polygon, box

__all__ = [
    "GEOD",
    "SideOfLine",
    "buffer_line_m",
    "buffer_polygon_m",
    "line_parts_unwrapped",
    "split_antimeridian",
    "unwrap_lons",
]

GEOD = Geod(ellps="WGS84")

# Stretches of line buffered in one projection. Azimuthal-equidistant scale error at a
# distance d from its centre is about (d/R)²/6: 0.005 % at 100 km, so far below GPS noise.
_MAX_STRETCH_M = 200_000.0
# A GeoJSON segment is straight in lon/lat; densify it so it stays that shape when projected.
_DENSIFY_DEG = 0.05
# Densify the buffered outline in metres so it stays round when projected back to lon/lat.
_OUTLINE_STEP_M = 1_000.0
_QUAD_SEGS = 16

Coords = NDArray[np.float64]


def unwrap_lons(lons: Coords) -> Coords:
    """Make a longitude sequence continuous: steps of more than 180° go the short way."""
    if lons.size == 0:
        return lons.astype(np.float64)
    steps = (np.diff(lons) + 180.0) % 360.0 - 180.0
    return np.concatenate(([lons[0]], lons[0] + np.cumsum(steps))).astype(np.float64)


def line_parts_unwrapped(line: LineString | MultiLineString) -> list[Coords]:
    """Each part of a line as an (n, 2) lon/lat array with continuous longitude."""
    parts = list(line.geoms) if isinstance(line, MultiLineString) else [line]
    out: list[Coords] = []
    for part in parts:
        xy = np.asarray(part.coords, dtype=np.float64)[:, :2].copy()
        xy[:, 0] = unwrap_lons(xy[:, 0])
        out.append(xy)
    return out


@lru_cache(maxsize=256)
def _aeqd(lon0: float, lat0: float) -> tuple[Transformer, Transformer]:
    crs = CRS.from_proj4(f"+proj=aeqd +lat_0={lat0} +lon_0={lon0} +datum=WGS84 +units=m")
    fwd = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    inv = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    return fwd, inv


def _wrap(lon: float) -> float:
    return (lon + 180.0) % 360.0 - 180.0


def _buffer_in_aeqd(
    geom: shapely.Geometry, distance_m: float, lon0: float, lat0: float
) -> shapely.Geometry:
    """Buffer ``geom`` (continuous lon/lat near ``lon0``) by metres; result near ``lon0``."""
    # Round the centre so the transformer cache is reused; accuracy does not depend on it.
    clon, clat = round(lon0, 2), round(lat0, 2)
    fwd, inv = _aeqd(_wrap(clon), clat)

    def forward(xy: Coords) -> Coords:
        x, y = fwd.transform(xy[:, 0], xy[:, 1])
        return np.column_stack((x, y))

    def backward(xy: Coords) -> Coords:
        lon, lat = inv.transform(xy[:, 0], xy[:, 1])
        lon = clon + (np.asarray(lon) - clon + 180.0) % 360.0 - 180.0
        return np.column_stack((lon, lat))

    projected = shapely.transform(geom, forward)
    buffered = shapely.buffer(projected, distance_m, quad_segs=_QUAD_SEGS)
    buffered = shapely.segmentize(buffered, _OUTLINE_STEP_M)
    return shapely.transform(buffered, backward)


def _stretches(xy: Coords) -> list[Coords]:
    """Cut a densified line into stretches of at most ``_MAX_STRETCH_M`` sharing endpoints."""
    _, _, seg_m = GEOD.inv(xy[:-1, 0], xy[:-1, 1], xy[1:, 0], xy[1:, 1])
    out: list[Coords] = []
    start, run = 0, 0.0
    for i, length in enumerate(np.atleast_1d(seg_m)):
        run += float(length)
        if run >= _MAX_STRETCH_M and i + 1 < len(xy) - 1:
            out.append(xy[start : i + 2])
            start, run = i + 1, 0.0
    out.append(xy[start:])
    return out


def _polygonal(geom: shapely.Geometry) -> Polygon | MultiPolygon:
    polys = [g for g in shapely.get_parts(geom) if isinstance(g, Polygon) and not g.is_empty]
    if len(polys) == 1:
        return polys[0]
    return MultiPolygon(polys)


def split_antimeridian(geom: shapely.Geometry) -> Polygon | MultiPolygon:
    """Cut a polygon in continuous longitude into parts inside [-180, 180]."""
    pieces: list[shapely.Geometry] = []
    for k in (-1, 0, 1):
        window = box(-180.0 + 360.0 * k, -90.0, 180.0 + 360.0 * k, 90.0)
        piece = shapely.intersection(geom, window)
        if not piece.is_empty:
            pieces.append(affinity.translate(piece, xoff=-360.0 * k))
    merged = shapely.union_all(pieces)
    if not merged.is_valid:
        merged = shapely.make_valid(merged)
    return _polygonal(merged)


def buffer_line_m(line: LineString | MultiLineString, buffer_m: float) -> Polygon | MultiPolygon:
    """The corridor within ``buffer_m`` metres (geodesic) of a lon/lat line."""
    polys: list[shapely.Geometry] = []
    for xy in line_parts_unwrapped(line):
        dense = np.asarray(
            shapely.segmentize(LineString(xy), _DENSIFY_DEG).coords, dtype=np.float64
        )
        for stretch in _stretches(dense):
            mid = stretch[len(stretch) // 2]
            polys.append(
                _buffer_in_aeqd(LineString(stretch), buffer_m, float(mid[0]), float(mid[1]))
            )
    return split_antimeridian(shapely.union_all(polys))


def buffer_polygon_m(area: Polygon | MultiPolygon, distance_m: float) -> Polygon | MultiPolygon:
    """A polygon grown outward by ``distance_m`` metres (for exit margins around zones)."""
    grown: list[shapely.Geometry] = []
    for part in shapely.get_parts(area):
        c = part.centroid
        grown.append(_buffer_in_aeqd(part, distance_m, c.x, c.y))
    return split_antimeridian(shapely.union_all(grown))


class SideOfLine:
    """Which side of a centerline a position is on, looking along the line's direction.

    ``side(lon, lat)`` is +1 on the left (port, walking from the first to the last
    coordinate), -1 on the right, 0 exactly on the line. Works across the antimeridian.
    """

    __slots__ = ("_lon_hi", "_lon_lo", "_parts", "_scale")

    def __init__(self, line: LineString | MultiLineString) -> None:
        self._parts = line_parts_unwrapped(line)
        every = np.concatenate(self._parts)
        self._lon_lo = float(every[:, 0].min())
        self._lon_hi = float(every[:, 0].max())
        # Local equirectangular scale so "nearest segment" means nearest on the water.
        self._scale = float(np.cos(np.radians(every[:, 1].mean())))

    def _near_lon(self, lon: float) -> float:
        best = lon
        best_gap = float("inf")
        for shifted in (lon - 360.0, lon, lon + 360.0):
            gap = max(self._lon_lo - shifted, shifted - self._lon_hi, 0.0)
            if gap < best_gap:
                best, best_gap = shifted, gap
        return best

    def side(self, lon: float, lat: float) -> int:
        px, py = self._near_lon(lon) * self._scale, lat
        best_d2, best_sign = float("inf"), 0
        for xy in self._parts:
            x, y = xy[:, 0] * self._scale, xy[:, 1]
            ax, ay, dx, dy = x[:-1], y[:-1], np.diff(x), np.diff(y)
            len2 = dx * dx + dy * dy
            with np.errstate(invalid="ignore", divide="ignore"):
                t = np.where(len2 > 0, ((px - ax) * dx + (py - ay) * dy) / len2, 0.0)
            t = np.clip(t, 0.0, 1.0)
            d2 = (ax + t * dx - px) ** 2 + (ay + t * dy - py) ** 2
            i = int(np.argmin(d2))
            if d2[i] >= best_d2:
                continue
            best_d2 = float(d2[i])
            cross = dx[i] * (py - ay[i]) - dy[i] * (px - ax[i])
            # Nearest to an inner vertex means the point is on the outside of the bend;
            # that is the right for a left turn and the left for a right turn.
            j = i + 1 if t[i] >= 1.0 else (i - 1 if t[i] <= 0.0 else -1)
            if 0 <= j < len(dx):
                a, b = (i, j) if j > i else (j, i)
                turn = dx[a] * dy[b] - dy[a] * dx[b]
                if turn != 0:
                    cross = -turn
            best_sign = int(np.sign(cross))
        return best_sign
