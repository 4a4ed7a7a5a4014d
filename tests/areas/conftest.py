"""Helpers for area tests: report factories, GeoJSON builders and the real Solent track.

The Solent track is real AIS (Stone Soup demo data, MIT; see the shared data MANIFEST):
18,623 decoded positions of 91 vessels over 84 minutes on 12 January 2016.
"""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import shapely
from shapely.geometry import shape

from seawarden.areas import parse_areas
from seawarden.model import PositionReport
from seawarden.model.area import Area
from tests.conftest import SHARED_DATA

REPO = Path(__file__).resolve().parents[2]
SHARED = SHARED_DATA
SOLENT_CSV = SHARED / "tracks/solent/SolentAIS_20160112_130211.csv"
LAND_GEOJSON = SHARED / "geo/natural-earth/ne_10m_land_clip_NEurope.geojson"
CABLES_GEOJSON = SHARED / "geo/cables/cable-geo_NEurope_subset.geojson"
DEFAULT_AREAS = REPO / "config/areas.geojson"
T0 = datetime(2024, 11, 17, 21, 0, tzinfo=UTC)


def make_report(
    t: float, lon: float, lat: float, *, mmsi: int = 230_000_001, **overrides: Any
) -> PositionReport:
    """A position ``t`` seconds after ``T0`` with realistic defaults (12 kn, class A)."""
    fields: dict[str, Any] = {
        "mmsi": mmsi,
        "time": T0 + timedelta(seconds=t),
        "lat": lat,
        "lon": lon,
        "speed_kn": 12.0,
        "course_deg": 0.0,
        "msg_type": 1,
        "source": "test",
    }
    fields.update(overrides)
    return PositionReport(**fields)


def feature(geometry_type: str, coordinates: Any, **properties: Any) -> dict[str, Any]:
    return {
        "type": "Feature",
        "properties": properties,
        "geometry": {"type": geometry_type, "coordinates": coordinates},
    }


def collection(*features: dict[str, Any]) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": list(features)}


def corridor(
    area_id: str, coords: list[tuple[float, float]], buffer_m: float, kind: str = "cable"
) -> Area:
    doc = collection(
        feature(
            "LineString",
            [list(c) for c in coords],
            id=area_id,
            name=area_id,
            kind=kind,
            buffer_m=buffer_m,
        )
    )
    return parse_areas(doc)[0]


def read_solent(path: Path = SOLENT_CSV) -> list[PositionReport]:
    """Rows of the Stone Soup Solent CSV as reports; times are naive UTC in the file."""
    out: list[PositionReport] = []
    with path.open(newline="") as fh:
        for line_no, row in enumerate(csv.DictReader(fh), start=2):
            out.append(
                PositionReport(
                    mmsi=int(row["MMSI"]),
                    time=datetime.fromisoformat(row["Time"]).replace(tzinfo=UTC),
                    lat=float(row["Latitude_degrees"]),
                    lon=float(row["Longitude_degrees"]),
                    course_deg=float(row["COG_degrees"]) if row["COG_degrees"] else None,
                    speed_kn=float(row["SOG_knots"]) if row["SOG_knots"] else None,
                    source=path.name,
                    line_no=line_no,
                )
            )
    return out


@pytest.fixture(scope="session")
def solent_reports() -> list[PositionReport]:
    return read_solent()


@pytest.fixture(scope="session")
def land() -> shapely.Geometry:
    doc = json.loads(LAND_GEOJSON.read_text())
    geom = shapely.union_all([shape(f["geometry"]) for f in doc["features"]])
    shapely.prepare(geom)
    return geom
