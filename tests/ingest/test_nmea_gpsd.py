"""The NMEA decoder against gpsd's own decoded output for the same real sentences.

gpsd's test suite (BSD-2-Clause, ../shared/data/nmea/gpsd) ships raw AIVDM logs and, in
the ``.chk`` files, the JSON gpsd decoded from them. Each JSON object follows the
sentence(s) it came from, so every message is checked on its own: positions, static data,
sentinels turned into None.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from seawarden.ingest.nmea import NmeaDecoder
from seawarden.model import PositionReport, StaticReport
from tests.conftest import SHARED_DATA

GPSD = SHARED_DATA / "nmea" / "gpsd"
INTERLEAVED = ["ais-nmea.log.chk", "ais-18-27.log.chk", "ais-raw-messages.log.chk"]
POSITION_TYPES = {1, 2, 3, 18, 19, 27}


def groups(chk: Path) -> list[tuple[list[str], dict[str, Any]]]:
    """(sentences, gpsd JSON) pairs: each JSON with the AIVDM lines just before it."""
    out: list[tuple[list[str], dict[str, Any]]] = []
    pending: list[str] = []
    for line in chk.read_text(encoding="utf-8").splitlines():
        if line.startswith("{"):
            obj = json.loads(line)
            # gpsd sometimes repeats a JSON report with no new sentence: nothing to compare.
            if obj.get("class") == "AIS" and pending:
                out.append((pending, obj))
            pending = []
        elif line.startswith("!AIVD"):
            pending.append(line)
    return out


def decode(lines: list[str]) -> list[Any]:
    dec = NmeaDecoder(source="gpsd")
    items: list[Any] = []
    for i, line in enumerate(lines, 1):
        items.extend(dec.feed(line, i))
    items.extend(dec.flush())
    return items


def _close(a: float | None, b: float | None, tol: float) -> bool:
    if a is None or b is None:
        return a is b
    return abs(a - b) <= tol


def check_position(rep: PositionReport, exp: dict[str, Any]) -> None:
    t = exp["type"]
    assert rep.mmsi == exp["mmsi"]
    assert rep.msg_type == t
    div = 600.0 if t == 27 else 600_000.0
    assert _close(rep.lat, exp["lat"] / div, 1e-6)
    assert _close(rep.lon, exp["lon"] / div, 1e-6)
    if t == 27:
        speed = None if exp["speed"] >= 63 else float(exp["speed"])
        course = None if exp["course"] >= 360 else float(exp["course"])
    else:
        speed = None if exp["speed"] >= 1023 else exp["speed"] / 10
        course = None if exp["course"] >= 3600 else exp["course"] / 10
        heading = None if exp["heading"] >= 360 else exp["heading"]
        assert rep.heading_deg == heading
    assert _close(rep.speed_kn, speed, 1e-9)
    assert _close(rep.course_deg, course, 1e-9)
    if "status" in exp:
        assert rep.nav_status == (None if exp["status"] == 15 else exp["status"])


def check_static(rep: StaticReport, exp: dict[str, Any]) -> None:
    assert rep.mmsi == exp["mmsi"]
    # gpsd reports a 24B together with the name it cached from the 24A; we emit each part
    # as it comes and leave merging to the fleet, so a 24B carries no name here.
    part_b = exp["type"] == 24 and "shiptype" in exp
    if "shipname" in exp and not part_b:
        assert rep.name == (exp["shipname"].replace("@", " ").strip() or None)
    if "callsign" in exp:
        assert rep.callsign == (exp["callsign"].replace("@", " ").strip() or None)
    if exp["type"] == 5:
        assert rep.imo == (exp["imo"] or None)
        draught = exp["draught"] / 10
        assert rep.draught_m == (draught or None)
        assert rep.destination == (exp["destination"].replace("@", " ").strip() or None)
    if "to_bow" in exp:
        length = exp["to_bow"] + exp["to_stern"]
        assert rep.length_m == (float(length) if length else None)


@pytest.mark.parametrize("chk", INTERLEAVED)
def test_every_gpsd_message_matches(chk: str) -> None:
    pairs = groups(GPSD / chk)
    assert len(pairs) > 100
    checked = {"position": 0, "static": 0, "other": 0}
    for lines, exp in pairs:
        items = decode(lines)
        positions = [i for i in items if isinstance(i, PositionReport)]
        statics = [i for i in items if isinstance(i, StaticReport)]
        t = exp["type"]
        if t in POSITION_TYPES:
            lat_na = exp["lat"] == (54600 if t == 27 else 54_600_000)
            lon_na = exp["lon"] == (108600 if t == 27 else 108_600_000)
            if lat_na or lon_na:
                assert positions == [], lines
                continue
            assert len(positions) == 1, (lines, items)
            check_position(positions[0], exp)
            checked["position"] += 1
        if t in (5, 19):
            assert len(statics) == 1, (lines, items)
            check_static(statics[0], exp)
            checked["static"] += 1
        if t == 24:
            # gpsd prints one object for a 24A+24B pair; we emit each part.
            assert 1 <= len(statics) <= 2, (lines, items)
            check_static(statics[-1], exp)
            if len(statics) == 2:
                assert statics[0].name == (exp["shipname"].strip() or None)
            checked["static"] += 1
        if t not in POSITION_TYPES and t not in (5, 24):
            assert positions == []
            assert statics == []
            checked["other"] += 1
    assert checked["position"] > 50


def test_scaled_sample_matches_in_order() -> None:
    """sample.aivdm has no interleaved JSON: compare the vessel messages in sequence."""
    items = decode((GPSD / "sample.aivdm").read_text(encoding="utf-8").splitlines())
    ours = [(i.mmsi, i.msg_type) for i in items if isinstance(i, PositionReport)]
    expected = []
    for line in (GPSD / "sample.aivdm.js.chk").read_text(encoding="utf-8").splitlines():
        obj = json.loads(line)
        if obj["type"] in POSITION_TYPES and obj["lat"] != 91 and obj["lon"] != 181:
            expected.append(obj)
    assert ours == [(e["mmsi"], e["type"]) for e in expected]
    reps = [i for i in items if isinstance(i, PositionReport)]
    for rep, exp in zip(reps, expected, strict=True):
        tol = 1e-4 if exp["type"] == 27 else 1e-6  # gpsd prints type 27 to 4 decimals
        assert rep.lat == pytest.approx(exp["lat"], abs=tol)
        assert rep.lon == pytest.approx(exp["lon"], abs=tol)
        if exp.get("speed") is not None and exp["speed"] < 102.3:
            assert rep.speed_kn == pytest.approx(exp["speed"])
