"""MID table, MMSI classification, IMO check digits and flag-name normalisation."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from seawarden.fleet.identity import (
    MmsiKind,
    classify_mmsi,
    flag_code,
    flag_of_mmsi,
    imo_valid,
    mid_table,
)


@pytest.mark.parametrize(
    ("mid", "alpha2", "name"),
    [
        (230, "FI", "Finland"),
        (276, "EE", "Estonia"),
        (265, "SE", "Sweden"),
        (266, "SE", "Sweden"),
        (219, "DK", "Denmark"),
        (220, "DK", "Denmark"),
        (232, "GB", "United Kingdom"),
        (235, "GB", "United Kingdom"),
        (211, "DE", "Germany"),
        (218, "DE", "Germany"),
        (273, "RU", "Russian Federation"),
        (636, "LR", "Liberia"),
        (637, "LR", "Liberia"),
        (518, "CK", "Cook Islands"),
        (375, "VC", "Saint Vincent and the Grenadines"),
        (377, "VC", "Saint Vincent and the Grenadines"),
        (414, "CN", "China"),
        (477, "HK", "Hong Kong"),
        (229, "MT", "Malta"),
        (613, "CM", "Cameroon"),
        (620, "KM", "Comoros"),
        (667, "SL", "Sierra Leone"),
        (351, "PA", "Panama"),
        (374, "PA", "Panama"),
    ],
)
def test_mid_spot_checks(mid: int, alpha2: str, name: str) -> None:
    flag = mid_table()[mid]
    assert (flag.alpha2, flag.name) == (alpha2, name)


def test_mid_table_shape() -> None:
    table = mid_table()
    assert min(table) == 201
    assert max(table) == 775
    # 292 allocated MIDs in the ITU list (306 counted once); gaps are not allocated.
    assert len(table) == 292
    for mid in (217, 221, 222, 223, 260, 280, 302, 313, 402, 404, 776):
        assert mid not in table
    assert all(
        len(f.alpha2) == 2 and len(f.alpha3) == 3 and f.alpha2.isupper() for f in table.values()
    )
    assert all(f.mid == mid for mid, f in table.items())


@pytest.mark.parametrize(
    ("mmsi", "kind", "mid", "flag"),
    [
        (230123456, MmsiKind.SHIP, 230, "FI"),
        (518998865, MmsiKind.SHIP, 518, "CK"),
        (375068000, MmsiKind.SHIP, 375, "VC"),
        (23012345, MmsiKind.GROUP, 230, "FI"),  # 023012345
        (2300001, MmsiKind.COAST_STATION, 230, "FI"),  # 002300001
        (2320004, MmsiKind.COAST_STATION, 232, "GB"),
        (111232506, MmsiKind.SAR_AIRCRAFT, 232, "GB"),
        (992351234, MmsiKind.ATON, 235, "GB"),
        (982191234, MmsiKind.CRAFT_ASSOCIATED, 219, "DK"),
        (823012345, MmsiKind.HANDHELD, 230, "FI"),
        (970012345, MmsiKind.SART_MOB_EPIRB, None, None),
        (972012345, MmsiKind.SART_MOB_EPIRB, None, None),
        (974012345, MmsiKind.SART_MOB_EPIRB, None, None),
        (217123456, MmsiKind.UNALLOCATED_MID, 217, None),
        (799123456, MmsiKind.UNALLOCATED_MID, 799, None),
        (123456789, MmsiKind.PLACEHOLDER, None, None),
        (111111111, MmsiKind.PLACEHOLDER, None, None),
        (0, MmsiKind.PLACEHOLDER, None, None),
        (999999999, MmsiKind.PLACEHOLDER, None, None),
        (777777777, MmsiKind.PLACEHOLDER, None, None),
        (636000000, MmsiKind.PLACEHOLDER, 636, None),
        (273000000, MmsiKind.PLACEHOLDER, 273, None),
        (1193046, MmsiKind.PLACEHOLDER, None, None),
        (2_000_000_000, MmsiKind.INVALID, None, None),
        # ten digits from 1e9: seawarden target ids of non-AIS (radar/satellite) targets
        (1_000_000_000, MmsiKind.NON_AIS, None, None),
        (1_999_999_999, MmsiKind.NON_AIS, None, None),
        (-5, MmsiKind.INVALID, None, None),
        (12345, MmsiKind.INVALID, None, None),  # 000012345: too short for any format
        (150123456, MmsiKind.INVALID, None, None),  # no format starts with 1 except 111
        (912345678, MmsiKind.INVALID, None, None),
    ],
)
def test_classify_mmsi(mmsi: int, kind: MmsiKind, mid: int | None, flag: str | None) -> None:
    verdict = classify_mmsi(mmsi)
    assert (verdict.kind, verdict.mid, verdict.flag) == (kind, mid, flag)
    assert verdict.reason


def test_flag_of_mmsi() -> None:
    flag = flag_of_mmsi(414270000)  # YI PENG 3
    assert flag is not None
    assert flag.alpha2 == "CN"
    assert flag_of_mmsi(636000000) is None  # a placeholder proves no flag
    assert flag_of_mmsi(217000001) is None


@pytest.mark.parametrize("imo", [9329760, 9224984, 9250397, 9937270, 9408683, 1006960])
def test_imo_valid_on_real_numbers(imo: int) -> None:
    assert imo_valid(imo)


@pytest.mark.parametrize("imo", [9329761, 9224985, 363464, 0, 99999999, 999999])
def test_imo_invalid(imo: int) -> None:
    assert not imo_valid(imo)


def _column(path: Path, column: str) -> list[str]:
    with path.open(encoding="utf-8") as fh:
        return [row[column] for row in csv.DictReader(fh)]


def test_most_real_watchlist_imos_validate(gur_path: Path, sanctions_path: Path) -> None:
    raw = _column(gur_path, "imo") + _column(sanctions_path, "imo")
    numeric = [int(x) for x in raw if x.isdigit() and not x.startswith("0")]
    valid = sum(imo_valid(i) for i in numeric)
    assert len(numeric) > 3000
    assert valid / len(numeric) > 0.99


def _with_check_digit(first6: int) -> int:
    digits = [int(c) for c in str(first6)]
    return first6 * 10 + sum(d * w for d, w in zip(digits, range(7, 1, -1), strict=True)) % 10


@given(st.integers(100_000, 999_999))
def test_constructed_imos_are_valid(first6: int) -> None:
    assert imo_valid(_with_check_digit(first6))


@given(st.integers(100_000, 999_999), st.integers(0, 6), st.integers(0, 9))
def test_single_digit_change(first6: int, position: int, digit: int) -> None:
    """A changed digit is caught unless weight*delta is a multiple of 10.

    The IMO scheme (weights 7..2, mod 10) cannot see every single-digit error: a change of
    5 at weight 2, 4 or 6, or an even change at weight 5, keeps the check digit right.
    """
    imo = _with_check_digit(first6)
    digits = [int(c) for c in str(imo)]
    if digits[position] == digit or (position == 0 and digit == 0):
        return
    delta = digit - digits[position]
    changed = int("".join(str(d) for d in (*digits[:position], digit, *digits[position + 1 :])))
    weight = 7 - position if position < 6 else None
    undetectable = weight is not None and (weight * delta) % 10 == 0
    assert imo_valid(changed) is undetectable


def test_placeholder_imo_passes_the_check_digit() -> None:
    # 1234567 is a transponder default; the fleet ignores it via PLACEHOLDER_IMOS.
    assert imo_valid(1234567)


def test_known_blind_spot_of_the_imo_check_digit() -> None:
    # 9329760 -> change the 6th digit (weight 2) by 5: 9329710 still validates.
    assert imo_valid(9329760)
    assert imo_valid(9329710)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("Panama", "PA"),
        ("PA", "PA"),
        ("pa", "PA"),
        ("PAN", "PA"),
        ("Cook Islands", "CK"),
        ("St Vincent & Grenadines", "VC"),
        ("Saint Vincent and the Grenadines", "VC"),
        ("St. Vincent and the Grenadines", "VC"),
        ("Russia", "RU"),
        ("Russian Federation", "RU"),
        ("russian federation", "RU"),
        ("RUS", "RU"),
        ("Comoros", "KM"),
        ("Cameroon", "CM"),
        ("People's Republic of China", "CN"),
        ("Hong Kong", "HK"),
        ("Hong Kong, China", "HK"),
        ("Tanzania (United Republic of)", "TZ"),
        ("Gambia (the)", "GM"),
        ("Côte d’Ivoire", "CI"),
        ("Sao Tome and Principe", "ST"),
        ("São Tomé and Príncipe", "ST"),
        ("Guinea-Bissau", "GW"),
        ("Saint Kitts and Nevis", "KN"),
        ("Vietnam", "VN"),
        ("UK", "GB"),
        ("AND", "AD"),
        ("Türkiye", "TR"),
        ("Madeira", "PT"),
        ("unknown", None),
        ("", None),
        (None, None),
        ("Atlantis", None),
    ],
)
def test_flag_code(text: str | None, code: str | None) -> None:
    assert flag_code(text) == code


def test_every_gur_flag_name_is_understood(gur_path: Path) -> None:
    names = {f for f in _column(gur_path, "flag") if f and f != "unknown"}
    assert {n for n in names if flag_code(n) is None} == set()
