"""Watchlist loading (own, GUR and sanctions formats) and matching rules, on the real lists."""

from __future__ import annotations

import csv
import logging
from pathlib import Path

import pytest

from seawarden.errors import ConfigError
from seawarden.fleet.watchlist import Watchlist, WatchlistEntry, normalise_name

from .factories import EXAMPLE, SHARED


@pytest.fixture(scope="module")
def gur(gur_path: Path) -> Watchlist:
    return Watchlist.load(gur_path)


@pytest.fixture(scope="module")
def sanctions(sanctions_path: Path) -> Watchlist:
    return Watchlist.load(sanctions_path)


@pytest.fixture(scope="module")
def merged(gur: Watchlist, sanctions: Watchlist) -> Watchlist:
    return Watchlist.load(EXAMPLE).merge(gur).merge(sanctions)


def test_gur_list_loads_with_counted_repairs(gur: Watchlist) -> None:
    assert len(gur) == 1414  # every row identifies a vessel by IMO or MMSI
    assert sum(gur.rejected.values()) == 0
    # Scraped page captions in cells ("Call sign", "Vessel Type", "Flags (former)").
    assert gur.repaired["label_leak"] == 469
    # Five legacy MMSIs preceded by U+FFFD, two Russian register numbers in the IMO column.
    assert gur.repaired["junk_characters"] == 5
    assert gur.repaired["bad_imo"] == 2
    shellest = gur.get("mmsi:273385420")
    assert shellest is not None
    assert shellest.imo is None
    assert shellest.name == "SHELLEST"


def test_gur_entry_fields(gur: Watchlist) -> None:
    eagle = gur.get("imo:9329760")
    assert eagle is not None
    assert eagle.name == "EAGLE S"
    assert eagle.mmsis == (518998167,)
    assert eagle.legacy_mmsis == (518998167,)
    assert eagle.former_names == ("Fr8 Pride", "LR Mimosa", "Norstar Intrepid")
    assert eagle.flag is None
    assert eagle.lists == ("gur",)
    assert eagle.source.startswith("gur_vessels_master.csv:")
    fitburg = gur.get("imo:9250397")
    assert fitburg is not None
    assert fitburg.lists == ("gur-delisted",)
    zhuo = gur.get("imo:9408683")
    assert zhuo is not None
    assert zhuo.flag == "PA"
    assert zhuo.former_names == (
        "Profit",
        "Advantage Solar",
    )
    audax = gur.get("imo:9763837")  # "Flags (former)" is a caption, not a former name
    assert audax is not None
    assert audax.former_names == ()


def test_sanctions_table_loads_by_imo(sanctions: Watchlist, sanctions_path: Path) -> None:
    with sanctions_path.open() as fh:
        rows = sum(1 for _ in csv.DictReader(fh))
    assert rows == 1901
    assert dict(sanctions.rejected) == {"imo_leading_zero": 1}  # 0363464
    assert len(sanctions) == 1900
    entry = sanctions.get("imo:9329760")
    assert entry is not None
    assert entry.lists == ("eu", "uk")
    assert entry.name == ""


def test_merge_combines_by_imo(merged: Watchlist, gur: Watchlist, sanctions: Watchlist) -> None:
    example = Watchlist.load(EXAMPLE)
    keys = {e.key for wl in (example, gur, sanctions) for e in wl}
    assert len(merged) == len(keys)  # one entry per IMO (or MMSI) across all three
    assert len(merged) < len(example) + len(gur) + len(sanctions) - 1000
    eagle = merged.get("imo:9329760")
    assert eagle is not None
    assert eagle.lists == ("eu", "example", "gur", "uk")
    assert eagle.mmsis == (518998865, 518998167)
    assert eagle.legacy_mmsis == ()  # our own list calls both current
    assert eagle.flag == "CK"
    assert merged.rejected["imo_leading_zero"] == 1


def test_match_by_imo_first(merged: Watchlist) -> None:
    m = merged.match(imo=9329760, mmsi=230123456, name="SOMETHING ELSE", flag="FI")
    assert m is not None
    assert (m.key, m.score, m.entry.name) == ("imo", 1.0, "EAGLE S")


