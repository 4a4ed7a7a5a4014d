"""Subscriptions: loading (every bad file is a ConfigError naming the fix) and matching."""

from __future__ import annotations

import contextlib
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from seawarden.alerts.releasability import JEF, NATO
from seawarden.alerts.subscriptions import (
    Channel,
    Subscription,
    explain_match,
    load_subscriptions,
    matches,
    subscription_from_dict,
)
from seawarden.areas.load import load_areas
from seawarden.errors import ConfigError
from tests.alerts.factories import make_alert
from tests.conftest import REPO

CONFIG = REPO / "config" / "subscriptions.yaml"
AREA_IDS = frozenset(a.id for a in load_areas(REPO / "config" / "areas.geojson"))
JEF_OPS = {
    "gbr-moc": "GBR", "dnk-moc": "DNK", "est-moc": "EST", "fin-moc": "FIN", "isl-jrcc": "ISL",
    "lva-moc": "LVA", "ltu-moc": "LTU", "nld-kwc": "NLD", "nor-njhq": "NOR", "swe-moc": "SWE",
}  # fmt: skip


def _sub(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "id": "dnk-moc",
        "recipient": "Denmark — Joint Operations Centre",
        "nation": "DNK",
        "cleared_for": "REL DNK",
        "areas": ["baltic-pipe", "c-lion1"],
        "min_severity": "medium",
        "channels": [
            {
                "kind": "webhook",
                "target": "http://127.0.0.1:8801/dnk",
                "secret": "SEAWARDEN_DNK_WEBHOOK_KEY",
            }
        ],
    }
    values.update(overrides)
    return values


def _write(tmp_path: Path, doc: Any) -> Path:
    path = tmp_path / "subs.yaml"
    path.write_text(doc if isinstance(doc, str) else yaml.safe_dump(doc, allow_unicode=True))
    return path


def _sub_obj(**overrides: Any) -> Subscription:
    values: dict[str, Any] = {
        "id": "s",
        "recipient": "r",
        "nation": None,
        "audience": frozenset({"DNK"}),
        "areas": None,
        "min_severity": "info",
    }
    values.update(overrides)
    return Subscription(**values)


# -- the example configuration -------------------------------------------------------------------
def test_example_config_validates_against_the_real_areas() -> None:
    subs = {s.id: s for s in load_subscriptions(CONFIG, known_areas=AREA_IDS)}
    for sid, nation in JEF_OPS.items():
        assert subs[sid].nation == nation
        assert subs[sid].audience == {nation}
    assert set(JEF_OPS.values()) == JEF
    assert subs["jef-wide"].audience == JEF
    assert subs["nato-marcom"].audience == NATO
    assert subs["nato-marcom"].nation is None
    assert subs["jef-exercise-cell"].statuses == {"Exercise", "Test"}
    assert all(s.statuses == {"Actual"} for k, s in subs.items() if k != "jef-exercise-cell")
    assert {"estlink-1", "gulf-of-finland-cables"} <= (subs["est-moc"].areas or set())
    assert {"estlink-1", "gulf-of-finland-cables"} <= (subs["fin-moc"].areas or set())
    for s in subs.values():
        for ch in s.channels:
            if ch.kind in ("webhook", "cap_http"):
                assert ch.target.startswith(("http://127.0.0.1:", "https://example.invalid/"))
                assert ch.secret is not None
                # a NAME that secrets.resolve prefixes itself (SEAWARDEN_SECRET_<NAME>)
                assert not ch.secret.startswith("SEAWARDEN_"), ch.secret


def test_example_config_routes_an_estlink_alert() -> None:
    subs = load_subscriptions(CONFIG, known_areas=AREA_IDS)
    alert = make_alert(area_ids=("estlink-2",), severity="high", releasability="REL JEF")
    got = {s.id for s in subs if matches(s, alert)}
    # NATO MARCOM's audience is wider than REL JEF; the exercise cell takes no Actual traffic.
    assert got == {"est-moc", "fin-moc", "isl-jrcc", "jef-wide"}
    marcom = next(s for s in subs if s.id == "nato-marcom")
    assert explain_match(marcom, alert) == "not releasable: REL JEF does not cover audience NATO"
    nato = make_alert(area_ids=("estlink-2",), severity="high", releasability="REL NATO")
    assert "nato-marcom" in {s.id for s in subs if matches(s, nato)}


# -- matching ----------------------------------------------------------------------------------
def test_releasability_is_audience_subset_of_marking() -> None:
    jef_wide = _sub_obj(audience=JEF)
    narrow = make_alert(releasability="REL GBR, NOR")
    assert explain_match(jef_wide, narrow) == (
        "not releasable: REL GBR, NOR does not cover audience JEF"
    )
    assert matches(_sub_obj(audience=frozenset({"NOR"})), narrow)
    assert not matches(_sub_obj(audience=frozenset({"DNK"})), narrow)
    assert matches(jef_wide, make_alert(releasability="REL NATO"))


