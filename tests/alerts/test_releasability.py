"""Release markings: doctests of the alert modules, and properties of parse/label/narrowest."""

from __future__ import annotations

import doctest
from types import ModuleType

import pytest
from hypothesis import given
from hypothesis import strategies as st

from seawarden.alerts import cap, releasability, subscriptions
from seawarden.alerts.releasability import (
    GROUPS,
    JEF,
    NATO,
    label_of,
    narrowest,
    parse_label,
    releasable,
)
from seawarden.errors import ConfigError


@pytest.mark.parametrize("module", [releasability, cap, subscriptions], ids=lambda m: m.__name__)
def test_doctests(module: ModuleType) -> None:
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0


def test_groups() -> None:
    assert len(JEF) == 10
    assert len(NATO) == 32
    assert JEF <= NATO  # every JEF nation is a NATO member since Sweden joined in 2024


@pytest.mark.parametrize(
    ("text", "nations"),
    [
        ("REL JEF", JEF),
        ("rel to gbr, nor", {"GBR", "NOR"}),
        ("REL TO GBR/NOR", {"GBR", "NOR"}),
        ("REL NATO, AUS", NATO | {"AUS"}),
        ("GBR NOR", {"GBR", "NOR"}),
        ("REL TON", {"TON"}),  # Tonga, not "TO" + "N"
    ],
)
def test_parse_label(text: str, nations: set[str]) -> None:
    assert parse_label(text) == nations


@pytest.mark.parametrize("text", ["", "   ", "REL", "REL TO", "REL JEF, XX", "REL NATO1", ","])
def test_parse_label_refuses(text: str) -> None:
    with pytest.raises(ConfigError, match=r"releasability|marking"):
        parse_label(text)


@pytest.mark.parametrize("text", ["REL TO ALL", "REL TO DNL, NOR", "REL JEF, USA, XXX", "REL ANY"])
def test_three_letters_that_are_no_nation_are_refused(text: str) -> None:
    # Any three letters used to pass: `REL TO ALL` meant {"ALL"}, a marking no recipient's
    # audience is ever covered by, so alerts silently went nowhere.
    with pytest.raises(ConfigError, match="not an ISO 3166-1 alpha-3 nation code"):
        parse_label(text)


def test_every_group_member_and_common_partners_are_nations() -> None:
    from seawarden.alerts.releasability import nations
    from seawarden.fleet.identity import mid_table

    assert {flag.alpha3 for flag in mid_table().values()} >= JEF | NATO  # the table suffices
    assert {"AUS", "JPN", "NZL", "KOR", "UKR", "CHE", "AUT", "IRL"} <= nations()
    assert not {"ALL", "REL", "XXX", "EUR", "DNL"} & nations()


def test_a_typo_in_a_subscription_is_a_config_error_at_load() -> None:
    from seawarden.alerts.subscriptions import subscription_from_dict

    base = {"id": "x", "recipient": "X", "areas": "all", "min_severity": "low"}
    with pytest.raises(ConfigError, match="DNL"):
        subscription_from_dict({**base, "cleared_for": "REL TO DNL"})
    with pytest.raises(ConfigError, match="nation: must be an ISO 3166-1 alpha-3 nation"):
        subscription_from_dict({**base, "cleared_for": "REL JEF", "nation": "ALL"})


def test_label_of_refuses_what_is_not_a_nation() -> None:
    with pytest.raises(ConfigError, match="ISO 3166-1"):
        label_of({"gbr"})
    with pytest.raises(ConfigError, match="ISO 3166-1"):
        label_of({"GBR", "ALL"})
    with pytest.raises(ConfigError, match="no nation"):
        label_of(set())


def test_narrowest_and_disjoint() -> None:
    assert narrowest(["REL NATO", "REL JEF", "REL GBR, NOR, USA"]) == "REL GBR, NOR"
    with pytest.raises(ConfigError, match="no nation in common"):
        narrowest(["REL GBR", "REL NOR"])


def test_a_jef_channel_never_gets_a_narrower_marking() -> None:
    assert not releasable("REL GBR, NOR", JEF)
    assert releasable("REL GBR, NOR", frozenset({"NOR"}))
    assert not releasable("REL JEF", frozenset())


# -- properties ----------------------------------------------------------------------------------
_codes = st.sampled_from(sorted(NATO | {"AUS", "JPN", "NZL", "KOR", "UKR", "CHE"}))
_tokens = st.lists(st.one_of(_codes, st.sampled_from(sorted(GROUPS))), min_size=1, max_size=6)
_sets = st.frozensets(_codes, min_size=1, max_size=40)


@st.composite
def _markings(draw: st.DrawFn) -> str:
    prefix = draw(st.sampled_from(["REL ", "REL TO ", "rel ", "  REL  TO  ", ""]))
    sep = draw(st.sampled_from([", ", ",", " ", "/", " , "]))
    words = [w.lower() if draw(st.booleans()) else w for w in draw(_tokens)]
    return prefix + sep.join(words)


@given(_markings())
def test_label_of_round_trips(text: str) -> None:
    nations = parse_label(text)
    label = label_of(nations)
    assert parse_label(label) == nations
    assert label_of(parse_label(label)) == label  # canonical: a fixed point


@given(_sets)
def test_label_of_of_any_set_parses_back(nations: frozenset[str]) -> None:
    assert parse_label(label_of(nations)) == nations


@given(st.lists(_markings(), min_size=1, max_size=4))
def test_narrowest_is_within_each_input(texts: list[str]) -> None:
    sets = [parse_label(t) for t in texts]
    common = frozenset.intersection(*sets)
    if not common:
        with pytest.raises(ConfigError):
            narrowest(texts)
        return
    got = parse_label(narrowest(texts))
    assert got == common
    for s in sets:
        assert got <= s


@given(_markings(), _sets, _sets)
def test_releasable_is_monotonic_in_the_audience(
    text: str, narrow: frozenset[str], extra: frozenset[str]
) -> None:
    wide = narrow | extra
    if releasable(text, wide):
        assert releasable(text, narrow)
    assert releasable(text, narrow) == (narrow <= parse_label(text))


@given(_markings(), _markings(), _sets)
def test_a_narrower_marking_releases_to_fewer(a: str, b: str, audience: frozenset[str]) -> None:
    both = parse_label(a) & parse_label(b)
    if not both:
        return
    if releasable(label_of(both), audience):
        assert releasable(a, audience)
        assert releasable(b, audience)