def test_match_by_current_and_legacy_mmsi(gur: Watchlist) -> None:
    current = gur.match(mmsi=461000329)  # GALAXY, current MMSI
    assert current is not None
    assert current.entry.name == "GALAXY"
    assert current.score == 1.0
    legacy = gur.match(mmsi=677064000)  # GALAXY's legacy MMSI (repaired from "\ufffd677064000")
    assert legacy is not None
    assert legacy.entry.name == "GALAXY"
    assert legacy.key == "mmsi"
    assert legacy.score < 1.0
    assert "legacy" in legacy.detail


def test_mmsi_match_with_conflicting_imo_is_downgraded(gur: Watchlist) -> None:
    m = gur.match(mmsi=461000329, imo=9329760 + 0)  # EAGLE S's IMO reported on GALAXY's MMSI
    # IMO wins outright because it is on the list itself:
    assert m is not None
    assert m.key == "imo"
    assert m.entry.name == "EAGLE S"
    other = gur.match(mmsi=461000329, imo=9224984)  # a valid IMO not on the GUR list
    assert other is not None
    assert other.key == "mmsi"
    assert other.score < 0.9


@pytest.mark.parametrize("spelling", ["EAGLE S", "EAGLE-S", "Eagle S.", "eagle  s", "EAGLE_S"])
def test_fuzzy_spellings_match_real_list(gur: Watchlist, spelling: str) -> None:
    m = gur.match(name=spelling, flag="CK")
    assert m is not None
    assert m.entry.imo == 9329760
    assert m.key == "name"


def test_misspelling_matches_and_keeps_score_below_one(merged: Watchlist) -> None:
    m = merged.match(name="NEWNEW POLAR BEER", flag="HK")
    assert m is not None
    assert m.entry.name == "NEWNEW POLAR BEAR"
    assert 0.92 <= m.score < 1.0
    assert merged.match(name="YI PENG3", flag="CN") is not None
    assert merged.match(name="YI PENG 2", flag="CN") is None  # a sister ship, not a typo


def test_former_name_needs_the_same_flag(gur: Watchlist) -> None:
    m = gur.match(name="Advantage Solar", flag="PA")
    assert m is not None
    assert m.entry.name == "ZHUO YUAN"
    assert "former" in m.detail
    assert gur.match(name="Advantage Solar", flag="GB") is None
    assert gur.match(name="Advantage Solar") is None


def test_different_flag_rejects_exact_multiword_name(gur: Watchlist) -> None:
    assert gur.match(name="BALTIC STAR", flag="LR") is not None  # listed under Liberia
    assert gur.match(name="BALTIC STAR", flag="GB") is None


# Names of real ferries, pilots and yachts of the Solent and Baltic plus everyday words that
# recur across world fleets; a local vessel with one of them must never be taken for a listed one.
COMMON_NAMES = [
    *[
        "MARIA",
        "SOFIA",
        "NOVA",
        "VERA",
        "SUN",
        "ELENA",
        "ANNA",
        "GRACE",
        "PRIDE",
        "ORION",
        "TITAN",
        "ATLAS",
        "ZEUS",
    ],
    *[
        "JUPITER",
        "VICTORIA",
        "PHOENIX",
        "HERMES",
        "APOLLO",
        "NEPTUNE",
        "LEGEND",
        "MARINER",
        "PRINCESS",
    ],
    "OCEAN STAR",
    "SEA SPIRIT",
    "RED FALCON",
    "RED JET 6",
    "ST CLARE",
    "WIGHT LIGHT",
    "COMMODORE CLIPPER",
    "SPIRIT OF PORTSMOUTH",
    "ISLAND PRINCESS",
    "NORTHERN STAR",
    "NORTHERN LIGHT",
    "BALTIC SKY",
    "BALTIC QUEEN",
    "SILJA SERENADE",
    "VIKING GRACE",
    "OCEAN PRIDE",
    "OCEAN SPIRIT",
    "OCEAN GLORY",
    "NORDIC STAR",
    "SEA STAR",
    "POLAR BEAR",
    "GOLDEN EAGLE I",
]


@pytest.mark.parametrize("flag", ["GB", "DK", "SE", "FI", "DE", "EE", "NO", "NL"])
def test_no_false_match_for_common_names(merged: Watchlist, flag: str) -> None:
    hits = {n: m.detail for n in COMMON_NAMES if (m := merged.match(name=n, flag=flag))}
    assert hits == {}


def test_short_and_single_word_names_never_match_without_flag(merged: Watchlist) -> None:
    singles = [n for n in COMMON_NAMES if " " not in n]
    assert [n for n in singles if merged.match(name=n)] == []
    assert merged.match(name="SUN", flag="RU") is None  # shorter than min_name_chars


