"""OASIS CAP 1.2: the message form in which allied operations centres receive a warning.

Coast guards, navies and civil-protection systems already ingest the Common Alerting Protocol;
a seawarden alert revision rendered as CAP reaches their consoles without a bespoke parser.
One revision is one CAP message; the same dictionary drives both renderings, so the XML
(:func:`to_cap_xml`) and the JSON (:func:`to_cap_json`) never disagree.

Choices (``docs/dissemination.md`` has the table and an example):

* ``identifier`` = ``seawarden-<alert id>-r<revision>``: stable across replays (alert ids are
  hashes), unique per revision, free of the spaces, commas, ``<`` and ``&`` CAP forbids there.
* ``sent`` is the alert's *event time* (when the situation was observed), in CAP's
  ``YYYY-MM-DDThh:mm:ss+00:00`` form: UTC, no fractional seconds.
* ``scope`` is always ``Restricted`` with ``restriction`` = the release marking
  (``REL JEF``...). The message is the same for every recipient, so it can be rendered, signed
  and stored once per revision; *who* receives it is decided by the subscriptions
  (:mod:`seawarden.alerts.subscriptions`), not written into ``addresses``.
* ``references`` (Update, Cancel) lists every earlier revision as ``sender,identifier,sent``;
  the caller passes them in ``previous`` (:func:`previous_of` builds them from the earlier
  :class:`~seawarden.alerts.model.Alert` records).
* level → CAP severity: critical→Extreme, high→Severe, medium→Moderate, low/info→Minor;
  urgency: critical→Immediate, high→Immediate when the vessel is inside a corridor or predicted
  to reach one within the hour, else Expected; medium→Expected; low/info→Future; any
  Cancel→Past. Certainty is about the *threat*, which seawarden infers rather than observes,
  so never ``Observed``: score ≥ 80 → Likely, ≥ 40 → Possible, else Unlikely.

Text is made XML-safe (control characters and lone surrogates become U+FFFD, line ends
become ``\\n``); a bad sender, identifier, time or coordinate raises :class:`ValueError`
naming it, so no call ever produces XML that fails the CAP 1.2 schema.

>>> from seawarden.alerts.cap import cap_identifier, cap_time
>>> cap_identifier("3fa2c1", 2)
'seawarden-3fa2c1-r2'
>>> from datetime import UTC, datetime
>>> cap_time(datetime(2024, 12, 25, 10, 1, 0, 250_000, tzinfo=UTC))
'2024-12-25T10:01:00+00:00'
"""

from __future__ import annotations

import logging
import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from shapely.geometry import LineString, Point

from seawarden.alerts.model import STATUSES, Alert
from seawarden.fusion.ids import is_target_id

log = logging.getLogger("seawarden.alerts.cap")

CAP_NS = "urn:oasis:names:tc:emergency:cap:1.2"
EVENT = "Suspicious vessel behaviour near undersea infrastructure"
SENDER_NAME = "seawarden maritime reaction system"
POSITION_RADIUS_KM = 2.0  # circle drawn round the reported position
TRACK_RADIUS_KM = 2.0  # half-width of the corridor drawn round a predicted track

# seawarden level -> (CAP severity, default CAP urgency)
SEVERITY: dict[str, tuple[str, str]] = {
    "critical": ("Extreme", "Immediate"),
    "high": ("Severe", "Expected"),
    "medium": ("Moderate", "Expected"),
    "low": ("Minor", "Future"),
    "info": ("Minor", "Future"),
}
IMMINENT_S = 3600.0  # a high alert this close to a corridor crossing is Immediate

_ID_PART = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
# CAP 1.2 §3.2.1: identifier and sender must not include spaces, commas or < and &.
_CAP_TOKEN = re.compile(r"^[^\s,<&]{1,256}$")
_XML_BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
_HEADLINE_MAX = 160  # CAP recommends headlines under 160 characters


def clean_text(text: str) -> str:
    """Text safe in XML 1.0 and unchanged by a parse: bad characters → U+FFFD, ends → ``\\n``."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _XML_BAD.sub("\ufffd", text)


def cap_time(dt: datetime) -> str:
    """CAP's dateTime: UTC, whole seconds, ``+00:00`` (``Z`` and fractions fail the schema)."""
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError(f"CAP times must be timezone-aware, got naive {dt.isoformat()}")
    return dt.astimezone(UTC).replace(microsecond=0).isoformat(timespec="seconds")


