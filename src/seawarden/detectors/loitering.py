"""Loitering: a vessel lingering slowly, or circling, inside a cable corridor or watched zone.

Before an anchor is dropped, or while a ship surveys or waits over infrastructure, it stays
in one place without a reason visible on the chart. Global Fishing Watch defines loitering as
speed below 2 kn for at least 4 h offshore (its carrier-loitering events); over a cable or
pipeline that is far too lenient, so the duration is set per kind of area: 30 min inside a
cable/pipeline corridor, 2 h inside a watched zone. Circling (sailing at speed but getting
nowhere: net displacement small against distance sailed over ``circling_window_s``) counts as
loitering too, as survey and rendezvous patterns do.

Slowness uses a hysteresis pair (below ``slow_speed_kn`` starts, above ``resume_speed_kn``
ends); an episode survives short interruptions (``end_grace_s``). Confidence grows with the
time spent beyond the threshold, and is damped where lingering is normal: cells where many
vessels stop (``ctx.normalcy.stop_fraction`` — anchorages, ports), stays shorter than what is
typical there (``ctx.normalcy.typical_dwell_s``), moored vessels, and service craft (tugs,
pilots, dredgers, SAR) whose job is to linger. Events open once the episode is long enough,
update when the confidence moves by ``update_min_change`` (at most every
``update_min_interval_s``), and close when the vessel moves on or leaves the area.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, ClassVar

from seawarden.detectors._kinematics import distance_m
from seawarden.detectors.base import Context, Detector
from seawarden.errors import ConfigError
from seawarden.model import Event, EventPhase, PositionReport

__all__ = ["LoiteringConfig", "LoiteringDetector", "LoiteringState"]

INFRA_KINDS = frozenset({"cable", "pipeline"})
# tug/towing (31, 32, 52), dredging/underwater ops (33), diving (34), military (35), pilot
# (50), SAR (51), tender (53), anti-pollution (54), law enforcement (55), medical (58)
SERVICE_TYPES = frozenset({31, 32, 33, 34, 35, 50, 51, 52, 53, 54, 55, 58})
FISHING_TYPES = frozenset({30})
SMALL_CRAFT_TYPES = frozenset({36, 37})


@dataclass(frozen=True, slots=True, kw_only=True)
class LoiteringConfig:
    """Parameters of :class:`LoiteringDetector` (see docs/detectors/loitering.md)."""

    slow_speed_kn: float = 2.0
    resume_speed_kn: float = 3.0
    corridor_min_duration_s: float = 1800.0
    zone_min_duration_s: float = 7200.0
    end_grace_s: float = 600.0
    sample_s: float = 30.0
    circling_window_s: float = 900.0
    circling_min_path_m: float = 1000.0
    circling_ratio_min: float = 0.7
    open_confidence: float = 0.35
    base_confidence: float = 0.5
    max_confidence: float = 0.9
    full_confidence_after: float = 6.0  # × the area's min duration (3 h in a corridor)
    unusual_bonus: float = 0.15
    zone_factor: float = 0.85
    circling_bonus: float = 0.1
    stop_fraction_low: float = 0.2
    stop_fraction_high: float = 0.6
    anchorage_damping: float = 0.8
    typical_dwell_factor: float = 2.0
    typical_dwell_damping: float = 0.6
    moored_factor: float = 0.6
    service_vessel_factor: float = 0.5
    fishing_factor: float = 0.8
    small_craft_factor: float = 0.6
    update_min_interval_s: float = 600.0
    update_min_change: float = 0.1
    stale_after_s: float = 3 * 3600.0

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not math.isfinite(value) or value < 0:
                raise ConfigError(f"loitering.{f.name} must be a finite number ≥ 0, got {value}")
        if self.resume_speed_kn <= self.slow_speed_kn:
            raise ConfigError("loitering: resume_speed_kn must exceed slow_speed_kn (hysteresis)")
        for name in (
            "corridor_min_duration_s",
            "zone_min_duration_s",
            "sample_s",
            "circling_window_s",
            "full_confidence_after",
        ):
            if getattr(self, name) <= 0:
                raise ConfigError(f"loitering.{name} must be > 0")
        if self.full_confidence_after <= 1.0:
            raise ConfigError("loitering.full_confidence_after must be > 1")
        for name in (
            "circling_ratio_min",
            "open_confidence",
            "base_confidence",
            "max_confidence",
            "zone_factor",
            "circling_bonus",
            "unusual_bonus",
            "stop_fraction_low",
            "stop_fraction_high",
            "anchorage_damping",
            "typical_dwell_damping",
            "moored_factor",
            "service_vessel_factor",
            "fishing_factor",
            "small_craft_factor",
            "update_min_change",
        ):
            if getattr(self, name) > 1.0:
                raise ConfigError(f"loitering.{name} must be in 0..1")
        if self.base_confidence > self.max_confidence:
            raise ConfigError("loitering: base_confidence must not exceed max_confidence")


MARKS_N = 4  # circling marks, a third of the window apart: the window and a spare


@dataclass(slots=True, kw_only=True)
class LoiteringState:
    """Per-vessel state (times are POSIX seconds, except the episode start)."""

    sample_t: float | None = None
    lat: float = 0.0
    lon: float = 0.0
    last_t: float | None = None
    slow: bool = False
    circling: bool = False
    win_start: datetime | None = None  # start of the window where circling began
    cum_path_m: float = 0.0
    # ≤ MARKS_N (t, lat, lon, cum_path_m); a tuple, empty (and shared) outside watched areas
    marks: tuple[tuple[float, float, float, float], ...] = ()
    # episode
    start: datetime | None = None
    start_lat: float = 0.0
    start_lon: float = 0.0
    area_id: str | None = None
    corridor: bool = False
    active_t: float = 0.0
    path_m: float = 0.0
    speed_sum: float = 0.0
    speed_n: int = 0
    was_circling: bool = False
    open: bool = False
    emit_t: float = 0.0
    emit_conf: float = 0.0


def _ramp(x: float, lo: float, hi: float) -> float:
    return 0.0 if x <= lo else (1.0 if x >= hi else (x - lo) / (hi - lo))


class LoiteringDetector(Detector[LoiteringConfig, LoiteringState]):
    """Slow or circling inside a corridor/zone for too long; see the module docstring."""

    name: ClassVar[str] = "loitering"
    version: ClassVar[str] = "1"
    config_type: ClassVar[type[Any]] = LoiteringConfig
    state_types: ClassVar[tuple[type[Any], ...]] = (LoiteringState,)

    def initial_state(self, mmsi: int) -> LoiteringState:
        return LoiteringState()

    def step(
        self, state: LoiteringState, report: PositionReport, ctx: Context
    ) -> tuple[LoiteringState, list[Event]]:
        c = self.config
        t = report.time.timestamp()
        if state.last_t is not None and t <= state.last_t:
            return state, []
        state.last_t = t
        if not ctx.inside and state.start is None:
            # nowhere watched and nothing going on: forget the window, cost nothing
            if state.sample_t is not None:
                state.sample_t = state.win_start = None
                state.circling = False
                state.marks = ()
                state.cum_path_m = 0.0
            return state, []
        if state.sample_t is not None and t - state.sample_t < c.sample_s:
            return state, []
        seg = 0.0
        if state.sample_t is not None:
            seg = distance_m(state.lat, state.lon, report.lat, report.lon)
        speed = report.speed_kn
        if speed is None and state.sample_t is not None and t > state.sample_t:
            speed = seg / (t - state.sample_t) * 3600.0 / 1852.0
        state.sample_t, state.lat, state.lon = t, report.lat, report.lon
        if speed is not None:
            if speed < c.slow_speed_kn:
                state.slow = True
            elif speed > c.resume_speed_kn:
                state.slow = False
        self._window(state, report, seg)
        area = self._area(ctx)
        active = area is not None and (state.slow or state.circling)
        events: list[Event] = []
        if state.start is not None:
            state.path_m += seg
            if speed is not None:
                state.speed_sum += speed
                state.speed_n += 1
        if active and area is not None:
            area_id, corridor = area
            if state.start is None:
                begin = report.time
                if state.circling and not state.slow and state.win_start is not None:
                    begin = state.win_start
                self._begin(state, report, begin, area_id, corridor)
            elif corridor and not state.corridor:
                state.area_id, state.corridor = area_id, True
            state.active_t = t
            state.was_circling = state.was_circling or state.circling
        elif state.start is not None and t - state.active_t > c.end_grace_s:
            if state.open:
                events.append(self._event("close", state, report, ctx, moved_on=True))
            self._end(state)
            return state, events
        if state.start is not None:
            events.extend(self._maybe_emit(state, report, ctx))
        return state, events

    def on_tick(
        self, state: LoiteringState, now: datetime, ctx: Context
    ) -> tuple[LoiteringState, list[Event]]:
        if not state.open or state.last_t is None:
            return state, []
        if now.timestamp() - state.last_t < self.config.stale_after_s:
            return state, []
        last = ctx.vessel.last
        if last is None:
            return state, []
        event = self._event("close", state, last, ctx, moved_on=False, time=now)
        self._end(state)
        return state, [event]

    # -- internals ------------------------------------------------------------------------
    def _window(self, state: LoiteringState, r: PositionReport, seg: float) -> None:
        """Circling over the last ``circling_window_s``, re-judged every third of it."""
        c = self.config
        t = r.time.timestamp()
        state.cum_path_m += seg
        marks = state.marks
        if marks and t - marks[-1][0] < c.circling_window_s / 3.0:
            return
        marks = state.marks = (*marks, (t, r.lat, r.lon, state.cum_path_m))[-MARKS_N:]
        t0, lat0, lon0, path0 = marks[0]
        if t - t0 < c.circling_window_s * 0.99:
            return
        path = state.cum_path_m - path0
        net = distance_m(lat0, lon0, r.lat, r.lon)
        circling = path >= c.circling_min_path_m and 1.0 - net / path >= c.circling_ratio_min
        if circling and not state.circling:
            state.win_start = datetime.fromtimestamp(t0, tz=r.time.tzinfo)
        state.circling = circling

    @staticmethod
    def _area(ctx: Context) -> tuple[str, bool] | None:
        if not ctx.inside:
            return None
        if ctx.areas is None:
            return ctx.inside[0], False
        zone: str | None = None
        for area_id in ctx.inside:
            if ctx.areas.area(area_id).kind in INFRA_KINDS:
                return area_id, True
            zone = zone or area_id
        return (zone, False) if zone is not None else None

    @staticmethod
    def _begin(
        state: LoiteringState, r: PositionReport, begin: datetime, area_id: str, corridor: bool
    ) -> None:
        state.start, state.start_lat, state.start_lon = begin, r.lat, r.lon
        state.area_id, state.corridor = area_id, corridor
        state.path_m = state.speed_sum = 0.0
        state.speed_n = 0
        state.was_circling = state.open = False
        if r.speed_kn is not None:
            state.speed_sum, state.speed_n = r.speed_kn, 1

    @staticmethod
    def _end(state: LoiteringState) -> None:
        state.start = None
        state.area_id = None
        state.open = state.was_circling = False
        state.emit_conf = 0.0

    def _min_duration(self, state: LoiteringState) -> float:
        c = self.config
        return c.corridor_min_duration_s if state.corridor else c.zone_min_duration_s

    def _confidence(
        self, state: LoiteringState, r: PositionReport, ctx: Context, duration: float
    ) -> tuple[float, list[str]]:
        c = self.config
        need = self._min_duration(state)
        grow = _ramp(duration / need, 1.0, c.full_confidence_after)
        conf = c.base_confidence + (c.max_confidence - c.base_confidence) * grow
        if state.was_circling:
            conf = min(1.0, conf + c.circling_bonus)
        notes: list[str] = []
        if not state.corridor:
            conf *= c.zone_factor
        if r.nav_status == 5:
            conf *= c.moored_factor
            notes.append("reports 'moored'")
        ship_type = ctx.vessel.ship_type
        if ship_type in SERVICE_TYPES:
            conf *= c.service_vessel_factor
            notes.append(f"service vessel (AIS type {ship_type})")
        elif ship_type in FISHING_TYPES:
            conf *= c.fishing_factor
            notes.append("fishing vessel")
        elif ship_type in SMALL_CRAFT_TYPES or r.msg_type in (18, 19):
            conf *= c.small_craft_factor
            notes.append("small craft (class B or pleasure)")
        if ctx.normalcy is not None:
            sf = ctx.normalcy.stop_fraction(r.lat, r.lon)
            if sf is not None:
                damp = c.anchorage_damping * _ramp(sf, c.stop_fraction_low, c.stop_fraction_high)
                if damp > 0:
                    conf *= 1.0 - damp
                    notes.append(f"{sf:.0%} of reports here are from stopped vessels")
                elif sf <= c.stop_fraction_low:
                    conf = min(1.0, conf + c.unusual_bonus)
                    notes.append(f"vessels rarely stop here ({sf:.0%} of reports)")
            dwell = ctx.normalcy.typical_dwell_s(r.lat, r.lon)
            if dwell is not None and duration < c.typical_dwell_factor * dwell:
                conf *= c.typical_dwell_damping
                notes.append(f"stays of {dwell / 60:.0f} min are typical here")
        return conf, notes

    def _maybe_emit(self, state: LoiteringState, r: PositionReport, ctx: Context) -> list[Event]:
        c = self.config
        t = r.time.timestamp()
        if state.start is None:
            return []
        duration = state.active_t - state.start.timestamp()  # not the grace after it
        if duration < self._min_duration(state):
            return []
        conf, _ = self._confidence(state, r, ctx, duration)
        if not state.open:
            if conf < c.open_confidence:
                return []
            state.open = True
            return [self._event("open", state, r, ctx, moved_on=False)]
        if (
            abs(conf - state.emit_conf) >= c.update_min_change
            and t - state.emit_t >= c.update_min_interval_s
        ):
            return [self._event("update", state, r, ctx, moved_on=False)]
        return []

    def _event(
        self,
        phase: EventPhase,
        state: LoiteringState,
        r: PositionReport,
        ctx: Context,
        *,
        moved_on: bool,
        time: datetime | None = None,
    ) -> Event:
        c = self.config
        start = state.start if state.start is not None else r.time
        end = time or r.time
        duration = state.active_t - start.timestamp()
        conf, notes = self._confidence(state, r, ctx, duration)
        state.emit_t, state.emit_conf = end.timestamp(), conf
        net = distance_m(state.start_lat, state.start_lon, r.lat, r.lon)
        path = state.path_m
        ratio = 0.0 if path <= 0 else max(0.0, 1.0 - net / path)
        mean = state.speed_sum / state.speed_n if state.speed_n else None
        kind = "cable/pipeline corridor" if state.corridor else "watched zone"
        how = "circling" if state.was_circling else f"below {c.slow_speed_kn:g} kn"
        reasons = [
            f"{how} inside {kind} {state.area_id} for {duration / 60:.0f} min "
            f"(threshold {self._min_duration(state) / 60:.0f} min)",
        ]
        if mean is not None:
            reasons.append(
                f"mean speed {mean:.1f} kn; moved {net:.0f} m net over {path:.0f} m sailed"
            )
        if r.nav_status == 1:
            reasons.append("reports 'at anchor'")
        reasons.extend(
            n if n.startswith("vessels rarely") else f"confidence reduced: {n}" for n in notes
        )
        if phase == "close":
            if moved_on:
                reasons.insert(0, "vessel moved on or left the area")
            else:
                reasons.insert(0, f"no position for {self.config.stale_after_s / 3600:.0f} h")
        return self.make_event(
            phase,
            ctx.vessel.mmsi,
            start,
            r,
            time=end,
            area_id=state.area_id,
            confidence=conf,
            reasons=reasons,
            evidence_reports=list(ctx.vessel.track)[-10:] or [r],
            attrs={
                "area_id": state.area_id,
                "duration_s": round(duration),
                "mean_speed_kn": None if mean is None else round(mean, 2),
                "net_displacement_m": round(net),
                "path_length_m": round(path),
                "circling_ratio": round(ratio, 3),
                "circling": state.was_circling,
            },
        )
