"""Satellite detections and pass footprints: sat-csv, GFW-shaped CSV, sat-geojson.

Sensors come from the repository's own ``config/sensors.example.yaml`` (S1A sar, S2B
optical, two radars). The round trip runs the simulator over real Solent AIS traffic from
the shared data (MANIFEST.md); no satellite product of that day is public, so the detections
are simulated and the test says so.
"""

from __future__ import annotations

import gzip
import json
import math
import random
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapely.geometry import MultiPolygon, Polygon, box

from seawarden.fusion.sensors import SensorRegistry, load_sensors
from seawarden.geo.sphere import distance_m
from seawarden.ingest.csv_detect import read_csv_records
from seawarden.ingest.satellite import (
    SatelliteFileSource,
    SatelliteItem,
    detect_satellite_format,
    iter_passes,
)
from seawarden.model import Contact, PositionReport, Rejection, SensorPass
from seawarden.sim.satellite import sar_pass, write_csv, write_geojson
from tests.conftest import REPO, SHARED_DATA

SENSORS = load_sensors(REPO / "config" / "sensors.example.yaml")
T0 = datetime(2016, 1, 12, 13, 30, tzinfo=UTC)
OWN_HEADER = "time,lat,lon,length_m,heading_deg,confidence,sensor,pass_id\n"
SOLENT = SHARED_DATA / "tracks" / "solent" / "SolentAIS_20160112_130211.csv"
SCENE = "S1A_IW_GRDH_1SDV_20210101T100000_20210101T100025_035949_0435A0_ABCD"


def read(
    path: Path, sensors: SensorRegistry = SENSORS, **kw: Any
) -> tuple[list[tuple[int, SatelliteItem]], SatelliteFileSource]:
    src = SatelliteFileSource(path, sensors, **kw)
    return list(src), src


def write(tmp_path: Path, text: str, name: str = "det.csv") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def fc(*features: dict[str, Any]) -> str:
    return json.dumps({"type": "FeatureCollection", "features": list(features)})


def point(lon: float, lat: float, **props: Any) -> dict[str, Any]:
    return {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [lon, lat]},
        "properties": props,
    }


def poly(geom: Any, **props: Any) -> dict[str, Any]:
    from shapely.geometry import mapping

    g = mapping(geom) if not isinstance(geom, dict) else geom
    return {"type": "Feature", "geometry": g, "properties": props}


SOLENT_BOX = box(-1.5, 50.6, -0.9, 50.9)


# --------------------------------------------------------------------------- CSV


def test_own_csv_shape(tmp_path: Path) -> None:
    p = write(
        tmp_path,
        OWN_HEADER
        + "2016-01-12T13:30:00Z,50.77,-1.09,120.5,45,0.93,S1A,P1\n"
        + "2016-01-12T13:30:00+01:00,50.70,-1.20,,,,S2B,\n",
    )
    items, src = read(p)
    assert [n for n, _ in items] == [2, 3]
    a, b = (item for _, item in items)
    assert isinstance(a, Contact)
    assert isinstance(b, Contact)
    assert (a.time, a.lat, a.lon, a.length_m, a.heading_deg) == (T0, 50.77, -1.09, 120.5, 45.0)
    assert (a.confidence, a.sensor, a.kind, a.pass_id) == (0.93, "S1A", "sar", "P1")
    assert a.track is None
    assert a.sigma_m is None
    assert (a.source, a.line_no) == ("det.csv", 2)
    # An offset is converted; missing optional fields take Contact's defaults.
    assert b.time == T0 - timedelta(hours=1)
    assert (b.kind, b.length_m, b.heading_deg, b.confidence, b.pass_id) == (
        "optical",
        None,
        None,
        1.0,
        None,
    )
    assert src.stats.contacts == 2
    assert src.stats.rejected == {}


