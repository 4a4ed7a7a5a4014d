"""Satellite vessel detections (SAR, optical, RF) and pass footprints from CSV or GeoJSON.

A satellite detection product is a table of single-shot points: *when* the image was taken,
*where* the object is, and usually an estimated length, a heading and a detection
confidence. Each acquisition also has a footprint polygon, and that matters as much as the
points: inside the footprint, during the pass, every vessel at least the sensor's
``min_length_m`` long should have been detected, so "no detection here" is information.
This module turns such files into :class:`~seawarden.model.Contact` and
:class:`~seawarden.model.SensorPass` records; ``docs/sources/satellite.md`` is the user guide.

Formats (``detect_satellite_format`` tells them apart from AIS files):

* ``sat-csv``: one detection per line, columns found by header name (case, spaces and
  underscores ignored). Our own shape is ``time,lat,lon,length_m,heading_deg,confidence,
  sensor,pass_id``. Global Fishing Watch's Sentinel-1 products are read as published: the
  GFW technical documentation (GlobalFishingWatch/GFW_technical_documentation,
  ``SAR-object-detections.md``) lists ``scene_id``, ``detect_id``, ``detect_lon``,
  ``detect_lat``, ``detect_timestamp``, ``presence`` / ``inferred_presence`` (probability
  that the detection is a vessel), ``length_m`` / ``inferred_length_m`` and ``footprint_wkt``;
  the GFW data-download files use ``timestamp``, ``lat``, ``lon``, ``presence_score``,
  ``length_m`` and ``scene_id`` (see ``_COLUMNS`` for every alias).
* ``sat-geojson``: a FeatureCollection. Point features are detections with the same
  property names; Polygon/MultiPolygon features are pass footprints with ``pass_id`` (or
  ``scene_id``), ``sensor``, ``start`` and ``end`` (or one ``time`` for both) and optionally
  ``min_length_m``. A file may hold detections, footprints, or both.

Conventions:

* Times are ISO 8601 (``Z``, an offset, or a trailing `` UTC`` as BigQuery exports write it)
  or Unix seconds/milliseconds. A time without a zone is taken as UTC — every public product
  we know writes UTC — and counted in ``stats.assumed_utc``.
* The sensor comes from a ``sensor`` column, else the ``default_sensor`` argument, else the
  mission prefix of a Sentinel product name in ``scene_id`` (``S1A_IW_GRDH_…`` → ``S1A``)
  when the registry has a sensor with exactly that id. It must be a configured non-radar
  sensor; anything else is rejected, never guessed.
* Position 0,0 ("null island") is what broken pipelines write for "no position": it is
  rejected as ``bad_position``.

A :class:`~seawarden.model.Rejection` always means the record was dropped. Reasons:
``bad_time``, ``bad_position``, ``bad_confidence``, ``unknown_sensor``, ``malformed``
(column count, header without time/lat/lon, broken JSON, a feature that is neither a Point
nor a Polygon/MultiPolygon, a footprint without ``pass_id``), ``bad_footprint``, ``too_large``
and ``truncated_file`` (a gzip file cut short). A bad *length* or *heading* does not cost
the detection: the field becomes ``None`` and ``stats.bad_length`` / ``stats.bad_heading``
count it. Whole-file problems (``too_large``, broken JSON, a bad CSV header) are one
rejection with ``line_no`` 0 (JSON) or 1 (the CSV header).
"""

from __future__ import annotations

import gzip
import math
import os
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final, Literal, TypeAlias

import orjson
from pyproj import Geod
from shapely import make_valid
from shapely.geometry import MultiPolygon, Point, Polygon, shape
from shapely.geometry.base import BaseGeometry
from shapely.ops import nearest_points

from seawarden.errors import InputError
from seawarden.fusion.sensors import SensorConfig, SensorRegistry
from seawarden.ingest.csv_sources import (
    RAW_MAX_CHARS,
    find_column,
    normalise_name,
    open_lines,
    split_fields,
)
from seawarden.model import Contact, Rejection, SensorPass

__all__ = [
    "MAX_FOOTPRINT_KM2",
    "MAX_GEOJSON_BYTES",
    "MAX_LENGTH_M",
    "OUTSIDE_FOOTPRINT_M",
    "SatelliteFileSource",
    "SatelliteFormat",
    "SatelliteItem",
    "SatelliteStats",
    "detect_satellite_format",
    "iter_passes",
]

