"""Registry CSV import: the example file, hostile files, flags, dates and the stats."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from seawarden.errors import ConfigError
from seawarden.fleet.registry import COLUMNS, Particulars, VesselRegistry, load_registry

HEADER = ",".join(COLUMNS)
EXAMPLE = Path(__file__).parents[2] / "config" / "registry.example.csv"


def _write(tmp_path: Path, *rows: str, header: str = HEADER) -> Path:
    path = tmp_path / "reg.csv"
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def test_example_file_holds_the_public_facts() -> None:
    reg = load_registry(EXAMPLE)
    eagle = reg.get(9329760)
    assert eagle is not None
    assert (eagle.name, eagle.build_year, eagle.flag) == ("EAGLE S", 2006, "CK")
    assert eagle.insurer is None
    assert eagle.insured is None
    assert eagle.owner is None
    fitburg = reg.get(9250397)
    assert fitburg is not None
    assert fitburg.flag == "VC"
    assert reg.stats["loaded"] == 3


def test_full_row_parses(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        '9329760,EAGLE S,2006,Crude oil tanker,42000,Owner Ltd,"Manager, Inc",none,withdrawn,'
        "Cook Islands,2024-11-02,OLD NAME@2024-10-01|older name,PA@2024-11-02|LR@2019-01-01",
    )
    p = load_registry(path).get(9329760)
    assert p == Particulars(
        imo=9329760,
        name="EAGLE S",
        build_year=2006,
        ship_type="Crude oil tanker",
        gross_tonnage=42000,
        owner="Owner Ltd",
        manager="Manager, Inc",
        insurer="none",
        insured=False,
        class_society="withdrawn",
        classed=False,
        flag="CK",
        flag_since=date(2024, 11, 2),
        previous_names=(("OLD NAME", date(2024, 10, 1)), ("OLDER NAME", None)),
        previous_flags=(("PA", date(2024, 11, 2)), ("LR", date(2019, 1, 1))),
        source="reg.csv:2",
    )


def test_bad_rows_are_skipped_and_counted(tmp_path: Path) -> None:
    good = "9250397,FITBURG,,,,,,Gard,DNV,VC,,,"
    path = _write(
        tmp_path,
        good,
        "9329761,BAD CHECK,,,,,,,,,,,",  # check digit
        "0363464,LEADING ZERO,,,,,,,,,,,",
        "abc,X,,,,,,,,,,,",
        "9224984,YI PENG 3,17,,,,,,,,,,",  # build year
        "9224984,YI PENG 3,,,,,,,,Narnia,,,",  # flag
        "9224984,YI PENG 3,,,,,,,,,2024-13-01,,",  # date
        "9224984,too few",
        '9224984,"unterminated,,,,,,,,,,,',
        "9224984," + "X" * 5000 + ",,,,,,,,,,,",
    )
    reg = load_registry(path)
    assert len(reg) == 1
    assert reg.get(9250397) is not None
    assert reg.get(9250397).insured is True  # type: ignore[union-attr]
    s = reg.stats
    assert s["bad_imo"] == 3
    assert s["bad_value"] == 2
    assert s["bad_flag"] == 1
    assert s["bad_columns"] + s["unreadable_row"] == 3
    assert s["rows"] == 10


def test_all_rows_bad_lists_line_numbers(tmp_path: Path) -> None:
    path = _write(tmp_path, "# comment", "1234568,X,,,,,,,,,,,", "", "7654321,Y,,,,,,,,,,,")
    with pytest.raises(ConfigError, match=r"every row is bad.*lines 3, 5"):
        load_registry(path)


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (b"", "empty"),
        (b"imo,name\n9329760,EAGLE S\n", "header"),
        (b"\xff\xfe\x00junk", "UTF-8"),
    ],
)
def test_hostile_files(tmp_path: Path, content: bytes, match: str) -> None:
    path = tmp_path / "reg.csv"
    path.write_bytes(content)
    with pytest.raises(ConfigError, match=match):
        load_registry(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_registry(tmp_path / "nope.csv")


def test_merge_overrides_known_values_only(tmp_path: Path) -> None:
    a = VesselRegistry([Particulars(imo=9329760, name="EAGLE S", build_year=2006)])
    b = VesselRegistry([Particulars(imo=9329760, insurer="none", insured=False)])
    m = a.merge(b)
    p = m.get(9329760)
    assert p is not None
    assert (p.name, p.build_year, p.insured) == ("EAGLE S", 2006, False)
    assert len(m) == 1
    assert m.get(None) is None
