"""The pipeline core: one ordered record in, the events it causes out.

This is the part that is the same for a file replay, a live feed or a partitioned worker:
it owns the per-vessel stages (fleet, area tracker) and turns their findings into
:class:`~seawarden.model.Event`s. It never reads input or knows about sockets; runners
(``pipeline.replay``, ``pipeline.live``) feed it records already in event-time order.
Store writes are buffered and flushed in batches by the runner, because one SQLite
transaction per report would cap throughput at disk speed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from seawarden.alerts.model import Alert
from seawarden.areas.index import AreaIndex
from seawarden.areas.tracker import AreaTracker
from seawarden.clock import ReplayClock
from seawarden.detectors.runner import DetectorRunner
from seawarden.errors import ConfigError
from seawarden.fleet.fleet import Fleet
from seawarden.fleet.vessel import IdentityChange, VesselState
from seawarden.fleet.watchlist import Watchlist, WatchlistMatch
from seawarden.model import (
    Contact,
    Event,
    Observation,
    PositionReport,
    SensorPass,
    StaticReport,
    event_id,
)
from seawarden.risk.monitor import CorridorDistance, CrossingPredictor
from seawarden.risk.stage import RiskStage
from seawarden.store.base import IdentityRow, Store, VesselRow
from seawarden.store.evidence import EvidenceRetention, RetentionConfig, store_writer

if TYPE_CHECKING:
    from seawarden.fusion.stage import FusionOutput, FusionStage
    from seawarden.fusion.weather import WeatherContext

PIPELINE_VERSION = "1"

PositionsMode = Literal["full", "sampled", "none"]


@dataclass(frozen=True, slots=True, kw_only=True)
class CoreConfig:
    """``positions``: which positions go to the store — every one (``full``), one per
    vessel per ``position_sample_s`` (``sampled``, the default: enough to draw tracks at a
    fraction of the size), or ``none``. ``expire_every_s``: how often (event time) vessels
    unheard for their TTL are dropped from memory. ``evidence``: keep each vessel's raw
    messages (last ``evidence_horizon_s`` / ``evidence_max_lines``) and store them when it
    is alerted (store/evidence.py; only with a store); the same for radar tracks and
    satellite passes (``evidence_contact_max_lines`` per ring, ``evidence_contact_max_total``
    in all), stored when an alerted vessel's fusion findings cite them."""

    positions: PositionsMode = "sampled"
    position_sample_s: float = 60.0
    expire_every_s: float = 600.0
    evidence: bool = True
    evidence_horizon_s: float = 6 * 3600.0
    evidence_max_lines: int = 2000
    evidence_contact_max_lines: int = 2000
    evidence_contact_max_total: int = 100_000

    def __post_init__(self) -> None:
        if self.positions not in ("full", "sampled", "none"):
            raise ValueError("positions must be full, sampled or none")
        if self.position_sample_s <= 0 or self.expire_every_s <= 0:
            raise ValueError("position_sample_s and expire_every_s must be > 0")


def match_to_dict(match: WatchlistMatch | None) -> dict[str, Any] | None:
    if match is None:
        return None
    e = match.entry
    return {
        "key": match.key,
        "score": round(match.score, 3),
        "detail": match.detail,
        "entry": {
            "imo": e.imo,
            "mmsis": list(e.mmsis),
            "name": e.name,
            "flag": e.flag,
            "lists": list(e.lists),
            "reason": e.reason,
            "source": e.source,
        },
    }


