"""Ticks come from a queue of due vessels, not a walk over the fleet (issue 8).

The oracle is the walk the runner used to do: every tick, every vessel of the fleet in the
fleet's order, skipped unless silent for ``quiet_after_s`` and past its back-off. The queue
must call ``on_tick`` for the same vessels, at the same times, in the same order — on real
Baltic AIS (with silences made by dropping reports) and on generated streams.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, ClassVar

from hypothesis import given, settings
from hypothesis import strategies as st

from seawarden.detectors.base import Context, Detector
from seawarden.detectors.runner import DetectorRunner, FleetView
from seawarden.fleet.fleet import Fleet, FleetConfig
from seawarden.model import Event, PositionReport
from seawarden.testing import read_track
from tests.conftest import SHARED_DATA
from tests.factories import make_report

BALTIC = SHARED_DATA / "tracks/baltic-cargo-2020/baltic_cargo_20201101.csv"


class _Calls(Detector[Any, list[datetime]]):
    """Records every on_tick call (vessel, time) in one shared log."""

    name: ClassVar[str] = "calls"
    version: ClassVar[str] = "1"
    config_type: ClassVar[type[Any]] = dict
    log: list[tuple[int, datetime]]

    def initial_state(self, mmsi: int) -> list[datetime]:
        return []

    def step(
        self, state: list[datetime], report: PositionReport, ctx: Context
    ) -> tuple[list[datetime], list[Event]]:
        return state, []

    def on_tick(
        self, state: list[datetime], now: datetime, ctx: Context
    ) -> tuple[list[datetime], list[Event]]:
        self.log.append((ctx.vessel.mmsi, now))
        return state, []


class _WalkingRunner(DetectorRunner):
    """The old tick: a walk over the whole fleet (the oracle)."""

    def maybe_tick(self, now: datetime, fleet: FleetView) -> list[Event]:
        self.ticked = False
        if self._next_tick is None:
            self._next_tick = now + self._tick
            return []
        if now < self._next_tick:
            return []
        self._next_tick = now + self._tick
        self.ticked = True
        assert isinstance(fleet, Fleet)
        for vessel in fleet:
            states = self._states.get(vessel.mmsi)
            if states is None:
                continue
            silence = (now - vessel.last_seen).total_seconds()
            if silence < self.quiet_after_s:
                continue
            due = self._vessel_due.get(vessel.mmsi)
            if due is not None and now < due:
                continue
            self._vessel_due[vessel.mmsi] = now + max(self._tick, timedelta(seconds=silence / 5))
            ctx = self._context(vessel, now, ())
            for i in self._ticking:
                states[i], _ = self.detectors[i].on_tick(states[i], now, ctx)
        return []


def _ticks(
    runner_type: type[DetectorRunner],
    records: list[PositionReport],
    *,
    expire_every_s: float = 3600.0,
    ttl_s: float = 4 * 3600.0,
    restore_at: int | None = None,
) -> list[tuple[int, datetime]]:
    det = _Calls({})
    det.log = []
    fleet = Fleet(FleetConfig(state_ttl_s=ttl_s))
    runner = runner_type([det])
    next_expire: datetime | None = None
    for n, rec in enumerate(records):
        if n == restore_at:  # a checkpoint taken and restored mid-stream
            snap, fleet_snap = runner.snapshot(), fleet.snapshot()
            runner = runner_type([det])
            runner.restore(snap)
            fleet = Fleet(FleetConfig(state_ttl_s=ttl_s))
            fleet.restore(fleet_snap)
        vessel = fleet.on_position(rec)
        runner.on_position(vessel, rec, ())
        runner.maybe_tick(rec.time, fleet)
        if next_expire is None:
            next_expire = rec.time + timedelta(seconds=expire_every_s)
        elif rec.time >= next_expire:
            next_expire = rec.time + timedelta(seconds=expire_every_s)
            fleet.expire(rec.time)
            runner.expire(rec.time, {v.mmsi for v in fleet})
    return det.log


def _baltic(drop_every: int) -> list[PositionReport]:
    """Real positions, with every vessel's reports thinned in runs so it falls silent."""
    recs = [r for r in read_track(BALTIC) if isinstance(r, PositionReport)]
    return [r for i, r in enumerate(recs) if (i // 50) % drop_every != 1]


def test_queue_ticks_the_same_vessels_as_the_walk_on_real_traffic() -> None:
    records = _baltic(drop_every=3)
    walked = _ticks(_WalkingRunner, records)
    queued = _ticks(DetectorRunner, records)
    assert len(walked) > 1000  # silent vessels were ticked, many times
    assert len({m for m, _ in walked}) > 20
    assert queued == walked


def test_queue_survives_a_checkpoint_restore() -> None:
    records = _baltic(drop_every=4)
    walked = _ticks(_WalkingRunner, records, restore_at=len(records) // 2)
    queued = _ticks(DetectorRunner, records, restore_at=len(records) // 2)
    assert queued == walked


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 5), st.floats(0.0, 4000.0)),
        min_size=1,
        max_size=120,
    ),
    st.floats(600.0, 7200.0),
)
def test_queue_equals_walk_on_generated_streams(
    steps: list[tuple[int, float]], ttl_s: float
) -> None:
    # Vessel k reports after a gap of g seconds: long gaps make silences, ticks, back-offs,
    # vessels the fleet forgets and meets again (new states, stale queue entries).
    t = 0.0
    records = []
    for k, gap in steps:
        t += gap
        records.append(make_report(t, mmsi=230_000_000 + k))
    walked = _ticks(_WalkingRunner, records, expire_every_s=900.0, ttl_s=ttl_s)
    queued = _ticks(DetectorRunner, records, expire_every_s=900.0, ttl_s=ttl_s)
    assert queued == walked