SatelliteFormat: TypeAlias = Literal["sat-csv", "sat-geojson"]
SatelliteItem: TypeAlias = Contact | SensorPass | Rejection

# A GeoJSON file is parsed in memory; 64 MiB holds ~300,000 detections, far more than a
# day of Sentinel-1 over one sea, and bounds what a hostile file can cost.
MAX_GEOJSON_BYTES: Final = 64 * 1024 * 1024
# The longest ships afloat are under 460 m; a longer "length" is a product artefact.
MAX_LENGTH_M: Final = 500.0
# A Sentinel-1 IW scene is ~250 km x 170 km (~40,000 km²); even an EW slice stitched over a
# whole orbit segment stays well below this. Larger means wrong coordinates (e.g. an
# antimeridian crossing written as one polygon spanning the globe).
MAX_FOOTPRINT_KM2: Final = 1_000_000.0
# A satellite looks at a place for seconds and a product's pass spans minutes; a longer
# start..end is a data error, and would hold the pass's detections back all that time.
MAX_PASS_S: Final = 2 * 3600.0
# Detections this far outside their own pass's footprint are counted (a join or product quirk).
OUTSIDE_FOOTPRINT_M: Final = 1000.0
_SNIFF_BYTES: Final = 1024 * 1024
_GEOD: Final = Geod(ellps="WGS84")

# Logical column → normalised header aliases, in preference order (normalise_name drops case,
# spaces and underscores: "detect_lat" → "detectlat").
_COLUMNS: Final[dict[str, tuple[str, ...]]] = {
    "time": (
        "time",
        "timestamp",
        "detecttimestamp",
        "datetime",
        "acquisitiontime",
        "imagetime",
        "scenetime",
    ),
    "lat": ("lat", "latitude", "detectlat"),
    "lon": ("lon", "longitude", "detectlon", "lng", "long"),
    "length": ("lengthm", "inferredlengthm", "length"),
    "heading": ("headingdeg", "heading", "bearing"),
    # 0..1 scores; "score"/"matchscore" are GFW's AIS-match scores, not detection confidence.
    "confidence": ("confidence", "presencescore", "inferredpresence", "presence"),
    # 0..100 scales, converted to 0..1.
    "confidence_pct": ("confidencepct", "presencepct"),
    "sensor": ("sensor", "sensorid", "satellite"),
    "pass_id": ("passid", "sceneid"),
    "start": ("start", "starttime", "passstart"),
    "end": ("end", "endtime", "passend"),
    "min_length": ("minlengthm",),
}
# Columns only a detection product has: one of them (besides time/lat/lon) marks a sat-csv.
_DETECTION_MARKERS: Final = frozenset(
    {
        "confidence",
        "confidencepct",
        "presencescore",
        "presencepct",
        "inferredpresence",
        "presence",
        "sceneid",
        "passid",
        "detectid",
        "lengthm",
        "inferredlengthm",
    }
)
# A scene or detection id cannot appear in an AIS export, so it outweighs an mmsi column
# (GFW rows matched to AIS may carry the vessel's MMSI).
_STRONG_MARKERS: Final = frozenset({"sceneid", "passid", "detectid"})


@dataclass(slots=True)
class SatelliteStats:
    """What one file produced, and which values were repaired rather than rejected."""

    contacts: int = 0
    passes: int = 0
    rejected: dict[str, int] = field(default_factory=dict)
    bad_length: int = 0  # length dropped to None (negative, zero, > MAX_LENGTH_M, not a number)
    bad_heading: int = 0  # heading dropped to None (outside 0..360, not a number)
    assumed_utc: int = 0  # times written without a zone, read as UTC
    confidence_scaled: int = 0  # confidences read from a 0..100 column
    outside_footprint: int = 0  # detections > OUTSIDE_FOOTPRINT_M outside their pass footprint
    footprints_repaired: int = 0  # invalid footprints made valid with shapely make_valid
    bad_min_length: int = 0  # footprint min_length_m unusable; the sensor's default was used

    def count_rejection(self, reason: str) -> None:
        self.rejected[reason] = self.rejected.get(reason, 0) + 1

    def as_dict(self) -> dict[str, int]:
        out = {
            "contacts": self.contacts,
            "passes": self.passes,
            "rejected": sum(self.rejected.values()),
            "bad_length": self.bad_length,
            "bad_heading": self.bad_heading,
            "assumed_utc": self.assumed_utc,
            "confidence_scaled": self.confidence_scaled,
            "outside_footprint": self.outside_footprint,
            "footprints_repaired": self.footprints_repaired,
            "bad_min_length": self.bad_min_length,
        }
        out.update({f"rejected.{k}": v for k, v in sorted(self.rejected.items())})
        return out