class PipelineCore:
    """Fleet → areas → events, with buffered store writes."""

    def __init__(
        self,
        *,
        fleet: Fleet,
        tracker: AreaTracker | None,
        detectors: DetectorRunner | None = None,
        risk: RiskStage | None = None,
        store: Store | None = None,
        config: CoreConfig | None = None,
        clock: ReplayClock | None = None,
        fusion: FusionStage | None = None,
        weather: WeatherContext | None = None,
        owns: Callable[[int], bool] | None = None,
    ) -> None:
        if owns is not None and fusion is not None:
            # Contacts are associated against every AIS vessel and get target ids of their
            # own: fusion would need a partition of its own (not built).
            raise ConfigError("sensor fusion cannot run in a partitioned worker")
        # A partitioned worker (pipeline/partition.py): every record is read, so the vessel
        # picture and the cross-vessel detectors see what one process sees, but only owned
        # vessels get area events, detectors, risk, alerts and store writes.
        self.owns = owns
        if owns is not None and detectors is not None:
            detectors.owns = owns
        self.fleet = fleet
        self.fusion = fusion
        self.weather = weather
        self.collect_targets = False
        self._targets_out: list[PositionReport] = []
        self.tracker = tracker
        self.detectors = detectors
        self.risk = risk
        if owns is not None and risk is not None:
            risk.owns = owns
        self._alerts_out: list[Alert] = []
        self._alerts_store: list[Alert] = []
        self.store = store
        self.config = config or CoreConfig()
        self.clock = clock or ReplayClock()
        self._sample = timedelta(seconds=self.config.position_sample_s)
        self._last_stored: dict[int, datetime] = {}
        self._next_expire: datetime | None = None
        self._positions: list[PositionReport] = []
        self._dirty: set[int] = set()
        self._identity: list[IdentityRow] = []
        self._events: list[Event] = []
        self.counts: dict[str, int] = {
            "positions": 0,
            "statics": 0,
            "events": 0,
            "contacts": 0,
            "passes": 0,
            "contacts_unfused": 0,
            "context": 0,
        }
        # SQLiteStore or PostgresStore: the writer goes through the store's own connection
        writer = store_writer(store) if store is not None and self.config.evidence else None
        self.evidence = None if writer is None else EvidenceRetention(self._retention(), writer)

    @property
    def index(self) -> AreaIndex | None:
        return self.tracker.index if self.tracker is not None else None

    def drain_alerts(self) -> list[Alert]:
        """Alert revisions produced since the last call (the runner hands them to sinks)."""
        out, self._alerts_out = self._alerts_out, []
        return out

    def process(self, rec: Observation) -> list[Event]:
        self.clock.advance(rec.time)
        owns = self.owns
        if owns is not None and not isinstance(rec, (Contact, SensorPass)) and not owns(rec.mmsi):
            self._context(rec)
            events = self._maybe_tick(rec.time)
            events.extend(self._maybe_expire(rec.time))
            if events:
                self.counts["events"] += len(events)
                if self.store is not None:
                    self._events.extend(events)
            return events
        if isinstance(rec, PositionReport):
            events = self._position(rec)
        elif isinstance(rec, StaticReport):
            events = self._static(rec)
        else:
            events = []
            self._sensor(rec)
        if self.fusion is not None:
            events.extend(self._fused(self.fusion.advance(rec.time, self.fleet), rec.time))
        events.extend(self._maybe_tick(rec.time))
        events.extend(self._maybe_expire(rec.time))
        if events:
            self.counts["events"] += len(events)
            if self.store is not None:
                self._events.extend(events)
        return events

    def end_of_stream(self) -> tuple[list[Event], list[Alert]]:
        """The input ended: contacts still held for association are judged now; returns
        their events and the alert revisions they caused."""
        if self.fusion is None:
            return [], self.drain_alerts()
        events = self._fused(self.fusion.flush(self.fleet), self.clock.now())
        if events:
            self.counts["events"] += len(events)
            if self.store is not None:
                self._events.extend(events)
        return events, self.drain_alerts()

    def _sensor(self, rec: Contact | SensorPass) -> None:
        self.counts["contacts" if isinstance(rec, Contact) else "passes"] += 1
        if self.fusion is None:
            # Counted, so a run given contacts but no sensors file says so in its summary.
            self.counts["contacts_unfused"] += 1
        elif isinstance(rec, Contact):
            self.fusion.on_contact(rec)
        else:
            self.fusion.on_pass(rec)

    def _fused(self, out: FusionOutput, now: datetime) -> list[Event]:
        """Fusion findings: dark targets join the fleet and the area tracker (so they are on
        the map and get area events; AIS detectors never see them), findings go to risk."""
        if not out.events and not out.targets:
            return []
        events: list[Event] = []
        for rep in out.targets:
            events.extend(self._target(rep))
        events.extend(out.events)
        if self.evidence is not None and out.events:
            self.evidence.on_findings(out.events)  # the contact rings findings cite
        if self.risk is not None and out.events:
            touched = self.risk.engine.observe(out.events)
            vessels = {m: v for m in sorted(touched) if (v := self.fleet.get(m)) is not None}
            self._emit_alerts(self.risk.tick(vessels, now, positions=out.sensed))
            if self.detectors is not None:
                self.detectors.monitored = set(self.risk.monitor.monitored)
        return events

    def drain_targets(self) -> list[PositionReport]:
        """Non-AIS target positions since the last call (only with ``collect_targets``)."""
        out, self._targets_out = self._targets_out, []
        return out

    def _target(self, rep: PositionReport) -> list[Event]:
        """A non-AIS target's estimated position (mmsi is a fusion target id)."""
        self.fleet.on_position(rep)
        if self.collect_targets:
            self._targets_out.append(rep)
        events: list[Event] = []
        if self.tracker is not None and self.index is not None:
            events.extend(self.tracker.step(rep, self.index.containing(rep.lon, rep.lat)))
        if self.store is not None:
            self._dirty.add(rep.mmsi)
            self._store_position(rep)
        return events

    def _context(self, rec: PositionReport | StaticReport) -> None:
        """A vessel another partition owns: it updates the replicated picture (fleet, IMO
        links, neighbours, coverage) and its cross-vessel detectors, whose findings reach
        only owned partners (the encounter mirror); nothing of its own is emitted."""
        self.counts["context"] += 1
        if isinstance(rec, StaticReport):
            self.fleet.on_static(rec)
            vessel = self.fleet.get(rec.mmsi)
            if self.detectors is not None and vessel is not None:
                self.detectors.on_static(vessel, rec)  # same state lifetimes as one process
            return
        vessel = self.fleet.on_position(rec)
        if self.detectors is None:
            return
        index = self.index
        inside = index.containing(rec.lon, rec.lat) if index is not None else ()
        findings = self.detectors.on_position(vessel, rec, inside)
        if findings and self.risk is not None:
            self.risk.mirror_encounters(vessel, findings, owns=self.owns)

    def _position(self, rep: PositionReport) -> list[Event]:
        self.counts["positions"] += 1
        vessel = self.fleet.on_position(rep)
        if self.fusion is not None:
            self.fusion.on_ais(rep)
        events: list[Event] = []
        index = self.index
        inside = index.containing(rep.lon, rep.lat) if index is not None else ()
        if self.tracker is not None:
            events.extend(self.tracker.step(rep, inside))
        findings: list[Event] = []
        if self.detectors is not None:
            findings = self.detectors.on_position(vessel, rep, inside)
            if self.weather is not None and findings:
                findings.extend(self.weather.on_findings(findings))
        if self.risk is not None:
            produced, alerts = self.risk.on_report(vessel, rep, inside, findings)
            findings.extend(produced)
            self._emit_alerts(alerts)
            if self.detectors is not None:
                self.detectors.monitored = set(self.risk.monitor.monitored)
        events.extend(findings)
        # A vessel first heard through a position and matched on its MMSI alone; matches
        # made from static data are announced in ``_static``.
        if vessel.watch is not None and vessel.n_positions == 1 and vessel.n_statics == 0:
            events.append(_watch_event(vessel, vessel.watch, rep.time, rep.lat, rep.lon))
        if self.store is not None:
            self._dirty.add(rep.mmsi)
            self._store_position(rep)
        return events

    def _static(self, rep: StaticReport) -> list[Event]:
        self.counts["statics"] += 1
        vessel_before = self.fleet.get(rep.mmsi)
        watch_before = vessel_before.watch if vessel_before is not None else None
        changes = self.fleet.on_static(rep)
        vessel = self.fleet.get(rep.mmsi)
        events: list[Event] = []
        if vessel is None:  # pragma: no cover - on_static always creates the vessel
            return events
        last = vessel.last
        lat, lon = (last.lat, last.lon) if last is not None else (0.0, 0.0)
        for ch in changes:
            events.append(_identity_event(ch, lat, lon))
        if self.detectors is not None:
            findings = self.detectors.on_static(vessel, rep)
            if self.risk is not None:
                self.risk.engine.observe(findings)
            events.extend(findings)
        watch = vessel.watch
        if watch is not None and (
            watch_before is None or watch_before.entry.key != watch.entry.key
        ):
            events.append(_watch_event(vessel, watch, rep.time, lat, lon))
        if self.store is not None:
            self._dirty.add(rep.mmsi)
            self._identity.extend(
                IdentityRow(
                    mmsi=c.mmsi,
                    time=c.time,
                    field=c.field,
                    old=None if c.old is None else str(c.old),
                    new=None if c.new is None else str(c.new),
                    source=c.source,
                )
                for c in changes
            )
        return events

    def _store_position(self, rep: PositionReport) -> None:
        mode = self.config.positions
        if mode == "none":
            return
        if mode == "sampled":
            last = self._last_stored.get(rep.mmsi)
            if last is not None and rep.time - last < self._sample:
                return
            self._last_stored[rep.mmsi] = rep.time
        self._positions.append(rep)

    def _retention(self) -> RetentionConfig:
        c = self.config
        return RetentionConfig(
            horizon_s=c.evidence_horizon_s,
            max_lines=c.evidence_max_lines,
            contact_max_lines=c.evidence_contact_max_lines,
            contact_max_total=c.evidence_contact_max_total,
        )

    def _emit_alerts(self, alerts: list[Alert]) -> None:
        if alerts:
            if self.evidence is not None:
                self.evidence.on_alerts(alerts)  # the raw messages, with the revision
            self._alerts_out.extend(alerts)
            if self.store is not None:
                self._alerts_store.extend(alerts)

    def _maybe_tick(self, now: datetime) -> list[Event]:
        """Periodic work in event time: silent vessels (gaps), risk decay and cancels."""
        if self.detectors is None:
            return []
        events = self.detectors.maybe_tick(now, self.fleet)
        if self.owns is not None and events:
            owns = self.owns
            events = [e for e in events if e.mmsi is None or owns(e.mmsi)]
        if self.weather is not None and events:
            events.extend(self.weather.on_findings(events))
        if self.risk is not None and (events or self.detectors.ticked):
            # Only what can change an alert: vessels with new findings from this tick, and
            # vessels with an open alert (their faded score may now cancel it). Fading alone
            # cannot raise a score, so other vessels need no look.
            touched = self.risk.engine.observe(events)
            vessels = {m: v for m in touched if (v := self.fleet.get(m)) is not None}
            for m in self.risk.alerts.open_alerts():
                if (v := self.fleet.get(m)) is not None:
                    vessels[m] = v
            self._emit_alerts(self.risk.tick(vessels, now))
            self.detectors.monitored = set(self.risk.monitor.monitored)
        return events

    def _maybe_expire(self, now: datetime) -> list[Event]:
        if self._next_expire is None:
            self._next_expire = now + timedelta(seconds=self.config.expire_every_s)
            return []
        if now < self._next_expire:
            return []
        self._next_expire = now + timedelta(seconds=self.config.expire_every_s)
        events = self.tracker.expire(now) if self.tracker is not None else []
        self.fleet.expire(now)
        if self.evidence is not None:
            self.evidence.expire(now)
        live = self.fleet
        alive = {v.mmsi for v in live}
        if self.detectors is not None:
            self.detectors.expire(now, alive)
        if self.fusion is not None:
            self.fusion.expire(now)
        if self.risk is not None:
            self.risk.forget(alive | set(self.risk.alerts.open_alerts()))
        self._last_stored = {m: t for m, t in self._last_stored.items() if m in live}
        return events

    # -- changes while running (the API; called between two records) -------------------------
    def replace_areas(self, index: AreaIndex | None) -> None:
        """Watch a new set of areas from the next record on. Visits to areas that still
        exist carry over (no spurious enter events); visits to removed areas end silently."""
        tracker = None
        if index is not None:
            tracker = AreaTracker(index, self.tracker.config if self.tracker else None)
            if self.tracker is not None:
                snap = self.tracker.snapshot()
                known = {a.id for a in index.areas}
                for v in snap["vessels"].values():
                    v["visits"] = {a: vis for a, vis in v["visits"].items() if a in known}
                tracker.restore(snap)
        self.tracker = tracker
        if self.detectors is not None:
            self.detectors.areas = index
        if self.fusion is not None:
            self.fusion.replace_areas(index)
        if self.risk is not None:
            self.risk.index = index
            self.risk.predictor = CrossingPredictor(index) if index is not None else None
            self.risk.corridor_distance = CorridorDistance(index) if index is not None else None

    def replace_watchlist(self, watchlist: Watchlist | None) -> None:
        """Match vessels against a new watchlist: matches to removed entries are dropped,
        every vessel in memory is matched again (new entries take effect at once)."""
        self.fleet.watchlist = watchlist
        for vessel in self.fleet:
            if vessel.watch is not None and (
                watchlist is None or watchlist.get(vessel.watch.entry.key) is None
            ):
                vessel.watch = None
            self.fleet._rematch(vessel)  # the fleet's own (sticky) matching rule

    def cancel_alert(self, alert_id: str) -> Alert | None:
        """An operator's cancel: the open alert ``alert_id`` is forgotten by the lifecycle
        (a new situation opens a new alert) and its Cancel revision is emitted like any
        other. ``None`` if no open alert has that id."""
        if self.risk is None:
            return None
        lifecycle = self.risk.alerts
        for mmsi, open_id in lifecycle.open_alerts().items():
            if open_id != alert_id:
                continue
            current = lifecycle._open.pop(mmsi)  # the lifecycle has no public forget
            if current.last is None:  # restored from a checkpoint: no revision in memory
                return None
            cancel = replace(
                current.last,
                revision=current.revision + 1,
                msg_type="Cancel",
                event_time=max(self.clock.now(), current.last.event_time),
                predicted_track=(),
            )
            self._emit_alerts([cancel])
            return cancel
        return None

    # -- store ----------------------------------------------------------------------------
    def flush(self) -> None:
        """Write buffered positions, vessels, identity changes and events to the store."""
        store = self.store
        if store is None:
            return
        if self._positions:
            store.write_positions(self._positions)
            self._positions = []
        if self._dirty:
            rows = [
                vessel_row(v) for m in sorted(self._dirty) if (v := self.fleet.get(m)) is not None
            ]
            store.upsert_vessels(rows)
            self._dirty = set()
        if self._identity:
            store.write_identity(self._identity)
            self._identity = []
        if self._events:
            store.write_events(self._events)
            self._events = []
        if self._alerts_store:
            store.write_alerts(self._alerts_store)
            self._alerts_store = []
        if self.evidence is not None:
            self.evidence.flush()

    # -- checkpointing ----------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        return {
            "fleet": self.fleet.snapshot(),
            "tracker": self.tracker.snapshot() if self.tracker is not None else None,
            "detectors": self.detectors.snapshot() if self.detectors is not None else None,
            "risk": self.risk.snapshot() if self.risk is not None else None,
            "fusion": self.fusion.snapshot() if self.fusion is not None else None,
            "weather": self.weather.snapshot() if self.weather is not None else None,
            "last_stored": {str(m): t.isoformat() for m, t in self._last_stored.items()},
            "next_expire": self._next_expire.isoformat() if self._next_expire else None,
            "clock": self.clock.now().isoformat(),
            "counts": dict(self.counts),
        }

    def restore(self, snap: dict[str, Any]) -> None:
        self.fleet.restore(snap["fleet"])
        if self.tracker is not None and snap.get("tracker") is not None:
            self.tracker.restore(snap["tracker"])
        if self.detectors is not None and snap.get("detectors") is not None:
            self.detectors.restore(snap["detectors"])
        if self.risk is not None and snap.get("risk") is not None:
            self.risk.restore(snap["risk"])
        if self.fusion is not None and snap.get("fusion") is not None:
            self.fusion.restore(snap["fusion"])
        if self.weather is not None and snap.get("weather") is not None:
            self.weather.restore(snap["weather"])
        self._last_stored = {
            int(m): datetime.fromisoformat(t) for m, t in snap.get("last_stored", {}).items()
        }
        ne = snap.get("next_expire")
        self._next_expire = datetime.fromisoformat(ne) if ne else None
        self.clock.advance(datetime.fromisoformat(snap["clock"]))
        self.counts.update(snap.get("counts", {}))


