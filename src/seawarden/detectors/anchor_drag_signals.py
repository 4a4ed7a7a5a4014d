"""The motion signs of a dragged anchor, measured per vessel from its AIS reports.

A ship with its anchor on the seabed behaves differently from one steaming freely, but each
sign alone has innocent explanations, so each is measured here as a strength 0..1 and left
to :mod:`seawarden.detectors.anchor_drag` to combine:

* **speed drop**: sustained speed well below the vessel's own recent transit speed;
* **heading ≠ course**: the anchor holds the bow, the ship yaws and crabs (against the
  vessel's own steady-transit offset, so a badly calibrated gyro does not count);
* **zig-zag**: the course swinging back and forth, leg after leg, at dragging speed. It is
  measured on the *course made good over ``zigzag_baseline_s``* (the bearing from where the
  ship was two minutes ago), which GNSS and COG noise barely move, and a reversal is a
  swing of ≥ ``turn_deg`` back from the extreme of the previous leg, after a leg of at
  least ``zigzag_min_leg_s``. Adding up sample-to-sample turns does not work: at 6 kn a
  30 s step is ~100 m, so 4 m of position noise is ±3° per step and resets the sum;
* **status vs motion**: "at anchor"/"moored" while moving away from where it was set;
* **AIS dark spells**: gaps much longer than this vessel's usual interval, counted in full
  when other vessels were heard nearby meanwhile (``ctx.coverage``), by half otherwise.

Everything is event-time driven and kept in :class:`AnchorDragState` (plain fields, a short
array of samples, tuples), so the state snapshots to JSON and a replay gives exactly what
live would.
"""

from __future__ import annotations

import math
from array import array
from dataclasses import dataclass, field
from datetime import datetime

from seawarden.detectors._kinematics import (
    abs_angle_diff_deg,
    angle_diff_deg,
    bearing_deg,
    distance_m,
)
from seawarden.detectors.anchor_drag_config import ANCHORED_STATUSES, AnchorDragConfig
from seawarden.detectors.base import Context, float_window
from seawarden.model import PositionReport

__all__ = [
    "SIGNALS",
    "AnchorDragState",
    "learn_interval",
    "ramp",
    "recent_reversals",
    "sample",
    "signals",
]

# signal name → config attribute of its weight in the noisy-OR
SIGNALS: tuple[tuple[str, str], ...] = (
    ("speed_drop", "weight_speed_drop"),
    ("heading_course", "weight_divergence"),
    ("zigzag", "weight_zigzag"),
    ("nav_status", "weight_status"),
    ("ais_gaps", "weight_gaps"),
)


TRACK_N = 16  # sampled positions kept for the course made good
GAPS_N = 4  # recent dark spells (gap_window_s)


@dataclass(slots=True, kw_only=True)
class AnchorDragState:
    """Per-vessel state: a few timers and averages (times are POSIX seconds)."""

    last_t: float | None = None
    interval_s: float | None = None
    sample_t: float | None = None
    sample_lat: float = 0.0
    sample_lon: float = 0.0
    sample_course: float | None = None
    speed_kn: float | None = None
    transit_kn: float | None = None
    transit_t: float = 0.0
    slow_since: float | None = None
    div_deg: float = 0.0
    base_x: float = 0.0
    base_y: float = 0.0
    # zig-zag: recent sampled positions (t, lat, lon), the current leg of the course made
    # good (its extreme, direction, when the extreme was reached, turn since the last one)
    # ≤ TRACK_N sampled (t, lat, lon), flat: t0, lat0, lon0, t1, … (an array of doubles
    # holds them in 24 bytes a sample, a list of tuples in ~140: issue 8)
    track: array[float] = field(default_factory=float_window)
    zz_course: float | None = None
    zz_ext: float | None = None
    zz_dir: int = 0
    zz_ext_t: float = 0.0
    zz_leg_t: float = 0.0
    zz_leg_deg: float = 0.0
    zz_lo: float = 0.0
    zz_hi: float = 0.0
    zz_lo_t: float = 0.0
    zz_hi_t: float = 0.0
    zz_run: int = 0
    zz_rev_t: float = 0.0
    # ≤ GAPS_N recent dark spells (t, weight, dt); rare, so a tuple (the empty one is shared)
    gaps: tuple[tuple[float, float, float], ...] = ()
    status_lat: float | None = None
    status_lon: float | None = None
    # episode and event
    onset: datetime | None = None
    onset_lat: float = 0.0
    onset_lon: float = 0.0
    drag_m: float = 0.0
    above_t: float | None = None
    below_t: float | None = None
    open: bool = False
    emit_t: float = 0.0
    emit_conf: float = 0.0
    peak: float = 0.0
    area_id: str | None = None
    # distance to each nearby corridor's edge at the last assessment; None: none near
    prev_edges: dict[str, float] | None = None
    crossed: tuple[str, ...] = ()  # corridors entered during the episode (the last 8)


