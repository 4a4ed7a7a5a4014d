"""``seawarden.sim.simulate``: scenario vessels over real background traffic.

The scenarios are constructed from public incident facts (no real incident track exists);
these tests check that what is written matches what the scenario parameters promise, by
decoding the output with seawarden's own NMEA decoder — the same path a replay takes.
"""

from __future__ import annotations

import csv
import itertools
import math
import re
import statistics
from collections import defaultdict
from datetime import timedelta
from pathlib import Path

import orjson
import pytest

from seawarden.errors import ConfigError
from seawarden.ingest.files import open_source
from seawarden.model import PositionReport, Rejection, StaticReport
from seawarden.sim import DEFAULT_START, SCENARIOS, Label, parse_scenario, simulate
from seawarden.sim.motion import distance_m
from seawarden.testing import read_track
from tests.conftest import REPO, SHARED_DATA

SOLENT = SHARED_DATA / "tracks" / "solent" / "SolentAIS_20160112_130211.csv"
BALTIC = SHARED_DATA / "tracks" / "baltic-cargo-2020" / "baltic_cargo_20201101.csv"
ALL = list(SCENARIOS)
_C = re.compile(rb"c:(\d+)")


class Run:
    def __init__(self, nmea: Path, labels_path: Path, labels: list[Label]) -> None:
        self.nmea, self.labels_path, self.labels = nmea, labels_path, labels
        self.records = read_track(nmea, sort=False)
        self.sim: dict[int, list[PositionReport]] = defaultdict(list)
        self.static: dict[int, list[StaticReport]] = defaultdict(list)
        for r in self.records:
            if r.source != "sim":
                continue
            if isinstance(r, PositionReport):
                self.sim[r.mmsi].append(r)
            else:
                self.static[r.mmsi].append(r)

    def label(self, scenario: str, index: int = 0) -> Label:
        return [lb for lb in self.labels if lb.scenario == scenario][index]

    def track(self, scenario: str, index: int = 0) -> list[PositionReport]:
        return self.sim[self.label(scenario, index).mmsi]


@pytest.fixture(scope="module")
def baltic(tmp_path_factory: pytest.TempPathFactory) -> Run:
    out = tmp_path_factory.mktemp("baltic")
    labels = simulate(
        out / "sim.nmea", out / "labels.jsonl", scenarios=ALL, background=BALTIC, seed=7
    )
    return Run(out / "sim.nmea", out / "labels.jsonl", labels)


def _between(track: list[PositionReport], lo: timedelta, hi: timedelta, t0: object) -> list:
    return [r for r in track if t0 + lo <= r.time <= t0 + hi]  # type: ignore[operator]


def _path_m(track: list[PositionReport]) -> float:
    return sum(distance_m(a.lat, a.lon, b.lat, b.lon) for a, b in itertools.pairwise(track))


def _angle(a: float, b: float) -> float:
    return abs((a - b + 180.0) % 360.0 - 180.0)


# -- determinism and wire format ----------------------------------------------------------------
def test_same_seed_same_bytes_other_seed_differs(tmp_path: Path) -> None:
    few = ["dark_spell", "pilot_pickup", "sts_meeting"]
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        simulate(tmp_path / f"{name}.nmea", tmp_path / f"{name}.jsonl", scenarios=few,
                 background=SOLENT, seed=seed)  # fmt: skip
    assert (tmp_path / "a.nmea").read_bytes() == (tmp_path / "b.nmea").read_bytes()
    assert (tmp_path / "a.jsonl").read_bytes() == (tmp_path / "b.jsonl").read_bytes()
    assert (tmp_path / "a.nmea").read_bytes() != (tmp_path / "c.nmea").read_bytes()
    assert (tmp_path / "a.jsonl").read_bytes() != (tmp_path / "c.jsonl").read_bytes()


def test_output_decodes_with_zero_rejections_in_time_order(baltic: Run) -> None:
    source = open_source(baltic.nmea)
    items = [item for _, item in source]
    assert not [i for i in items if isinstance(i, Rejection)]
    assert source.stats.rejected_lines == 0
    assert source.stats.assumed_time == 0
    times = [int(m.group(1)) for m in map(_C.search, baltic.nmea.read_bytes().splitlines()) if m]
    assert len(times) == source.stats.lines
    newest = 0
    for t in times:
        assert t >= newest - 60  # within the pipeline's lateness bound…
        newest = max(newest, t)
    assert times == sorted(times)  # …and in fact written in order


