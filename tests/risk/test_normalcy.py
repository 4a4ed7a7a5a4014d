"""The learned normalcy model on real traffic (Solent, Baltic cargo) and its file format.

Solent places used below (12 Jan 2016 track): the Portsmouth–Ryde fast-cat route (MMSI
235007473, ~19 kn) crosses the cell around 50.749 N 1.124 W; ships lie at anchor in St Helens
Roads (50.709 N 1.046 W) and the Nab anchorage (50.58–50.60 N, 1.05 W), reporting every 3 min.
"""

from __future__ import annotations

import gzip
import math
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import orjson
import pytest
from h3.api import basic_int as h3i
from hypothesis import given
from hypothesis import strategies as st

from seawarden.detectors.base import Normalcy
from seawarden.errors import ConfigError
from seawarden.model import PositionReport, StaticReport
from seawarden.risk.normalcy import GROUPS, NormalcyModel, NormalcyParams, ship_group
from seawarden.risk.normalcy_fit import fit, learn
from seawarden.risk.normalcy_io import load_model, model_document, save_model
from seawarden.testing import read_track
from tests.conftest import SHARED_DATA

SOLENT = SHARED_DATA / "tracks" / "solent" / "SolentAIS_20160112_130211.csv"
BALTIC = SHARED_DATA / "tracks" / "baltic-cargo-2020" / "baltic_cargo_20201101.csv"
FAST_CAT = 235007473
FERRY_LANE = (50.749, -1.124)
ST_HELENS = (50.709, -1.046)
NAB = (50.590, -1.050)
MID_ATLANTIC = (45.0, -30.0)


@pytest.fixture(scope="module")
def solent_records() -> list[PositionReport | StaticReport]:
    return read_track(SOLENT)


@pytest.fixture(scope="module")
def solent(solent_records: list[PositionReport | StaticReport]) -> NormalcyModel:
    return fit(solent_records)


@pytest.fixture(scope="module")
def baltic_records() -> list[PositionReport | StaticReport]:
    return read_track(BALTIC)


def positions(records: list[PositionReport | StaticReport]) -> list[PositionReport]:
    return [r for r in records if isinstance(r, PositionReport)]


def scores(model: NormalcyModel, reports: list[PositionReport], ship_type: int | None = None):
    out = [model.surprise(r.lat, r.lon, r.speed_kn, r.course_deg, ship_type) for r in reports]
    return np.array([s for s in out if s is not None])


# -- real Solent traffic ------------------------------------------------------------------------
def test_model_satisfies_the_detector_protocol(solent: NormalcyModel) -> None:
    model: Normalcy = solent
    assert model.surprise(*FERRY_LANE, 19.0, 200.0, None) is not None


def test_typical_ferry_speed_and_course_on_the_ryde_route_is_unsurprising(
    solent: NormalcyModel, solent_records: list[PositionReport | StaticReport]
) -> None:
    cat = [r for r in positions(solent_records) if r.mmsi == FAST_CAT]
    s = scores(solent, cat)
    assert len(s) > 0.9 * len(cat)
    assert np.median(s) < 0.3
    # the route's own speed and heading (about 19 kn, 200° towards Ryde)
    on_route = solent.surprise(*FERRY_LANE, 19.0, 200.0, None)
    assert on_route is not None
    assert on_route < 0.35


def test_fast_westbound_run_through_an_anchorage_is_surprising(solent: NormalcyModel) -> None:
    lane = solent.surprise(*FERRY_LANE, 19.0, 200.0, None)
    for place in (ST_HELENS, NAB):
        odd = solent.surprise(*place, 25.0, 270.0, None)
        assert odd is not None, place
        assert odd > 0.55, place
        assert lane is not None
        assert odd > lane + 0.25
        at_anchor = solent.surprise(*place, 0.1, 123.0, None)
        assert at_anchor is not None
        assert at_anchor < 0.1


def test_training_reports_are_calibrated(
    solent: NormalcyModel, solent_records: list[PositionReport | StaticReport]
) -> None:
    s = scores(solent, positions(solent_records))
    assert 0.9 <= float(np.mean(s < 0.5)) <= 0.99


def test_stop_fraction_marks_anchorages_not_the_ferry_lane(solent: NormalcyModel) -> None:
    lane = solent.stop_fraction(*FERRY_LANE)
    assert lane is not None
    assert lane < 0.5
    for place in (ST_HELENS, NAB):
        sf = solent.stop_fraction(*place)
        assert sf is not None, place
        assert sf > 0.75, place


def test_interval_and_dwell(solent: NormalcyModel) -> None:
    nab = solent.expected_interval_s(*NAB)
    assert nab is not None
    assert 150 <= nab <= 200
    lane = solent.expected_interval_s(*FERRY_LANE)
    assert lane is not None
    assert lane < 30
    dwell = solent.typical_dwell_s(*FERRY_LANE)
    assert dwell is not None
    assert 0 < dwell < 3600