def test_a_malformed_marking_releases_nothing() -> None:
    reason = explain_match(_sub_obj(), make_alert(releasability="REL ATLANTIS"))
    assert reason is not None
    assert reason.startswith("not releasable: invalid marking")


def test_empty_audience_receives_nothing() -> None:
    assert not matches(_sub_obj(audience=frozenset()), make_alert())


@pytest.mark.parametrize(
    ("sub", "alert", "reason"),
    [
        ({}, {"status": "Exercise"}, "status Exercise not taken (takes Actual)"),
        ({"min_severity": "critical"}, {}, "severity high below minimum critical"),
        ({"areas": frozenset({"norned"})}, {}, "outside subscription areas"),
        ({"areas": frozenset({"norned"})}, {"area_ids": ()}, "areas no area outside"),
        ({"watchlist_only": True}, {"watchlist": None}, "not on the watchlist"),
        ({}, {"severity": "bogus"}, "unknown severity"),
    ],
)
def test_explain_match_names_the_failing_rule(
    sub: dict[str, Any], alert: dict[str, Any], reason: str
) -> None:
    got = explain_match(_sub_obj(**sub), make_alert(**alert))
    assert got is not None
    assert reason in got


@pytest.mark.parametrize(
    ("sub", "alert"),
    [
        ({"min_severity": "high"}, {}),  # equal severity is enough
        ({"areas": frozenset({"estlink-2", "norned"})}, {}),  # any overlap
        ({"watchlist_only": True}, {}),
        ({"statuses": frozenset({"Exercise"})}, {"status": "Exercise"}),
        ({"audience": JEF}, {"releasability": "REL NATO"}),
    ],
)
def test_matches(sub: dict[str, Any], alert: dict[str, Any]) -> None:
    assert matches(_sub_obj(**sub), make_alert(**alert))


_nations = st.frozensets(st.sampled_from(sorted(NATO | {"AUS", "JPN"})), max_size=6)
_marking = st.sampled_from(["REL JEF", "REL NATO", "REL GBR, NOR", "REL DNK", "REL NATO, AUS"])


@given(_nations, _nations, _marking, st.sampled_from(["info", "medium", "critical"]))
def test_a_narrower_audience_gets_whatever_a_wider_one_gets(
    a: frozenset[str], b: frozenset[str], marking: str, minimum: str
) -> None:
    alert = make_alert(releasability=marking)
    wide = _sub_obj(audience=a | b, min_severity=minimum)
    narrow = _sub_obj(audience=a, min_severity=minimum)
    if matches(wide, alert) and a:
        assert matches(narrow, alert)
    assert matches(wide, alert) == (explain_match(wide, alert) is None)


# -- loading: good -------------------------------------------------------------------------------
def test_load_builds_records(tmp_path: Path) -> None:
    doc = {
        "subscriptions": [
            _sub(
                watchlist_only=True,
                statuses=["Actual", "Exercise"],
                channels=[
                    {"kind": "console"},
                    {
                        "kind": "email",
                        "target": "a@dnk.example.invalid, b@localhost",
                        "secret": "SMTP_PASSWORD",
                        "options": {"smtp_port": 8825, "tls": "starttls", "username": "sw"},
                    },
                    {
                        "kind": "mqtt",
                        "target": "mqtts://127.0.0.1:8883/seawarden/dnk",
                        "options": {"format": "cap_xml", "timeout_s": 2.5, "max_attempts": 5},
                    },
                ],
            ),
            _sub(id="nato-marcom", nation=None, cleared_for="REL NATO", areas="all"),
        ]
    }
    dnk, marcom = load_subscriptions(_write(tmp_path, doc), known_areas=AREA_IDS)
    assert dnk.areas == {"baltic-pipe", "c-lion1"}
    assert dnk.watchlist_only
    assert dnk.statuses == {"Actual", "Exercise"}
    assert dnk.channels[0] == Channel(kind="console", target="")
    assert dnk.channels[1].options == {"smtp_port": "8825", "tls": "starttls", "username": "sw"}
    assert dnk.channels[2].options == {"format": "cap_xml", "timeout_s": "2.5", "max_attempts": "5"}
    assert marcom.areas is None
    assert marcom.audience == NATO


def test_subscription_from_dict_is_the_same_validation() -> None:
    with pytest.raises(ConfigError, match=r"<api>: subscription 'dnk-moc': min_severity"):
        subscription_from_dict(_sub(min_severity="urgent"), source="<api>")