def test_background_is_shifted_in_time_not_space(baltic: Run) -> None:
    original = read_track(BALTIC)
    bg = [r for r in baltic.records if r.source == "bg" and isinstance(r, PositionReport)]
    assert len(bg) == sum(isinstance(r, PositionReport) for r in original)
    shift = DEFAULT_START - original[0].time.replace(microsecond=0)
    want = {(r.mmsi, int((r.time + shift).timestamp()), round(r.lat, 4), round(r.lon, 4))
            for r in original if isinstance(r, PositionReport)}  # fmt: skip
    got = {(r.mmsi, int(r.time.timestamp()), round(r.lat, 4), round(r.lon, 4)) for r in bg}
    assert got == want


def test_scenario_mmsis_do_not_collide_with_background(baltic: Run) -> None:
    bg = {r.mmsi for r in baltic.records if r.source == "bg"}
    assert not bg & {lb.mmsi for lb in baltic.labels}


# -- labels -------------------------------------------------------------------------------------
def test_labels_file_matches_returned_labels(baltic: Run) -> None:
    lines = baltic.labels_path.read_bytes().splitlines()
    docs = [orjson.loads(line) for line in lines]
    assert [d["mmsi"] for d in docs] == [lb.mmsi for lb in baltic.labels]
    keys = {"scenario", "mmsi", "imo", "name", "expected", "min_severity", "onset", "end",
            "corridor_ids", "last_corridor_crossing", "incident", "seed"}  # fmt: skip
    for d in docs:
        assert keys <= d.keys()
        assert d["seed"] == 7
        assert d["expected"] in ("alert", "no_alert")
        assert d["onset"] <= d["end"]
    assert len({d["mmsi"] for d in docs}) == len(docs)  # one label per MMSI (clone: one)
    scenarios = {d["scenario"] for d in docs}
    assert scenarios == set(SCENARIOS)
    incidents = {d["scenario"]: d["incident"] for d in docs}
    assert incidents["anchor_drag_slowdown"] == "Eagle S"
    assert incidents["anchor_drag_no_slowdown"] == "Yi Peng 3"


def test_labels_consistent_with_tracks(baltic: Run) -> None:
    for lb in baltic.labels:
        track = baltic.sim[lb.mmsi]
        assert track, lb.scenario
        assert track[0].time <= lb.onset + timedelta(seconds=1)
        if lb.last_corridor_crossing is not None:
            assert lb.onset <= lb.last_corridor_crossing <= lb.end + timedelta(seconds=1)
            assert lb.crossings[-1][1] == lb.last_corridor_crossing
            assert {a for a, _ in lb.crossings} <= set(lb.corridor_ids)
        if lb.expected == "alert" and lb.incident:
            assert lb.min_severity == "high"
        statics = baltic.static[lb.mmsi]
        assert statics
        assert statics[0].name == lb.name
        assert statics[0].imo == lb.imo


def test_no_background_nearby_is_said_in_labels(baltic: Run) -> None:
    eagle = baltic.label("anchor_drag_slowdown")
    assert eagle.region == "baltic"
    if eagle.background_nearby == 0:
        assert "NO real background traffic" in eagle.notes
    dark = baltic.label("dark_spell")
    assert dark.background_nearby >= 1  # timed so a real ship crosses the same corridor


# -- kinematics ---------------------------------------------------------------------------------
def test_eagle_s_slows_yaws_and_drags_across_estlink2(baltic: Run) -> None:
    lb, track = baltic.label("anchor_drag_slowdown"), baltic.track("anchor_drag_slowdown")
    before = [r for r in track if r.time < lb.onset]
    during = [r for r in track if lb.onset + timedelta(minutes=15) <= r.time <= lb.end]
    assert 9.5 <= statistics.median(r.speed_kn or 0 for r in before) <= 10.5
    assert 2.2 <= statistics.median(r.speed_kn or 0 for r in during) <= 2.8
    yaw = statistics.median(_angle(r.heading_deg or 0, r.course_deg or 0) for r in during)
    assert yaw >= 20.0
    drag = [r for r in track if lb.onset <= r.time <= lb.end]
    assert 28_000 <= _path_m(drag) <= 33_000  # drag_km = 30 (plus GNSS noise)
    assert "estlink-2" in lb.corridor_ids
    assert ("estlink-2", lb.crossings[0][1]) in lb.crossings
    # ITU Class A: 10 s between reports under way below 14 kn
    gaps = [(b.time - a.time).total_seconds() for a, b in itertools.pairwise(drag)]
    assert statistics.median(gaps) == pytest.approx(10, abs=1)


