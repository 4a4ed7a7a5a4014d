"""Position spoofing: impossible jumps, ships on land, cloned MMSIs and GNSS interference.

A ship that wants to hide where it is can falsify its AIS position (manipulated tracks of
shadow-fleet tankers, Windward 2023; C4ADS "Above Us Only Stars" 2019 on GNSS spoofing that
moved ships inland onto airports), and a ship that borrows another's MMSI makes one identity
appear in two places. Since 2023 GNSS jamming and spoofing around the Baltic (Kaliningrad,
Gulf of Finland) have moved *many* ships at once — that is an area phenomenon, not one ship's
misconduct, and must be labelled as such rather than raised per ship.

Four checks, all on consecutive reports of one MMSI, in event time:

* **jump** — the distance between consecutive reports exceeds
  ``max(min_jump_m, (reported speed + speed_margin_kn) × dt × speed_factor)``: dt-aware, so
  GPS noise on 2 s intervals never counts, while a 40 km leap in 5 min does. The reported
  speed is capped at ``max_speed_kn`` (50 kn: the fastest high-speed craft).
* **on_land** — ``ctx.land.on_land`` (the bundled Natural Earth mask, inland beyond a
  harbour buffer) for ``on_land_enter_reports`` consecutive reports. A track that *moved*
  onto land at plausible speed is most likely an inland waterway the map lacks (Kiel Canal,
  Göta älv, Lake Vänern): low confidence. Reached by a jump, it is classic spoofing.
* **cloned_mmsi** — two hypotheses are kept: the current track and the one before the last
  jump. Reports that alternate between two far-apart, each self-consistent tracks
  (``clone_min_switches`` switches, ``clone_min_reports`` reports each) are two transmitters
  sharing one MMSI, not one ship jumping back and forth.
* **gnss_interference** — when ``jamming_min_vessels`` distinct vessels jumped within
  ``jamming_radius_m`` and ``jamming_window_s`` of each other, a jump is labelled interference
  (low confidence per ship; ``vessels_affected`` in attrs) instead of spoofing.

The jamming check needs to know about *other* vessels' jumps. The detector instance keeps a
bounded (``jamming_index_max``), event-time-expired index of recent jump locations. That is
the one piece of state outside the per-vessel state, deliberately: it is derived (a cache of
the last ``jamming_window_s`` of jumps), never checkpointed, and rebuilt within minutes after
a restore; a partitioned deployment that splits one area's vessels over workers sees fewer
vessels per index and labels fewer jumps as interference — the conservative direction.

Each type has its own episode (``open → update* → close``, id discriminated by type) that
closes after ``quiet_s`` without a new anomaly (on_land: after ``on_land_exit_reports`` sea
reports).
"""

from __future__ import annotations

import itertools
import math
from collections import deque
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from seawarden.detectors.base import Context, Detector, LandMask
from seawarden.errors import ConfigError
from seawarden.geo.sphere import distance_m as haversine_m
from seawarden.model import Event, EventPhase, PositionReport

__all__ = ["Episode", "SpoofingConfig", "SpoofingDetector", "SpoofingState"]

KN_TO_MS = 1852.0 / 3600.0
JUMP, ON_LAND, CLONED, JAMMING = "jump", "on_land", "cloned_mmsi", "gnss_interference"