def test_unseen_waters_say_no_data(solent: NormalcyModel) -> None:
    assert solent.surprise(*MID_ATLANTIC, 25.0, 270.0, 70) is None
    assert solent.stop_fraction(*MID_ATLANTIC) is None
    assert solent.expected_interval_s(*MID_ATLANTIC) is None
    assert solent.typical_dwell_s(*MID_ATLANTIC) is None


def test_missing_speed_or_course(solent: NormalcyModel) -> None:
    assert solent.surprise(*FERRY_LANE, None, None, None) is None
    assert solent.surprise(*FERRY_LANE, 19.0, None, None) is not None
    assert solent.surprise(*FERRY_LANE, None, 200.0, None) is not None


def test_unknown_group_falls_back_to_all_types(solent: NormalcyModel) -> None:
    # the Solent file carries no static data: every ship type falls back to "all types"
    for ship_type in (None, 0, 70, 80, 36):
        assert solent.surprise(*ST_HELENS, 25.0, 270.0, ship_type) == solent.surprise(
            *ST_HELENS, 25.0, 270.0, None
        )


def test_fit_ignores_input_order(solent_records: list[PositionReport | StaticReport]) -> None:
    shuffled = list(solent_records)
    random.Random(7).shuffle(shuffled)
    a, b = fit(solent_records), fit(shuffled)
    assert model_document(a)["entries"] == model_document(b)["entries"]
    assert a.knee == b.knee


# -- Baltic cargo, and ship types that arrive late ---------------------------------------------
def test_baltic_cargo_with_types_heard_after_positions(
    baltic_records: list[PositionReport | StaticReport],
) -> None:
    pos = positions(baltic_records)
    mmsis = sorted({r.mmsi for r in pos})
    end = max(r.time for r in pos) + timedelta(minutes=1)
    statics = [StaticReport(mmsi=m, time=end, ship_type=70) for m in mmsis]
    model = fit([*baltic_records, *statics])
    assert any(g == GROUPS.index("cargo") for _, g in model.entries)
    s = scores(model, pos, 70)
    assert len(s) > 0.5 * len(pos)
    assert 0.85 <= float(np.mean(s < 0.5)) <= 0.99
    # a cargo ship doing 25 kn where cargo ships make 10-13 kn is unusual
    busy = max(model.entries.items(), key=lambda kv: kv[1].n_reports if kv[0][1] == 1 else 0)
    lat, lon = h3i.cell_to_latlng(busy[0][0])
    usual = model.surprise(lat, lon, 11.0, None, 70)
    fast = model.surprise(lat, lon, 25.0, None, 70)
    assert usual is not None
    assert fast is not None
    assert fast > usual


# -- file format --------------------------------------------------------------------------------
def test_save_load_round_trip(
    solent: NormalcyModel, solent_records: list[PositionReport | StaticReport], tmp_path: Path
) -> None:
    path = tmp_path / "solent.normalcy.json.gz"
    save_model(solent, path)
    loaded = load_model(path)
    sample = positions(solent_records)[::50]
    for r in sample:
        args = (r.lat, r.lon, r.speed_kn, r.course_deg, None)
        assert loaded.surprise(*args) == solent.surprise(*args)
        assert loaded.stop_fraction(r.lat, r.lon) == solent.stop_fraction(r.lat, r.lon)
        assert loaded.expected_interval_s(r.lat, r.lon) == solent.expected_interval_s(r.lat, r.lon)
        assert loaded.typical_dwell_s(r.lat, r.lon) == solent.typical_dwell_s(r.lat, r.lon)
    again = tmp_path / "again.json.gz"
    save_model(loaded, again)
    assert again.read_bytes() == path.read_bytes()
    doc = orjson.loads(gzip.decompress(path.read_bytes()))
    assert doc["format"] == "seawarden-normalcy"
    assert doc["h3_resolution"] == 6


def _write(tmp_path: Path, doc: object) -> Path:
    path = tmp_path / "m.json.gz"
    path.write_bytes(gzip.compress(orjson.dumps(doc)))
    return path