def test_yi_peng_3_keeps_speed_goes_dark_and_drags_over_100_km(baltic: Run) -> None:
    lb = baltic.label("anchor_drag_no_slowdown")
    track = baltic.track("anchor_drag_no_slowdown")
    drag = [r for r in track if lb.onset + timedelta(minutes=10) <= r.time <= lb.end]
    assert 6.0 <= statistics.median(r.speed_kn or 0 for r in drag) <= 7.0
    gaps = [(b.time - a.time).total_seconds() for a, b in itertools.pairwise(drag)]
    dark_s = max(gaps)
    assert dark_s == pytest.approx(30_000 / (6.5 * 1852 / 3600), rel=0.1)  # 30 km dark
    assert _path_m(drag) >= 100_000
    courses = [r.course_deg or 0 for r in drag]
    swing = max(_angle(a, b) for a, b in zip(courses, courses[60:], strict=False))
    assert swing >= 25.0  # zig-zag ±20°
    order = [a for a, _ in lb.crossings]
    assert "bcs-east-west-interlink" in order
    assert order[-1] == "c-lion1"
    assert order.index("bcs-east-west-interlink") < order.index("c-lion1")


def test_dark_spell_is_silent_for_its_duration_near_the_corridor(baltic: Run) -> None:
    lb, track = baltic.label("dark_spell"), baltic.track("dark_spell")
    gaps = [(b.time - a.time).total_seconds() for a, b in itertools.pairwise(track)]
    assert max(gaps) == pytest.approx(45 * 60, abs=20)
    assert lb.corridor_ids == ("c-lion1",)
    assert lb.last_corridor_crossing is not None
    # the real background keeps reporting meanwhile
    others = [r for r in baltic.records if r.source == "bg" and lb.onset <= r.time <= lb.end]
    assert others


def test_legit_anchoring_stops_with_status_at_anchor_away_from_corridors(baltic: Run) -> None:
    lb, track = baltic.label("legit_anchoring"), baltic.track("legit_anchoring")
    assert lb.expected == "no_alert"
    assert lb.corridor_ids == ()
    last = [r for r in track if r.time >= lb.end - timedelta(hours=1)]
    assert all(r.nav_status == 1 and (r.speed_kn or 0) < 0.5 for r in last)
    spread = max(distance_m(last[0].lat, last[0].lon, r.lat, r.lon) for r in last)
    assert spread < 400.0
    gaps = [(b.time - a.time).total_seconds() for a, b in itertools.pairwise(last)]
    assert statistics.median(gaps) == pytest.approx(180, abs=1)  # ITU: 3 min at anchor


def test_ferry_crosses_a_corridor_on_schedule(baltic: Run) -> None:
    lb, track = baltic.label("ferry"), baltic.track("ferry")
    berths, moored = 0, False
    for r in track:
        if r.nav_status == 5 and not moored:
            berths += 1
        moored = r.nav_status == 5
    assert berths == 4
    assert max(r.speed_kn or 0 for r in track) >= 24.0
    assert "fi-ee-telecom" in lb.corridor_ids
    assert lb.expected == "no_alert"


def test_trawler_tows_slowly_with_fishing_status(baltic: Run) -> None:
    lb, track = baltic.label("trawler"), baltic.track("trawler")
    assert baltic.static[lb.mmsi][0].ship_type == 30
    fishing = [r for r in track if r.nav_status == 7]
    assert len(fishing) > 100
    assert 3.0 <= statistics.median(r.speed_kn or 0 for r in fishing) <= 4.0
    assert lb.corridor_ids == ()


def test_pilot_pickup_slows_to_4_kn_for_8_min_with_boat_alongside(baltic: Run) -> None:
    ship, boat = baltic.track("pilot_pickup", 0), baltic.track("pilot_pickup", 1)
    assert baltic.static[baltic.label("pilot_pickup", 1).mmsi][0].ship_type == 50
    slow = [r for r in ship if (r.speed_kn or 0) <= 4.3]
    assert (slow[-1].time - slow[0].time).total_seconds() == pytest.approx(8 * 60, abs=60)
    close = []
    for b in boat:
        if slow[0].time + timedelta(minutes=1) <= b.time <= slow[-1].time:
            r = min(slow, key=lambda x: abs((x.time - b.time).total_seconds()))
            close.append(distance_m(r.lat, r.lon, b.lat, b.lon))
    assert len(close) > 10
    assert statistics.median(close) < 80.0
    assert max(close) < 150.0
    assert min(r.speed_kn or 0 for r in ship if r.time > slow[-1].time) >= 4.0


