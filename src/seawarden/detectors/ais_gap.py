"""Going dark: a vessel stops transmitting AIS while the ships around it are still heard.

Switching AIS off is the commonest way to hide a loitering or a dragged anchor: Eagle S and
Yi Peng 3 were analysed from their gaps and reappearances (see ``incidents.md``). But most
silences are innocent — a receiver fails, a ship sails out of range, a class B set
reports every 3 min, a moored ship switches off in port (allowed by IMO Res. A.1106(29) §22
only when alongside). Global Fishing Watch's gap model ("Suspected AIS disabling", Welch et
al. 2022, *Science Advances*) therefore only counts a gap when the *expected* reception at
that place was good; its 12 h satellite threshold does not fit terrestrial coverage in the
Baltic, which is all near shore and heard every few seconds.

So this detector learns what "silent" means from the traffic itself:

* per vessel, its own usual interval (median of its last 9 report intervals; an interval
  longer than ``min_gap_s`` is a gap, not a habit, and is not learned), or the learned area
  interval ``ctx.normalcy.expected_interval_s`` if that is longer (poor reception there);
* per area, ``ctx.coverage.others_heard_near``: other vessels heard within ~25 km (H3
  resolution-5 cell and its ring) *recently* (in the last ``heard_within_s``, and after this
  one went silent). None heard means the receiver or the coverage failed, not the ship: no
  event. Counting "since it went silent" alone is not enough: a receiver that fails just
  after the vessel's last report has still heard its neighbours in between;
* the neighbours that fell silent around it: vessels heard near it in the
  ``reference_s`` (30 min) before its last report or since, but not recently. When as many
  are no longer heard as are still heard, part of the area has lost coverage (a receiver
  of a network failed, or the ship sailed into a dead zone): no event, and a gap that opens
  later in the same silence is discounted (it may have left coverage unseen).
"""

from __future__ import annotations

import math
from array import array
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from statistics import median

import shapely
import shapely.affinity

from seawarden.detectors.base import Context, Detector, float_window, push_bounded
from seawarden.errors import ConfigError
from seawarden.geo.sphere import distance_m as haversine_m
from seawarden.model import Event, EventPhase, PositionReport

__all__ = ["AisGapConfig", "AisGapDetector", "AisGapState"]

KN_TO_MS = 1852.0 / 3600.0
M_PER_DEG = 111_195.0
AT_REST_KN = 0.5
MOORED_STATUS = (1, 5)  # at anchor, moored


def nominal_interval_s(report: PositionReport) -> float:
    """Reporting interval an AIS set should use (ITU-R M.1371-5, Annex 1 Tables 1–2).

    Class A: 3 min at anchor/moored below 3 kn, 10 s to 14 kn, 6 s to 23 kn, 2 s above.
    Class B (types 18/19): 3 min below 2 kn, else 30 s. Unknown speed: 10 s.
    """
    speed = report.speed_kn
    if report.msg_type in (18, 19):
        return 180.0 if speed is not None and speed < 2.0 else 30.0
    if speed is None:
        return 10.0
    if speed < 3.0 and report.nav_status in MOORED_STATUS:
        return 180.0
    if speed <= 14.0:
        return 10.0
    return 6.0 if speed <= 23.0 else 2.0