def test_gfw_documented_columns_and_scene_prefix_sensor(tmp_path: Path) -> None:
    # Column names as in GFW_technical_documentation/SAR-object-detections.md; the BigQuery
    # export writes times with a trailing " UTC". No sensor column: the S1A scene prefix.
    p = write(
        tmp_path,
        "detect_id,scene_id,detect_timestamp,detect_lon,detect_lat,presence,inferred_length_m\n"
        f"{SCENE};1.5;54.2,{SCENE},2021-01-01 10:00:12.5 UTC,1.5,54.2,0.87,88.2\n",
    )
    assert detect_satellite_format(p) == "sat-csv"
    items, _ = read(p)
    ((_, c),) = items
    assert isinstance(c, Contact)
    assert c.time == datetime(2021, 1, 1, 10, 0, 12, 500000, tzinfo=UTC)
    assert (c.lat, c.lon, c.confidence, c.length_m) == (54.2, 1.5, 0.87, 88.2)
    assert (c.sensor, c.pass_id) == ("S1A", SCENE)


def test_gfw_download_shape_with_mmsi_column(tmp_path: Path) -> None:
    # Matched GFW rows may carry the AIS MMSI; the scene_id still marks a detection product.
    p = write(
        tmp_path,
        "scene_id,timestamp,lat,lon,presence_score,length_m,mmsi,matched_category\n"
        f"{SCENE},2021-01-01T10:00:12Z,54.2,1.5,0.55,40,235070762,matched_fishing\n",
    )
    assert detect_satellite_format(p) == "sat-csv"
    items, _ = read(p)
    ((_, c),) = items
    assert isinstance(c, Contact)
    assert c.confidence == 0.55
    assert c.length_m == 40.0


def test_default_sensor_and_column_precedence(tmp_path: Path) -> None:
    p = write(
        tmp_path,
        "time,lat,lon,confidence,sensor\n"
        "2016-01-12T13:30:00Z,50.7,-1.1,0.9,\n"
        "2016-01-12T13:30:00Z,50.7,-1.1,0.9,S1A\n",
    )
    items, _ = read(p, default_sensor="S2B")
    assert [getattr(i, "sensor", None) for _, i in items] == ["S2B", "S1A"]
    items, src = read(p)
    assert isinstance(items[0][1], Rejection)
    assert items[0][1].reason == "unknown_sensor"
    assert src.stats.rejected == {"unknown_sensor": 1}


def test_percent_confidence_is_scaled_and_counted(tmp_path: Path) -> None:
    p = write(
        tmp_path,
        "time,lat,lon,presence_pct,sensor\n"
        "2016-01-12T13:30:00Z,50.7,-1.1,87,S1A\n"
        "2016-01-12T13:30:00Z,50.7,-1.1,187,S1A\n",
    )
    items, src = read(p)
    c, r = items[0][1], items[1][1]
    assert isinstance(c, Contact)
    assert c.confidence == pytest.approx(0.87)
    assert isinstance(r, Rejection)
    assert r.reason == "bad_confidence"
    assert src.stats.confidence_scaled == 1


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ("yesterday,50.7,-1.1,0.9,S1A", "bad_time"),
        (",50.7,-1.1,0.9,S1A", "bad_time"),
        ("1e400,50.7,-1.1,0.9,S1A", "bad_time"),
        ("2016-01-12T13:30:00Z,91,-1.1,0.9,S1A", "bad_position"),
        ("2016-01-12T13:30:00Z,50.7,180.5,0.9,S1A", "bad_position"),
        ("2016-01-12T13:30:00Z,nan,-1.1,0.9,S1A", "bad_position"),
        ("2016-01-12T13:30:00Z,0,0,0.9,S1A", "bad_position"),
        ("2016-01-12T13:30:00Z,north,-1.1,0.9,S1A", "bad_position"),
        ("2016-01-12T13:30:00Z,,-1.1,0.9,S1A", "bad_position"),
        ("2016-01-12T13:30:00Z,50.7,-1.1,1.5,S1A", "bad_confidence"),
        ("2016-01-12T13:30:00Z,50.7,-1.1,-0.1,S1A", "bad_confidence"),
        ("2016-01-12T13:30:00Z,50.7,-1.1,high,S1A", "bad_confidence"),
        ("2016-01-12T13:30:00Z,50.7,-1.1,nan,S1A", "bad_confidence"),
        ("2016-01-12T13:30:00Z,50.7,-1.1,0.9,S9Z", "unknown_sensor"),
        ("2016-01-12T13:30:00Z,50.7,-1.1,0.9,vts-solent", "unknown_sensor"),
        ("2016-01-12T13:30:00Z,50.7,-1.1,0.9", "malformed"),
        ("2016-01-12T13:30:00Z,50.7,-1.1,0.9,S1A,extra", "malformed"),
        ("", "malformed"),
    ],
)
def test_csv_rejections(tmp_path: Path, row: str, reason: str) -> None:
    p = write(tmp_path, "time,lat,lon,confidence,sensor\n" + row + "\n")
    items, src = read(p)
    assert len(items) == 1
    line_no, r = items[0]
    assert isinstance(r, Rejection)
    assert (r.reason, r.line_no, line_no, r.source) == (reason, 2, 2, "det.csv")
    assert r.raw == row
    assert src.stats.rejected == {reason: 1}
    assert src.stats.contacts == 0


