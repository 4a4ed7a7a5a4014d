"""Registry priors: each contribution, its points and its words."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from seawarden.errors import ConfigError
from seawarden.fleet.registry import Particulars, VesselRegistry
from seawarden.fleet.vessel import VesselState
from seawarden.risk.priors import RegistryPriorConfig, RegistryPriors

NOW = datetime(2025, 2, 1, 12, tzinfo=UTC)
EAGLE_MMSI = 518998865  # MID 518: Cook Islands


def _vessel(
    imo: int | None = 9329760, ship_type: int | None = None, mmsi: int = EAGLE_MMSI
) -> VesselState:
    v = VesselState(mmsi, NOW, track_window_n=10)
    v.imo = imo
    v.ship_type = ship_type
    return v


def _priors(p: Particulars, **cfg: float) -> RegistryPriors:
    return RegistryPriors(VesselRegistry([p]), RegistryPriorConfig(**cfg))  # type: ignore[arg-type]


def _by_source(
    p: Particulars, vessel: VesselState | None = None, **cfg: float
) -> dict[str, tuple[float, str]]:
    out = _priors(p, **cfg)(vessel or _vessel(), NOW)
    return {c.source: (c.points, c.text) for c in out}


def test_unknown_vessel_or_no_imo_gives_nothing() -> None:
    p = Particulars(imo=9329760, insured=False, insurer="none")
    assert _priors(p)(_vessel(imo=None), NOW) == []
    assert _priors(p)(_vessel(imo=9250397), NOW) == []


def test_uninsured_and_unknown_insurer() -> None:
    got = _by_source(Particulars(imo=9329760, name="EAGLE S", insurer="none", insured=False))
    assert got["prior.registry.uninsured"] == (
        12.0,
        "IMO 9329760 (EAGLE S): registry lists no P&I insurer",
    )
    unknown = Particulars(imo=9329760)
    assert "prior.registry.unknown_insurer" not in _by_source(unknown)  # 0 points by default
    assert _by_source(unknown, unknown_insurer_points=3)["prior.registry.unknown_insurer"][0] == 3
    assert _by_source(Particulars(imo=9329760, insurer="Gard", insured=True)) == {}


def test_reflagged_recently_with_dates() -> None:
    p = Particulars(
        imo=9329760,
        flag="CM",
        flag_since=date(2024, 11, 2),
        previous_flags=(("LR", date(2020, 1, 1)), ("PA", date(2024, 11, 2))),
    )
    points, text = _by_source(p, _vessel(mmsi=613000000))["prior.registry.reflagged"]
    assert points == 10
    assert text == "IMO 9329760: flag changed from PA to CM on 2024-11-02 (3 months ago)"
    old = Particulars(imo=9329760, flag="CM", flag_since=date(2023, 1, 1))
    assert "prior.registry.reflagged" not in _by_source(old, _vessel(mmsi=613000000))


def test_renamed_recently() -> None:
    p = Particulars(
        imo=9329760,
        name="EAGLE S",
        previous_names=(("LR MIMOSA", date(2016, 1, 1)), ("NEW ONE", date(2025, 1, 10))),
    )
    points, text = _by_source(p)["prior.registry.renamed"]
    assert points == 6
    assert "renamed from NEW ONE to EAGLE S on 2025-01-10 (22 days ago)" in text
    undated = Particulars(imo=9329760, previous_names=(("FR8 PRIDE", None),))
    assert _by_source(undated) == {}


def test_old_tanker_by_ais_type_or_registry_text() -> None:
    p = Particulars(imo=9329760, build_year=2005)
    assert "prior.registry.old_tanker" not in _by_source(p)  # not known to be a tanker
    points, text = _by_source(p, _vessel(ship_type=80))["prior.registry.old_tanker"]
    assert points == 8
    assert "built 2005 (20 years old" in text
    by_text = Particulars(imo=9329760, build_year=2005, ship_type="Crude Oil Tanker")
    assert "prior.registry.old_tanker" in _by_source(by_text, _vessel(ship_type=70))
    young = Particulars(imo=9329760, build_year=2006, ship_type="tanker")
    assert "prior.registry.old_tanker" not in _by_source(young)  # 19 years in 2025


def test_unclassed() -> None:
    got = _by_source(Particulars(imo=9329760, class_society="withdrawn", classed=False))
    assert got["prior.registry.unclassed"][0] == 8
    assert "withdrawn" in got["prior.registry.unclassed"][1]


def test_flag_mismatch_against_the_mmsi_mid() -> None:
    match = _by_source(Particulars(imo=9329760, flag="CK"))
    assert match == {}
    got = _by_source(Particulars(imo=9329760, flag="PA"))
    assert got["prior.registry.flag_mismatch"] == (
        10,
        "IMO 9329760: AIS MMSI 518998865 says flag CK, registry says PA",
    )


@pytest.mark.parametrize(
    "kwargs",
    [
        {"uninsured_points": -1},
        {"reflag_points": float("inf")},
        {"renamed_within_days": True},
        {"unclassed_points": 101},
    ],
)
def test_config_validation(kwargs: dict[str, float]) -> None:
    with pytest.raises(ConfigError):
        RegistryPriorConfig(**kwargs)  # type: ignore[arg-type]


def test_registry_priors_need_behaviour_not_just_a_listing() -> None:
    """Review finding: a watchlisted ship doing nothing plus registry priors made a medium
    alert. Priors weigh behaviour: with only the listing they are left out; with a finding
    they count."""
    from seawarden.model import Event
    from seawarden.risk.score import RiskEngine

    engine = RiskEngine(priors=[_priors(Particulars(imo=9329760, insurer="none", insured=False))])

    def event(kind: str, eid: str, **attrs: object) -> Event:
        return Event(
            id=eid, kind=kind, phase="open", mmsi=EAGLE_MMSI, time=NOW, lat=60.0, lon=25.0,
            attrs={"confidence": 1.0, **attrs},
        )  # fmt: skip

    engine.observe([event("identity", "w", type="watchlist")])
    listed = engine.assess(_vessel(), NOW, corridor_distance_m=0.0)
    assert not [c for c in listed.contributions if c.source.startswith("prior.registry")]
    engine.observe([event("loitering", "l", confidence=0.5)])
    acting = engine.assess(_vessel(), NOW, corridor_distance_m=0.0)
    assert [c.source for c in acting.contributions if c.source.startswith("prior.registry")] == [
        "prior.registry.uninsured"
    ]
