"""Write synthetic weather files — GRIB2 with eccodes' own encoder, or the CSV grid format.

Scenario tests need a storm over an anchor-drag incident (VEZHEN, 26 Jan 2025: owner reports
wind above 25 m/s). :func:`write_storm_grib2` encodes real GRIB2 messages from eccodes'
``regular_ll_sfc_grib2`` sample — what :func:`seawarden.ingest.weather.load_weather` reads —
so the reader is tested against the library's encoder, not against itself.

``bbox`` is ``(west, south, east, north)`` in degrees (the GeoJSON order used by the API);
``west`` may be given in 0..360. Grid rows run north to south, as ECMWF writes them.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import numpy as np

from seawarden.errors import ConfigError
from seawarden.ingest.weather import import_eccodes

__all__ = ["FieldSpec", "grid_axes", "write_storm_grib2", "write_weather_csv"]

# A constant, or a function of (lat, lon, valid time).
FieldSpec = float | Callable[[float, float, datetime], float]
BBox = tuple[float, float, float, float]


def grid_axes(bbox: BBox, resolution_deg: float) -> tuple[np.ndarray, np.ndarray]:
    """(lats north→south, lons west→east) of the regular grid covering ``bbox``."""
    west, south, east, north = bbox
    if not (resolution_deg > 0 and math.isfinite(resolution_deg)):
        raise ConfigError(f"resolution_deg must be > 0, got {resolution_deg}")
    if not (-90 <= south < north <= 90 and west < east and east - west <= 360):
        raise ConfigError(f"bad bbox {bbox}; expected (west, south, east, north)")
    nlat = round((north - south) / resolution_deg) + 1
    nlon = round((east - west) / resolution_deg) + 1
    lats = north - resolution_deg * np.arange(nlat)
    lons = west + resolution_deg * np.arange(nlon)
    return lats, lons


def _values(spec: FieldSpec | None, lats: np.ndarray, lons: np.ndarray, t: datetime) -> np.ndarray:
    if spec is None:
        raise ConfigError("no field given")
    if callable(spec):
        return np.array([[spec(float(la), float(lo), t) for lo in lons] for la in lats])
    return np.full((lats.size, lons.size), float(spec))


def write_storm_grib2(
    path: Path,
    *,
    bbox: BBox,
    times: Sequence[datetime],
    wind_ms: FieldSpec,
    wave_m: FieldSpec | None = None,
    gust_ms: FieldSpec | None = None,
    resolution_deg: float = 0.25,
    wind_as: Literal["uv", "speed"] = "uv",
    direction_deg: float = 270.0,
) -> Path:
    """Write a GRIB2 file: per time, wind as ``10u``+``10v`` (from ``direction_deg``, the
    meteorological "from" direction) or ``10si``, and optionally ``i10fg`` and ``swh``.

    Each message has ``dataDate``/``dataTime`` at the time's hour and ``step`` 0, so the
    valid time equals the given time (whole hours/minutes UTC).
    """
    eccodes = import_eccodes()
    lats, lons = grid_axes(bbox, resolution_deg)
    west, _, _, north = bbox
    rad = math.radians(direction_deg)
    with Path(path).open("wb") as f:
        for t in times:
            t = t.astimezone(UTC) if t.tzinfo else t.replace(tzinfo=UTC)
            speed = _values(wind_ms, lats, lons, t)
            fields: list[tuple[str, np.ndarray]] = []
            if wind_as == "uv":
                # Wind *from* direction_deg blows towards direction_deg + 180.
                fields += [("10u", -speed * math.sin(rad)), ("10v", -speed * math.cos(rad))]
            else:
                fields.append(("10si", speed))
            if gust_ms is not None:
                fields.append(("i10fg", _values(gust_ms, lats, lons, t)))
            if wave_m is not None:
                fields.append(("swh", _values(wave_m, lats, lons, t)))
            for short, grid in fields:
                h = eccodes.codes_grib_new_from_samples("regular_ll_sfc_grib2")
                try:
                    for key, value in (
                        ("Ni", int(lons.size)),
                        ("Nj", int(lats.size)),
                        ("latitudeOfFirstGridPointInDegrees", float(north)),
                        ("longitudeOfFirstGridPointInDegrees", float(west)),
                        ("latitudeOfLastGridPointInDegrees", float(lats[-1])),
                        ("longitudeOfLastGridPointInDegrees", float(lons[-1])),
                        ("iDirectionIncrementInDegrees", float(resolution_deg)),
                        ("jDirectionIncrementInDegrees", float(resolution_deg)),
                        ("shortName", short),
                        ("dataDate", int(t.strftime("%Y%m%d"))),
                        ("dataTime", int(t.strftime("%H%M"))),
                        ("step", 0),
                        ("bitsPerValue", 24),
                    ):
                        eccodes.codes_set(h, key, value)
                    eccodes.codes_set_values(
                        h, np.ascontiguousarray(grid, dtype=np.float64).ravel()
                    )
                    eccodes.codes_write(h, f)
                finally:
                    eccodes.codes_release(h)
    return Path(path)


def write_weather_csv(
    path: Path,
    *,
    bbox: BBox,
    times: Sequence[datetime],
    wind_ms: FieldSpec,
    wave_m: FieldSpec | None = None,
    gust_ms: FieldSpec | None = None,
    resolution_deg: float = 0.25,
) -> Path:
    """Write the CSV grid format (``time,lat,lon,wind_ms[,gust_ms][,wave_m]``)."""
    lats, lons = grid_axes(bbox, resolution_deg)
    header = ["time", "lat", "lon", "wind_ms"]
    header += ["gust_ms"] if gust_ms is not None else []
    header += ["wave_m"] if wave_m is not None else []
    with Path(path).open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(header)
        for t in times:
            t = t.astimezone(UTC) if t.tzinfo else t.replace(tzinfo=UTC)
            grids = [_values(wind_ms, lats, lons, t)]
            grids += [_values(gust_ms, lats, lons, t)] if gust_ms is not None else []
            grids += [_values(wave_m, lats, lons, t)] if wave_m is not None else []
            stamp = t.strftime("%Y-%m-%dT%H:%M:%SZ")
            for i, la in enumerate(lats):
                for j, lo in enumerate(lons):
                    w.writerow(
                        [stamp, f"{la:.6g}", f"{lo:.6g}", *(f"{g[i, j]:.3f}" for g in grids)]
                    )
    return Path(path)