@pytest.mark.parametrize("length", ["-5", "0", "501", "nan", "long", "inf"])
def test_bad_length_keeps_detection(tmp_path: Path, length: str) -> None:
    p = write(tmp_path, OWN_HEADER + f"2016-01-12T13:30:00Z,50.7,-1.1,{length},400,0.9,S1A,\n")
    items, src = read(p)
    ((_, c),) = items
    assert isinstance(c, Contact)
    assert c.length_m is None
    assert c.heading_deg is None
    assert (src.stats.bad_length, src.stats.bad_heading, src.stats.rejected) == (1, 1, {})


def test_naive_time_is_utc_and_counted(tmp_path: Path) -> None:
    p = write(
        tmp_path,
        "time,lat,lon,confidence,sensor\n"
        "2016-01-12 13:30:00,50.7,-1.1,0.9,S1A\n"
        "1452605400,50.7,-1.1,0.9,S1A\n"
        "1452605400000,50.7,-1.1,0.9,S1A\n",
    )
    items, src = read(p)
    assert [getattr(i, "time", None) for _, i in items] == [T0, T0, T0]
    assert src.stats.assumed_utc == 1


def test_header_without_position_is_one_rejection(tmp_path: Path) -> None:
    p = write(tmp_path, "time,confidence,sensor\n2016-01-12T13:30:00Z,0.9,S1A\n")
    items, src = read(p, fmt="sat-csv")
    assert [(n, getattr(i, "reason", None)) for n, i in items] == [(1, "malformed")]
    assert src.stats.as_dict()["rejected.malformed"] == 1


