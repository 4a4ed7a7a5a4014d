"""The incident report shows the exact radar/satellite input behind each fusion finding.

Real AIS background (the Solent, Jan 2016, shifted in time only); the sensors are
SIMULATED from the ships' truth because no radar or SAR record of those waters exists
offline: the Calshot radar's TTM sentences (``sim/sensors.py``) and a Sentinel-1 pass
(``sim/satellite.py``). Everything else is the real pipeline writing a real store, and the
report read back from it.
"""

from __future__ import annotations

import asyncio
import csv
import random
import sqlite3
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from shapely.geometry import box

from seawarden.fusion.ids import is_target_id
from seawarden.fusion.sensors import load_sensors
from seawarden.model import PositionReport
from seawarden.pipeline.live import LiveRunner
from seawarden.pipeline.replay import Replay
from seawarden.pipeline.settings import RunConfig
from seawarden.report.digest import evidence_digest
from seawarden.report.gather import gather
from seawarden.report.html import render_html
from seawarden.sim.satellite import sar_pass, write_csv, write_geojson
from seawarden.sim.sensors import radar_scenario
from seawarden.store.evidence import ContactRow
from seawarden.store.sqlite import SQLiteStore
from seawarden.testing import read_track
from tests.conftest import REPO, SHARED_DATA

SOLENT = SHARED_DATA / "tracks/solent/SolentAIS_20160112_130211.csv"
SENSORS = REPO / "config/sensors.example.yaml"
DARK_MMSI = 636759897  # the dark_spell scenario ship (AIS off from minute 20)


def config() -> RunConfig:
    return RunConfig(
        areas=REPO / "config/areas.geojson",
        watchlists=(REPO / "config/watchlist.csv",),
        sensors=SENSORS,
    )


@dataclass(frozen=True)
class DarkRun:
    feed: Path
    store: Path
    alert_id: str

    def lines(self) -> dict[int, bytes]:
        data = self.feed.read_bytes().split(b"\n")
        return {i: line.rstrip(b"\r") for i, line in enumerate(data, 1)}


@pytest.fixture(scope="module")
def dark(tmp_path_factory: pytest.TempPathFactory) -> DarkRun:
    """``dark_spell`` in the Solent with the Calshot radar, the feed cut at minute 32."""
    if not SOLENT.is_file():
        pytest.skip(f"shared data missing: {SOLENT}")
    tmp = tmp_path_factory.mktemp("fusion-evidence")
    radar = load_sensors(SENSORS).get("vts-solent")
    assert radar is not None
    feed = radar_scenario(
        tmp, "dark_spell:region=solent", background=SOLENT, radar=radar, radar_seed=1,
        keep_s=32 * 60,
    ).feed  # fmt: skip
    db = tmp / "w.db"
    store = SQLiteStore(db)
    try:
        Replay([feed], config(), store=store).run()
    finally:
        store.close()
    conn = sqlite3.connect(db)
    row = conn.execute(
        "SELECT id FROM alerts WHERE mmsi = ? AND revision = 1 ORDER BY time", (DARK_MMSI,)
    ).fetchone()
    conn.close()
    assert row is not None, "the dark ship tracked by radar must be alerted"
    return DarkRun(feed=feed, store=db, alert_id=str(row[0]))


def _dark_tracked(conn: sqlite3.Connection, alert_id: str) -> list[dict[str, Any]]:
    """dark_tracked phases of the dark ship up to the alert's last revision (what the
    report covers)."""
    (last,) = conn.execute(
        "SELECT body FROM alerts WHERE id = ? ORDER BY revision DESC LIMIT 1", (alert_id,)
    ).fetchone()
    until = datetime.fromisoformat(orjson.loads(last)["event_time"].replace("Z", "+00:00"))
    rows = conn.execute(
        "SELECT attrs FROM events WHERE kind = 'fusion' AND mmsi = ? AND time <= ?",
        (DARK_MMSI, until.isoformat()),
    ).fetchall()
    attrs = [orjson.loads(r[0]) for r in rows]
    return [a for a in attrs if a.get("type") == "dark_tracked"]


