"""The spatial index answers like a brute-force scan, in bulk as one by one."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from seawarden.areas import AreaIndex, parse_areas

from .conftest import collection, corridor, feature


@pytest.fixture(scope="module")
def index() -> AreaIndex:
    areas = [
        corridor("b-cable", [(10.0, 55.0), (10.4, 55.0)], 2000.0),
        corridor("a-pipe", [(10.2, 54.9), (10.2, 55.1)], 1000.0, kind="pipeline"),
        corridor("dateline", [(179.5, 0.0), (-179.5, 0.0)], 3000.0),
        *parse_areas(
            collection(
                feature(
                    "Polygon",
                    [[[10.1, 54.95], [10.3, 54.95], [10.3, 55.05], [10.1, 55.05], [10.1, 54.95]]],
                    id="zone",
                    name="Zone",
                    kind="zone",
                )
            )
        ),
    ]
    return AreaIndex(areas)


def brute_force(index: AreaIndex, lon: float, lat: float) -> tuple[str, ...]:
    return tuple(a.id for a in index.areas if a.geometry.covers(shapely.Point(lon, lat)))


def test_known_points(index: AreaIndex) -> None:
    assert index.containing(10.2, 55.0) == ("a-pipe", "b-cable", "zone")
    assert index.containing(10.05, 55.0) == ("b-cable",)
    assert index.containing(10.2, 55.08) == ("a-pipe",)
    assert index.containing(12.0, 55.0) == ()
    assert index.containing(180.0, 0.0) == ("dateline",)
    assert index.containing(-179.9, 0.01) == ("dateline",)
    assert index.containing(0.0, 0.0) == ()


def test_lookup_and_len(index: AreaIndex) -> None:
    assert len(index) == 4
    assert [a.id for a in index.areas] == ["a-pipe", "b-cable", "dateline", "zone"]
    assert index.area("zone").kind == "zone"
    with pytest.raises(KeyError):
        index.area("nope")


lons = st.one_of(st.floats(9.9, 10.5), st.floats(179.0, 180.0), st.floats(-180.0, -179.0))
lats = st.one_of(st.floats(54.85, 55.15), st.floats(-0.1, 0.1))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(lons, lats), min_size=1, max_size=200))
def test_bulk_equals_single_equals_brute_force(
    index: AreaIndex, points: list[tuple[float, float]]
) -> None:
    x = np.array([p[0] for p in points])
    y = np.array([p[1] for p in points])
    bulk = index.containing_many(x, y)
    single = [index.containing(lon, lat) for lon, lat in points]
    assert bulk == single
    assert single == [brute_force(index, lon, lat) for lon, lat in points]


def test_bulk_handles_empty_and_far_points(index: AreaIndex) -> None:
    assert index.containing_many(np.array([]), np.array([])) == []
    assert index.containing_many([0.0, 10.2], [0.0, 55.0]) == [(), ("a-pipe", "b-cable", "zone")]


def test_bulk_rejects_mismatched_arrays(index: AreaIndex) -> None:
    with pytest.raises(ValueError, match="1-D of one length"):
        index.containing_many(np.zeros(3), np.zeros(2))


def test_empty_index_contains_nothing() -> None:
    empty = AreaIndex([])
    assert empty.containing(10.0, 55.0) == ()
    assert empty.containing_many([10.0], [55.0]) == [()]


def test_duplicate_ids_rejected() -> None:
    area = corridor("x", [(0.0, 0.0), (1.0, 0.0)], 100.0)
    with pytest.raises(ValueError, match="unique"):
        AreaIndex([area, area])