@dataclass(frozen=True, slots=True, kw_only=True)
class SpoofingConfig:
    """Parameters of the spoofing detector (see ``docs/detectors/spoofing.md``)."""

    min_jump_m: float = 1000.0
    speed_margin_kn: float = 5.0
    speed_factor: float = 1.5
    unknown_speed_kn: float = 30.0
    max_speed_kn: float = 50.0
    harbour_buffer_m: float = 2000.0
    on_land_enter_reports: int = 2
    on_land_exit_reports: int = 3
    clone_min_reports: int = 3
    clone_min_switches: int = 4
    clone_window_s: float = 1800.0
    jamming_radius_m: float = 30_000.0
    jamming_window_s: float = 600.0
    jamming_min_vessels: int = 3
    jamming_index_max: int = 4096
    quiet_s: float = 1800.0
    update_every_s: float = 600.0

    def __post_init__(self) -> None:
        for name in (
            "min_jump_m",
            "speed_factor",
            "unknown_speed_kn",
            "max_speed_kn",
            "clone_window_s",
            "jamming_radius_m",
            "jamming_window_s",
            "quiet_s",
            "update_every_s",
        ):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and value > 0 and math.isfinite(value)):
                raise ConfigError(f"spoofing: {name} must be a finite number > 0, got {value!r}")
        for name in ("speed_margin_kn", "harbour_buffer_m"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and value >= 0 and math.isfinite(value)):
                raise ConfigError(f"spoofing: {name} must be a finite number ≥ 0, got {value!r}")
        for name in (
            "on_land_enter_reports",
            "on_land_exit_reports",
            "clone_min_reports",
            "clone_min_switches",
            "jamming_index_max",
        ):
            if getattr(self, name) < 1:
                raise ConfigError(f"spoofing: {name} must be ≥ 1")
        if self.jamming_min_vessels < 2:
            raise ConfigError("spoofing: jamming_min_vessels must be ≥ 2 (it is an area effect)")


@dataclass(slots=True, kw_only=True)
class Episode:
    """One open anomaly episode of one type."""

    start: datetime
    last_time: datetime
    count: int
    confidence: float
    emitted_at: datetime
    attrs: dict[str, Any]
    evidence: list[PositionReport]


@dataclass(slots=True, kw_only=True)
class SpoofingState:
    """Two track hypotheses (current, previous), the on-land run and open episodes."""

    last: PositionReport | None = None
    last_n: int = 0  # consecutive self-consistent reports of the current track
    alt: PositionReport | None = None
    alt_n: int = 0
    switches: int = 0
    jumped_at: datetime | None = None  # time of this vessel's last jump
    land_run: int = 0
    sea_run: int = 0
    land_via_jump: bool = False
    episodes: dict[str, Episode] | None = None