def test_report_shows_the_exact_ttm_lines_behind_dark_tracked(dark: DarkRun) -> None:
    conn = sqlite3.connect(dark.store)
    try:
        tracked = _dark_tracked(conn, dark.alert_id)
        assert tracked, "no dark_tracked finding for the dark ship"
        cited = {
            (e["time"], e["line_no"]) for a in tracked for e in a["evidence"] if e.get("sensor")
        }
        assert len(cited) >= 10, cited
        bundle = gather(conn, dark.alert_id)
    finally:
        conn.close()
    lines = dark.lines()
    matches = [m for f in bundle.findings for m in f.matches if m.report.get("sensor")]
    by_cite = {(m.report["time"], m.report["line_no"]): m for m in matches}
    assert cited <= set(by_cite), "a cited contact is missing from the report"
    for key in cited:
        m = by_cite[key]
        assert m.exact, m.report
        row = m.rows[0]
        assert isinstance(row, ContactRow)
        assert row.raw == lines[row.line_no].strip(), row.line_no  # byte for byte
        assert b"TTM" in row.raw
        assert row.sensor == "vts-solent"
        assert row.track == m.report["track"]
        assert row.station == m.report["source"]
        assert row.source == dark.feed.name
    html = render_html(bundle)
    for key in cited:
        assert by_cite[key].rows[0].raw.decode("ascii") in html
    total = sum(len(f.matches) for f in bundle.findings)
    matched = sum(1 for f in bundle.findings for m in f.matches if m.rows)
    assert matched == total, f"{matched}/{total} matched"
    assert f"{total} of {total} matched" in html


def test_digest_covers_contact_input(dark: DarkRun) -> None:
    conn = sqlite3.connect(dark.store)
    try:
        bundle = gather(conn, dark.alert_id)
    finally:
        conn.close()
    before = evidence_digest(bundle)
    f = next(f for f in bundle.findings if any(m.report.get("sensor") for m in f.matches))
    m = next(m for m in f.matches if m.report.get("sensor"))
    row = m.rows[0]
    assert isinstance(row, ContactRow)
    changed = replace(
        m, rows=(replace(row, raw=row.raw[:-1] + bytes([row.raw[-1] ^ 1])), *m.rows[1:])
    )
    f2 = replace(f, matches=tuple(changed if x is m else x for x in f.matches))
    b2 = replace(bundle, findings=tuple(f2 if x is f else x for x in bundle.findings))
    assert evidence_digest(b2) != before


def test_a_store_without_the_contact_table_still_gives_a_report(
    dark: DarkRun, tmp_path: Path
) -> None:
    """A store written before contact evidence: the report is built, the AIS evidence is
    still matched, the contacts are flagged as unretained and the store says why."""
    old = tmp_path / "old.db"
    old.write_bytes(dark.store.read_bytes())
    conn = sqlite3.connect(old)
    conn.execute("DROP TABLE evidence_contacts")
    conn.commit()
    try:
        bundle = gather(conn, dark.alert_id)
    finally:
        conn.close()
    assert not bundle.contact_table
    assert bundle.evidence_table
    contact = [m for f in bundle.findings for m in f.matches if m.report.get("sensor")]
    ais = [m for f in bundle.findings for m in f.matches if not m.report.get("sensor")]
    assert contact
    assert all(not m.rows for m in contact)
    assert all(m.rows for m in ais)  # AIS evidence (if cited) is still matched
    html = render_html(bundle)
    assert "no evidence_contacts table" in html
    assert "no raw message retained for this report" in html


# -- a SAR pass sees a ship that reports no AIS ----------------------------------------------