def cap_identifier(alert_id: str, revision: int) -> str:
    """The CAP identifier of one revision of an alert: ``seawarden-<id>-r<revision>``."""
    if not isinstance(alert_id, str) or not _ID_PART.match(alert_id):
        raise ValueError(
            f"alert id {alert_id!r} cannot form a CAP identifier: use letters, digits, '.', "
            "'_', ':' or '-' (no spaces, commas, '<' or '&'), at most 128 characters"
        )
    if isinstance(revision, bool) or not isinstance(revision, int) or revision < 1:
        raise ValueError(f"alert revision must be an integer >= 1, got {revision!r}")
    return f"seawarden-{alert_id}-r{revision}"


def previous_of(alerts: Iterable[Alert]) -> list[tuple[str, datetime]]:
    """``previous`` for :func:`to_cap_xml`, from the earlier revisions' records."""
    return [(cap_identifier(a.id, a.revision), a.event_time) for a in alerts]


def _check_sender(sender: str) -> str:
    if not isinstance(sender, str) or not _CAP_TOKEN.match(sender):
        raise ValueError(
            f"CAP sender {sender!r} is invalid: give a non-empty id without spaces, commas, "
            "'<' or '&', e.g. 'seawarden@moc.example.org'"
        )
    return sender


def _num(x: float, places: int = 5) -> str:
    text = f"{x:.{places}f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _check_point(lat: float, lon: float, what: str) -> None:
    if not (math.isfinite(lat) and math.isfinite(lon)):
        raise ValueError(f"{what}: coordinates must be finite, got lat={lat}, lon={lon}")
    if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
        raise ValueError(f"{what}: lat must be within ±90 and lon within ±180, got {lat}, {lon}")


def _circle(lat: float, lon: float, radius_km: float) -> str:
    return f"{_num(lat)},{_num(lon)} {_num(radius_km, 3)}"