def test_truncated_gzip_csv(tmp_path: Path) -> None:
    body = OWN_HEADER + "2016-01-12T13:30:00Z,50.7,-1.1,100,45,0.9,S1A,P\n" * 5000
    blob = gzip.compress(body.encode())
    p = tmp_path / "det.csv.gz"
    p.write_bytes(blob[: len(blob) // 2])
    items, src = read(p, fmt="sat-csv")
    assert isinstance(items[-1][1], Rejection)
    assert items[-1][1].reason == "truncated_file"
    assert src.stats.contacts > 0
    assert src.stats.rejected == {"truncated_file": 1}


def test_empty_file_yields_nothing(tmp_path: Path) -> None:
    items, _ = read(write(tmp_path, ""), fmt="sat-csv")
    assert items == []


# --------------------------------------------------------------------------- GeoJSON


def test_geojson_detections_and_footprints(tmp_path: Path) -> None:
    doc = fc(
        point(-1.1, 50.7, time="2016-01-12T13:30:00Z", confidence=0.9, sensor="S1A", pass_id="P1"),
        point(-1.1, 50.95, time="2016-01-12T13:30:00Z", confidence=0.8, pass_id="P1"),
        point(-1.1, 50.905, time="2016-01-12T13:30:00Z", length_m=30, pass_id="P1"),
        poly(
            SOLENT_BOX,
            pass_id="P1",
            sensor="S1A",
            start="2016-01-12T13:29:50Z",
            end="2016-01-12T13:30:15Z",
        ),
        poly(SOLENT_BOX, scene_id="P2", sensor="S2B", time="2016-01-12T11:00:00Z", min_length_m=8),
    )
    p = write(tmp_path, doc, "scene.geojson")
    assert detect_satellite_format(p) == "sat-geojson"
    items, src = read(p, default_sensor="S1A")
    assert [n for n, _ in items] == [1, 2, 3, 4, 5]
    kinds = [type(i).__name__ for _, i in items]
    assert kinds == ["Contact", "Contact", "Contact", "SensorPass", "SensorPass"]
    c = items[0][1]
    assert isinstance(c, Contact)
    assert (c.lat, c.lon, c.line_no) == (50.7, -1.1, 1)
    p1, p2 = items[3][1], items[4][1]
    assert isinstance(p1, SensorPass)
    assert isinstance(p2, SensorPass)
    assert (p1.pass_id, p1.kind, p1.min_length_m) == ("P1", "sar", 20.0)
    assert p1.start == T0 - timedelta(seconds=10)
    assert p1.end == T0 + timedelta(seconds=15)
    assert p1.footprint.equals(SOLENT_BOX)
    assert p1.line_no == 4
    assert (p2.pass_id, p2.kind, p2.min_length_m, p2.start, p2.end) == (
        "P2",
        "optical",
        8.0,
        datetime(2016, 1, 12, 11, tzinfo=UTC),
        datetime(2016, 1, 12, 11, tzinfo=UTC),
    )
    # 50.95 N is ~5.5 km north of the box; 50.905 N is ~0.55 km, within the 1 km slack.
    assert src.stats.outside_footprint == 1
    assert (src.stats.contacts, src.stats.passes) == (3, 2)


def test_footprints_only_geojson_joined_with_csv(tmp_path: Path) -> None:
    fp = write(
        tmp_path,
        fc(poly(SOLENT_BOX, pass_id="P1", sensor="S1A", time="2016-01-12T13:30:00Z")),
        "foot.geojson",
    )
    assert detect_satellite_format(fp) == "sat-geojson"
    foot_items, foot_src = read(fp)
    passes = iter_passes(foot_items)
    assert len(passes) == 1
    assert foot_src.stats.contacts == 0
    det = write(
        tmp_path,
        OWN_HEADER
        + "2016-01-12T13:30:00Z,50.7,-1.1,,,0.9,S1A,P1\n"
        + "2016-01-12T13:30:00Z,52.0,-1.1,,,0.9,S1A,P1\n"
        + "2016-01-12T13:30:00Z,52.0,-1.1,,,0.9,S1A,P9\n",
    )
    _, src = read(det, passes=passes)
    assert src.stats.outside_footprint == 1  # P9 has no footprint: not counted
    _, src = read(det)
    assert src.stats.outside_footprint == 0


def test_antimeridian_multipolygon_footprint(tmp_path: Path) -> None:
    fp = MultiPolygon([box(179.0, -17.0, 180.0, -16.0), box(-180.0, -17.0, -179.0, -16.0)])
    doc = fc(
        poly(fp, pass_id="AM", sensor="S1A", time="2020-01-01T00:00:00Z"),
        point(-179.5, -16.5, time="2020-01-01T00:00:00Z", pass_id="AM", sensor="S1A"),
        point(179.5, -16.5, time="2020-01-01T00:00:00Z", pass_id="AM", sensor="S1A"),
    )
    items, src = read(write(tmp_path, doc, "am.geojson"))
    assert isinstance(items[0][1], SensorPass)
    assert src.stats.passes == 1
    assert src.stats.contacts == 2
    assert src.stats.outside_footprint == 0


def _rejected(tmp_path: Path, feature: Any, **kw: Any) -> Rejection:
    items, src = read(write(tmp_path, fc(feature), "x.geojson"), **kw)
    ((n, r),) = items
    assert isinstance(r, Rejection)
    assert n == 1 == r.line_no
    assert src.stats.rejected == {r.reason: 1}
    return r


BOWTIE = {"type": "Polygon", "coordinates": [[[0, 50], [1, 51], [1, 50], [0, 51], [0, 50]]]}
TIME = "2016-01-12T13:30:00Z"


@pytest.mark.parametrize(
    ("feature", "reason"),
    [
        (poly(Polygon(), pass_id="P", sensor="S1A", time=TIME), "bad_footprint"),
        (poly(box(170, 10, 185, 11), pass_id="P", sensor="S1A", time=TIME), "bad_footprint"),
        (poly(box(-179, -60, 179, 60), pass_id="P", sensor="S1A", time=TIME), "bad_footprint"),
        (
            poly(
                {"type": "Polygon", "coordinates": [[0, 1]]}, pass_id="P", sensor="S1A", time=TIME
            ),
            "bad_footprint",
        ),
        (
            poly(
                {"type": "Polygon", "coordinates": [[[0, 50], [1, 50], [0, 50], [0, 50]]]},
                pass_id="P",
                sensor="S1A",
                time=TIME,
            ),
            "bad_footprint",
        ),
        (poly(SOLENT_BOX, sensor="S1A", time=TIME), "malformed"),
        (poly(SOLENT_BOX, pass_id="P", sensor="S1A"), "bad_time"),
        (
            poly(SOLENT_BOX, pass_id="P", sensor="S1A", start=TIME, end="2016-01-12T13:00:00Z"),
            "bad_time",
        ),
        # a "pass" of years would hold its detections back all that time (review finding)
        (
            poly(SOLENT_BOX, pass_id="P", sensor="S1A", start=TIME, end="2021-01-12T13:00:00Z"),
            "bad_time",
        ),
        (poly(SOLENT_BOX, pass_id="P", sensor="nope", time=TIME), "unknown_sensor"),
        (point(-1.1, 50.7, time=TIME, sensor="S1A", confidence=2), "bad_confidence"),
        (point(-1.1, 95, time=TIME, sensor="S1A"), "bad_position"),
        (point(0, 0, time=TIME, sensor="S1A"), "bad_position"),
        (point(-1.1, 50.7, time=True, sensor="S1A"), "bad_time"),
        (
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [1]},
                "properties": {},
            },
            "bad_position",
        ),
        (
            {"type": "Feature", "geometry": {"type": "LineString", "coordinates": []}},
            "malformed",
        ),
        ({"type": "Feature", "geometry": None, "properties": {"time": TIME}}, "malformed"),
        ({"type": "Point", "coordinates": [1, 2]}, "malformed"),
        ("not a feature", "malformed"),
        ({"type": "Feature", "geometry": [], "properties": {}}, "malformed"),
    ],
)
def test_geojson_rejections(tmp_path: Path, feature: Any, reason: str) -> None:
    assert _rejected(tmp_path, feature).reason == reason


