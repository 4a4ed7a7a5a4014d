"""Radar TTM/TLL sentences → Contact records: real-format samples, units, time, rejections.

Samples are either rendered by pynmea2's own encoder (``pynmea2.TTM(...)`` → ``str()`` adds
the checksum) or copied from published examples, each cited where it is used. Sites come
from ``config/sensors.example.yaml`` (illustrative) or a registry built in the test.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import pynmea2
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pyais.messages import TagBlock
from pyproj import Geod

from seawarden.fusion.sensors import SensorConfig, SensorRegistry, load_sensors, sensors_from_data
from seawarden.ingest.nmea import NmeaDecoder
from seawarden.ingest.radar_nmea import (
    REASONS,
    RadarNmeaDecoder,
    destination_point,
    is_radar_sentence,
    nearest_datetime,
)
from seawarden.model import Contact, PositionReport, Rejection
from seawarden.sim.radar import radar_lines, tag_block
from tests.conftest import REPO, SHARED_DATA

GEOD = Geod(ellps="WGS84")
SENSORS = load_sensors(REPO / "config" / "sensors.example.yaml")
_solent = SENSORS.get("vts-solent")
assert _solent is not None
assert _solent.lat is not None
assert _solent.lon is not None
SOLENT: SensorConfig = _solent
SITE_LAT: float = _solent.lat
SITE_LON: float = _solent.lon
T0 = 1_700_000_000  # 2023-11-14 22:13:20 UTC
AISDB = SHARED_DATA / "nmea" / "aisdb" / "test_data_20211101.nm4"

# A radar near the published TLL examples below (Aegean, Saronic Gulf), for those tests only.
AEGEAN = sensors_from_data(
    {
        "sensors": [
            {"id": "test-aegean", "kind": "radar", "lat": 37.5, "lon": 24.55, "range_m": 20000},
            {"id": "test-alboran", "kind": "radar", "lat": 36.7, "lon": -2.6, "range_m": 20000},
        ]
    }
)


def ttm(**kw: str) -> str:
    """A TTM sentence rendered by pynmea2 (checksum included); defaults: target 7 at 5 NM,
    bearing 045 true, 12.5 kn on 270 true, tracking, automatic acquisition, no UTC time."""
    f = {
        "number": "07",
        "distance": "5.000",
        "bearing": "045.0",
        "brg_ref": "T",
        "speed": "12.5",
        "course": "270.0",
        "cog_ref": "T",
        "cpa": "",
        "tcpa": "",
        "units": "N",
        "name": "",
        "status": "T",
        "reference": "",
        "utc": "",
        "acq": "A",
    }
    f.update(kw)
    return str(pynmea2.TTM("RA", "TTM", tuple(f.values())))


def tll(**kw: str) -> str:
    f = {
        "number": "03",
        "lat": "5045.000",
        "lat_dir": "N",
        "lon": "00115.000",
        "lon_dir": "W",
        "name": "",
        "utc": "",
        "status": "T",
        "reference": "",
    }
    f.update(kw)
    return str(pynmea2.TLL("RA", "TLL", tuple(f.values())))


def tagged(sentence: str, station: str = "solent-radar", unix_s: int = T0) -> bytes:
    return (tag_block(station, unix_s) + sentence).encode()


def decode(
    line: bytes | str, registry: SensorRegistry | None = SENSORS, **kw: Any
) -> Contact | Rejection:
    dec = RadarNmeaDecoder(sensors=registry, source=kw.pop("source", "feed"))
    raw = line.encode() if isinstance(line, str) else line
    return dec.decode(raw, 1, **kw)


def contact(line: bytes | str, registry: SensorRegistry | None = SENSORS, **kw: Any) -> Contact:
    out = decode(line, registry, **kw)
    assert isinstance(out, Contact), out
    return out


def reason(line: bytes | str, registry: SensorRegistry | None = SENSORS, **kw: Any) -> str:
    out = decode(line, registry, **kw)
    assert isinstance(out, Rejection), out
    return out.reason


# -- recognising sentences --------------------------------------------------------------------
@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (b"$RATTM,01,0.2,190.8,T,12.1,109.7,T,0.1,0.5,N,TGT01,T,,100021.00,A*79", True),
        (b"$ARTLL,01,5603.370,N,01859.976,E,ALPHA,015200.36,T,*75", True),
        (b"\\s:solent-radar,c:1700000000*5E\\$RATTM,01,1,2,T,,,T,,,N,,T,,,A*00", True),
        (b"!AIVDM,1,1,,A,13aEOK?P00PD2wVMdLDRhgvL289?,0*26", False),
        (b"$GPGGA,133605.0,5521.75946,N,03731.93769,E,0,00,,,M,,M,,*4F", False),
        (b"$RATTMX,1", False),
        (b"\\s:x*00$RATTM,1", False),  # unclosed tag block
        (b"", False),
    ],
)
def test_is_radar_sentence(line: bytes, expected: bool) -> None:
    assert is_radar_sentence(line) is expected


# -- placing targets ----------------------------------------------------------------------------
def test_ten_nm_due_east_lands_where_geod_fwd_says() -> None:
    c = contact(tagged(ttm(distance="10.0", bearing="090.0")))
    lon, lat, _ = GEOD.fwd(SITE_LON, SITE_LAT, 90.0, 18520.0)
    assert (c.lat, c.lon) == pytest.approx((lat, lon), abs=1e-9)
    # and it really is 10 NM east: the inverse gives back the range and bearing
    az, _, dist = GEOD.inv(SITE_LON, SITE_LAT, c.lon, c.lat)
    assert dist == pytest.approx(18520.0, abs=0.01)
    assert az == pytest.approx(90.0, abs=1e-6)


def test_contact_fields() -> None:
    c = contact(tagged(ttm(number="42", name=" TGT42 ", status="Q")))
    assert c.kind == "radar"
    assert c.sensor == "vts-solent"
    assert c.track == "42"
    assert c.label == "TGT42"
    assert c.status == "Q"
    assert c.speed_kn == pytest.approx(12.5)
    assert c.course_deg == pytest.approx(270.0)
    assert c.sigma_m is None  # the sensor's default applies
    assert c.source == "solent-radar"
    assert c.line_no == 1
    assert c.time == datetime.fromtimestamp(T0, tz=UTC)


@pytest.mark.parametrize(
    ("units", "distance", "speed", "metres", "knots"),
    [
        ("N", "2.0", "10.0", 3704.0, 10.0),
        ("K", "3.704", "18.52", 3704.0, 10.0),  # km and km/h
        ("S", "2.0", "11.5", 3218.688, 11.5 * 1609.344 / 1852.0),  # statute miles and mph
    ],
)
def test_distance_and_speed_units(
    units: str, distance: str, speed: str, metres: float, knots: float
) -> None:
    c = contact(tagged(ttm(units=units, distance=distance, speed=speed, bearing="000.0")))
    _, _, dist = GEOD.inv(SITE_LON, SITE_LAT, c.lon, c.lat)
    assert dist == pytest.approx(metres, abs=0.01)
    assert c.speed_kn == pytest.approx(knots)


def test_relative_course_drops_the_course_only() -> None:
    c = contact(tagged(ttm(cog_ref="R")))
    assert c.course_deg is None
    assert c.speed_kn == pytest.approx(12.5)


def test_tll_position_is_read_as_degrees_and_minutes() -> None:
    c = contact(tagged(tll(lat="5045.000", lon="00115.000", name="ALPHA")))
    assert (c.lat, c.lon) == pytest.approx((50.75, -1.25))
    assert c.label == "ALPHA"
    assert c.track == "3"
    assert c.speed_kn is None


# -- published examples ------------------------------------------------------------------------
def test_published_ttm_go_nmea() -> None:
    # adrianmo/go-nmea, ttm.go (doc comment "Example:"):
    line = "$RATTM,02,1.43,170.5,T,0.16,264.4,T,1.42,36.9,N,,T,,,M*2A"
    c = contact(tagged(line))
    lon, lat, _ = GEOD.fwd(SITE_LON, SITE_LAT, 170.5, 1.43 * 1852.0)
    assert (c.lat, c.lon) == pytest.approx((lat, lon), abs=1e-9)
    assert (c.track, c.speed_kn, c.course_deg, c.status) == ("2", 0.16, 264.4, "T")
    assert c.label is None


def test_published_ttm_with_utc_aerorust() -> None:
    # AeroRust/nmea, tests/all_supported_messages.rs (the TTM entry):
    line = b"$RATTM,01,0.2,190.8,T,12.1,109.7,T,0.1,0.5,N,TGT01,T,,100021.00,A*79"
    c = contact(line, source="solent-radar", reference=datetime(2024, 5, 6, 9, 0, tzinfo=UTC))
    assert c.time == datetime(2024, 5, 6, 10, 0, 21, tzinfo=UTC)
    assert c.label == "TGT01"
    assert c.sensor == "vts-solent"  # attributed by the input's name: no tag block


def test_published_ttm_tritech_relative_bearing_with_its_printed_checksum() -> None:
    # Tritech MicronNav manual 0656-SOM-00001-07, section 7.2.6 "NMEA $RATTM" (as printed;
    # the printed checksum does not match the printed fields, so it is refused as such):
    printed = "$RATTM,00,0.0011,326.0,R,0.0,0.0,R,0.0,0.0,N, TARGET1,T,,005940.13,A*5B"
    assert reason(tagged(printed)) == "checksum"
    # the same fields with a correct checksum: a relative bearing cannot be placed
    fields = printed[7:].split("*")[0].split(",")
    assert reason(tagged(str(pynmea2.TTM("RA", "TTM", fields)))) == "relative_bearing"


def test_published_tll_marine_api_and_opencpn() -> None:
    # ktuukkan/marine-api, src/main/java/net/sf/marineapi/nmea/sentence/TLLSentence.java:
    c = contact(
        tagged("$RATLL,01,3731.51052,N,02436.00000,E,TEST1,161617.88,T,*0C", "test-aegean"), AEGEAN
    )
    assert (c.lat, c.lon) == pytest.approx((37 + 31.51052 / 60, 24.6))
    assert (c.track, c.label, c.status, c.sensor) == ("1", "TEST1", "T", "test-aegean")
    # OpenCPN (nohal/OpenCPN wiki "ARPA targets tracking implementation", quoted in OpenCPN's
    # source): a Baltic target, far outside every configured radar → not attributable by range.
    opencpn = "$RATLL,01,5603.370,N,01859.976,E,ALPHA,015200.36,T,*75"
    assert reason(tagged(opencpn, "test-aegean"), AEGEAN) == "out_of_range"


def test_published_tll_go_nmea_cases() -> None:
    # adrianmo/go-nmea, tll_test.go, "good sentence 2": status L → counted, no position
    lost = "$RATLL,1,3646.54266,N,00235.37778,W,test,020915,L,R*78"
    assert reason(tagged(lost, "test-alboran"), AEGEAN) == "lost_target"
    # "good sentence": no target number, no status → a position without a track
    blank = "$RATLL,,3647.422,N,01432.592,E,,,,*58"
    near = sensors_from_data(
        {"sensors": [{"id": "r", "kind": "radar", "lat": 36.8, "lon": 14.5, "range_m": 9000}]}
    )
    c = contact(tagged(blank, "r"), near)
    assert (c.lat, c.lon) == pytest.approx((36.790366666666664, 14.543200000000002))
    assert (c.track, c.status, c.label) == (None, None, None)
    # "invalid nmea: TargetNumber" (its checksum is right; the target number is not)
    assert reason(tagged("$RATLL,x,3647.422,N,01432.592,E,,,,*20", "r"), near) == "malformed"


# -- rejections ---------------------------------------------------------------------------------
def test_checksum_rejections() -> None:
    good = ttm()
    bad = good[:-2] + ("00" if good[-2:] != "00" else "01")
    assert reason(tagged(bad)) == "checksum"
    assert reason(tagged(good.split("*")[0])) == "checksum"  # missing: refused, as for AIS
    tb = tag_block("solent-radar", T0)
    broken_tb = tb[:-3] + ("00" if tb[-3:-1] != "00" else "01") + "\\"
    assert reason((broken_tb + good).encode()) == "checksum"


@pytest.mark.parametrize(
    "line",
    [
        ttm(units=""),
        ttm(units="M"),
        ttm(brg_ref=""),
        ttm(distance="abc"),
        ttm(distance="NaN"),
        ttm(distance=""),
        ttm(number="-1"),
        ttm(number="x"),
        ttm(status="X"),
        ttm(reference="Y"),
        tll(lat_dir="X"),
        tll(lat="50x45.0"),
        "$RATTM,01,1.0,090.0,T,,,T,,,N,,T,,,A\x01*00",
        "\\s:solent-radar,c:1700000000*5E$RATTM,01",
    ],
)
def test_malformed(line: str) -> None:
    raw = line.encode("latin-1") if line.startswith("\\") else tagged(line)
    assert reason(raw) == "malformed"


def test_unknown_sensor() -> None:
    assert reason(tagged(ttm()), None) == "unknown_sensor"  # no registry at all
    assert reason(tagged(ttm(), station="somebody-else")) == "unknown_sensor"
    assert reason(ttm(), source="unknown-feed") == "unknown_sensor"  # no s:, unknown input
    # a satellite id is a sensor, but not a radar with a site
    assert reason(tagged(ttm(), station="S1A")) == "unknown_sensor"


def test_relative_bearing_out_of_range_lost_reference() -> None:
    assert reason(tagged(ttm(brg_ref="R"))) == "relative_bearing"
    # range 30 km, slack ×1.1 = 33 km: 17.8 NM = 32.97 km passes, 17.9 NM = 33.15 km does not
    assert isinstance(decode(tagged(ttm(distance="17.8"))), Contact)
    assert reason(tagged(ttm(distance="17.9"))) == "out_of_range"
    assert reason(tagged(ttm(distance="40", units="K"))) == "out_of_range"
    assert reason(tagged(tll(lat="5200.000"))) == "out_of_range"
    assert reason(tagged(ttm(status="L"))) == "lost_target"
    assert reason(tagged(tll(status="L"))) == "lost_target"
    assert reason(tagged(ttm(reference="R"))) == "reference_target"


@pytest.mark.parametrize(
    "line",
    [
        ttm(bearing="361.0"),
        ttm(bearing="-1.0"),
        ttm(distance="-0.5"),
        tll(lat="9100.000"),
        tll(lat="5075.000"),  # 75 minutes
        tll(lat=""),  # pynmea2 would read 0.0: not the equator
    ],
)
def test_bad_position(line: str) -> None:
    assert reason(tagged(line)) == "bad_position"


def test_bad_time() -> None:
    assert reason(ttm(), source="solent-radar") == "bad_time"  # no c:, no UTC, not live
    # a time of day, but no date to put it on
    assert reason(ttm(utc="120000.00"), source="solent-radar") == "bad_time"
    # an impossible time of day (hour 78), without c:
    ref = datetime(2024, 1, 1, tzinfo=UTC)
    assert reason(ttm(utc="783344"), source="solent-radar", reference=ref) == "bad_time"
    body = "s:solent-radar,c:1e400"
    cs = 0
    for ch in body.encode():
        cs ^= ch
    assert reason(f"\\{body}*{cs:02X}\\{ttm()}") == "bad_time"


def test_reasons_are_listed() -> None:
    assert {"checksum", "malformed", "unknown_sensor", "relative_bearing", "out_of_range"} <= set(
        REASONS
    )
    assert {"lost_target", "bad_position", "bad_time", "reference_target"} <= set(REASONS)


# -- time ----------------------------------------------------------------------------------------
def test_tag_block_time_wins_over_the_utc_field() -> None:
    c = contact(tagged(ttm(utc="010203.00")))
    assert c.time == datetime.fromtimestamp(T0, tz=UTC)


def test_received_time_when_the_sentence_has_none() -> None:
    now = datetime(2025, 2, 3, 4, 5, 6, tzinfo=UTC)
    assert contact(ttm(), source="solent-radar", received=now).time == now


def test_utc_field_beats_received_and_takes_its_date() -> None:
    now = datetime(2025, 2, 3, 4, 5, 6, tzinfo=UTC)
    c = contact(ttm(utc="040501.50"), source="solent-radar", received=now)
    assert c.time == datetime(2025, 2, 3, 4, 5, 1, 500000, tzinfo=UTC)


@pytest.mark.parametrize(
    ("ref", "utc", "expected"),
    [
        (datetime(2024, 3, 1, 23, 59, 50), "000005.00", datetime(2024, 3, 2, 0, 0, 5)),
        (datetime(2024, 3, 2, 0, 0, 3), "235958.00", datetime(2024, 3, 1, 23, 59, 58)),
        (datetime(2024, 12, 31, 23, 59, 59), "000001", datetime(2025, 1, 1, 0, 0, 1)),
        (datetime(2024, 3, 1, 12, 0, 0), "115959.00", datetime(2024, 3, 1, 11, 59, 59)),
    ],
)
def test_midnight_rollover(ref: datetime, utc: str, expected: datetime) -> None:
    c = contact(ttm(utc=utc), source="solent-radar", reference=ref.replace(tzinfo=UTC))
    assert c.time == expected.replace(tzinfo=UTC)


def test_a_stream_of_bare_times_crosses_midnight() -> None:
    dec = RadarNmeaDecoder(
        sensors=SENSORS, source="solent-radar", assume_time=datetime(2024, 6, 1, 23, 0, tzinfo=UTC)
    )
    times = []
    for i, utc in enumerate(["235950.00", "235956.00", "000002.00", "000008.00"], 1):
        out = dec.decode(ttm(utc=utc).encode(), i)
        assert isinstance(out, Contact)
        times.append(out.time)
    assert times[2] == datetime(2024, 6, 2, 0, 0, 2, tzinfo=UTC)
    assert times == sorted(times)
    assert nearest_datetime(times[0].timetz(), times[3]) == times[0]


# -- through NmeaDecoder.feed ---------------------------------------------------------------------
def _run(lines: list[bytes], **kw: Any) -> tuple[NmeaDecoder, list[Any]]:
    dec = NmeaDecoder(source="test", **kw)
    out: list[Any] = []
    for i, line in enumerate(lines, 1):
        out.extend(dec.feed(line, i))
    out.extend(dec.flush())
    return dec, out


def _accounted(dec: NmeaDecoder, out: list[Any]) -> None:
    s = dec.stats
    assert s.lines == s.blank_or_comment + s.wrappers + s.fragments_used + s.rejected_lines
    rejections = [o for o in out if isinstance(o, Rejection)]
    assert len(rejections) == s.rejected_lines + s.rejected_messages
    assert sum(s.rejections.values()) == len(rejections)
    assert s.contacts == s.radar_used == sum(isinstance(o, Contact) for o in out)


def test_mixed_real_ais_and_radar_lines_leave_ais_unchanged() -> None:
    ais = AISDB.read_bytes().splitlines()
    _, ais_only = _run(ais, sensors=SENSORS)
    radar = [
        tagged(ttm(number=f"{i % 100:02d}", distance=f"{1 + i % 10}.0"), unix_s=T0 + i)
        for i in range(len(ais) // 10)
    ]
    bad = [tagged(ttm(brg_ref="R")), tagged(ttm(), station="nobody"), tagged(ttm(status="L"))]
    n_radar = len(radar)
    mixed: list[bytes] = []
    for i, line in enumerate(ais):
        mixed.append(line)
        if i % 10 == 0 and radar:
            mixed.append(radar.pop())
    mixed.extend(bad)
    dec, out = _run(mixed, sensors=SENSORS)
    _accounted(dec, out)
    # the same AIS records, in the same order (line numbers shift with the inserted lines)
    ais_out = [_key(o) for o in out if not isinstance(o, Contact | Rejection)]
    assert len(ais_out) > 900
    assert ais_out == [_key(o) for o in ais_only if not isinstance(o, Rejection)]
    assert [_key(o) for o in out if isinstance(o, Rejection)] == [
        _key(o) for o in ais_only if isinstance(o, Rejection)
    ] + ["relative_bearing", "unknown_sensor", "lost_target"]
    contacts = [o for o in out if isinstance(o, Contact)]
    assert len(contacts) == n_radar >= 100
    assert all(c.sensor == "vts-solent" and SOLENT.covers(c.lat, c.lon) for c in contacts)
    s = dec.stats
    assert s.radar_rejections == {"relative_bearing": 1, "unknown_sensor": 1, "lost_target": 1}
    d = s.as_dict()
    assert d["contacts"] == len(contacts)
    assert d["radar_rejections"]["lost_target"] == 1
    assert "not_ais" not in s.radar_rejections


def _key(o: Any) -> Any:
    if isinstance(o, Rejection):
        return o.reason
    return (type(o).__name__, o.mmsi, o.time, getattr(o, "lat", None), getattr(o, "lon", None))


def test_without_a_registry_radar_lines_are_unknown_sensor_not_not_ais() -> None:
    dec, out = _run([tagged(ttm()), tagged(tll())])
    assert [o.reason for o in out] == ["unknown_sensor", "unknown_sensor"]
    assert dec.stats.rejections["not_ais"] == 0
    _accounted(dec, out)


def test_bare_radar_times_take_the_date_of_the_streams_last_ais_time() -> None:
    # A radar-only input named after the radar's station, behind AIS lines with c: times.
    ais_lines = AISDB.read_bytes().splitlines()[:5]
    dec = NmeaDecoder(source="solent-radar", sensors=SENSORS)
    out: list[Any] = []
    for i, line in enumerate([*ais_lines, ttm(utc="000010.00").encode()], 1):
        out.extend(dec.feed(line, i))
    last_ais = [o for o in out if isinstance(o, PositionReport)][-1]
    c = out[-1]
    assert isinstance(c, Contact)
    assert c.time.time().isoformat() == "00:00:10"
    assert abs((c.time - last_ais.time).total_seconds()) <= 12 * 3600
    assert c.source == "solent-radar"
    # with no earlier time at all, the same line cannot be dated
    alone = NmeaDecoder(source="solent-radar", sensors=SENSORS).feed(ttm(utc="000010.00"), 1)
    assert [o.reason for o in alone if isinstance(o, Rejection)] == ["bad_time"]


# -- simulator round trip -----------------------------------------------------------------------
def _truth(
    start_lat: float, start_lon: float, course: float, kn: float, minutes: int
) -> list[PositionReport]:
    t = datetime.fromtimestamp(T0, tz=UTC)
    out = []
    lat, lon = start_lat, start_lon
    for i in range(minutes * 6):  # AIS every 10 s
        out.append(
            PositionReport(mmsi=235000001, time=t + timedelta(seconds=10 * i), lat=lat, lon=lon)
        )
        lat, lon = destination_point(lat, lon, course, kn * 1852.0 / 360.0)
    return out


@pytest.mark.parametrize("sentence", ["TTM", "TLL"])
def test_simulated_lines_decode_back_near_the_truth(sentence: Literal["TTM", "TLL"]) -> None:
    truth = _truth(50.80, -1.35, 90.0, 12.0, 10)
    lines = radar_lines(truth, SOLENT, track_no=5, rng=random.Random(1), sentence=sentence)
    assert len(lines) == 99  # truth spans 0..590 s: samples at 0, 6, ..., 588 s
    for line in lines[:3]:
        tb = TagBlock(line[1 : line.index("\\", 1)].encode())
        tb.init()
        assert tb.is_valid
        assert tb.source_station == "solent-radar"
    dec, out = _run([x.encode() for x in lines], sensors=SENSORS)
    _accounted(dec, out)
    contacts = [o for o in out if isinstance(o, Contact)]
    assert len(contacts) == len(lines)
    assert [c.time for c in contacts] == sorted(c.time for c in contacts)
    assert {c.track for c in contacts} == {"5"}
    errs = []
    for c in contacts:
        k = round((c.time - truth[0].time).total_seconds() / 10)
        ref = truth[min(k, len(truth) - 1)]
        _, _, d = GEOD.inv(ref.lon, ref.lat, c.lon, c.lat)
        errs.append(d)
    # noise σ=30 m per axis, plus up to 5 s × 12 kn of truth spacing in this crude pairing
    assert max(errs) < 30 * 5 + 31
    if sentence == "TTM":
        assert all(c.speed_kn == pytest.approx(12.0, abs=0.1) for c in contacts)
        assert all(c.course_deg == pytest.approx(90.0, abs=0.5) for c in contacts)


def test_simulator_range_and_drops() -> None:
    far = _truth(51.5, -1.3, 0.0, 10.0, 2)  # ~75 km north of the site
    assert radar_lines(far, SOLENT, track_no=1, rng=random.Random(0)) == []
    near = _truth(50.80, -1.35, 90.0, 12.0, 5)
    assert radar_lines(near, SOLENT, track_no=1, rng=random.Random(0), drop_prob=1.0) == []
    some = radar_lines(near, SOLENT, track_no=1, rng=random.Random(0), drop_prob=0.5)
    assert 10 < len(some) < 40
    again = radar_lines(near, SOLENT, track_no=1, rng=random.Random(0), drop_prob=0.5)
    assert some == again  # seeded


# -- robustness ----------------------------------------------------------------------------------
@given(st.lists(st.binary(max_size=120), max_size=20))
def test_arbitrary_bytes_never_raise(lines: list[bytes]) -> None:
    dec, out = _run(lines, sensors=SENSORS)
    _accounted(dec, out)


_BASE = [ttm(utc="120000.00", name="X1"), tll(utc="120000.00"), ttm(cog_ref="R", units="K")]


@given(
    st.sampled_from(_BASE),
    st.lists(
        st.tuples(st.integers(0, 200), st.characters(min_codepoint=0, max_codepoint=255)),
        max_size=4,
    ),
    st.booleans(),
)
def test_mutated_sentences_never_raise(base: str, edits: list[tuple[int, str]], fix: bool) -> None:
    body = list(base[1:].split("*")[0])
    for pos, ch in edits:
        body[pos % len(body)] = ch
    text = "".join(body)
    if fix:  # recompute the checksum so the mutation reaches the field checks
        cs = 0
        for b in text.encode("latin-1"):
            cs ^= b
        line = f"${text}*{cs:02X}"
    else:
        line = f"${text}*{base[-2:]}"
    raw = (
        tagged(line.encode("latin-1").decode("latin-1"))
        if line.isascii()
        else (tag_block("solent-radar", T0).encode() + line.encode("latin-1"))
    )
    out = decode(raw, reference=datetime(2024, 1, 1, tzinfo=UTC))
    assert isinstance(out, Contact | Rejection)
    if isinstance(out, Contact):
        assert SOLENT.distance_m(out.lat, out.lon) is not None
        assert -90 <= out.lat <= 90
        assert -180 <= out.lon <= 180
    else:
        assert out.reason in REASONS


def test_live_time_of_day_is_dated_by_the_receive_time_not_walked_by_bad_sentences() -> None:
    """Review finding: two checksum-valid TTMs with a wrong time of day used to walk the
    stream's reference a day ahead, dating every later (correct) TTM tomorrow — and the
    orderer then refused the live AIS as too late. Live, the receive time dates a bare time
    of day, and one far from the receipt is refused."""
    from functools import reduce

    def ttm(num: int, hhmmss: str) -> bytes:
        body = f"RATTM,{num:02d},5.0,045.0,T,10.0,090.0,T,,,N,,T,,{hhmmss}.00,A"
        cs = reduce(lambda a, c: a ^ ord(c), body, 0)
        return f"${body}*{cs:02X}".encode()

    reg = load_sensors(REPO / "config/sensors.example.yaml")
    dec = NmeaDecoder(source="solent-radar", sensors=reg)
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    feed = [("120000", 0), ("235900", 1), ("114500", 2), ("120003", 3), ("120006", 6)]
    out = [
        item
        for i, (hhmmss, dt) in enumerate(feed, 1)
        for item in dec.feed(ttm(1, hhmmss), i, received=now + timedelta(seconds=dt))
    ]
    kinds = [type(x).__name__ for x in out]
    assert kinds == ["Contact", "Rejection", "Rejection", "Contact", "Contact"]
    assert [x.reason for x in out if isinstance(x, Rejection)] == ["bad_time", "bad_time"]
    assert [x.time for x in out if isinstance(x, Contact)] == [
        now,
        now + timedelta(seconds=3),
        now + timedelta(seconds=6),
    ]