def _track_shapes(points: Sequence[tuple[float, float]]) -> tuple[list[str], list[str]]:
    """CAP polygons and circles covering a predicted track (lat, lon pairs).

    A corridor ``TRACK_RADIUS_KM`` wide round the track, drawn in a plane scaled by the cosine
    of the mean latitude; where that plane is a poor fit (near a pole, across the
    antimeridian) the track is given as circles instead.
    """
    lats = [p[0] for p in points]
    lons = [p[1] for p in points]
    lat0 = sum(lats) / len(lats)
    if abs(lat0) <= 80.0 and max(lons) - min(lons) <= 180.0 and max(abs(v) for v in lats) < 85.0:
        k = math.cos(math.radians(lat0))
        d = TRACK_RADIUS_KM / 111.32  # degrees of latitude
        xy = [(lon * k, lat) for lat, lon in points]
        base = Point(xy[0]) if len(set(xy)) == 1 else LineString(xy)
        hull = base.buffer(d, quad_segs=2).convex_hull
        ring = [(y, x / k) for x, y in hull.exterior.coords]
        if all(-90.0 <= la <= 90.0 and -180.0 <= lo <= 180.0 for la, lo in ring):
            pairs = [f"{_num(la)},{_num(lo)}" for la, lo in ring]
            if len(pairs) >= 4 and pairs[0] == pairs[-1] and len(set(pairs)) >= 3:
                return [" ".join(pairs)], []
    step = max(1, len(points) // 4)
    sample = [*points[::step], points[-1]] if (len(points) - 1) % step else list(points[::step])
    return [], [_circle(la, lo, TRACK_RADIUS_KM) for la, lo in dict.fromkeys(sample)]


def _urgency(alert: Alert, level: str) -> str:
    if alert.msg_type == "Cancel":
        return "Past"
    urgency = SEVERITY[level][1]
    nc = alert.next_crossing
    if level == "high" and nc is not None:
        soon = (nc.eta - alert.event_time).total_seconds() <= IMMINENT_S
        if nc.inside_now or soon:
            urgency = "Immediate"
    return urgency


def _certainty(score: float) -> str:
    if score >= 80:
        return "Likely"
    if score >= 40:
        return "Possible"
    return "Unlikely"


def _headline(alert: Alert) -> str:
    who = clean_text(alert.name).strip() if alert.name else ""
    if is_target_id(alert.mmsi):
        vessel = f"non-AIS target {alert.mmsi} (no AIS)"
    else:
        vessel = f"{who or 'unknown vessel'} (MMSI {alert.mmsi})"
    where = f" near {', '.join(alert.area_ids)}" if alert.area_ids else ""
    if alert.msg_type == "Cancel":
        text = f"Cancelled: {vessel}{where}: risk has subsided"
    else:
        text = f"{alert.severity.upper()} risk: {vessel}{where}"
    text = clean_text(text)
    return text if len(text) <= _HEADLINE_MAX else text[: _HEADLINE_MAX - 1] + "…"


def _description(alert: Alert) -> str:
    lines = [f"Risk score {_num(alert.score, 1)}/100 ({alert.severity})."]
    if alert.reasons:
        lines.append("Reasons:")
        lines += [f"- [{r.detector} +{_num(r.weight, 1)}] {r.text}" for r in alert.reasons]
    elif alert.msg_type == "Cancel":
        lines.append("No finding remains above the alert level.")
    else:
        log.warning("alert %s r%d has no reasons", alert.id, alert.revision)
        lines.append("seawarden recorded no reasons for this revision.")
    lines += [f"Context: {n}" for n in alert.notes]
    nc = alert.next_crossing
    if nc is not None:
        if nc.inside_now:
            lines.append(f"The vessel is inside {nc.area_id} now.")
        else:
            lines.append(
                f"Predicted to reach {nc.area_id} at {cap_time(nc.eta)} "
                f"({nc.distance_m / 1000:.1f} km away)."
            )
    return clean_text("\n".join(lines))


def _instruction(alert: Alert) -> str:
    if alert.msg_type == "Cancel":
        return "Risk has subsided; no further action is requested for this vessel."
    return (
        "Monitor the vessel; verify by radar, patrol or VTS contact before acting; "
        "report observations to the sender. Follow national procedures for any response."
    )


def _parameters(alert: Alert) -> list[dict[str, str]]:
    # A dark vessel seen only by radar/satellite has a seawarden target id, never an MMSI.
    params: list[tuple[str, str]] = [
        ("NonAisTargetId", str(alert.mmsi))
        if is_target_id(alert.mmsi)
        else ("MMSI", str(alert.mmsi))
    ]
    if alert.imo is not None:
        params.append(("IMO", str(alert.imo)))
    if alert.name:
        params.append(("VesselName", alert.name))
    if alert.flag:
        params.append(("Flag", alert.flag))
    params += [
        ("RiskScore", _num(alert.score, 1)),
        ("RiskLevel", alert.severity),
        ("Releasability", alert.releasability),
        ("SeawardenAlertId", alert.id),
        ("SeawardenRevision", str(alert.revision)),
    ]
    if alert.detectors:
        params.append(("Detectors", " ".join(alert.detectors)))
    params += [("Context", n) for n in alert.notes]
    nc = alert.next_crossing
    if nc is not None:
        params += [
            ("NextCrossingArea", nc.area_id),
            ("NextCrossingETA", cap_time(nc.eta)),
            ("NextCrossingDistanceM", str(round(nc.distance_m))),
            ("InsideNow", "true" if nc.inside_now else "false"),
        ]
    watch = alert.watchlist
    if watch:
        entry = watch.get("entry") if isinstance(watch.get("entry"), dict) else {}
        lists = entry.get("lists") if isinstance(entry, dict) else None
        desc = str(watch.get("key", "match"))
        if lists:
            desc += " (" + ", ".join(str(x) for x in lists) + ")"
        params.append(("WatchlistMatch", desc))
    params.append(("Monitored", "true" if alert.monitored else "false"))
    return [{"valueName": n, "value": clean_text(v)} for n, v in params]


def _areas(alert: Alert) -> list[dict[str, Any]]:
    _check_point(alert.lat, alert.lon, f"alert {alert.id} position")
    desc = ", ".join(alert.area_ids) if alert.area_ids else "Open sea"
    areas: list[dict[str, Any]] = [
        {
            "areaDesc": clean_text(f"Vessel position; areas: {desc}"),
            "circle": [_circle(alert.lat, alert.lon, POSITION_RADIUS_KM)],
        }
    ]
    if alert.predicted_track and alert.msg_type != "Cancel":
        pts = [(alert.lat, alert.lon)]
        for t, la, lo in alert.predicted_track:
            _check_point(la, lo, f"alert {alert.id} predicted point at {t}")
            pts.append((la, lo))
        polygons, circles = _track_shapes(pts)
        end = cap_time(alert.predicted_track[-1][0])
        area: dict[str, Any] = {"areaDesc": f"Predicted track (dead reckoning) to {end}"}
        if polygons:
            area["polygon"] = polygons
        if circles:
            area["circle"] = circles
        areas.append(area)
    return areas


def to_cap_json(
    alert: Alert, *, sender: str, previous: Sequence[tuple[str, datetime]] = ()
) -> dict[str, Any]:
    """The CAP 1.2 message for one alert revision, as a dict keyed by CAP element names.

    ``previous``: ``(identifier, sent)`` of the earlier revisions this one refers to; required
    (non-empty) for Update and Cancel. Raises :class:`ValueError` naming what is wrong.
    """
    _check_sender(sender)
    if alert.status not in STATUSES:
        raise ValueError(f"alert status {alert.status!r} is not one of {STATUSES}")
    if alert.msg_type not in ("Alert", "Update", "Cancel"):
        raise ValueError(f"alert msg_type {alert.msg_type!r} is not Alert, Update or Cancel")
    if alert.severity not in SEVERITY:
        raise ValueError(f"alert severity {alert.severity!r} is not one of {list(SEVERITY)}")
    if not math.isfinite(alert.score):
        raise ValueError(f"alert score must be finite, got {alert.score}")
    msg: dict[str, Any] = {
        "identifier": cap_identifier(alert.id, alert.revision),
        "sender": sender,
        "sent": cap_time(alert.event_time),
        "status": alert.status,
        "msgType": alert.msg_type,
        "scope": "Restricted",
        "restriction": clean_text(alert.releasability),
    }
    if alert.msg_type != "Alert":
        if not previous:
            raise ValueError(
                f"alert {alert.id} r{alert.revision} is a {alert.msg_type}: pass the earlier "
                "revisions as previous=[(identifier, sent), ...] (see previous_of)"
            )
        refs = []
        for ident, sent in previous:
            if not isinstance(ident, str) or not _CAP_TOKEN.match(ident):
                raise ValueError(f"referenced identifier {ident!r} is not a CAP identifier")
            refs.append(f"{sender},{ident},{cap_time(sent)}")
        msg["references"] = " ".join(refs)
    elif previous:
        raise ValueError(f"alert {alert.id} is a first revision (Alert): it references nothing")
    msg["incidents"] = f"seawarden-{alert.id}"
    level = alert.severity
    msg["info"] = [
        {
            "language": "en-GB",
            "category": ["Security", "Transport"],
            "event": EVENT,
            "responseType": ["AllClear" if alert.msg_type == "Cancel" else "Monitor"],
            "urgency": _urgency(alert, level),
            "severity": SEVERITY[level][0],
            "certainty": _certainty(alert.score),
            "senderName": SENDER_NAME,
            "headline": _headline(alert),
            "description": _description(alert),
            "instruction": _instruction(alert),
            "parameter": _parameters(alert),
            "area": _areas(alert),
        }
    ]
    return msg


# Element order of the CAP 1.2 schema (xs:sequence), for the keys the dict may hold.
_ALERT_ORDER = (
    "identifier", "sender", "sent", "status", "msgType", "source", "scope", "restriction",
    "addresses", "code", "note", "references", "incidents", "info",
)  # fmt: skip
_INFO_ORDER = (
    "language", "category", "event", "responseType", "urgency", "severity", "certainty",
    "audience", "eventCode", "effective", "onset", "expires", "senderName", "headline",
    "description", "instruction", "web", "contact", "parameter", "resource", "area",
)  # fmt: skip
_AREA_ORDER = ("areaDesc", "polygon", "circle", "geocode", "altitude", "ceiling")


def _q(tag: str) -> str:
    return f"{{{CAP_NS}}}{tag}"


def _emit(parent: ET.Element, data: dict[str, Any], order: Sequence[str]) -> None:
    for key in order:
        if key not in data:
            continue
        values = data[key] if isinstance(data[key], list) else [data[key]]
        for value in values:
            el = ET.SubElement(parent, _q(key))
            if key == "info":
                _emit(el, value, _INFO_ORDER)
            elif key == "area":
                _emit(el, value, _AREA_ORDER)
            elif key in ("parameter", "eventCode", "geocode"):
                ET.SubElement(el, _q("valueName")).text = value["valueName"]
                ET.SubElement(el, _q("value")).text = value["value"]
            else:
                el.text = str(value)


def to_cap_xml(
    alert: Alert, *, sender: str, previous: Sequence[tuple[str, datetime]] = ()
) -> bytes:
    """The CAP 1.2 XML message (UTF-8, with declaration) for one alert revision.

    Same arguments and errors as :func:`to_cap_json`; the XML is built from that dict.
    """
    msg = to_cap_json(alert, sender=sender, previous=previous)
    root = ET.Element(_q("alert"))
    _emit(root, msg, _ALERT_ORDER)
    out: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True, default_namespace=CAP_NS)
    return out


__all__ = [
    "CAP_NS",
    "SEVERITY",
    "cap_identifier",
    "cap_time",
    "clean_text",
    "previous_of",
    "to_cap_json",
    "to_cap_xml",
]
