"""Scenario vessels built from public incident facts, to be laid over real traffic.

No AIS track of any suspected anchor-drag incident is public, so the scenarios here are
*constructed*: each reproduces the published facts of an incident (speed before and during
the drag, drag length, AIS silence, zig-zag; see ``docs/scenarios.md`` and the incident
notes) or a normal manoeuvre that a detector must not mistake for one (anchoring, ferry,
trawler, pilot pickup). They are meant to be replayed over real background traffic by
:func:`seawarden.sim.simulate`.

A scenario is named on the command line as ``name`` or ``name:key=value,key=value``
(e.g. ``anchor_drag_slowdown:drag_km=60,drag_speed_kn=3``); every parameter and its
default is in :data:`SCENARIOS`. Positions are fixed per *region*: the anchor-drag
scenarios are always placed where the incidents happened (Gulf of Finland, Gotland
basin); the others have a Baltic and a Solent/Channel placement, chosen by the background.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from seawarden.errors import ConfigError
from seawarden.sim.motion import (
    AT_ANCHOR,
    ENGAGED_IN_FISHING,
    KN_TO_M_S,
    MOORED,
    Leg,
    Sample,
    VesselModel,
    bearing_deg,
    destination,
    distance_m,
)

__all__ = [
    "SCENARIOS",
    "BuildContext",
    "Region",
    "Silence",
    "SimVessel",
    "build",
    "parse_scenario",
]

Region = Literal["baltic", "solent"]
LatLon = tuple[float, float]

# Watchlisted identity for the STS scenario: a row of config/watchlist.csv (EAGLE S, the
# GUR-list MMSI; the other MMSI is used by the anchor-drag scenario's real identity).
WATCHLISTED_TANKER = {"imo": 9329760, "mmsi": 518998167, "name": "EAGLE S", "callsign": "E5U3"}
EAGLE_S = {"imo": 9329760, "mmsi": 518998865, "name": "EAGLE S", "callsign": "E5U3"}
YI_PENG_3 = {"imo": 9224984, "mmsi": 414270000, "name": "YI PENG 3", "callsign": "BOTX"}

_NAMES = (
    "NORDIC ARROW", "BALTIC MERIDIAN", "SEA FALCON", "AMBER STAR", "POLAR WIND",
    "GREY HERON", "CAPE LUMEN", "NORTHERN GRACE", "STELLA MARIS", "IRON TIDE",
    "SILVER CREST", "OCEAN PILGRIM", "MISTRAL", "KESTREL", "ARCTIC SOUND",
    "HALCYON", "BLUE HORIZON", "SEA WARDEN", "CORAL BAY", "WESTERN DAWN",
)  # fmt: skip


@dataclass(frozen=True, slots=True, kw_only=True)
class Silence:
    """A receiver outage: nothing within ``radius_m`` of (``lat``, ``lon``) is heard from
    ``start_ms`` to ``end_ms`` (ms after the scenario epoch) — background and scenario
    vessels alike (applied by :func:`seawarden.sim.simulate`)."""

    lat: float
    lon: float
    radius_m: float
    start_ms: int
    end_ms: int


@dataclass(slots=True, kw_only=True)
class SimVessel:
    """One scenario hull: identity, its simulated samples and what a detector should say.

    ``onset_ms``/``end_ms`` (ms after the scenario epoch) bound the behaviour to detect
    (or, for ``no_alert`` vessels, the whole scenario). ``labelled=False`` marks a second
    hull that shares another's MMSI (cloned identity): one label covers both.
    """

    scenario: str
    mmsi: int
    imo: int | None
    name: str
    callsign: str
    ship_type: int
    length_m: int
    beam_m: int
    draught_m: float
    destination: str
    samples: list[Sample]
    expected: Literal["alert", "no_alert"]
    min_severity: str | None
    onset_ms: int
    end_ms: int
    incident: str | None = None
    notes: str = ""
    labelled: bool = True
    params: dict[str, Any] = field(default_factory=dict)
    silences: tuple[Silence, ...] = ()  # receiver outages this scenario causes


class BuildContext:
    """What a scenario builder gets: region, a seeded RNG, its start time and identities."""

    def __init__(
        self,
        *,
        region: Region,
        seed: int,
        taken_mmsis: set[int],
        taken_names: set[str] | None = None,
    ) -> None:
        self.region = region
        self.seed = seed
        self.rng = random.Random(seed)
        self.taken = taken_mmsis
        self.taken_names = taken_names if taken_names is not None else set()

    def model(
        self, start: LatLon, course_deg: float, speed_kn: float, t0_ms: int, **kw: Any
    ) -> VesselModel:
        return VesselModel(
            lat=start[0],
            lon=start[1],
            course_deg=course_deg,
            speed_kn=speed_kn,
            t0_ms=t0_ms,
            rng=random.Random(self.rng.getrandbits(64)),
            **kw,
        )

    def identity(self, mid: int, *, imo: bool = True) -> dict[str, Any]:
        """A fresh synthetic MMSI (with the flag's MID), valid IMO number and name."""
        while True:
            mmsi = mid * 1_000_000 + self.rng.randrange(100_000, 1_000_000)
            if mmsi not in self.taken:
                self.taken.add(mmsi)
                break
        free = [n for n in _NAMES if n not in self.taken_names]
        name = self.rng.choice(free) if free else f"SIM {mmsi % 10000}"
        self.taken_names.add(name)
        return {
            "mmsi": mmsi,
            "imo": _imo(self.rng) if imo else None,
            "name": name,
            "callsign": f"{chr(65 + self.rng.randrange(26))}{self.rng.randrange(1000, 9999)}",
        }


def _imo(rng: random.Random) -> int:
    digits = [rng.randrange(1, 10)] + [rng.randrange(10) for _ in range(5)]
    check = sum(d * w for d, w in zip(digits, range(7, 1, -1), strict=True)) % 10
    return int("".join(map(str, digits)) + str(check))


# -- parameters -------------------------------------------------------------------------------
Params = dict[str, Any]
Builder = Callable[[BuildContext, Params, int], list[SimVessel]]


@dataclass(frozen=True, slots=True)
class ScenarioDef:
    builder: Builder
    defaults: Mapping[str, Any]
    regions: tuple[Region, ...]
    summary: str


def parse_scenario(spec: str) -> tuple[str, Params]:
    """``"name:key=value,key=value"`` → (name, params with defaults filled and typed)."""
    name, _, rest = spec.strip().partition(":")
    if name not in SCENARIOS:
        raise ConfigError(f"unknown scenario {name!r}; choose from {', '.join(sorted(SCENARIOS))}")
    params: Params = dict(SCENARIOS[name].defaults)
    for item in filter(None, (p.strip() for p in rest.split(","))):
        key, eq, raw = item.partition("=")
        key = key.strip()
        if not eq or key not in params:
            raise ConfigError(
                f"scenario {name}: bad parameter {item!r}; known: {', '.join(sorted(params))}"
            )
        default = params[key]
        try:
            if isinstance(default, bool):
                if raw.strip().lower() not in ("1", "0", "true", "false", "yes", "no"):
                    raise ValueError(raw)
                params[key] = raw.strip().lower() in ("1", "true", "yes")
            elif isinstance(default, int | float):
                params[key] = float(raw)
            else:
                params[key] = raw.strip()
        except ValueError as exc:
            raise ConfigError(f"scenario {name}: {key}={raw!r} is not a valid value") from exc
    return name, params


def build(
    ctx: BuildContext, name: str, params: Params, epoch_offset_ms: int = 0
) -> list[SimVessel]:
    """Run one scenario's builder; ``params`` from :func:`parse_scenario`."""
    definition = SCENARIOS[name]
    region = params.get("region") or ctx.region
    if region not in definition.regions:
        region = definition.regions[0]
    saved, ctx.region = ctx.region, region
    start_h = float(params["start_h"])
    if start_h < 0:  # auto: the region's default (overlaps the matching real background)
        start_h = _AUTO_START_H[region].get(name, 0.0)
    t0_ms = epoch_offset_ms + round(start_h * 3_600_000)
    try:
        vessels = definition.builder(ctx, params, t0_ms)
    finally:
        ctx.region = saved
    for v in vessels:
        v.params = {k: params[k] for k in sorted(params)} | {"region": region}
    return vessels


# -- helpers ----------------------------------------------------------------------------------
def _back(point: LatLon, bearing: float, dist_m: float) -> LatLon:
    """The point ``dist_m`` before ``point`` for a ship steering ``bearing``."""
    return destination(*point, (bearing + 180.0) % 360.0, dist_m)


def _at(samples: list[Sample], t_ms: int) -> Sample:
    """The last sample at or before ``t_ms`` (the first if none)."""
    best = samples[0]
    for s in samples:
        if s.t_ms > t_ms:
            break
        best = s
    return best


def _phase_span(samples: list[Sample], *phases: str) -> tuple[int, int]:
    times = [s.t_ms for s in samples if s.phase in phases]
    return min(times), max(times)


def _vessel(
    ctx: BuildContext,
    scenario: str,
    ident: Mapping[str, Any],
    samples: list[Sample],
    *,
    ship_type: int,
    dims: tuple[int, int],
    draught_m: float,
    destination: str,
    expected: Literal["alert", "no_alert"],
    onset_ms: int | None = None,
    end_ms: int | None = None,
    min_severity: str | None = None,
    incident: str | None = None,
    notes: str = "",
) -> SimVessel:
    return SimVessel(
        scenario=scenario,
        mmsi=int(ident["mmsi"]),
        imo=ident.get("imo"),
        name=str(ident["name"]),
        callsign=str(ident["callsign"]),
        ship_type=ship_type,
        length_m=dims[0],
        beam_m=dims[1],
        draught_m=draught_m,
        destination=destination,
        samples=samples,
        expected=expected,
        min_severity=min_severity,
        onset_ms=samples[0].t_ms if onset_ms is None else onset_ms,
        end_ms=samples[-1].t_ms if end_ms is None else end_ms,
        incident=incident,
        notes=notes,
    )


# -- incident scenarios -----------------------------------------------------------------------
def anchor_drag_slowdown(ctx: BuildContext, p: Params, t0: int) -> list[SimVessel]:
    """EAGLE S, 25 Dec 2024: westbound laden tanker in the Gulf of Finland; anchor drops
    east of Estlink 2, speed falls from ~10 kn to ~2.5 kn, heading yaws off the course, and
    the anchor is dragged tens of km west across Estlink 2 into the central cable cluster."""
    onset_pt: LatLon = (59.955, 26.32)
    course = bearing_deg(*onset_pt, 59.975, 25.3)
    pre_m = p["transit_speed_kn"] * KN_TO_M_S * p["pre_min"] * 60.0
    start = _back(onset_pt, course, pre_m)
    drag_route = ((59.97, 25.9), (59.985, 25.3), (60.0, 24.6))
    legs = [
        Leg(phase="transit", speed_kn=p["transit_speed_kn"], route=(onset_pt,)),
        Leg(
            phase="drag",
            speed_kn=p["drag_speed_kn"],
            route=drag_route,
            distance_m=p["drag_km"] * 1000.0,
            heading_offset_deg=p["heading_offset_deg"],
            heading_wander_deg=10.0,
            accel_kn_s=0.03,
        ),
        Leg(
            phase="after",
            speed_kn=p["after_speed_kn"],
            keep_route=True,
            duration_s=p["after_min"] * 60.0,
        ),
    ]
    samples = ctx.model(start, course, p["transit_speed_kn"], t0).run(legs)
    onset, end = _phase_span(samples, "drag")
    ident = EAGLE_S if p["real_identity"] else ctx.identity(518)
    return [
        _vessel(
            ctx, "anchor_drag_slowdown", ident, samples,
            ship_type=80, dims=(228, 32), draught_m=11.2, destination="PORT SAID",
            expected="alert", onset_ms=onset, end_ms=end, min_severity="high",
            incident="Eagle S",
            notes="constructed from public facts (no real track); anchor drop = onset",
        )
    ]  # fmt: skip


def anchor_drag_no_slowdown(ctx: BuildContext, p: Params, t0: int) -> list[SimVessel]:
    """YI PENG 3, 17-18 Nov 2024: bulk carrier east of Gotland keeps ~6-7 kn with the
    anchor down, zig-zags, goes AIS-silent for part of the drag, crosses the BCS East-West
    Interlink and, more than 100 km on, C-Lion1."""
    onset_pt: LatLon = (57.05, 20.1)
    pre_course = 200.0
    pre_m = p["transit_speed_kn"] * KN_TO_M_S * p["pre_min"] * 60.0
    start = _back(onset_pt, pre_course, pre_m)
    drag_route = ((56.75, 19.5), (56.55, 17.9), (56.3, 16.9), (55.9, 15.8))
    zig = {
        "zigzag_amp_deg": p["zigzag_amp_deg"],
        "zigzag_period_s": p["zigzag_period_min"] * 60.0,
        "heading_offset_deg": 8.0,
        "heading_wander_deg": 8.0,
        "arrive_m": 500.0,
    }
    dark_from = min(p["dark_from_km"], p["drag_km"]) * 1000.0
    dark_to = min(max(p["dark_to_km"], p["dark_from_km"]), p["drag_km"]) * 1000.0
    legs = [
        Leg(phase="transit", speed_kn=p["transit_speed_kn"], route=(onset_pt,)),
        Leg(phase="drag", speed_kn=p["drag_speed_kn"], route=drag_route,
            distance_m=max(1.0, dark_from), **zig),
        Leg(phase="drag_dark", speed_kn=p["drag_speed_kn"], keep_route=True,
            distance_m=max(1.0, dark_to - dark_from), ais_on=False, **zig),
        Leg(phase="drag", speed_kn=p["drag_speed_kn"], keep_route=True,
            distance_m=max(1.0, p["drag_km"] * 1000.0 - dark_to), **zig),
        Leg(phase="after", speed_kn=p["transit_speed_kn"], keep_route=True,
            duration_s=p["after_min"] * 60.0),
    ]  # fmt: skip
    samples = ctx.model(start, pre_course, p["transit_speed_kn"], t0).run(legs)
    onset, end = _phase_span(samples, "drag", "drag_dark")
    ident = YI_PENG_3 if p["real_identity"] else ctx.identity(414)
    return [
        _vessel(
            ctx, "anchor_drag_no_slowdown", ident, samples,
            ship_type=70, dims=(225, 32), draught_m=12.5, destination="PORT SAID",
            expected="alert", onset_ms=onset, end_ms=end, min_severity="high",
            incident="Yi Peng 3",
            notes="constructed from public facts (no real track); AIS off for part of the drag",
        )
    ]  # fmt: skip


# -- behaviours -------------------------------------------------------------------------------
# dark_spell and receiver_outage live in seawarden.sim.dark (registered below).


_ANCHORAGES: dict[Region, tuple[LatLon, float]] = {
    "baltic": ((54.55, 18.85), 200.0),  # Gdansk roads, >100 km from any default corridor
    "solent": ((50.66, -0.86), 300.0),  # east of the Nab, ~10 km from IFA2
}


def legit_anchoring(ctx: BuildContext, p: Params, t0: int) -> list[SimVessel]:
    """A ship arrives at an anchorage away from corridors, stops and anchors (status 1)."""
    spot, course = _ANCHORAGES[ctx.region]
    v = p["approach_speed_kn"] * KN_TO_M_S
    decel_s = p["approach_speed_kn"] / 0.02
    overshoot = v * decel_s / 2.0
    aim = _back(spot, course, overshoot)
    start = _back(aim, course, p["approach_km"] * 1000.0)
    legs = [
        Leg(phase="approach", speed_kn=p["approach_speed_kn"], route=(aim,)),
        Leg(phase="stopping", speed_kn=0.0, duration_s=decel_s),
        Leg(phase="anchored", speed_kn=0.0, anchored=True, nav_status=AT_ANCHOR,
            duration_s=p["anchored_h"] * 3600.0),
    ]  # fmt: skip
    samples = ctx.model(start, course, p["approach_speed_kn"], t0).run(legs)
    return [
        _vessel(
            ctx, "legit_anchoring", ctx.identity(229), samples, ship_type=70, dims=(190, 30),
            draught_m=10.5, destination="GDANSK" if ctx.region == "baltic" else "SOUTHAMPTON",
            expected="no_alert",
            notes="normal anchoring in a charted anchorage away from corridors",
        )
    ]  # fmt: skip


_FERRY_ROUTES: dict[Region, tuple[LatLon, ...]] = {
    # Helsinki West Harbour - Tallinn, crossing the Gulf of Finland cable cluster
    "baltic": ((60.148, 24.915), (60.10, 24.93), (59.80, 24.86), (59.50, 24.78), (59.447, 24.77)),
    # Portsmouth - Fishbourne (Isle of Wight), across the IFA2 landfall
    "solent": ((50.795, -1.108), (50.776, -1.112), (50.765, -1.150), (50.737, -1.205)),
}


def ferry(ctx: BuildContext, p: Params, t0: int) -> list[SimVessel]:
    """A passenger ferry on its timetable: crossings at service speed, berthed between."""
    route = _FERRY_ROUTES[ctx.region]
    speed = p["speed_kn"] if p["speed_kn"] > 0 else (25.0 if ctx.region == "baltic" else 12.0)
    legs: list[Leg] = []
    for i in range(int(p["crossings"])):
        path = route[1:] if i % 2 == 0 else tuple(reversed(route[:-1]))
        legs.append(Leg(phase="crossing", speed_kn=speed, route=path, accel_kn_s=0.08))
        legs.append(Leg(phase="berthing", speed_kn=0.0, duration_s=speed / 0.08, accel_kn_s=0.08))
        legs.append(Leg(phase="berthed", speed_kn=0.0, anchored=True, swing_radius_m=3.0,
                        nav_status=MOORED, duration_s=p["berth_min"] * 60.0))  # fmt: skip
    course = bearing_deg(*route[0], *route[1])
    samples = ctx.model(route[0], course, 0.0, t0, turn_rate_deg_s=2.0).run(legs)
    return [
        _vessel(
            ctx, "ferry", ctx.identity(276 if ctx.region == "baltic" else 235), samples,
            ship_type=60, dims=(212, 31), draught_m=7.0,
            destination="TALLINN" if ctx.region == "baltic" else "FISHBOURNE",
            expected="no_alert", notes="scheduled crossings over a corridor at service speed",
        )
    ]  # fmt: skip


_FISHING_GROUNDS: dict[Region, tuple[LatLon, LatLon]] = {
    "baltic": ((57.45, 18.05), (57.60, 17.55)),  # port (Klintehamn approaches), ground W of Gotland
    "solent": ((50.69, -1.53), (50.50, -1.50)),  # Yarmouth approaches, ground S of the Needles
}


def trawler(ctx: BuildContext, p: Params, t0: int) -> list[SimVessel]:
    """A trawler steams out, then tows back and forth at ~3.5 kn with slow zig-zags."""
    port, ground = _FISHING_GROUNDS[ctx.region]
    rng = ctx.rng
    tows: list[LatLon] = []
    axis = rng.uniform(0.0, 180.0)
    here = ground
    for i in range(int(p["tows"])):
        here = destination(*here, axis if i % 2 == 0 else axis + 180.0, p["tow_km"] * 1000.0)
        here = destination(*here, axis + 90.0, 600.0)
        tows.append(here)
    fishing_s = p["tows"] * p["tow_km"] * 1000.0 / (p["tow_speed_kn"] * KN_TO_M_S)
    legs = [
        Leg(phase="steaming", speed_kn=9.0, route=(ground,), accel_kn_s=0.05),
        Leg(phase="fishing", speed_kn=p["tow_speed_kn"], route=tuple(tows),
            nav_status=ENGAGED_IN_FISHING, zigzag_amp_deg=15.0, zigzag_period_s=1200.0,
            arrive_m=300.0, duration_s=fishing_s * 1.5, accel_kn_s=0.05),
    ]  # fmt: skip
    course = bearing_deg(*port, *ground)
    samples = ctx.model(port, course, 9.0, t0, turn_rate_deg_s=2.0, accel_kn_s=0.05).run(legs)
    return [
        _vessel(
            ctx, "trawler", ctx.identity(265 if ctx.region == "baltic" else 232, imo=False),
            samples, ship_type=30, dims=(24, 7), draught_m=3.5, destination="FISHING",
            expected="no_alert", notes="slow zig-zag trawling away from corridors",
        )
    ]  # fmt: skip


_PILOT: dict[Region, tuple[LatLon, float, LatLon, LatLon]] = {
    # boarding point, ship's course, harbour the ship heads for, pilot station
    "baltic": ((59.98, 24.98), 355.0, (60.13, 24.96), (60.15, 24.96)),  # Helsinki approach
    "solent": ((50.67, -0.95), 290.0, (50.76, -1.10), (50.79, -1.11)),  # Nab pilot boarding
}


def pilot_pickup(ctx: BuildContext, p: Params, t0: int) -> list[SimVessel]:
    """An inbound ship slows to ~4 kn for 8 min at the boarding point while a pilot boat
    runs alongside, then resumes; the pilot boat returns to its station."""
    board, course, harbour, station = _PILOT[ctx.region]
    v = p["speed_kn"] * KN_TO_M_S
    start = _back(board, course, v * p["approach_min"] * 60.0)
    slow_s = (p["speed_kn"] - p["pickup_speed_kn"]) / 0.03
    legs = [
        Leg(phase="approach", speed_kn=p["speed_kn"], route=(board,)),
        Leg(phase="pickup", speed_kn=p["pickup_speed_kn"], course_deg=course,
            duration_s=slow_s + p["pickup_min"] * 60.0, accel_kn_s=0.03),
        Leg(phase="inbound", speed_kn=p["speed_kn"] * 0.8, route=(harbour,), accel_kn_s=0.03),
    ]  # fmt: skip
    ship = ctx.model(start, course, p["speed_kn"], t0).run(legs)
    pick0, pick1 = _phase_span(ship, "pickup")
    meet_ms = pick0 + round(slow_s * 1000)
    meet = _at(ship, meet_ms)
    boat_v = 20.0 * KN_TO_M_S
    alongside = destination(meet.lat, meet.lon, (meet.course_deg + 90.0) % 360.0, 40.0)
    run_s = distance_m(*station, *alongside) / boat_v
    boat_legs = [
        Leg(phase="outbound", speed_kn=20.0, route=(alongside,), accel_kn_s=0.5),
        Leg(phase="alongside", speed_kn=p["pickup_speed_kn"], follow=ship,
            follow_offset_m=40.0, duration_s=(pick1 - meet_ms) / 1000.0),
        Leg(phase="return", speed_kn=20.0, route=(station,), accel_kn_s=0.5),
    ]  # fmt: skip
    boat_t0 = meet_ms - round(run_s * 1000)
    boat = ctx.model(station, bearing_deg(*station, *alongside), 20.0, boat_t0,
                     turn_rate_deg_s=6.0, accel_kn_s=0.5).run(boat_legs)  # fmt: skip
    note = "routine pilot boarding: slow-down for the pilot, not an anchor"
    return [
        _vessel(ctx, "pilot_pickup", ctx.identity(636), ship, ship_type=70, dims=(200, 32),
                draught_m=10.0, destination="HELSINKI" if ctx.region == "baltic" else "PORTSMOUTH",
                expected="no_alert", notes=note),
        _vessel(ctx, "pilot_pickup", ctx.identity(230 if ctx.region == "baltic" else 235,
                imo=False), boat, ship_type=50, dims=(16, 5), draught_m=1.5,
                destination="PILOT", expected="no_alert", notes="the pilot boat"),
    ]  # fmt: skip


_STS: dict[Region, tuple[LatLon, float]] = {
    "baltic": ((55.45, 18.5), 60.0),  # open Baltic SE of Gotland, ~35 km from NordBalt
    "solent": ((50.45, -1.15), 80.0),  # south of the Isle of Wight, ~20 km from IFA2
}


def sts_meeting(ctx: BuildContext, p: Params, t0: int) -> list[SimVessel]:
    """Two tankers stop at sea and drift side by side (≤ 300 m) for 1-2 h: a ship-to-ship
    transfer. With ``watchlisted`` one of them carries a watchlist identity."""
    meet_pt, drift_course = _STS[ctx.region]
    drift_kn, speed = p["drift_kn"], 10.0
    v = speed * KN_TO_M_S
    decel_s = (speed - drift_kn) / 0.02
    overshoot = v * decel_s / 2.0
    wait_s, meet_s = p["wait_min"] * 60.0, p["meet_h"] * 3600.0
    approach_m = 25_000.0

    def plan(target: LatLon, course: float, hold_s: float) -> tuple[LatLon, list[Leg]]:
        aim = _back(target, course, overshoot)
        return _back(aim, course, approach_m), [
            Leg(phase="approach", speed_kn=speed, route=(aim,)),
            Leg(phase="stopping", speed_kn=drift_kn, duration_s=decel_s),
            Leg(phase="drifting", speed_kn=drift_kn, course_deg=drift_course,
                duration_s=hold_s, accel_kn_s=0.01, heading_wander_deg=20.0),
            Leg(phase="departing", speed_kn=speed, course_deg=(drift_course + 180) % 360,
                duration_s=1800.0),
        ]  # fmt: skip

    start_a, legs_a = plan(meet_pt, 90.0, wait_s + meet_s + 900.0)
    tanker_a = ctx.model(start_a, 90.0, speed, t0).run(legs_a)
    a_arrive = _phase_span(tanker_a, "drifting")[0]
    meet_ms = a_arrive + round(wait_s * 1000)
    a_then = _at(tanker_a, meet_ms)
    # B aims to be 150 m abeam of A at the meeting time, arriving from the south-east.
    b_target = destination(a_then.lat, a_then.lon, (drift_course + 90.0) % 360.0, 150.0)
    b_course = 315.0
    start_b, legs_b = plan(b_target, b_course, meet_s)
    b_t0 = meet_ms - round((approach_m / v + decel_s) * 1000)
    tanker_b = ctx.model(start_b, b_course, speed, b_t0).run(legs_b)
    together0 = meet_ms
    together1 = _phase_span(tanker_b, "drifting")[1]
    ident_a = WATCHLISTED_TANKER if p["watchlisted"] else ctx.identity(636)
    expected: Literal["alert", "no_alert"] = "alert" if p["watchlisted"] else "no_alert"
    note = "ship-to-ship meeting at sea" + (
        " with a watchlisted tanker" if p["watchlisted"] else ", no watchlist involvement"
    )
    common: dict[str, Any] = {
        "ship_type": 80, "draught_m": 12.0, "expected": expected,
        "onset_ms": together0, "end_ms": together1, "notes": note,
    }  # fmt: skip
    return [
        _vessel(ctx, "sts_meeting", ident_a, tanker_a, dims=(183, 32), destination="SKAW",
                **common),
        _vessel(ctx, "sts_meeting", ctx.identity(538), tanker_b, dims=(244, 42),
                destination="FOR ORDERS", **common),
    ]  # fmt: skip


_TRANSITS: dict[Region, tuple[LatLon, LatLon]] = {
    "baltic": ((55.30, 15.20), (56.10, 17.30)),  # Bornholm - Kalmarsund approaches
    "solent": ((50.30, -0.30), (50.45, -1.60)),  # westbound Channel, south of the Wight
}


def spoofed_jump(ctx: BuildContext, p: Params, t0: int) -> list[SimVessel]:
    """A transiting ship's reported positions jump ``jump_km`` away and back."""
    a, b = _TRANSITS[ctx.region]
    course = bearing_deg(*a, *b)
    offset = (0.0, p["jump_km"] * 1000.0) if ctx.region == "baltic" else (-p["jump_km"] * 1000, 0.0)
    legs = [
        Leg(phase="transit", speed_kn=p["speed_kn"], route=(b,), duration_s=p["before_min"] * 60),
        Leg(phase="spoofed", speed_kn=p["speed_kn"], keep_route=True,
            duration_s=p["jump_min"] * 60, spoof_offset_m=offset),
        Leg(phase="transit", speed_kn=p["speed_kn"], keep_route=True,
            duration_s=p["after_min"] * 60),
    ]  # fmt: skip
    samples = ctx.model(a, course, p["speed_kn"], t0).run(legs)
    onset, end = _phase_span(samples, "spoofed")
    return [
        _vessel(ctx, "spoofed_jump", ctx.identity(273), samples, ship_type=70, dims=(140, 22),
                draught_m=7.5, destination="KALININGRAD" if ctx.region == "baltic" else "ROUEN",
                expected="alert", onset_ms=onset, end_ms=end,
                notes=f"reported positions offset {p['jump_km']:g} km, true track unchanged"),
    ]  # fmt: skip


_CLONES: dict[Region, tuple[tuple[LatLon, LatLon], tuple[LatLon, LatLon]]] = {
    "baltic": (((59.85, 23.4), (59.65, 22.0)), ((55.35, 14.5), (55.55, 16.0))),
    "solent": (((50.35, -0.6), (50.45, -1.6)), ((50.05, -2.9), (49.85, -1.9))),
}


def cloned_mmsi(ctx: BuildContext, p: Params, t0: int) -> list[SimVessel]:
    """Two hulls far apart transmit the same MMSI and identity at the same time."""
    (a0, a1), (b0, b1) = _CLONES[ctx.region]
    dur = p["duration_h"] * 3600.0
    ident = ctx.identity(577)
    one = ctx.model(a0, bearing_deg(*a0, *a1), p["speed_kn"], t0).run(
        [Leg(phase="transit", speed_kn=p["speed_kn"], route=(a1,), duration_s=dur)]
    )
    two = ctx.model(b0, bearing_deg(*b0, *b1), p["speed_kn"], t0).run(
        [Leg(phase="transit", speed_kn=p["speed_kn"], route=(b1,), duration_s=dur)]
    )
    common: dict[str, Any] = {
        "ship_type": 70, "dims": (120, 18), "draught_m": 6.0, "destination": "ST PETERSBURG",
        "expected": "alert", "notes": "one MMSI, two hulls far apart transmitting together",
    }  # fmt: skip
    first = _vessel(ctx, "cloned_mmsi", ident, one, **common)
    second = _vessel(ctx, "cloned_mmsi", ident, two, **common)
    second.labelled = False
    return [first, second]


# Default start offsets (hours after the epoch) per region. The Solent background lasts
# 84 min, so Solent scenarios start within it; Baltic ones are spread over the ~45 h cargo
# background, dark_spell timed so a real ship crosses the same corridor meanwhile.
_AUTO_START_H: dict[Region, dict[str, float]] = {
    "baltic": {"anchor_drag_slowdown": 12.0, "anchor_drag_no_slowdown": 4.0,
               "dark_spell": 11.25, "receiver_outage": 14.0, "legit_anchoring": 0.2,
               "ferry": 0.0, "trawler": 0.3, "pilot_pickup": 0.4, "sts_meeting": 0.6,
               "spoofed_jump": 0.7, "cloned_mmsi": 0.8},
    "solent": {"dark_spell": 0.0, "receiver_outage": 0.0, "legit_anchoring": 0.2,
               "ferry": 0.0, "trawler": 0.3, "pilot_pickup": 0.3, "sts_meeting": 0.1,
               "spoofed_jump": 0.4, "cloned_mmsi": 0.5},
}  # fmt: skip
_COMMON = {"start_h": -1.0, "region": ""}

from seawarden.sim.dark import dark_spell, receiver_outage  # noqa: E402 (uses the above)

SCENARIOS: dict[str, ScenarioDef] = {
    "anchor_drag_slowdown": ScenarioDef(
        anchor_drag_slowdown,
        _COMMON | {"transit_speed_kn": 10.0, "drag_speed_kn": 2.5,
                   "drag_km": 30.0, "heading_offset_deg": 35.0, "pre_min": 60.0,
                   "after_speed_kn": 6.0, "after_min": 30.0, "real_identity": False},
        ("baltic",), "Eagle S: tanker slows 10 -> 2.5 kn, yaws, drags anchor over Estlink 2",
    ),
    "anchor_drag_no_slowdown": ScenarioDef(
        anchor_drag_no_slowdown,
        _COMMON | {"transit_speed_kn": 9.0, "drag_speed_kn": 6.5,
                   "drag_km": 120.0, "zigzag_amp_deg": 20.0, "zigzag_period_min": 20.0,
                   "dark_from_km": 30.0, "dark_to_km": 60.0, "pre_min": 60.0,
                   "after_min": 30.0, "real_identity": False},
        ("baltic",), "Yi Peng 3: bulk carrier keeps 6-7 kn, zig-zags, AIS off, drags >100 km",
    ),
    "dark_spell": ScenarioDef(
        dark_spell,
        _COMMON | {"speed_kn": 12.0, "dark_min": 45.0, "on_before_min": -1.0,
                   "on_after_min": -1.0},
        ("baltic", "solent"), "AIS silent 30-60 min while crossing a corridor",
    ),
    "receiver_outage": ScenarioDef(
        receiver_outage,
        _COMMON | {"speed_kn": 12.0, "outage_min": 30.0, "radius_km": 20.0,
                   "on_before_min": -1.0, "on_after_min": -1.0},
        ("baltic", "solent"), "receiver outage: every ship in an area silent at once",
    ),
    "legit_anchoring": ScenarioDef(
        legit_anchoring,
        _COMMON | {"approach_speed_kn": 10.0, "approach_km": 12.0,
                   "anchored_h": 3.0},
        ("baltic", "solent"), "slows to 0 and anchors (status 1) away from corridors",
    ),
    "ferry": ScenarioDef(
        ferry, _COMMON | {"speed_kn": 0.0, "crossings": 4.0, "berth_min": 40.0},
        ("baltic", "solent"), "scheduled crossings over a corridor",
    ),
    "trawler": ScenarioDef(
        trawler,
        _COMMON | {"tow_speed_kn": 3.5, "tow_km": 6.0, "tows": 6.0},
        ("baltic", "solent"), "ship type 30 towing at ~3.5 kn in slow zig-zags",
    ),
    "pilot_pickup": ScenarioDef(
        pilot_pickup,
        _COMMON | {"speed_kn": 12.0, "pickup_speed_kn": 4.0,
                   "pickup_min": 8.0, "approach_min": 30.0},
        ("baltic", "solent"), "ship slows to ~4 kn for 8 min while a pilot boat is alongside",
    ),
    "sts_meeting": ScenarioDef(
        sts_meeting,
        _COMMON | {"drift_kn": 0.4, "meet_h": 1.5, "wait_min": 20.0,
                   "watchlisted": True},
        ("baltic", "solent"), "two tankers drift <= 300 m apart for 1-2 h",
    ),
    "spoofed_jump": ScenarioDef(
        spoofed_jump,
        _COMMON | {"speed_kn": 12.0, "jump_km": 50.0, "before_min": 40.0,
                   "jump_min": 15.0, "after_min": 40.0},
        ("baltic", "solent"), "reported positions jump 50 km and back",
    ),
    "cloned_mmsi": ScenarioDef(
        cloned_mmsi, _COMMON | {"speed_kn": 11.0, "duration_h": 2.0},
        ("baltic", "solent"), "two ships on one MMSI",
    ),
}  # fmt: skip
