"""Partitioned cores (pipeline/partition.py): the union of the partitions is the single run.

Real Baltic AIS (DMA, Nov 2020) with simulated incidents over it (`seawarden simulate`: an
STS meeting, an anchor drag, a cloned MMSI, a spoofed jump; docs/scenarios.md) and one
synthetic MMSI swap: two real hulls in *different* partitions claim one IMO. Each partition's
core reads every record and owns some vessels; what the partitions emit together must be
what one core emits — events, alert revisions and store rows — including the findings that
cross partitions (the encounter mirrored to a partner another partition owns, the MMSI swap
noticed through the replicated IMO index).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seawarden.alerts.model import Alert
from seawarden.errors import ConfigError
from seawarden.model import Event, PositionReport, Record, StaticReport
from seawarden.pipeline.order import sort_key
from seawarden.pipeline.partition import PartitionSpec, partition_of
from seawarden.pipeline.replay import build_core
from seawarden.pipeline.settings import RunConfig
from seawarden.pipeline.sinks import dumps_event
from seawarden.sim import simulate
from seawarden.store.sqlite import SQLiteStore
from seawarden.testing import read_track
from tests.conftest import REPO, SHARED_DATA

BALTIC = SHARED_DATA / "tracks/baltic-cargo-2020/baltic_cargo_20201101.csv"
CONFIG = RunConfig(areas=REPO / "config/areas.geojson", watchlists=(REPO / "config/watchlist.csv",))
SCENARIOS = ["sts_meeting", "anchor_drag_slowdown", "cloned_mmsi", "spoofed_jump"]
SWAP_IMO = 9213284
PARTITION_COUNTS = (2, 3)


@pytest.fixture(scope="module")
def records(tmp_path_factory: pytest.TempPathFactory) -> list[Record]:
    tmp = tmp_path_factory.mktemp("partitioned")
    simulate(tmp / "sim.nmea", tmp / "labels.jsonl", scenarios=SCENARIOS, background=BALTIC, seed=5)
    data = read_track(tmp / "sim.nmea")
    # The incidents all happen in the first 20 h; the rest of the day adds time, not cases.
    end = data[0].time + timedelta(hours=20)
    return _with_swap([r for r in data if r.time <= end])


@pytest.fixture(scope="module")
def single(records: list[Record]) -> tuple[list[Event], list[Alert]]:
    return _run(records, None)


def _with_swap(records: Sequence[Record]) -> list[Record]:
    """Two busy real vessels in different partitions (of 2 and of 3) claim one IMO."""
    busy = Counter(r.mmsi for r in records if isinstance(r, PositionReport))
    ranked = [m for m, _ in busy.most_common(40)]
    a = ranked[0]
    b = next(
        m for m in ranked if all(partition_of(m, n) != partition_of(a, n) for n in PARTITION_COUNTS)
    )
    out = list(records)
    for mmsi, name, k in ((a, "OCEAN GLORY", 10), (b, "SEA PEARL", 10), (b, "SEA PEARL", 100)):
        track = [r for r in records if isinstance(r, PositionReport) and r.mmsi == mmsi]
        out.append(
            StaticReport(
                mmsi=mmsi,
                time=track[k].time,
                imo=SWAP_IMO,
                name=name,
                ship_type=80,
                msg_type=5,
                source="test",
            )
        )
    out.sort(key=sort_key)
    return out


def _run(
    records: Sequence[Record], spec: PartitionSpec | None, store: SQLiteStore | None = None
) -> tuple[list[Event], list[Alert]]:
    core = build_core(CONFIG, store, owns=spec.owns if spec else None)
    events: list[Event] = []
    alerts: list[Alert] = []
    for rec in records:
        events.extend(core.process(rec))
        alerts.extend(core.drain_alerts())
    core.flush()
    if store is not None:
        store.commit()
    return events, alerts


def _key(items: Sequence[Event] | Sequence[Alert]) -> list[bytes]:
    return sorted(
        orjson.dumps(x.to_dict(), option=orjson.OPT_SORT_KEYS)
        if isinstance(x, Alert)
        else dumps_event(x)
        for x in items
    )


def _union(records: Sequence[Record], count: int) -> tuple[list[Event], list[Alert]]:
    events: list[Event] = []
    alerts: list[Alert] = []
    for p in range(count):
        ev, al = _run(records, PartitionSpec(frozenset({p}), count))
        # a partition emits only for the vessels it owns
        assert all(partition_of(e.mmsi, count) == p for e in ev)
        assert all(partition_of(a.mmsi, count) == p for a in al)
        events += ev
        alerts += al
    return events, alerts


@pytest.mark.slow
@pytest.mark.parametrize("count", PARTITION_COUNTS)
def test_union_of_partitions_equals_one_process(
    records: list[Record], single: tuple[list[Event], list[Alert]], count: int
) -> None:
    data = records
    events, alerts = single
    kinds = Counter(e.kind for e in events)
    # the input exercises what crosses partitions
    encounters = [e for e in events if e.kind == "encounter"]
    assert encounters
    assert any(
        partition_of(e.mmsi, count) != partition_of(e.attrs["partner_mmsi"], count)
        for e in encounters
    ), "the STS pair should straddle two partitions"
    swaps = [e for e in events if e.kind == "identity.change" and e.attrs["field"] == "mmsi"]
    assert swaps, kinds
    assert {a.msg_type for a in alerts} >= {"Alert", "Update", "Cancel"}

    p_events, p_alerts = _union(data, count)
    assert _key(p_events) == _key(events)
    assert _key(p_alerts) == _key(alerts)


@pytest.mark.slow
def test_partitions_without_the_shared_picture_would_differ(
    records: list[Record], single: tuple[list[Event], list[Alert]]
) -> None:
    """The check above can fail: feeding each partition only its own vessels (the naive
    split) loses the mirrored encounter and the cross-partition MMSI swap."""
    data = records
    events, alerts = single
    naive_events: list[Event] = []
    naive_alerts: list[Alert] = []
    for p in range(2):
        own = [r for r in data if partition_of(r.mmsi, 2) == p]
        ev, al = _run(own, None)
        naive_events += ev
        naive_alerts += al
    assert _key(naive_events) != _key(events) or _key(naive_alerts) != _key(alerts)
    swaps = [e for e in naive_events if e.kind == "identity.change" and e.attrs["field"] == "mmsi"]
    assert not swaps  # the two claims of the IMO never meet in one process


@pytest.mark.slow
def test_store_rows_of_partitions_equal_one_process(records: list[Record], tmp_path: Path) -> None:
    data = records
    one = SQLiteStore(tmp_path / "one.db")
    _run(data, None, one)
    parts = [SQLiteStore(tmp_path / f"p{p}.db") for p in range(2)]
    for p, store in enumerate(parts):
        _run(data, PartitionSpec(frozenset({p}), 2), store)

    def rows(stores: Sequence[SQLiteStore], sql: str) -> list[Any]:
        return sorted(tuple(r) for s in stores for r in s.connection.execute(sql).fetchall())

    for sql in (
        "SELECT * FROM vessels",
        "SELECT mmsi, time, lat, lon FROM positions",
        "SELECT id, kind, mmsi, time FROM events",
        "SELECT id, revision, mmsi, severity FROM alerts",
        "SELECT mmsi, time, field, old, new FROM identity_history",
    ):
        assert rows(parts, sql) == rows([one], sql), sql
    for s in (one, *parts):
        s.close()


def test_fusion_is_refused_in_a_partitioned_core() -> None:
    sensors = REPO / "config/sensors.example.yaml"
    config = RunConfig(areas=CONFIG.areas, sensors=sensors)
    with pytest.raises(ConfigError, match="partitioned"):
        build_core(config, None, owns=PartitionSpec.parse("0/2").owns)


@given(st.integers(min_value=0, max_value=1_999_999_999), st.integers(min_value=1, max_value=64))
@settings(max_examples=300)
def test_every_mmsi_is_owned_by_exactly_one_partition(mmsi: int, count: int) -> None:
    owners = [p for p in range(count) if PartitionSpec(frozenset({p}), count).owns(mmsi)]
    assert owners == [partition_of(mmsi, count)]
    assert PartitionSpec.parse(f"*/{count}").owns(mmsi)


@pytest.mark.parametrize("bad", ["", "x/2", "2/2", "0,-1/3", "0/0", "1/5000"])
def test_bad_partition_specs_are_refused(bad: str) -> None:
    with pytest.raises(ConfigError):
        PartitionSpec.parse(bad)


def test_partition_spec_round_trips() -> None:
    spec = PartitionSpec.parse(" 2,0/4")
    assert str(spec) == "0,2/4"
    assert PartitionSpec.parse(str(spec)) == spec
    assert not spec.everything
    assert PartitionSpec.parse("*/3").everything
