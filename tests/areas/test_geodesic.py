"""Corridors are buffered in metres on the ellipsoid, and work across the antimeridian."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from shapely.geometry import LineString, MultiPolygon, Point

from seawarden.areas.geodesic import GEOD, SideOfLine, buffer_line_m, unwrap_lons

from .conftest import corridor


def _probe(lon: float, lat: float, azimuth: float, distance_m: float) -> Point:
    x, y, _ = GEOD.fwd(lon, lat, azimuth, distance_m)
    return Point(x, y)


@pytest.mark.parametrize("lat", [0.0, 60.0, -45.0, 75.0])
@pytest.mark.parametrize("buffer_m", [300.0, 2000.0, 5000.0])
def test_corridor_half_width_is_true_metres(lat: float, buffer_m: float) -> None:
    # An east-west line: its width is measured north-south and east-west of the ends.
    line = LineString([(20.0, lat), (21.5, lat)])
    area = buffer_line_m(line, buffer_m)
    for lon in (20.2, 20.75, 21.3):
        # At a point on the line the perpendicular is north/south (to within the
        # convergence of meridians over 0.75°, negligible at these widths).
        for azimuth in (0.0, 180.0):
            assert area.contains(_probe(lon, lat, azimuth, 0.97 * buffer_m))
            assert not area.contains(_probe(lon, lat, azimuth, 1.03 * buffer_m))
    # Round caps: the width holds beyond the ends of the line too.
    assert area.contains(_probe(21.5, lat, 90.0, 0.97 * buffer_m))
    assert not area.contains(_probe(21.5, lat, 90.0, 1.03 * buffer_m))
    assert not area.contains(_probe(20.0, lat, 270.0, 1.03 * buffer_m))


def test_degree_buffer_would_be_wrong_at_60n() -> None:
    # The reason this module exists: a degree buffer is half as wide east-west at 60°N.
    lat, width_deg = 60.0, 2000.0 / 111_320.0
    naive = LineString([(20.0, lat), (20.0, lat + 0.5)]).buffer(width_deg)
    geodesic = buffer_line_m(LineString([(20.0, lat), (20.0, lat + 0.5)]), 2000.0)
    probe = _probe(20.0, lat + 0.25, 90.0, 1500.0)
    assert not naive.contains(probe)
    assert geodesic.contains(probe)


def test_long_line_keeps_its_width_far_from_the_centre() -> None:
    # 1,500 km corridor: several projection stretches; width checked near both ends.
    line = LineString([(10.0, 54.0), (30.0, 60.0)])
    area = buffer_line_m(line, 3000.0)
    for frac in (0.02, 0.5, 0.98):
        on = line.interpolate(frac, normalized=True)
        ahead = line.interpolate(min(frac + 0.001, 1.0), normalized=True)
        heading, _, _ = GEOD.inv(on.x, on.y, ahead.x, ahead.y)
        for side in (-90.0, 90.0):
            assert area.contains(_probe(on.x, on.y, heading + side, 2900.0))
            assert not area.contains(_probe(on.x, on.y, heading + side, 3100.0))


def test_antimeridian_corridor_contains_points_on_both_sides() -> None:
    area = corridor("pacific", [(179.6, -17.0), (-179.6, -17.0)], 5000.0)
    assert isinstance(area.geometry, MultiPolygon)
    minx, _, maxx, _ = area.geometry.bounds
    assert minx >= -180.0
    assert maxx <= 180.0
    for lon in (179.7, 179.99, 180.0, -180.0, -179.99, -179.7):
        assert area.geometry.covers(Point(lon, -17.0)), lon
        assert area.geometry.covers(Point(lon, -17.03)), lon  # ~3.3 km south
        assert not area.geometry.covers(Point(lon, -17.06)), lon  # ~6.6 km south
    # The short way round: nothing in the Atlantic.
    assert not area.geometry.covers(Point(0.0, -17.0))
    assert not area.geometry.covers(Point(179.0, -17.0))


def test_multilinestring_split_by_antimeridian_per_rfc7946() -> None:
    area = corridor("split", [(179.5, 10.0), (180.0, 10.0)], 2000.0)
    assert not area.geometry.covers(Point(-179.5, 10.0))
    assert area.geometry.covers(Point(-179.99, 10.0))  # within 2 km of the 180° end


@given(st.lists(st.floats(-180, 180), min_size=2, max_size=20))
def test_unwrap_steps_are_short_and_same_modulo_360(lons: list[float]) -> None:
    raw = np.asarray(lons)
    out = unwrap_lons(raw)
    assert np.all(np.abs(np.diff(out)) <= 180.0 + 1e-9)
    turns = (out - raw) / 360.0
    assert np.allclose(turns, np.round(turns), atol=1e-9)


def test_side_of_line_left_right_and_bends() -> None:
    # Drawn eastwards: north is left (+1), south is right (-1).
    east = SideOfLine(LineString([(0.0, 0.0), (1.0, 0.0)]))
    assert east.side(0.5, 0.01) == 1
    assert east.side(0.5, -0.01) == -1
    # A left turn at (1, 0): the outside of the bend (south-east) is on the right.
    bend = SideOfLine(LineString([(0.0, 0.0), (1.0, 0.0), (1.0, 1.0)]))
    assert bend.side(1.05, -0.05) == -1
    assert bend.side(0.95, 0.05) == 1
    assert bend.side(1.05, 0.5) == -1


def test_side_of_line_across_antimeridian() -> None:
    side = SideOfLine(LineString([(179.8, 0.0), (-179.8, 0.0)]))
    for lon in (179.9, -179.9, 180.0):
        assert side.side(lon, 0.01) == 1
        assert side.side(lon, -0.01) == -1