# -- loading: bad ------------------------------------------------------------------------------
BAD: list[tuple[str, dict[str, Any], str]] = [
    ("unknown key", {"colour": "red"}, r"'dnk-moc': colour: Extra inputs are not permitted"),
    ("bad id", {"id": "DNK MOC"}, r"subscription #1: id: must be 1..64 of a-z"),
    ("long id", {"id": "a" * 65}, r"id: must be 1\.\.64"),
    ("severity", {"min_severity": "urgent"}, r"min_severity: must be one of info, low"),
    ("marking", {"cleared_for": "REL ATLANTIS"}, r"cleared_for: .*ISO 3166-1 alpha-3"),
    ("nation", {"nation": "DK"}, r"nation: must be an ISO 3166-1 alpha-3"),
    ("nation not in audience", {"cleared_for": "REL NOR"}, r"nation DNK is not in its audience"),
    ("areas str", {"areas": "baltic"}, r"areas: must be 'all' or a list"),
    ("areas empty", {"areas": []}, r"areas: is empty"),
    ("areas int", {"areas": 5}, r"areas"),
    ("status", {"statuses": ["Real"]}, r"statuses: must be a non-empty list of Actual"),
    ("watchlist type", {"watchlist_only": "yes"}, r"watchlist_only: Input should be a valid"),
    ("channels type", {"channels": "webhook"}, r"channels: Input should be a valid list"),
    ("missing", {"cleared_for": None}, r"cleared_for"),
    (
        "file url",
        {"channels": [{"kind": "webhook", "target": "file:///etc/passwd", "secret": "K"}]},
        r"webhook target must be a http:// or https:// URL like https://host/path, not file:",
    ),
    (
        "ftp url",
        {"channels": [{"kind": "cap_http", "target": "ftp://example.invalid/x", "secret": "K"}]},
        r"cap_http target must be a http:// or https:// URL .* not ftp:",
    ),
    (
        "bad port",
        {"channels": [{"kind": "webhook", "target": "http://127.0.0.1:99999/x"}]},
        r"not a valid URL",
    ),
    (
        "bad host",
        {"channels": [{"kind": "webhook", "target": "http://exa_mple!/x"}]},
        r"not a valid host name",
    ),
    (
        "space in url",
        {"channels": [{"kind": "webhook", "target": "http://127.0.0.1/a b"}]},
        r"spaces or control characters",
    ),
    (
        "mqtt wildcard",
        {"channels": [{"kind": "mqtt", "target": "mqtt://127.0.0.1:1883/alerts/#"}]},
        r"topic without wildcards",
    ),
    (
        "mqtt scheme",
        {"channels": [{"kind": "mqtt", "target": "http://127.0.0.1:1883/alerts"}]},
        r"mqtt target must be a mqtt:// or mqtts:// URL like mqtt://127",
    ),
    (
        "email",
        {"channels": [{"kind": "email", "target": "ops at dnk"}]},
        r"email target must be addresses separated by commas",
    ),
    (
        "console target",
        {"channels": [{"kind": "console", "target": "stdout"}]},
        r"console target must be empty",
    ),
    ("kind", {"channels": [{"kind": "pigeon", "target": ""}]}, r"channels\.0\.kind"),
    (
        "unknown option",
        {"channels": [{"kind": "webhook", "target": "http://a.b/", "options": {"retry": 3}}]},
        r"unknown webhook option 'retry'; allowed: \['format', 'max_attempts', 'max_bytes', 'prox",
    ),
    (
        "secret option",
        {"channels": [{"kind": "email", "target": "a@b.c", "options": {"password": "x"}}]},
        r"secrets belong in `secret:` as a NAME",
    ),
    (
        "bad option value",
        {"channels": [{"kind": "email", "target": "a@b.c", "options": {"tls": "yes"}}]},
        r"email option tls: must be one of none, starttls, ssl",
    ),
    (
        "timeout",
        {"channels": [{"kind": "webhook", "target": "http://a.b/", "options": {"timeout_s": 0}}]},
        r"webhook option timeout_s: must be > 0",
    ),
    (
        "email cap_json",  # e-mail renders the envelope or attaches CAP XML, not bare CAP JSON
        {"channels": [{"kind": "email", "target": "a@b.c", "options": {"format": "cap_json"}}]},
        r"email option format: must be one of json, cap_xml",
    ),
    (
        "option type",
        {"channels": [{"kind": "email", "target": "a@b.c", "options": {"tls": ["ssl"]}}]},
        r"options\.tls",
    ),
]


