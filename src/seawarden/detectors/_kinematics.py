"""Small kinematic helpers shared by the behaviour detectors: distances, bearings, angles.

Everything here is plain ``math`` on floats (no numpy, no shapely), because detectors call it
on every position report. Distances are great-circle on a sphere of the mean Earth radius:
within 0.5 % of the ellipsoid, far below AIS position noise for the few-km scales used here.
Also answers "how far is this ship from a cable corridor's centreline, and is it heading
towards it?" with a cheap bounding-box pre-check, so most reports never measure anything.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from seawarden.geo.sphere import EARTH_RADIUS_M, bearing_deg, distance_m

__all__ = [
    "EARTH_RADIUS_M",
    "KN_PER_MS",
    "CorridorGeometry",
    "CorridorHit",
    "abs_angle_diff_deg",
    "angle_diff_deg",
    "bearing_deg",
    "distance_m",
    "speed_kn",
]

KN_PER_MS = 3600.0 / 1852.0
_M_PER_DEG = math.pi * EARTH_RADIUS_M / 180.0


def angle_diff_deg(a: float, b: float) -> float:
    """Signed smallest difference ``a - b`` in degrees, in (-180, 180]."""
    d = (a - b) % 360.0
    return d - 360.0 if d > 180.0 else d


def abs_angle_diff_deg(a: float, b: float) -> float:
    """Unsigned smallest difference between two directions, in [0, 180]."""
    return abs(angle_diff_deg(a, b))


def speed_kn(distance: float, seconds: float) -> float | None:
    """Speed in knots over ground for ``distance`` metres in ``seconds`` (None if dt ≤ 0)."""
    if seconds <= 0.0:
        return None
    return distance / seconds * KN_PER_MS


@dataclass(frozen=True, slots=True)
class _Line:
    area_id: str
    buffer_m: float
    lat0: float
    points: tuple[tuple[float, float], ...]  # (lon, lat), longitude continuous
    bbox: tuple[float, float, float, float]  # lon0, lat0, lon1, lat1, grown by the margin


@dataclass(frozen=True, slots=True)
class CorridorHit:
    """The nearest corridor centreline within the margin of a position."""

    area_id: str
    distance_m: float  # to the centreline
    edge_distance_m: float  # to the corridor's edge (≤ 0 inside)
    bearing_deg: float  # from the position to the nearest point of the centreline


class CorridorGeometry:
    """Centrelines of cable/pipeline corridors for "how far, which way" queries.

    Built once per area index; :meth:`near` tests bounding boxes grown by ``margin_m``
    before measuring anything, so a position far from every corridor costs a few compares.
    Distances use a local equirectangular projection around each line (fine within tens
    of km, which is all that "approaching a corridor" needs).
    """

    __slots__ = ("_lines", "margin_m")

    def __init__(
        self,
        corridors: Iterable[tuple[str, float, Sequence[Sequence[tuple[float, float]]]]],
        margin_m: float,
    ) -> None:
        self.margin_m = margin_m
        lines: list[_Line] = []
        for area_id, buffer_m, parts in corridors:
            for part in parts:
                pts = tuple((float(x), float(y)) for x, y in part)
                if len(pts) < 2:
                    continue
                lat0 = sum(p[1] for p in pts) / len(pts)
                grow_lat = (margin_m + buffer_m) / _M_PER_DEG
                grow_lon = grow_lat / max(0.05, math.cos(math.radians(lat0)))
                xs = [p[0] for p in pts]
                ys = [p[1] for p in pts]
                bbox = (
                    min(xs) - grow_lon,
                    min(ys) - grow_lat,
                    max(xs) + grow_lon,
                    max(ys) + grow_lat,
                )
                lines.append(_Line(area_id, buffer_m, lat0, pts, bbox))
        self._lines = tuple(lines)

    def __len__(self) -> int:
        return len(self._lines)

    def near(self, lat: float, lon: float) -> list[CorridorHit]:
        """Every corridor whose edge is within the margin, nearest first (one hit per area)."""
        best: dict[str, CorridorHit] = {}
        for line in self._lines:
            x0, y0, x1, y1 = line.bbox
            if not (y0 <= lat <= y1):
                continue
            px = lon
            if not (x0 <= px <= x1):
                px = lon + 360.0 if lon < x0 else lon - 360.0
                if not (x0 <= px <= x1):
                    continue
            d, qx, qy = _point_polyline(px, lat, line.points, math.cos(math.radians(line.lat0)))
            edge = d - line.buffer_m
            seen = best.get(line.area_id)
            if edge > self.margin_m or (seen is not None and d >= seen.distance_m):
                continue
            best[line.area_id] = CorridorHit(line.area_id, d, edge, bearing_deg(lat, px, qy, qx))
        return sorted(best.values(), key=lambda h: h.distance_m)


def _point_polyline(
    px: float, py: float, pts: Sequence[tuple[float, float]], kx: float
) -> tuple[float, float, float]:
    """Distance (m) from a point to a lon/lat polyline and the nearest point (lon, lat)."""
    best_d2 = math.inf
    bx, by = pts[0]
    for (ax, ay), (cx, cy) in itertools.pairwise(pts):
        ux, uy = (cx - ax) * kx, cy - ay
        vx, vy = (px - ax) * kx, py - ay
        len2 = ux * ux + uy * uy
        t = 0.0 if len2 == 0.0 else max(0.0, min(1.0, (vx * ux + vy * uy) / len2))
        dx, dy = vx - t * ux, vy - t * uy
        d2 = dx * dx + dy * dy
        if d2 < best_d2:
            best_d2 = d2
            bx, by = ax + t * (cx - ax), ay + t * (cy - ay)
    return math.sqrt(best_d2) * _M_PER_DEG, bx, by
