"""Anchor drag: a ship dragging its anchor across the seabed, the way cables get cut.

Five suspected incidents shape this detector (see ``docs/detectors/anchor_drag.md``): the
NEWNEW POLAR BEAR (Balticconnector, Oct 2023), YI PENG 3 (BCS and C-Lion1, Nov 2024), EAGLE S
(Estlink 2, Dec 2024), VEZHEN (Latvia–Gotland, Jan 2025) and FITBURG (Helsinki–Tallinn, Dec
2025). No single sign is reliable: EAGLE S fell to about a quarter of its speed minutes before
Estlink 2 failed, but YI PENG 3 reportedly kept ~7 kn while dragging for over 100 km, with its
AIS off for part of the way and a zig-zag before the anchor was raised. So evidence is combined
as a noisy-OR of signal strengths (each 0..1, with a weight), none of them required:

* **speed drop**: sustained speed well below the vessel's own recent transit speed (a
  time-weighted average of its speed above ``transit_min_speed_kn``);
* **heading ≠ course**: a dragged anchor holds the bow, so the ship yaws and crabs; heading
  differs from course over ground by more than ~15–20° while moving (measured against the
  vessel's own steady-transit offset, so a badly calibrated gyro does not count);
* **zig-zag**: course changes back and forth (reversals of ≥ ``turn_deg``) within minutes;
* **status vs motion**: "at anchor"/"moored" while moving away from where the status was set;
* **AIS dark spells**: gaps much longer than this vessel's usual interval, counted in full when
  other vessels were heard nearby meanwhile (``ctx.coverage``), by half otherwise.

The combined motion evidence is then scaled by where the ship is: fully inside a cable or
pipeline corridor, partly when heading towards one within ``approach_m``, little elsewhere
(so high confidence needs infrastructure at stake), and damped where many vessels stop
(``ctx.normalcy.stop_fraction``: anchorages, ports) and for service craft (tugs, pilots,
dredgers) that manoeuvre for a living. An event opens when the confidence stays ≥
``open_confidence`` for ``min_duration_s`` — the goal is an alert within 10 minutes of onset
— is updated when it changes by ≥ ``update_min_change`` (at most every
``update_min_interval_s``) and closes after ``close_after_s`` below ``close_confidence``.
Reports are sampled every ``sample_s`` so a ship reporting every 2 s costs little.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

from seawarden.detectors._kinematics import (
    CorridorGeometry,
    CorridorHit,
    abs_angle_diff_deg,
    angle_diff_deg,
    bearing_deg,
    distance_m,
)
from seawarden.detectors.base import Context, Detector
from seawarden.errors import ConfigError
from seawarden.model import Event, PositionReport

if TYPE_CHECKING:
    from seawarden.areas.index import AreaIndex

__all__ = ["AnchorDragConfig", "AnchorDragDetector", "AnchorDragState"]

INFRA_KINDS = frozenset({"cable", "pipeline"})
# AIS ship types that manoeuvre slowly for a living: dredging/underwater ops (33), diving
# (34), military (35), pilot (50), SAR (51), tug (52), tender (53), anti-pollution (54),
# law enforcement (55), medical (58), towing (31, 32).
SERVICE_TYPES = frozenset({31, 32, 33, 34, 35, 50, 51, 52, 53, 54, 55, 58})
FISHING_TYPES = frozenset({30})
# sailing, pleasure craft and high-speed craft (light anchors; HSC manoeuvre at piers)
SMALL_CRAFT_TYPES = frozenset({36, 37, *range(40, 50)})
ANCHORED_STATUSES = frozenset({1, 5})  # at anchor, moored


@dataclass(frozen=True, slots=True, kw_only=True)
class AnchorDragConfig:
    """Parameters of :class:`AnchorDragDetector` (see docs/detectors/anchor_drag.md)."""

    # lifecycle (hysteresis pair open/close)
    open_confidence: float = 0.5
    close_confidence: float = 0.3
    min_duration_s: float = 180.0
    close_after_s: float = 900.0
    stale_after_s: float = 3 * 3600.0
    sample_s: float = 30.0
    update_min_interval_s: float = 300.0
    update_min_change: float = 0.1
    # the vessel's own transit speed
    transit_min_speed_kn: float = 5.0
    transit_tau_s: float = 1800.0
    transit_memory_s: float = 3 * 3600.0
    # speed drop
    drag_min_speed_kn: float = 1.0
    speed_ratio_start: float = 0.7
    speed_ratio_full: float = 0.35
    speed_drop_ramp_s: float = 600.0
    # heading vs course over ground
    divergence_min_speed_kn: float = 2.0
    divergence_start_deg: float = 15.0
    divergence_full_deg: float = 30.0
    divergence_tau_s: float = 120.0
    heading_baseline_tau_s: float = 3600.0
    # zig-zag
    zigzag_min_speed_kn: float = 2.0
    turn_deg: float = 25.0
    zigzag_window_s: float = 1200.0
    zigzag_full_reversals: int = 4
    zigzag_min_leg_s: float = 90.0
    uturn_deg: float = 120.0
    # nav status inconsistent with motion
    status_moving_min_kn: float = 1.0
    status_drag_max_kn: float = 7.0
    status_start_m: float = 600.0
    status_full_m: float = 1500.0
    # AIS dark spells
    gap_min_s: float = 600.0
    gap_multiple: float = 5.0
    gap_window_s: float = 3 * 3600.0
    gap_full_count: float = 2.0
    # weights of the noisy-OR
    weight_speed_drop: float = 0.55
    weight_divergence: float = 0.75
    weight_zigzag: float = 0.7
    weight_status: float = 0.8
    weight_gaps: float = 0.45
    # where: corridors, anchorages, vessel type
    approach_m: float = 15_000.0
    approach_factor: float = 0.9
    outside_factor: float = 0.55
    zone_factor: float = 0.8
    stop_fraction_low: float = 0.2
    stop_fraction_high: float = 0.6
    anchorage_damping: float = 0.8
    service_vessel_factor: float = 0.5
    fishing_factor: float = 0.7
    small_craft_factor: float = 0.5

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not math.isfinite(value) or value < 0:
                raise ConfigError(f"anchor_drag.{f.name} must be a finite number ≥ 0, got {value}")
        unit = [f.name for f in fields(self) if _is_unit(f.name) and getattr(self, f.name) > 1]
        if unit:
            raise ConfigError(f"anchor_drag: {', '.join(unit)} must be in 0..1")
        if self.close_confidence >= self.open_confidence:
            raise ConfigError("anchor_drag: close_confidence must be below open_confidence")
        if self.speed_ratio_full >= self.speed_ratio_start:
            raise ConfigError("anchor_drag: speed_ratio_full must be below speed_ratio_start")
        if self.divergence_full_deg <= self.divergence_start_deg:
            raise ConfigError("anchor_drag: divergence_full_deg must exceed divergence_start_deg")
        if self.status_full_m <= self.status_start_m:
            raise ConfigError("anchor_drag: status_full_m must exceed status_start_m")
        if self.zigzag_full_reversals < 2 or self.gap_full_count <= 0:
            raise ConfigError("anchor_drag: zigzag_full_reversals ≥ 2 and gap_full_count > 0")
        for name in ("sample_s", "transit_tau_s", "divergence_tau_s", "heading_baseline_tau_s"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"anchor_drag.{name} must be > 0")


def _is_unit(name: str) -> bool:
    """Parameters that are shares or probabilities, in 0..1 (by naming convention)."""
    return name.startswith(("weight_", "stop_fraction_", "speed_ratio_")) or name.endswith(
        ("_confidence", "_factor", "_damping", "_change")
    )


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
    turn_acc: float = 0.0
    turn_sign: int = 0
    turn_t: float = 0.0
    run_deg: float = 0.0
    reversals: deque[float] = field(default_factory=lambda: deque(maxlen=8))
    gaps: deque[tuple[float, float, float]] = field(default_factory=lambda: deque(maxlen=4))
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
    prev_edges: dict[str, float] = field(default_factory=dict)
    crossed: list[str] = field(default_factory=list)


@dataclass(slots=True)
class _Assessment:
    confidence: float
    motion: float
    signals: dict[str, float]
    area_id: str | None
    hit: CorridorHit | None
    location: str
    damped: list[str]


def _ramp(x: float, lo: float, hi: float) -> float:
    """0 at ``lo``, 1 at ``hi`` (either order), linear between."""
    if hi > lo:
        return 0.0 if x <= lo else (1.0 if x >= hi else (x - lo) / (hi - lo))
    return 0.0 if x >= lo else (1.0 if x <= hi else (lo - x) / (lo - hi))


class AnchorDragDetector(Detector[AnchorDragConfig, AnchorDragState]):
    """Combines speed, yaw, zig-zag, status and AIS-gap evidence near cables; see module doc."""

    name: ClassVar[str] = "anchor_drag"
    version: ClassVar[str] = "1"
    config_type: ClassVar[type[Any]] = AnchorDragConfig
    state_types: ClassVar[tuple[type[Any], ...]] = (AnchorDragState,)

    def __init__(self, config: AnchorDragConfig | None = None) -> None:
        super().__init__(config)
        self._geo_index: AreaIndex | None = None
        self._geo: CorridorGeometry | None = None

    def initial_state(self, mmsi: int) -> AnchorDragState:
        return AnchorDragState()

    # -- per report ---------------------------------------------------------------------------
    def step(
        self, state: AnchorDragState, report: PositionReport, ctx: Context
    ) -> tuple[AnchorDragState, list[Event]]:
        c = self.config
        t = report.time.timestamp()
        if state.last_t is not None:
            dt = t - state.last_t
            if dt <= 0:
                return state, []
            self._learn_interval(state, report, dt, ctx)
        state.last_t = t
        if state.sample_t is not None and t - state.sample_t < c.sample_s:
            return state, []
        self._sample(state, report, t, ctx)
        a = self._assess(state, report, t, ctx)
        return state, self._lifecycle(state, report, t, a, ctx)

    def on_tick(
        self, state: AnchorDragState, now: datetime, ctx: Context
    ) -> tuple[AnchorDragState, list[Event]]:
        if not state.open or state.last_t is None or state.onset is None:
            return state, []
        silent = now.timestamp() - state.last_t
        if silent < self.config.stale_after_s:
            return state, []
        last = ctx.vessel.last
        event = self.make_event(
            "close",
            ctx.vessel.mmsi,
            state.onset,
            last,
            time=now,
            area_id=state.area_id,
            confidence=state.peak,
            reasons=[f"no position for {silent / 3600:.1f} h; closing (last evidence stands)"],
            attrs={"drag_distance_m": round(state.drag_m), "peak_confidence": state.peak},
        )
        self._reset_episode(state)
        return state, [event]

    # -- signals --------------------------------------------------------------------------------
    def _learn_interval(
        self, state: AnchorDragState, report: PositionReport, dt: float, ctx: Context
    ) -> None:
        c = self.config
        usual = state.interval_s
        if usual is not None and dt > max(c.gap_min_s, c.gap_multiple * usual):
            weight = 0.5
            if ctx.coverage is not None and state.last_t is not None:
                since = datetime.fromtimestamp(state.last_t, tz=report.time.tzinfo)
                if ctx.coverage.others_heard_near(report.lat, report.lon, since, report.mmsi):
                    weight = 1.0
            state.gaps.append((report.time.timestamp(), weight, dt))
            return
        capped = min(dt, c.gap_min_s)
        state.interval_s = capped if usual is None else usual + 0.1 * (capped - usual)

    def _sample(self, state: AnchorDragState, r: PositionReport, t: float, ctx: Context) -> None:
        c = self.config
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

        # transit speed and the steady-transit heading offset
        if speed is not None and speed >= c.transit_min_speed_kn:
            if state.transit_kn is None:
                state.transit_kn = speed
            else:
                state.transit_kn += (1.0 - math.exp(-dt / c.transit_tau_s)) * (
                    speed - state.transit_kn
                )
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

        # speed drop against recent transit speed
        drop = 0.0
        if (
            speed is not None
            and speed >= c.drag_min_speed_kn
            and state.transit_kn is not None
            and t - state.transit_t <= c.transit_memory_s
        ):
            drop = _ramp(speed / state.transit_kn, c.speed_ratio_start, c.speed_ratio_full)
        if drop > 0.0:
            if state.slow_since is None:
                state.slow_since = t if first else state.sample_t
        else:
            state.slow_since = None

        # heading vs course, against the vessel's own baseline offset
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

        # zig-zag: accumulated turns in one direction, counting reversals of direction
        # (track made good between samples: steadier than COG when it is long enough)
        made_good = course
        if seg >= 50.0:
            made_good = bearing_deg(state.sample_lat, state.sample_lon, r.lat, r.lon)
        moving = speed is not None and speed >= c.zigzag_min_speed_kn and made_good is not None
        if moving and made_good is not None and state.sample_course is not None:
            delta = angle_diff_deg(made_good, state.sample_course)
            if state.turn_acc == 0.0 or (delta > 0) == (state.turn_acc > 0):
                state.turn_acc += delta
            else:
                state.turn_acc = delta
            if abs(state.turn_acc) >= c.turn_deg:
                sign = 1 if state.turn_acc > 0 else -1
                # a reversal needs a leg in between: quick wiggles are manoeuvring, not zig-zag
                if sign == state.turn_sign:
                    state.run_deg += abs(state.turn_acc)
                    if state.run_deg >= c.uturn_deg:
                        state.reversals.clear()  # turning round: manoeuvring, not zig-zag
                else:
                    state.run_deg = abs(state.turn_acc)
                    if state.turn_sign and t - state.turn_t >= c.zigzag_min_leg_s:
                        state.reversals.append(t)
                state.turn_sign, state.turn_t = sign, t
                state.turn_acc = 0.0
        elif speed is not None and speed < c.drag_min_speed_kn:
            state.reversals.clear()  # stopped: a zig-zag is sailed, not drifted
        state.sample_course = made_good if moving else None

        # status "at anchor"/"moored": where was it set?
        if r.nav_status in ANCHORED_STATUSES:
            if state.status_lat is None:
                state.status_lat, state.status_lon = r.lat, r.lon
        elif r.nav_status is not None:
            state.status_lat = state.status_lon = None

        state.sample_t, state.sample_lat, state.sample_lon = t, r.lat, r.lon

    def _signals(self, state: AnchorDragState, r: PositionReport, t: float) -> dict[str, float]:
        c = self.config
        speed = state.speed_kn
        drop = 0.0
        if state.slow_since is not None and state.transit_kn and speed is not None:
            depth = _ramp(speed / state.transit_kn, c.speed_ratio_start, c.speed_ratio_full)
            drop = depth * min(1.0, (t - state.slow_since) / max(c.speed_drop_ramp_s, 1.0))
        n_rev = sum(1 for rt in state.reversals if t - rt <= c.zigzag_window_s)
        zig = _ramp(n_rev, 1.0, float(c.zigzag_full_reversals))
        status = 0.0
        if (
            state.status_lat is not None
            and state.status_lon is not None
            and speed is not None
            and speed >= c.status_moving_min_kn
        ):
            moved = distance_m(state.status_lat, state.status_lon, r.lat, r.lon)
            status = _ramp(moved, c.status_start_m, c.status_full_m)
            if speed > c.status_drag_max_kn:
                status *= 0.3
        gap_w = sum(w for gt, w, _ in state.gaps if t - gt <= c.gap_window_s)
        return {
            "speed_drop": round(drop, 3),
            "heading_course": round(
                _ramp(state.div_deg, c.divergence_start_deg, c.divergence_full_deg), 3
            ),
            "zigzag": round(zig, 3),
            "nav_status": round(status, 3),
            "ais_gaps": round(min(1.0, gap_w / c.gap_full_count), 3),
        }

    def _assess(
        self, state: AnchorDragState, r: PositionReport, t: float, ctx: Context
    ) -> _Assessment:
        c = self.config
        sig = self._signals(state, r, t)
        keep = 1.0
        for name, weight in (
            ("speed_drop", c.weight_speed_drop),
            ("heading_course", c.weight_divergence),
            ("zigzag", c.weight_zigzag),
            ("nav_status", c.weight_status),
            ("ais_gaps", c.weight_gaps),
        ):
            keep *= 1.0 - weight * sig[name]
        motion = 1.0 - keep
        a = _Assessment(motion, motion, sig, None, None, "", [])
        if motion < c.close_confidence:
            state.prev_edges = {}
            return a  # cannot matter: every factor below is ≤ 1
        factor = c.outside_factor
        a.location = "not near a watched cable or pipeline"
        geo = self._geometry(ctx.areas)
        hits = geo.near(r.lat, r.lon) if geo is not None else []
        a.hit = hits[0] if hits else None
        infra: list[str] = []
        zones: list[str] = []
        if ctx.areas is not None:
            for area_id in ctx.inside:
                kind = ctx.areas.area(area_id).kind
                (infra if kind in INFRA_KINDS else zones).append(area_id)
        prev, state.prev_edges = state.prev_edges, {h.area_id: h.edge_distance_m for h in hits}
        if infra:
            for area_id in infra:
                if area_id not in state.crossed and state.onset is not None:
                    state.crossed.append(area_id)
                    del state.crossed[:-8]
            chosen = infra[0]
            if state.area_id is not None and state.area_id in infra:
                chosen = state.area_id
            elif a.hit is not None and a.hit.area_id in infra:
                chosen = a.hit.area_id
            factor, a.area_id = 1.0, chosen
            kind = ctx.areas.area(chosen).kind if ctx.areas is not None else "cable"
            a.location = f"inside {kind} corridor {chosen}"
        else:
            course = r.course_deg if r.course_deg is not None else state.sample_course
            for hit in hits:
                edge = max(0.0, hit.edge_distance_m)
                before = prev.get(hit.area_id)
                towards = (
                    before is not None
                    and hit.edge_distance_m < before
                    and course is not None
                    and abs_angle_diff_deg(course, hit.bearing_deg) <= 75
                )
                if not (towards or edge == 0.0):
                    continue
                near = c.outside_factor + (c.approach_factor - c.outside_factor) * (
                    1.0 - edge / max(c.approach_m, 1.0)
                )
                if near > factor:
                    factor, a.area_id, a.hit = near, hit.area_id, hit
                    a.location = (
                        f"heading towards corridor {hit.area_id}, {edge / 1000:.1f} km away"
                    )
            if zones and c.zone_factor > factor:
                factor, a.area_id = c.zone_factor, zones[0]
                a.location = f"inside watched zone {zones[0]}"
        kind_factor = 1.0
        ship_type = ctx.vessel.ship_type
        if ship_type in SERVICE_TYPES:
            kind_factor = c.service_vessel_factor
            a.damped.append(f"service vessel (AIS type {ship_type})")
        elif ship_type in FISHING_TYPES:
            kind_factor = c.fishing_factor
            a.damped.append("fishing vessel (trawling looks alike)")
        elif ship_type in SMALL_CRAFT_TYPES or r.msg_type in (18, 19):
            kind_factor = c.small_craft_factor
            a.damped.append("small craft (class B or pleasure)")
        port = 1.0
        if ctx.normalcy is not None:
            sf = ctx.normalcy.stop_fraction(r.lat, r.lon)
            if sf is not None:
                port = 1.0 - c.anchorage_damping * _ramp(
                    sf, c.stop_fraction_low, c.stop_fraction_high
                )
                if port < 1.0:
                    a.damped.append(f"{sf:.0%} of reports here are from stopped vessels")
        a.confidence = motion * factor * kind_factor * port
        return a

    def _geometry(self, areas: AreaIndex | None) -> CorridorGeometry | None:
        if areas is None:
            return None
        if areas is not self._geo_index:
            from seawarden.areas.geodesic import line_parts_unwrapped

            lines = [
                (a.id, a.buffer_m or 0.0, [p.tolist() for p in line_parts_unwrapped(a.centerline)])
                for a in areas.areas
                if a.kind in INFRA_KINDS and a.centerline is not None
            ]
            self._geo = CorridorGeometry(lines, self.config.approach_m)
            self._geo_index = areas
        return self._geo

    # -- lifecycle ----------------------------------------------------------------------------
    def _lifecycle(
        self, state: AnchorDragState, r: PositionReport, t: float, a: _Assessment, ctx: Context
    ) -> list[Event]:
        c = self.config
        conf = a.confidence
        if not state.open:
            if conf < c.close_confidence:
                self._reset_episode(state)
                return []
            if state.onset is None:
                state.onset, state.onset_lat, state.onset_lon = r.time, r.lat, r.lon
                state.drag_m = 0.0
            if conf < c.open_confidence:
                state.above_t = None
                return []
            if state.above_t is None:
                state.above_t = t
            if t - state.above_t < c.min_duration_s:
                return []
            state.open, state.peak, state.area_id = True, conf, a.area_id
            return [self._event("open", state, r, t, a, ctx)]
        state.peak = max(state.peak, conf)
        if conf < c.close_confidence:
            if state.below_t is None:
                state.below_t = t
            if t - state.below_t >= c.close_after_s:
                ev = self._event("close", state, r, t, a, ctx)
                self._reset_episode(state)
                return [ev]
            return []
        state.below_t = None
        new_area = a.area_id is not None and a.area_id != state.area_id
        since = t - state.emit_t
        if (new_area and since >= c.sample_s * 2) or (
            abs(conf - state.emit_conf) >= c.update_min_change and since >= c.update_min_interval_s
        ):
            if a.area_id is not None:
                state.area_id = a.area_id
            return [self._event("update", state, r, t, a, ctx)]
        return []

    @staticmethod
    def _reset_episode(state: AnchorDragState) -> None:
        state.onset = None
        state.above_t = state.below_t = None
        state.open = False
        state.drag_m = state.peak = state.emit_conf = 0.0
        state.area_id = None
        state.crossed = []

    def _event(
        self,
        phase: Any,
        state: AnchorDragState,
        r: PositionReport,
        t: float,
        a: _Assessment,
        ctx: Context,
    ) -> Event:
        c = self.config
        onset = state.onset if state.onset is not None else r.time
        conf = state.peak if phase == "close" else a.confidence
        state.emit_t, state.emit_conf = t, a.confidence
        speed, transit = state.speed_kn, state.transit_kn
        recent = transit is not None and t - state.transit_t <= c.transit_memory_s
        ratio = speed / transit if (recent and speed is not None and transit) else None
        n_rev = sum(1 for rt in state.reversals if t - rt <= c.zigzag_window_s)
        reasons = self._reasons(state, a, ratio, n_rev, t)
        if phase == "close":
            reasons.insert(
                0, f"evidence below {c.close_confidence:.2f} for {c.close_after_s / 60:.0f} min"
            )
        track = list(ctx.vessel.track)[-10:] or [r]
        return self.make_event(
            phase,
            ctx.vessel.mmsi,
            onset,
            r,
            area_id=state.area_id,
            confidence=conf,
            reasons=reasons,
            evidence_reports=track,
            attrs={
                "transit_speed_kn": None if transit is None else round(transit, 1),
                "speed_kn": None if speed is None else round(speed, 1),
                "speed_ratio": None if ratio is None else round(ratio, 2),
                "heading_course_diff_deg": round(state.div_deg, 1),
                "course_reversals": n_rev,
                "drag_distance_m": round(state.drag_m),
                "corridor_distance_m": None if a.hit is None else round(a.hit.distance_m),
                "signals": a.signals,
                "motion_evidence": round(a.motion, 3),
                "onset_lat": round(state.onset_lat, 6),
                "onset_lon": round(state.onset_lon, 6),
                "peak_confidence": round(state.peak, 3),
                "corridors_entered": list(state.crossed),
            },
        )

    def _reasons(
        self, state: AnchorDragState, a: _Assessment, ratio: float | None, n_rev: int, t: float
    ) -> list[str]:
        c = self.config
        s = a.signals
        out: list[str] = []
        if s["speed_drop"] > 0 and ratio is not None and state.slow_since is not None:
            out.append(
                f"speed {state.speed_kn:.1f} kn, {ratio:.0%} of its recent transit speed "
                f"{state.transit_kn:.1f} kn, for {(t - state.slow_since) / 60:.0f} min"
            )
        elif state.speed_kn is not None and state.speed_kn >= c.transit_min_speed_kn:
            out.append(f"no speed drop: still making {state.speed_kn:.1f} kn (as YI PENG 3 did)")
        if s["heading_course"] > 0:
            out.append(f"heading differs from course over ground by {state.div_deg:.0f}° (yawing)")
        if s["zigzag"] > 0:
            out.append(f"{n_rev} course reversals in {c.zigzag_window_s / 60:.0f} min (zig-zag)")
        if s["nav_status"] > 0:
            out.append("reports 'at anchor'/'moored' yet keeps moving away from that spot")
        if s["ais_gaps"] > 0:
            recent = [g for g in state.gaps if t - g[0] <= c.gap_window_s]
            longest = max(g[2] for g in recent) / 60
            out.append(
                f"{len(recent)} AIS gap(s) in {c.gap_window_s / 3600:.0f} h, "
                f"longest {longest:.0f} min"
            )
        where = a.location
        if len(state.crossed) > 1:
            where += f"; corridors entered: {', '.join(state.crossed)}"
        if a.hit is not None:
            where += f"; {a.hit.distance_m / 1000:.1f} km from the {a.hit.area_id} line"
        if where:
            out.append(where)
        out.extend(f"confidence reduced: {d}" for d in a.damped)
        if state.drag_m > 0:
            out.append(f"{state.drag_m / 1000:.1f} km covered since onset")
        return out