class _RejectError(Exception):
    """Internal: a record cannot be used; carries the Rejection reason and detail."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


# --------------------------------------------------------------------------- values


def _parse_time(value: Any) -> tuple[datetime, bool]:
    """``(UTC datetime, zone was assumed)``; raises ``_RejectError('bad_time')``."""
    if isinstance(value, bool) or value is None:
        raise _RejectError("bad_time", f"time {value!r}")
    try:
        if isinstance(value, (int, float)):
            return _unix(float(value)), False
        if not isinstance(value, str):
            raise _RejectError("bad_time", f"time {value!r}")
        text = value.strip()
        if text[-4:].upper() == " UTC":  # BigQuery CSV exports: "2021-01-01 10:00:00 UTC"
            text = text[:-4].rstrip() + "+00:00"
        try:
            dt = datetime.fromisoformat(text)
        except ValueError:
            return _unix(float(text)), False
        if dt.tzinfo is None:
            return dt.replace(tzinfo=UTC), True
        return dt.astimezone(UTC), False
    except (ValueError, OverflowError, OSError) as exc:
        raise _RejectError("bad_time", f"time {str(value)[:40]!r}") from exc


def _unix(seconds: float) -> datetime:
    if not math.isfinite(seconds):
        raise ValueError("not finite")
    if abs(seconds) > 1e11:  # milliseconds: 1e11 s is the year 5138
        seconds /= 1000.0
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=seconds)


def _number(value: Any) -> float | None:
    """A finite-or-not float, None for an empty value; raises ValueError if not a number."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise ValueError("boolean")
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        return float(value)
    raise ValueError(f"not a number: {type(value).__name__}")


def _position(lat_v: Any, lon_v: Any) -> tuple[float, float]:
    try:
        lat, lon = _number(lat_v), _number(lon_v)
    except (ValueError, OverflowError) as exc:
        raise _RejectError("bad_position", f"lat {lat_v!r} lon {lon_v!r}") from exc
    if (
        lat is None
        or lon is None
        or not (math.isfinite(lat) and math.isfinite(lon))
        or not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0)
        or (lat == 0.0 and lon == 0.0)
    ):
        raise _RejectError("bad_position", f"lat {lat_v!r} lon {lon_v!r}")
    return lat, lon


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text[:128] if text else None


# --------------------------------------------------------------------------- records


