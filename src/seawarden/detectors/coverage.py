"""Radio coverage learned from the traffic itself, so silence can be judged fairly.

A vessel that stops reporting is only suspicious if others nearby are still heard: when a
shore receiver fails or a ship sails out of range, everyone in the area goes quiet together.
Fixed rules ("6 h without a report offshore") do not fit the Baltic, which is all near shore
and densely covered. This keeps, per H3 cell (resolution 5, ~250 km²), when each vessel was
last heard there, so the gap detector can ask "how many other vessels were heard near here
since this one went silent?".
"""

from __future__ import annotations

from datetime import datetime, timedelta

import h3

from seawarden.model import PositionReport

RESOLUTION = 5


class CellCoverage:
    """Per-cell last-heard times of recent vessels; bounded by ``memory_s`` of event time."""

    def __init__(self, *, resolution: int = RESOLUTION, memory_s: float = 6 * 3600.0) -> None:
        self.resolution = resolution
        self.memory = timedelta(seconds=memory_s)
        self._cells: dict[str, dict[int, datetime]] = {}
        self._cell_cache: dict[tuple[int, int], str] = {}
        self._disk_cache: dict[str, tuple[str, ...]] = {}  # a cell and its six neighbours

    def cell(self, lat: float, lon: float) -> str:
        # Cache on a ~1 km grid: h3 conversion is the costly part of observe().
        key = (round(lat * 100), round(lon * 100))
        cell = self._cell_cache.get(key)
        if cell is None:
            if len(self._cell_cache) > 200_000:
                self._cell_cache.clear()
            cell = self._cell_cache[key] = h3.latlng_to_cell(lat, lon, self.resolution)
        return cell

    def observe(self, report: PositionReport) -> None:
        heard = self._cells.setdefault(self.cell(report.lat, report.lon), {})
        heard[report.mmsi] = report.time

    def others_heard_near(self, lat: float, lon: float, since: datetime, exclude_mmsi: int) -> int:
        cell = self.cell(lat, lon)
        disk = self._disk_cache.get(cell)
        if disk is None:  # h3's disk (and its str conversions) was half of this call's cost
            if len(self._disk_cache) > 50_000:
                self._disk_cache.clear()
            disk = self._disk_cache[cell] = tuple(h3.grid_disk(cell, 1))
        seen: set[int] = set()
        cells = self._cells
        for c in disk:
            heard = cells.get(c)
            if heard:
                seen.update(m for m, t in heard.items() if t > since)
        seen.discard(exclude_mmsi)
        return len(seen)

    def expire(self, now: datetime) -> None:
        horizon = now - self.memory
        for key in list(self._cells):
            heard = {m: t for m, t in self._cells[key].items() if t >= horizon}
            if heard:
                self._cells[key] = heard
            else:
                del self._cells[key]

    def snapshot(self) -> dict[str, dict[str, str]]:
        return {c: {str(m): t.isoformat() for m, t in v.items()} for c, v in self._cells.items()}

    def restore(self, data: dict[str, dict[str, str]]) -> None:
        self._cells = {
            c: {int(m): datetime.fromisoformat(t) for m, t in v.items()} for c, v in data.items()
        }