def test_single_word_exact_name_with_same_flag_matches(gur: Watchlist) -> None:
    m = gur.match(name="TRACOS", flag="PA")
    assert m is not None
    assert m.entry.imo == 9224453
    assert gur.match(name="TRACOSS", flag="PA") is None  # no fuzzy matching on one word


def test_no_real_traffic_mmsi_is_on_the_lists(merged: Watchlist) -> None:
    """91 vessels in the Solent (2016) and 76 Baltic cargo ships (2020): none is listed."""
    files = [
        (SHARED / "tracks/solent/SolentAIS_20160112_130211.csv", "MMSI"),
        (SHARED / "tracks/baltic-cargo-2020/baltic_cargo_20201101.csv", "mmsi"),
    ]
    seen: set[int] = set()
    for path, column in files:
        with path.open() as fh:
            seen |= {int(float(row[column])) for row in csv.DictReader(fh)}
    assert len(seen) == 167
    assert [m for m in seen if merged.match(mmsi=m)] == []


def test_threshold_is_configurable() -> None:
    entries = [WatchlistEntry(imo=9329760, name="EAGLE S", flag="CK")]
    strict = Watchlist(entries, name_threshold=1.0)
    loose = Watchlist(entries, name_threshold=0.85)
    assert strict.match(name="EAGLE SS", flag="CK") is None
    assert loose.match(name="EAGLE SS", flag="CK") is not None
    with pytest.raises(ConfigError):
        Watchlist(entries, name_threshold=0.2)


def test_normalise_name() -> None:
    assert normalise_name(" Eagle-S. ") == "EAGLE S"
    assert normalise_name("Vanessa-C") == "VANESSA C"
    assert normalise_name("Côte  d'Azur") == "COTE D AZUR"


def test_example_watchlist_is_our_format() -> None:
    wl = Watchlist.load(EXAMPLE)
    assert {e.name for e in wl} == {
        "YI PENG 3",
        "EAGLE S",
        "FITBURG",
        "VEZHEN",
        "NEWNEW POLAR BEAR",
    }
    assert sum(wl.rejected.values()) == 0
    assert sum(wl.repaired.values()) == 0
    eagle = wl.get("imo:9329760")
    assert eagle is not None
    assert "CONFLICT" in eagle.reason
    assert wl.match(mmsi=518998865) is not None
    assert wl.match(mmsi=518998167) is not None


def test_missing_file_and_unknown_header(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        Watchlist.load(tmp_path / "nope.csv")
    odd = tmp_path / "odd.csv"
    odd.write_text("vessel,when\nX,2024\n")
    with pytest.raises(ConfigError, match="unrecognised header"):
        Watchlist.load(odd)
    empty = tmp_path / "empty.csv"
    empty.write_text("# only a comment\n")
    with pytest.raises(ConfigError, match="empty"):
        Watchlist.load(empty)


def test_malformed_rows_are_counted_and_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "mine.csv"
    path.write_text(
        "# comment lines are skipped\n"
        "imo,mmsi,name,flag,source,reason\n"
        "9329760,518998865,EAGLE S,Cook Islands,test,ok\n"
        "9329761,518998866,BAD CHECK,CK,test,IMO dropped but MMSI kept\n"
        "0363464,,LEADING ZERO,,test,no usable key but a name\n"
        ",123456789,,,test,placeholder MMSI and nothing else\n"
        "9250397,375068000,TOO,MANY,COLUMNS,HERE,!\n"
        "9224984,414270000,YI PENG 3,Atlantis,test,unknown flag\n"
    )
    with caplog.at_level(logging.WARNING, logger="seawarden.fleet"):
        wl = Watchlist.load(path)
    assert len(wl) == 4
    assert dict(wl.rejected) == {"no_identifier": 1, "bad_columns": 1}
    assert dict(wl.repaired) == {
        "imo_check_digit": 1,
        "imo_leading_zero": 1,  # kept as a name-only entry: our own list allows those
        "bad_mmsi": 1,
        "unknown_flag": 1,
    }
    assert sum("rejected" in r.getMessage() for r in caplog.records) == 2
    assert any(getattr(r, "source", "") == "mine.csv:7" for r in caplog.records)
    bad = wl.get("mmsi:518998866")
    assert bad is not None
    assert bad.imo is None
