"""Synthetic vessel tracks for behaviour tests, built leg by leg by dead reckoning.

A track is a list of :class:`Leg` (duration, speed, course, heading offset, status, zig-zag,
circling, dark spells) sailed from a start position; reports are emitted every
``interval_s`` with seeded noise on position, speed and course, so a scenario is realistic
but reproducible. The incident scenarios follow the public facts in
``../shared/data/incidents.md`` (no real AIS track of any incident is public).
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from seawarden.model import PositionReport

T0 = datetime(2024, 12, 25, 10, 0, tzinfo=UTC)
_M_PER_DEG = 111_195.0


@dataclass(frozen=True, slots=True, kw_only=True)
class Leg:
    """One stretch of a voyage. Course changes are instantaneous between legs.

    ``zigzag_deg`` swings the course ± that many degrees (square wave of period
    ``zigzag_period_s``); ``circle_period_s`` > 0 turns the course a full circle per period;
    ``dark`` lists (offset_s, duration_s) spans of this leg without any report.
    ``speed_end_kn`` makes the speed change linearly over the leg.
    """

    duration_s: float
    speed_kn: float
    course_deg: float
    speed_end_kn: float | None = None
    heading_offset_deg: float = 0.0
    nav_status: int | None = 0
    zigzag_deg: float = 0.0
    zigzag_period_s: float = 600.0
    circle_period_s: float = 0.0
    dark: tuple[tuple[float, float], ...] = ()
    report_heading: bool = True


def build_track(
    legs: Sequence[Leg],
    *,
    lat: float,
    lon: float,
    mmsi: int = 230_999_001,
    t0: datetime = T0,
    interval_s: float = 60.0,
    seed: int = 0,
    pos_noise_m: float = 5.0,
    speed_noise_kn: float = 0.1,
    course_noise_deg: float = 1.5,
    msg_type: int = 1,
) -> list[PositionReport]:
    """Sail ``legs`` from (lat, lon); one report every ``interval_s`` (jittered ±10 %)."""
    rng = random.Random(seed)
    out: list[PositionReport] = []
    t = 0.0
    next_report = 0.0
    step = 5.0
    for leg in legs:
        start = t
        end = t + leg.duration_s
        while t < end:
            into = t - start
            frac = into / leg.duration_s if leg.duration_s else 0.0
            speed = leg.speed_kn
            if leg.speed_end_kn is not None:
                speed = leg.speed_kn + (leg.speed_end_kn - leg.speed_kn) * frac
            course = leg.course_deg
            if leg.zigzag_deg:
                half = leg.zigzag_period_s / 2.0
                course += leg.zigzag_deg * (1 if int(into // half) % 2 == 0 else -1)
            if leg.circle_period_s > 0:
                course += 360.0 * into / leg.circle_period_s
            course %= 360.0
            if t >= next_report:
                dark = any(a <= into < a + d for a, d in leg.dark)
                if not dark:
                    out.append(
                        _report(
                            rng,
                            t0,
                            t,
                            lat,
                            lon,
                            speed,
                            course,
                            leg,
                            mmsi,
                            msg_type,
                            pos_noise_m,
                            speed_noise_kn,
                            course_noise_deg,
                        )
                    )
                next_report = t + interval_s * rng.uniform(0.9, 1.1)
            dist = speed * 1852.0 / 3600.0 * step
            lat += dist * math.cos(math.radians(course)) / _M_PER_DEG
            lon += (
                dist * math.sin(math.radians(course)) / (_M_PER_DEG * math.cos(math.radians(lat)))
            )
            t += step
    return out


def _report(
    rng: random.Random,
    t0: datetime,
    t: float,
    lat: float,
    lon: float,
    speed: float,
    course: float,
    leg: Leg,
    mmsi: int,
    msg_type: int,
    pos_noise_m: float,
    speed_noise_kn: float,
    course_noise_deg: float,
) -> PositionReport:
    nlat = rng.gauss(0.0, pos_noise_m) / _M_PER_DEG
    nlon = rng.gauss(0.0, pos_noise_m) / (_M_PER_DEG * math.cos(math.radians(lat)))
    sog = max(0.0, speed + rng.gauss(0.0, speed_noise_kn))
    # Course over ground is meaningless at a standstill: GPS noise makes it random.
    cog_noise = course_noise_deg if sog >= 1.0 else 180.0
    cog = (course + rng.gauss(0.0, cog_noise)) % 360.0
    heading = None
    if leg.report_heading:
        heading = round(course + leg.heading_offset_deg + rng.gauss(0.0, 1.0)) % 360
    return PositionReport(
        mmsi=mmsi,
        time=t0 + timedelta(seconds=t),
        lat=lat + nlat,
        lon=lon + nlon,
        speed_kn=round(sog, 1),
        course_deg=round(cog, 1),
        heading_deg=heading,
        nav_status=leg.nav_status,
        msg_type=msg_type,
        source="synthetic",
    )


def offset(lat: float, lon: float, bearing_deg: float, dist_m: float) -> tuple[float, float]:
    """The point ``dist_m`` metres from (lat, lon) on ``bearing_deg`` (flat-earth, short)."""
    dlat = dist_m * math.cos(math.radians(bearing_deg)) / _M_PER_DEG
    dlon = dist_m * math.sin(math.radians(bearing_deg)) / (_M_PER_DEG * math.cos(math.radians(lat)))
    return lat + dlat, lon + dlon


# -- scenarios from incident facts ----------------------------------------------------------

# A point on the Estlink 2 centreline (config/areas.geojson), mid-Gulf of Finland.
ESTLINK2_POINT = (59.90, 26.089)
# On BCS East-West Interlink east of Gotland; C-Lion1 runs ~23 km further west.
BCS_POINT = (57.0, 19.68)


def eagle_s(
    *, seed: int = 0, onset_before_line_m: float = 1500.0, interval_s: float = 60.0
) -> tuple[list[PositionReport], datetime]:
    """EAGLE S-like: a tanker at ~10 kn westbound falls to ~2.5 kn over Estlink 2 while its
    heading and course diverge (a dragged anchor yaws the ship). Returns (reports, onset)."""
    course = 262.0
    transit_s = 2400.0
    lat0, lon0 = offset(
        *ESTLINK2_POINT, course + 180.0, onset_before_line_m + 10 * 1852 / 3600 * transit_s
    )
    legs = [
        Leg(duration_s=transit_s, speed_kn=10.0, course_deg=course),
        Leg(
            duration_s=180.0,
            speed_kn=10.0,
            speed_end_kn=2.5,
            course_deg=course,
            heading_offset_deg=15.0,
        ),
        Leg(duration_s=3600.0, speed_kn=2.5, course_deg=course + 4, heading_offset_deg=32.0),
    ]
    track = build_track(
        legs, lat=lat0, lon=lon0, mmsi=518_998_865, seed=seed, interval_s=interval_s
    )
    return track, T0 + timedelta(seconds=transit_s)


def yi_peng_3(*, seed: int = 0) -> tuple[list[PositionReport], datetime]:
    """YI PENG 3-like: keeps ~7 kn (no speed drop), zig-zags ±35° every few minutes and goes
    AIS-dark twice while crossing towards the BCS / C-Lion1 corridors. Returns (reports, onset)."""
    course = 270.0
    transit_s = 1800.0
    drag_s = 4 * 3600.0
    # onset 20 km east of BCS: westbound at ~5.7 kn made good it reaches BCS after ~2 h
    lat0, lon0 = offset(*BCS_POINT, course + 180.0, 20_000.0 + 7.5 * 1852 / 3600 * transit_s)
    legs = [
        Leg(duration_s=transit_s, speed_kn=7.5, course_deg=course),
        Leg(
            duration_s=drag_s,
            speed_kn=7.0,
            course_deg=course,
            zigzag_deg=35.0,
            zigzag_period_s=600.0,
            heading_offset_deg=5.0,
            dark=((1200.0, 1500.0), (4200.0, 1800.0)),
        ),
    ]
    track = build_track(legs, lat=lat0, lon=lon0, mmsi=414_270_000, seed=seed, interval_s=60.0)
    return track, T0 + timedelta(seconds=transit_s)


def legitimate_anchoring(
    *, lat: float, lon: float, seed: int = 0, mmsi: int = 230_999_002
) -> list[PositionReport]:
    """Arrive at 11 kn, slow down over 15 min, set 'at anchor' at ~1 kn, then ride at anchor
    (swinging, GPS noise) for 3 h. Starts 5 km short of (lat, lon) heading there."""
    course = 30.0
    lat0, lon0 = offset(lat, lon, course + 180.0, 6500.0)
    legs = [
        Leg(duration_s=600.0, speed_kn=11.0, course_deg=course),
        Leg(duration_s=900.0, speed_kn=11.0, speed_end_kn=1.0, course_deg=course),
        Leg(duration_s=300.0, speed_kn=1.0, speed_end_kn=0.0, course_deg=course, nav_status=1),
        Leg(duration_s=3 * 3600.0, speed_kn=0.2, course_deg=0, circle_period_s=3600, nav_status=1),
    ]
    return build_track(legs, lat=lat0, lon=lon0, mmsi=mmsi, seed=seed, interval_s=30.0)


def pilot_pickup(*, lat: float, lon: float, seed: int = 0) -> list[PositionReport]:
    """Transit at 12 kn, slow to 6 kn for 8 min making a lee (30° turn and back), resume."""
    course = 262.0
    lat0, lon0 = offset(lat, lon, course + 180.0, 12 * 1852 / 3600 * 1500.0)
    legs = [
        Leg(duration_s=1800.0, speed_kn=12.0, course_deg=course),
        Leg(duration_s=180.0, speed_kn=12.0, speed_end_kn=6.0, course_deg=course),
        Leg(duration_s=300.0, speed_kn=6.0, course_deg=course + 30),
        Leg(duration_s=180.0, speed_kn=6.0, course_deg=course),
        Leg(duration_s=180.0, speed_kn=6.0, speed_end_kn=12.0, course_deg=course),
        Leg(duration_s=2400.0, speed_kn=12.0, course_deg=course),
    ]
    return build_track(legs, lat=lat0, lon=lon0, mmsi=230_999_003, seed=seed, interval_s=30.0)


def transit(
    *, lat: float, lon: float, course: float = 262.0, speed: float = 12.0, seed: int = 0
) -> list[PositionReport]:
    """A straight transit through (lat, lon) at ``speed`` for 2 h."""
    lat0, lon0 = offset(lat, lon, course + 180.0, speed * 1852.0)
    legs = [Leg(duration_s=7200.0, speed_kn=speed, course_deg=course)]
    return build_track(legs, lat=lat0, lon=lon0, mmsi=230_999_004, seed=seed, interval_s=20.0)


def loiter(
    *, lat: float, lon: float, minutes: float = 45.0, circling: bool = False, seed: int = 0
) -> list[PositionReport]:
    """Arrive at 10 kn, then drift at ~0.8 kn (or circle at 4 kn) for ``minutes``, leave."""
    course = 90.0
    lat0, lon0 = offset(lat, lon, course + 180.0, 10 * 1852 / 3600 * 1200.0)
    middle = (
        Leg(duration_s=minutes * 60, speed_kn=4.0, course_deg=0.0, circle_period_s=600.0)
        if circling
        else Leg(duration_s=minutes * 60, speed_kn=0.8, course_deg=200.0)
    )
    legs = [
        Leg(duration_s=1200.0, speed_kn=10.0, course_deg=course),
        middle,
        Leg(duration_s=1800.0, speed_kn=10.0, course_deg=course),
    ]
    return build_track(legs, lat=lat0, lon=lon0, mmsi=230_999_005, seed=seed, interval_s=30.0)
