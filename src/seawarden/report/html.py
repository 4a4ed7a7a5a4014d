"""Render a :class:`~seawarden.report.gather.Bundle` as one self-contained HTML document.

No external resource of any kind: styles inline, charts and the map as inline SVG, a
Content-Security-Policy that forbids loading anything (``default-src 'none'``) in case a
viewer ignores that, and no script. Every value from the store — vessel names, callsigns
and destinations typed by a ship's crew are hostile input — passes through :func:`esc`;
raw messages are shown as their exact bytes (``\\xNN`` for any non-ASCII byte) in a
monospace block.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import orjson

from seawarden import __version__
from seawarden.report.digest import evidence_digest
from seawarden.report.gather import Bundle, Finding
from seawarden.report.mapsvg import MapPoint, track_map
from seawarden.report.style import CSS
from seawarden.report.svg import (
    SEVERITY_COLOURS,
    Bar,
    Lane,
    Mark,
    Series,
    TimeAxis,
    esc,
    series_plot,
    timeline,
    utc,
)
from seawarden.store.evidence import ContactRow, EvidenceRow, Match, is_contact_report

CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none';"
    " form-action 'none'"
)


def raw_text(data: bytes) -> str:
    """The exact bytes of a message as text: ASCII as is, anything else as ``\\xNN``."""
    return data.decode("ascii", "backslashreplace")


def _t(t: datetime | str | None) -> str:
    if t is None:
        return "—"
    if isinstance(t, str):
        try:
            return utc(datetime.fromisoformat(t.replace("Z", "+00:00")))
        except ValueError:
            return esc(t)
    return utc(t)


def _v(value: Any, digits: int | None = None) -> str:
    if value is None or value == "":
        return "—"
    if digits is not None and isinstance(value, (int, float)):
        return f"{value:.{digits}f}"
    if isinstance(value, (dict, list)):
        return esc(orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode())
    return esc(value)


def _sev(level: Any) -> str:
    name = str(level) if str(level) in SEVERITY_COLOURS else "info"
    return f'<span class="sev sev-{name}">{esc(level)}</span>'


def _kv(rows: Iterable[tuple[str, str]]) -> str:
    body = "".join(f"<tr><th>{esc(k)}</th><td>{v}</td></tr>" for k, v in rows)
    return f'<table class="kv">{body}</table>'


def _table(head: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    h = "".join(f"<th>{esc(c)}</th>" for c in head)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{h}</tr></thead><tbody>{body}</tbody></table>"


# -- sections -----------------------------------------------------------------------------


def _summary(b: Bundle) -> str:
    last, first = b.revisions[-1], b.revisions[0]
    v = b.vessel or {}
    w = b.watchlist
    watch = "none"
    if w:
        entry = w.get("entry") or {}
        watch = (
            f"{_v(entry.get('name'))} (IMO {_v(entry.get('imo'))}) on {_v(entry.get('lists'))}"
            f" — matched by {_v(w.get('key'))}, score {_v(w.get('score'))}:"
            f" {_v(entry.get('reason'))} [source: {_v(entry.get('source'))}]"
        )
    return _kv(
        [
            ("Vessel name (as transmitted)", _v(v.get("name") or last.get("name"))),
            ("MMSI", _v(b.mmsi)),
            ("IMO", _v(v.get("imo") or last.get("imo"))),
            ("Call sign", _v(v.get("callsign"))),
            ("Flag (from MMSI MID)", _v(v.get("flag") or last.get("flag"))),
            ("Ship type (AIS code)", _v(v.get("ship_type"))),
            ("MMSI class", _v(v.get("mmsi_class"))),
            ("Watchlist", watch),
            ("First alert", f"{_t(first.get('event_time'))} — {_sev(first.get('severity'))}"),
            (
                "Latest revision",
                f"#{_v(last.get('revision'))} {_v(last.get('msg_type'))} at"
                f" {_t(last.get('event_time'))} — {_sev(last.get('severity'))}"
                f" score {_v(last.get('score'))}",
            ),
            ("Areas", _v(", ".join(sorted({a for r in b.revisions for a in r["area_ids"]})))),
            (
                "Status / release marking",
                f"{_v(last.get('status'))} / {_v(last.get('releasability'))}",
            ),
        ]
    )


def _frac(t: datetime, axis: TimeAxis) -> float:
    return (t.timestamp() - axis.t0) / (axis.t1 - axis.t0)


def _numbered(b: Bundle) -> list[tuple[int, Finding, Match]]:
    out, n = [], 0
    for f in b.findings:
        for m in f.matches:
            n += 1
            out.append((n, f, m))
    return out


def _map(b: Bundle, axis: TimeAxis) -> str:
    track = [MapPoint(lat=p.lat, lon=p.lon, frac=_frac(p.time, axis)) for p in b.track]
    findings = [
        MapPoint(
            lat=float(m.report["lat"]),
            lon=float(m.report["lon"]),
            label=f"[{n}] {f.kind} evidence {m.report.get('time')}",
        )
        for n, f, m in _numbered(b)
        if m.report.get("lat") is not None and m.report.get("lon") is not None
    ]
    revs = [
        MapPoint(
            lat=float(r["lat"]),
            lon=float(r["lon"]),
            label=f"revision {r['revision']} {r['msg_type']} {r['severity']}",
            severity=str(r["severity"]),
        )
        for r in b.revisions
    ]
    legend = (
        f'<p class="sub">Track {esc(_t(axis.t0_dt))} <span class="ramp"></span>'
        f" {esc(_t(axis.t1_dt))} (colour = time). Circles: positions of finding evidence;"
        " squares: alert revisions (colour = severity); orange: watched corridors with their"
        " centre line dashed; land: Natural Earth. Azimuthal equidistant projection.</p>"
    )
    return track_map(track, findings, revs, b.areas) + legend


def _plots(b: Bundle, axis: TimeAxis) -> str:
    marks = [
        Mark(
            time=_parse(r["event_time"]),
            colour=SEVERITY_COLOURS.get(str(r["severity"]), "#111"),
            label=f"revision {r['revision']} {r['msg_type']} {r['severity']}",
        )
        for r in b.revisions
    ]
    ev_speed, ev_course = [], []
    for n, f, m in _numbered(b):
        t = datetime.fromisoformat(str(m.report["time"]))
        label = f"[{n}] {f.kind} {m.report['time']}"
        if m.report.get("speed_kn") is not None:
            ev_speed.append(Mark(time=t, colour="#111827", label=label, value=m.report["speed_kn"]))
        if m.report.get("course_deg") is not None:
            ev_course.append(
                Mark(time=t, colour="#111827", label=label, value=m.report["course_deg"])
            )
    speed = Series(
        label="SOG kn",
        colour="#1d4ed8",
        points=[(p.time, p.speed_kn) for p in b.track if p.speed_kn is not None],
    )
    top = max([*(v for _, v in speed.points), *(m.value or 0 for m in ev_speed), 1.0])
    speed_svg = series_plot(
        "Speed over ground (kn)",
        [speed],
        axis,
        y_range=(0.0, float(top) * 1.1),
        marks=[*marks, *ev_speed],
    )
    course = Series(
        label="COG °",
        colour="#1d4ed8",
        points=[(p.time, p.course_deg) for p in b.track if p.course_deg is not None],
        dots=True,
    )
    heading = Series(
        label="heading °",
        colour="#16a34a",
        points=[(p.time, float(p.heading_deg)) for p in b.track if p.heading_deg is not None],
        dots=True,
    )
    course_svg = series_plot(
        "Course over ground and true heading (°)",
        [course, heading],
        axis,
        y_range=(0.0, 360.0),
        y_ticks=(0, 90, 180, 270, 360),
        marks=[*marks, *ev_course],
    )
    return (
        speed_svg
        + course_svg
        + '<p class="sub">Lines: track as stored (positions table); open circles: the reports'
        " each finding cites as evidence; dashed verticals: alert revisions.</p>"
    )


def _timeline(b: Bundle, axis: TimeAxis) -> str:
    lanes: list[Lane] = []
    alert = Lane(name="alert revisions")
    for r in b.revisions:
        alert.ticks.append(
            Mark(
                time=_parse(r["event_time"]),
                colour=SEVERITY_COLOURS.get(str(r["severity"]), "#111"),
                label=f"#{r['revision']} {r['msg_type']} {r['severity']} {r['event_time']}",
            )
        )
    lanes.append(alert)
    for f in b.findings:
        lane = Lane(name=f.kind)
        lane.bars.append(
            Bar(
                start=f.phases[0].time,
                end=f.phases[-1].time,
                colour="#7c3aed",
                label=f"{f.kind} {f.id}: {f.phases[0].phase} {utc(f.phases[0].time)}"
                f" → {f.phases[-1].phase} {utc(f.phases[-1].time)}",
            )
        )
        lane.ticks.extend(
            Mark(time=p.time, colour="#4c1d95", label=f"{p.phase} {utc(p.time)}") for p in f.phases
        )
        lanes.append(lane)
    areas: dict[str, Lane] = {}
    for e in b.area_events:
        lane = areas.setdefault(str(e.area_id), Lane(name=f"area {e.area_id}"))
        lane.ticks.append(
            Mark(time=e.time, colour="#c2410c", label=f"{e.kind} {e.area_id} {utc(e.time)}")
        )
    lanes.extend(areas[k] for k in sorted(areas))
    return timeline("Timeline (UTC)", lanes, TimeAxis(axis.t0, axis.t1, x0=170))


def _revisions(b: Bundle) -> str:
    rows = []
    for r in b.revisions:
        reasons = "<br>".join(
            f"{esc(x.get('detector'))} +{_v(x.get('weight'), 1)}: {esc(x.get('text'))}"
            for x in r.get("reasons") or ()
        )
        nc = r.get("next_crossing")
        nxt = (
            "—"
            if not nc
            else f"{esc(nc.get('area_id'))} at {_t(nc.get('eta'))}, {_v(nc.get('distance_m'))} m"
        )
        rows.append(
            [
                _v(r.get("revision")),
                _v(r.get("msg_type")),
                _t(r.get("event_time")),
                _sev(r.get("severity")),
                _v(r.get("score"), 1),
                f"{_v(r.get('lat'), 5)}, {_v(r.get('lon'), 5)}",
                _v(", ".join(r.get("area_ids") or ())),
                reasons or "—",
                nxt,
                _v(r.get("releasability")),
            ]
        )
    head = ["#", "type", "event time", "severity", "score", "position", "areas", "reasons"]
    return _table([*head, "next crossing", "marking"], rows)


# What a contact's input number counts, per raw format.
_UNIT = {"asterix": "data block", "geojson": "feature"}


def _contact_text(r: ContactRow) -> str:
    """A contact's raw input as shown: an ASTERIX block as hex (16 bytes a line), any
    other as its exact bytes."""
    if r.fmt == "asterix":
        hexed = r.raw.hex(" ")
        return "\n".join(hexed[i : i + 48].strip() for i in range(0, len(hexed), 48))
    return raw_text(r.raw)


def _message_cell(rows: Sequence[EvidenceRow | ContactRow], m: Match) -> str:
    if not rows:
        return '<span class="warn">no raw message retained for this report</span>'
    parts = []
    for i, r in enumerate(rows):
        cls = "exact" if i == 0 and m.exact else "other"
        note = "the reception the detector used" if cls == "exact" else "same report, repeat"
        lines = ", ".join(str(n) for n in r.line_nos)
        head = ""
        if r.header is not None:
            head = f'<pre class="raw other">{esc(raw_text(r.header))}</pre>'
        received = _t(r.received) if r.received else "at event time (from the file)"
        unit, text, what = "line", raw_text(r.raw), ""
        if isinstance(r, ContactRow):
            unit, text = _UNIT.get(r.fmt, "line"), _contact_text(r)
            note = "the input fusion used" if cls == "exact" else "same contact, other input"
            ring = f"track {r.track}" if r.track else f"pass {r.pass_id}" if r.pass_id else ""
            what = f"{esc(r.kind)} <code>{esc(r.sensor)}</code> {esc(ring)} ({esc(r.fmt)}) · "
        parts.append(
            f'<div class="{cls}">{head}<pre class="raw">{esc(text)}</pre>'
            f"{what}station <code>{esc(r.station)}</code> · received {received}"
            f" · <code>{esc(r.source)}</code> {unit} {esc(lines)} · {esc(note)}</div>"
        )
    return "".join(parts)


def _nav(r: Mapping[str, Any]) -> str:
    """The nav column: AIS navigational status, or which sensor and track saw a contact."""
    if not is_contact_report(r):
        return _v(r.get("nav_status"))
    ring = r.get("track") or r.get("pass_id")
    return f"{_v(r.get('kind'))} {_v(r.get('sensor'))}" + (f" {_v(ring)}" if ring else "")


def _finding(b: Bundle, f: Finding, numbers: Mapping[int, int]) -> str:
    phases = _table(
        ["phase", "time", "position", "confidence", "reasons"],
        [
            [
                _v(p.phase),
                _t(p.time),
                f"{_v(p.lat, 5)}, {_v(p.lon, 5)}",
                _v(p.attrs.get("confidence")),
                "<br>".join(esc(x) for x in p.attrs.get("reasons") or ()) or "—",
            ]
            for p in f.phases
        ],
    )
    params = _table(["parameter", "value"], [[esc(k), _v(v)] for k, v in sorted(f.params.items())])
    ev_rows = []
    for i, m in enumerate(f.matches):
        r = m.report
        ev_rows.append(
            [
                f"[{numbers[id(m)] if id(m) in numbers else i + 1}]",
                _t(r.get("time")),
                f"{_v(r.get('lat'), 5)}, {_v(r.get('lon'), 5)}",
                _v(r.get("speed_kn"), 1),
                _v(r.get("course_deg"), 1),
                _v(r.get("heading_deg")),
                _nav(r),
                _message_cell(m.rows, m),
            ]
        )
    matched = sum(1 for m in f.matches if m.rows)
    return (
        f'<section class="finding"><h3 class="finding-head">{esc(f.kind)} — detector version'
        f" {esc(f.version)} — situation <code>{esc(f.id)}</code></h3>"
        f"{phases}<h3>Parameters as used</h3>{params}"
        f"<h3>Evidence: {len(f.matches)} report(s), {matched} matched to raw messages</h3>"
        + _table(
            ["#", "event time", "position", "SOG", "COG", "HDG", "nav / sensor", "raw message(s)"],
            ev_rows,
        )
        + "</section>"
    )


def _identity(b: Bundle) -> str:
    if not b.identity:
        return '<p class="note">No identity changes recorded.</p>'
    return _table(
        ["time", "field", "old", "new", "source"],
        [
            [_t(r["time"]), _v(r["field"]), _v(r["old"]), _v(r["new"]), _v(r["source"])]
            for r in b.identity
        ],
    )


def _area_events(b: Bundle) -> str:
    if not b.area_events:
        return '<p class="note">No area events in the window.</p>'
    return _table(
        ["time", "event", "area", "position", "facts"],
        [
            [
                _t(e.time),
                _v(e.kind),
                _v(e.area_id),
                f"{_v(e.lat, 5)}, {_v(e.lon, 5)}",
                _v({k: v for k, v in e.attrs.items() if k != "visit_id"}),
            ]
            for e in b.area_events
        ],
    )


def _provenance(b: Bundle) -> str:
    rows = []
    for r in b.runs:
        core = r.config.get("core") or {}
        retention = (
            f"{_v(core.get('evidence'))}, {_v(core.get('evidence_horizon_s'))} s /"
            f" {_v(core.get('evidence_max_lines'))} messages per vessel"
            + (
                f"; contacts {_v(core.get('evidence_contact_max_lines'))} per track/pass,"
                f" {_v(core.get('evidence_contact_max_total'))} in all"
                if "evidence_contact_max_lines" in core
                else ""
            )
            if "evidence" in core
            else "not recorded (run predates evidence retention)"
        )
        rows.append(
            [
                f"<code>{esc(r.run_id)}</code>",
                _v(r.command),
                "<br>".join(esc(i) for i in r.inputs) or "—",
                f"{_v(r.started)} → {_v(r.finished)} ({_v(r.status)})",
                f"<code>{esc(r.config_digest)}</code>",
                "<br>".join(f"{esc(k)} {esc(v)}" for k, v in sorted(r.versions.items())),
                retention,
            ]
        )
    head = ["run", "command", "inputs", "wall-clock time", "config SHA-256", "versions"]
    runs = _table([*head, "evidence retention"], rows)
    detectors = _table(
        ["detector", "version", "situation", "parameters (as recorded on the events)"],
        [
            [_v(f.kind), _v(f.version), f"<code>{esc(f.id)}</code>", _v(dict(f.params))]
            for f in b.findings
        ],
    )
    return (
        f"<h3>Detectors</h3>{detectors}<h3>Runs that wrote this store</h3>{runs}"
        f"<p>Report built by seawarden {esc(__version__)}.</p>"
    )


def _extent(b: Bundle) -> tuple[datetime, datetime]:
    """From the first to the last thing shown (track, finding phases, revisions)."""
    times = [p.time for p in b.track] + [p.time for f in b.findings for p in f.phases]
    times += [_parse(r["event_time"]) for r in b.revisions]
    return (min(times), max(times)) if times else b.window


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def render_html(b: Bundle, *, generated: datetime | None = None) -> str:
    """The report; ``generated`` (wall clock) is printed but not part of the digest."""
    start, end = _extent(b)
    pad = max((end - start) * 0.02, timedelta(minutes=1))
    axis = TimeAxis.of(start - pad, end + pad)
    last = b.revisions[-1]
    marking = esc(last.get("releasability") or "UNMARKED")
    name = b.vessel.get("name") if b.vessel else None
    name = name or last.get("name") or "unknown vessel"
    numbered = _numbered(b)
    numbers = {id(m): n for n, _, m in numbered}
    total = len(numbered)
    matched = sum(1 for _, _, m in numbered if m.rows)
    exact = sum(1 for _, _, m in numbered if m.exact)
    findings = "".join(_finding(b, f, numbers) for f in b.findings) or (
        '<p class="note">No detector findings are recorded for this alert.</p>'
    )
    warn = ""
    if not b.evidence_table:
        warn = (
            '<p class="warn">This store has no evidence_messages table: the run that wrote it'
            " did not retain raw messages. Findings are shown as decoded reports only.</p>"
        )
    elif matched < total:
        warn = (
            f'<p class="warn">{total - matched} of {total} evidence report(s) have no retained'
            " raw message (older than the retention horizon or count when the alert was"
            " raised, or the run was resumed after them).</p>"
        )
    cited = any(is_contact_report(m.report) for _, _, m in numbered)
    if b.evidence_table and not b.contact_table and cited:
        warn += (
            '<p class="warn">This store has no evidence_contacts table: the run that wrote it'
            " did not retain radar/satellite input. Contacts are shown as decoded only.</p>"
        )
    digest = evidence_digest(b)
    gen = f" Generated {esc(utc(generated))}." if generated is not None else ""
    body = f"""