def ramp(x: float, lo: float, hi: float) -> float:
    """0 at ``lo``, 1 at ``hi`` (either order), linear between."""
    if hi > lo:
        return 0.0 if x <= lo else (1.0 if x >= hi else (x - lo) / (hi - lo))
    return 0.0 if x >= lo else (1.0 if x <= hi else (lo - x) / (lo - hi))


def learn_interval(
    c: AnchorDragConfig, state: AnchorDragState, report: PositionReport, dt: float, ctx: Context
) -> None:
    """Track the vessel's usual report interval; record a gap when one is far longer."""
    usual = state.interval_s
    if usual is not None and dt > max(c.gap_min_s, c.gap_multiple * usual):
        weight = 0.5
        if ctx.coverage is not None and state.last_t is not None:
            since = datetime.fromtimestamp(state.last_t, tz=report.time.tzinfo)
            if ctx.coverage.others_heard_near(report.lat, report.lon, since, report.mmsi):
                weight = 1.0
        state.gaps = (*state.gaps, (report.time.timestamp(), weight, dt))[-GAPS_N:]
        state.zz_rev_t += dt  # a dark spell does not end a zig-zag: its legs were not seen
        return
    capped = min(dt, c.gap_min_s)
    state.interval_s = capped if usual is None else usual + 0.1 * (capped - usual)


def sample(c: AnchorDragConfig, state: AnchorDragState, r: PositionReport, t: float) -> None:
    """Update every signal's state with one sampled report (every ``sample_s``)."""
    first = state.sample_t is None
    dt = 0.0 if state.sample_t is None else t - state.sample_t
    seg = 0.0 if first else distance_m(state.sample_lat, state.sample_lon, r.lat, r.lon)
    speed = r.speed_kn
    if speed is None and dt > 0:
        speed = seg / dt * 3600.0 / 1852.0
    course = r.course_deg if (speed is not None and speed >= 0.5) else None
    if course is None and seg > 30.0:
        course = bearing_deg(state.sample_lat, state.sample_lon, r.lat, r.lon)
    state.speed_kn = speed
    if state.onset is not None:
        state.drag_m += seg
    _transit(c, state, r, t, dt, speed, course)
    _speed_drop(c, state, t, first, speed)
    _divergence(c, state, r, dt, first, speed, course)
    made_good = course
    if seg >= 50.0:
        made_good = bearing_deg(state.sample_lat, state.sample_lon, r.lat, r.lon)
    moving = speed is not None and speed >= c.zigzag_min_speed_kn and made_good is not None
    state.sample_course = made_good if moving else None
    _zigzag(c, state, r, t, speed)

    # status "at anchor"/"moored": where was it set?
    if r.nav_status in ANCHORED_STATUSES:
        if state.status_lat is None:
            state.status_lat, state.status_lon = r.lat, r.lon
    elif r.nav_status is not None:
        state.status_lat = state.status_lon = None

    state.sample_t, state.sample_lat, state.sample_lon = t, r.lat, r.lon


def _transit(
    c: AnchorDragConfig,
    state: AnchorDragState,
    r: PositionReport,
    t: float,
    dt: float,
    speed: float | None,
    course: float | None,
) -> None:
    """Transit speed (time-weighted average above ``transit_min_speed_kn``) and the
    steady-transit heading offset (the vessel's own gyro/COG misalignment)."""
    if speed is None or speed < c.transit_min_speed_kn:
        return
    if state.transit_kn is None:
        state.transit_kn = speed
    else:
        state.transit_kn += (1.0 - math.exp(-dt / c.transit_tau_s)) * (speed - state.transit_kn)
    state.transit_t = t
    if (
        course is not None
        and state.sample_course is not None
        and r.heading_deg is not None
        and abs_angle_diff_deg(course, state.sample_course) < 5.0
    ):
        off = math.radians(angle_diff_deg(r.heading_deg, course))
        k = 1.0 - math.exp(-dt / c.heading_baseline_tau_s)
        state.base_x += k * (math.cos(off) - state.base_x)
        state.base_y += k * (math.sin(off) - state.base_y)