class _Builder:
    """Turns one row's logical fields into a Contact or SensorPass, updating the stats."""

    def __init__(
        self,
        sensors: SensorRegistry,
        default_sensor: str | None,
        source: str,
        stats: SatelliteStats,
    ) -> None:
        self.sensors = sensors
        self.default_sensor = default_sensor
        self.source = source
        self.stats = stats

    def sensor(self, value: Any, pass_id: str | None) -> SensorConfig:
        sid = _text(value) or self.default_sensor
        if sid is None and pass_id:
            prefix = pass_id.split("_", 1)[0]
            # Sentinel product names start with the mission (S1A, S2B, ...): a formal
            # encoding, used only when the registry has a sensor with exactly that id.
            if "_" in pass_id and self.sensors.get(prefix) is not None:
                sid = prefix
        if sid is None:
            raise _RejectError("unknown_sensor", "no sensor column, default or Sentinel scene id")
        cfg = self.sensors.get(sid)
        if cfg is None:
            raise _RejectError("unknown_sensor", f"sensor {sid[:64]!r} is not configured")
        if cfg.kind == "radar":
            raise _RejectError("unknown_sensor", f"sensor {sid!r} is a radar, not a satellite")
        return cfg

    def contact(self, f: Mapping[str, Any], line_no: int) -> Contact:
        time, assumed = _parse_time(f.get("time"))
        lat, lon = _position(f.get("lat"), f.get("lon"))
        confidence = self._confidence(f)
        pass_id = _text(f.get("pass_id"))
        cfg = self.sensor(f.get("sensor"), pass_id)
        length = self._length(f.get("length"))
        heading = self._heading(f.get("heading"))
        if assumed:
            self.stats.assumed_utc += 1
        return Contact(
            time=time,
            lat=lat,
            lon=lon,
            sensor=cfg.id,
            kind=cfg.kind,
            track=None,
            heading_deg=heading,
            length_m=length,
            confidence=confidence,
            sigma_m=None,
            pass_id=pass_id,
            source=self.source,
            line_no=line_no,
        )

    def _confidence(self, f: Mapping[str, Any]) -> float:
        raw, scale = f.get("confidence"), 1.0
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            raw, scale = f.get("confidence_pct"), 100.0
        try:
            value = _number(raw)
        except (ValueError, OverflowError) as exc:
            raise _RejectError("bad_confidence", f"confidence {raw!r}") from exc
        if value is None:
            return 1.0  # the product gives none: Contact's documented default
        value /= scale
        if not (math.isfinite(value) and 0.0 <= value <= 1.0):
            raise _RejectError("bad_confidence", f"confidence {raw!r} (scale 0..{scale:g})")
        if scale != 1.0:
            self.stats.confidence_scaled += 1
        return value

    def _length(self, raw: Any) -> float | None:
        try:
            value = _number(raw)
        except (ValueError, OverflowError):
            value = math.nan
        if value is None:
            return None
        if not (math.isfinite(value) and 0.0 < value <= MAX_LENGTH_M):
            self.stats.bad_length += 1
            return None
        return value

    def _heading(self, raw: Any) -> float | None:
        try:
            value = _number(raw)
        except (ValueError, OverflowError):
            value = math.nan
        if value is None:
            return None
        if not (math.isfinite(value) and 0.0 <= value <= 360.0):
            self.stats.bad_heading += 1
            return None
        return value % 360.0

    def sensor_pass(
        self, f: Mapping[str, Any], geometry: Mapping[str, Any], line_no: int
    ) -> SensorPass:
        pass_id = _text(f.get("pass_id"))
        if pass_id is None:
            raise _RejectError("malformed", "footprint without pass_id/scene_id")
        start_v = f.get("start") if f.get("start") is not None else f.get("time")
        end_v = f.get("end") if f.get("end") is not None else start_v
        start, assumed_s = _parse_time(start_v)
        end, assumed_e = _parse_time(end_v)
        if end < start:
            raise _RejectError("bad_time", f"pass ends ({end_v!r}) before it starts ({start_v!r})")
        if (end - start).total_seconds() > MAX_PASS_S:
            raise _RejectError("bad_time", f"pass lasts over {MAX_PASS_S / 3600:g} h")
        cfg = self.sensor(f.get("sensor"), pass_id)
        footprint = self._footprint(geometry)
        min_length = cfg.min_length_m
        try:
            given = _number(f.get("min_length"))
        except (ValueError, OverflowError):
            given = math.nan
        if given is not None:
            if math.isfinite(given) and 0.0 <= given <= MAX_LENGTH_M:
                min_length = given
            else:
                self.stats.bad_min_length += 1
        self.stats.assumed_utc += int(assumed_s or assumed_e)
        return SensorPass(
            pass_id=pass_id,
            sensor=cfg.id,
            kind=cfg.kind,
            start=start,
            end=end,
            footprint=footprint,
            min_length_m=min_length,
            source=self.source,
            line_no=line_no,
        )

    def _footprint(self, geometry: Mapping[str, Any]) -> BaseGeometry:
        try:
            geom = shape(geometry)
        except Exception as exc:  # shapely raises many exception types on bad input
            raise _RejectError(
                "bad_footprint", f"unreadable polygon ({type(exc).__name__})"
            ) from exc
        if geom.is_empty:
            raise _RejectError("bad_footprint", "empty polygon")
        minx, miny, maxx, maxy = geom.bounds
        if not all(math.isfinite(v) for v in (minx, miny, maxx, maxy)) or not (
            minx >= -180.0 and maxx <= 180.0 and miny >= -90.0 and maxy <= 90.0
        ):
            raise _RejectError("bad_footprint", "coordinates outside lon/lat range")
        if not geom.is_valid:
            geom = _polygonal(make_valid(geom))
            if geom.is_empty:
                raise _RejectError("bad_footprint", "invalid polygon with no area once repaired")
            self.stats.footprints_repaired += 1
        area_km2 = abs(_GEOD.geometry_area_perimeter(geom)[0]) / 1e6
        if not math.isfinite(area_km2) or area_km2 <= 0.0:
            raise _RejectError("bad_footprint", "polygon has no area")
        if area_km2 > MAX_FOOTPRINT_KM2:
            raise _RejectError(
                "bad_footprint",
                f"{area_km2:,.0f} km² is over {MAX_FOOTPRINT_KM2:,.0f} km² "
                "(an antimeridian crossing must be a MultiPolygon)",
            )
        return geom