def _mutated(solent: NormalcyModel, **changes: object) -> dict[str, object]:
    doc = model_document(solent)
    doc.update(changes)
    return doc


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"format": "something-else"}, "not a seawarden normalcy model"),
        ({"version": 99}, "version 99"),
        ({"knee": -1.0}, "knee"),
        ({"bins": {"speed_edges_kn": [1, 2], "course_bins": 16, "groups": list(GROUPS)}}, "bins"),
        ({"entries": [["not-a-cell", "all", 1, 1, [], []]]}, "H3"),
        ({"entries": [["861959aafffffff", "all", -3, 1, [], []]]}, "non-negative"),
        ({"entries": [["861959aafffffff", "all", 3, 1, [[999, 1.0]], []]]}, "out of range"),
        ({"entries": [["861959aafffffff", "boats", 3, 1, [], []]]}, "group"),
        ({"cells": [["861959aafffffff", 1, 1, "x", 0.0, None, None, 0]]}, "number"),
        ({"params": {"h3_resolution": 6}}, "invalid normalcy model"),
    ],
)
def test_bad_files_raise_config_error(
    solent: NormalcyModel, tmp_path: Path, change: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        load_model(_write(tmp_path, _mutated(solent, **change)))


def test_corrupt_and_foreign_files_raise_config_error(
    solent: NormalcyModel, tmp_path: Path
) -> None:
    good = tmp_path / "good.json.gz"
    save_model(solent, good)
    truncated = tmp_path / "truncated.json.gz"
    truncated.write_bytes(good.read_bytes()[:200])
    junk = tmp_path / "junk.bin"
    junk.write_bytes(bytes(range(256)))
    pickle_like = tmp_path / "model.pkl"
    pickle_like.write_bytes(b"\x80\x04\x95\x00")
    for path in (truncated, junk, pickle_like, tmp_path / "missing.json.gz"):
        with pytest.raises(ConfigError):
            load_model(path)
    with pytest.raises(ConfigError, match="not a seawarden"):
        load_model(_write(tmp_path, [1, 2, 3]))


def test_learn_writes_a_model(tmp_path: Path) -> None:
    out = tmp_path / "solent.json.gz"
    model, stats = learn([SOLENT], out, sort=False)
    assert stats.positions > 18_000
    assert stats.vessels == 91
    assert stats.fit_s > 0
    assert load_model(out).surprise(*ST_HELENS, 25.0, 270.0, None) == model.surprise(
        *ST_HELENS, 25.0, 270.0, None
    )
    sorted_model, _ = learn([SOLENT], None, sort=True)
    assert model_document(sorted_model)["entries"] == model_document(model)["entries"]


def test_empty_model_knows_nothing() -> None:
    model = fit([])
    assert model.surprise(*ST_HELENS, 5.0, 90.0, None) is None
    assert model.stop_fraction(*ST_HELENS) is None


# -- parameters and groups ------------------------------------------------------------------------
@pytest.mark.parametrize(
    "bad",
    [
        {"h3_resolution": 16},
        {"parent_resolutions": (4, 5)},
        {"parent_resolutions": (7,)},
        {"min_reports": 0},
        {"alpha": 0.0},
        {"episode_s": math.nan},
        {"snap_deg": 1.0},
        {"calibration_quantile": 1.0},
    ],
)
def test_params_are_validated(bad: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        NormalcyParams(**bad)  # type: ignore[arg-type]


def test_ship_groups() -> None:
    names = {t: GROUPS[ship_group(t)] for t in (None, 0, 30, 36, 37, 52, 60, 70, 79, 84, 99)}
    assert names == {
        None: "all",
        0: "all",
        30: "fishing",
        36: "pleasure",
        37: "pleasure",
        52: "service",
        60: "passenger",
        70: "cargo",
        79: "cargo",
        84: "tanker",
        99: "other",
    }


# -- robustness ----------------------------------------------------------------------------------
_any_float = st.floats(allow_nan=True, allow_infinity=True, width=64)


@given(
    lat=st.one_of(st.floats(-90, 90), st.sampled_from([90.0, -90.0, 89.999, 50.709]), _any_float),
    lon=st.one_of(
        st.floats(-180, 180), st.sampled_from([180.0, -180.0, 179.999, -1.046]), _any_float
    ),
    speed=st.one_of(st.none(), _any_float, st.floats(0, 102.2)),
    course=st.one_of(st.none(), _any_float, st.floats(0, 360)),
    ship_type=st.one_of(st.none(), st.integers(-5, 300)),
)
def test_answers_are_in_range_or_none(
    solent: NormalcyModel,
    lat: float,
    lon: float,
    speed: float | None,
    course: float | None,
    ship_type: int | None,
) -> None:
    s = solent.surprise(lat, lon, speed, course, ship_type)
    assert s is None or 0.0 <= s <= 1.0
    sf = solent.stop_fraction(lat, lon)
    assert sf is None or 0.0 <= sf <= 1.0
    for value in (solent.expected_interval_s(lat, lon), solent.typical_dwell_s(lat, lon)):
        assert value is None or (math.isfinite(value) and value >= 0)


def test_fit_survives_odd_reports() -> None:
    t0 = datetime(2024, 1, 1, tzinfo=UTC)
    odd = [
        PositionReport(mmsi=1, time=t0 + timedelta(seconds=i), lat=lat, lon=lon, speed_kn=s)
        for i, (lat, lon, s) in enumerate(
            [(90.0, 0.0, 1.0), (-90.0, 179.9999, None), (0.0, 180.0, 400.0), (10.0, -180.0, -1.0)]
        )
    ]
    model = fit(odd, NormalcyParams(min_reports=1, min_vessels=1))
    for r in odd:
        s = model.surprise(r.lat, r.lon, r.speed_kn, 10.0, None)
        assert s is None or 0.0 <= s <= 1.0
