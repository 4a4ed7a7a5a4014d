"""Two silences a watch officer must tell apart: a ship going dark, and a receiver outage.

A ship that switches its AIS off next to a cable goes silent *alone*: the ships around it are
still heard. A shore receiver that fails silences *every* ship it covered at once. A
coverage-aware gap detector can only tell the two apart where real traffic is dense enough
to be heard around the silent ship, so both scenarios are laid on a *real shipping lane*:

* **Solent**: the inbound deep-water route Channel → Nab → Spithead → Cowes → Southampton
  Water, every waypoint a position a real ship of the Solent 2016 background reported on
  that lane (MMSIs in :data:`SOLENT_LANE`). It runs inside the IFA2 corridor from the Nab
  channel on and through the densest cell of the background (Spithead, ~65 ships heard per
  10 min). The spell is centred at Spithead and timed inside the background's 84 minutes.
* **Baltic**: the Kadet channel approach where a real cargo ship of the Baltic 2020
  background crosses C-Lion1 at the same time. That background has no other ships there
  (76 ships over the whole Baltic; the only place ≥ 3 are heard within ~25 km at once is the
  Kiel Canal), so a coverage-aware detector rightly cannot call the Baltic spell "going
  dark" — the labels say so (``background_nearby``).

``dark_spell``: the scenario ship alone switches off. ``receiver_outage``: the same ship on the
same lane keeps transmitting, but nothing within ``radius_km`` of the spell's centre is heard
for ``outage_min`` — real background lines and every scenario vessel alike (a
:class:`~seawarden.sim.scenarios.Silence` applied by :func:`seawarden.sim.simulate`).
"""

from __future__ import annotations

import itertools

from seawarden.errors import ConfigError
from seawarden.sim.motion import KN_TO_M_S, Leg, bearing_deg, destination, distance_m
from seawarden.sim.scenarios import (
    BuildContext,
    LatLon,
    Params,
    Region,
    Silence,
    SimVessel,
    _phase_span,
    _vessel,
)

__all__ = ["LANES", "SOLENT_LANE", "dark_spell", "lane_point", "receiver_outage"]

# Inbound Solent deep-water lane; each waypoint is a real report of the Solent background
# (SolentAIS_20160112_130211.csv; minutes after the file's start).
SOLENT_LANE: tuple[LatLon, ...] = (
    (50.6170, -0.7250),  # 370869000 inbound from the Channel (23 min)
    (50.6538, -0.9480),  # 370869000 south of the Nab (73 min)
    (50.6700, -0.9655),  # 370869000 turning north at the Nab (82 min)
    (50.7190, -1.0169),  # 234586000 in the Nab channel, inside IFA2 (78 min)
    (50.7372, -1.0718),  # 234586000 at Spithead (71 min): centre of the spell
    (50.7497, -1.1129),  # 247007000 off Gilkicker (63 min)
    (50.7723, -1.1786),  # 247007000 (43 min)
    (50.7976, -1.2535),  # 247007000 off Cowes (25 min)
    (50.8247, -1.3055),  # 247007000 at Calshot (12 min)
    (50.8760, -1.3860),  # 235006680 in Southampton Water (81 min)
)
# Kadet channel approach: a real Baltic cargo ship crosses C-Lion1 here ~12.3 h after the
# Baltic background starts; the lane is the 300° course through that crossing.
_KADET: LatLon = (54.605, 12.62)
_BALTIC_LANE: tuple[LatLon, ...] = (
    destination(*_KADET, 120.0, 200_000.0),
    _KADET,
    destination(*_KADET, 300.0, 200_000.0),
)
# region → (lane, index of the waypoint the silence is centred on)
LANES: dict[Region, tuple[tuple[LatLon, ...], int]] = {
    "solent": (SOLENT_LANE, 4),
    "baltic": (_BALTIC_LANE, 1),
}
# Minutes of normal reporting before / after the silence when the parameter is -1: the
# Solent background lasts only 84 min, so its spell starts 20 min in and ends inside it.
_ON_MIN: dict[Region, float] = {"solent": 20.0, "baltic": 40.0}


def _lengths(lane: tuple[LatLon, ...]) -> list[float]:
    out = [0.0]
    for a, b in itertools.pairwise(lane):
        out.append(out[-1] + distance_m(*a, *b))
    return out


