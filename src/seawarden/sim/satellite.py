"""A simulator of satellite vessel-detection products, for scenario tests.

This is a SIMULATOR, not a model of any real sensor's detection physics. Given true vessel
tracks (e.g. real AIS background traffic, or scenario vessels, including ones whose
transponder is off), :func:`sar_pass` says what one satellite acquisition would report:

* each vessel's true position linearly interpolated at the image ``time`` (vessels whose
  track does not bracket that time are not in the image — no extrapolation);
* only vessels inside the pass ``footprint`` and at least ``sensor.min_length_m`` long (from
  ``lengths``; a vessel without a length is never detected), each kept with probability
  ``detect_prob``;
* position noise: independent Gaussian north and east offsets of ``sigma_m`` (1-σ);
* estimated length with 10 % Gaussian error, heading from the track's course at that time,
  a confidence drawn from 0.7..1.0 for real vessels and 0.3..0.7 for the ``false_alarms``
  points scattered uniformly over the footprint.

Rows carry the columns :mod:`seawarden.ingest.satellite` reads (our own ``sat-csv`` shape)
plus ``truth``: the vessel key that produced the row, or empty for a false alarm, so a test
can score association. :func:`write_csv` and :func:`write_geojson` write exactly those
formats. Everything comes from the given :class:`random.Random`: same seed, same rows.
"""

from __future__ import annotations

import bisect
import csv
import math
import random
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from shapely.geometry import Point, mapping
from shapely.geometry.base import BaseGeometry

from seawarden.fusion.sensors import SensorConfig
from seawarden.geo.sphere import bearing_deg, distance_m
from seawarden.model import PositionReport
from seawarden.sim.motion import destination

__all__ = ["CSV_COLUMNS", "sar_pass", "write_csv", "write_geojson"]

CSV_COLUMNS: tuple[str, ...] = (
    "time",
    "lat",
    "lon",
    "length_m",
    "heading_deg",
    "confidence",
    "sensor",
    "pass_id",
    "truth",
)
_LENGTH_ERROR = 0.10
_MAX_FALSE_ALARM_TRIES = 10_000


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _at(track: Sequence[PositionReport], time: datetime) -> tuple[float, float, float] | None:
    """(lat, lon, course°) of a track at ``time`` by linear interpolation, or None outside it."""
    if not track or time < track[0].time or time > track[-1].time:
        return None
    i = bisect.bisect_left([r.time for r in track], time)
    b = track[i]
    a = track[i - 1] if i > 0 else b
    span = (b.time - a.time).total_seconds()
    f = 1.0 if span <= 0 else (time - a.time).total_seconds() / span
    dlon = (b.lon - a.lon + 540.0) % 360.0 - 180.0  # shortest way across ±180°
    lat = a.lat + f * (b.lat - a.lat)
    lon = (a.lon + f * dlon + 540.0) % 360.0 - 180.0
    if distance_m(a.lat, a.lon, b.lat, b.lon) > 1.0:
        return lat, lon, bearing_deg(a.lat, a.lon, b.lat, b.lon)
    return lat, lon, b.course_deg if b.course_deg is not None else math.nan


def _jitter(lat: float, lon: float, sigma_m: float, rng: random.Random) -> tuple[float, float]:
    north, east = rng.gauss(0.0, sigma_m), rng.gauss(0.0, sigma_m)
    dist = math.hypot(north, east)
    if dist == 0.0:
        return lat, lon
    return destination(lat, lon, math.degrees(math.atan2(east, north)) % 360.0, dist)


def sar_pass(
    truth: Mapping[int, Sequence[PositionReport]],
    *,
    pass_id: str,
    sensor: SensorConfig,
    time: datetime,
    footprint: BaseGeometry,
    lengths: Mapping[int, float],
    rng: random.Random,
    detect_prob: float = 0.95,
    false_alarms: int = 0,
    sigma_m: float = 100.0,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Detection rows of one simulated pass, and its footprint as a GeoJSON Feature.

    ``truth`` maps a vessel key (an MMSI, or any id for a dark vessel) to its true track in
    time order. Rows are dicts with the keys of :data:`CSV_COLUMNS`, ordered by vessel key
    with false alarms last.
    """
    rows: list[dict[str, Any]] = []
    for key in sorted(truth):
        here = _at(sorted(truth[key], key=lambda r: r.time), time)
        length = lengths.get(key)
        if here is None or length is None or length < sensor.min_length_m:
            continue
        lat, lon, course = here
        if not footprint.covers(Point(lon, lat)):
            continue
        if rng.random() >= detect_prob:
            continue
        dlat, dlon = _jitter(lat, lon, sigma_m, rng)
        est = max(1.0, length * (1.0 + rng.gauss(0.0, _LENGTH_ERROR)))
        rows.append(
            _row(
                time,
                dlat,
                dlon,
                est,
                None if math.isnan(course) else course % 360.0,
                rng.uniform(0.7, 1.0),
                sensor,
                pass_id,
                str(key),
            )
        )
    minx, miny, maxx, maxy = footprint.bounds
    made = tries = 0
    while made < false_alarms and tries < _MAX_FALSE_ALARM_TRIES:
        tries += 1
        lon, lat = rng.uniform(minx, maxx), rng.uniform(miny, maxy)
        if not footprint.covers(Point(lon, lat)):
            continue
        made += 1
        length = rng.uniform(sensor.min_length_m or 10.0, 60.0)
        rows.append(_row(time, lat, lon, length, None, rng.uniform(0.3, 0.7), sensor, pass_id, ""))
    feature = {
        "type": "Feature",
        "geometry": mapping(footprint),
        "properties": {
            "pass_id": pass_id,
            "sensor": sensor.id,
            "start": _iso(time),
            "end": _iso(time),
            "min_length_m": sensor.min_length_m,
        },
    }
    return rows, feature


def _row(
    time: datetime,
    lat: float,
    lon: float,
    length: float,
    heading: float | None,
    confidence: float,
    sensor: SensorConfig,
    pass_id: str,
    truth: str,
) -> dict[str, Any]:
    return {
        "time": _iso(time),
        "lat": round(lat, 6),
        "lon": round(lon, 6),
        "length_m": round(length, 1),
        "heading_deg": None if heading is None else round(heading, 1),
        "confidence": round(confidence, 3),
        "sensor": sensor.id,
        "pass_id": pass_id,
        "truth": truth,
    }


def write_csv(rows: Iterable[Mapping[str, Any]], path: str | Path) -> None:
    """Rows as a ``sat-csv`` file (``None`` written as an empty field)."""
    with Path(path).open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(CSV_COLUMNS)
        for row in rows:
            writer.writerow(["" if row.get(c) is None else row.get(c) for c in CSV_COLUMNS])


def write_geojson(
    rows: Iterable[Mapping[str, Any]],
    footprints: Iterable[Mapping[str, Any]],
    path: str | Path,
) -> None:
    """Footprint features, then one Point feature per row, as a ``sat-geojson`` file."""
    features: list[Any] = list(footprints)
    for row in rows:
        props = {k: row.get(k) for k in CSV_COLUMNS if k not in ("lat", "lon")}
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [row["lon"], row["lat"]]},
                "properties": props,
            }
        )
    doc = {"type": "FeatureCollection", "features": features}
    Path(path).write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2))