def _polygonal(geom: BaseGeometry) -> BaseGeometry:
    """The area part of what make_valid returns (it may add stray lines and points)."""
    if isinstance(geom, (Polygon, MultiPolygon)):
        return geom
    parts: list[Polygon] = []
    for g in getattr(geom, "geoms", ()):
        if isinstance(g, Polygon) and not g.is_empty:
            parts.append(g)
        elif isinstance(g, MultiPolygon):
            parts.extend(p for p in g.geoms if not p.is_empty)
    return MultiPolygon(parts) if parts else Polygon()


def _outside_m(lat: float, lon: float, footprint: BaseGeometry) -> float:
    """Metres from a point to a footprint (0 inside)."""
    pt = Point(lon, lat)
    if footprint.covers(pt):
        return 0.0
    near = nearest_points(footprint, pt)[0]
    return float(_GEOD.inv(lon, lat, near.x, near.y)[2])


# --------------------------------------------------------------------------- source


class SatelliteFileSource:
    """Detections and footprints of one file as ``(line_no, Contact | SensorPass |
    Rejection)`` in file order (CSV: 1-based line, header = 1; GeoJSON: 1-based feature).

    ``passes`` are footprints already read from another file (e.g. a footprints-only
    GeoJSON): detections are checked against them, as against footprints in the file itself,
    for ``stats.outside_footprint``. ``fmt`` skips format detection. A GeoJSON file over
    ``max_geojson_bytes`` (default :data:`MAX_GEOJSON_BYTES`) is one ``too_large`` rejection.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        sensors: SensorRegistry,
        *,
        default_sensor: str | None = None,
        fmt: SatelliteFormat | None = None,
        passes: Iterable[SensorPass] = (),
        max_geojson_bytes: int = MAX_GEOJSON_BYTES,
    ) -> None:
        self.path = Path(path)
        self.max_geojson_bytes = max_geojson_bytes
        self.sensors = sensors
        self.default_sensor = default_sensor
        self.fmt = fmt
        self.stats = SatelliteStats()
        self._footprints: dict[str, BaseGeometry] = {}
        for p in passes:
            self._footprints.setdefault(p.pass_id, p.footprint)

    def __iter__(self) -> Iterator[tuple[int, SatelliteItem]]:
        if not self.path.is_file():
            raise InputError("no such file (check the path)", source=str(self.path))
        fmt = self.fmt or detect_satellite_format(self.path)
        if fmt is None:
            fmt = "sat-geojson" if _looks_like_json(self.path) else "sat-csv"
        self.stats = SatelliteStats()
        builder = _Builder(self.sensors, self.default_sensor, self.path.name, self.stats)
        items = self._csv(builder) if fmt == "sat-csv" else self._geojson(builder)
        for line_no, item in items:
            if isinstance(item, Rejection):
                self.stats.count_rejection(item.reason)
            elif isinstance(item, SensorPass):
                self.stats.passes += 1
            else:
                self.stats.contacts += 1
                fp = self._footprints.get(item.pass_id) if item.pass_id else None
                if fp is not None and _outside_m(item.lat, item.lon, fp) > OUTSIDE_FOOTPRINT_M:
                    self.stats.outside_footprint += 1
            yield line_no, item

    def _reject(self, reason: str, line_no: int, detail: str, raw: str = "") -> Rejection:
        return Rejection(
            reason=reason,
            source=self.path.name,
            line_no=line_no,
            detail=detail[:200],
            raw=raw.rstrip("\r\n")[:RAW_MAX_CHARS],
        )

    # ---------------------------------------------------------------- CSV

    def _csv(self, builder: _Builder) -> Iterator[tuple[int, SatelliteItem]]:
        _, lines = open_lines(self.path)
        line_no = 1
        try:
            first = next(lines, None)
            if first is None:
                return
            names = [normalise_name(n) for n in split_fields(first[1])]
            cols = {key: find_column(names, aliases) for key, aliases in _COLUMNS.items()}
            missing = [k for k in ("time", "lat", "lon") if cols[k] is None]
            if missing:
                yield (
                    1,
                    self._reject(
                        "malformed", 1, f"header lacks {', '.join(missing)} column(s)", first[1]
                    ),
                )
                return
            width = len(names)
            for line_no, line in lines:
                fields = split_fields(line)
                if len(fields) != width:
                    detail = (
                        "blank line"
                        if not line.strip()
                        else f"{len(fields)} fields, header has {width}"
                    )
                    yield line_no, self._reject("malformed", line_no, detail, line)
                    continue
                row = {k: fields[i] for k, i in cols.items() if i is not None}
                try:
                    yield line_no, builder.contact(row, line_no)
                except _RejectError as r:
                    yield line_no, self._reject(r.reason, line_no, r.detail, line)
        except InputError as exc:  # a gzip file cut short or corrupt
            yield line_no, self._reject("truncated_file", line_no, str(exc))
        finally:
            lines.close()

    # ---------------------------------------------------------------- GeoJSON

    def _geojson(self, builder: _Builder) -> Iterator[tuple[int, SatelliteItem]]:
        data = _read_bounded(self.path, self.max_geojson_bytes)
        if data is None:
            yield 0, self._reject("too_large", 0, f"over {self.max_geojson_bytes} bytes")
            return
        try:
            doc = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            yield 0, self._reject("malformed", 0, f"not valid JSON ({exc})"[:200])
            return
        features: list[Any]
        if isinstance(doc, dict) and doc.get("type") == "FeatureCollection":
            raw_features = doc.get("features")
            if not isinstance(raw_features, list):
                yield 0, self._reject("malformed", 0, "FeatureCollection without a features list")
                return
            features = raw_features
        elif isinstance(doc, dict) and doc.get("type") == "Feature":
            features = [doc]
        else:
            yield 0, self._reject("malformed", 0, "not a GeoJSON FeatureCollection or Feature")
            return
        # Footprints first, so detections anywhere in the file can be checked against them.
        out: list[tuple[int, SatelliteItem]] = []
        for index, feature in enumerate(features, 1):
            item = self._feature(builder, feature, index)
            if isinstance(item, SensorPass):
                self._footprints.setdefault(item.pass_id, item.footprint)
            out.append((index, item))
        yield from out

    def _feature(self, builder: _Builder, feature: Any, index: int) -> SatelliteItem:
        raw = _raw(feature)
        if not isinstance(feature, dict) or feature.get("type") != "Feature":
            return self._reject("malformed", index, "not a GeoJSON Feature", raw)
        props = feature.get("properties")
        if props is None:
            props = {}
        geometry = feature.get("geometry")
        if not isinstance(props, dict) or not (geometry is None or isinstance(geometry, dict)):
            return self._reject("malformed", index, "properties/geometry not objects", raw)
        f = _logical(props)
        gtype = geometry.get("type") if geometry is not None else None
        try:
            if gtype in ("Polygon", "MultiPolygon"):
                assert geometry is not None
                return builder.sensor_pass(f, geometry, index)
            if gtype == "Point":
                assert geometry is not None
                coords = geometry.get("coordinates")
                if not isinstance(coords, list) or len(coords) < 2:
                    raise _RejectError("bad_position", f"Point coordinates {str(coords)[:60]}")
                f["lon"], f["lat"] = coords[0], coords[1]
                return builder.contact(f, index)
            if gtype is None and "lat" in f and "lon" in f:
                return builder.contact(f, index)  # geometry null, position in properties
        except _RejectError as r:
            return self._reject(r.reason, index, r.detail, raw)
        return self._reject(
            "malformed", index, f"geometry {str(gtype)[:30]!r} is not a Point or Polygon", raw
        )


def _logical(props: Mapping[str, Any]) -> dict[str, Any]:
    """Feature properties keyed by logical column name (first alias wins)."""
    by_name: dict[str, Any] = {}
    for key, value in props.items():
        by_name.setdefault(normalise_name(str(key)), value)
    out: dict[str, Any] = {}
    for logical, aliases in _COLUMNS.items():
        for alias in aliases:
            if alias in by_name and by_name[alias] is not None:
                out[logical] = by_name[alias]
                break
    return out


def _raw(feature: Any) -> str:
    try:
        return orjson.dumps(feature).decode()[:RAW_MAX_CHARS]
    except (TypeError, orjson.JSONEncodeError):
        return ""


def _read_bounded(path: Path, limit: int) -> bytes | None:
    """The file's bytes (gunzipped if it is gzip), or None if over ``limit``."""
    if path.stat().st_size > limit:
        return None
    with path.open("rb") as fh:
        head = fh.read(2)
        fh.seek(0)
        if head == b"\x1f\x8b":
            try:
                with gzip.open(fh, "rb") as gz:
                    data = gz.read(limit + 1)
            except (OSError, EOFError, zlib.error):
                return b""  # parsed as empty: a malformed rejection
        else:
            data = fh.read(limit + 1)
    return None if len(data) > limit else data


