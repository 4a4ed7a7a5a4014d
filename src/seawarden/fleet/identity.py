"""Who a vessel claims to be: MMSI structure, flag, IMO check digit, flag names.

An AIS transponder announces a nine-digit MMSI whose leading digits encode what kind of
station it is and, through the Maritime Identification Digits (MID, ITU-R M.585), which
administration issued it. Shadow-fleet and spoofing cases show up here first: an MMSI whose
MID is not allocated, a factory default such as ``123456789`` or ``636000000``, an IMO
number whose check digit is wrong, a watchlist that spells the flag "St Vincent &
Grenadines" while the MID table says ``VC``. This module turns those raw claims into facts:

>>> verdict = classify_mmsi(230123456)
>>> str(verdict.kind), verdict.flag
('ship', 'FI')
>>> imo_valid(9329760), flag_code("Russian Federation")
(True, 'RU')

The MID table is bundled as ``seawarden/data/mid.csv`` (source noted in its header).
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import Final

from seawarden.fusion.ids import is_target_id

__all__ = [
    "PLACEHOLDER_IMOS",
    "Flag",
    "MmsiClass",
    "MmsiKind",
    "classify_mmsi",
    "flag_code",
    "flag_of_mmsi",
    "imo_valid",
    "mid_table",
]


@dataclass(frozen=True, slots=True)
class Flag:
    """The administration behind a MID: ISO 3166 alpha-2/alpha-3 and the ITU name."""

    mid: int
    alpha2: str
    alpha3: str
    name: str


class MmsiKind(StrEnum):
    """What kind of station an MMSI identifies (ITU-R M.585 formats)."""

    SHIP = "ship"  # MIDxxxxxx
    GROUP = "group"  # 0MIDxxxxx
    COAST_STATION = "coast_station"  # 00MIDxxxx
    SAR_AIRCRAFT = "sar_aircraft"  # 111MIDxxx
    ATON = "aton"  # 99MIDxxxx
    CRAFT_ASSOCIATED = "craft_associated"  # 98MIDxxxx (tender, RIB of a parent ship)
    HANDHELD = "handheld"  # 8MIDxxxxx
    SART_MOB_EPIRB = "sart_mob_epirb"  # 970xxyyyy / 972xxyyyy / 974xxyyyy
    INVALID = "invalid"
    PLACEHOLDER = "placeholder"
    UNALLOCATED_MID = "unallocated_mid"
    NON_AIS = "non_ais"  # a dark vessel seen only by radar/satellite: a fusion target id


@dataclass(frozen=True, slots=True)
class MmsiClass:
    """The verdict on one MMSI: its kind, MID, flag (alpha-2) and a human reason."""

    kind: MmsiKind
    mid: int | None
    flag: str | None
    reason: str


@cache
def mid_table() -> MappingProxyType[int, Flag]:
    """The allocated MIDs (201..775) as a read-only mapping, loaded once from the package."""
    text = resources.files("seawarden").joinpath("data/mid.csv").read_text(encoding="utf-8")
    lines = (line for line in io.StringIO(text) if not line.startswith("#"))
    table = {
        int(row["mid"]): Flag(int(row["mid"]), row["alpha2"], row["alpha3"], row["name"])
        for row in csv.DictReader(lines)
    }
    return MappingProxyType(table)


def flag_of_mmsi(mmsi: int) -> Flag | None:
    """The flag of an MMSI from its MID, whatever the station kind; None if unknown.

    >>> flag_of_mmsi(518998865).name
    'Cook Islands'
    """
    verdict = classify_mmsi(mmsi)
    # A placeholder such as 636000000 has a MID but proves nothing about the flag.
    if verdict.mid is None or verdict.flag is None:
        return None
    return mid_table()[verdict.mid]


# Values seen again and again in real feeds from unconfigured or spoofed transponders.
_KNOWN_FAKES: Final = frozenset(
    {0, 1, 123456789, 987654321, 12345678, 1234567, 1193046, 111111111, 999999999}
)
_SART_PREFIXES: Final = {"970": "AIS-SART", "972": "MOB device", "974": "EPIRB-AIS"}


def classify_mmsi(mmsi: int) -> MmsiClass:
    """Classify an MMSI by its digit pattern (ITU-R M.585-9).

    The checks run from the most to the least specific, so ``111230xxx`` is a SAR aircraft
    and not a ship with MID 111, and ``636000000`` is a placeholder, not a Liberian ship.
    Equal verdicts are one shared object: every vessel holds its own (issue 8: memory per
    tracked vessel), and there are only a few thousand distinct ones (kind × MID).
    """
    verdict = _classify(mmsi)
    return _VERDICTS.setdefault(verdict, verdict)


_VERDICTS: dict[MmsiClass, MmsiClass] = {}


def _classify(mmsi: int) -> MmsiClass:
    if is_target_id(mmsi):
        return MmsiClass(MmsiKind.NON_AIS, None, None, "non-AIS target (radar/satellite only)")
    if mmsi < 0 or mmsi > 999_999_999:
        return MmsiClass(MmsiKind.INVALID, None, None, "outside 0..999999999 (not 9 digits)")
    digits = f"{mmsi:09d}"
    if mmsi in _KNOWN_FAKES:
        return MmsiClass(MmsiKind.PLACEHOLDER, None, None, f"well-known fake value {digits}")
    if len(set(digits)) == 1:
        return MmsiClass(MmsiKind.PLACEHOLDER, None, None, "all digits repeated")

    if digits.startswith("00"):
        return _with_mid(MmsiKind.COAST_STATION, digits[2:5], "coast station 00MIDxxxx")
    if digits.startswith("0"):
        return _with_mid(MmsiKind.GROUP, digits[1:4], "group call 0MIDxxxxx")
    if digits.startswith("111"):
        return _with_mid(MmsiKind.SAR_AIRCRAFT, digits[3:6], "SAR aircraft 111MIDxxx")
    if digits.startswith("99"):
        return _with_mid(MmsiKind.ATON, digits[2:5], "aid to navigation 99MIDxxxx")
    if digits.startswith("98"):
        return _with_mid(MmsiKind.CRAFT_ASSOCIATED, digits[2:5], "craft of a parent ship 98MID")
    if digits[:3] in _SART_PREFIXES:
        return MmsiClass(MmsiKind.SART_MOB_EPIRB, None, None, _SART_PREFIXES[digits[:3]])
    if digits.startswith("8"):
        return _with_mid(MmsiKind.HANDHELD, digits[1:4], "handheld VHF 8MIDxxxxx")
    if digits[0] in "234567":
        mid = int(digits[:3])
        flag = mid_table().get(mid)
        if digits[3:] == "000000":
            return MmsiClass(MmsiKind.PLACEHOLDER, mid, None, "MID followed by 000000")
        if flag is None:
            return MmsiClass(MmsiKind.UNALLOCATED_MID, mid, None, f"MID {mid} is not allocated")
        return MmsiClass(MmsiKind.SHIP, mid, flag.alpha2, f"ship station, {flag.name}")
    return MmsiClass(MmsiKind.INVALID, None, None, f"no ITU format starts with {digits[:3]}")


def _with_mid(kind: MmsiKind, mid_digits: str, what: str) -> MmsiClass:
    mid = int(mid_digits)
    if not 200 <= mid <= 799:  # e.g. 12345 -> 000012345: too few digits for any format
        return MmsiClass(MmsiKind.INVALID, None, None, f"{what} needs MID 2xx-7xx, got {mid:03d}")
    flag = mid_table().get(mid)
    if flag is None:
        return MmsiClass(kind, mid, None, f"{what}; MID {mid} is not allocated")
    return MmsiClass(kind, mid, flag.alpha2, f"{what}, {flag.name}")


# Numbers that pass the check digit but are transponder defaults, not ships.
PLACEHOLDER_IMOS: Final = frozenset({1234567})


def imo_valid(imo: int) -> bool:
    """True for a seven-digit IMO ship number whose check digit is right.

    The check digit is the last digit of the sum of the first six digits weighted 7..2
    (IMO Res. A.1117(30)); ``9329760`` (EAGLE S): 9*7+3*6+2*5+9*4+7*3+6*2 = 160 -> 0.
    Numbers with a leading zero (``0363464``) are not seven-digit IMO numbers.
    """
    if not 1_000_000 <= imo <= 9_999_999:
        return False
    digits = [int(c) for c in str(imo)]
    return sum(d * w for d, w in zip(digits[:6], range(7, 1, -1), strict=True)) % 10 == digits[6]


# Spellings met in watchlists and registries that the ITU names above do not cover.
_FLAG_ALIASES: Final = {
    "UK": "GB",
    "GREAT BRITAIN": "GB",
    "BRITAIN": "GB",
    "ENGLAND": "GB",
    "USA": "US",
    "UNITED STATES AMERICA": "US",
    "RUSSIA": "RU",
    "CHINA PEOPLES REPUBLIC": "CN",
    "PEOPLES REPUBLIC CHINA": "CN",
    "PRC": "CN",
    "HONG KONG CHINA": "HK",
    "HONG KONG SAR": "HK",
    "MACAU": "MO",
    "VIETNAM": "VN",
    "SOUTH KOREA": "KR",
    "KOREA": "KR",
    "REPUBLIC KOREA": "KR",
    "NORTH KOREA": "KP",
    "DPRK": "KP",
    "TURKIYE": "TR",
    "CZECHIA": "CZ",
    "SLOVAK REPUBLIC": "SK",
    "KYRGYZ REPUBLIC": "KG",
    "LAO": "LA",
    "LAO PEOPLES DEMOCRATIC REPUBLIC": "LA",
    "SYRIAN ARAB REPUBLIC": "SY",
    "IRAN ISLAMIC REPUBLIC": "IR",
    "CAPE VERDE": "CV",
    "IVORY COAST": "CI",
    "SWAZILAND": "SZ",
    "MACEDONIA": "MK",
    "HOLY SEE": "VA",
    "VATICAN": "VA",
    "BURMA": "MM",
    "BRUNEI": "BN",
    "MICRONESIA FEDERATED STATES": "FM",
    "DR CONGO": "CD",
    "DRC": "CD",
    "CONGO DEMOCRATIC REPUBLIC": "CD",
    "REPUBLIC CONGO": "CG",
    "CONGO BRAZZAVILLE": "CG",
    "TANZANIA UNITED REPUBLIC": "TZ",
    "UAE": "AE",
    "BVI": "VG",
    "VIRGIN ISLANDS BRITISH": "VG",
    "US VIRGIN ISLANDS": "VI",
    "FAROES": "FO",
    "HOLLAND": "NL",
    "CURACAO": "CW",
    "SINT MAARTEN": "SX",
    "BONAIRE": "BQ",
    "FRENCH SOUTHERN TERRITORIES": "TF",
    "MARSHALL IS": "MH",
    "COOK IS": "CK",
    "FAROE IS": "FO",
}
# Words that carry no identity in a country name ("Saint Vincent and the Grenadines").
_FILLER: Final = frozenset({"THE", "AND", "OF"})
_PARENS = re.compile(r"\([^)]*\)")
_NON_ALNUM = re.compile(r"[^0-9A-Z]+")


def _name_key(text: str) -> str:
    """Reduce a country name to comparable words: ASCII upper, 'St' -> 'SAINT', no filler."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    # NFKD + ASCII drops accents and curly apostrophes; straight ones go too ("D'IVOIRE").
    flat = ascii_text.upper().replace("'", "").replace("&", " AND ")
    words = _NON_ALNUM.sub(" ", flat).split()
    return " ".join("SAINT" if w in {"ST", "STE"} else w for w in words if w not in _FILLER)