def _speed_drop(
    c: AnchorDragConfig, state: AnchorDragState, t: float, first: bool, speed: float | None
) -> None:
    """Start (or stop) the clock of a speed well below the recent transit speed."""
    drop = 0.0
    if (
        speed is not None
        and speed >= c.drag_min_speed_kn
        and state.transit_kn is not None
        and t - state.transit_t <= c.transit_memory_s
    ):
        drop = ramp(speed / state.transit_kn, c.speed_ratio_start, c.speed_ratio_full)
    if drop > 0.0:
        if state.slow_since is None:
            state.slow_since = t if first else state.sample_t
    else:
        state.slow_since = None


def _divergence(
    c: AnchorDragConfig,
    state: AnchorDragState,
    r: PositionReport,
    dt: float,
    first: bool,
    speed: float | None,
    course: float | None,
) -> None:
    """Smoothed |heading − course| beyond the vessel's own baseline offset."""
    div = 0.0
    if (
        r.heading_deg is not None
        and course is not None
        and speed is not None
        and speed >= c.divergence_min_speed_kn
    ):
        off = angle_diff_deg(r.heading_deg, course)
        base = 0.0
        if math.hypot(state.base_x, state.base_y) > 0.5:
            base = math.degrees(math.atan2(state.base_y, state.base_x))
        div = abs_angle_diff_deg(off, base)
    k = 1.0 if first else 1.0 - math.exp(-min(dt, 600.0) / c.divergence_tau_s)
    state.div_deg += k * (div - state.div_deg)


def _smoothed_course(
    c: AnchorDragConfig, state: AnchorDragState, r: PositionReport, t: float
) -> float | None:
    """Course made good from where the ship was at least ``zigzag_baseline_s`` and
    ``zigzag_baseline_min_m`` ago (so GNSS noise is a few degrees at most), looking back
    no more than three baselines (None if the history is too short, too old or the ship
    too slow to give a direction)."""
    oldest = t - 3.0 * c.zigzag_baseline_s
    course: float | None = None
    track = state.track  # flat (t, lat, lon) samples, oldest first
    for i in range(len(track) - 3, -1, -3):  # newest first
        pt = track[i]
        if pt < oldest:
            break
        if t - pt >= c.zigzag_baseline_s and (
            distance_m(track[i + 1], track[i + 2], r.lat, r.lon) >= c.zigzag_baseline_min_m
        ):
            course = bearing_deg(track[i + 1], track[i + 2], r.lat, r.lon)
            break
    stale = 0
    while stale < len(track) and track[stale] < oldest:
        stale += 3
    if stale:
        del track[:stale]
    track.extend((t, r.lat, r.lon))
    if len(track) > 3 * TRACK_N:
        del track[:3]
    return course


