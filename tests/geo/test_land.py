"""LandMask: known sea and inland points, the harbour buffer, real Solent traffic, speed."""

from __future__ import annotations

import math
import time

import pytest
import shapely
from hypothesis import given
from hypothesis import strategies as st

from seawarden.errors import ConfigError
from seawarden.geo import LandMask, land_mask
from seawarden.model import PositionReport
from seawarden.testing import read_track
from tests.conftest import SHARED_DATA

SOLENT = SHARED_DATA / "tracks" / "solent" / "SolentAIS_20160112_130211.csv"


@pytest.mark.parametrize(
    ("lat", "lon", "where"),
    [
        (59.8, 24.5, "Gulf of Finland"),
        (50.2, -1.0, "English Channel"),
        (50.77, -1.10, "Solent water"),
        (55.5, 15.0, "Baltic Proper off Bornholm"),
        (57.0, 3.0, "North Sea"),
        (40.0, -40.0, "mid-Atlantic (1:50m world data)"),
        (59.44, 24.75, "Tallinn harbour front (within the buffer)"),
        (50.90, -1.42, "Southampton docks (quay within the buffer)"),
    ],
)
def test_sea_and_quays_are_not_land(lat: float, lon: float, where: str) -> None:
    assert not land_mask().on_land(lat, lon), where


@pytest.mark.parametrize(
    ("lat", "lon", "where"),
    [
        (60.45, 25.0, "30 km inland of Helsinki"),
        (52.52, 13.40, "Berlin"),
        (59.6, 17.9, "inland of Stockholm (Arlanda)"),
        (48.85, 2.35, "Paris"),
        (55.75, 37.6, "Moscow (1:50m world data)"),
        (40.4, -3.7, "Madrid (1:50m world data)"),
    ],
)
def test_inland_points_are_land(lat: float, lon: float, where: str) -> None:
    assert land_mask().on_land(lat, lon), where


def test_buffer_shrinks_land() -> None:
    # Helsinki centre is on land but within ~2 km of water: land without a buffer only.
    assert LandMask(0.0).on_land(60.19, 24.94)
    assert not LandMask(5000.0).on_land(60.19, 24.94)


def test_out_of_range_and_bad_buffer() -> None:
    mask = land_mask()
    assert not mask.on_land(91.0, 0.0)
    assert not mask.on_land(0.0, 181.0)
    with pytest.raises(ConfigError):
        LandMask(-1.0)


def test_real_solent_positions_are_at_sea() -> None:
    """All 18,623 real positions: only the one corrupted fix (lon 54.8°E, Kazakhstan) is
    on land. At a 1,000 m buffer the Wightlink terminal in Wootton Creek and Cowes (Medina)
    would be "inland" in Natural Earth 1:10m — why the default buffer is 2,000 m."""
    reports = [r for r in read_track(SOLENT) if isinstance(r, PositionReport)]
    assert len(reports) == 18_623
    mask = land_mask()
    on = [r for r in reports if mask.on_land(r.lat, r.lon)]
    assert [(r.mmsi, round(r.lon)) for r in on] == [(245188000, 55)]


def test_sea_queries_are_fast() -> None:
    mask = land_mask()
    points = [(54.0 + i * 1e-4, 18.0 + i * 1e-4) for i in range(20_000)]  # Baltic Proper
    for lat, lon in points[:100]:
        mask.on_land(lat, lon)  # fill the tiles
    t0 = time.perf_counter()
    for lat, lon in points:
        mask.on_land(lat, lon)
    per_query_us = (time.perf_counter() - t0) / len(points) * 1e6
    assert per_query_us < 20.0


@given(st.floats(-90, 90), st.floats(-180, 180))
def test_never_crashes_and_buffer_is_monotonic(lat: float, lon: float) -> None:
    # eroded land is a subset of land
    if land_mask(2000.0).on_land(lat, lon):
        assert land_mask(0.0).on_land(lat, lon)


@given(
    lat=st.floats(53.5, 60.5) | st.integers(1070, 1210).map(lambda k: k / 20),
    lon=st.floats(8.0, 30.0) | st.integers(160, 600).map(lambda k: k / 20),
)
def test_the_cell_classes_answer_as_the_tiles_point_test(lat: float, lon: float) -> None:
    """Danish straits to the Gulf of Finland, on and off the 0.05° cell edges: the answer
    from a cell classed wholly sea or land is the coastal tile's own point-in-polygon test."""
    mask = land_mask()
    answer = mask.on_land(lat, lon)
    tile = mask._tiles.get((math.floor(lon), math.floor(lat)))
    if tile is None or isinstance(tile, str):
        assert answer == (tile is not None)
    else:
        assert answer == bool(shapely.intersects_xy(tile, lon, lat))