def _sar_inputs(tmp: Path, fmt: str) -> tuple[Path, Path, list[dict[str, Any]]]:
    """Real Solent AIS up to minute 78 with one real ship (234586000, in IFA2) removed, and
    a simulated Sentinel-1 pass at minute 78 that detects the ships in its footprint."""
    dark_mmsi = 234586000
    records = read_track(SOLENT)
    truth: dict[int, list[PositionReport]] = {}
    for r in records:
        if isinstance(r, PositionReport):
            truth.setdefault(r.mmsi, []).append(r)
    t0 = min(r.time for r in records)
    when = t0 + timedelta(minutes=78)
    rows, feature = sar_pass(
        truth,
        pass_id="S1A_IW_test_0001",
        sensor=load_sensors(SENSORS).get("S1A"),  # type: ignore[arg-type]
        time=when,
        footprint=box(-1.25, 50.62, -0.85, 50.82),
        lengths=dict.fromkeys(truth, 120.0),
        rng=random.Random(3),
        detect_prob=1.0,
    )
    assert any(int(row["truth"]) == dark_mmsi for row in rows)
    ais = tmp / "ais.csv"
    cut = when - timedelta(seconds=5)
    with SOLENT.open() as src, ais.open("w", newline="") as dst:
        reader = csv.DictReader(src)
        writer = csv.DictWriter(dst, fieldnames=reader.fieldnames or [])
        writer.writeheader()
        writer.writerows(
            r
            for r in reader
            if int(r["MMSI"]) != dark_mmsi
            and datetime.fromisoformat(r["Time"]).replace(tzinfo=UTC) <= cut
        )
    if fmt == "csv":
        detections = tmp / "s1a.csv"
        write_csv(rows, detections)
    else:
        detections = tmp / "s1a.geojson"
        write_geojson(rows, [feature], detections)
    return ais, detections, rows


def _paced(inputs: list[Path], db: Path) -> None:
    """``serve --replay``'s path (LiveRunner.run_paced): files in turn, as a live feed."""

    async def run() -> None:
        store = SQLiteStore(db)
        try:
            runner = LiveRunner(config(), store=store)
            await runner.run_paced(inputs, speed=1e9, stop=asyncio.Event())
        finally:
            store.close()

    asyncio.run(run())


@pytest.mark.parametrize("fmt", ["csv", "geojson"])
def test_sar_dark_target_report_shows_the_detection_input(tmp_path: Path, fmt: str) -> None:
    if not SOLENT.is_file():
        pytest.skip(f"shared data missing: {SOLENT}")
    ais, detections, _ = _sar_inputs(tmp_path, fmt)
    db = tmp_path / "w.db"
    _paced([ais, detections], db)
    conn = sqlite3.connect(db)
    try:
        alert = conn.execute(
            "SELECT id, mmsi FROM alerts WHERE revision = 1 AND body LIKE '%fusion%' ORDER BY time"
        ).fetchall()
        targets = [(str(a), int(m)) for a, m in alert if is_target_id(int(m))]
        assert targets, f"no dark_target alert: {alert}"
        bundle = gather(conn, targets[0][0])
    finally:
        conn.close()
    matches = [m for f in bundle.findings for m in f.matches if m.report.get("sensor")]
    assert matches, "the dark_target finding cites no detection"
    text = detections.read_bytes()
    lines = text.split(b"\n")
    features = orjson.loads(text)["features"] if fmt == "geojson" else []
    for m in matches:
        assert m.rows, m.report
        assert m.exact, m.report
        row = m.rows[0]
        assert isinstance(row, ContactRow)
        assert row.pass_id == "S1A_IW_test_0001"
        assert row.sensor == "S1A"
        assert row.source == detections.name
        assert row.line_no == m.report["line_no"]
        if fmt == "csv":
            assert row.fmt == "csv"
            assert row.raw == lines[row.line_no - 1].rstrip(b"\r")
            assert row.header == lines[0]
        else:
            assert row.fmt == "geojson"
            assert orjson.loads(row.raw) == features[row.line_no - 1]
        assert row.raw.decode() in render_html(bundle).replace("&quot;", '"')


def test_replay_side_inputs_retain_the_detection_input(tmp_path: Path) -> None:
    if not SOLENT.is_file():
        pytest.skip(f"shared data missing: {SOLENT}")
    ais, detections, _ = _sar_inputs(tmp_path, "csv")
    db = tmp_path / "w.db"
    store = SQLiteStore(db)
    try:
        Replay([ais, detections], config(), store=store).run()
    finally:
        store.close()
    conn = sqlite3.connect(db)
    try:
        alerts = conn.execute("SELECT id, mmsi FROM alerts WHERE revision = 1").fetchall()
        target = next(str(a) for a, m in alerts if is_target_id(int(m)))
        bundle = gather(conn, target)
    finally:
        conn.close()
    matches = [m for f in bundle.findings for m in f.matches if m.report.get("sensor")]
    assert matches
    assert all(m.exact for m in matches)
