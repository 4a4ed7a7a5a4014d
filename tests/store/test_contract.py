"""The store contract, checked on both stores: every test runs on SQLite and on PostgreSQL.

What the pipeline relies on (store/base.py): "insert or replace" on each table's key (the
last write wins, within one batch too), ``first_seen`` kept by the vessel upsert, idempotent
event and alert writes (a replay after a crash rewrites them), checkpoints, runs, read order,
and that a batch is invisible to other connections until :meth:`commit`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import orjson
import pytest

from seawarden.model import Event
from seawarden.store.base import IdentityRow, RunInfo, VesselRow
from tests.alerts.factories import make_alert
from tests.factories import T0, make_report
from tests.store.conftest import StoreFactory


def vessel(mmsi: int, t: float, **kw: Any) -> VesselRow:
    values: dict[str, Any] = {
        "mmsi": mmsi,
        "first_seen": T0 + timedelta(seconds=t),
        "last_seen": T0 + timedelta(seconds=t),
        "lat": 59.9,
        "lon": 24.9,
        "speed_kn": 11.5,
        "course_deg": 271.3,
        "imo": 9_329_760,
        "name": "EAGLE S",
        "callsign": "E5U4266",
        "ship_type": 80,
        "flag": "CK",
        "mmsi_class": "ship",
        "watchlist": None,
    }
    values.update(kw)
    return VesselRow(**values)


def event(i: int, **kw: Any) -> Event:
    values: dict[str, Any] = {
        "id": f"ev{i:04d}",
        "kind": "area.enter",
        "phase": "instant",
        "mmsi": 230_000_000 + i % 3,
        "time": T0 + timedelta(seconds=10 * i),
        "lat": 59.9,
        "lon": 24.9 + i * 1e-3,
        "area_id": "estlink-2",
        "producer_version": "area_tracker/1",
        "attrs": {"speed_kn": 0.1 * i, "nested": {"z": [1, 2.5, None], "a": "ä"}, "n": i},
    }
    values.update(kw)
    return Event(**values)


def test_positions_replace_on_key_and_track_is_inclusive_and_ordered(
    open_store: StoreFactory,
) -> None:
    s = open_store()
    reports = [make_report(t) for t in (30, 0, 10, 20)] + [make_report(5, mmsi=1)]
    s.write_positions(reports)
    # the same (mmsi, time) again, twice in one batch: the last one wins
    s.write_positions([make_report(10, speed_kn=1.0), make_report(10, speed_kn=2.0, source="b")])
    s.commit()
    track = s.track(230_123_456, T0 + timedelta(seconds=10), T0 + timedelta(seconds=30))
    assert [p.time for p in track] == [T0 + timedelta(seconds=t) for t in (10, 20, 30)]
    assert (track[0].speed_kn, track[0].source) == (2.0, "b")
    assert track[1] == make_report(20)  # every stored field round-trips (line_no is not kept)
    assert s.track(230_123_456, T0 + timedelta(seconds=31), T0 + timedelta(hours=1)) == []
    assert [p.mmsi for p in s.track(1, T0, T0 + timedelta(hours=1))] == [1]


def test_vessel_upsert_keeps_first_seen_and_replaces_the_rest(open_store: StoreFactory) -> None:
    s = open_store()
    s.upsert_vessels([vessel(2, 0), vessel(1, 0, lat=None, lon=None, name=None)])
    watch = {"key": "imo", "score": 1.0, "entry": {"lists": ["eu"], "mmsis": [2]}}
    s.upsert_vessels([vessel(2, 60, name="SEA OWL", flag=None, lat=60.1, watchlist=watch)])
    s.commit()
    assert [v.mmsi for v in s.vessels()] == [1, 2]
    v2 = s.vessel(2)
    assert v2 == vessel(2, 0, last_seen=T0 + timedelta(seconds=60), name="SEA OWL", flag=None,
                        lat=60.1, watchlist=watch)  # fmt: skip
    v1 = s.vessel(1)
    assert v1 is not None
    assert (v1.lat, v1.lon, v1.name) == (None, None, None)
    assert s.vessel(3) is None
    # twice in one batch, new vessel: first_seen of the first row, the rest from the last
    s.upsert_vessels(
        [vessel(9, 0, name="A"), vessel(9, 30, name="B", first_seen=T0 + timedelta(1))]
    )
    s.commit()
    v9 = s.vessel(9)
    assert v9 is not None
    assert (v9.first_seen, v9.last_seen, v9.name) == (T0, T0 + timedelta(seconds=30), "B")


def test_identity_history_replaces_on_key_in_time_then_field_order(
    open_store: StoreFactory,
) -> None:
    s = open_store()
    t1 = T0 + timedelta(minutes=1)
    s.write_identity(
        [
            IdentityRow(mmsi=7, time=t1, field="name", old="A", new="B", source="x"),
            IdentityRow(mmsi=7, time=T0, field="name", old=None, new="A", source="x"),
            IdentityRow(mmsi=7, time=t1, field="callsign", old=None, new="C", source="x"),
            IdentityRow(mmsi=8, time=T0, field="name", old=None, new="Z", source="x"),
        ]
    )
    s.write_identity([IdentityRow(mmsi=7, time=t1, field="name", old="A", new="B2", source="y")])
    s.commit()
    rows = s.identity_history(7)
    assert [(r.time, r.field, r.new) for r in rows] == [
        (T0, "name", "A"),
        (t1, "callsign", "C"),
        (t1, "name", "B2"),
    ]
    assert rows[2].source == "y"


def test_event_writes_are_idempotent_and_filterable(open_store: StoreFactory) -> None:
    s = open_store()
    events = [event(i) for i in range(9)]
    s.write_events(events)
    s.write_events(events[3:])  # a replay after a crash writes them again
    s.write_events([event(8, attrs={"revised": True})])  # same key: replaced
    s.commit()
    got = s.events()
    assert got == [*events[:8], event(8, attrs={"revised": True})]
    assert got[0].attrs["nested"] == {"z": [1, 2.5, None], "a": "ä"}
    assert [e.id for e in s.events(mmsi=230_000_001)] == ["ev0001", "ev0004", "ev0007"]
    s.write_events([event(20, kind="anchor_drag", phase="start")])
    s.commit()
    assert [e.id for e in s.events(kind="anchor_drag")] == ["ev0020"]
    assert [e.id for e in s.events(mmsi=230_000_002, kind="anchor_drag")] == ["ev0020"]
    assert s.events(mmsi=230_000_000, kind="anchor_drag") == []


def test_alert_writes_are_idempotent_per_revision(open_store: StoreFactory) -> None:
    s = open_store()
    a1 = make_alert()
    a2 = make_alert(revision=2, msg_type="Update", score=80.0, t=600)
    other = make_alert(id="0ther", mmsi=1, t=300)
    s.write_alerts([a1, a2, other])
    s.write_alerts([a1, a2])
    s.commit()
    bodies = s.alerts()
    expected = [orjson.loads(orjson.dumps(a.to_dict())) for a in (a1, other, a2)]
    assert bodies == expected
    assert list(bodies[0]) == sorted(bodies[0])  # bodies as written (sorted keys)
    assert s.alerts(mmsi=1) == [expected[1]]
    assert s.alerts(mmsi=2) == []


def test_checkpoints_overwrite_and_survive_reopen(open_store: StoreFactory) -> None:
    s = open_store()
    assert s.load_checkpoint("replay:abc") is None
    s.save_checkpoint("replay:abc", {"line": 1, "fleet": {"x": [1.5, None]}})
    s.save_checkpoint("replay:abc", {"line": 2, "fleet": {}})
    s.save_checkpoint("other", {"line": 9})
    assert s.load_checkpoint("replay:abc") == {"line": 2, "fleet": {}}
    s.close()
    s2 = open_store()
    assert s2.load_checkpoint("replay:abc") == {"line": 2, "fleet": {}}
    assert s2.load_checkpoint("other") == {"line": 9}


def test_a_batch_is_invisible_to_others_until_commit(open_store: StoreFactory) -> None:
    writer, reader = open_store(), open_store()
    writer.write_positions([make_report(0)])
    writer.upsert_vessels([vessel(5, 0)])
    writer.write_events([event(1)])
    assert reader.vessels() == []
    assert reader.events() == []
    reader.commit()  # end the reader's snapshot (SQLite: WAL read transaction)
    writer.commit()
    assert [v.mmsi for v in reader.vessels()] == [5]
    assert len(reader.events()) == 1
    assert len(reader.track(230_123_456, T0, T0)) == 1


def test_close_commits_and_reopen_reads_everything(open_store: StoreFactory) -> None:
    s = open_store()
    s.write_positions([make_report(t) for t in range(0, 100, 10)])
    s.upsert_vessels([vessel(230_123_456, 0)])
    s.write_events([event(1)])
    s.write_alerts([make_alert()])
    s.close()
    s2 = open_store()
    assert len(s2.track(230_123_456, T0, T0 + timedelta(hours=1))) == 10
    assert [v.mmsi for v in s2.vessels()] == [230_123_456]
    assert len(s2.events()) == 1
    assert len(s2.alerts()) == 1


def test_runs_record_start_end_and_a_restart_replaces(open_store: StoreFactory) -> None:
    s = open_store()
    info = RunInfo(
        run_id="r1",
        started=T0,
        command="replay",
        inputs=["b.csv", "a.csv"],
        config={"z": 1, "a": {"y": 2, "b": 3}},
        versions={"pipeline": "7", "area_tracker": "3"},
    )
    s.begin_run(info)
    (run,) = s.runs()
    assert (run["run_id"], run["status"], run["finished"], run["stats"]) == (
        "r1",
        "running",
        None,
        None,
    )
    assert run["started"] == T0.isoformat()
    assert orjson.loads(run["inputs"]) == ["b.csv", "a.csv"]
    assert run["config"] == orjson.dumps(info.config, option=orjson.OPT_SORT_KEYS).decode()
    assert "area_tracker" in run["versions"]
    s.end_run("r1", {"records": 10, "events": {"x": 1}}, "complete")
    (run,) = s.runs()
    assert run["status"] == "complete"
    assert run["finished"] is not None
    assert orjson.loads(run["stats"]) == {"records": 10, "events": {"x": 1}}
    s.begin_run(RunInfo(run_id="r2", started=T0 + timedelta(hours=1), command="live",
                        inputs=[], config={}, versions={}))  # fmt: skip
    s.begin_run(info)  # the same run id again: replaced, running again
    assert [(r["run_id"], r["status"]) for r in s.runs()] == [("r1", "running"), ("r2", "running")]
    assert set(run) == {
        "run_id", "started", "finished", "command", "inputs", "config", "versions", "stats",
        "status",
    }  # fmt: skip


def test_the_environment_can_name_a_postgresql_store(monkeypatch: pytest.MonkeyPatch) -> None:
    """SEAWARDEN_STORE holds a DSN intact (a Path would fold postgresql:// into postgresql:/)."""
    from seawarden.pipeline.settings import env_settings

    monkeypatch.setenv("SEAWARDEN_STORE", "postgresql://seawarden@127.0.0.1:5432/warden")
    assert env_settings().store == "postgresql://seawarden@127.0.0.1:5432/warden"
    monkeypatch.setenv("SEAWARDEN_STORE", "warden.db")
    assert env_settings().store == "warden.db"
