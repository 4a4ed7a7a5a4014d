"""Encounters: two vessels stopped together at sea (ship-to-ship meetings).

Ship-to-ship (STS) transfers are how sanctioned oil and cargo change hands, and a rendezvous
over a cable route is how a "support" vessel meets the ship that will drag its anchor.
Global Fishing Watch defines an encounter from AIS as two vessels within 500 m of each other,
both slower than 2 kn, for at least 2 h, away from ports (Miller et al. 2018, *Frontiers in
Marine Science* 5:240; GFW ``pipe-encounters``). We keep GFW's distance and speed but open an
event after 30 min (``min_duration_s``): a watch officer protecting infrastructure wants an
STS or cable-area rendezvous while it is still under way, and confidence grows towards the
GFW 2 h mark instead.

Harbour life looks the same on AIS: tugs and pilot boats alongside, ships moored side by
side, bunker barges at anchorages. Suppression: the vessel's own ship type (pilot 50, SAR
51, tug 52, port tender 53, law enforcement 55, towing 31/32 → ``service_factor``), both
vessels reporting "moored", the learned ``stop_fraction`` of the place (ports and
anchorages) when a normalcy model is present, and duration. Limitation: ``ctx`` gives the
partner's position but not its static data, so a tug is recognised only when the tug is the
vessel evaluating the pair.

One event per pair, emitted by the vessel with the lower MMSI (deterministic), with the
partner's MMSI as id discriminator. Distance and speed use hysteresis
(``max_distance_m``/``release_distance_m``, ``max_speed_kn``/``release_speed_kn``); a pair
ends when it has not been seen close for ``gap_tolerance_s``. Limitation: if only the
higher-MMSI vessel transmits (the lower one dark), no encounter is formed — the AIS-gap
detector covers that vessel.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar, Final

from seawarden.detectors.base import Context, Detector
from seawarden.errors import ConfigError
from seawarden.model import Event, EventPhase, PositionReport

__all__ = ["EncounterConfig", "EncounterDetector", "EncounterPair", "EncounterState"]

# Harbour service craft whose job is to be alongside other ships (AIS ship type codes).
SERVICE_SHIP_TYPES: Final = frozenset({31, 32, 50, 51, 52, 53, 55})
_MOORED: Final = 5
_MAX_AREAS: Final = 4


@dataclass(frozen=True, slots=True, kw_only=True)
class EncounterConfig:
    """Parameters of the encounter detector (defaults after GFW, see module docstring).

    * ``max_distance_m`` (500) / ``release_distance_m`` (1000): a pair forms within 500 m
      (GFW) and is only held while within 1000 m (hysteresis for GPS jitter and swinging
      at anchor).
    * ``max_speed_kn`` (2.0) / ``release_speed_kn`` (3.0): both must be slower than 2 kn
      to form a pair (GFW), and stay slower than 3 kn to keep it.
    * ``min_duration_s`` (1800): time close before an event opens (GFW uses 2 h; earlier
      here to warn during a transfer). ``full_duration_s`` (7200): duration at which the
      duration part of confidence peaks (the GFW 2 h threshold).
    * ``gap_tolerance_s`` (900): a pair not seen close for this long has ended (class A
      at anchor reports every 3 min; this tolerates a few missed reports).
    * ``max_partners`` (4): candidate partners tracked per vessel (memory bound).
    * ``service_factor`` (0.3): confidence multiplier when this vessel is a tug, pilot,
      tender, SAR or law-enforcement craft. ``moored_factor`` (0.3) when both report
      "moored". ``stop_fraction_damping`` (0.8): confidence × (1 − 0.8 × stop fraction of
      the place) with a normalcy model (ports, anchorages → low).
    * ``crowd_vessels`` (3) / ``crowd_factor`` (0.35): when this many or more other
      stopped vessels (partner included) lie within ``release_distance_m``, the place is a
      berth, marina or crowded anchorage, not a two-ship meeting: confidence × 0.35. This
      is the port proxy when no normalcy model is loaded (real Solent: Portsmouth harbour).
    * ``area_bonus`` (0.1): added when the pair lies in a watched area (cable corridor).
    * ``min_confidence`` (0.3): pairs below this are tracked but not reported.
    * ``update_every_s`` (1800) / ``update_min_delta`` (0.1): an open event is updated at
      most every 30 min unless its confidence moves by 0.1.
    """

    max_distance_m: float = 500.0
    release_distance_m: float = 1000.0
    max_speed_kn: float = 2.0
    release_speed_kn: float = 3.0
    min_duration_s: float = 1800.0
    full_duration_s: float = 7200.0
    gap_tolerance_s: float = 900.0
    max_partners: int = 4
    service_factor: float = 0.3
    moored_factor: float = 0.3
    stop_fraction_damping: float = 0.8
    crowd_vessels: int = 3
    crowd_factor: float = 0.35
    area_bonus: float = 0.1
    min_confidence: float = 0.3
    update_every_s: float = 1800.0
    update_min_delta: float = 0.1

    def __post_init__(self) -> None:
        if not 0 < self.max_distance_m <= self.release_distance_m:
            raise ConfigError(
                "encounter: need 0 < max_distance_m <= release_distance_m, got "
                f"{self.max_distance_m} / {self.release_distance_m}"
            )
        if not 0 < self.max_speed_kn <= self.release_speed_kn:
            raise ConfigError(
                "encounter: need 0 < max_speed_kn <= release_speed_kn, got "
                f"{self.max_speed_kn} / {self.release_speed_kn}"
            )
        if self.crowd_vessels < 2:
            raise ConfigError("encounter: crowd_vessels must be at least 2")
        if not 0 < self.min_duration_s < self.full_duration_s:
            raise ConfigError("encounter: need 0 < min_duration_s < full_duration_s")
        for name in ("gap_tolerance_s", "update_every_s"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"encounter: {name} must be > 0 s")
        if self.max_partners < 1:
            raise ConfigError("encounter: max_partners must be at least 1")
        for name in (
            "service_factor",
            "moored_factor",
            "crowd_factor",
            "stop_fraction_damping",
            "area_bonus",
            "min_confidence",
            "update_min_delta",
        ):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ConfigError(f"encounter: {name} must be within 0..1, got {value}")


@dataclass(slots=True, kw_only=True)
class EncounterPair:
    """A candidate or reported encounter with one partner."""

    partner: int
    start: datetime
    last_close: datetime
    n: int
    sum_distance_m: float
    min_distance_m: float
    first_self: PositionReport
    first_partner: PositionReport
    last_self: PositionReport
    last_partner: PositionReport
    areas: tuple[str, ...] = ()
    crowd: int = 0  # most stopped vessels seen within release_distance_m
    moored: bool = False  # both reported "moored" at some time during the pair
    opened: bool = False
    confidence: float = 0.0
    last_emit: datetime | None = None


@dataclass(slots=True, kw_only=True)
class EncounterState:
    # partner MMSI → pair; None while there is none (most vessels, most of the time: no
    # empty dict per vessel — issue 8, memory per tracked vessel)
    pairs: dict[int, EncounterPair] | None = None


class EncounterDetector(Detector[EncounterConfig, EncounterState]):
    """Two slow vessels close together for a while; see the module docstring."""

    name: ClassVar[str] = "encounter"
    version: ClassVar[str] = "1"
    config_type: ClassVar[type[Any]] = EncounterConfig
    state_types: ClassVar[tuple[type[Any], ...]] = (EncounterState, EncounterPair)
    cross_vessel: ClassVar[bool] = True  # the partner's risk gets the mirrored finding

    def initial_state(self, mmsi: int) -> EncounterState:
        return EncounterState()

    def step(
        self, state: EncounterState, report: PositionReport, ctx: Context
    ) -> tuple[EncounterState, list[Event]]:
        cfg = self.config
        pairs = state.pairs
        speed = report.speed_kn
        if not pairs and (speed is None or speed >= cfg.max_speed_kn):
            return state, []  # the hot path: a vessel under way with no candidate partner
        refreshed: list[EncounterPair] = []
        if speed is not None and speed < cfg.release_speed_kn:
            own = report.mmsi
            near = ctx.neighbours(report.lat, report.lon, cfg.release_distance_m)
            crowd = 0
            for nb in near:
                sp = nb.report.speed_kn
                if sp is not None and sp < cfg.release_speed_kn:
                    crowd += 1
            for nb in near:
                if nb.mmsi <= own:
                    continue  # the lower MMSI of a pair owns it
                p_speed = nb.report.speed_kn
                pair = pairs.get(nb.mmsi) if pairs is not None else None
                if pair is None:
                    if (
                        speed >= cfg.max_speed_kn
                        or p_speed is None
                        or p_speed >= cfg.max_speed_kn
                        or nb.distance_m > cfg.max_distance_m
                        or (pairs is not None and len(pairs) >= cfg.max_partners)
                    ):
                        continue
                    pair = EncounterPair(
                        partner=nb.mmsi,
                        start=report.time,
                        last_close=report.time,
                        n=0,
                        sum_distance_m=0.0,
                        min_distance_m=nb.distance_m,
                        first_self=report,
                        first_partner=nb.report,
                        last_self=report,
                        last_partner=nb.report,
                    )
                    if pairs is None:
                        pairs = state.pairs = {}
                    pairs[nb.mmsi] = pair
                elif p_speed is None or p_speed >= cfg.release_speed_kn:
                    continue
                pair.last_close = report.time
                pair.crowd = max(pair.crowd, crowd)
                if report.nav_status == _MOORED and nb.report.nav_status == _MOORED:
                    pair.moored = True
                pair.n += 1
                pair.sum_distance_m += nb.distance_m
                pair.min_distance_m = min(pair.min_distance_m, nb.distance_m)
                pair.last_self = report
                pair.last_partner = nb.report
                if ctx.inside and len(pair.areas) < _MAX_AREAS:
                    new = tuple(a for a in ctx.inside if a not in pair.areas)
                    if new:
                        pair.areas = (*pair.areas, *new)[:_MAX_AREAS]
                refreshed.append(pair)
        events = self._expire(state, report.time)
        for pair in refreshed:
            events.extend(self._assess(pair, report.mmsi, report.time, ctx))
        return state, events

    def on_tick(
        self, state: EncounterState, now: datetime, ctx: Context
    ) -> tuple[EncounterState, list[Event]]:
        if not state.pairs:
            return state, []
        return state, self._expire(state, now)

    # -- internals ----------------------------------------------------------------------------
    def _expire(self, state: EncounterState, now: datetime) -> list[Event]:
        pairs = state.pairs
        if not pairs:
            return []
        gap = timedelta(seconds=self.config.gap_tolerance_s)
        events: list[Event] = []
        for mmsi in [m for m, p in pairs.items() if now - p.last_close > gap]:
            pair = pairs.pop(mmsi)
            if pair.opened:
                events.append(self._event("close", pair, pair.last_self.mmsi, now))
        if not pairs:
            state.pairs = None
        return events

    def _assess(self, pair: EncounterPair, mmsi: int, now: datetime, ctx: Context) -> list[Event]:
        cfg = self.config
        duration_s = (pair.last_close - pair.start).total_seconds()
        if duration_s < cfg.min_duration_s:
            return []
        conf, notes = self._confidence(pair, duration_s, ctx)
        if not pair.opened:
            if conf < cfg.min_confidence:
                return []
            pair.opened = True
            pair.confidence = conf
            pair.last_emit = now
            return [self._event("open", pair, mmsi, now, notes)]
        due = pair.last_emit is None or (now - pair.last_emit).total_seconds() >= (
            cfg.update_every_s
        )
        if due or abs(conf - pair.confidence) >= cfg.update_min_delta:
            pair.confidence = conf
            pair.last_emit = now
            return [self._event("update", pair, mmsi, now, notes)]
        return []

    def _confidence(
        self, pair: EncounterPair, duration_s: float, ctx: Context
    ) -> tuple[float, list[str]]:
        cfg = self.config
        span = cfg.full_duration_s - cfg.min_duration_s
        conf = 0.5 + 0.3 * min(1.0, (duration_s - cfg.min_duration_s) / span)
        notes: list[str] = []
        ship_type = ctx.vessel.ship_type
        if ship_type in SERVICE_SHIP_TYPES:
            conf *= cfg.service_factor
            notes.append(
                f"confidence lowered: this vessel is a harbour service craft (ship type "
                f"{ship_type}: tug/pilot/tender/SAR/law enforcement)"
            )
        if pair.moored:
            conf *= cfg.moored_factor
            notes.append("confidence lowered: both vessels report 'moored' (at a berth)")
        if ctx.normalcy is not None:
            sf = ctx.normalcy.stop_fraction(pair.last_self.lat, pair.last_self.lon)
            if sf is not None and sf > 0.0:
                conf *= 1.0 - cfg.stop_fraction_damping * min(1.0, sf)
                if sf >= 0.3:
                    notes.append(
                        f"confidence lowered: {sf:.0%} of traffic here is stopped "
                        "(port or anchorage)"
                    )
        if pair.crowd >= cfg.crowd_vessels:
            conf *= cfg.crowd_factor
            notes.append(
                f"confidence lowered: {pair.crowd} stopped vessels within "
                f"{cfg.release_distance_m:.0f} m (berth, marina or crowded anchorage)"
            )
        if pair.areas:
            conf += cfg.area_bonus
            notes.append(f"inside watched area {', '.join(pair.areas)}")
        return min(conf, 0.95), notes

    def _event(
        self,
        phase: EventPhase,
        pair: EncounterPair,
        mmsi: int,
        now: datetime,
        notes: list[str] | None = None,
    ) -> Event:
        duration_s = (pair.last_close - pair.start).total_seconds()
        mean_m = pair.sum_distance_m / pair.n if pair.n else pair.min_distance_m
        a, b = pair.last_self, pair.last_partner
        if phase == "close":
            reasons = [
                f"encounter with MMSI {pair.partner} ended after {duration_s / 60:.0f} min "
                f"(not within {self.config.release_distance_m:.0f} m at under "
                f"{self.config.release_speed_kn:g} kn since {pair.last_close:%H:%M}Z)"
            ]
        else:
            reasons = [
                f"stopped within {mean_m:.0f} m (closest {pair.min_distance_m:.0f} m) of MMSI "
                f"{pair.partner} for {duration_s / 60:.0f} min, both under "
                f"{self.config.release_speed_kn:g} kn",
                *(notes or ()),
            ]
        return self.make_event(
            phase,
            mmsi,
            pair.start,
            None,
            time=now,
            lat=(a.lat + b.lat) / 2,
            lon=(a.lon + b.lon) / 2 if abs(a.lon - b.lon) < 180 else a.lon,
            area_id=pair.areas[0] if pair.areas else None,
            confidence=pair.confidence,
            reasons=reasons,
            evidence_reports=(pair.first_self, pair.first_partner, a, b),
            attrs={
                "partner_mmsi": pair.partner,
                "duration_s": round(duration_s, 1),
                "min_distance_m": round(pair.min_distance_m, 1),
                "mean_distance_m": round(mean_m, 1),
                "area_ids": list(pair.areas),
                "stopped_nearby": pair.crowd,
                "ended": pair.last_close.isoformat() if phase == "close" else None,
            },
            discriminator=str(pair.partner),
        )