def test_invalid_footprint_is_repaired(tmp_path: Path) -> None:
    doc = fc(poly(BOWTIE, pass_id="P", sensor="S1A", time=TIME))
    items, src = read(write(tmp_path, doc, "bow.geojson"))
    ((_, p),) = items
    assert isinstance(p, SensorPass)
    assert p.footprint.is_valid
    assert p.footprint.area > 0
    assert src.stats.footprints_repaired == 1


def test_bad_min_length_falls_back_to_sensor(tmp_path: Path) -> None:
    doc = fc(poly(SOLENT_BOX, pass_id="P", sensor="S2B", time=TIME, min_length_m=-3))
    items, src = read(write(tmp_path, doc, "m.geojson"))
    ((_, p),) = items
    assert isinstance(p, SensorPass)
    assert p.min_length_m == 15.0
    assert src.stats.bad_min_length == 1


def test_position_in_properties_when_geometry_is_null(tmp_path: Path) -> None:
    f = {"type": "Feature", "geometry": None, "properties": {"time": TIME, "lat": 50.7,
         "lon": -1.1, "sensor": "S1A"}}  # fmt: skip
    items, _ = read(write(tmp_path, fc(f), "n.geojson"))
    assert isinstance(items[0][1], Contact)
    assert items[0][1].lat == 50.7


