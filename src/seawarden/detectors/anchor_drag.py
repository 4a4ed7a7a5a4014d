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
* **zig-zag**: the course made good swinging back and forth by ≥ ``turn_deg``, leg after
  leg (4–25 min each), at a speed an anchor can be dragged at (≤ ``zigzag_max_speed_kn``);
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

Layout: parameters in :mod:`~seawarden.detectors.anchor_drag_config`, the per-vessel state
and signal measurements in :mod:`~seawarden.detectors.anchor_drag_signals`, the location,
vessel-type and anchorage factors in :mod:`~seawarden.detectors.anchor_drag_location`; this
module combines them and runs the event lifecycle.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from seawarden.detectors.anchor_drag_config import AnchorDragConfig
from seawarden.detectors.anchor_drag_location import Assessment, CorridorCache, locate
from seawarden.detectors.anchor_drag_signals import (
    SIGNALS,
    AnchorDragState,
    learn_interval,
    recent_reversals,
    sample,
    signals,
)
from seawarden.detectors.base import Context, Detector
from seawarden.model import Event, PositionReport

__all__ = ["AnchorDragConfig", "AnchorDragDetector", "AnchorDragState"]


class AnchorDragDetector(Detector[AnchorDragConfig, AnchorDragState]):
    """Combines speed, yaw, zig-zag, status and AIS-gap evidence near cables; see module doc."""

    name: ClassVar[str] = "anchor_drag"
    version: ClassVar[str] = "2"
    config_type: ClassVar[type[Any]] = AnchorDragConfig
    state_types: ClassVar[tuple[type[Any], ...]] = (AnchorDragState,)

    def __init__(self, config: AnchorDragConfig | None = None) -> None:
        super().__init__(config)
        self._corridors = CorridorCache(self.config.approach_m)

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
            learn_interval(c, state, report, dt, ctx)
        state.last_t = t
        if state.sample_t is not None and t - state.sample_t < c.sample_s:
            return state, []
        sample(c, state, report, t)
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

    def _assess(
        self, state: AnchorDragState, r: PositionReport, t: float, ctx: Context
    ) -> Assessment:
        c = self.config
        sig = signals(c, state, r, t)
        keep = 1.0
        for name, weight_attr in SIGNALS:
            keep *= 1.0 - float(getattr(c, weight_attr)) * sig[name]
        motion = 1.0 - keep
        a = Assessment(motion, motion, sig)
        if motion < c.close_confidence:
            state.prev_edges = None
            return a  # cannot matter: every factor below is ≤ 1
        locate(c, a, state, r, ctx, self._corridors.get(ctx.areas))
        return a

    # -- lifecycle ----------------------------------------------------------------------------
    def _lifecycle(
        self, state: AnchorDragState, r: PositionReport, t: float, a: Assessment, ctx: Context
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
        state.crossed = ()

    def _event(
        self,
        phase: Any,
        state: AnchorDragState,
        r: PositionReport,
        t: float,
        a: Assessment,
        ctx: Context,
    ) -> Event:
        c = self.config
        onset = state.onset if state.onset is not None else r.time
        conf = state.peak if phase == "close" else a.confidence
        state.emit_t, state.emit_conf = t, a.confidence
        speed, transit = state.speed_kn, state.transit_kn
        recent = transit is not None and t - state.transit_t <= c.transit_memory_s
        ratio = speed / transit if (recent and speed is not None and transit) else None
        n_rev = recent_reversals(c, state, t)
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
        self, state: AnchorDragState, a: Assessment, ratio: float | None, n_rev: int, t: float
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
            out.append(
                f"{n_rev} course reversals in a row, each ≥ {c.turn_deg:.0f}° and "
                f"{c.zigzag_min_leg_s / 60:.0f}-{c.zigzag_max_leg_s / 60:.0f} min apart (zig-zag)"
            )
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