def _looks_like_json(path: Path) -> bool:
    head = _read_head(path, 64)
    return head.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] in (b"{", b"[")


def _read_head(path: Path, size: int) -> bytes:
    try:
        with path.open("rb") as fh:
            if fh.read(2) == b"\x1f\x8b":
                fh.seek(0)
                with gzip.open(fh, "rb") as gz:
                    return gz.read(size)
            fh.seek(0)
            return fh.read(size)
    except (OSError, EOFError, zlib.error):
        return b""


# --------------------------------------------------------------------------- sniffing


def detect_satellite_format(path: str | os.PathLike[str]) -> SatelliteFormat | None:
    """``sat-geojson``, ``sat-csv``, or None if the file does not look like satellite data.

    GeoJSON: a FeatureCollection (or one Feature) whose features include a Point with a
    time plus a detection property (confidence, presence score, pass/scene id, length), or a
    Polygon/MultiPolygon with a pass/scene id. Only the first MiB is read: if that is not a
    whole document, the text must name a FeatureCollection and a ``pass_id``/``scene_id``.
    CSV: a header with time, lat and lon columns and a detection column (confidence,
    presence_score, scene_id, length_m, ...) and no ``mmsi`` column — AIS CSVs have one —
    unless a scene/pass/detect id column shows it is a detection product anyway.
    """
    p = Path(path)
    head = _read_head(p, _SNIFF_BYTES)
    if not head:
        return None
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if stripped[:1] == b"{":
        return (
            "sat-geojson" if _geojson_looks_satellite(stripped, len(head) < _SNIFF_BYTES) else None
        )
    first_line = stripped.split(b"\n", 1)[0].decode("utf-8", "replace")
    return "sat-csv" if _csv_header_is_satellite(first_line) else None


