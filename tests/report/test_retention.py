"""Raw evidence retention: exact bytes, every part, bounded memory, identical replays."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from seawarden.alerts.model import Alert
from seawarden.clock import ReplayClock
from seawarden.ingest.files import CsvFileSource
from seawarden.ingest.nmea import NmeaDecoder
from seawarden.model import PositionReport, Rejection
from seawarden.pipeline.live import LiveRunner
from seawarden.report.gather import gather
from seawarden.store.evidence import (
    EvidenceRetention,
    RetentionConfig,
    match_evidence,
    read_rows,
)
from seawarden.store.sqlite import SQLiteStore
from tests.conftest import REPO
from tests.report.conftest import Replayed, config, replay_into

T0 = datetime(2024, 12, 24, 12, 0, tzinfo=UTC)


def _rows(db: Path) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(db)
    try:
        return list(conn.execute("SELECT * FROM evidence_messages ORDER BY digest"))
    finally:
        conn.close()


def test_every_finding_report_has_its_exact_input_lines(replayed: Replayed) -> None:
    conn = sqlite3.connect(replayed.store)
    bundle = gather(conn, replayed.alert_id)
    conn.close()
    lines = replayed.lines()
    drags = [f for f in bundle.findings if f.kind == "anchor_drag"]
    assert drags, [f.kind for f in bundle.findings]
    checked = 0
    for f in bundle.findings:
        assert f.matches, f.id
        for m in f.matches:
            assert m.exact, m.report  # the reception the detector read is retained
            row = m.rows[0]
            assert row.station == m.report["source"]
            assert row.line_no == m.report["line_no"]
            # byte for byte as in the input file, tag block included
            assert row.lines == [lines[n] for n in row.line_nos]
            assert row.lines[0].startswith(b"\\s:sim,c:")
            checked += 1
    assert checked >= 20


def test_multi_part_messages_keep_every_part(replayed: Replayed) -> None:
    conn = sqlite3.connect(replayed.store)
    rows = read_rows(conn, replayed.mmsi)
    conn.close()
    lines = replayed.lines()
    statics = [r for r in rows if r.msg_type == 5]
    assert statics, "the drag ship sends type 5 every 6 min"
    for r in statics:
        assert len(r.line_nos) == 2
        assert r.lines == [lines[n] for n in r.line_nos]
        assert b"!AIVDM,2,1," in r.lines[0]
        assert b"!AIVDM,2,2," in r.lines[1]


def test_messages_are_stored_while_the_alert_is_open(replayed: Replayed) -> None:
    """The ring before the alert, then every message of the vessel until the Cancel."""
    conn = sqlite3.connect(replayed.store)
    revs = [
        (str(r[0]), datetime.fromisoformat(r[1]))
        for r in conn.execute(
            "SELECT msg_type, time FROM alerts WHERE id = ? ORDER BY revision",
            (replayed.alert_id,),
        )
    ]
    stored = {r.line_no for r in read_rows(conn, replayed.mmsi)}
    earliest = min(r.time for r in read_rows(conn, replayed.mmsi))
    conn.close()
    first = revs[0][1]
    cancel = next(t for kind, t in revs if kind == "Cancel")
    decoder = NmeaDecoder(source=replayed.nmea.name)
    expected: set[int] = set()
    for n, line in enumerate(replayed.nmea.read_bytes().splitlines(), 1):
        for item in decoder.feed(line, n):
            if isinstance(item, Rejection) or item.mmsi != replayed.mmsi:
                continue
            if first <= item.time <= cancel:
                expected.add(item.line_no)
    assert len(expected) >= 100
    assert expected <= stored
    assert earliest < first - timedelta(minutes=30), "the ring reaches back before the alert"


def test_replays_give_identical_evidence_and_never_duplicate(
    replayed: Replayed, tmp_path: Path
) -> None:
    again = tmp_path / "again.db"
    replay_into(replayed.nmea, again)
    first = _rows(replayed.store)
    assert first, "evidence rows expected"
    assert _rows(again) == first
    replay_into(replayed.nmea, again)  # the same input into the same store: no new row
    assert _rows(again) == first


def test_live_runner_retains_with_receive_times(replayed: Replayed, tmp_path: Path) -> None:
    db = tmp_path / "live.db"
    store = SQLiteStore(db)
    clock = ReplayClock(T0)
    runner = LiveRunner(config(), store=store, clock=clock)
    for line in replayed.nmea.read_bytes().splitlines():
        runner.feed_line(line, "tcp:127.0.0.1:10110")
    runner.finish()
    store.close()
    conn = sqlite3.connect(db)
    rows = read_rows(conn, replayed.mmsi)
    conn.close()
    assert rows
    lines = set(replayed.nmea.read_bytes().splitlines())
    for r in rows:
        assert r.source == "tcp:127.0.0.1:10110"
        assert r.received == T0
        assert all(line in lines for line in r.lines)


def test_csv_rows_are_kept_with_their_header() -> None:
    path = REPO / "tests/data/dma_aisdk_sample.csv"
    raw = path.read_bytes().decode("utf-8-sig").splitlines()
    src = CsvFileSource(path, "dma")
    retention = EvidenceRetention()
    retention.attach(src)
    records = [item for _, item in src if isinstance(item, PositionReport)]
    assert records
    for mmsi in {r.mmsi for r in records}:
        for row in retention.ring(mmsi):
            assert row.source == path.name
            assert row.raw == raw[row.line_no - 1].encode()
            assert row.header == raw[0].encode()
    assert sum(len(retention.ring(m)) for m in {r.mmsi for r in records}) == len(
        {r.line_no for r in records}
    )
    # Every position is found as findings cite it (time, message type, source, line): a
    # row that also yields a static report must be kept under its position.
    for r in records:
        cited = {"time": r.time.isoformat(), "msg_type": r.msg_type, "source": r.source,
                 "line_no": r.line_no}  # fmt: skip
        assert match_evidence(retention.ring(r.mmsi), r.mmsi, cited).exact, r


# -- bounds (property) -----------------------------------------------------------------


def _alert(mmsi: int, msg_type: str, t: datetime) -> Alert:
    return Alert(
        id="a", revision=1, msg_type=msg_type, mmsi=mmsi, imo=None, name=None, flag=None,  # type: ignore[arg-type]
        severity="high", score=80.0, event_time=t, lat=0.0, lon=0.0, area_ids=(),
        detectors=(), reasons=(), next_crossing=None, watchlist=None, monitored=False,
    )  # fmt: skip


@given(
    steps=st.lists(
        st.tuples(
            st.integers(0, 5),  # vessel
            st.floats(0, 900),  # seconds since the previous message
            st.integers(20, 160),  # line length
        ),
        min_size=1,
        max_size=1500,
    ),
    max_lines=st.integers(1, 60),
    horizon_s=st.floats(60, 7200),
)
def test_rings_stay_within_their_bounds(
    steps: list[tuple[int, float, int]], max_lines: int, horizon_s: float
) -> None:
    written: list[int] = []
    retention = EvidenceRetention(
        RetentionConfig(horizon_s=horizon_s, max_lines=max_lines),
        writer=lambda rows: written.append(len(rows)),
    )
    t = T0
    newest: dict[int, datetime] = {}
    for i, (vessel, gap_s, length) in enumerate(steps):
        t += timedelta(seconds=gap_s)
        mmsi = 230_000_000 + vessel
        rec = PositionReport(mmsi=mmsi, time=t, lat=60.0, lon=25.0, source="s1", line_no=i + 1)
        retention.observe(rec, i + 1, b"!" * length, None, "f.nmea")
        newest[mmsi] = t
        for m, last in newest.items():
            ring = retention.ring(m)
            assert len(ring) <= max_lines
            if ring:
                # datetimes have microsecond resolution: the bound is the rounded timedelta
                assert last - ring[0].time <= timedelta(seconds=horizon_s)
        # bytes per vessel stay under what max_lines entries of the longest line can take
        assert retention.memory_bytes() <= 2_000 + retention.vessels() * (1_000 + max_lines * 520)
    retention.expire(t + timedelta(seconds=horizon_s + 1))
    assert retention.vessels() == 0
    assert retention.memory_bytes() < 2_000
    assert not written  # nothing was alerted: nothing leaves memory


def _at(t: datetime) -> PositionReport:
    return PositionReport(mmsi=1, time=t, lat=0.0, lon=0.0)


def test_alerted_vessel_goes_to_the_store_and_back_to_ring_after_cancel() -> None:
    batches: list[list[int]] = []
    retention = EvidenceRetention(writer=lambda rows: batches.append([r.line_no for r in rows]))
    for i in range(5):
        retention.observe(_at(T0 + timedelta(seconds=10 * i)), i + 1, b"x", None, "f")
    retention.on_alerts([_alert(1, "Alert", T0)])
    assert batches == [[1, 2, 3, 4, 5]]
    assert retention.is_open(1)
    retention.observe(_at(T0 + timedelta(minutes=5)), 6, b"y", None, "f")
    retention.flush()
    assert batches[-1] == [6]
    retention.on_alerts([_alert(1, "Cancel", T0)])
    retention.observe(_at(T0 + timedelta(minutes=6)), 7, b"z", None, "f")
    retention.flush()
    assert batches[-1] == [6]
    assert [r.line_no for r in retention.ring(1)] == [7]
