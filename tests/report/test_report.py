"""The evidence report of a real replayed anchor-drag alert: exact, self-contained, escaped."""

from __future__ import annotations

import shutil
import sqlite3
from html.parser import HTMLParser
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from seawarden.cli import app
from seawarden.report import build_html, evidence_digest, gather
from seawarden.report.pdf import find_chromium, html_to_pdf
from tests.report.conftest import Replayed


class Parsed(HTMLParser):
    """Tags, their attributes, the text of <pre class="raw"> blocks and of every SVG."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.raw: list[str] = []
        self.text: list[str] = []
        self._in_raw = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.tags.append((tag, a))
        if tag == "pre" and a.get("class") == "raw":
            self._in_raw = True
            self.raw.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "pre":
            self._in_raw = False

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._in_raw:
            self.raw[-1] += data


def parse(html: str) -> Parsed:
    p = Parsed()
    p.feed(html)
    p.close()
    return p


@pytest.fixture(scope="module")
def report(replayed: Replayed) -> str:
    conn = sqlite3.connect(replayed.store)
    try:
        return build_html(conn, replayed.alert_id)
    finally:
        conn.close()


def _events(replayed: Replayed) -> list[tuple[str, str, str, dict[str, object]]]:
    conn = sqlite3.connect(replayed.store)
    try:
        return [
            (str(r[0]), str(r[1]), str(r[2]), orjson.loads(r[3]))
            for r in conn.execute(
                "SELECT id, kind, producer_version, attrs FROM events"
                " WHERE mmsi = ? AND kind IN ('anchor_drag', 'course_speed')",
                (replayed.mmsi,),
            )
        ]
    finally:
        conn.close()


def test_report_holds_the_exact_triggering_lines(replayed: Replayed, report: str) -> None:
    shown = set(parse(report).raw)
    lines = replayed.lines()
    opened = [attrs for _, kind, _, attrs in _events(replayed) if kind == "anchor_drag"]
    assert opened
    for attrs in opened:
        for e in attrs["evidence"]:  # type: ignore[attr-defined]
            line = lines[int(e["line_no"])].decode("ascii")
            assert line in shown, line  # byte for byte (the HTML escapes are undone)


def test_each_finding_names_detector_version_and_parameters(
    replayed: Replayed, report: str
) -> None:
    text = " ".join(parse(report).text)
    for eid, kind, version, attrs in _events(replayed):
        assert eid in report
        assert f"{kind} — detector version {version}" in text
        params = attrs["params"]
        assert isinstance(params, dict)
        for key, value in params.items():
            assert key in text
            if value is None:
                continue
            shown = orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
            assert (str(value) in text) or (shown in text), (key, value)


def test_map_shows_the_corridor_land_and_track(report: str) -> None:
    p = parse(report)
    maps = [a for t, a in p.tags if t == "svg" and a.get("class") == "map"]
    assert len(maps) == 1
    classes = [a.get("class") for t, a in p.tags if t in ("path", "line", "circle")]
    assert classes.count("area") >= 1
    assert classes.count("track") >= 100
    assert "finding" in classes
    assert "Nord Stream corridor" in report


def test_plots_and_timeline_are_inline_svg(report: str) -> None:
    p = parse(report)
    labels = [a.get("aria-label") for t, a in p.tags if t == "svg"]
    assert "Speed over ground (kn)" in labels
    assert "Course over ground and true heading (°)" in labels
    assert "Timeline (UTC)" in labels
    assert sum(1 for t, _ in p.tags if t == "polyline") >= 1


def test_report_loads_no_external_resource(report: str) -> None:
    p = parse(report)
    for tag, attrs in p.tags:
        assert tag not in ("script", "link", "iframe", "object", "embed", "img", "base")
        for name in ("src", "href", "xlink:href", "srcset", "action", "poster", "data"):
            value = attrs.get(name)
            assert value is None or value.startswith(("data:", "#")), (tag, name, value)
    assert "url(" not in report
    assert "@import" not in report
    assert "default-src 'none'" in report  # CSP: a viewer may load nothing either


def test_hostile_names_are_escaped(replayed: Replayed, tmp_path: Path) -> None:
    db = tmp_path / "hostile.db"
    shutil.copy(replayed.store, db)
    evil = '<script>alert("x")</script><img src=http://evil/x.png>'
    conn = sqlite3.connect(db)
    conn.execute(
        "UPDATE vessels SET name = ?, callsign = ? WHERE mmsi = ?", (evil, evil, replayed.mmsi)
    )
    bodies = conn.execute("SELECT rowid, body FROM alerts WHERE id = ?", (replayed.alert_id,))
    for rowid, body in list(bodies):
        doc = orjson.loads(body)
        doc["name"] = evil
        doc["reasons"][0]["text"] = evil
        conn.execute("UPDATE alerts SET body = ? WHERE rowid = ?", (orjson.dumps(doc), rowid))
    conn.commit()
    html = build_html(conn, replayed.alert_id)
    conn.close()
    assert "<script" not in html
    assert "<img" not in html
    assert "&lt;script&gt;" in html
    assert evil in " ".join(parse(html).text)  # shown, as text


def test_digest_is_stable_and_changes_with_the_evidence(replayed: Replayed, tmp_path: Path) -> None:
    db = tmp_path / "tampered.db"
    shutil.copy(replayed.store, db)
    conn = sqlite3.connect(db)
    before = evidence_digest(gather(conn, replayed.alert_id))
    assert before == evidence_digest(gather(conn, replayed.alert_id))
    html = build_html(conn, replayed.alert_id)
    assert before in html
    # one byte of one message the report presents changes
    cited = next(attrs for _, kind, _, attrs in _events(replayed) if kind == "anchor_drag")
    line_no = int(cited["evidence"][0]["line_no"])  # type: ignore[index]
    digest, raw = conn.execute(
        "SELECT digest, raw FROM evidence_messages WHERE mmsi = ? AND line_no = ?",
        (replayed.mmsi, line_no),
    ).fetchone()
    conn.execute(
        "UPDATE evidence_messages SET raw = ? WHERE digest = ?",
        (bytes(raw[:-1]) + (b"0" if raw[-1:] != b"0" else b"1"), digest),
    )
    conn.commit()
    assert evidence_digest(gather(conn, replayed.alert_id)) != before
    conn.close()


def test_cli_writes_html_and_prints_the_same_digest(replayed: Replayed, tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    runner = CliRunner()
    res = runner.invoke(
        app, ["report", replayed.alert_id, "--store", str(replayed.store), "--out", str(out)]
    )
    assert res.exit_code == 0, res.output
    dig = runner.invoke(
        app, ["report", replayed.alert_id, "--store", str(replayed.store), "--digest"]
    )
    assert dig.exit_code == 0, dig.output
    sha = dig.stdout.strip()
    assert len(sha) == 64
    assert sha in out.read_text(encoding="utf-8")
    missing = runner.invoke(app, ["report", "nope", "--store", str(replayed.store), "--digest"])
    assert missing.exit_code != 0


@pytest.mark.skipif(
    find_chromium() is None,
    reason="chromium not installed (Debian package `chromium`; the e2e setup installs it)",
)
def test_pdf_is_printed_by_chromium(replayed: Replayed, report: str, tmp_path: Path) -> None:
    pdf = html_to_pdf(report)
    assert pdf.startswith(b"%PDF-")
    assert pdf.count(b"/Type /Page") >= 3 or pdf.count(b"/Type/Page") >= 3
    out = tmp_path / "r.pdf"
    res = CliRunner().invoke(
        app, ["report", replayed.alert_id, "--store", str(replayed.store), "--out", str(out)]
    )
    assert res.exit_code == 0, res.output
    assert out.read_bytes().startswith(b"%PDF-")
