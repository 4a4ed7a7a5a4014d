"""Risk modifiers (context events that change how much a finding is believed) and the
``same_evidence`` groups: unit tests of ``RiskEngine.assess`` on hand-built events, so each
rule is checked on its own (the scenario tests check them end to end on real traffic)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from seawarden.fleet.vessel import VesselState
from seawarden.model import Event
from seawarden.risk.score import MODIFIER_FACTOR_RANGE, RiskConfig, RiskEngine

T0 = datetime(2026, 1, 1, 12, tzinfo=UTC)
MMSI = 235000001


def _ev(kind: str, eid: str, t: datetime, phase: str = "open", **attrs: Any) -> Event:
    return Event(
        id=eid, kind=kind, phase=phase, mmsi=MMSI, time=t, lat=50.8, lon=-1.3,  # type: ignore[arg-type]
        attrs={"confidence": 1.0, **attrs},
    )  # fmt: skip


def _confirmed(eid: str, t: datetime, factor: float = 0.5) -> Event:
    return _ev(
        "fusion", eid, t, "instant", type="confirmed", modifies="spoofing", factor=factor,
        valid_s=1800.0, explanation="position confirmed by radar r1", note=None,
    )  # fmt: skip


def _points(engine: RiskEngine, when: datetime, source: str) -> float:
    vessel = VesselState(MMSI, T0, track_window_n=4)
    a = engine.assess(vessel, when, corridor_distance_m=0.0)
    return next(c.points for c in a.contributions if c.source == source)


def test_confirmations_do_not_stack() -> None:
    """Review finding: four radar confirmations in 30 min cut a spoofing finding to 0.5⁴."""
    engine = RiskEngine()
    engine.observe([_ev("spoofing", "sp", T0)])
    full = _points(engine, T0, "spoofing")
    for k in range(4):
        engine.observe([_confirmed(f"c{k}", T0 + timedelta(seconds=600 * k))])
    after = _points(engine, T0 + timedelta(seconds=1900), "spoofing")
    assert after == pytest.approx(full * 0.5, abs=0.1)


def test_a_modifier_expires_after_its_validity() -> None:
    engine = RiskEngine()
    engine.observe([_ev("spoofing", "sp", T0), _confirmed("c", T0)])
    assert _points(engine, T0 + timedelta(seconds=60), "spoofing") < 40
    assert _points(engine, T0 + timedelta(seconds=1801), "spoofing") == pytest.approx(70.0)


def test_different_kinds_of_context_both_apply_and_notes_reach_the_assessment() -> None:
    engine = RiskEngine()
    storm = _ev(
        "weather", "w", T0, "instant", type="storm", modifies="anchor_drag", factor=0.9,
        valid_s=3600.0, explanation="likely accidental", note="likely accidental: storm",
    )  # fmt: skip
    engine.observe([_ev("anchor_drag", "ad", T0), storm, _confirmed("c", T0)])
    vessel = VesselState(MMSI, T0, track_window_n=4)
    a = engine.assess(vessel, T0 + timedelta(seconds=60), corridor_distance_m=0.0)
    drag = next(c for c in a.contributions if c.source == "anchor_drag")
    assert drag.points == pytest.approx(95 * 0.9, abs=0.1)
    assert "× 0.9: likely accidental" in drag.text
    assert a.notes == ("likely accidental: storm",)  # the confirmation has no note


@given(st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=5)))
def test_no_factor_can_make_a_finding_vanish(factor: Any) -> None:
    engine = RiskEngine()
    engine.observe([_ev("spoofing", "sp", T0), _confirmed("c", T0, factor=factor)])
    pts = _points(engine, T0, "spoofing")
    lo, hi = MODIFIER_FACTOR_RANGE
    assert 70 * lo - 0.1 <= pts <= 70 * hi + 0.1


def test_same_evidence_counts_once() -> None:
    engine = RiskEngine()
    engine.observe(
        [
            _ev("ais_gap", "g", T0, confidence=0.6),
            _ev("fusion", "d", T0, type="dark_tracked", confidence=0.5),
        ]
    )
    vessel = VesselState(MMSI, T0, track_window_n=4)
    a = engine.assess(vessel, T0, corridor_distance_m=0.0)
    by = {c.source: c for c in a.contributions}
    assert by["ais_gap"].points == pytest.approx(62 * 0.6, abs=0.1)
    assert by["fusion.dark_tracked"].points == 0.0
    assert "not counted twice" in by["fusion.dark_tracked"].text
    assert a.score == pytest.approx(62 * 0.6, abs=0.1)
    # without the group both count, as independent probabilities
    loose = RiskEngine(RiskConfig(same_evidence=()))
    loose.observe(
        [
            _ev("ais_gap", "g", T0, confidence=0.6),
            _ev("fusion", "d", T0, type="dark_tracked", confidence=0.5),
        ]
    )
    assert loose.assess(vessel, T0, corridor_distance_m=0.0).score > a.score


def test_modifiers_survive_a_snapshot() -> None:
    engine = RiskEngine()
    engine.observe([_ev("spoofing", "sp", T0), _confirmed("c", T0)])
    copy = RiskEngine()
    copy.restore(engine.snapshot())
    when = T0 + timedelta(seconds=60)
    assert _points(copy, when, "spoofing") == _points(engine, when, "spoofing")
