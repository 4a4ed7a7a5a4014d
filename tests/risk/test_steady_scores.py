"""A vessel whose findings are all open is scored from the last assessment (issue 8) —
which must be what scoring afresh gives, whatever happens between two reports.

Each generated run feeds one engine (which reuses steady scores) and, before every
assessment, scores afresh on an engine without the reuse; both must agree on every field.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seawarden.fleet.vessel import VesselState
from seawarden.model import Event
from seawarden.risk.score import RiskEngine
from tests.factories import T0

MMSI = 230_123_456

KINDS = ["identity", "spoofing", "ais_gap", "course_speed", "encounter", "loitering"]

finding_step = st.tuples(
    st.just("event"),
    st.sampled_from(KINDS),
    # mostly open findings: those are the steady ones whose scores are reused
    st.sampled_from(["open", "open", "open", "update", "update", "close", "instant"]),
    st.integers(1, 3),
    st.floats(0.05, 1.0),
    st.sampled_from([None, None, "watchlist", "gnss_interference", "flag_mismatch"]),
)
# a report: seconds later, at this distance from a corridor (None: far from any)
report_step = st.tuples(
    st.just("assess"),
    st.floats(0.0, 900.0),
    st.one_of(st.none(), st.floats(0.0, 40_000.0), st.sampled_from([0.0, 15_000.0])),
)
# a modifier (radar confirms the position): spoofing × factor for ten minutes
modifier_step = st.tuples(st.just("modifier"), st.floats(0.3, 1.2))
# one_of draws its branches evenly: findings and reports are repeated to come more often
step = st.one_of(
    finding_step,
    finding_step,
    finding_step,
    report_step,
    report_step,
    report_step,
    report_step,
    modifier_step,
    st.tuples(st.just("forget")),
)


def event(kind: str, phase: str, n: int, conf: float, ftype: str | None, t: float) -> Event:
    attrs: dict[str, Any] = {"confidence": conf, "reasons": [f"{kind} {n}"]}
    if ftype is not None:
        attrs["type"] = ftype
    return Event(
        id=f"{kind}-{n}",
        kind=kind,
        phase=phase,  # type: ignore[arg-type]
        mmsi=MMSI,
        time=T0 + timedelta(seconds=t),
        lat=59.9,
        lon=24.9,
        area_id="estlink-2" if n == 2 else None,
        attrs=attrs,
    )


def modifier(ev_id: str, target: str, factor: float, t: float) -> Event:
    """A radar confirmation: ``target``'s points × ``factor`` for ten minutes."""
    return Event(
        id=ev_id,
        kind="fusion.confirmed",
        phase="instant",
        mmsi=MMSI,
        time=T0 + timedelta(seconds=t),
        lat=59.9,
        lon=24.9,
        attrs={"modifies": target, "factor": factor, "valid_s": 600.0},
    )


@settings(max_examples=300, deadline=None)
@given(steps=st.lists(step, min_size=1, max_size=40))
def test_reused_scores_are_the_scores_computed_afresh(steps: list[tuple[Any, ...]]) -> None:
    reusing, fresh = RiskEngine(), RiskEngine()
    vessel = VesselState(MMSI, T0, track_window_n=8)
    t = 0.0
    for s in steps:
        if s[0] == "event":
            _, kind, phase, n, conf, ftype = s
            for eng in (reusing, fresh):
                eng.observe([event(kind, phase, n, conf, ftype, t)])
        elif s[0] == "modifier":
            mod = modifier(f"radar-{t}", "spoofing", s[1], t)
            for eng in (reusing, fresh):
                eng.observe([mod])
        elif s[0] == "forget":
            for eng in (reusing, fresh):
                eng.forget([])
        else:
            _, dt, dist = s
            t += dt
            now = T0 + timedelta(seconds=t)
            fresh._steady.clear()  # scored afresh every time
            got = reusing.assess(vessel, now, corridor_distance_m=dist)
            want = fresh.assess(vessel, now, corridor_distance_m=dist)
            assert got == want


