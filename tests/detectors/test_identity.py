"""Identity detector: constructed identities, the real watchlists, and real traffic.

Watchlists: ``config/watchlist.csv`` (the project's example list of the Baltic incident ships)
and the public GUR shadow-fleet list in ``../shared/data/watchlists`` (tests only). Real
traffic: the Solent and Baltic tracks (positions only, so only MMSIs are judged) and gpsd's
``ais-nmea-type6-fid55.log`` / AISdb's Canadian NMEA, which carry type 5 statics and a few
genuinely broken MMSIs.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from seawarden.detectors.identity import IdentityConfig, IdentityDetector
from seawarden.errors import ConfigError
from seawarden.fleet.watchlist import Watchlist
from seawarden.model import Event, Record
from seawarden.testing import read_track, run_detectors
from tests.conftest import REPO, SHARED_DATA
from tests.factories import make_report, make_static

SOLENT = SHARED_DATA / "tracks/solent/SolentAIS_20160112_130211.csv"
BALTIC = SHARED_DATA / "tracks/baltic-cargo-2020/baltic_cargo_20201101.csv"
GUR = SHARED_DATA / "watchlists/gur_vessels_master.csv"
EXAMPLE_WATCHLIST = REPO / "config/watchlist.csv"


def run(records: Sequence[Record], watchlist: Watchlist | None = None) -> list[Event]:
    return run_detectors([IdentityDetector()], records, watchlist=watchlist)


def positions(mmsi: int, n: int = 20, **kw: object) -> list[Record]:
    return [make_report(60.0 * i, mmsi=mmsi, **kw) for i in range(n)]


def by_type(events: Sequence[Event]) -> dict[str, list[Event]]:
    out: dict[str, list[Event]] = {}
    for e in events:
        out.setdefault(e.attrs["type"], []).append(e)
    return out


@pytest.fixture(scope="module")
def gur() -> Watchlist:
    return Watchlist.load(GUR)


@pytest.fixture(scope="module")
def example() -> Watchlist:
    return Watchlist.load(EXAMPLE_WATCHLIST)


# -- MMSI ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("mmsi", "finding"),
    [
        (123456789, "placeholder_mmsi"),
        (111111111, "placeholder_mmsi"),
        (412000000, "placeholder_mmsi"),  # MID followed by 000000
        (123456, "invalid_mmsi"),  # MID 000: 000123456 fits no format
        (800046688, "invalid_mmsi"),  # handheld with MID 000 (seen in gpsd's real log)
        (200123456, "unallocated_mid"),
    ],
)
def test_bad_mmsi_is_one_confident_open_event(mmsi: int, finding: str) -> None:
    events = run(positions(mmsi, 40))
    assert [(e.phase, e.attrs["type"]) for e in events] == [("open", finding)]
    assert events[0].attrs["confidence"] >= 0.6
    assert events[0].attrs["reasons"]


@pytest.mark.parametrize(
    "mmsi",
    [
        992351234,  # AtoN
        111232123,  # SAR aircraft
        2320001,  # coast station 00MIDxxxx (002320001)
        970123456,  # AIS-SART
        982351234,  # craft associated with a parent ship
        230123456,  # an ordinary Finnish ship
    ],
)
def test_other_station_kinds_are_not_judged_as_ships(mmsi: int) -> None:
    assert run(positions(mmsi)) == []


# -- IMO -----------------------------------------------------------------------------------
@pytest.mark.parametrize("imo", [9329761, 1234567, 123])
def test_bad_imo(imo: int) -> None:
    records: list[Record] = [*positions(230123456, 3), make_static(200, imo=imo)]
    records += [make_report(300 + 60 * i) for i in range(5)]
    found = by_type(run(records))
    assert list(found) == ["bad_imo"]
    (event,) = found["bad_imo"]
    assert event.phase == "open"
    assert event.attrs["imo_stated"] == imo
    assert event.attrs["confidence"] >= 0.6


def test_static_before_first_position_is_judged_at_the_first_position() -> None:
    records: list[Record] = [make_static(0, imo=9329761), *positions(230123456, 3)]
    events = run(records)
    assert [e.attrs["type"] for e in events] == ["bad_imo"]
    assert events[0].time == make_report(0).time
    assert events[0].lat == pytest.approx(59.9)


# -- churn ---------------------------------------------------------------------------------
def test_single_benign_rename_is_low_confidence() -> None:
    records: list[Record] = [
        make_static(0, imo=9329760, name="NORSTAR INTREPID"),
        *positions(230123456, 5),
        make_static(400, imo=9329760, name="LR MIMOSA"),
        *[make_report(500 + 60 * i) for i in range(5)],
        make_static(900, imo=9329760, name="LR MIMOSA"),  # repeated: no new finding
    ]
    (event,) = run(records)
    assert event.attrs["type"] == "identity_churn"
    assert event.attrs["confidence"] < 0.3
    assert "single rename" in event.attrs["reasons"][0]


def test_repeated_renames_within_a_window_are_churn() -> None:
    names = ["NORSTAR INTREPID", "LR MIMOSA", "FR8 PRIDE", "EAGLE S"]
    records: list[Record] = [*positions(230123456, 2)]
    for i, name in enumerate(names):
        records.append(make_static(200 + 3600 * i, name=name, callsign=f"CALL{i}"))
        records.append(make_report(300 + 3600 * i))
    events = [e for e in run(records) if e.attrs["type"] == "identity_churn"]
    assert events[0].phase == "open"
    assert events[0].attrs["confidence"] < 0.3
    assert events[-1].attrs["confidence"] >= 0.6
    assert events[-1].attrs["episodes"] == 3
    assert {e.id for e in events} == {events[0].id}  # one finding, updated


def test_mmsi_and_name_swap_on_the_same_imo(example: Watchlist) -> None:
    old, new = 230123456, 636099999
    records: list[Record] = [
        make_static(0, mmsi=old, imo=9224984, name="OCEAN DAWN"),
        *positions(old, 3),
        make_static(3600, mmsi=new, imo=9224984, name="SEA SPIRIT"),
        *[make_report(3700 + 60 * i, mmsi=new) for i in range(3)],
    ]
    found = by_type([e for e in run(records) if e.mmsi == new])
    (churn,) = found["identity_churn"]
    assert churn.attrs["confidence"] >= 0.6
    assert "mmsi" in churn.attrs["fields_changed"]
    assert "identity swap" in churn.attrs["reasons"][0]


# -- watchlist and flag --------------------------------------------------------------------
def test_example_watchlist_hit_by_imo_and_flag_mismatch(example: Watchlist) -> None:
    mmsi = 636099999  # EAGLE S's IMO under a Liberian MID (the entry says Cook Islands)
    records: list[Record] = [make_static(0, mmsi=mmsi, imo=9329760, name="EAGLE S")]
    records += positions(mmsi, 10)
    found = by_type(run(records, example))
    (hit,) = found["watchlist"]
    assert hit.attrs["confidence"] == 1.0
    assert hit.attrs["watch_key"] == "imo"
    assert hit.attrs["watch_entry_imo"] == 9329760
    assert hit.attrs["watch_lists"] == ["example"]
    assert "Estlink 2" in hit.attrs["watch_reason"]
    (flag,) = found["flag_mismatch"]
    assert (flag.attrs["flag_mid"], flag.attrs["flag_declared"]) == ("LR", "CK")
    assert 0.3 <= flag.attrs["confidence"] < 0.6
    assert hit.id != flag.id


def test_example_watchlist_hit_by_mmsi_without_statics(example: Watchlist) -> None:
    (hit,) = run(positions(375068000), example)  # FITBURG, positions only
    assert hit.attrs["type"] == "watchlist"
    assert hit.attrs["watch_entry_name"] == "FITBURG"
    assert hit.attrs["confidence"] == 1.0


def test_gur_hit_by_legacy_mmsi_with_flag_mismatch(gur: Watchlist) -> None:
    # BARQ (IMO 9321691) is listed under Oman; its legacy MMSI 626244000 has Gabon's MID.
    found = by_type(run(positions(626244000), gur))
    (hit,) = found["watchlist"]
    assert hit.attrs["watch_key"] == "mmsi"
    assert hit.attrs["confidence"] == pytest.approx(0.9)
    assert "legacy MMSI" in hit.attrs["watch_detail"]
    assert found["flag_mismatch"][0].attrs["flag_declared"] == "OM"


def test_mmsi_only_match_with_an_unrelated_name_is_weakened(gur: Watchlist) -> None:
    records: list[Record] = [make_static(0, mmsi=626244000, imo=None, name="BALTIC PRINCESS")]
    records += positions(626244000)
    hit = by_type(run(records, gur))["watchlist"][-1]
    assert hit.attrs["confidence"] < 0.6
    assert any("reissued" in r for r in hit.attrs["reasons"])


def test_watchlist_name_upgrade_to_imo_updates_the_same_finding(example: Watchlist) -> None:
    mmsi = 518998865
    records: list[Record] = [*positions(mmsi, 3)]
    records.append(make_static(200, mmsi=mmsi, imo=9329760, name="EAGLE S"))
    records += [make_report(300 + 60 * i, mmsi=mmsi) for i in range(3)]
    hits = [e for e in run(records, example) if e.attrs["type"] == "watchlist"]
    assert [h.phase for h in hits] == ["open", "update"]
    assert hits[0].attrs["watch_key"] == "mmsi"
    assert hits[1].attrs["watch_key"] == "imo"
    assert hits[0].id == hits[1].id


# -- real traffic ----------------------------------------------------------------------------
@pytest.mark.parametrize("path", [SOLENT, BALTIC])
def test_real_tracks_give_no_identity_findings(path: Path, gur: Watchlist) -> None:
    # Every MMSI in these tracks is a well-formed ship MMSI of an allocated MID, and none
    # is on the example or GUR lists: no finding at all.
    watchlist = gur.merge(Watchlist.load(EXAMPLE_WATCHLIST))
    assert run(read_track(path), watchlist) == []


def test_real_nmea_with_broken_transponders() -> None:
    # gpsd's type-6 log is a real Baltic/North Sea receiver capture: 956 MMSIs of which a
    # handful are broken. Every finding is an MMSI fact, each emitted once.
    events = run(read_track(SHARED_DATA / "nmea/gpsd/ais-nmea-type6-fid55.log"))
    kinds = Counter(e.attrs["type"] for e in events)
    assert kinds == {"unallocated_mid": 4, "invalid_mmsi": 3, "placeholder_mmsi": 1}
    assert all(e.phase == "open" for e in events)
    assert len({e.mmsi for e in events}) == len(events)


# -- contract --------------------------------------------------------------------------------
def test_state_round_trips_through_the_codec(example: Watchlist) -> None:
    det = IdentityDetector()
    records: list[Record] = [make_static(0, mmsi=123456789, imo=9329761, name="X")]
    records += positions(123456789, 3)
    run_detectors([det], records, watchlist=example)
    state = det.initial_state(123456789)
    from seawarden.detectors.identity import Finding

    assert state.findings is None  # no finding: no dict held
    state.findings = {"bad_imo": Finding(start=make_report(0).time, confidence=0.6, digest="1")}
    state.bad_imo = 9329761
    state.bad_imo_time = make_report(0).time
    assert det.decode_state(det.encode_state(state)) == state


@pytest.mark.parametrize(
    "kwargs",
    [
        {"bad_imo_confidence": 1.5},
        {"churn_window_s": 0},
        {"churn_min_changes": 0},
        {"update_min_delta": 0},
    ],
)
def test_config_is_validated(kwargs: dict[str, float]) -> None:
    with pytest.raises(ConfigError):
        IdentityConfig(**kwargs)


@given(n=st.integers(min_value=1, max_value=60), dt=st.floats(min_value=1, max_value=600))
def test_a_valid_ship_repeating_its_identity_yields_nothing(n: int, dt: float) -> None:
    records: list[Record] = []
    for i in range(n):
        records.append(make_report(i * dt, speed_kn=0.0, lat=59.9, lon=24.9))
        if i % 5 == 0:
            records.append(make_static(i * dt + 0.5))
    assert run(records) == []