def _zigzag(
    c: AnchorDragConfig, state: AnchorDragState, r: PositionReport, t: float, speed: float | None
) -> None:
    """Legs of the smoothed course: extend the current leg while the course keeps turning
    the same way; a swing of ≥ ``turn_deg`` back from the leg's extreme ends the leg, and
    is a reversal if the leg lasted ≥ ``zigzag_min_leg_s`` at dragging speed. A leg that
    turns through ``uturn_deg`` is turning round (manoeuvring): reversals are forgotten."""
    course = _smoothed_course(c, state, r, t)
    state.zz_course = course
    if speed is not None and speed < c.drag_min_speed_kn:
        state.zz_run = 0  # stopped: a zig-zag is sailed, not drifted
        state.zz_ext, state.zz_dir = None, 0
        return
    if course is None or speed is None or speed < c.zigzag_min_speed_kn:
        return
    if state.zz_ext is None or (state.zz_dir == 0 and t - state.zz_ext_t > c.zigzag_max_leg_s):
        # (re-)anchor the first leg on the current course
        state.zz_ext, state.zz_dir, state.zz_ext_t = course, 0, t
        state.zz_lo = state.zz_hi = 0.0
        state.zz_lo_t = state.zz_hi_t = t
        return
    dv = angle_diff_deg(course, state.zz_ext)
    if state.zz_dir == 0:
        # no leg yet: watch the course's range round the anchor until it swings turn_deg
        # back from its highest or lowest point, which then was the first leg's extreme
        if dv > state.zz_hi:
            state.zz_hi, state.zz_hi_t = dv, t
        if dv < state.zz_lo:
            state.zz_lo, state.zz_lo_t = dv, t
        if state.zz_hi - dv >= c.turn_deg:
            state.zz_dir, state.zz_leg_t, state.zz_leg_deg = -1, state.zz_hi_t, state.zz_hi - dv
        elif dv - state.zz_lo >= c.turn_deg:
            state.zz_dir, state.zz_leg_t, state.zz_leg_deg = 1, state.zz_lo_t, dv - state.zz_lo
        else:
            return
        state.zz_ext, state.zz_ext_t = course, t
        return
    if dv * state.zz_dir > 0:  # still turning the same way: a new extreme
        state.zz_ext, state.zz_ext_t = course, t
        state.zz_leg_deg += abs(dv)
        if state.zz_leg_deg >= c.uturn_deg:
            state.zz_run = 0  # turning round: manoeuvring, not zig-zag
        return
    if -dv * state.zz_dir < c.turn_deg:
        return
    # swung back turn_deg from the extreme: the leg ended at zz_ext
    leg_s = state.zz_ext_t - state.zz_leg_t
    if (
        leg_s >= c.zigzag_min_leg_s
        and state.zz_leg_deg < c.uturn_deg
        and speed <= c.zigzag_max_speed_kn
    ):
        sustained = state.zz_run > 0 and t - state.zz_rev_t <= c.zigzag_max_leg_s
        state.zz_run = state.zz_run + 1 if sustained else 1
        state.zz_rev_t = t
    state.zz_leg_t, state.zz_leg_deg = state.zz_ext_t, abs(dv)
    state.zz_dir = -state.zz_dir
    state.zz_ext, state.zz_ext_t = course, t


def recent_reversals(c: AnchorDragConfig, state: AnchorDragState, t: float) -> int:
    """Reversals in the current zig-zag: in a row, none more than ``zigzag_max_leg_s``
    after the previous one (0 once the ship has held a course longer than that)."""
    if state.zz_run == 0 or t - state.zz_rev_t > c.zigzag_max_leg_s:
        return 0
    return state.zz_run


def signals(
    c: AnchorDragConfig, state: AnchorDragState, r: PositionReport, t: float
) -> dict[str, float]:
    """Each signal's strength 0..1 now."""
    speed = state.speed_kn
    drop = 0.0
    if state.slow_since is not None and state.transit_kn and speed is not None:
        depth = ramp(speed / state.transit_kn, c.speed_ratio_start, c.speed_ratio_full)
        drop = depth * min(1.0, (t - state.slow_since) / max(c.speed_drop_ramp_s, 1.0))
    zig = ramp(
        recent_reversals(c, state, t),
        float(c.zigzag_start_reversals),
        float(c.zigzag_full_reversals),
    )
    if speed is None or speed > c.zigzag_max_speed_kn:
        zig = 0.0  # no anchor is dragged at that speed
    status = 0.0
    if (
        state.status_lat is not None
        and state.status_lon is not None
        and speed is not None
        and speed >= c.status_moving_min_kn
    ):
        moved = distance_m(state.status_lat, state.status_lon, r.lat, r.lon)
        status = ramp(moved, c.status_start_m, c.status_full_m)
        if speed > c.status_drag_max_kn:
            status *= 0.3
    gap_w = sum(w for gt, w, _ in state.gaps if t - gt <= c.gap_window_s)
    return {
        "speed_drop": round(drop, 3),
        "heading_course": round(
            ramp(state.div_deg, c.divergence_start_deg, c.divergence_full_deg), 3
        ),
        "zigzag": round(zig, 3),
        "nav_status": round(status, 3),
        "ais_gaps": round(min(1.0, gap_w / c.gap_full_count), 3),
    }