def test_sts_tankers_stay_within_300_m_for_the_meeting(baltic: Run) -> None:
    a_lb, b_lb = baltic.label("sts_meeting", 0), baltic.label("sts_meeting", 1)
    assert 3600 <= (a_lb.end - a_lb.onset).total_seconds() <= 7200
    a = [r for r in baltic.sim[a_lb.mmsi] if a_lb.onset <= r.time <= a_lb.end]
    b = [r for r in baltic.sim[b_lb.mmsi] if a_lb.onset <= r.time <= a_lb.end]
    assert len(a) > 10
    assert len(b) > 10
    for rb in b:
        ra = min(a, key=lambda r: abs((r.time - rb.time).total_seconds()))
        assert distance_m(ra.lat, ra.lon, rb.lat, rb.lon) <= 300.0
    # the watchlisted identity comes from config/watchlist.csv
    rows = list(csv.reader(line for line in (REPO / "config" / "watchlist.csv")
            .read_text().splitlines() if not line.startswith("#")))[1:]  # fmt: skip
    listed = {(int(r[0]), m) for r in rows if r[0] for m in r[1].split(";") if m}
    assert (a_lb.imo, str(a_lb.mmsi)) in listed


def test_spoofed_positions_jump_50_km_and_back(baltic: Run) -> None:
    lb, track = baltic.label("spoofed_jump"), baltic.track("spoofed_jump")
    jumps = [distance_m(a.lat, a.lon, b.lat, b.lon) for a, b in itertools.pairwise(track)]
    big = [j for j in jumps if j > 10_000]
    assert len(big) == 2
    assert all(j == pytest.approx(50_000, rel=0.05) for j in big)
    assert (lb.end - lb.onset).total_seconds() == pytest.approx(15 * 60, abs=30)


def test_cloned_mmsi_two_hulls_at_once(baltic: Run) -> None:
    lb, track = baltic.label("cloned_mmsi"), baltic.track("cloned_mmsi")
    west = [r for r in track if r.lon < 19.0]
    east = [r for r in track if r.lon >= 19.0]
    assert west
    assert east
    overlap = min(west[-1].time, east[-1].time) - max(west[0].time, east[0].time)
    assert overlap >= timedelta(hours=1.5)
    assert distance_m(west[0].lat, west[0].lon, east[0].lat, east[0].lon) > 100_000
    assert sum(1 for x in baltic.labels if x.mmsi == lb.mmsi) == 1