@cache
def _flag_index() -> MappingProxyType[str, str]:
    index: dict[str, str] = {}
    for flag in mid_table().values():
        index.setdefault(flag.alpha2, flag.alpha2)
        index.setdefault(flag.alpha3, flag.alpha2)
        index.setdefault(_name_key(flag.name), flag.alpha2)
        # "Azores (Portugal)" is also just "Azores".
        index.setdefault(_name_key(_PARENS.sub(" ", flag.name)), flag.alpha2)
    for alias, code in _FLAG_ALIASES.items():
        index.setdefault(_name_key(alias), code)
    return MappingProxyType(index)


def flag_code(text: str | None) -> str | None:
    """Map a flag as written in a watchlist (name, alpha-2 or alpha-3) to ISO alpha-2.

    Returns None for blanks, "unknown" and anything unrecognised.

    >>> [flag_code(t) for t in ("Panama", "pa", "St Vincent & Grenadines", "RUS", "unknown")]
    ['PA', 'PA', 'VC', 'RU', None]
    """
    if not text:
        return None
    index = _flag_index()
    raw = text.strip().upper()
    if raw in index and len(raw) in (2, 3):  # a code; "AND" (Andorra) is also a filler word
        return index[raw]
    key = _name_key(text)
    if key in index:
        return index[key]
    # "Tanzania (United Republic of)", "Gambia (the)": try without the qualifier.
    bare = _name_key(_PARENS.sub(" ", text))
    return index.get(bare) if bare else None