@pytest.mark.parametrize(
    "text", ["{not json", "[1, 2]", '{"type": "FeatureCollection"}', '"just a string"']
)
def test_whole_file_json_problems(tmp_path: Path, text: str) -> None:
    items, src = read(write(tmp_path, text, "bad.geojson"), fmt="sat-geojson")
    assert [(n, getattr(i, "reason", None)) for n, i in items] == [(0, "malformed")]
    assert src.stats.rejected == {"malformed": 1}


def test_too_large_geojson(tmp_path: Path) -> None:
    doc = fc(*[point(-1.1, 50.7, time=TIME, sensor="S1A")] * 100)
    p = write(tmp_path, doc, "big.geojson")
    items, _src = read(p, max_geojson_bytes=1000)
    assert [(n, getattr(i, "reason", None)) for n, i in items] == [(0, "too_large")]
    gz = tmp_path / "big.geojson.gz"
    gz.write_bytes(gzip.compress(doc.encode()))  # small on disk, large once unpacked
    assert gz.stat().st_size < 1000
    items, _ = read(gz, fmt="sat-geojson", max_geojson_bytes=1000)
    assert [getattr(i, "reason", None) for _, i in items] == ["too_large"]
    items, _ = read(gz, fmt="sat-geojson")
    assert len(items) == 100
    assert all(isinstance(i, Contact) for _, i in items)


# --------------------------------------------------------------------------- sniffing


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (OWN_HEADER, "sat-csv"),
        ("Time,Lat,Lon,Presence_Score\n", "sat-csv"),
        ("time,lat,lon,length_m\n", "sat-csv"),
        ("time,lat,lon\n", None),  # nothing detection-specific
        ("time,mmsi,lat,lon,length_m\n", None),  # an AIS track with a length column
        ("time,lat,confidence,sensor\n", None),
        ("", None),
        (fc(point(1, 2, time=TIME, confidence=1)), "sat-geojson"),
        (fc(point(1, 2, name="buoy")), None),
        (fc(poly(SOLENT_BOX, name="cable area")), None),
        ('{"type": "Feature", "geometry": null}', None),
        ("{garbage", None),
    ],
)
def test_sniff_synthetic(tmp_path: Path, text: str, expected: str | None) -> None:
    assert detect_satellite_format(write(tmp_path, text, "f.dat")) == expected


def test_sniff_large_geojson_by_prefix(tmp_path: Path) -> None:
    feats = [point(-1.1, 50.7, time=TIME, sensor="S1A", scene_id="P")] * 12000
    p = write(tmp_path, fc(*feats), "large.geojson")
    assert p.stat().st_size > 1024 * 1024
    assert detect_satellite_format(p) == "sat-geojson"


def _shared_files() -> list[Path]:
    if not SHARED_DATA.is_dir():
        return []
    skip = {".chk", ".md"}
    return sorted(
        p
        for p in SHARED_DATA.rglob("*")
        if p.is_file() and p.suffix not in skip and not p.name.startswith("LICENSE")
        and p.name != "COPYING"
    )  # fmt: skip


@pytest.mark.skipif(not SHARED_DATA.is_dir(), reason="shared data not present")
@pytest.mark.parametrize("path", _shared_files(), ids=lambda p: p.name)
def test_real_files_are_not_satellite(path: Path) -> None:
    # Every real AIS CSV/NMEA log, basemap, cable GeoJSON and watchlist in the shared data.
    assert detect_satellite_format(path) is None