@dataclass(frozen=True, slots=True, kw_only=True)
class AisGapConfig:
    """Parameters of the going-dark detector (see ``docs/detectors/ais_gap.md``).

    * ``min_gap_s`` (600): no silence shorter than this is a gap. Class A ships report every
      2–10 s under way and every 3 min at anchor, so 10 min is three missed slow reports.
    * ``interval_factor`` (10): a gap is also ≥ this many usual intervals (class B at 3 min
      → 30 min), so a ship's own reporting habit sets its timer.
    * ``default_interval_s`` (180): usual interval assumed until ``min_intervals`` (3)
      intervals are learned (the slowest regular AIS rate, 3 min).
    * ``monitored_factor`` (0.5): timers (gap threshold, confirmation) are multiplied by
      this for monitored vessels.
    * ``min_others_heard`` (3): other vessels heard near the last position within the last
      ``heard_within_s``, needed to call it a gap (fewer: area-wide silence, no event).
    * ``recheck_s`` (300): how often a silent vessel's surroundings are re-counted.
    * ``confirm_s`` (300): others must have been heard for this long while the vessel
      stays silent before a gap opens — after a receiver outage everybody comes back within
      one 3-min reporting cycle, and the stragglers are not gaps. The confirmation runs
      in the last ``confirm_s`` before the threshold, so a gap opens at the threshold.
    * ``heard_within_s`` (300): "others heard" counts only vessels heard this recently
      (and after the vessel's last report) — the receiver is working *now*.
    * ``reference_s`` (1800) / ``outage_ratio`` (1.0) / ``partial_outage_ratio`` (0.5):
      others heard near the last position since ``reference_s`` before the last report but
      not in the last ``heard_within_s`` have fallen silent around it. At least
      ``min_others_heard`` of them and ≥ ``outage_ratio`` × those still heard is a local
      coverage loss: no event (and later confidence −0.25); ≥ ``partial_outage_ratio`` ×
      those heard: confidence −0.15. (On a busy transit lane about a third of the ships
      heard 30 min ago have sailed on, hence 0.5, not lower.)
    * ``update_every_s`` (3600): minimum interval between updates of an open gap, unless
      its confidence moves by ≥ 0.1.
    * ``max_gap_s`` (36000): an open gap is closed as "still silent" after 10 h, before the
      fleet forgets the vessel (12 h).
    * ``far_reappear_m`` (5000) / ``speed_factor`` (1.5) / ``speed_margin_kn`` (3): a
      reappearance farther than 5 km whose implied speed exceeds 1.5 × the last reported
      speed + 3 kn is flagged.
    * ``near_infrastructure_m`` (5000): a last position this close to an area of interest
      raises confidence (anchor-drag reach of a corridor).
    * ``weak_reception_ratio`` (3): when the vessel was heard this many times less often
      than its nominal ITU-R M.1371 rate, reception was marginal and confidence is lowered;
      likewise when, in its last ``fade_window_s`` (120) before the silence, it was heard
      this many times less often than nominal (reception faded: leaving coverage, not a
      transponder switched off, which stops at once).
    * ``dead_reckoning_min_m`` (10000) / ``dead_reckoning_max_m`` (50000): when the vessel
      was under way, its position is dead-reckoned on its last course and speed (capped at
      50 km); if it would be ≥ 10 km on and fewer than ``min_others_heard`` others are
      heard there recently, it most likely sailed out of receiver coverage and confidence
      is lowered (the same standard of evidence as at the last position).
    """

    min_gap_s: float = 600.0
    interval_factor: float = 10.0
    default_interval_s: float = 180.0
    min_intervals: int = 3
    monitored_factor: float = 0.5
    min_others_heard: int = 3
    recheck_s: float = 300.0
    confirm_s: float = 300.0
    heard_within_s: float = 300.0
    reference_s: float = 1800.0
    outage_ratio: float = 1.0
    partial_outage_ratio: float = 0.5
    update_every_s: float = 3600.0
    max_gap_s: float = 36_000.0
    far_reappear_m: float = 5000.0
    speed_factor: float = 1.5
    speed_margin_kn: float = 3.0
    near_infrastructure_m: float = 5000.0
    weak_reception_ratio: float = 3.0
    fade_window_s: float = 120.0
    dead_reckoning_min_m: float = 10_000.0
    dead_reckoning_max_m: float = 50_000.0

    def __post_init__(self) -> None:
        positive = (
            "min_gap_s",
            "interval_factor",
            "default_interval_s",
            "recheck_s",
            "confirm_s",
            "heard_within_s",
            "reference_s",
            "outage_ratio",
            "partial_outage_ratio",
            "update_every_s",
            "max_gap_s",
            "far_reappear_m",
            "speed_factor",
            "weak_reception_ratio",
            "fade_window_s",
            "dead_reckoning_min_m",
            "dead_reckoning_max_m",
        )
        for name in positive:
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and value > 0 and math.isfinite(value)):
                raise ConfigError(f"ais_gap: {name} must be a finite number > 0, got {value!r}")
        for name in ("speed_margin_kn", "near_infrastructure_m"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and value >= 0 and math.isfinite(value)):
                raise ConfigError(f"ais_gap: {name} must be a finite number ≥ 0, got {value!r}")
        if not 0 < self.monitored_factor <= 1:
            raise ConfigError("ais_gap: monitored_factor must be in (0, 1]")
        if self.min_others_heard < 1 or self.min_intervals < 1:
            raise ConfigError("ais_gap: min_others_heard and min_intervals must be ≥ 1")
        if self.max_gap_s <= self.min_gap_s:
            raise ConfigError("ais_gap: max_gap_s must be longer than min_gap_s")
        if self.partial_outage_ratio > self.outage_ratio:
            raise ConfigError("ais_gap: partial_outage_ratio must not exceed outage_ratio")