# -- parameters and errors ------------------------------------------------------------------------
def test_parameters_change_the_scenario(tmp_path: Path) -> None:
    spec = "anchor_drag_slowdown:drag_km=12,drag_speed_kn=3,start_h=0"
    labels = simulate(
        tmp_path / "x.nmea", tmp_path / "x.jsonl", background=None, seed=1, scenarios=[spec]
    )
    lb = labels[0]
    track = [r for r in read_track(tmp_path / "x.nmea") if isinstance(r, PositionReport)]
    drag = [r for r in track if lb.onset <= r.time <= lb.end]
    assert 11_000 <= _path_m(drag) <= 13_500
    assert lb.params["drag_km"] == 12.0
    assert lb.onset.hour == 1
    assert "no background traffic given" in lb.notes
    assert math.isclose(
        statistics.median(r.speed_kn or 0 for r in drag[len(drag) // 4 :]), 3.0, abs_tol=0.3
    )


def test_solent_background_places_generic_scenarios_in_the_solent(tmp_path: Path) -> None:
    labels = simulate(tmp_path / "s.nmea", tmp_path / "s.jsonl", background=SOLENT, seed=1,
                      scenarios=["ferry", "anchor_drag_slowdown"])  # fmt: skip
    ferry, eagle = labels
    assert ferry.region == "solent"
    assert "ifa2" in ferry.corridor_ids
    assert ferry.background_nearby > 10
    assert eagle.region == "baltic"
    assert eagle.background_nearby == 0
    assert "NO real background traffic" in eagle.notes


@pytest.mark.parametrize(
    "spec",
    ["no_such_scenario", "ferry:speed=3", "ferry:crossings=many", "sts_meeting:watchlisted=maybe"],
)
def test_bad_scenario_specs_are_config_errors(spec: str) -> None:
    with pytest.raises(ConfigError):
        parse_scenario(spec)


def test_no_scenarios_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        simulate(tmp_path / "x", tmp_path / "y", scenarios=[], background=None, seed=1)


# -- going dark vs receiver outage on the real Solent lane ---------------------------------------
@pytest.fixture(scope="module")
def solent_dark(tmp_path_factory: pytest.TempPathFactory) -> Run:
    out = tmp_path_factory.mktemp("solent_dark")
    labels = simulate(out / "sim.nmea", out / "labels.jsonl", scenarios=["dark_spell"],
                      background=SOLENT, seed=5)  # fmt: skip
    return Run(out / "sim.nmea", out / "labels.jsonl", labels)


@pytest.fixture(scope="module")
def solent_outage(tmp_path_factory: pytest.TempPathFactory) -> Run:
    out = tmp_path_factory.mktemp("solent_outage")
    labels = simulate(out / "sim.nmea", out / "labels.jsonl", scenarios=["receiver_outage"],
                      background=SOLENT, seed=5)  # fmt: skip
    return Run(out / "sim.nmea", out / "labels.jsonl", labels)


def test_solent_lane_waypoints_are_real_reports_of_the_named_ships() -> None:
    from seawarden.sim.dark import SOLENT_LANE

    source = (REPO / "src/seawarden/sim/dark.py").read_text()
    real = [r for r in read_track(SOLENT) if isinstance(r, PositionReport)]
    for lat, lon in SOLENT_LANE:
        line = next(x for x in source.splitlines() if f"({lat:.4f}, {lon:.4f})" in x)
        mmsi = int(re.findall(r"# (\d{9})", line)[0])
        nearest = min(distance_m(lat, lon, r.lat, r.lon) for r in real if r.mmsi == mmsi)
        assert nearest < 100.0, (mmsi, lat, lon)


def test_solent_dark_spell_goes_dark_inside_ifa2_among_dense_real_traffic(
    solent_dark: Run,
) -> None:
    lb, track = solent_dark.label("dark_spell"), solent_dark.track("dark_spell")
    gaps = [(b.time - a.time).total_seconds() for a, b in itertools.pairwise(track)]
    assert max(gaps) == pytest.approx(45 * 60, abs=20)
    assert lb.region == "solent"
    assert "ifa2" in lb.corridor_ids
    # the whole spell lies inside the 84-min real background, with many ships heard near
    bg = [r for r in solent_dark.records if r.source == "bg" and isinstance(r, PositionReport)]
    assert bg[-1].time >= lb.end
    last = max((r for r in track if r.time < lb.onset), key=lambda r: r.time)
    heard = {r.mmsi for r in bg if lb.onset <= r.time <= lb.end
             and distance_m(last.lat, last.lon, r.lat, r.lon) <= 25_000}  # fmt: skip
    assert len(heard) >= 20
    assert lb.background_nearby >= 20


def test_receiver_outage_silences_every_ship_in_the_circle_only(solent_outage: Run) -> None:
    lb = solent_outage.label("receiver_outage")
    assert lb.expected == "no_alert"
    m = re.search(r"within (\d+) km of ([\d.]+),(-?[\d.]+) heard for (\d+) min", lb.notes)
    assert m
    radius_m, lat, lon = float(m[1]) * 1000, float(m[2]), float(m[3])
    track = solent_outage.track("receiver_outage")
    gaps = [(b.time - a.time).total_seconds() for a, b in itertools.pairwise(track)]
    i = max(range(len(gaps)), key=gaps.__getitem__)
    start, end = track[i].time, track[i + 1].time
    assert (end - start).total_seconds() == pytest.approx(float(m[4]) * 60, abs=20)
    inside = [r for r in solent_outage.records if isinstance(r, PositionReport)
              and distance_m(lat, lon, r.lat, r.lon) <= radius_m]  # fmt: skip
    margin = timedelta(seconds=20)  # its own report interval around the outage edges
    during = [r for r in inside if start + margin < r.time < end - margin]
    assert during == []
    assert [r for r in inside if r.time <= start and r.source == "bg"]
    assert [r for r in inside if r.time >= end and r.source == "bg"]
    outside = [r for r in solent_outage.records if isinstance(r, PositionReport)
               and start < r.time < end and r.source == "bg"]  # fmt: skip
    assert outside  # the rest of the real traffic is still heard
    # the original file had traffic in the circle meanwhile: the outage removed it
    original = [r for r in read_track(SOLENT) if isinstance(r, PositionReport)]
    assert sum(distance_m(lat, lon, r.lat, r.lon) <= radius_m for r in original) > len(
        [r for r in inside if r.source == "bg"]
    )


def test_baltic_dark_spell_label_says_the_background_is_sparse(baltic: Run) -> None:
    dark = baltic.label("dark_spell")
    assert dark.region == "baltic"
    assert dark.background_nearby < 3
