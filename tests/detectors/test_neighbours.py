"""The neighbour index answers as a brute-force scan with geo.sphere.distance_m would.

Its query loop inlines the haversine for speed (issue 8); these check, on generated fleets
(across the antimeridian, near the poles, with stale reports), that it returns exactly the
vessels, distances and order of the plain scan.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from hypothesis import example, given, settings
from hypothesis import strategies as st

from seawarden.detectors.neighbours import NeighbourIndex
from seawarden.geo.sphere import EARTH_RADIUS_M, distance_m
from seawarden.model import PositionReport

T0 = datetime(2025, 1, 25, 12, 0, tzinfo=UTC)


def report(mmsi: int, lat: float, lon: float, age_s: float) -> PositionReport:
    return PositionReport(
        mmsi=mmsi, time=T0 - timedelta(seconds=age_s), lat=lat, lon=lon, source="test"
    )


centre = st.tuples(st.floats(-89.0, 89.0), st.floats(-180.0, 180.0))
offsets = st.lists(
    st.tuples(st.floats(-0.3, 0.3), st.floats(-0.6, 0.6), st.floats(-900.0, 900.0)),
    min_size=1,
    max_size=60,
)


@settings(max_examples=300, deadline=None)
@given(
    centre=centre,
    offsets=offsets,
    radius=st.floats(10.0, 40_000.0),
    exclude=st.sampled_from([None, 1, 2]),
)
def test_near_is_the_brute_force_scan(
    centre: tuple[float, float],
    offsets: list[tuple[float, float, float]],
    radius: float,
    exclude: int | None,
) -> None:
    lat0, lon0 = centre
    index = NeighbourIndex(max_age_s=600.0)
    reports = []
    for i, (dlat, dlon, age) in enumerate(offsets, 1):
        lat = min(max(lat0 + dlat, -89.9), 89.9)
        lon = (lon0 + dlon + 180.0) % 360.0 - 180.0
        rep = report(i, lat, lon, age)
        reports.append(rep)
        index.update(rep)
    got = [(n.mmsi, n.distance_m) for n in index.near(lat0, lon0, radius, T0, exclude=exclude)]
    expected = sorted(
        (
            (r.mmsi, distance_m(lat0, lon0, r.lat, r.lon))
            for r in reports
            if r.mmsi != exclude and abs((T0 - r.time).total_seconds()) <= 600.0
        ),
        key=lambda m_d: (m_d[1], m_d[0]),
    )
    assert got == [(m, d) for m, d in expected if d <= radius]


def test_a_report_exactly_at_the_age_limit_is_a_neighbour_and_one_beyond_is_not() -> None:
    index = NeighbourIndex(max_age_s=600.0)
    index.update(report(1, 55.0, 12.0, 600.0))
    index.update(report(2, 55.0, 12.001, 600.000001))
    assert [n.mmsi for n in index.near(55.0, 12.0, 1000.0, T0)] == [1]


@settings(max_examples=300, deadline=None)
@given(
    lat0=st.floats(-85.0, 85.0),
    lon0=st.floats(-180.0, 180.0),
    radius=st.floats(100.0, 40_000.0),
    bearing=st.floats(0.0, 360.0),
)
@example(lat0=0.0, lon0=0.0, radius=27_799.0, bearing=90.0)  # the 111,320 m/° box missed it
@example(lat0=70.0, lon0=10.0, radius=40_000.0, bearing=80.0)  # the bulge of a small circle
def test_a_vessel_just_inside_the_radius_is_found_whatever_the_bearing(
    lat0: float, lon0: float, radius: float, bearing: float
) -> None:
    d = radius * 0.999999 / EARTH_RADIUS_M
    p1, b = math.radians(lat0), math.radians(bearing)
    p2 = math.asin(math.sin(p1) * math.cos(d) + math.cos(p1) * math.sin(d) * math.cos(b))
    dl = math.atan2(
        math.sin(b) * math.sin(d) * math.cos(p1), math.cos(d) - math.sin(p1) * math.sin(p2)
    )
    lat, lon = math.degrees(p2), (lon0 + math.degrees(dl) + 180.0) % 360.0 - 180.0
    index = NeighbourIndex()
    index.update(report(1, lat, lon, 0.0))
    assert distance_m(lat0, lon0, lat, lon) <= radius
    assert [n.mmsi for n in index.near(lat0, lon0, radius, T0)] == [1]


moves = st.lists(
    st.tuples(
        st.integers(1, 12),  # which vessel
        st.floats(-0.05, 0.05),
        st.floats(-0.1, 0.1),
        st.booleans(),  # removed instead of moved
    ),
    min_size=1,
    max_size=80,
)


@settings(max_examples=200, deadline=None)
@given(
    centre=st.tuples(st.floats(-80.0, 80.0), st.sampled_from([-179.99, -0.005, 0.0, 12.3, 179.99])),
    steps=moves,
    radius=st.floats(10.0, 20_000.0),
)
def test_moves_and_removals_keep_the_grid_a_brute_force_scan(
    centre: tuple[float, float], steps: list[tuple[int, float, float, bool]], radius: float
) -> None:
    """Vessels moving between cells (either side of 0° and of the antimeridian, where the
    cell keys change sign or wrap) and leaving: the grid holds each where it last was."""
    lat0, lon0 = centre
    index = NeighbourIndex(max_age_s=600.0)
    where: dict[int, PositionReport] = {}
    for mmsi, dlat, dlon, gone in steps:
        if gone:
            index.remove(mmsi)
            where.pop(mmsi, None)
            continue
        lon = (lon0 + dlon + 180.0) % 360.0 - 180.0
        rep = report(mmsi, lat0 + dlat, lon, 0.0)
        index.update(rep)
        where[mmsi] = rep
    assert len(index) == len(where)
    assert sorted(m for ms in index._cells.values() for m in ms) == sorted(where)
    got = [(n.mmsi, n.distance_m) for n in index.near(lat0, lon0, radius, T0)]
    expected = sorted(
        ((r.mmsi, distance_m(lat0, lon0, r.lat, r.lon)) for r in where.values()),
        key=lambda m_d: (m_d[1], m_d[0]),
    )
    assert got == [(m, d) for m, d in expected if d <= radius]