class SpoofingDetector(Detector[SpoofingConfig, SpoofingState]):
    """Flags positions a real ship cannot have reported."""

    name = "spoofing"
    version = "1"
    config_type = SpoofingConfig
    state_types = (SpoofingState, Episode)

    def __init__(self, config: SpoofingConfig | None = None) -> None:
        super().__init__(config)
        # Derived, bounded, event-time-expired; see the module docstring.
        self._jumps: deque[tuple[datetime, float, float, int]] = deque(
            maxlen=self.config.jamming_index_max
        )
        self._land: LandMask | None = None

    def initial_state(self, mmsi: int) -> SpoofingState:
        return SpoofingState()

    # -- kinematics ------------------------------------------------------------------------
    def allowed_m(self, a: PositionReport, b: PositionReport, dt: float) -> float:
        """The largest plausible distance between two reports ``dt`` seconds apart."""
        cfg = self.config
        speeds = [s for s in (a.speed_kn, b.speed_kn) if s is not None]
        speed = min(max(speeds), cfg.max_speed_kn) if speeds else cfg.unknown_speed_kn
        return max(cfg.min_jump_m, (speed + cfg.speed_margin_kn) * KN_TO_MS * dt * cfg.speed_factor)

    def _fits(self, a: PositionReport, b: PositionReport) -> tuple[bool, float, float]:
        dt = max((b.time - a.time).total_seconds(), 0.0)
        d = haversine_m(a.lat, a.lon, b.lat, b.lon)
        return d <= self.allowed_m(a, b, dt), d, dt

    def _mask(self, ctx: Context) -> LandMask:
        if ctx.land is not None:
            return ctx.land
        if self._land is None:
            from seawarden.geo.land import land_mask

            self._land = land_mask(self.config.harbour_buffer_m)
        return self._land

    # -- the step ----------------------------------------------------------------------------
    def step(
        self, state: SpoofingState, report: PositionReport, ctx: Context
    ) -> tuple[SpoofingState, list[Event]]:
        events: list[Event] = []
        if state.episodes:
            events.extend(self._close_quiet(state, report.time, report))
        prev = state.last
        if prev is None:
            state.last, state.last_n = report, 1
            self._land_check(state, report, ctx, jumped=False, events=events)
            return state, events
        if report.time < prev.time:
            return state, events  # late report: kinematics follow the newest one
        ok, d, dt = self._fits(prev, report)
        jumped = False
        if ok:
            state.last, state.last_n = report, state.last_n + 1
        else:
            alt = state.alt
            if (
                alt is not None
                and (report.time - alt.time).total_seconds() > self.config.clone_window_s
            ):
                state.alt, alt = None, None
            alt_ok = alt is not None and report.time >= alt.time and self._fits(alt, report)[0]
            if alt is not None and alt_ok:
                # back on the other track: a one-off glitch, or a second transmitter
                state.last, state.alt = report, prev
                state.last_n, state.alt_n = state.alt_n + 1, state.last_n
                state.switches += 1
                events.extend(self._clone_check(state, prev, report, ctx))
                if state.switches == 1 and state.alt_n == 1:
                    events.extend(self._glitch(state, report))
            else:
                jumped = True
                events.extend(self._on_jump(state, prev, report, d, dt, ctx))
                state.alt, state.alt_n = prev, state.last_n
                state.last, state.last_n = report, 1
                state.switches = 0
        self._land_check(state, report, ctx, jumped=jumped, events=events)
        return state, events

    def on_tick(
        self, state: SpoofingState, now: datetime, ctx: Context
    ) -> tuple[SpoofingState, list[Event]]:
        if not state.episodes:
            return state, []
        return state, self._close_quiet(state, now, None)

    # -- jumps and interference ----------------------------------------------------------------
    def _on_jump(
        self,
        state: SpoofingState,
        prev: PositionReport,
        report: PositionReport,
        d: float,
        dt: float,
        ctx: Context,
    ) -> list[Event]:
        cfg = self.config
        state.jumped_at = report.time
        implied_kn = d / dt / KN_TO_MS if dt > 0 else math.inf
        affected = self._record_jump(report.time, prev.lat, prev.lon, report.mmsi)
        ref = prev.speed_kn if prev.speed_kn is not None else report.speed_kn
        ref_txt = f"{ref:.1f} kn reported" if ref is not None else "no speed reported"
        implied_txt = f"{implied_kn:.0f} kn" if math.isfinite(implied_kn) else "instantaneous"
        reasons = [
            f"position jumped {d / 1000:.1f} km in {dt:.0f} s (implied {implied_txt}, "
            f"{ref_txt}; plausible at most {self.allowed_m(prev, report, dt) / 1000:.1f} km)"
        ]
        attrs: dict[str, Any] = {
            "jump_m": round(d),
            "dt_s": round(dt, 1),
            "implied_speed_kn": round(implied_kn, 1) if math.isfinite(implied_kn) else None,
            "reported_speed_kn": ref,
            "from_lat": round(prev.lat, 6),
            "from_lon": round(prev.lon, 6),
        }
        if affected >= cfg.jamming_min_vessels:
            nearby = len(ctx.neighbours(prev.lat, prev.lon, cfg.jamming_radius_m)) + 1
            reasons.append(
                f"{affected} vessels within {cfg.jamming_radius_m / 1000:.0f} km jumped within "
                f"{cfg.jamming_window_s / 60:.0f} min ({nearby} heard there): GNSS jamming or "
                "spoofing of the area, not this ship's own doing"
            )
            attrs.update(vessels_affected=affected, vessels_nearby=nearby)
            return self._episode(state, JAMMING, report, 0.3, reasons, attrs, [prev, report])
        conf = 0.5
        if d > 10_000:
            conf += 0.15
        if ctx.monitored:
            conf += 0.1
            reasons.append("vessel is monitored (watchlist or tasking)")
        ep = (state.episodes or {}).get(JUMP)
        if ep is not None:
            conf = max(conf, min(0.9, ep.confidence + 0.1))
            reasons.append(f"{ep.count + 1} jumps since {ep.start.isoformat()}")
        return self._episode(state, JUMP, report, conf, reasons, attrs, [prev, report])

    def _glitch(self, state: SpoofingState, report: PositionReport) -> list[Event]:
        """The report after a jump returned to the track before it: one bad position."""
        ep = (state.episodes or {}).get(JUMP)
        if ep is None or ep.attrs.get("returned"):
            return []
        ep.attrs = {**ep.attrs, "returned": True}
        reasons = [
            "the next report returned to the previous track: a single bad position "
            "(GPS or decoding glitch) rather than a relocation"
        ]
        conf = max(0.2, ep.confidence - 0.25)
        return self._episode(state, JUMP, report, conf, reasons, ep.attrs, [report], count=False)

    def _record_jump(self, t: datetime, lat: float, lon: float, mmsi: int) -> int:
        """Remember a jump (at the pre-jump position); distinct vessels that jumped nearby."""
        cfg = self.config
        jumps = self._jumps
        while jumps and (t - jumps[0][0]).total_seconds() > cfg.jamming_window_s:
            jumps.popleft()
        if len(jumps) == jumps.maxlen:
            jumps.popleft()
        jumps.append((t, lat, lon, mmsi))
        # Only the newest jumps matter for "now": scan back from the end and stop at the
        # window's edge or after a bounded number, so a flood of bad positions stays cheap.
        recent = itertools.islice(reversed(jumps), 512)
        # Cheap box test before the great-circle distance: with thousands of recent jumps
        # (a jamming episode, or a corrupt feed) a haversine per pair dominated run time.
        dlat = cfg.jamming_radius_m / 111_320.0
        dlon = dlat / max(math.cos(math.radians(lat)), 0.01)
        window = cfg.jamming_window_s
        vessels: set[int] = set()
        for tj, la, lo, m in recent:
            if m in vessels or abs(la - lat) > dlat:
                continue
            dl = abs(lo - lon)
            if min(dl, 360.0 - dl) > dlon or abs((t - tj).total_seconds()) > window:
                continue
            if haversine_m(lat, lon, la, lo) <= cfg.jamming_radius_m:
                vessels.add(m)
                if len(vessels) >= cfg.jamming_min_vessels + 50:
                    break  # enough to call it area-wide; exact count beyond is not needed
        return len(vessels)

    # -- clones -------------------------------------------------------------------------------
    def _clone_check(
        self, state: SpoofingState, other: PositionReport, report: PositionReport, ctx: Context
    ) -> list[Event]:
        cfg = self.config
        if state.switches < cfg.clone_min_switches or min(state.last_n, state.alt_n) < (
            cfg.clone_min_reports
        ):
            return []
        sep = haversine_m(other.lat, other.lon, report.lat, report.lon)
        conf = 0.8 if sep > 10_000 else 0.65
        if ctx.monitored:
            conf += 0.1
        reasons = [
            f"reports alternate between two tracks {sep / 1000:.1f} km apart "
            f"({state.switches} switches; {state.last_n} and {state.alt_n} reports), each "
            "moving plausibly: two transmitters are using one MMSI"
        ]
        attrs: dict[str, Any] = {
            "separation_m": round(sep),
            "switches": state.switches,
            "reports_a": state.last_n,
            "reports_b": state.alt_n,
            "other_lat": round(other.lat, 6),
            "other_lon": round(other.lon, 6),
        }
        return self._episode(state, CLONED, report, conf, reasons, attrs, [other, report])

    # -- land ---------------------------------------------------------------------------------
    def _land_check(
        self,
        state: SpoofingState,
        report: PositionReport,
        ctx: Context,
        *,
        jumped: bool,
        events: list[Event],
    ) -> None:
        cfg = self.config
        if not self._mask(ctx).on_land(report.lat, report.lon):
            if state.land_run:
                state.sea_run += 1
                if state.sea_run >= cfg.on_land_exit_reports:
                    state.land_run, state.land_via_jump = 0, False
                    ep = (state.episodes or {}).get(ON_LAND)
                    if ep is not None:
                        events.append(self._close(state, ON_LAND, report, "back at sea"))
            return
        state.sea_run = 0
        if state.land_run == 0:
            state.land_via_jump = jumped
        else:
            state.land_via_jump = state.land_via_jump or jumped
        state.land_run += 1
        if state.land_run < cfg.on_land_enter_reports:
            return
        ep = (state.episodes or {}).get(ON_LAND)
        if ep is not None:
            ep.last_time, ep.count = report.time, state.land_run
            ep.attrs = {**ep.attrs, "land_reports": state.land_run}
            if not jumped:
                return  # an unchanged situation: no update per report
        buffer_m = getattr(self._mask(ctx), "harbour_buffer_m", cfg.harbour_buffer_m)
        reasons = [
            f"{state.land_run} consecutive positions on land, more than "
            f"{buffer_m / 1000:.1f} km from the coast"
        ]
        if state.land_via_jump:
            conf = 0.8
            reasons.append("it got there by an impossible jump: a falsified position")
        elif state.last_n > state.land_run:
            conf = 0.2
            reasons.append(
                "it moved there at a plausible speed: most likely an inland waterway (canal, "
                "river, lake) or harbour basin missing from the 1:10m land map"
            )
        else:
            conf = 0.3
            reasons.append("first heard on land, or its track there is broken")
        attrs = {"land_reports": state.land_run, "via_jump": state.land_via_jump}
        events.extend(
            self._episode(state, ON_LAND, report, conf, reasons, attrs, [report], periodic=False)
        )

    # -- episodes -----------------------------------------------------------------------------
    def _episode(
        self,
        state: SpoofingState,
        kind: str,
        report: PositionReport,
        conf: float,
        reasons: list[str],
        attrs: dict[str, Any],
        evidence: list[PositionReport],
        *,
        count: bool = True,
        periodic: bool = True,
    ) -> list[Event]:
        """Open the episode of ``kind`` or update it: on a confidence change ≥ 0.1, or when
        ``periodic`` and ``update_every_s`` has passed since the last emission."""
        if state.episodes is None:
            state.episodes = {}
        ep = state.episodes.get(kind)
        if ep is None:
            ep = state.episodes[kind] = Episode(
                start=report.time,
                last_time=report.time,
                count=1,
                confidence=conf,
                emitted_at=report.time,
                attrs=attrs,
                evidence=list(evidence),
            )
            phase: EventPhase = "open"
        else:
            ep.last_time = report.time
            if count:
                ep.count = max(ep.count + 1, int(attrs.get("land_reports", 0)))
            ep.attrs = attrs
            if len(ep.evidence) < 8:
                ep.evidence.extend(evidence[-2:])
            due = periodic and (
                (report.time - ep.emitted_at).total_seconds() >= self.config.update_every_s
            )
            if not due and abs(conf - ep.confidence) < 0.1:
                return []
            phase = "update"
        ep.confidence, ep.emitted_at = conf, report.time
        return [self._emit(phase, kind, ep, report, reasons)]

    def _emit(
        self, phase: EventPhase, kind: str, ep: Episode, at: PositionReport, reasons: list[str]
    ) -> Event:
        return self.make_event(
            phase,
            at.mmsi,
            ep.start,
            at,
            confidence=ep.confidence,
            reasons=reasons,
            evidence_reports=ep.evidence[:10],
            attrs={"type": kind, "count": ep.count, **ep.attrs},
            discriminator=kind,
        )

    def _close(self, state: SpoofingState, kind: str, at: PositionReport, why: str) -> Event:
        episodes = state.episodes or {}
        ep = episodes.pop(kind)
        if not episodes:
            state.episodes = None
        return self._emit("close", kind, ep, at, [why])

    def _close_quiet(
        self, state: SpoofingState, now: datetime, at: PositionReport | None
    ) -> list[Event]:
        episodes = state.episodes or {}
        out: list[Event] = []
        for kind in [k for k, ep in episodes.items() if k != ON_LAND or at is None]:
            ep = episodes[kind]
            quiet = (now - ep.last_time).total_seconds()
            if quiet <= self.config.quiet_s:
                continue
            where = at if at is not None else (ep.evidence[-1] if ep.evidence else None)
            if where is None:
                continue
            ev = self._close(state, kind, where, f"no new {kind} for {quiet / 60:.0f} min")
            out.append(_retime(ev, now))
        return out


def _retime(event: Event, now: datetime) -> Event:
    """The close event happens now, even when placed at the last evidence position."""
    return replace(event, time=now)
