"""Who is near whom: the latest position of every vessel in a grid, for proximity queries.

Ship-to-ship meetings, a tug alongside, many vessels jumping together under GNSS jamming —
all need "which other vessels are within r metres now?". A hash grid of ~0.01° latitude
cells keyed by integer cell coordinates answers that in time proportional to the local
density, not the fleet size, and stays correct across the antimeridian.

Memory (issue 8: bytes per tracked vessel): a cell is one int key (not a tuple of two) and
holds a list of MMSIs, not a set — most occupied cells hold one or two vessels, where a set
costs 216 bytes and a list 64–72; removing from a short list is as quick.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from seawarden.detectors.base import Neighbour
from seawarden.geo.sphere import EARTH_RADIUS_M
from seawarden.model import PositionReport

CELL_DEG = 0.01  # ~1.1 km of latitude
N_LON_CELLS = round(360 / CELL_DEG)
_LON_SPAN = 1 << 16  # > N_LON_CELLS + 1: a cell's longitude index, offset, fits below it
_LON_OFFSET = 1 << 15


def cell_key(ci: int, cj: int) -> int:
    """One int for the cell (latitude index ``ci``, longitude index ``cj`` in
    -18,000..18,000): distinct for distinct cells, and a small int (28 bytes)."""
    return ci * _LON_SPAN + cj + _LON_OFFSET


class NeighbourIndex:
    """Latest position per vessel, bucketed by grid cell; positions older than
    ``max_age_s`` (event time) are not neighbours any more."""

    def __init__(self, *, max_age_s: float = 600.0) -> None:
        self.max_age = timedelta(seconds=max_age_s)
        self._latest: dict[int, PositionReport] = {}
        self._cell_of: dict[int, int] = {}  # mmsi → cell_key
        self._cells: dict[int, list[int]] = {}  # cell_key → MMSIs in it

    def __len__(self) -> int:
        return len(self._latest)

    @staticmethod
    def _cell(lat: float, lon: float) -> tuple[int, int]:
        return math.floor(lat / CELL_DEG), math.floor(lon / CELL_DEG)

    def update(self, report: PositionReport) -> None:
        mmsi = report.mmsi
        cell = cell_key(math.floor(report.lat / CELL_DEG), math.floor(report.lon / CELL_DEG))
        old = self._cell_of.get(mmsi)
        if old != cell:
            if old is not None:
                self._leave(old, mmsi)
            members = self._cells.get(cell)
            if members is None:
                self._cells[cell] = [mmsi]
            else:
                members.append(mmsi)
            self._cell_of[mmsi] = cell
        self._latest[mmsi] = report

    def _leave(self, cell: int, mmsi: int) -> None:
        members = self._cells.get(cell)
        if members is not None and mmsi in members:
            members.remove(mmsi)
            if not members:
                del self._cells[cell]

    def remove(self, mmsi: int) -> None:
        cell = self._cell_of.pop(mmsi, None)
        self._latest.pop(mmsi, None)
        if cell is not None:
            self._leave(cell, mmsi)

    def expire(self, now: datetime) -> None:
        stale = [m for m, r in self._latest.items() if now - r.time > self.max_age]
        for mmsi in stale:
            self.remove(mmsi)

    def near(
        self, lat: float, lon: float, radius_m: float, now: datetime, exclude: int | None = None
    ) -> list[Neighbour]:
        """Vessels within ``radius_m`` whose last report is at most ``max_age_s`` old,
        nearest first."""
        # The box that holds every point within radius_m on the sphere distance_m uses:
        # latitude ±δ (δ = radius/R), longitude ±asin(sin δ / cos φ), the widest a small
        # circle reaches (wider than δ / cos φ away from the equator); the whole parallel
        # when the circle holds a pole. (A box of radius/111,320 m per degree missed
        # neighbours at its edge, 0.1 % short of the radius: found by the property test.)
        delta = radius_m / EARTH_RADIUS_M
        dlat = math.degrees(delta) + 1e-9
        sin_delta, coslat = math.sin(min(delta, math.pi / 2)), math.cos(math.radians(lat))
        if delta >= math.pi / 2 or sin_delta >= coslat:
            dlon = 180.0
        else:
            dlon = min(math.degrees(math.asin(sin_delta / coslat)) + 1e-9, 180.0)
        c_lat0, c_lon0 = self._cell(lat - dlat, lon - dlon)
        c_lat1, c_lon1 = self._cell(lat + dlat, lon + dlon)
        n_lon_cells = N_LON_CELLS
        cells: list[list[int]]
        lon_range = range(c_lon0, c_lon1 + 1)
        if len(lon_range) > n_lon_cells:
            lon_range = range(0, n_lon_cells)
        half = n_lon_cells // 2
        window = (c_lat1 - c_lat0 + 1) * len(lon_range)
        if window > len(self._cells):
            # A wide query over a sparse grid: walk the occupied cells instead of the window.
            lon_set = {(cj + half) % n_lon_cells - half for cj in lon_range}
            cells = []
            for key, members in self._cells.items():
                ci, cj = divmod(key, _LON_SPAN)  # cj + _LON_OFFSET is in 0.._LON_SPAN
                if c_lat0 <= ci <= c_lat1 and cj - _LON_OFFSET in lon_set:
                    cells.append(members)
        else:
            get = self._cells.get
            lon_parts = [(cj + half) % n_lon_cells - half + _LON_OFFSET for cj in lon_range]
            found = [
                get(ci + part)
                for ci in range(c_lat0 * _LON_SPAN, (c_lat1 + 1) * _LON_SPAN, _LON_SPAN)
                for part in lon_parts
            ]
            cells = [members for members in found if members is not None]
        # The hot loop of proximity queries (issue 8): ages compared as datetimes, a
        # latitude test before any trigonometry (within radius_m implies within δ of
        # latitude: haversine's a ≥ sin²(Δφ/2), so d ≥ R·|Δφ|; about half the members of
        # the window's cells are dropped by it), and geo.sphere.distance_m inlined with the
        # query point's terms computed once — the same operations in the same order, so
        # the same distances to the last bit. Hits are sorted as plain tuples (distance,
        # MMSI, report): unique MMSIs mean a report is never compared.
        oldest, newest = now - self.max_age, now + self.max_age
        latest = self._latest
        radians, sin, cos, asin, sqrt = math.radians, math.sin, math.cos, math.asin, math.sqrt
        p1 = radians(lat)
        cos_p1 = cos(p1)
        lat_lo, lat_hi = lat - dlat, lat + dlat
        hits: list[tuple[float, int, PositionReport]] = []
        for members in cells:
            for mmsi in members:
                rep = latest[mmsi]
                if not lat_lo <= rep.lat <= lat_hi or mmsi == exclude:
                    continue
                if not oldest <= rep.time <= newest:
                    continue
                p2 = radians(rep.lat)
                dl = radians(rep.lon - lon)
                a = sin((p2 - p1) / 2.0) ** 2 + cos_p1 * cos(p2) * sin(dl / 2.0) ** 2
                d = 2.0 * EARTH_RADIUS_M * asin(min(1.0, sqrt(a)))
                if d <= radius_m:
                    hits.append((d, mmsi, rep))
        hits.sort()
        return [Neighbour(mmsi, rep, d) for d, mmsi, rep in hits]