def vessel_row(v: VesselState) -> VesselRow:
    last = v.last
    return VesselRow(
        mmsi=v.mmsi,
        first_seen=v.first_seen,
        last_seen=v.last_seen,
        lat=last.lat if last else None,
        lon=last.lon if last else None,
        speed_kn=last.speed_kn if last else None,
        course_deg=last.course_deg if last else None,
        imo=v.imo,
        name=v.name,
        callsign=v.callsign,
        ship_type=v.ship_type,
        flag=v.flag,
        mmsi_class=str(v.identity.kind),
        watchlist=match_to_dict(v.watch),
    )


def _identity_event(ch: IdentityChange, lat: float, lon: float) -> Event:
    return Event(
        id=event_id("identity.change", ch.mmsi, ch.time, ch.field),
        kind="identity.change",
        phase="instant",
        mmsi=ch.mmsi,
        time=ch.time,
        lat=lat,
        lon=lon,
        producer_version=PIPELINE_VERSION,
        attrs={"field": ch.field, "old": ch.old, "new": ch.new, "source": ch.source},
    )


def _watch_event(
    vessel: VesselState, match: WatchlistMatch, time: datetime, lat: float, lon: float
) -> Event:
    return Event(
        id=event_id("watchlist.match", vessel.mmsi, time, match.entry.key),
        kind="watchlist.match",
        phase="instant",
        mmsi=vessel.mmsi,
        time=time,
        lat=lat,
        lon=lon,
        producer_version=PIPELINE_VERSION,
        attrs={"match": match_to_dict(match)},
    )