INTERVALS_N = 9  # report intervals the usual one is the median of


@dataclass(slots=True, kw_only=True)
class AisGapState:
    """Per-vessel state: the last report, learned intervals and the open gap, if any."""

    last: PositionReport | None = None
    last_area_ids: tuple[str, ...] = ()
    intervals: array[float] = field(default_factory=float_window)  # the last INTERVALS_N
    usual_s: float | None = None  # cached median of ``intervals``
    next_check: datetime | None = None
    pending_since: datetime | None = None  # others first heard during this silence
    gap_open: bool = False
    given_up: bool = False  # closed as "still silent": wait for the next report
    others: int = 0
    quiet_with: int = 0  # others heard around it before that are silent now
    masked: bool = False  # an area-wide silence was seen during this silence
    near_area_m: float | None = None
    others_ahead: int | None = None  # others heard near the dead-reckoned position
    ahead_m: float = 0.0
    confidence: float = 0.0
    emitted_at: datetime | None = None


class AisGapDetector(Detector[AisGapConfig, AisGapState]):
    """Notices vessels going silent while others nearby are still heard."""

    name = "ais_gap"
    version = "2"
    config_type = AisGapConfig
    state_types = (AisGapState,)

    def initial_state(self, mmsi: int) -> AisGapState:
        return AisGapState()

    # -- reports ----------------------------------------------------------------------------
    def step(
        self, state: AisGapState, report: PositionReport, ctx: Context
    ) -> tuple[AisGapState, list[Event]]:
        last = state.last
        events: list[Event] = []
        if last is not None:
            dt = (report.time - last.time).total_seconds()
            if dt < 0:
                return state, events  # late report: the gap logic follows the newest one
            if 0 < dt <= self.config.min_gap_s:
                push_bounded(state.intervals, dt, INTERVALS_N)
                if len(state.intervals) >= self.config.min_intervals:
                    state.usual_s = median(state.intervals)
            if state.gap_open:
                events.append(self._close_on_return(state, report, dt))
        state.last = report
        state.last_area_ids = ctx.inside
        state.next_check = None
        state.pending_since = None
        state.given_up = False
        state.masked = False
        return state, events

    # -- silence ----------------------------------------------------------------------------
    def threshold_s(self, state: AisGapState, ctx: Context) -> float:
        """The silence (s) after which this vessel counts as gone dark."""
        cfg = self.config
        usual = state.usual_s if state.usual_s is not None else cfg.default_interval_s
        last = state.last
        if ctx.normalcy is not None and last is not None:
            area = ctx.normalcy.expected_interval_s(last.lat, last.lon)
            if area is not None and area > usual:
                usual = area
        limit = max(cfg.min_gap_s, cfg.interval_factor * usual)
        return limit * cfg.monitored_factor if ctx.monitored else limit

    def on_tick(
        self, state: AisGapState, now: datetime, ctx: Context
    ) -> tuple[AisGapState, list[Event]]:
        last = state.last
        if last is None or state.given_up:
            return state, []
        cfg = self.config
        silence = (now - last.time).total_seconds()
        if state.gap_open and silence > cfg.max_gap_s:
            return state, [self._close_still_silent(state, now, silence)]
        if state.next_check is not None and now < state.next_check:
            return state, []
        limit = self.threshold_s(state, ctx)
        confirm = cfg.confirm_s * (cfg.monitored_factor if ctx.monitored else 1.0)
        # Confirmation runs during the last ``confirm`` seconds before the threshold, so a
        # gap opens at the threshold, not ``confirm`` after it.
        if silence <= (limit if state.gap_open else max(0.0, limit - confirm)):
            return state, []
        state.next_check = now + timedelta(seconds=cfg.recheck_s)
        if ctx.coverage is None:
            return state, []  # without coverage, silence cannot be told from a receiver outage
        recent = max(last.time, now - timedelta(seconds=cfg.heard_within_s))
        others = ctx.coverage.others_heard_near(last.lat, last.lon, recent, last.mmsi)
        quiet = self._fallen_silent(last, others, ctx)
        if others < cfg.min_others_heard or (
            quiet >= cfg.min_others_heard and quiet >= cfg.outage_ratio * others
        ):
            state.pending_since = None
            state.masked = True  # whatever it did meanwhile, nobody could have heard it
            return state, []  # area-wide silence: the receiver, not the ship
        if not state.gap_open:
            # Confirm on a later check: when a receiver comes back after an outage, others
            # are heard again seconds before this vessel, which must not open a gap.
            if state.pending_since is None:
                state.pending_since = now
                state.next_check = now + timedelta(seconds=min(confirm, cfg.recheck_s))
                return state, []
            if (now - state.pending_since).total_seconds() < confirm or silence <= limit:
                return state, []
        if not state.gap_open:
            state.near_area_m = self._near_area_m(last, state.last_area_ids, ctx)
        state.others, state.quiet_with = others, quiet
        state.others_ahead, state.ahead_m = self._others_ahead(last, silence, recent, ctx)
        conf, reasons = self._assess(state, silence, limit, ctx)
        if state.gap_open and state.emitted_at is not None:
            due = (now - state.emitted_at).total_seconds() >= cfg.update_every_s
            if not due and abs(conf - state.confidence) < 0.1:
                return state, []
            phase: EventPhase = "update"
        else:
            state.gap_open = True
            phase = "open"
        state.confidence, state.emitted_at = conf, now
        event = self.make_event(
            phase,
            last.mmsi,
            last.time,
            last,
            time=now,
            area_id=state.last_area_ids[0] if state.last_area_ids else None,
            confidence=conf,
            reasons=reasons,
            evidence_reports=[last],
            attrs=self._attrs(state, silence, limit),
        )
        return state, [event]

    # -- helpers ----------------------------------------------------------------------------
    def _assess(
        self, state: AisGapState, silence: float, limit: float, ctx: Context
    ) -> tuple[float, list[str]]:
        cfg = self.config
        last = state.last
        if last is None:  # pragma: no cover - only called with a last report
            return 0.0, ["no report"]
        usual = state.usual_s or cfg.default_interval_s
        reasons = [
            f"no AIS report for {silence / 60:.0f} min (usually every {usual:.0f} s; "
            f"threshold {limit / 60:.0f} min)",
            f"{state.others} other vessels were heard within ~25 km in the last "
            f"{cfg.heard_within_s / 60:.0f} min, so the receiver is working",
        ]
        # Without infrastructure or a monitored vessel the score stays ≤ 0.6 (medium).
        conf = 0.2 + 0.05 * min(state.others - cfg.min_others_heard + 1, 4)
        conf += min(0.2, 0.1 * math.log2(max(1.0, silence / limit)))
        if state.last_area_ids:
            conf += 0.25
            reasons.append(f"went silent inside {', '.join(state.last_area_ids)}")
        elif state.near_area_m is not None:
            conf += 0.1
            reasons.append(f"went silent {state.near_area_m / 1000:.1f} km from infrastructure")
        if ctx.monitored:
            conf += 0.1
            reasons.append("vessel is monitored (watchlist or tasking)")
        if (last.speed_kn is not None and last.speed_kn < AT_REST_KN) or (
            last.nav_status in MOORED_STATUS
        ):
            conf -= 0.2
            reasons.append(
                "it was at rest or moored when last heard; AIS may lawfully be off alongside"
            )
        if (
            state.quiet_with >= cfg.min_others_heard
            and state.quiet_with >= cfg.partial_outage_ratio * state.others
        ):
            conf -= 0.15
            reasons.append(
                f"{state.quiet_with} vessels heard near it before it went silent are no "
                "longer heard either: part of the area may have lost coverage"
            )
        if state.masked:
            conf -= 0.25
            reasons.append(
                "the area itself fell silent during this silence (a receiver outage or no "
                "traffic to hear): it may have left coverage unseen"
            )
        if state.others_ahead is not None and state.others_ahead < cfg.min_others_heard:
            conf -= 0.25
            reasons.append(
                f"only {state.others_ahead} vessels heard near where it would be now by dead "
                f"reckoning ({state.ahead_m / 1000:.0f} km on its course): it has probably "
                "sailed out of receiver coverage"
            )
        nominal = nominal_interval_s(last)
        heard, span = self._heard_at_the_end(state)
        if state.usual_s is not None and state.usual_s > cfg.weak_reception_ratio * nominal:
            conf -= 0.15
            reasons.append(
                f"reception was already weak: heard every {state.usual_s:.0f} s where it "
                f"transmits every {nominal:.0f} s, so it may simply have dropped out of range"
            )
        elif heard and heard * cfg.weak_reception_ratio * nominal < span:
            conf -= 0.15
            reasons.append(
                f"reception faded before the silence: {heard} reports heard in its last "
                f"{span:.0f} s where it transmits every {nominal:.0f} s — a ship leaving "
                "coverage fades out, a transponder switched off stops at once"
            )
        return min(0.95, max(0.05, conf)), reasons

    def _attrs(self, state: AisGapState, silence: float, limit: float) -> dict[str, object]:
        return {
            "gap_s": round(silence, 1),
            "threshold_s": round(limit, 1),
            "usual_interval_s": state.usual_s,
            "others_heard": state.others,
            "others_silent_with_it": state.quiet_with,
            "last_area_ids": list(state.last_area_ids),
            "near_area_m": None if state.near_area_m is None else round(state.near_area_m),
            "others_heard_ahead": state.others_ahead,
        }

    def _close_on_return(self, state: AisGapState, report: PositionReport, dt: float) -> Event:
        cfg = self.config
        last = state.last
        if last is None:  # pragma: no cover - a gap always has a last report
            raise ValueError("ais_gap: closing a gap without a last report")
        distance = haversine_m(last.lat, last.lon, report.lat, report.lon)
        implied_kn = distance / dt / KN_TO_MS if dt > 0 else 0.0
        ref_kn = max(last.speed_kn or 0.0, report.speed_kn or 0.0)
        conf = state.confidence
        reasons = [f"reappeared after {dt / 60:.0f} min, {distance / 1000:.1f} km away"]
        far = distance > cfg.far_reappear_m and implied_kn > (
            cfg.speed_factor * ref_kn + cfg.speed_margin_kn
        )
        if far:
            conf = min(0.95, conf + 0.2)
            reasons.append(
                f"implied speed across the gap {implied_kn:.1f} kn against {ref_kn:.1f} kn "
                "reported: it moved while dark, or one of the positions is false"
            )
        attrs = self._attrs(state, dt, 0.0)
        attrs.pop("threshold_s")
        attrs.update(
            distance_m=round(distance),
            implied_speed_kn=round(implied_kn, 2),
            last_speed_kn=last.speed_kn,
            reappeared_far=far,
        )
        state.gap_open = False
        return self.make_event(
            "close",
            last.mmsi,
            last.time,
            report,
            area_id=state.last_area_ids[0] if state.last_area_ids else None,
            confidence=conf,
            reasons=reasons,
            evidence_reports=[last, report],
            attrs=attrs,
        )

    def _close_still_silent(self, state: AisGapState, now: datetime, silence: float) -> Event:
        last = state.last
        if last is None:  # pragma: no cover - a gap always has a last report
            raise ValueError("ais_gap: closing a gap without a last report")
        state.gap_open = False
        state.given_up = True
        attrs = self._attrs(state, silence, 0.0)
        attrs.pop("threshold_s")
        return self.make_event(
            "close",
            last.mmsi,
            last.time,
            last,
            time=now,
            area_id=state.last_area_ids[0] if state.last_area_ids else None,
            confidence=state.confidence,
            reasons=[f"still silent after {silence / 3600:.1f} h; no longer tracked"],
            evidence_reports=[last],
            attrs=attrs,
        )

    def _heard_at_the_end(self, state: AisGapState) -> tuple[int, float]:
        """Reports heard in (about) the last ``fade_window_s`` before the silence, and the
        span (s) they cover, from the learned intervals (most recent last)."""
        count, span = 0, 0.0
        for dt in reversed(state.intervals):
            if span >= self.config.fade_window_s:
                break
            count, span = count + 1, span + dt
        return count, span

    def _fallen_silent(self, last: PositionReport, heard: int, ctx: Context) -> int:
        """Others heard near the last position since ``reference_s`` before the last report
        that are not among the ``heard`` recently (they have fallen silent too)."""
        if ctx.coverage is None:  # pragma: no cover - checked by the caller
            return 0
        since = last.time - timedelta(seconds=self.config.reference_s)
        before = ctx.coverage.others_heard_near(last.lat, last.lon, since, last.mmsi)
        return max(0, before - heard)

    def _others_ahead(
        self, last: PositionReport, silence: float, since: datetime, ctx: Context
    ) -> tuple[int | None, float]:
        """Others heard recently near where the vessel would be by dead reckoning."""
        cfg = self.config
        speed, course = last.speed_kn, last.course_deg
        if ctx.coverage is None or speed is None or course is None or speed < 2.0:
            return None, 0.0
        ahead = min(speed * KN_TO_MS * silence, cfg.dead_reckoning_max_m)
        if ahead < cfg.dead_reckoning_min_m:
            return None, ahead
        lat = last.lat + ahead * math.cos(math.radians(course)) / M_PER_DEG
        coslat = max(math.cos(math.radians(last.lat)), 1e-6)
        lon = last.lon + ahead * math.sin(math.radians(course)) / (M_PER_DEG * coslat)
        if not -90.0 < lat < 90.0:
            return None, ahead
        lon = (lon + 180.0) % 360.0 - 180.0
        return ctx.coverage.others_heard_near(lat, lon, since, last.mmsi), ahead

    def _near_area_m(
        self, last: PositionReport, inside: tuple[str, ...], ctx: Context
    ) -> float | None:
        """Distance (m) to the nearest area of interest within ``near_infrastructure_m``."""
        if inside:
            return 0.0
        if ctx.areas is None or self.config.near_infrastructure_m <= 0:
            return None
        reach = self.config.near_infrastructure_m
        coslat = max(math.cos(math.radians(last.lat)), 1e-6)
        dlat, dlon = reach / M_PER_DEG, reach / (M_PER_DEG * coslat)
        best: float | None = None
        point = shapely.Point(0.0, 0.0)
        for area in ctx.areas.areas:
            x0, y0, x1, y1 = area.geometry.bounds
            if not (x0 - dlon <= last.lon <= x1 + dlon and y0 - dlat <= last.lat <= y1 + dlat):
                continue
            local = shapely.affinity.affine_transform(
                area.geometry,
                [
                    coslat * M_PER_DEG,
                    0,
                    0,
                    M_PER_DEG,
                    -last.lon * coslat * M_PER_DEG,
                    -last.lat * M_PER_DEG,
                ],
            )
            d = float(shapely.distance(local, point))
            if d <= reach and (best is None or d < best):
                best = d
        return best