def test_a_vessel_with_only_open_findings_is_reused_and_a_new_finding_is_not_missed() -> None:
    eng = RiskEngine()
    vessel = VesselState(MMSI, T0, track_window_n=8)
    eng.observe([event("identity", "open", 1, 0.8, "flag_mismatch", 0.0)])
    first = eng.assess(vessel, T0, corridor_distance_m=None)
    assert MMSI in eng._steady
    later = eng.assess(vessel, T0 + timedelta(minutes=5), corridor_distance_m=None)
    assert later.contributions is first.contributions  # reused, not recomputed
    assert later.time == T0 + timedelta(minutes=5)
    eng.observe([event("spoofing", "open", 1, 0.9, None, 300.0)])
    assert MMSI not in eng._steady
    third = eng.assess(vessel, T0 + timedelta(minutes=6), corridor_distance_m=None)
    assert {c.source for c in third.contributions} >= {"spoofing", "identity.flag_mismatch"}
    assert third.score > first.score


def _listed() -> Any:
    from seawarden.fleet.watchlist import WatchlistEntry, WatchlistMatch

    entry = WatchlistEntry(imo=9329760, mmsis=(MMSI,), name="EAGLE S", lists=("eu", "uk"))
    return WatchlistMatch(entry=entry, key="imo", score=1.0, detail="IMO 9329760")


def _change(what: str, eng: RiskEngine, vessel: VesselState, t: float) -> float | None:
    """Apply one change after a reused score was made; returns the corridor distance of
    the next report."""
    if what == "new finding":
        eng.observe([event("spoofing", "open", 1, 0.9, None, t)])
    elif what == "finding closed":
        eng.observe([event("identity", "close", 1, 0.8, "flag_mismatch", t)])
    elif what == "finding updated":
        eng.observe([event("identity", "update", 1, 0.3, "flag_mismatch", t)])
    elif what == "modifier":
        eng.observe([modifier("radar-1", "encounter", 0.5, t)])
    elif what == "listed":
        vessel.watch = _listed()
    elif what == "closer to a corridor":
        return 2_000.0
    elif what == "inside a corridor":
        return 0.0
    elif what == "new weights":
        from dataclasses import replace

        eng.config = replace(eng.config, far_factor=0.3, near_factor=0.5)
    elif what == "forgotten":
        eng.forget([])
    elif what == "restored":
        eng.restore(eng.snapshot())
    return None


@pytest.mark.parametrize(
    "what",
    [
        "new finding",
        "finding closed",
        "finding updated",
        "modifier",
        "listed",
        "closer to a corridor",
        "inside a corridor",
        "new weights",
        "forgotten",
        "restored",
    ],
)
def test_every_change_between_reports_is_seen(what: str) -> None:
    reusing, fresh = RiskEngine(), RiskEngine()
    vessel = VesselState(MMSI, T0, track_window_n=8)
    for eng in (reusing, fresh):
        eng.observe(
            [
                event("identity", "open", 1, 0.8, "flag_mismatch", 0.0),
                event("encounter", "open", 2, 0.6, None, 0.0),  # scaled by place
            ]
        )
    far = 30_000.0
    before = reusing.assess(vessel, T0, corridor_distance_m=far)
    assert MMSI in reusing._steady
    again = reusing.assess(vessel, T0 + timedelta(seconds=30), corridor_distance_m=far)
    assert again.contributions is before.contributions  # the reuse this test is about
    dist = far
    for eng in (reusing, fresh):
        got = _change(what, eng, vessel, 60.0)
        dist = far if got is None else got
    fresh._steady.clear()
    now = T0 + timedelta(seconds=90)
    after = reusing.assess(vessel, now, corridor_distance_m=dist)
    assert after == fresh.assess(vessel, now, corridor_distance_m=dist)
    if what not in ("forgotten", "restored"):
        assert after.contributions != before.contributions or after.score != before.score
