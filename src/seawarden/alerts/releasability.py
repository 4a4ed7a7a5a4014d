"""Releasability: which nations may see an alert, and whether a recipient's audience may.

Intelligence shared between allies carries a release marking such as ``REL JEF`` or
``REL TO GBR, NOR`` — the set of nations it may be given to. seawarden expands a marking
into a set of ISO 3166-1 alpha-3 nation codes (the convention of NATO and national
markings), with two named groups:

* ``JEF`` — the ten Joint Expeditionary Force nations;
* ``NATO`` — the 32 NATO members (Sweden joined in March 2024).

A nation code must be a real one: the ISO 3166-1 alpha-3 codes of the ITU table of
Maritime Identification Digits that ships with seawarden (``seawarden/data/mid.csv``, its
source noted in its header; every ITU member state and maritime territory), so a typo
(``REL TO DNL``) or a word (``REL TO ALL``) is a :class:`~seawarden.errors.ConfigError` at
load — not a subscription that silently never receives anything.

A recipient has an *audience*: the nations that can read what is sent to it. A Danish
maritime operations centre's audience is ``{DNK}``; a JEF-wide distribution list's is all
of JEF. An alert may go to a recipient only if **every** nation in the audience is in the
alert's release set — so a channel cleared for ``REL JEF`` never receives an alert marked
for a narrower set, even though each of its members alone might.

>>> sorted(parse_label("REL TO GBR, NOR"))
['GBR', 'NOR']
>>> releasable("REL JEF", parse_label("REL DNK"))
True
>>> releasable("REL GBR, NOR", JEF)
False
>>> label_of(JEF | {"USA"})
'REL JEF, USA'
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache

from seawarden.errors import ConfigError

JEF: frozenset[str] = frozenset(
    {"DNK", "EST", "FIN", "GBR", "ISL", "LTU", "LVA", "NLD", "NOR", "SWE"}
)

NATO: frozenset[str] = frozenset(
    {
        "ALB", "BEL", "BGR", "CAN", "CZE", "DEU", "DNK", "ESP", "EST", "FIN", "FRA",
        "GBR", "GRC", "HRV", "HUN", "ISL", "ITA", "LTU", "LUX", "LVA", "MKD", "MNE",
        "NLD", "NOR", "POL", "PRT", "ROU", "SVK", "SVN", "SWE", "TUR", "USA",
    }
)  # fmt: skip

GROUPS: dict[str, frozenset[str]] = {"JEF": JEF, "NATO": NATO}

_CODE = re.compile(r"^[A-Z]{3}$")


@cache
def nations() -> frozenset[str]:
    """Every nation code a marking may name (ISO 3166-1 alpha-3, from the MID table)."""
    from seawarden.fleet.identity import mid_table

    return frozenset(flag.alpha3 for flag in mid_table().values()) | JEF | NATO


def is_nation(code: str) -> bool:
    return isinstance(code, str) and _CODE.match(code) is not None and code in nations()


_PREFIX = re.compile(r"^\s*REL(?:\s+TO)?\s+", re.IGNORECASE)


def parse_label(text: str) -> frozenset[str]:
    """The nations a marking releases to; ``ConfigError`` names what is wrong with it.

    Accepts ``REL JEF``, ``REL TO GBR, NOR``, ``REL NATO, SWE`` (groups and codes mixed,
    separated by commas or spaces) and a bare list without ``REL``.
    """
    if not isinstance(text, str) or not text.strip():
        raise ConfigError("releasability marking is empty; write e.g. 'REL JEF' or 'REL GBR, NOR'")
    body = _PREFIX.sub("", text.strip())
    out: set[str] = set()
    for token in re.split(r"[,\s/]+", body.strip()):
        if not token:
            continue
        word = token.upper()
        if word == "REL":  # a bare "REL" (or "REL REL ...") is not a nation
            raise ConfigError(
                f"releasability {text!r}: 'REL' must be followed by nations or groups"
            )
        if word in GROUPS:
            out |= GROUPS[word]
        elif _CODE.match(word):
            if word not in nations():
                raise ConfigError(
                    f"releasability {text!r}: {token!r} is not an ISO 3166-1 alpha-3 nation "
                    "code (e.g. DNK, GBR, NOR) nor a group "
                    f"({', '.join(sorted(GROUPS))}); check the spelling"
                )
            out.add(word)
        else:
            raise ConfigError(
                f"releasability {text!r}: {token!r} is neither a group "
                f"({', '.join(sorted(GROUPS))}) nor an ISO 3166-1 alpha-3 code"
            )
    if not out:
        raise ConfigError(f"releasability {text!r} names no nation")
    return frozenset(out)


def label_of(nations: Iterable[str]) -> str:
    """Canonical marking for a set of nations: whole groups by name, then the rest sorted."""
    rest = set(nations)
    if not rest:
        raise ConfigError("cannot mark an alert releasable to no nation")
    bad = sorted(str(n) for n in rest if not is_nation(n))
    if bad:
        raise ConfigError(f"cannot mark for {bad[:3]}: nations are ISO 3166-1 alpha-3 codes")
    parts: list[str] = []
    # Largest group first, so NATO ⊇ JEF is written "REL NATO", not "REL JEF, ALB, ...".
    for name, members in sorted(GROUPS.items(), key=lambda kv: -len(kv[1])):
        if members <= rest:
            parts.append(name)
            rest -= members
    return "REL " + ", ".join(parts + sorted(rest))


def narrowest(labels: Iterable[str]) -> str:
    """The intersection of several markings: every applicable restriction holds at once."""
    given = list(labels)
    sets = [parse_label(label) for label in given]
    if not sets:
        raise ConfigError("no releasability marking given")
    common = frozenset.intersection(*sets)
    if not common:
        raise ConfigError(f"markings {sorted(given)} leave no nation in common")
    return label_of(common)


def releasable(label: str, audience: frozenset[str]) -> bool:
    """May an alert marked ``label`` go to a recipient whose readers are ``audience``?"""
    return bool(audience) and audience <= parse_label(label)


__all__ = [
    "GROUPS",
    "JEF",
    "NATO",
    "is_nation",
    "label_of",
    "narrowest",
    "nations",
    "parse_label",
    "releasable",
]