@pytest.mark.parametrize(("overrides", "match"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_subscription_is_a_config_error(
    tmp_path: Path, overrides: dict[str, Any], match: str
) -> None:
    path = _write(tmp_path, {"subscriptions": [_sub(**overrides)]})
    with pytest.raises(ConfigError, match=match) as exc:
        load_subscriptions(path)
    assert str(path) in str(exc.value)


SECRET = "hunter2-Zq9xVb7dS3kP"


@pytest.mark.parametrize(
    "channel",
    [
        {"kind": "webhook", "target": "http://127.0.0.1/x", "secret": SECRET},
        {"kind": "webhook", "target": f"https://ops:{SECRET}@example.invalid/x"},
        {"kind": "mqtt", "target": f"mqtt://u:{SECRET}@127.0.0.1:1883/t"},
    ],
    ids=["inline-secret", "url-credentials", "mqtt-credentials"],
)
def test_secrets_are_refused_and_never_echoed(tmp_path: Path, channel: dict[str, str]) -> None:
    path = _write(tmp_path, {"subscriptions": [_sub(channels=[channel])]})
    with pytest.raises(ConfigError) as exc:
        load_subscriptions(path)
    text = str(exc.value)
    assert SECRET not in text
    assert "'dnk-moc'" in text
    assert "secret" in text


def test_duplicate_ids(tmp_path: Path) -> None:
    path = _write(tmp_path, {"subscriptions": [_sub(), _sub(recipient="again")]})
    with pytest.raises(ConfigError, match=r"subscription 'dnk-moc' appears twice"):
        load_subscriptions(path)


def test_unknown_area_with_suggestion(tmp_path: Path) -> None:
    path = _write(tmp_path, {"subscriptions": [_sub(areas=["estlink1", "atlantis"])]})
    load_subscriptions(path)  # fine without the area list
    with pytest.raises(ConfigError, match=r"'dnk-moc': unknown area ids 'atlantis', 'estlink1' "):
        load_subscriptions(path, known_areas=AREA_IDS)
    with pytest.raises(ConfigError, match=r"did you mean 'estlink-1'"):
        load_subscriptions(path, known_areas=AREA_IDS)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("", r"expected a mapping with one key `subscriptions:`"),
        ("- 1\n- 2\n", r"expected a mapping"),
        ("just a string", r"expected a mapping"),
        ("subscriptions: 5\n", r"`subscriptions:` must be a list"),
        (
            "subscriptions: []\nextra: 1\n",
            r"expected a mapping .* got \['extra', 'subscriptions'\]",
        ),
        ("subscriptions:\n  - 42\n", r"subscription #1 must be a mapping"),
        ("subscriptions: [\n", r"not valid YAML at line"),
        ("subscriptions: !!python/object:os.system {}\n", r"not valid YAML"),
        ("subscriptions: []\nsubscriptions: []\n", r"line 2: duplicate key 'subscriptions'"),
        ("a: &a [1, 2]\nb: *a\n", r"aliases"),
        ("{[1]: 2}\n", r"unhashable key|not valid YAML"),
    ],
)
def test_hostile_files_are_config_errors(tmp_path: Path, text: str, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        load_subscriptions(_write(tmp_path, text))


def test_billion_laughs_is_refused_quickly(tmp_path: Path) -> None:
    lines = ['l0: &l0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 9) + "]" for i in range(1, 10)]
    with pytest.raises(ConfigError, match="aliases"):
        load_subscriptions(_write(tmp_path, "\n".join(lines)))


def test_huge_binary_and_missing_files(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    big.write_text("# " + "x" * (1 << 20) + "\nsubscriptions: []\n")
    with pytest.raises(ConfigError, match="larger than"):
        load_subscriptions(big)
    binary = tmp_path / "bin.yaml"
    binary.write_bytes(b"\xff\xfe\x00subscriptions")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_subscriptions(binary)
    with pytest.raises(ConfigError, match="cannot read subscriptions"):
        load_subscriptions(tmp_path / "missing.yaml")


@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_crash(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "s.yaml"
        path.write_bytes(data)
        with contextlib.suppress(ConfigError):
            load_subscriptions(path)


_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=20)
)
_trees = st.recursive(
    _scalars,
    lambda kids: (
        st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=12), kids, max_size=4)
    ),
    max_leaves=20,
)
_fields = st.fixed_dictionaries(
    {},
    optional={k: _trees | st.just(v) for k, v in _sub().items() if k != "channels"}
    | {
        "channels": st.lists(
            st.dictionaries(st.sampled_from(["kind", "target", "secret", "options"]), _trees),
            max_size=2,
        )
    },
)


@given(st.lists(_fields, max_size=3))
def test_arbitrary_structures_are_loaded_or_refused(
    tmp_path_factory: Any, items: list[Any]
) -> None:
    path = tmp_path_factory.mktemp("subs") / "s.yaml"
    path.write_text(yaml.safe_dump({"subscriptions": items}))
    try:
        subs = load_subscriptions(path)
    except ConfigError:
        return
    for s in subs:
        assert s.audience
        assert s.min_severity in ("info", "low", "medium", "high", "critical")