def test_shared_data_has_the_ais_files() -> None:
    if not SHARED_DATA.is_dir():
        pytest.skip("shared data not present")
    names = {p.name for p in _shared_files()}
    assert {"SolentAIS_20160112_130211.csv", "noaa_20230111_sample.csv", "sample.aivdm"} <= names


# --------------------------------------------------------------------------- simulator


def _truth_solent() -> dict[int, list[PositionReport]]:
    tracks: dict[int, list[PositionReport]] = defaultdict(list)
    for item in read_csv_records(SOLENT):
        if isinstance(item, PositionReport):
            tracks[item.mmsi].append(item)
    return tracks


@pytest.mark.skipif(not SOLENT.is_file(), reason="shared data not present")
@pytest.mark.parametrize("fmt", ["sat-csv", "sat-geojson"])
def test_round_trip_over_real_solent_traffic(tmp_path: Path, fmt: str) -> None:
    # Real AIS positions, simulated satellite pass (no real SAR product of that day exists).
    truth = _truth_solent()
    t = datetime(2016, 1, 12, 13, 40, tzinfo=UTC)
    in_time = {k for k, tr in truth.items() if tr[0].time <= t <= tr[-1].time}
    lengths = {k: (15.0 if k % 3 == 0 else 60.0) for k in truth}  # some below S1A's 20 m
    sensor = SENSORS.get("S1A")
    assert sensor is not None
    rng = random.Random(7)
    rows, foot = sar_pass(
        truth,
        pass_id="SIM1",
        sensor=sensor,
        time=t,
        footprint=SOLENT_BOX,
        lengths=lengths,
        rng=rng,
        detect_prob=1.0,
        false_alarms=3,
        sigma_m=50.0,
    )
    real = [r for r in rows if r["truth"]]
    assert len(rows) - len(real) == 3
    assert len(real) > 10
    assert all(int(r["truth"]) in in_time and lengths[int(r["truth"])] >= 20 for r in real)
    path = tmp_path / ("sim.csv" if fmt == "sat-csv" else "sim.geojson")
    if fmt == "sat-csv":
        write_csv(rows, path)
        fp_path = tmp_path / "foot.geojson"
        write_geojson([], [foot], fp_path)
        passes = iter_passes(list(SatelliteFileSource(fp_path, SENSORS)))
    else:
        write_geojson(rows, [foot], path)
        passes = []
    assert detect_satellite_format(path) == fmt
    items, src = read(path, passes=passes)
    contacts = [i for _, i in items if isinstance(i, Contact)]
    assert len(contacts) == len(rows)
    assert src.stats.rejected == {}
    assert src.stats.outside_footprint == 0
    assert src.stats.passes == (1 if fmt == "sat-geojson" else 0)
    for c, row in zip(contacts, rows, strict=True):
        assert (c.time, c.sensor, c.pass_id) == (t, "S1A", "SIM1")
        if not row["truth"]:
            continue
        tr = truth[int(row["truth"])]
        near = min(tr, key=lambda r: abs((r.time - t).total_seconds()))
        # 50 m noise, plus how far the ship moved between its nearest report and t.
        moved = 15 * abs((near.time - t).total_seconds())  # < 30 kn
        assert distance_m(c.lat, c.lon, near.lat, near.lon) < 300 + moved