<div class="marking">{marking}</div>
<h1>Incident evidence report — {esc(name)} (MMSI {esc(b.mmsi)})</h1>
<p class="sub">Alert <code>{esc(b.alert_id)}</code>, {len(b.revisions)} revision(s) shown.
All times UTC.{gen}</p>
{warn}
<h2>1. Summary</h2>{_summary(b)}
<h2>2. Track over the watched areas</h2>{_map(b, axis)}
<h2>3. Timeline</h2>{_timeline(b, axis)}
<h2>4. Speed and heading</h2>{_plots(b, axis)}
<h2>5. Alert revisions</h2>{_revisions(b)}
<h2>6. Findings and the raw messages behind them</h2>
<p>Each finding's evidence reports were matched to the retained raw messages by MMSI, event
time and message type, radar/satellite contacts by sensor, track or pass and event time
({matched} of {total} matched; {exact} to the exact reception the detector read, same
station and input line). Messages are shown byte for byte as received, tag block included;
multi-part messages show every part; ASTERIX data blocks as hex; a satellite CSV row with
the file's header line; a GeoJSON feature as compact JSON.</p>
{findings}
<h2>7. Identity history</h2>{_identity(b)}
<h2>8. Area events</h2>{_area_events(b)}
<h2>9. Provenance</h2>{_provenance(b)}
<h2>10. Integrity</h2>
<p>SHA-256 of the evidence content: <code class="digest">{digest}</code></p>
<p class="sub">Covers the revisions shown, vessel identity and history, every finding with its
phases, version and parameters, every raw message listed (bytes, station, source, lines,
times), the track and the runs' configuration digests and versions — not the layout. Recompute
it from the store with <code>seawarden report {esc(b.alert_id)} --store STORE --digest</code>.</p>
<div class="marking">{marking}</div>
<footer>seawarden {esc(__version__)} · evidence report · alert {esc(b.alert_id)}</footer>
"""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Evidence report {esc(b.alert_id)} — {esc(name)}</title>"
        f"<style>{CSS}</style></head><body>{body}</body></html>\n"
    )
