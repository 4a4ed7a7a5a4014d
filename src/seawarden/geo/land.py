"""Is this position on land? A coastline mask with a harbour buffer, for spoofing checks.

A ship reporting a position well inland is either spoofed, jammed or sending a forged
track — but a ship alongside a quay is *not*, and Natural Earth's generalised coast
(1:10m around northern Europe, 1:50m elsewhere) puts some quays at sea and some harbour
basins, river mouths and canals on land. So a point only counts as "on land" when it is
inside land **and** farther than ``harbour_buffer_m`` from the coast (default 2,000 m: at
1,000 m the real Solent ferry berths in Wootton Creek and Cowes fall "inland" of the 1:10m
coast).

How: the bundled land polygons (``data/land/land.geojson.gz``, see its PROVENANCE.md) are
eroded by the buffer lazily, one 1°×1° tile at a time, the first time a point falls in that
tile. Each tile is clipped with a margin of twice the buffer, projected to a local
equirectangular frame (x = Δlon·cos φ₀, y = Δlat, φ₀ the tile's centre latitude), buffered
inwards by ``harbour_buffer_m / 111 195`` degrees of latitude, projected back and clipped to
the tile. Within one tile cos φ varies by under ±2 % below 70°N, so the buffer is true to
about ±20 m at 1,000 m — well under the map's own error. Tiles without land answer from a
dict lookup; tiles wholly inland answer True without geometry; in coastal tiles each
0.05° cell is classed, the first time a point falls in it, as wholly at sea, wholly on land
or crossed by the coast (prepared ``disjoint``/``covers`` on the cell's box), and only
points in crossed cells run the point-in-polygon test (issue 8: it was ~5 % of a replay's
time, the coastal Baltic being most of its traffic).

Known limits: Natural Earth's land layer has no lakes, rivers or canals, so Lake Vänern,
Mälaren, Ladoga, the Kiel Canal, the Elbe to Hamburg and similar inland waterways are "land";
detectors using this mask must treat a kinematically consistent track "on land" as a
possible inland waterway (see ``detectors/spoofing.py``). Land is cut at ±180°, so the
coast within the buffer of the antimeridian is eroded slightly too much (Chukotka, Fiji).
"""

from __future__ import annotations

import gzip
import json
import math
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from shapely import STRtree
from shapely.geometry import box, shape

from seawarden.errors import ConfigError

__all__ = ["DATA_FILE", "LandMask", "build_land_data", "land_mask"]

DATA_FILE = "land.geojson.gz"
M_PER_DEG_LAT = 111_195.0  # mean metres per degree of latitude (R·π/180)
TILE_DEG = 1
_FULL = "full"  # a tile wholly inland after erosion
SUB = 20  # cells per degree in a coastal tile (0.05°, ~5.5 km × 3 km at 57°N)
_SEA, _LAND, _COAST = 0, 1, 2
_PAD = 1e-9  # degrees: a cell's box is widened so that float rounding of lon·SUB is inside


def _load_parts() -> list[shapely.Geometry]:
    ref = resources.files("seawarden").joinpath("data", "land", DATA_FILE)
    with ref.open("rb") as raw, gzip.open(raw, "rt", encoding="utf-8") as fh:
        data = json.load(fh)
    parts: list[shapely.Geometry] = []
    for feature in data["features"]:
        parts.extend(shapely.get_parts(shape(feature["geometry"])))
    return parts


@cache
def _land_parts() -> tuple[np.ndarray[Any, Any], STRtree]:
    parts = np.array(_load_parts(), dtype=object)
    return parts, STRtree(parts)


