"""Radar/satellite contact evidence: taps, bounded rings, writing with alerts, the table."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asterix
from hypothesis import given, settings
from hypothesis import strategies as st

from seawarden.alerts.model import Alert
from seawarden.fusion.sensors import SensorConfig, SensorRegistry, load_sensors
from seawarden.ingest.files import SensorFileSource
from seawarden.ingest.nmea import NmeaDecoder
from seawarden.model import Contact, Event
from seawarden.store.evidence import (
    ContactRow,
    EvidenceRetention,
    EvidenceRow,
    RetentionConfig,
    ensure_schema,
    match_contact,
    read_contact_rows,
    ring_key,
    write_rows,
)
from tests.conftest import REPO

T0 = datetime(2024, 12, 24, 12, 0, tzinfo=UTC)
SENSORS = REPO / "config/sensors.example.yaml"
CAT048 = Path(asterix.__file__).parent / "sample_data/cat048.raw"
# One TTM as the simulated Calshot radar writes it (station solent-radar = vts-solent).
TTM = (
    b"\\s:solent-radar,c:1734999078*7D\\"
    b"$RATTM,01,16.2193,125.1,T,12.0,331.4,T,,,N,,T,,001118.00,A*30"
)


def _contact(track: str | None, t: datetime, *, pass_id: str | None = None) -> Contact:
    return Contact(
        time=t,
        lat=50.7,
        lon=-1.1,
        sensor="vts-solent" if pass_id is None else "S1A",
        kind="radar" if pass_id is None else "sar",
        track=track,
        pass_id=pass_id,
        source="solent-radar",
        line_no=1,
    )


def _alert(mmsi: int, msg_type: str, t: datetime) -> Alert:
    return Alert(
        id="a", revision=1, msg_type=msg_type, mmsi=mmsi, imo=None, name=None, flag=None,  # type: ignore[arg-type]
        severity="high", score=80.0, event_time=t, lat=0.0, lon=0.0, area_ids=(),
        detectors=("fusion",), reasons=(), next_crossing=None, watchlist=None, monitored=False,
    )  # fmt: skip


def _finding(mmsi: int, t: datetime, cited: Sequence[Contact]) -> Event:
    return Event(
        id="f1",
        kind="fusion",
        phase="open",
        mmsi=mmsi,
        time=t,
        lat=50.7,
        lon=-1.1,
        producer_version="1",
        attrs={
            "type": "dark_tracked",
            "evidence": [
                {
                    "time": c.time.isoformat(),
                    "sensor": c.sensor,
                    "track": c.track,
                    "pass_id": c.pass_id,
                    "source": c.source,
                    "line_no": c.line_no,
                }
                for c in cited
            ],
        },
    )


# -- the NMEA tap --------------------------------------------------------------------------


def test_nmea_decoder_taps_radar_contacts_with_their_sentence() -> None:
    sensors = load_sensors(SENSORS)
    retention = EvidenceRetention()
    decoder = NmeaDecoder(source="feed.nmea", sensors=sensors)
    decoder.tap = retention.tap("feed.nmea")
    (item,) = decoder.feed(TTM + b"\r\n", 7)
    assert isinstance(item, Contact)
    assert item.track == "1"
    (row,) = retention.contact_ring(ring_key("vts-solent", "1", None))
    assert row.raw == TTM
    assert row.line_no == 7
    assert row.fmt == "nmea"
    assert row.station == "solent-radar"
    assert row.source == "feed.nmea"
    assert row.time == item.time
    assert retention.vessels() == 0


def test_asterix_file_tap_keeps_each_contacts_data_block(tmp_path: Path) -> None:
    """The real cat048 sample (asterix-decoder, Croatia Control): every contact's raw input
    is the data block it was decoded from, byte for byte."""
    data = CAT048.read_bytes()
    blocks, at = [], 0
    while at + 3 <= len(data):
        n = int.from_bytes(data[at + 1 : at + 3], "big")
        blocks.append(data[at : at + n])
        at += n
    sensors = SensorRegistry(
        [
            SensorConfig(
                id=f"hr-{sic}", kind="radar", sigma_m=50.0, min_length_m=10.0,
                lat=45.74, lon=16.07, range_m=500_000, asterix=(25, sic),
            )
            for sic in range(256)
        ]
    )  # fmt: skip
    src = SensorFileSource(CAT048, "asterix", sensors, assume_time=T0)
    retention = EvidenceRetention(RetentionConfig(horizon_s=10 * 86400.0))
    retention.attach(src)
    contacts = [(n, c) for n, c in src if isinstance(c, Contact)]
    assert contacts
    seen = 0
    for n, c in contacts:
        rows = [
            r
            for r in retention.contact_ring(ring_key(c.sensor, c.track, c.pass_id))
            if r.time == c.time and r.line_no == n
        ]
        assert rows, (n, c)
        assert rows[0].raw == blocks[n - 1]
        assert rows[0].fmt == "asterix"
        seen += 1
    assert seen == len(contacts)


# -- bounds --------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    steps=st.lists(
        st.tuples(
            st.integers(0, 40),  # radar track
            st.floats(0, 30),  # seconds since the previous contact
            st.integers(60, 200),  # sentence length
        ),
        min_size=1,
        max_size=2000,
    ),
    max_lines=st.integers(1, 80),
    max_total=st.integers(1, 400),
    horizon_s=st.floats(60, 7200),
)
def test_contact_rings_stay_within_their_bounds(
    steps: list[tuple[int, float, int]], max_lines: int, max_total: int, horizon_s: float
) -> None:
    retention = EvidenceRetention(
        RetentionConfig(
            horizon_s=horizon_s, contact_max_lines=max_lines, contact_max_total=max_total
        )
    )
    t = T0
    for i, (track, dt, length) in enumerate(steps):
        t += timedelta(seconds=dt)
        retention.observe_contact(_contact(str(track), t), i, b"x" * length, None, "f.nmea", "nmea")
        assert retention.contact_lines() <= max_total
    total = 0
    for track in range(41):
        ring = retention.contact_ring(ring_key("vts-solent", str(track), None))
        assert len(ring) <= max_lines
        if ring:
            assert ring[-1].time - ring[0].time <= timedelta(seconds=horizon_s)
        total += len(ring)
    assert total == retention.contact_lines() <= max_total
    # bytes: each retained sentence costs its length plus a bounded overhead
    assert retention.contact_memory_bytes() <= total * (200 + 400) + 50_000


def test_a_long_busy_radar_feed_keeps_memory_bounded() -> None:
    """Ten contacts a second for 12 h (432,000 contacts over 300 track numbers, reused):
    the rings never hold more than ``contact_max_total`` lines, ~350 B each."""
    config = RetentionConfig(contact_max_lines=2000, contact_max_total=20_000)
    retention = EvidenceRetention(config)
    line = TTM  # 97 bytes, a real sentence length
    peak = 0
    for i in range(432_000):
        t = T0 + timedelta(seconds=i / 10)
        retention.observe_contact(_contact(str(i % 300), t), i, line, None, "f.nmea", "nmea")
        if i % 36_000 == 0:
            retention.expire(t)
            peak = max(peak, retention.contact_lines())
    assert retention.contact_lines() <= 20_000
    per_line = retention.contact_memory_bytes() / retention.contact_lines()
    assert per_line < 350, per_line


# -- with alerts ---------------------------------------------------------------------------


def test_cited_rings_are_written_with_the_alert_kept_open_and_closed_at_cancel() -> None:
    written: list[EvidenceRow | ContactRow] = []
    retention = EvidenceRetention(writer=written.extend)
    t = T0
    mmsi = 636759897
    for i in range(10):
        for track in ("1", "2"):
            retention.observe_contact(
                _contact(track, t + timedelta(seconds=i)), i, b"L%d" % i, None, "f", "nmea"
            )
    cited = _contact("1", t + timedelta(seconds=3))
    retention.on_findings([_finding(mmsi, t + timedelta(seconds=9), [cited])])
    assert written == []  # no alert yet: rings only
    retention.on_alerts([_alert(mmsi, "Alert", t + timedelta(seconds=10))])
    assert [r.track for r in written if isinstance(r, ContactRow)] == ["1"] * 10  # not "2"
    # while the alert is open, every further contact of the cited track is written
    retention.observe_contact(
        _contact("1", t + timedelta(seconds=11)), 11, b"L11", None, "f", "nmea"
    )
    retention.observe_contact(
        _contact("2", t + timedelta(seconds=11)), 11, b"L11", None, "f", "nmea"
    )
    retention.flush()
    assert len(written) == 11
    # a new finding of the open alert citing another ring writes it at once
    retention.on_findings([_finding(mmsi, t + timedelta(seconds=12), [_contact("2", t)])])
    retention.flush()
    assert sum(1 for r in written if isinstance(r, ContactRow) and r.track == "2") == 11
    retention.on_alerts([_alert(mmsi, "Cancel", t + timedelta(seconds=13))])
    n = len(written)
    retention.observe_contact(
        _contact("1", t + timedelta(seconds=14)), 14, b"L14", None, "f", "nmea"
    )
    retention.flush()
    assert len(written) == n  # back in ring mode
    assert len(retention.contact_ring(ring_key("vts-solent", "1", None))) == 1


def test_table_round_trip_and_match(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "e.db")
    ensure_schema(conn)
    row = ContactRow(
        sensor="S1A", kind="sar", track=None, pass_id="P1", time=T0, received=None,
        station="s1a.csv", source="s1a.csv", line_no=4, fmt="csv",
        raw=b"2024-12-24T12:00:00Z,50.7,-1.1,0.9,P1", header=b"time,lat,lon,confidence,pass_id",
    )  # fmt: skip
    write_rows(conn, [row, row])  # content-addressed: once
    rows = read_contact_rows(conn, "S1A", T0, T0)
    assert rows == [row]
    report = {"time": T0.isoformat(), "sensor": "S1A", "pass_id": "P1", "source": "s1a.csv"}
    m = match_contact(rows, {**report, "line_no": 4})
    assert m.exact
    assert m.rows == (row,)
    assert not match_contact(rows, {**report, "line_no": 5}).exact
    assert not match_contact(rows, {**report, "pass_id": "P2", "line_no": 4}).rows
    conn.close()
