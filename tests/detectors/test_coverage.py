"""CellCoverage counts the others heard near a point as a plain scan of what it observed.

The query caches each cell's H3 disk (issue 8); checked here on generated traffic: the
count equals the distinct vessels, other than the one asked about, last heard after
``since`` in the point's cell or one of its six neighbours.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import h3
from hypothesis import given, settings
from hypothesis import strategies as st

from seawarden.detectors.coverage import CellCoverage
from seawarden.model import PositionReport

T0 = datetime(2025, 1, 25, 12, 0, tzinfo=UTC)

traffic = st.lists(
    st.tuples(
        st.integers(1, 30),  # mmsi
        st.floats(54.0, 56.0),
        st.floats(10.0, 14.0),
        st.integers(0, 3600),  # seconds after T0
    ),
    min_size=1,
    max_size=120,
)


@settings(max_examples=200, deadline=None)
@given(
    traffic=traffic,
    queries=st.lists(
        st.tuples(st.floats(54.0, 56.0), st.floats(10.0, 14.0), st.integers(0, 3600)),
        min_size=1,
        max_size=8,
    ),
    exclude=st.integers(1, 30),
)
def test_others_heard_near_is_the_plain_scan(
    traffic: list[tuple[int, float, float, int]],
    queries: list[tuple[float, float, int]],
    exclude: int,
) -> None:
    coverage = CellCoverage()
    last_heard: dict[tuple[str, int], datetime] = {}
    for mmsi, lat, lon, s in traffic:
        rep = PositionReport(
            mmsi=mmsi, time=T0 + timedelta(seconds=s), lat=lat, lon=lon, source="test"
        )
        coverage.observe(rep)
        last_heard[(coverage.cell(lat, lon), mmsi)] = rep.time  # the latest observed wins
    for lat, lon, s in queries:
        since = T0 + timedelta(seconds=s)
        disk = set(h3.grid_disk(coverage.cell(lat, lon), 1))
        expected = {m for (c, m), t in last_heard.items() if c in disk and t > since} - {exclude}
        # asked twice: the second answer comes from the cached disk
        assert coverage.others_heard_near(lat, lon, since, exclude) == len(expected)
        assert coverage.others_heard_near(lat, lon, since, exclude) == len(expected)