class LandMask:
    """Land mask with a harbour buffer; see the module docstring.

    >>> mask = land_mask()            # the default 2,000 m buffer, loaded once
    >>> mask.on_land(52.52, 13.40)     # Berlin
    True
    >>> mask.on_land(59.8, 24.5)       # Gulf of Finland
    False
    """

    __slots__ = ("_cells", "_parts", "_tiles", "_tree", "harbour_buffer_m")

    def __init__(self, harbour_buffer_m: float = 2000.0) -> None:
        if not (0.0 <= harbour_buffer_m <= 20_000.0) or math.isnan(harbour_buffer_m):
            raise ConfigError(f"harbour_buffer_m must be within 0..20000 m, got {harbour_buffer_m}")
        self.harbour_buffer_m = harbour_buffer_m
        self._parts, self._tree = _land_parts()
        self._tiles: dict[tuple[int, int], Any] = {}
        self._cells: dict[tuple[int, int], int] = {}  # coastal tiles' cells: _SEA/_LAND/_COAST

    def on_land(self, lat: float, lon: float) -> bool:
        """True if (lat, lon) is on land farther than the harbour buffer from the coast."""
        if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
            return False
        key = (math.floor(lon), math.floor(lat))
        tile = self._tiles.get(key)
        if tile is None:
            if key in self._tiles:
                return False
            tile = self._tiles[key] = self._tile(key)
            if tile is None:
                return False
        if tile is _FULL:
            return True
        cell = (math.floor(lon * SUB), math.floor(lat * SUB))
        if cell[0] // SUB == key[0] and cell[1] // SUB == key[1]:  # not an ulp astray
            kind = self._cells.get(cell)
            if kind is None:
                if len(self._cells) > 1_000_000:  # a bound for world-wide feeds (~100 MB)
                    self._cells.clear()
                kind = self._cells[cell] = self._classify(tile, cell)
            if kind != _COAST:
                return kind == _LAND
        return bool(shapely.intersects_xy(tile, lon, lat))

    @staticmethod
    def _classify(tile: Any, cell: tuple[int, int]) -> int:
        """Whether every point of the cell is off the tile's land, on it, or either."""
        x0, y0 = cell[0] / SUB, cell[1] / SUB
        square = box(x0 - _PAD, y0 - _PAD, x0 + 1 / SUB + _PAD, y0 + 1 / SUB + _PAD)
        if shapely.disjoint(tile, square):
            return _SEA
        if shapely.covers(tile, square):
            return _LAND
        return _COAST

    def _tile(self, key: tuple[int, int]) -> Any:
        x0, y0 = float(key[0]), float(key[1])
        core = box(x0, y0, x0 + TILE_DEG, y0 + TILE_DEG)
        if not len(self._tree.query(core, predicate="intersects")):
            return None
        d_lat = self.harbour_buffer_m / M_PER_DEG_LAT
        lat0 = y0 + TILE_DEG / 2
        cos0 = max(math.cos(math.radians(lat0)), 0.01)
        # margin in degrees of longitude at the tile's poleward edge, where it is widest
        cos_edge = max(math.cos(math.radians(min(abs(y0), abs(y0 + TILE_DEG)) + TILE_DEG)), 0.01)
        m_lat, m_lon = 2 * d_lat + 1e-3, 2 * d_lat / cos_edge + 1e-3
        near = self._parts[
            self._tree.query(box(x0 - m_lon, y0 - m_lat, x0 + 1 + m_lon, y0 + 1 + m_lat))
        ]
        clipped = shapely.clip_by_rect(near, x0 - m_lon, y0 - m_lat, x0 + 1 + m_lon, y0 + 1 + m_lat)
        land = shapely.union_all(clipped)
        if d_lat > 0:
            x_c = x0 + TILE_DEG / 2
            local = shapely.transform(
                land, lambda c: np.column_stack(((c[:, 0] - x_c) * cos0, c[:, 1] - lat0))
            )
            eroded = shapely.buffer(local, -d_lat, quad_segs=4)
            land = shapely.transform(
                eroded, lambda c: np.column_stack((c[:, 0] / cos0 + x_c, c[:, 1] + lat0))
            )
        land = shapely.make_valid(shapely.clip_by_rect(land, x0, y0, x0 + 1, y0 + 1))
        if land.is_empty:
            return None
        if shapely.area(land) >= 0.999_999 * TILE_DEG * TILE_DEG:
            return _FULL
        shapely.prepare(land)
        return land


@cache
def land_mask(harbour_buffer_m: float = 2000.0) -> LandMask:
    """The shared mask for one buffer, built once per process (tiles fill in lazily)."""
    return LandMask(harbour_buffer_m)


# -- building the bundled data (run once by a maintainer; see data/land/PROVENANCE.md) ------


def build_land_data(
    ne_10m_clip: Path,
    ne_50m_world: Path,
    out: Path,
    *,
    clip_bbox: tuple[float, float, float, float] = (-12.0, 47.0, 35.0, 68.0),
    tolerance_10m_deg: float = 0.0005,
    tolerance_50m_deg: float = 0.005,
    decimals: int = 4,
) -> int:
    """Write the compact land file: 1:10m inside ``clip_bbox``, 1:50m elsewhere.

    Simplification tolerances (≈55 m and ≈550 m) stay well under the 1,000 m harbour
    buffer and the scale error of each source; coordinates are rounded to ``decimals``
    (1e-4° ≈ 11 m). Returns the number of bytes written.
    """

    def read(path: Path) -> list[shapely.Geometry]:
        data = json.loads(path.read_text(encoding="utf-8"))
        return [shape(f["geometry"]) for f in data["features"]]

    clip = box(*clip_bbox)
    fine = [shapely.simplify(g, tolerance_10m_deg) for g in read(ne_10m_clip)]
    coarse = [
        shapely.simplify(shapely.difference(g, clip), tolerance_50m_deg) for g in read(ne_50m_world)
    ]
    features = []
    for source, geoms in (("ne_10m_land", fine), ("ne_50m_land", coarse)):
        for geom in geoms:
            geom = shapely.set_precision(geom, 10.0**-decimals)
            for part in shapely.get_parts(geom):
                if part.is_empty or part.area == 0:
                    continue
                gj = shapely.geometry.mapping(part)
                gj = json.loads(json.dumps(gj), parse_float=lambda s: round(float(s), decimals))
                features.append(
                    {"type": "Feature", "properties": {"source": source}, "geometry": gj}
                )
    text = json.dumps({"type": "FeatureCollection", "features": features}, separators=(",", ":"))
    payload = gzip.compress(text.encode(), compresslevel=9, mtime=0)
    out.write_bytes(payload)
    return len(payload)
