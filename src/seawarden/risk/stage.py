"""The risk stage of the pipeline: findings in, assessments, monitoring and alerts out.

Sits after the detectors. For every vessel with something against it (a detector finding,
or a watchlist match) it re-scores on each report, decides whether the vessel is monitored,
predicts its track and next corridor crossing while monitored (and for watchlisted vessels
*before* they reach an area — the ``approach`` finding), and passes the assessment to the
alert lifecycle. Vessels with nothing against them cost one dict lookup.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from seawarden.alerts.lifecycle import AlertConfig, AlertLifecycle, reasons_of
from seawarden.alerts.model import Alert, MsgType, NextCrossing, Status
from seawarden.areas.index import AreaIndex
from seawarden.fleet.vessel import VesselState
from seawarden.model import Event, PositionReport, event_id
from seawarden.risk.monitor import (
    CorridorDistance,
    Crossing,
    CrossingPredictor,
    Monitor,
    MonitorConfig,
    predict,
    velocity,
)
from seawarden.risk.score import Assessment, PriorSource, RiskConfig, RiskEngine

APPROACH_VERSION = "1"


@dataclass(frozen=True, slots=True, kw_only=True)
class RiskSettings:
    risk: RiskConfig = field(default_factory=RiskConfig)
    monitor: MonitorConfig = field(default_factory=MonitorConfig)
    alerts: AlertConfig = field(default_factory=AlertConfig)
    approach_every_s: float = 60.0


# A next crossing and the predicted track it was found on.
_Path = tuple[Crossing | None, tuple[tuple[datetime, float, float], ...]]


@dataclass(slots=True)
class _Approach:
    event_id: str
    start: datetime
    area_id: str
    last_eta: datetime
    last_emit: datetime


class RiskStage:
    def __init__(
        self,
        settings: RiskSettings | None = None,
        index: AreaIndex | None = None,
        *,
        priors: Sequence[PriorSource] = (),
    ):
        self.settings = settings or RiskSettings()
        self.engine = RiskEngine(self.settings.risk, priors)
        self.monitor = Monitor(self.settings.monitor)
        self.alerts = AlertLifecycle(self.settings.alerts)
        self.index = index
        self.predictor = CrossingPredictor(index) if index is not None else None
        self.corridor_distance = CorridorDistance(index) if index is not None else None
        self.latest: dict[int, Assessment] = {}
        self.owns: Callable[[int], bool] | None = None  # set by a partitioned core
        self._approach: dict[int, _Approach] = {}
        self._approach_checked: dict[int, datetime] = {}
        # The last prediction per vessel and what it was made from. A tick re-scores every
        # vessel with an open alert, but its predicted track only changes with a new
        # position (``n_positions``), place or area set, so most ticks reuse it (issue 8).
        self._predicted: dict[int, tuple[PositionReport, int, tuple[str, ...], object, _Path]] = {}

    # -- per report ------------------------------------------------------------------------------
    def on_report(
        self,
        vessel: VesselState,
        report: PositionReport,
        inside: tuple[str, ...],
        findings: list[Event],
    ) -> tuple[list[Event], list[Alert]]:
        """Returns (approach events produced here, alert revisions)."""
        produced: list[Event] = []
        if vessel.watch is not None and self.predictor is not None:
            produced.extend(self._approach_check(vessel, report, inside))
        self.engine.observe([*findings, *produced])
        self.mirror_encounters(vessel, findings, owns=self.owns)
        quiet = vessel.mmsi not in self.engine and not self.alerts.has_open(vessel.mmsi)
        if quiet and vessel.watch is None:
            return produced, []
        alert = self._assess(vessel, report, inside, report.time)
        return produced, [alert] if alert else []

    def mirror_encounters(
        self,
        vessel: VesselState,
        findings: list[Event],
        *,
        owns: Callable[[int], bool] | None = None,
    ) -> None:
        """An encounter is reported once per pair (by the lower MMSI); the partner is in the
        meeting too, so it gets the finding as well — stronger if it met a listed vessel.
        ``owns``: in a partitioned worker, only partners it owns are scored here."""
        mirrored: list[Event] = []
        for ev in findings:
            partner = ev.attrs.get("partner_mmsi") if ev.kind == "encounter" else None
            if not isinstance(partner, int):
                continue
            if owns is not None and not owns(partner):
                continue
            listed = vessel.watch is not None
            who = vessel.name or str(vessel.mmsi)
            reason = f"meeting {who} (MMSI {vessel.mmsi})" + (
                f", which is on the watchlist ({vessel.watch.entry.name or vessel.watch.key})"
                if vessel.watch is not None
                else ""
            )
            attrs = {
                **ev.attrs,
                "partner_mmsi": vessel.mmsi,
                "reasons": [reason, *ev.attrs.get("reasons", [])],
            }
            if listed:
                attrs["type"] = "with_watchlisted"
            mirrored.append(
                Event(
                    id=ev.id + "-p",
                    kind=ev.kind,
                    phase=ev.phase,
                    mmsi=partner,
                    time=ev.time,
                    lat=ev.lat,
                    lon=ev.lon,
                    area_id=ev.area_id,
                    producer_version=ev.producer_version,
                    attrs=attrs,
                )
            )
        self.engine.observe(mirrored)

    def tick(
        self,
        vessels: dict[int, VesselState],
        now: datetime,
        *,
        positions: dict[int, PositionReport] | None = None,
    ) -> list[Alert]:
        """Re-score the given vessels when no report comes (new tick findings, decay, cancel).
        ``positions``: where another sensor sees a vessel whose AIS is silent (the alert then
        gives that position rather than the last AIS one)."""
        out: list[Alert] = []
        for mmsi in sorted(vessels):
            vessel = vessels.get(mmsi)
            if vessel is None or vessel.last is None:
                continue
            last = (positions or {}).get(mmsi) or vessel.last
            inside = self.index.containing(last.lon, last.lat) if self.index else ()
            alert = self._assess(vessel, last, inside, now)
            if alert is not None:
                out.append(alert)
        return out

    # -- internals -----------------------------------------------------------------------------
    def _assess(
        self, vessel: VesselState, report: PositionReport, inside: tuple[str, ...], now: datetime
    ) -> Alert | None:
        dist = (
            self.corridor_distance(report.lat, report.lon, inside)
            if self.corridor_distance is not None
            else None
        )
        a = self.engine.assess(vessel, now, corridor_distance_m=dist)
        self.latest[vessel.mmsi] = a
        monitored = self.monitor.update(vessel.mmsi, a.level, now)
        crossing: Crossing | None = None
        track: tuple[tuple[datetime, float, float], ...] = ()
        if monitored or a.level in ("medium", "high", "critical"):
            crossing, track = self._predict(vessel, report, inside)
            if crossing is not None and crossing.inside_now:
                crossing = Crossing(
                    area_id=crossing.area_id, eta=now, distance_m=0.0, inside_now=True
                )
        areas = tuple(sorted(set(a.area_ids) | set(inside)))

        def build(alert_id: str, revision: int, msg_type: MsgType) -> Alert:
            return Alert(
                id=alert_id,
                revision=revision,
                msg_type=msg_type,
                mmsi=vessel.mmsi,
                imo=vessel.imo,
                name=vessel.name,
                flag=vessel.flag,
                severity=a.level,
                score=a.score,
                event_time=now,
                lat=report.lat,
                lon=report.lon,
                area_ids=areas,
                detectors=tuple(sorted({c.source.split(".")[0] for c in a.contributions})),
                reasons=reasons_of(a),
                next_crossing=None
                if crossing is None
                else NextCrossing(
                    area_id=crossing.area_id,
                    eta=crossing.eta,
                    distance_m=crossing.distance_m,
                    inside_now=crossing.inside_now,
                ),
                watchlist=_watch(vessel),
                monitored=monitored,
                predicted_track=track if monitored else (),
                status=cast(Status, self.settings.alerts.status),
                releasability=self.settings.alerts.marking_for(areas),
                notes=a.notes,
            )

        return self.alerts.update(a, lat=report.lat, lon=report.lon, build=build)

    def _predict(
        self, vessel: VesselState, report: PositionReport, inside: tuple[str, ...]
    ) -> _Path:
        made = self._predicted.get(vessel.mmsi)
        if (
            made is not None
            and made[0] is report
            and made[1] == vessel.n_positions
            and made[2] == inside
            and made[3] is self.predictor
        ):
            return made[4]
        path = self._predict_now(vessel, report, inside)
        self._predicted[vessel.mmsi] = (report, vessel.n_positions, inside, self.predictor, path)
        return path

    def _predict_now(
        self, vessel: VesselState, report: PositionReport, inside: tuple[str, ...]
    ) -> _Path:
        cfg = self.settings.monitor
        vel = velocity(vessel.track, cfg.smooth_reports)
        if vel is None or self.predictor is None:
            return None, ()
        speed, course = vel
        if speed < cfg.min_speed_kn:
            crossing = self.predictor.next_crossing(
                [(report.time, report.lat, report.lon)] * 2, inside=inside
            )
            return (crossing if crossing and crossing.inside_now else None), ()
        path = predict(report, speed, course, cfg.horizon_s, cfg.step_s)
        return self.predictor.next_crossing(path, inside=inside), tuple(path)

    def _approach_check(
        self, vessel: VesselState, report: PositionReport, inside: tuple[str, ...]
    ) -> list[Event]:
        """A watchlisted vessel predicted to enter a corridor within the approach horizon."""
        last = self._approach_checked.get(vessel.mmsi)
        every = timedelta(seconds=self.settings.approach_every_s)
        if last is not None and report.time - last < every:
            return []
        self._approach_checked[vessel.mmsi] = report.time
        cfg = self.settings.monitor
        crossing = None
        vel = velocity(vessel.track, cfg.smooth_reports)
        if vel is not None and vel[0] >= cfg.min_speed_kn and self.predictor is not None:
            path = predict(report, vel[0], vel[1], cfg.approach_horizon_s, cfg.step_s)
            crossing = self.predictor.next_crossing(path, inside=inside)
        state = self._approach.get(vessel.mmsi)
        match = vessel.watch
        if crossing is None or crossing.inside_now or match is None:
            if state is None:
                return []
            del self._approach[vessel.mmsi]
            reason = (
                "entered the corridor"
                if crossing and crossing.inside_now
                else "no longer heading for a corridor"
            )
            return [
                self._approach_event(
                    "close", vessel, report, state, state.area_id, state.last_eta, reason, 0.0
                )
            ]
        minutes = (crossing.eta - report.time).total_seconds() / 60
        conf = match.score * (1.0 - 0.5 * minutes / (cfg.approach_horizon_s / 60))
        text = f"watchlisted vessel predicted to enter {crossing.area_id} in {minutes:.0f} min"
        if state is None:
            state = _Approach(
                event_id=event_id("approach", vessel.mmsi, report.time),
                start=report.time,
                area_id=crossing.area_id,
                last_eta=crossing.eta,
                last_emit=report.time,
            )
            self._approach[vessel.mmsi] = state
            return [
                self._approach_event(
                    "open", vessel, report, state, crossing.area_id, crossing.eta, text, conf
                )
            ]
        if (
            crossing.area_id != state.area_id
            or abs((crossing.eta - state.last_eta).total_seconds()) >= 600
        ):
            state.area_id, state.last_eta, state.last_emit = (
                crossing.area_id,
                crossing.eta,
                report.time,
            )
            return [
                self._approach_event(
                    "update", vessel, report, state, crossing.area_id, crossing.eta, text, conf
                )
            ]
        return []

    @staticmethod
    def _approach_event(
        phase: str,
        vessel: VesselState,
        report: PositionReport,
        state: _Approach,
        area_id: str,
        eta: datetime,
        reason: str,
        confidence: float,
    ) -> Event:
        return Event(
            id=state.event_id,
            kind="approach",
            phase=phase,  # type: ignore[arg-type]
            mmsi=vessel.mmsi,
            time=report.time,
            lat=report.lat,
            lon=report.lon,
            area_id=area_id,
            producer_version=APPROACH_VERSION,
            attrs={
                "confidence": round(max(0.0, min(1.0, confidence)), 3),
                "reasons": [reason],
                "started": state.start.isoformat(),
                "eta": eta.isoformat(),
            },
        )

    def forget(self, alive: set[int]) -> None:
        self.engine.forget(alive)
        for d in (self.latest, self._approach, self._approach_checked, self._predicted):
            for m in [m for m in d if m not in alive]:
                del d[m]
        for m in [m for m in self.monitor.monitored if m not in alive]:
            del self.monitor.monitored[m]

    # -- checkpointing ----------------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        return {
            "engine": self.engine.snapshot(),
            "alerts": self.alerts.snapshot(),
            "monitored": {str(m): t.isoformat() for m, t in self.monitor.monitored.items()},
            "below": {str(m): t.isoformat() for m, t in self.monitor._below_since.items()},
            "approach": {
                str(m): [
                    s.event_id,
                    s.start.isoformat(),
                    s.area_id,
                    s.last_eta.isoformat(),
                    s.last_emit.isoformat(),
                ]
                for m, s in self._approach.items()
            },
            "approach_checked": {str(m): t.isoformat() for m, t in self._approach_checked.items()},
        }

    def restore(self, snap: dict[str, Any]) -> None:
        self.engine.restore(snap["engine"])
        self.alerts.restore(snap["alerts"])
        self.monitor.monitored = {
            int(m): datetime.fromisoformat(t) for m, t in snap["monitored"].items()
        }
        self.monitor._below_since = {
            int(m): datetime.fromisoformat(t) for m, t in snap["below"].items()
        }
        self._approach = {
            int(m): _Approach(
                event_id=v[0],
                start=datetime.fromisoformat(v[1]),
                area_id=v[2],
                last_eta=datetime.fromisoformat(v[3]),
                last_emit=datetime.fromisoformat(v[4]),
            )
            for m, v in snap["approach"].items()
        }
        self._approach_checked = {
            int(m): datetime.fromisoformat(t) for m, t in snap["approach_checked"].items()
        }


def _watch(vessel: VesselState) -> dict[str, Any] | None:
    from seawarden.pipeline.core import match_to_dict

    return match_to_dict(vessel.watch)
