"""Sudden course or speed changes in transit, and sailing off the usual traffic pattern.

A ship whose anchor goes down at sea slows abruptly or starts to yaw and zig-zag (YI PENG 3
was reported slowing and zig-zagging over the C-Lion1 route on 17-18 Nov 2024; EAGLE S's
speed dropped while its anchor dragged across Estlink 2); a ship loitering over a cable
leaves the lane and its usual speed. Such manoeuvres are also what every ship does at a
waypoint, a pilot station or a berth, so this detector is *supporting evidence* for risk
fusion, never an alert on its own: confidence stays ≤ 0.5 outside watched corridors.

Signals:

* ``turn`` — course over ground changes by more than ``turn_deg`` within ``turn_window_s``
  while in transit (≥ ``transit_speed_kn``: below it COG is noise). The new course must
  hold for two reports, so one bad COG never fires.
* ``speed_change`` — SOG drops or rises by more than ``speed_change_kn`` within
  ``speed_window_s`` starting from transit speed (leaving a berth is not a change in
  transit), confirmed by two reports.
* ``off_pattern`` — the learned normalcy model (TREAD-style traffic-pattern learning,
  Pallotta et al. 2013) finds the speed/course unusual here for this ship type: the median
  surprise over the last ``surprise_window_n`` reports ≥ ``surprise_threshold`` opens an
  event, below ``surprise_release`` it closes (hysteresis).

``turn``/``speed_change`` are momentary (phase ``instant``, at most one per type per
``cooldown_s``); ``off_pattern`` follows open → update → close. Without a normalcy model
(or where it has no data: ``None``) only the kinematic signals run, at low confidence.
Manoeuvring is ordinary for ferries, high-speed craft, tugs, pilots, fishing and pleasure
craft (``manoeuvring_factor``) and in ports/anchorages (normalcy ``stop_fraction``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar, Final

from seawarden.detectors._kinematics import abs_angle_diff_deg
from seawarden.detectors.base import Context, Detector
from seawarden.errors import ConfigError
from seawarden.model import Event, EventPhase, PositionReport

__all__ = ["CourseSpeedConfig", "CourseSpeedDetector", "CourseSpeedState"]

# AIS ship types for which sharp manoeuvres are daily routine: fishing 30, towing 31-32,
# dredging 33, diving 34, military 35, sailing 36, pleasure 37, high-speed craft 40-49,
# pilot/SAR/tug/tender/anti-pollution/law enforcement/medical 50-58, passenger/ferry 60-69.
MANOEUVRING_SHIP_TYPES: Final = frozenset(
    {30, 31, 32, 33, 34, 35, 36, 37, *range(40, 50), *range(50, 59), *range(60, 70)}
)
_MAX_SOG_KN: Final = 60.0  # faster than any ship: a receiver or GNSS glitch


@dataclass(frozen=True, slots=True, kw_only=True)
class CourseSpeedConfig:
    """Parameters of the course/speed detector.

    * ``transit_speed_kn`` (5.0): below this a ship is manoeuvring or stopped and its COG
      is dominated by noise; turns count only above it.
    * ``turn_deg`` (60) within ``turn_window_s`` (180): a course change larger than a
      routine waypoint alteration (lanes bend by 20-45°) done in three minutes.
    * ``speed_change_kn`` (5.0) within ``speed_window_s`` (300): e.g. 12 → 7 kn in five
      minutes, more than a ship slowing for a pilot does in that time; the speed before
      must be a transit speed.
    * ``cooldown_s`` (900): at most one ``turn`` and one ``speed_change`` per 15 min.
    * ``surprise_window_n`` (5), ``surprise_threshold`` (0.8) / ``surprise_release``
      (0.6): median normalcy surprise that opens / closes ``off_pattern``.
    * ``kinematic_confidence`` (0.2): a turn/speed change without normalcy evidence.
      With a model, confidence = 0.6 × that + ``surprise_weight`` (0.35) × surprise.
    * ``max_confidence`` (0.5): cap outside watched areas; ``corridor_bonus`` (0.15) is
      added inside one (a manoeuvre over a cable is what matters).
    * ``manoeuvring_factor`` (0.3): multiplier for ferries, HSC, tugs, pilots, fishing,
      pleasure craft. Normalcy ``stop_fraction`` s multiplies kinematic confidence by 1 − s.
    * ``min_confidence`` (0.15): weaker kinematic findings are not emitted.
    * ``update_every_s`` (1800) / ``update_min_delta`` (0.1): off-pattern update rate.
    * ``stale_s`` (1800): an open off-pattern event closes when the vessel is unheard this
      long.
    """

    transit_speed_kn: float = 5.0
    turn_deg: float = 60.0
    turn_window_s: float = 180.0
    speed_change_kn: float = 5.0
    speed_window_s: float = 300.0
    cooldown_s: float = 900.0
    surprise_window_n: int = 5
    surprise_threshold: float = 0.8
    surprise_release: float = 0.6
    kinematic_confidence: float = 0.2
    surprise_weight: float = 0.35
    max_confidence: float = 0.5
    corridor_bonus: float = 0.15
    manoeuvring_factor: float = 0.3
    min_confidence: float = 0.15
    update_every_s: float = 1800.0
    update_min_delta: float = 0.1
    stale_s: float = 1800.0

    def __post_init__(self) -> None:
        if not 0 < self.turn_deg < 180:
            raise ConfigError(
                f"course_speed: turn_deg must be within (0, 180), got {self.turn_deg}"
            )
        for name in (
            "transit_speed_kn",
            "speed_change_kn",
            "turn_window_s",
            "speed_window_s",
            "cooldown_s",
            "update_every_s",
            "stale_s",
        ):
            if not getattr(self, name) > 0:
                raise ConfigError(f"course_speed: {name} must be > 0, got {getattr(self, name)}")
        if self.surprise_window_n < 1:
            raise ConfigError("course_speed: surprise_window_n must be at least 1")
        if not 0.0 <= self.surprise_release <= self.surprise_threshold <= 1.0:
            raise ConfigError(
                "course_speed: need 0 <= surprise_release <= surprise_threshold <= 1, got "
                f"{self.surprise_release} / {self.surprise_threshold}"
            )
        for name in (
            "kinematic_confidence",
            "surprise_weight",
            "max_confidence",
            "corridor_bonus",
            "manoeuvring_factor",
            "min_confidence",
            "update_min_delta",
        ):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ConfigError(f"course_speed: {name} must be within 0..1, got {value}")


@dataclass(slots=True, kw_only=True)
class CourseSpeedState:
    """Per-vessel state: recent surprises, cooldowns and the open off-pattern episode."""

    # the last surprise_window_n values; a tuple, as without a normalcy model (or outside
    # it) it stays empty and the empty one is shared (issue 8: memory per tracked vessel)
    surprises: tuple[float, ...] = ()
    last_fast: datetime | None = None  # last report at transit speed
    last_turn: datetime | None = None
    last_speed_change: datetime | None = None
    off_start: datetime | None = None
    off_first: PositionReport | None = None
    off_confidence: float = 0.0
    off_peak: float = 0.0
    off_last_emit: datetime | None = None


class CourseSpeedDetector(Detector[CourseSpeedConfig, CourseSpeedState]):
    """Sudden turns/speed changes and off-pattern sailing; see the module docstring."""

    name: ClassVar[str] = "course_speed"
    version: ClassVar[str] = "1"
    config_type: ClassVar[type[Any]] = CourseSpeedConfig
    state_types: ClassVar[tuple[type[Any], ...]] = (CourseSpeedState,)

    def initial_state(self, mmsi: int) -> CourseSpeedState:
        return CourseSpeedState()

    def step(
        self, state: CourseSpeedState, report: PositionReport, ctx: Context
    ) -> tuple[CourseSpeedState, list[Event]]:
        events: list[Event] = []
        surprise: float | None = None
        normalcy = ctx.normalcy
        if normalcy is not None:
            surprise = normalcy.surprise(
                report.lat, report.lon, report.speed_kn, report.course_deg, ctx.vessel.ship_type
            )
            self._off_pattern(state, report, ctx, surprise, events)
        speed = report.speed_kn
        if speed is not None and speed <= _MAX_SOG_KN and len(ctx.vessel.track) >= 3:
            self._kinematics(state, report, ctx, surprise, events)
        return state, events

    def on_tick(
        self, state: CourseSpeedState, now: datetime, ctx: Context
    ) -> tuple[CourseSpeedState, list[Event]]:
        if state.off_start is None:
            return state, []
        if (now - ctx.vessel.last_seen).total_seconds() < self.config.stale_s:
            return state, []
        last = ctx.vessel.last
        event = self._off_event(
            "close", state, last, ctx, now, [f"vessel unheard since {ctx.vessel.last_seen:%H:%M}Z"]
        )
        _reset_off(state)
        return state, [event]

    # -- kinematic signals --------------------------------------------------------------------
    def _kinematics(
        self,
        state: CourseSpeedState,
        report: PositionReport,
        ctx: Context,
        surprise: float | None,
        events: list[Event],
    ) -> None:
        cfg = self.config
        now = report.time
        track = ctx.vessel.track
        prev = track[-2] if track[-1] is report else track[-1]
        if prev.time >= now:
            return  # a late or duplicate report: the track is not in step with it
        speed = report.speed_kn
        if speed is None:
            return
        transit = cfg.transit_speed_kn
        window = max(cfg.turn_window_s, cfg.speed_window_s)
        if speed >= transit:
            state.last_fast = now
        elif state.last_fast is None or (now - state.last_fast).total_seconds() > window:
            return  # slow for a while (berth, anchorage): nothing can fire; the common case
        # Earlier reports (newest first, excluding prev) within the window, plus one older.
        earlier: list[tuple[float, PositionReport]] = []
        for r in reversed(track):
            age = (now - r.time).total_seconds()
            if age <= 0 or r is prev:
                continue
            earlier.append((age, r))
            if age > window:
                break
        if not earlier:
            return
        # The old course/speed must hold on two reports (the reference and its neighbour)
        # and the new one on two (prev and now): one bad COG/SOG anywhere never fires.
        turn_old = _reference(earlier, cfg.turn_window_s)
        if (
            turn_old is not None
            and _cooled(state.last_turn, now, cfg.cooldown_s)
            and speed >= transit
            and report.course_deg is not None
            and prev.course_deg is not None
            and _fast(prev, transit)
            and all(_fast(r, transit) and r.course_deg is not None for r in turn_old)
        ):
            old_courses = [r.course_deg for r in turn_old if r.course_deg is not None]
            least = min(
                abs_angle_diff_deg(new, old)
                for new in (report.course_deg, prev.course_deg)
                for old in old_courses
            )
            if least > cfg.turn_deg:
                ref = turn_old[0]
                turn = abs_angle_diff_deg(report.course_deg, old_courses[0])
                event = self._kinematic_event(
                    "turn", report, ctx, surprise, (ref, prev, report), turn_deg=turn
                )
                if event is not None:
                    state.last_turn = now
                    events.append(event)
        speed_old = _reference(earlier, cfg.speed_window_s)
        prev_speed = prev.speed_kn
        if (
            speed_old is not None
            and prev_speed is not None
            and _cooled(state.last_speed_change, now, cfg.cooldown_s)
            and all(_fast(r, transit) for r in speed_old)
        ):
            olds = [r.speed_kn for r in speed_old if r.speed_kn is not None]
            changes = [new - old for new in (speed, prev_speed) for old in olds]
            if all(c > cfg.speed_change_kn for c in changes) or all(
                c < -cfg.speed_change_kn for c in changes
            ):
                ref = speed_old[0]
                change = speed - (ref.speed_kn or 0.0)
                event = self._kinematic_event(
                    "speed_change",
                    report,
                    ctx,
                    surprise,
                    (ref, prev, report),
                    speed_change_kn=change,
                )
                if event is not None:
                    state.last_speed_change = now
                    events.append(event)

    def _kinematic_event(
        self,
        kind: str,
        report: PositionReport,
        ctx: Context,
        surprise: float | None,
        evidence: Sequence[PositionReport],
        *,
        turn_deg: float | None = None,
        speed_change_kn: float | None = None,
    ) -> Event | None:
        cfg = self.config
        ref = evidence[0]
        span_s = (report.time - ref.time).total_seconds()
        if turn_deg is not None:
            reasons = [
                f"course changed {turn_deg:.0f}° in {span_s:.0f} s at {report.speed_kn:.1f} kn "
                f"(from {ref.course_deg:.0f}° to {report.course_deg:.0f}°)"
            ]
        else:
            reasons = [
                f"speed {'dropped' if (speed_change_kn or 0) < 0 else 'rose'} from "
                f"{ref.speed_kn:.1f} to {report.speed_kn:.1f} kn in {span_s:.0f} s"
            ]
        conf = cfg.kinematic_confidence
        if surprise is not None:
            conf = 0.6 * cfg.kinematic_confidence + cfg.surprise_weight * surprise
            reasons.append(
                f"this speed/course is {'unusual' if surprise >= 0.5 else 'usual'} here "
                f"(surprise {surprise:.2f})"
            )
        else:
            reasons.append("no traffic-pattern model here: manoeuvre judged on its own")
        conf = self._damped(conf, report, ctx, reasons)
        if conf < cfg.min_confidence:
            return None
        return self.make_event(
            "instant",
            report.mmsi,
            report.time,
            report,
            area_id=ctx.inside[0] if ctx.inside else None,
            confidence=conf,
            reasons=reasons,
            evidence_reports=evidence,
            attrs={
                "type": kind,
                "surprise": None if surprise is None else round(surprise, 3),
                "turn_deg": None if turn_deg is None else round(turn_deg, 1),
                "speed_change_kn": None if speed_change_kn is None else round(speed_change_kn, 1),
                "window_s": round(span_s, 1),
                "area_ids": list(ctx.inside),
            },
            discriminator=kind,
        )

    def _damped(
        self, conf: float, report: PositionReport, ctx: Context, reasons: list[str]
    ) -> float:
        cfg = self.config
        ship_type = ctx.vessel.ship_type
        if ship_type in MANOEUVRING_SHIP_TYPES:
            conf *= cfg.manoeuvring_factor
            reasons.append(f"ship type {ship_type} manoeuvres routinely (ferry/HSC/tug/fishing…)")
        if ctx.normalcy is not None:
            sf = ctx.normalcy.stop_fraction(report.lat, report.lon)
            if sf is not None and sf > 0:
                conf *= 1.0 - min(1.0, sf)
                if sf >= 0.3:
                    reasons.append(f"{sf:.0%} of traffic here is stopped (port or anchorage)")
        conf = min(conf, cfg.max_confidence)
        if ctx.inside:
            conf += cfg.corridor_bonus
            reasons.append(f"inside watched area {', '.join(ctx.inside)}")
        return conf

    # -- off the traffic pattern ---------------------------------------------------------------
    def _off_pattern(
        self,
        state: CourseSpeedState,
        report: PositionReport,
        ctx: Context,
        surprise: float | None,
        events: list[Event],
    ) -> None:
        cfg = self.config
        if surprise is None:
            # No data here: forget the run-up; an open episode closes at the model's edge.
            state.surprises = ()
            if state.off_start is not None:
                reasons = ["left the area the traffic-pattern model knows"]
                events.append(self._off_event("close", state, report, ctx, report.time, reasons))
                _reset_off(state)
            return
        window = state.surprises = (*state.surprises, round(surprise, 3))[-cfg.surprise_window_n :]
        if len(window) < cfg.surprise_window_n:
            return
        med = sorted(window)[len(window) // 2]
        if state.off_start is None:
            if med < cfg.surprise_threshold:
                return
            state.off_start = report.time
            state.off_first = report
            state.off_peak = med
            state.off_confidence = self._off_confidence(med, ctx)
            state.off_last_emit = report.time
            events.append(self._off_event("open", state, report, ctx, report.time))
            return
        if med < cfg.surprise_release:
            reasons = [f"back to usual speed/course here (median surprise {med:.2f})"]
            events.append(self._off_event("close", state, report, ctx, report.time, reasons))
            _reset_off(state)
            return
        state.off_peak = max(state.off_peak, med)
        conf = self._off_confidence(med, ctx)
        last = state.off_last_emit
        if abs(conf - state.off_confidence) >= cfg.update_min_delta or (
            last is None or (report.time - last).total_seconds() >= cfg.update_every_s
        ):
            state.off_confidence = conf
            state.off_last_emit = report.time
            events.append(self._off_event("update", state, report, ctx, report.time))

    def _off_confidence(self, med: float, ctx: Context) -> float:
        cfg = self.config
        span = max(1e-9, 1.0 - cfg.surprise_threshold)
        conf = 0.2 + 0.3 * min(1.0, max(0.0, (med - cfg.surprise_threshold) / span))
        conf = min(conf, cfg.max_confidence)
        return conf + (cfg.corridor_bonus if ctx.inside else 0.0)

    def _off_event(
        self,
        phase: EventPhase,
        state: CourseSpeedState,
        report: PositionReport | None,
        ctx: Context,
        now: datetime,
        extra: Sequence[str] = (),
    ) -> Event:
        cfg = self.config
        start = state.off_start or now
        med = sorted(state.surprises)[len(state.surprises) // 2] if state.surprises else None
        reasons = [
            f"speed/course unusual for this place and ship type for {len(state.surprises)} "
            f"reports (median surprise {med if med is not None else 0:.2f}, threshold "
            f"{cfg.surprise_threshold:g})"
            if phase != "close"
            else f"off-pattern sailing ended after {(now - start).total_seconds() / 60:.0f} min",
            *extra,
        ]
        if ctx.inside:
            reasons.append(f"inside watched area {', '.join(ctx.inside)}")
        evidence = [r for r in (state.off_first, report) if r is not None]
        return self.make_event(
            phase,
            ctx.vessel.mmsi,
            start,
            report,
            time=now,
            area_id=ctx.inside[0] if ctx.inside else None,
            confidence=state.off_confidence,
            reasons=reasons,
            evidence_reports=evidence,
            attrs={
                "type": "off_pattern",
                "surprise": med,
                "surprise_peak": round(state.off_peak, 3),
                "turn_deg": None,
                "speed_change_kn": None,
                "area_ids": list(ctx.inside),
            },
            discriminator="off_pattern",
        )


def _reference(
    earlier: Sequence[tuple[float, PositionReport]], window_s: float
) -> tuple[PositionReport, PositionReport] | None:
    """The oldest report within ``window_s`` and a neighbour confirming it (the next newer
    one, else the next older one), from ``earlier`` (newest first); None if too few."""
    i = -1
    for j, (age, _) in enumerate(earlier):
        if age > window_s:
            break
        i = j
    if i < 0:
        return None
    if i >= 1:
        return earlier[i][1], earlier[i - 1][1]
    if i + 1 < len(earlier):
        return earlier[i][1], earlier[i + 1][1]
    return None


def _fast(report: PositionReport, transit_kn: float) -> bool:
    s = report.speed_kn
    return s is not None and transit_kn <= s <= _MAX_SOG_KN


def _cooled(last: datetime | None, now: datetime, cooldown_s: float) -> bool:
    return last is None or now - last >= timedelta(seconds=cooldown_s)


def _reset_off(state: CourseSpeedState) -> None:
    state.off_start = None
    state.off_first = None
    state.off_confidence = 0.0
    state.off_peak = 0.0
    state.off_last_emit = None