def lane_point(lane: tuple[LatLon, ...], along_m: float) -> tuple[LatLon, tuple[LatLon, ...]]:
    """The point ``along_m`` metres along ``lane`` and the waypoints still ahead of it."""
    cum = _lengths(lane)
    if not 0.0 <= along_m <= cum[-1]:
        raise ConfigError(
            f"the lane is {cum[-1] / 1000:.1f} km long but the scenario needs a point "
            f"{along_m / 1000:.1f} km along it; shorten the durations or lower speed_kn"
        )
    i = next(k for k in range(1, len(lane)) if cum[k] >= along_m)
    a, b = lane[i - 1], lane[i]
    point = destination(*a, bearing_deg(*a, *b), along_m - cum[i - 1])
    return point, lane[i:]


def _plan(ctx: BuildContext, p: Params, quiet_s: float) -> tuple[LatLon, float, LatLon, list[Leg]]:
    """Start point, course, spell centre and legs (before / quiet / after) on the lane."""
    lane, centre_index = LANES[ctx.region]
    before_min = p["on_before_min"] if p["on_before_min"] >= 0 else _ON_MIN[ctx.region]
    after_min = p["on_after_min"] if p["on_after_min"] >= 0 else _ON_MIN[ctx.region]
    v = p["speed_kn"] * KN_TO_M_S
    if v <= 0:
        raise ConfigError("speed_kn must be > 0 for a ship on a lane")
    centre_m = _lengths(lane)[centre_index]
    start_m = centre_m - v * (quiet_s / 2 + before_min * 60.0)
    lane_point(lane, centre_m + v * (quiet_s / 2 + after_min * 60.0))  # long enough?
    start, ahead = lane_point(lane, start_m)
    legs = [
        Leg(phase="transit", speed_kn=p["speed_kn"], route=ahead, duration_s=before_min * 60.0),
        Leg(phase="quiet", speed_kn=p["speed_kn"], keep_route=True, duration_s=quiet_s),
        Leg(phase="transit", speed_kn=p["speed_kn"], keep_route=True,
            duration_s=after_min * 60.0),
    ]  # fmt: skip
    return start, bearing_deg(*start, *ahead[0]), lane[centre_index], legs


def dark_spell(ctx: BuildContext, p: Params, t0: int) -> list[SimVessel]:
    """A cargo ship on a real lane switches AIS off for ``dark_min`` where the lane crosses
    infrastructure; the real traffic around it keeps reporting."""
    dark_s = p["dark_min"] * 60.0
    start, course, _, legs = _plan(ctx, p, dark_s)
    legs[1] = Leg(phase="dark", speed_kn=p["speed_kn"], keep_route=True, duration_s=dark_s,
                  ais_on=False)  # fmt: skip
    samples = ctx.model(start, course, p["speed_kn"], t0).run(legs)
    onset, end = _phase_span(samples, "dark")
    where = (
        "Spithead, on the real inbound Solent lane inside IFA2"
        if ctx.region == "solent"
        else ("the Kadet channel approach over C-Lion1")
    )
    return [
        _vessel(
            ctx, "dark_spell", ctx.identity(636), samples, ship_type=70, dims=(180, 28),
            draught_m=9.0, destination="GDANSK" if ctx.region == "baltic" else "SOUTHAMPTON",
            expected="alert", onset_ms=onset, end_ms=end,
            notes=f"AIS switched off at {where}; other vessels keep reporting",
        )
    ]  # fmt: skip


def receiver_outage(ctx: BuildContext, p: Params, t0: int) -> list[SimVessel]:
    """The same ship on the same lane, transmitting throughout, while the receiver covering
    ``radius_km`` round the spell's centre hears nothing for ``outage_min``."""
    quiet_s = p["outage_min"] * 60.0
    start, course, centre, legs = _plan(ctx, p, quiet_s)
    samples = ctx.model(start, course, p["speed_kn"], t0).run(legs)
    quiet0, quiet1 = _phase_span(samples, "quiet")
    radius_m = p["radius_km"] * 1000.0
    if radius_m <= 0:
        raise ConfigError("receiver_outage: radius_km must be > 0")
    vessel = _vessel(
        ctx, "receiver_outage", ctx.identity(636), samples, ship_type=70, dims=(180, 28),
        draught_m=9.0, destination="GDANSK" if ctx.region == "baltic" else "SOUTHAMPTON",
        expected="no_alert",
        notes=f"receiver outage: nothing within {p['radius_km']:g} km of "
        f"{centre[0]:.4f},{centre[1]:.4f} heard for {p['outage_min']:g} min "
        "(real background and scenario vessels alike)",
    )  # fmt: skip
    vessel.silences = (
        Silence(lat=centre[0], lon=centre[1], radius_m=radius_m, start_ms=quiet0, end_ms=quiet1),
    )
    return [vessel]
