"""A small kinematic ship model that turns a plan of legs into AIS-like reports.

A scenario vessel is a point with speed over ground, course over ground and heading, steered
leg by leg (a route of waypoints, a fixed drift, an anchor swing, or station-keeping beside
another vessel). Speed changes at a bounded acceleration and course at a bounded rate of
turn, so a 10 kn tanker that drops its anchor decelerates over minutes, not instantly.

What the ship *reports* differs from what it *does*, as on a real transponder: position noise
of a few metres (GNSS), speed noise of 0.1 kn, course noise that grows as the ship slows (COG
is meaningless at rest), heading that may differ from course (a ship yawing on a dragging
anchor), reports only while the transponder is on, and a reported position that may be
offset on purpose (spoofing). Reports are spaced by the ITU-R M.1371-5 Class A reporting
intervals (Table 1): 3 min at anchor or moored below 3 kn, 10 s up to 14 kn (3⅓ s while
changing course), 6 s up to 23 kn (2 s while changing course), 2 s above 23 kn.

Everything is driven by a seeded :class:`random.Random`, so a plan gives the same samples
for the same seed. Times are integer milliseconds internally and whole seconds on the wire.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from seawarden.geo.sphere import EARTH_RADIUS_M, bearing_deg, distance_m

__all__ = [
    "EARTH_RADIUS_M",
    "KN_TO_M_S",
    "Leg",
    "Sample",
    "VesselModel",
    "bearing_deg",
    "destination",
    "distance_m",
    "report_interval_s",
]

KN_TO_M_S = 1852.0 / 3600.0

# AIS navigational status codes used by the scenarios.
UNDER_WAY = 0
AT_ANCHOR = 1
MOORED = 5
ENGAGED_IN_FISHING = 7


def destination(lat: float, lon: float, bearing: float, dist_m: float) -> tuple[float, float]:
    """The point ``dist_m`` from (lat, lon) along ``bearing`` degrees (spherical earth)."""
    d = dist_m / EARTH_RADIUS_M
    p1, l1, b = math.radians(lat), math.radians(lon), math.radians(bearing)
    p2 = math.asin(math.sin(p1) * math.cos(d) + math.cos(p1) * math.sin(d) * math.cos(b))
    l2 = l1 + math.atan2(
        math.sin(b) * math.sin(d) * math.cos(p1), math.cos(d) - math.sin(p1) * math.sin(p2)
    )
    return math.degrees(p2), (math.degrees(l2) + 540.0) % 360.0 - 180.0


def _wrap180(angle: float) -> float:
    return (angle + 180.0) % 360.0 - 180.0


def report_interval_s(speed_kn: float, nav_status: int, turning: bool) -> float:
    """ITU-R M.1371-5 Table 1 reporting interval of a Class A transponder, in seconds."""
    if nav_status in (AT_ANCHOR, MOORED) and speed_kn <= 3.0:
        return 180.0
    if speed_kn <= 14.0:
        return 10.0 / 3.0 if turning else 10.0
    if speed_kn <= 23.0:
        return 2.0 if turning else 6.0
    return 2.0


@dataclass(frozen=True, slots=True, kw_only=True)
class Leg:
    """One phase of a vessel's plan.

    A leg ends when the last waypoint of ``route`` is reached, ``duration_s`` has elapsed
    or ``distance_m`` has been run, whichever comes first (at least one must be given).
    Without a route the vessel holds ``course_deg`` (or its current course). ``anchored``
    swings the ship on a circle of ``swing_radius_m`` round the point where the leg began
    (bow toward the anchor). ``follow`` keeps station ``follow_offset_m`` to starboard of
    another vessel's samples (negative: port) — a pilot boat alongside.
    ``heading_offset_deg`` is the yaw between heading and course (a dragging anchor holds
    the bow off the track), wandering by ``heading_wander_deg``. ``zigzag_amp_deg`` swings
    the steered course sinusoidally with ``zigzag_period_s``. ``spoof_offset_m`` (north,
    east) is added to the *reported* position only. ``ais_on=False``: transponder silent.
    """

    phase: str
    speed_kn: float
    route: tuple[tuple[float, float], ...] = ()  # (lat, lon) waypoints
    keep_route: bool = False  # continue the previous leg's remaining waypoints
    arrive_m: float = 30.0
    duration_s: float | None = None
    distance_m: float | None = None
    course_deg: float | None = None
    nav_status: int = UNDER_WAY
    heading_offset_deg: float = 0.0
    heading_wander_deg: float = 0.0
    zigzag_amp_deg: float = 0.0
    zigzag_period_s: float = 900.0
    ais_on: bool = True
    anchored: bool = False
    swing_radius_m: float = 150.0
    follow: Sequence[Sample] | None = None
    follow_offset_m: float = 40.0  # starboard of the followed vessel (negative: port)
    spoof_offset_m: tuple[float, float] | None = None
    accel_kn_s: float | None = None

    def __post_init__(self) -> None:
        if not self.route and self.duration_s is None and self.distance_m is None:
            raise ValueError(f"leg {self.phase!r} needs a route, a duration or a distance")
        if self.speed_kn < 0:
            raise ValueError(f"leg {self.phase!r}: speed_kn must be >= 0")


@dataclass(frozen=True, slots=True, kw_only=True)
class Sample:
    """The vessel at one report time: truth (``lat``/``lon``/``speed_kn``/``course_deg``)
    and what its transponder says (``rep_*``); ``on`` is False while it is silent."""

    t_ms: int
    lat: float
    lon: float
    speed_kn: float
    course_deg: float
    heading_deg: int
    rep_lat: float
    rep_lon: float
    rep_speed_kn: float
    rep_course_deg: float
    nav_status: int
    on: bool
    phase: str
    leg_index: int
    run_m: float = field(default=0.0)  # distance run since the start of the plan

    def time(self, epoch: datetime) -> datetime:
        return epoch + timedelta(milliseconds=self.t_ms)


class VesselModel:
    """Integrates a plan of :class:`Leg` from a start point; see the module docstring.

    ``t0_ms`` is the start time in ms after the scenario epoch. ``turn_rate_deg_s`` and
    ``accel_kn_s`` bound manoeuvres (large merchant ships ≈ 0.5 °/s and 0.02 kn/s; small
    craft several times more). ``pos_noise_m`` is the 1-sigma GNSS noise per axis.
    """

    def __init__(
        self,
        *,
        lat: float,
        lon: float,
        course_deg: float,
        speed_kn: float,
        t0_ms: int,
        rng: random.Random,
        turn_rate_deg_s: float = 0.5,
        accel_kn_s: float = 0.02,
        pos_noise_m: float = 4.0,
    ) -> None:
        self.lat, self.lon = lat, lon
        self.cog, self.sog = course_deg % 360.0, speed_kn
        self.t_ms = t0_ms
        self.rng = rng
        self.turn_rate = turn_rate_deg_s
        self.accel = accel_kn_s
        self.pos_noise_m = pos_noise_m
        self.run_m = 0.0
        self._last_turn_deg_s = 0.0
        self._wander_phase = rng.uniform(0.0, 2 * math.pi)
        self._route: list[tuple[float, float]] = []
        self._wp_dist = math.inf

    # -- public ---------------------------------------------------------------------------
    def run(self, legs: Sequence[Leg]) -> list[Sample]:
        samples: list[Sample] = []
        for index, leg in enumerate(legs):
            if leg.follow is not None:
                self._run_follow(leg, index, samples)
            elif leg.anchored:
                self._run_anchored(leg, index, samples)
            else:
                self._run_steered(leg, index, samples)
        return samples

    # -- legs -----------------------------------------------------------------------------
    def _interval_ms(self, leg: Leg) -> int:
        turning = self._last_turn_deg_s > 0.1
        if not leg.ais_on:
            return 10_000
        return round(report_interval_s(self.sog, leg.nav_status, turning) * 1000)

    def _run_steered(self, leg: Leg, index: int, out: list[Sample]) -> None:
        if not leg.keep_route:
            self._route = list(leg.route)
        route = self._route
        start_ms, start_run = self.t_ms, self.run_m
        accel = leg.accel_kn_s if leg.accel_kn_s is not None else self.accel
        self._emit(leg, index, out)
        while True:
            elapsed_s = (self.t_ms - start_ms) / 1000.0
            if leg.duration_s is not None and elapsed_s >= leg.duration_s:
                return
            if leg.distance_m is not None and self.run_m - start_run >= leg.distance_m - 0.01:
                return
            if (leg.route or leg.keep_route) and not route:
                return
            dt_ms = self._interval_ms(leg)
            if leg.duration_s is not None:
                dt_ms = max(1, min(dt_ms, round(leg.duration_s * 1000) - (self.t_ms - start_ms)))
            dt = dt_ms / 1000.0
            # speed
            dv = leg.speed_kn - self.sog
            self.sog += max(-accel * dt, min(accel * dt, dv))
            # course
            if route:
                want = bearing_deg(self.lat, self.lon, *route[0])
            elif leg.course_deg is not None:
                want = leg.course_deg
            else:
                want = self.cog
            if leg.zigzag_amp_deg:
                phase = 2 * math.pi * (self.t_ms - start_ms) / 1000.0 / leg.zigzag_period_s
                want += leg.zigzag_amp_deg * math.sin(phase)
            turn = _wrap180(want - self.cog)
            max_turn = self.turn_rate * dt
            turn = max(-max_turn, min(max_turn, turn))
            self._last_turn_deg_s = abs(turn) / dt
            mid_course = self.cog + turn / 2.0
            self.cog = (self.cog + turn) % 360.0
            step = self.sog * KN_TO_M_S * dt
            if leg.distance_m is not None:
                step = min(step, leg.distance_m - (self.run_m - start_run))
            self.lat, self.lon = destination(self.lat, self.lon, mid_course, step)
            self.run_m += step
            self.t_ms += dt_ms
            while route and self._arrived(route[0], step, leg.arrive_m):
                route.pop(0)
            self._emit(leg, index, out)

    def _run_anchored(self, leg: Leg, index: int, out: list[Sample]) -> None:
        """Swing on the anchor: the ship sits ``swing_radius_m`` down-current of the anchor
        and the current turns with the tide (12.42 h), so it traces a slow arc."""
        if leg.duration_s is None:
            raise ValueError(f"anchored leg {leg.phase!r} needs duration_s")
        start_ms = self.t_ms
        theta0 = self.cog  # ship lies on the bearing it was heading when it stopped
        anchor = destination(self.lat, self.lon, theta0, leg.swing_radius_m)
        omega = 360.0 / (12.42 * 3600.0)  # degrees of swing per second
        self.sog = 0.0
        while True:
            elapsed_s = (self.t_ms - start_ms) / 1000.0
            theta = theta0 + omega * elapsed_s
            self.lat, self.lon = destination(*anchor, (theta + 180.0) % 360.0, leg.swing_radius_m)
            self.cog = (theta + 90.0) % 360.0
            self.sog = math.radians(omega) * leg.swing_radius_m / KN_TO_M_S
            self._emit(leg, index, out, heading=theta % 360.0)
            if elapsed_s >= leg.duration_s:
                return
            dt_ms = self._interval_ms(leg)
            dt_ms = max(1, min(dt_ms, round(leg.duration_s * 1000) - (self.t_ms - start_ms)))
            self.t_ms += dt_ms

    def _run_follow(self, leg: Leg, index: int, out: list[Sample]) -> None:
        if leg.duration_s is None or not leg.follow:
            raise ValueError(f"follow leg {leg.phase!r} needs duration_s and samples")
        ref = leg.follow
        end_ms = self.t_ms + round(leg.duration_s * 1000)
        j = 0
        while True:
            while j + 1 < len(ref) and ref[j + 1].t_ms <= self.t_ms:
                j += 1
            a = ref[j]
            b = ref[j + 1] if j + 1 < len(ref) else a
            span = b.t_ms - a.t_ms
            f = (self.t_ms - a.t_ms) / span if span > 0 else 0.0
            f = max(0.0, min(1.0, f))
            lat = a.lat + (b.lat - a.lat) * f
            lon = a.lon + (b.lon - a.lon) * f
            side = (a.course_deg + (90.0 if leg.follow_offset_m >= 0 else -90.0)) % 360.0
            new_lat, new_lon = destination(lat, lon, side, abs(leg.follow_offset_m))
            self.run_m += distance_m(self.lat, self.lon, new_lat, new_lon)
            self.lat, self.lon = new_lat, new_lon
            self.cog, self.sog = a.course_deg, a.speed_kn
            self._emit(leg, index, out)
            if self.t_ms >= end_ms:
                return
            self.t_ms = min(end_ms, self.t_ms + self._interval_ms(leg))

    def _arrived(self, point: tuple[float, float], step: float, arrive_m: float) -> bool:
        """At the waypoint, or just past it (it lies behind the ship, close by)."""
        dist = distance_m(self.lat, self.lon, *point)
        prev, self._wp_dist = self._wp_dist, dist
        if dist <= max(arrive_m, step):
            self._wp_dist = math.inf
            return True
        off = abs(_wrap180(bearing_deg(self.lat, self.lon, *point) - self.cog))
        if dist < 2000.0 and off > 100.0 and dist > prev:
            self._wp_dist = math.inf
            return True
        return False

    # -- reporting ------------------------------------------------------------------------
    def _emit(self, leg: Leg, index: int, out: list[Sample], heading: float | None = None) -> None:
        rng = self.rng
        if out and out[-1].t_ms == self.t_ms:
            out.pop()  # a leg boundary: the new leg's state replaces the old one
        north = rng.gauss(0.0, self.pos_noise_m)
        east = rng.gauss(0.0, self.pos_noise_m)
        if leg.spoof_offset_m is not None:
            north += leg.spoof_offset_m[0]
            east += leg.spoof_offset_m[1]
        rep_lat = self.lat + math.degrees(north / EARTH_RADIUS_M)
        rep_lon = self.lon + math.degrees(
            east / (EARTH_RADIUS_M * max(0.01, math.cos(math.radians(self.lat))))
        )
        rep_speed = max(0.0, round(self.sog + rng.gauss(0.0, 0.1), 1))
        course_sigma = 1.0 + 3.0 / max(self.sog, 0.3)
        rep_course = round((self.cog + rng.gauss(0.0, course_sigma)) % 360.0, 1) % 360.0
        if heading is None:
            wander = leg.heading_wander_deg * math.sin(
                self._wander_phase + 2 * math.pi * self.t_ms / 1000.0 / 1800.0
            )
            heading = self.cog + leg.heading_offset_deg + wander
        rep_heading = round(heading + rng.gauss(0.0, 1.0)) % 360
        out.append(
            Sample(
                t_ms=self.t_ms,
                lat=self.lat,
                lon=self.lon,
                speed_kn=self.sog,
                course_deg=self.cog,
                heading_deg=rep_heading,
                rep_lat=rep_lat,
                rep_lon=rep_lon,
                rep_speed_kn=rep_speed,
                rep_course_deg=rep_course,
                nav_status=leg.nav_status,
                on=leg.ais_on,
                phase=leg.phase,
                leg_index=index,
                run_m=self.run_m,
            )
        )
