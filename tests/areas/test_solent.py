"""Real traffic: ferries and ships crossing a test corridor drawn across the Solent.

The corridor is a line of latitude 50.758°N from 1.20°W to 1.05°W, mid-water between
Portsmouth/Gosport and Ryde, buffered 300 m: the Portsmouth–Ryde/Fishbourne ferries and
ships bound for Portsmouth cross it. Data: Stone Soup Solent AIS, 12 Jan 2016 (MIT).
"""

from __future__ import annotations

from collections import Counter, defaultdict

import pytest

from seawarden.areas import AreaIndex, AreaTracker, AreaTrackerConfig
from seawarden.model import Event, PositionReport

from .conftest import corridor

LAT, WEST, EAST = 50.758, -1.20, -1.05
BUFFER_M = 300.0
M_PER_DEG_LAT = 111_250.0  # at 50.8°N


@pytest.fixture(scope="module")
def index() -> AreaIndex:
    return AreaIndex([corridor("solent-test", [(WEST, LAT), (EAST, LAT)], BUFFER_M)])


def replay(index: AreaIndex, reports: list[PositionReport]) -> tuple[AreaTracker, list[Event]]:
    tracker = AreaTracker(index, AreaTrackerConfig())
    inside = index.containing_many([r.lon for r in reports], [r.lat for r in reports])
    return tracker, [e for r, i in zip(reports, inside, strict=True) for e in tracker.step(r, i)]


def crossings_oracle(reports: list[PositionReport], margin_m: float) -> Counter[int]:
    """Count side changes from plain latitudes: an independent check on the tracker.

    The line is a parallel, so "north" is left. A side is fixed by each fix farther than
    buffer+margin from it (or by a vessel's first fix); a side change counts as a
    crossing when the vessel was inside the corridor in between.
    """
    far, near = (BUFFER_M + margin_m) / M_PER_DEG_LAT, BUFFER_M / M_PER_DEG_LAT
    tracks: dict[int, list[PositionReport]] = defaultdict(list)
    for r in reports:
        tracks[r.mmsi].append(r)
    out: Counter[int] = Counter()
    for mmsi, track in tracks.items():
        side: int | None = None
        touched = False
        for r in track:
            d = r.lat - LAT
            if WEST <= r.lon <= EAST and abs(d) < near:
                touched = True
            if side is None or abs(d) > far:
                now = 1 if d > 0 else -1
                if side is not None and now != side and touched:
                    out[mmsi] += 1
                side, touched = now, False
    return out


def test_solent_ferries_cross_the_corridor(
    index: AreaIndex, solent_reports: list[PositionReport]
) -> None:
    tracker, events = replay(index, solent_reports)
    kinds = Counter(e.kind for e in events)
    crossings = [e for e in events if e.kind == "area.crossing"]

    # Several distinct vessels cross, in both directions.
    assert len({e.mmsi for e in crossings}) >= 8
    assert {(e.attrs["entry_side"], e.attrs["exit_side"]) for e in crossings} == {
        ("left", "right"),
        ("right", "left"),
    }
    # Same answer, vessel by vessel, as the latitude-only oracle.
    per_vessel = Counter(e.mmsi for e in crossings)
    assert per_vessel == crossings_oracle(solent_reports, AreaTrackerConfig().exit_margin_m)

    # Every enter is matched by an exit or the vessel is still inside at the end.
    still_inside = sum(len(tracker.inside(m)) for m in {r.mmsi for r in solent_reports})
    assert kinds["area.enter"] == kinds["area.exit"] + still_inside
    assert still_inside >= 1

    # Each crossing rides with the exit of the same visit, at the same time and place.
    exits = {e.attrs["visit_id"]: e for e in events if e.kind == "area.exit"}
    for c in crossings:
        leave = exits[c.attrs["visit_id"]]
        assert (leave.time, leave.lat, leave.lon) == (c.time, c.lat, c.lon)
        assert 0.0 < c.attrs["dwell_s"] < 1800.0


def test_solent_replay_is_deterministic(
    index: AreaIndex, solent_reports: list[PositionReport]
) -> None:
    _, first = replay(index, solent_reports)
    _, second = replay(index, solent_reports)
    assert first == second
    assert len({e.id for e in first}) == len(first)


def test_solent_index_paths_agree(index: AreaIndex, solent_reports: list[PositionReport]) -> None:
    bulk = index.containing_many([r.lon for r in solent_reports], [r.lat for r in solent_reports])
    assert bulk == [index.containing(r.lon, r.lat) for r in solent_reports]
    assert sum(1 for b in bulk if b) > 100


def test_vessels_in_no_area_share_one_empty_visit_table_that_stays_empty(
    index: AreaIndex, solent_reports: list[PositionReport]
) -> None:
    """Memory (issue 8): a vessel outside every area holds no visit table of its own; the
    shared empty one must never be written, or every vessel would seem inside."""
    from seawarden.areas import tracker as tracker_module

    tracker, events = replay(index, solent_reports)
    assert any(e.kind == "area.enter" for e in events)
    assert tracker_module._NO_VISITS == {}
    vessels = tracker._vessels.values()
    outside = [v for v in vessels if not v.visits]
    assert outside
    assert all(v.visits is tracker_module._NO_VISITS for v in outside)
    assert all(v.visits is not tracker_module._NO_VISITS for v in vessels if v.visits)
