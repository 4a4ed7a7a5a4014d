"""The 22 default AOIs load, are documented, and their corridors run at sea.

Land: Natural Earth 1:10m (public domain). The TeleGeography cable map subset
(CC BY-NC-SA) is used here only as a cross-check of our own schematic routes; none of its
coordinates are in ``config/areas.geojson``.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import shapely
from shapely.geometry import LineString, MultiLineString, Point, shape
from shapely.ops import nearest_points

from seawarden.areas import AreaIndex, load_areas
from seawarden.areas.geodesic import GEOD
from seawarden.model.area import Area

from .conftest import CABLES_GEOJSON, DEFAULT_AREAS, REPO


@pytest.fixture(scope="module")
def areas() -> list[Area]:
    return load_areas(DEFAULT_AREAS)


def test_exactly_22_unique_documented_areas(areas: list[Area]) -> None:
    assert len(areas) == 22
    assert len({a.id for a in areas}) == 22
    docs = (REPO / "docs/areas.md").read_text()
    for area in areas:
        assert area.properties.get("source"), area.id
        assert area.properties.get("countries"), area.id
        assert f"`{area.id}`" in docs, f"{area.id} missing from docs/areas.md"
    corridors = [a for a in areas if a.is_corridor]
    assert len(corridors) >= 20
    assert all(a.buffer_m is not None and 2 * a.buffer_m <= 10_000 for a in corridors)


def test_every_kind_and_region_present(areas: list[Area]) -> None:
    assert {a.kind for a in areas} == {"cable", "pipeline", "zone"}
    index = AreaIndex(areas)
    # Known points on each sea: Gulf of Finland, Bornholm basin, Channel, North Sea, Øresund.
    assert "balticconnector" in index.containing(24.04, 59.75)
    assert "estlink-2" in index.containing(26.40, 59.75)
    assert "ifa2" in index.containing(-0.7, 50.1)
    assert "viking-link" in index.containing(3.0, 54.1)
    assert "oresund-north" in index.containing(12.655, 56.04)


def sea_fraction(line: LineString | MultiLineString, land: shapely.Geometry) -> float:
    """Share of a line's geodesic length whose sample points are not on land."""
    total = at_sea = 0.0
    for part in shapely.get_parts(line):
        xy = np.asarray(shapely.segmentize(part, 0.005).coords)
        _, _, seg = GEOD.inv(xy[:-1, 0], xy[:-1, 1], xy[1:, 0], xy[1:, 1])
        mid = (xy[:-1] + xy[1:]) / 2.0
        wet = ~shapely.intersects_xy(land, mid[:, 0], mid[:, 1])
        total += float(np.sum(seg))
        at_sea += float(np.sum(seg[wet]))
    return at_sea / total


def test_corridors_run_at_sea(areas: list[Area], land: shapely.Geometry) -> None:
    fractions = {a.id: sea_fraction(a.centerline, land) for a in areas if a.centerline}
    low = {k: round(v, 3) for k, v in fractions.items() if v < 0.95}
    assert not low, f"corridors crossing land: {low}"


def test_sea_check_catches_a_route_over_land(land: shapely.Geometry) -> None:
    # Straight across Jutland, coast to coast: the check can fail.
    overland = LineString([(8.2, 56.0), (10.2, 56.0)])
    assert sea_fraction(overland, land) < 0.2


def test_zones_are_mostly_sea(areas: list[Area], land: shapely.Geometry) -> None:
    for zone in (a for a in areas if a.kind == "zone"):
        wet = 1.0 - zone.geometry.intersection(land).area / zone.geometry.area
        assert wet >= 0.9, zone.id


# Our schematic routes against the TeleGeography reference of the same system.
REFERENCE = {
    "c-lion1": "c-lion1",
    "bcs-east-west-interlink": "bcs-east-west-interlink",
    "nordbalt": "nordbalt",
    "fi-ee-telecom": "finland-estonia-2-eesf-2",
    "kattegat-laeso-varberg": "energinet-laeso-varberg",
    "oresund-north": "denmark-sweden-15",
}


def _km_to(line: shapely.Geometry, lon: float, lat: float) -> float:
    nearest = nearest_points(line, Point(lon, lat))[0]
    return float(GEOD.inv(lon, lat, nearest.x, nearest.y)[2]) / 1000.0


@pytest.mark.parametrize(("area_id", "slug"), sorted(REFERENCE.items()))
def test_routes_agree_with_public_cable_map(areas: list[Area], area_id: str, slug: str) -> None:
    import shapely.ops

    ref = {
        f["properties"]["slug"]: shape(f["geometry"])
        for f in json.loads(CABLES_GEOJSON.read_text())["features"]
    }[slug]
    ours = next(a for a in areas if a.id == area_id).centerline
    assert ours is not None
    xy = np.asarray(shapely.segmentize(ours, 0.02).coords)
    km = [_km_to(ref, x, y) for x, y in xy]
    # Landings within 10 km; the schematic route within 30 km of it on median.
    assert km[0] <= 10.0
    assert km[-1] <= 10.0
    assert float(np.median(km)) <= 30.0
