"""Who is near whom: the latest position of every vessel in a grid, for proximity queries.

Ship-to-ship meetings, a tug alongside, many vessels jumping together under GNSS jamming —
all need "which other vessels are within r metres now?". A hash grid of ~0.01° latitude
cells keyed by integer cell coordinates answers that in time proportional to the local
density, not the fleet size, and stays correct across the antimeridian.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from seawarden.detectors.base import Neighbour
from seawarden.geo.sphere import distance_m as haversine_m
from seawarden.model import PositionReport

CELL_DEG = 0.01  # ~1.1 km of latitude


class NeighbourIndex:
    """Latest position per vessel, bucketed by grid cell; positions older than
    ``max_age_s`` (event time) are not neighbours any more."""

    def __init__(self, *, max_age_s: float = 600.0) -> None:
        self.max_age = timedelta(seconds=max_age_s)
        self._latest: dict[int, PositionReport] = {}
        self._cell_of: dict[int, tuple[int, int]] = {}
        self._cells: dict[tuple[int, int], set[int]] = {}

    def __len__(self) -> int:
        return len(self._latest)

    @staticmethod
    def _cell(lat: float, lon: float) -> tuple[int, int]:
        return math.floor(lat / CELL_DEG), math.floor(lon / CELL_DEG)

    def update(self, report: PositionReport) -> None:
        mmsi = report.mmsi
        cell = self._cell(report.lat, report.lon)
        old = self._cell_of.get(mmsi)
        if old != cell:
            if old is not None:
                members = self._cells.get(old)
                if members is not None:
                    members.discard(mmsi)
                    if not members:
                        del self._cells[old]
            self._cells.setdefault(cell, set()).add(mmsi)
            self._cell_of[mmsi] = cell
        self._latest[mmsi] = report

    def remove(self, mmsi: int) -> None:
        cell = self._cell_of.pop(mmsi, None)
        self._latest.pop(mmsi, None)
        if cell is not None and cell in self._cells:
            self._cells[cell].discard(mmsi)
            if not self._cells[cell]:
                del self._cells[cell]

    def expire(self, now: datetime) -> None:
        stale = [m for m, r in self._latest.items() if now - r.time > self.max_age]
        for mmsi in stale:
            self.remove(mmsi)

    def near(
        self, lat: float, lon: float, radius_m: float, now: datetime, exclude: int | None = None
    ) -> list[Neighbour]:
        """Vessels within ``radius_m`` whose last report is at most ``max_age_s`` old,
        nearest first."""
        dlat = radius_m / 111_320.0
        coslat = max(math.cos(math.radians(lat)), 1e-6)
        dlon = min(radius_m / (111_320.0 * coslat), 180.0)
        c_lat0, c_lon0 = self._cell(lat - dlat, lon - dlon)
        c_lat1, c_lon1 = self._cell(lat + dlat, lon + dlon)
        n_lon_cells = round(360 / CELL_DEG)
        out: list[Neighbour] = []
        cells: list[set[int]]
        lon_range = range(c_lon0, c_lon1 + 1)
        if len(lon_range) > n_lon_cells:
            lon_range = range(0, n_lon_cells)
        half = n_lon_cells // 2
        window = (c_lat1 - c_lat0 + 1) * len(lon_range)
        if window > len(self._cells):
            # A wide query over a sparse grid: walk the occupied cells instead of the window.
            lon_set = {(cj + half) % n_lon_cells - half for cj in lon_range}
            cells = [
                members
                for (ci, cj), members in self._cells.items()
                if c_lat0 <= ci <= c_lat1 and cj in lon_set
            ]
        else:
            cells = [
                self._cells.get((ci, (cj + half) % n_lon_cells - half), set())
                for ci in range(c_lat0, c_lat1 + 1)
                for cj in lon_range
            ]
        max_age_s = self.max_age.total_seconds()
        for members in cells:
            for mmsi in members:
                if mmsi == exclude:
                    continue
                rep = self._latest[mmsi]
                if abs((now - rep.time).total_seconds()) > max_age_s:
                    continue
                d = haversine_m(lat, lon, rep.lat, rep.lon)
                if d <= radius_m:
                    out.append(Neighbour(mmsi=mmsi, report=rep, distance_m=d))
        out.sort(key=lambda n: (n.distance_m, n.mmsi))
        return out