def _csv_header_is_satellite(header: str) -> bool:
    names = {normalise_name(n) for n in split_fields(header)}
    for key in ("time", "lat", "lon"):
        if not names & set(_COLUMNS[key]):
            return False
    if not names & _DETECTION_MARKERS:
        return False
    return "mmsi" not in names or bool(names & _STRONG_MARKERS)


def _geojson_looks_satellite(text: bytes, whole: bool) -> bool:
    doc: Any = None
    try:
        doc = orjson.loads(text)
    except orjson.JSONDecodeError:
        if whole:
            return False
    if doc is None:  # a large file cut at the sniff window: look at its text
        return b'"FeatureCollection"' in text and (b'"pass_id"' in text or b'"scene_id"' in text)
    if not isinstance(doc, dict):
        return False
    if doc.get("type") == "Feature":
        features: Any = [doc]
    elif doc.get("type") == "FeatureCollection":
        features = doc.get("features")
    else:
        return False
    if not isinstance(features, list):
        return False
    return any(_feature_looks_satellite(f) for f in features[:1000])


def _feature_looks_satellite(feature: Any) -> bool:
    if not isinstance(feature, dict):
        return False
    props, geom = feature.get("properties"), feature.get("geometry")
    if not isinstance(props, dict) or not isinstance(geom, dict):
        return False
    f = _logical(props)
    if geom.get("type") in ("Polygon", "MultiPolygon"):
        return "pass_id" in f
    if geom.get("type") == "Point":
        markers = ("confidence", "confidence_pct", "pass_id", "length")
        return "time" in f and any(m in f for m in markers)
    return False


def iter_passes(items: Sequence[tuple[int, SatelliteItem]]) -> list[SensorPass]:
    """The footprints among read items (to pass to a second file's source as ``passes``)."""
    return [item for _, item in items if isinstance(item, SensorPass)]