def test_simulated_positions_interpolate_truth() -> None:
    sensor = SENSORS.get("S2B")
    assert sensor is not None
    track = [
        PositionReport(mmsi=1, time=T0, lat=50.70, lon=-1.20),
        PositionReport(mmsi=1, time=T0 + timedelta(minutes=10), lat=50.80, lon=-1.00),
    ]
    rows, foot = sar_pass(
        {1: track, 2: track[:1]},
        pass_id="X",
        sensor=sensor,
        time=T0 + timedelta(minutes=5),
        footprint=SOLENT_BOX,
        lengths={1: 100.0, 2: 100.0},
        rng=random.Random(1),
        detect_prob=1.0,
        sigma_m=0.001,
    )
    (row,) = rows  # vessel 2's track ends before the pass: not in the image
    assert distance_m(row["lat"], row["lon"], 50.75, -1.10) < 5
    assert row["heading_deg"] == pytest.approx(51.0, abs=2.0)
    assert foot["properties"]["min_length_m"] == 15.0
    again, _ = sar_pass(
        {1: track},
        pass_id="X",
        sensor=sensor,
        time=T0 + timedelta(minutes=5),
        footprint=SOLENT_BOX,
        lengths={1: 100.0},
        rng=random.Random(1),
        detect_prob=0.0,
    )
    assert again == []


# --------------------------------------------------------------------------- robustness


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.binary(max_size=400), fmt=st.sampled_from([None, "sat-csv", "sat-geojson"]))
def test_arbitrary_bytes_never_raise(tmp_path: Path, data: bytes, fmt: Any) -> None:
    p = tmp_path / "any.bin"
    p.write_bytes(data)
    detect_satellite_format(p)
    for n, item in SatelliteFileSource(p, SENSORS, fmt=fmt):
        assert isinstance(item, Contact | SensorPass | Rejection)
        assert n >= 0


TOKENS = st.sampled_from(
    ["", "0", "50.7", "-1.1", "91", "nan", "inf", "1e400", "-5", "600", "0.9", "87", "S1A",
     "S2B", "vts-solent", "x", "2016-01-12T13:30:00Z", "2016-01-12 13:30:00 UTC", '"',
     '"a,b"', "²", "1452605400"]
)  # fmt: skip


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=st.lists(st.lists(TOKENS, min_size=0, max_size=10), max_size=8))
def test_mutated_csv_rows_each_accounted_once(tmp_path: Path, rows: list[list[str]]) -> None:
    lines = [",".join(r) for r in rows]
    p = tmp_path / "mut.csv"
    p.write_text(OWN_HEADER + "".join(line + "\n" for line in lines), encoding="utf-8")
    items, src = read(p)
    assert [n for n, _ in items] == list(range(2, 2 + len(lines)))
    assert src.stats.contacts + sum(src.stats.rejected.values()) == len(lines)


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5) | TOKENS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)
GEOMS = st.one_of(
    JSONISH,
    st.fixed_dictionaries(
        {"type": st.sampled_from(["Point", "Polygon", "MultiPolygon"]), "coordinates": JSONISH}
    ),
)
PROPS = st.dictionaries(
    st.sampled_from(["time", "start", "end", "pass_id", "sensor", "confidence", "length_m",
                     "min_length_m", "lat", "lon", "presence_pct"]),
    JSONISH,
)  # fmt: skip


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    feats=st.lists(
        st.one_of(
            JSONISH,
            st.fixed_dictionaries({"type": st.just("Feature"), "geometry": GEOMS,
                                   "properties": PROPS}),
        ),
        max_size=6,
    )
)  # fmt: skip
def test_mutated_geojson_features_never_raise(tmp_path: Path, feats: list[Any]) -> None:
    p = tmp_path / "mut.geojson"
    try:
        text = json.dumps({"type": "FeatureCollection", "features": feats}, allow_nan=True)
    except (ValueError, TypeError):
        return
    p.write_text(text, encoding="utf-8")
    items, src = read(p, fmt="sat-geojson")
    if items and items[0][0] == 0:  # NaN/Infinity literals are not JSON: a file rejection
        assert len(items) == 1
        return
    assert [n for n, _ in items] == list(range(1, 1 + len(feats)))
    for _, item in items:
        if isinstance(item, Contact):
            assert math.isfinite(item.lat)
            assert 0.0 <= item.confidence <= 1.0
    total = src.stats.contacts + src.stats.passes + sum(src.stats.rejected.values())
    assert total == len(feats)
