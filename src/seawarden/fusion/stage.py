"""The fusion stage: AIS meets radar and satellites; dark vessels and contradicted AIS.

The pipeline feeds every AIS position (:meth:`FusionStage.on_ais`), every sensor contact
(:meth:`~FusionStage.on_contact`) and satellite pass (:meth:`~FusionStage.on_pass`), and calls
:meth:`~FusionStage.advance` after each record. Contacts wait ``hold_s`` of event time so
AIS reports just after them are there to interpolate; then each scan is associated
(``associate.py``), radar tracks are updated (``tracks.py``) and findings are emitted:
``dark_target``, ``dark_tracked``, ``link``, ``contradicted``, ``unconfirmed``,
``confirmed`` (``docs/fusion.md`` describes each).

Determinism: work is processed in (time, sensor, key) order; AIS fixes used for a contact at
``t`` are only those with time ≤ ``t + hold_s / 2``; no wall clock; closings carry the event time
they happened at, not the time they were noticed.
"""

from __future__ import annotations

import bisect
import heapq
import math
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from seawarden.areas.index import AreaIndex
from seawarden.fleet.fleet import Fleet
from seawarden.fusion.associate import AisIndex, ScanResult, associate
from seawarden.fusion.config import FusionConfig
from seawarden.fusion.ids import target_id
from seawarden.fusion.passes import contact_dict, contact_from, pass_dict, pass_from, process_pass
from seawarden.fusion.predict import KN, CVFilter, Fix, speed_course, velocity_en
from seawarden.fusion.sensors import DEFAULT_SIGMA_M, SensorRegistry
from seawarden.fusion.tracks import (
    OpenFinding,
    SensorTrack,
    contact_evidence,
    make_event,
    minutes,
)
from seawarden.geo.sphere import distance_m
from seawarden.model.contacts import Contact, SensorPass
from seawarden.model.events import Event, EventPhase
from seawarden.model.reports import PositionReport
from seawarden.risk.monitor import CrossingPredictor, predict

if TYPE_CHECKING:
    from seawarden.detectors.base import Coverage

SNAPSHOT_VERSION = 1
RECENT_S = 120.0  # processed contacts kept per sensor for "does anything support the claim"


@dataclass(slots=True)
class FusionOutput:
    events: list[Event] = field(default_factory=list)
    targets: list[PositionReport] = field(default_factory=list)
    sensed: dict[int, PositionReport] = field(default_factory=dict)


def _ts(t: datetime) -> float:
    return t.timestamp()


def _contact_key(c: Contact) -> tuple[float, str, str, str, int]:
    return (_ts(c.time), c.sensor, c.track or "", c.pass_id or "", c.line_no)


class FusionStage:
    """See the module docstring; the interface is the integrator's contract."""

    def __init__(
        self,
        sensors: SensorRegistry,
        config: FusionConfig | None = None,
        *,
        areas: AreaIndex | None = None,
        coverage: Coverage | None = None,
    ) -> None:
        self.sensors = sensors
        # who else the AIS receivers hear near a place (the detector runner's CellCoverage);
        # None: no coverage information, dark_tracked confidence capped low
        self.coverage: Coverage | None = coverage
        self.stats: dict[str, int] = {
            "dark_tracked_no_coverage": 0,  # silences not opened: nobody else heard nearby
            "track_restarts": 0,  # a track number reused / a track that jumped
            "partner_swaps": 0,  # a diverging partnered track now follows another vessel
            "contradiction_supported": 0,  # divergences dismissed: a contact at the AIS spot
            "velocity_vetoes": 0,  # pairs in a position gate refused by the velocity gate
            "partner_velocity_refused": 0,  # partners refused: the track moves otherwise
            "links_deferred": 0,  # a dark track's majority partner not yet consecutive
        }
        # per sensor: (time, lat, lon, sigma) of contacts already associated, time-ordered
        self._recent: dict[str, deque[tuple[float, float, float, float]]] = {}
        self.cfg = config or FusionConfig()
        self.index = AisIndex(self.cfg)
        self._areas: AreaIndex | None = None
        self._crossing: CrossingPredictor | None = None
        self.replace_areas(areas)
        self._heap: list[tuple[tuple[float, str, str, str, int], int, Contact]] = []
        self._seq = 0
        self._groups: dict[tuple[str, str], list[Contact]] = {}  # (sensor, pass_id) → contacts
        self._passes: dict[tuple[str, str], SensorPass] = {}
        # (first, last) event time of each pending group, kept as contacts arrive, so the
        # due check is O(groups), never O(detections) per record
        self._span: dict[tuple[str, str], tuple[float, float]] = {}
        self._tracks: dict[tuple[str, str], SensorTrack] = {}
        self._confirmed_at: dict[tuple[int, str], float] = {}
        self._silent: set[int] = set()  # partners with an open dark_tracked
        self._uncovered: set[tuple[int, float]] = set()  # (mmsi, last fix) silences not opened
        self._now = -math.inf
        self._next_sweep = math.inf
        self._out = FusionOutput()

    # -- input ----------------------------------------------------------------------------
    def replace_areas(self, index: AreaIndex | None) -> None:
        self._areas = index if index is not None and len(index) else None
        self._crossing = CrossingPredictor(self._areas) if self._areas else None

    def on_ais(self, rep: PositionReport) -> None:
        self.index.add(rep)
        if rep.mmsi in self._silent:  # its dark_tracked may close: look at it when due
            self._next_sweep = min(self._next_sweep, _ts(rep.time) + self.cfg.hold_s)

    def on_contact(self, c: Contact) -> None:
        if not (math.isfinite(c.lat) and math.isfinite(c.lon)):
            return
        if c.pass_id is not None:
            key = (c.sensor, c.pass_id)
            self._groups.setdefault(key, []).append(c)
            self._widen(key, _ts(c.time), _ts(c.time))
            return
        self._seq += 1
        heapq.heappush(self._heap, (_contact_key(c), self._seq, c))

    def on_pass(self, p: SensorPass) -> None:
        self._passes[(p.sensor, p.pass_id)] = p
        self._widen((p.sensor, p.pass_id), _ts(p.start), _ts(p.end))

    def _widen(self, key: tuple[str, str], first: float, last: float) -> None:
        span = self._span.get(key)
        self._span[key] = (
            (first, last) if span is None else (min(span[0], first), max(span[1], last))
        )

    # -- driving --------------------------------------------------------------------------
    def _group_due_min(self) -> float:
        # passes are few (a handful per hour): a scan over them is cheap
        if not self._groups and not self._passes:
            return math.inf
        return min((self._group_due(k) for k in {*self._groups, *self._passes}), default=math.inf)

    def _group_due(self, key: tuple[str, str]) -> float:
        return self._span[key][1] + self.cfg.hold_s

    def advance(self, now: datetime, fleet: Fleet) -> FusionOutput:
        t_now = _ts(now)
        if t_now > self._now:
            self._now = t_now
        if self._now < self._next_due_cached():
            return FusionOutput()
        return self._run(self._now, fleet)

    def _next_due_cached(self) -> float:
        # O(1): the heap top, the sweep deadline, and (only when passes are pending) passes
        due = self._heap[0][0][0] + self.cfg.hold_s + self.cfg.scan_s if self._heap else math.inf
        due = min(due, self._next_sweep)
        if self._groups or self._passes:
            due = min(due, self._group_due_min())
        return due

    def flush(self, fleet: Fleet) -> FusionOutput:
        return self._run(math.inf, fleet)

    def _run(self, now: float, fleet: Fleet) -> FusionOutput:
        self._out = FusionOutput()
        cutoff = now - self.cfg.hold_s
        work: list[tuple[float, str, str, int, list[Contact], SensorPass | None]] = []
        # radar/untracked contacts: pop due ones, group into scans per sensor
        ready: list[Contact] = []
        while self._heap and self._heap[0][0][0] <= cutoff:
            ready.append(heapq.heappop(self._heap)[2])
        by_sensor: dict[str, list[list[Contact]]] = {}
        for c in ready:  # already in key order
            scans = by_sensor.setdefault(c.sensor, [])
            if scans and _ts(c.time) - _ts(scans[-1][0].time) <= self.cfg.scan_s:
                scans[-1].append(c)
            else:
                scans.append([c])
        for sensor in sorted(by_sensor):
            scans = by_sensor[sensor]
            if math.isfinite(now) and _ts(scans[-1][0].time) + self.cfg.scan_s > cutoff:
                for c in scans.pop():  # the scan may still be incomplete: back to the heap
                    self._seq += 1
                    heapq.heappush(self._heap, (_contact_key(c), self._seq, c))
            for scan in scans:
                work.append((_ts(scan[0].time), sensor, "", 0, scan, None))
        for key in sorted({*self._groups, *self._passes}):
            if self._group_due(key) <= now:
                cs = sorted(self._groups.pop(key, []), key=_contact_key)
                p = self._passes.pop(key, None)
                self._span.pop(key, None)
                t0 = _ts(p.start) if p else _ts(cs[0].time)
                work.append((t0, key[0], key[1], 1, cs, p))
        work.sort(key=lambda w: (w[0], w[1], w[2], w[3]))
        for t0, _, _, is_pass, contacts, p in work:
            self._sweep(t0)
            if is_pass:
                process_pass(self, contacts, p, fleet)
            else:
                self._process_scan(contacts, fleet)
        # close what time closes, but never past work still pending: a held scan earlier
        # than a closing must be processed before it, whatever the call pattern
        limit = cutoff
        if self._heap:
            limit = min(limit, self._heap[0][0][0] - 1e-6)
        for first, _ in self._span.values():
            limit = min(limit, first - 1e-6)
        self._sweep(limit if math.isfinite(limit) else math.inf)
        self._next_sweep = self._sweep_due()
        out = self._out
        out.events.sort(key=lambda e: (e.time, e.attrs.get("type", ""), e.mmsi, e.phase, e.id))
        self._out = FusionOutput()
        return out

    # -- helpers ---------------------------------------------------------------------------
    def _sigma(self, c: Contact) -> float:
        if c.sigma_m is not None and c.sigma_m > 0:
            return c.sigma_m
        s = self.sensors.get(c.sensor)
        return s.sigma_m if s else DEFAULT_SIGMA_M.get(c.kind, 100.0)

    def _small(self, length_m: float | None) -> bool:
        return length_m is not None and length_m < self.cfg.min_length_m

    def _where(
        self, lat: float, lon: float, t: datetime, velocity: tuple[float, float] | None
    ) -> tuple[str | None, dict[str, Any]]:
        """(area inside, or None) and heading_to/eta_s attrs when predicted to enter one."""
        if self._areas is None:
            return None, {}
        inside = self._areas.containing(lon, lat)
        if inside:
            return inside[0], {}
        if self._crossing is None or velocity is None:
            return None, {}
        speed, course = speed_course(*velocity)
        if speed < 0.5:
            return None, {}
        start = PositionReport(mmsi=0, time=t, lat=lat, lon=lon)
        horizon = self.cfg.approach_horizon_s
        path = predict(start, speed, course, horizon, min(300.0, horizon / 4))
        hit = self._crossing.next_crossing(path)
        if hit is None:
            return None, {}
        return None, {"heading_to": hit.area_id, "eta_s": round((hit.eta - t).total_seconds())}

    def _emit(self, ev: Event) -> None:
        self._out.events.append(ev)

    def _confirm(self, c: Contact, mmsi: int, d2: float, dist: float) -> None:
        key = (mmsi, c.sensor)
        t = _ts(c.time)
        last = self._confirmed_at.get(key)
        if last is not None and t - last < self.cfg.confirm_every_s:
            return
        if any(tr.partner == mmsi and "contradicted" in tr.open for tr in self._tracks.values()
               if tr.open):  # fmt: skip
            return
        self._confirmed_at[key] = t
        what = f"{c.kind} {c.sensor}"
        self._emit(make_event(
            self.cfg, "confirmed", "instant", mmsi, c.time, time=c.time, lat=c.lat, lon=c.lon,
            confidence=max(0.5, min(0.99, math.exp(-d2 / 2) * c.confidence + 0.5)),
            reasons=[f"AIS position confirmed by {what}: contact {dist:.0f} m from where AIS "
                     f"places the vessel (gate d² {d2:.1f} ≤ {self.cfg.gate_chi2})"],
            evidence=[contact_evidence(c)], extra=(c.sensor,),
            attrs={"modifies": "spoofing", "factor": self.cfg.confirm_factor,
                   "valid_s": self.cfg.confirm_valid_s,
                   "explanation": f"position confirmed by {what}",
                   "note": None, "sensor": c.sensor, "sensor_kind": c.kind,
                   "distance_m": round(dist, 1)},
        ))  # fmt: skip

    def _target_report(self, tr: SensorTrack | None, c: Contact, mmsi: int) -> PositionReport:
        if tr is not None:
            lat, lon, _ = tr.filt.latlon_at(_ts(c.time))
            sp, co = speed_course(*tr.filt.velocity())
            src = f"{c.sensor}:{tr.key}"
        else:
            lat, lon, sp, co = c.lat, c.lon, c.speed_kn, c.course_deg  # type: ignore[assignment]
            src = f"{c.sensor}:{c.pass_id or c.track or c.line_no}"
        return PositionReport(
            mmsi=mmsi, time=c.time, lat=lat, lon=lon,
            speed_kn=None if sp is None else round(sp, 2),
            course_deg=None if co is None else round(co, 1),
            msg_type=0, source=src, line_no=c.line_no,
        )  # fmt: skip

    # -- scans -----------------------------------------------------------------------------
    def _associate(self, contacts: list[Contact], fleet: Fleet) -> ScanResult:
        def length_of(m: int) -> float | None:
            v = fleet.get(m)
            return v.length_m if v is not None else None

        return associate(contacts, [self._sigma(c) for c in contacts], self.index, length_of,
                         self.cfg)  # fmt: skip

    def _process_scan(self, contacts: list[Contact], fleet: Fleet) -> None:
        res = self._associate(contacts, fleet)
        self.stats["velocity_vetoes"] += res.vetoed
        for c in contacts:
            recent = self._recent.setdefault(c.sensor, deque())
            t = _ts(c.time)
            recent.append((t, c.lat, c.lon, self._sigma(c)))
            while recent and recent[0][0] < t - RECENT_S:
                recent.popleft()
        paired = {p.contact: p for p in res.pairs}
        for i, c in enumerate(contacts):
            pair = paired.get(i)
            mmsi = pair.mmsi if pair else None
            if pair is not None and self._confirmable(c, pair.mmsi, pair.d2v):
                dist = distance_m(c.lat, c.lon, pair.pred.lat, pair.pred.lon)
                self._confirm(c, pair.mmsi, pair.d2, dist)
            if c.track is None:  # a one-shot detection outside any pass
                if mmsi is None:
                    self._single_dark(c, f"{c.line_no}:{i}")
                continue
            self._update_track(c, mmsi, res)

    def _update_track(self, c: Contact, mmsi: int | None, res: ScanResult) -> None:
        cfg = self.cfg
        key = (c.sensor, c.track or "")
        t = _ts(c.time)
        tr = self._tracks.get(key)
        if tr is not None and t - _ts(tr.last) > cfg.lost_s:
            self._close_all(tr, tr.last + timedelta(seconds=cfg.lost_s), "radar track lost")
            self.stats["track_restarts"] += 1
            tr = None
        elif tr is not None:
            jump = self._restart_jump(tr, c)
            if jump is not None:
                self._close_all(tr, c.time, f"radar track restarted: target {tr.key} reported "
                                f"{jump / 1000:.1f} km from where its track led (a new target "
                                "under a reused number)")  # fmt: skip
                self.stats["track_restarts"] += 1
                tr = None
        if tr is None:
            filt = CVFilter(c.lat, c.lon, t, self._sigma(c), cfg.accel_sigma_mps2**2,
                            velocity_en(c.speed_kn, c.course_deg))  # fmt: skip
            tr = SensorTrack(c.sensor, c.track or "", target_id(c.sensor, c.track or "", c.time),
                             c, filt, cfg)  # fmt: skip
            self._tracks[key] = tr
        else:
            tr.filt.update(t, c.lat, c.lon, self._sigma(c))
        was_dark_s = (c.time - tr.dark_since).total_seconds() if tr.dark_since else 0.0
        old_partner = tr.partner
        new_partner = tr.add(c, mmsi, cfg)
        if new_partner is not None and self._followed_elsewhere(tr, new_partner):
            # one vessel, one radar echo: another track of this sensor already follows it
            # (a ship passing close to this target), so this track keeps its partner
            tr.partner, new_partner = old_partner, None
        if new_partner is not None and not self._moves_like(tr, new_partner, t):
            # the track's own (filtered) velocity says it is not that vessel: a ship passing
            # head-on or crossing gates on position for a few scans, never on velocity
            tr.partner, new_partner = old_partner, None
            self.stats["partner_velocity_refused"] += 1
        dark = "dark_target" in tr.open or (
            tr.dark_since is not None and was_dark_s >= cfg.silent_s
        )
        if new_partner is not None and dark and tr.run_of(new_partner) < cfg.partner_min:
            # a link names a dark target: it needs the last partner_min associations of the
            # track, consecutive, to be that vessel (not a majority that a passing ship
            # can make in a few scans); until then the target stays dark
            tr.partner, new_partner = old_partner, None
            self.stats["links_deferred"] += 1
        if new_partner is not None and old_partner is not None:
            self._partner_changed(tr, c, old_partner, new_partner)
        if new_partner is not None:
            if dark:
                self._link(tr, c, new_partner, was_dark_s)
            tr.dark_since = None
        lat, lon, _ = tr.filt.latlon_at(t)
        if tr.partner is not None:
            self._check_silent(tr, c, lat, lon)
            self._check_contradiction(tr, c, mmsi, lat, lon, res)
        elif (tr.n >= cfg.confirm_updates and tr.unassoc_run >= cfg.confirm_updates
              and not self._small(tr.length_m)):  # fmt: skip
            self._out.targets.append(self._target_report(tr, c, tr.tid))
            self._dark_target(tr, c, lat, lon)

    def _restart_jump(self, tr: SensorTrack, c: Contact) -> float | None:
        """Distance (m) of the contact from the track's prediction when it is too far to be
        the same target (> ``restart_gates`` gate radii or > ``restart_m``), else None."""
        lat, lon, var = tr.filt.latlon_at(_ts(c.time))
        d = distance_m(lat, lon, c.lat, c.lon)
        gate_r = math.sqrt(self.cfg.gate_chi2 * (var + self._sigma(c) ** 2))
        if d > self.cfg.restart_m or d > self.cfg.restart_gates * gate_r:
            return d
        return None

    def _confirmable(self, c: Contact, mmsi: int, d2v: float | None) -> bool:
        """A contact confirms a vessel's AIS only if it also moves like it: its own
        speed/course passed the velocity gate, or (none given: TLL) its track's filtered
        velocity agrees with the vessel's (a one-shot detection: position only)."""
        if d2v is not None or c.track is None:
            return True
        tr = self._tracks.get((c.sensor, c.track))
        return tr is None or self._moves_like(tr, mmsi, _ts(c.time))

    def _moves_like(self, tr: SensorTrack, mmsi: int, t: float) -> bool:
        """Is the track's filtered velocity consistent with ``mmsi``'s AIS velocity at ``t``?

        Mahalanobis test of the difference with the filter's velocity covariance plus the
        AIS prediction's velocity variance plus a model-error floor of one radar speed σ
        per axis (the CV filter lags a turn); ``velocity_gate_chi2`` (2 dof). Passes when
        the vessel cannot be predicted, or both are slower than ``velocity_min_kn``. With
        TTM speed/course every association was already velocity-gated; this is what
        protects a track whose contacts carry none (TLL)."""
        cfg = self.cfg
        pred = self.index.predict(mmsi, t, t + cfg.hold_s / 2)
        if pred is None or not math.isfinite(pred.vvar):
            return True
        x, cov = tr.filt.predicted(t)
        fe, fn = float(x[2]), float(x[3])
        slow = cfg.velocity_min_kn * KN
        if math.hypot(fe, fn) < slow and math.hypot(pred.ve, pred.vn) < slow:
            return True
        floor = (cfg.contact_speed_sigma_kn * KN) ** 2 + pred.vvar
        a, b, d = float(cov[2, 2]) + floor, float(cov[2, 3]), float(cov[3, 3]) + floor
        det = a * d - b * b
        ne, nn = fe - pred.ve, fn - pred.vn
        d2 = (d * ne * ne - 2 * b * ne * nn + a * nn * nn) / det
        return d2 <= cfg.velocity_gate_chi2

    def _followed_elsewhere(self, tr: SensorTrack, mmsi: int) -> bool:
        """Another live track of the same sensor has ``mmsi`` as its partner and its latest
        update was associated with it."""
        t = _ts(tr.last)
        return any(
            o is not tr and o.sensor == tr.sensor and o.partner == mmsi and o.assoc
            and o.assoc[-1] == mmsi and t - _ts(o.last) <= self.cfg.lost_s
            for o in self._tracks.values()
        )  # fmt: skip

    def _partner_changed(self, tr: SensorTrack, c: Contact, old: int, new: int) -> None:
        """The track now follows another vessel: findings about the old partner end."""
        lat, lon, _ = tr.filt.latlon_at(_ts(c.time))
        for ftype in ("contradicted", "dark_tracked"):
            cur = tr.open.get(ftype)
            if cur is not None and int(cur.info.get("mmsi", old)) == old:
                why = f"{c.kind} {c.sensor} target {tr.key} now follows MMSI {new}"
                self._close(tr, ftype, c.time, lat, lon, old, [why])
        tr.contra_run = 0

    def _dark_target(self, tr: SensorTrack, c: Contact, lat: float, lon: float) -> None:
        cfg = self.cfg
        area, heading = self._where(lat, lon, c.time, tr.filt.velocity())
        cur = tr.open.get("dark_target")
        if area is None and not heading:
            if cur is not None:
                self._close(tr, "dark_target", c.time, lat, lon, tr.tid,
                            ["no longer inside or heading to an area of interest"])  # fmt: skip
            return
        if cur is not None and area == cur.area_id and \
                (c.time - cur.last_emit).total_seconds() < cfg.update_every_s:  # fmt: skip
            return
        sp, co = speed_course(*tr.filt.velocity())
        conf = min(0.95, tr.mean_confidence * (2 / 3 + 0.4 * (1 - math.exp(-(tr.n - 1) / 10))))
        where = f"inside {area}" if area else f"heading to {heading['heading_to']} " \
            f"(ETA {minutes(heading['eta_s'])})"  # fmt: skip
        reasons = [
            f"{c.kind} {c.sensor} has tracked target {tr.key} for {tr.n} updates since "
            f"{tr.first.isoformat()} and no AIS vessel is where it is",
            f"the target is {where}",
        ]
        phase: EventPhase = "open" if cur is None else "update"
        start = tr.first if cur is None else cur.start
        ev = make_event(
            cfg, "dark_target", phase, tr.tid, start, time=c.time, lat=lat, lon=lon,
            confidence=conf, reasons=reasons, evidence=list(tr.evidence), area_id=area,
            extra=(tr.sensor, tr.key),
            attrs={"sensor": tr.sensor, "sensor_kind": tr.kind, "track": tr.key,
                   "n_contacts": tr.n, "first_seen": tr.first.isoformat(),
                   "length_m": tr.length_m, "speed_kn": round(sp, 2), "course_deg": round(co, 1),
                   **heading},
        )  # fmt: skip
        if cur is None:
            tr.open["dark_target"] = cur = _open(ev, area)
        cur.last_emit, cur.area_id = c.time, area
        self._emit(ev)

    def _single_dark(self, c: Contact, key: str) -> None:
        """An unassociated one-shot detection (satellite): an instant dark_target."""
        if self._small(c.length_m):
            return
        tid = target_id(c.sensor, key, c.time)
        self._out.targets.append(self._target_report(None, c, tid))
        area, heading = self._where(c.lat, c.lon, c.time, velocity_en(c.speed_kn, c.course_deg))
        if area is None and not heading:
            return
        conf = min(0.95, max(0.0, min(1.0, c.confidence)) * 2 / 3)
        where = f"inside {area}" if area else f"heading to {heading['heading_to']}"
        self._emit(make_event(
            self.cfg, "dark_target", "instant", tid, c.time, time=c.time, lat=c.lat, lon=c.lon,
            confidence=conf, area_id=area, evidence=[contact_evidence(c)], extra=(c.sensor, key),
            reasons=[f"{c.kind} {c.sensor} detected a vessel"
                     f"{f' of {c.length_m:.0f} m' if c.length_m else ''} where no AIS vessel is",
                     f"the detection is {where}"],
            attrs={"sensor": c.sensor, "sensor_kind": c.kind, "track": c.track,
                   "pass_id": c.pass_id, "n_contacts": 1, "first_seen": c.time.isoformat(),
                   "length_m": c.length_m, "speed_kn": c.speed_kn, "course_deg": c.course_deg,
                   **heading},
        ))  # fmt: skip

    def _link(self, tr: SensorTrack, c: Contact, mmsi: int, dark_s: float) -> None:
        self._emit(make_event(
            self.cfg, "link", "instant", mmsi, c.time, time=c.time, lat=c.lat, lon=c.lon,
            confidence=0.9, evidence=list(tr.evidence), extra=(str(tr.tid),),
            reasons=[f"radar target {tr.tid}, dark for {minutes(dark_s)}, is MMSI {mmsi}: "
                     "its transponder came on"],
            attrs={"target": tr.tid, "dark_s": round(dark_s), "sensor": tr.sensor,
                   "track": tr.key},
        ))  # fmt: skip
        if "dark_target" in tr.open:
            lat, lon, _ = tr.filt.latlon_at(_ts(c.time))
            self._close(tr, "dark_target", c.time, lat, lon, tr.tid,
                        [f"linked to MMSI {mmsi}: its AIS came on"], linked_mmsi=mmsi)  # fmt: skip

    def _check_silent(self, tr: SensorTrack, c: Contact, lat: float, lon: float) -> None:
        cfg = self.cfg
        p = tr.partner
        assert p is not None
        last = self.index.last_fix(p, _ts(c.time))
        cur = tr.open.get("dark_tracked")
        if last is None:
            return
        silent = _ts(c.time) - last.t
        thr = self._silence_threshold(p, last.t)
        if silent < cfg.silent_s or silent < thr:
            return  # AIS is there (a return is closed by the sweep at the fix's own time)
        others: int | None = None
        if self.coverage is not None:
            since = datetime.fromtimestamp(max(last.t, _ts(c.time) - cfg.heard_within_s), UTC)
            others = self.coverage.others_heard_near(last.lat, last.lon, since, p)
            if cur is None and others < cfg.min_others_heard:
                # nobody else heard there either: a reception gap, not a transponder off
                if (p, last.t) not in self._uncovered:
                    self._uncovered.add((p, last.t))
                    self.stats["dark_tracked_no_coverage"] += 1
                return
        sensed = self._target_report(tr, c, p)
        self._out.sensed[p] = sensed
        conf, why = self._silence_confidence(p, last, silent, thr, others)
        if cur is not None and (c.time - cur.last_emit).total_seconds() < cfg.update_every_s \
                and conf < float(cur.info.get("conf", 0.0)) + 0.1:  # fmt: skip
            return
        away = distance_m(last.lat, last.lon, lat, lon)
        last_time = datetime.fromtimestamp(last.t, UTC)
        start = last_time if cur is None else cur.start
        reasons = [f"AIS silent for {minutes(silent)} while {c.kind} {tr.sensor} tracks it "
                   f"{away / 1000:.1f} km from its last AIS position", *why]  # fmt: skip
        ev = make_event(
            cfg, "dark_tracked", "open" if cur is None else "update", p, start, time=c.time,
            lat=lat, lon=lon, confidence=conf, evidence=list(tr.evidence), extra=(str(tr.tid),),
            reasons=reasons,
            attrs={"target": tr.tid, "sensor": tr.sensor, "sensor_kind": tr.kind, "track": tr.key,
                   "last_ais": {"time": last_time.isoformat(), "lat": last.lat, "lon": last.lon},
                   "silent_s": round(silent), "silence_threshold_s": round(thr),
                   "others_heard": others,
                   "radar": {"lat": round(lat, 6), "lon": round(lon, 6)},
                   "distance_m": round(away, 1)},
        )  # fmt: skip
        if cur is None:
            tr.open["dark_tracked"] = cur = _open(ev, None)
            cur.info = {"mmsi": p, "last_ais_t": last.t}
            self._silent.add(p)
        cur.last_emit = c.time
        cur.info["conf"] = round(conf, 3)
        self._emit(ev)

    def _silence_confidence(
        self, mmsi: int, last: Fix, silent: float, thr: float,
        others: int | None,
    ) -> tuple[float, list[str]]:  # fmt: skip
        """How sure a silence is a transponder switched off, not a reception gap: 0.3 at the
        threshold, rising to 0.95 with the reports the vessel *should* have sent since
        (beyond the threshold, at its own median interval, ≥ 10 s), weighted by how
        reliably it was received before (q², q = received / expected over the last 30 min)
        and by how much history there is (≥ 30 reports = full weight). Capped at
        ``stationary_conf_max`` for a vessel at rest (its last AIS SOG < 1 kn) and
        ``no_coverage_conf_max`` without
        coverage information."""
        cfg = self.cfg
        _, times = self.index.fixes_until(mmsi, last.t)
        k = bisect.bisect_left(times, last.t - 1800.0)
        n_w = len(times) - k
        iv = self.index.intervals(mmsi, last.t)
        why: list[str] = []
        evidence = 0.0
        if iv is not None and n_w >= 3:
            median = max(iv[0], 1e-3)
            span = last.t - times[k]
            q = min(1.0, n_w / (span / median + 1.0))
            missed = max(0.0, silent - thr) / max(median, 10.0)
            evidence = q * q * min(1.0, n_w / 30.0) * missed
            why.append(
                f"about {missed:.0f} reports missed beyond its usual silence "
                f"({minutes(thr)}); {q:.0%} of its reports were received before"
            )
        else:
            why.append("its reporting pattern is not known yet (fewer than 3 recent reports)")
        conf = min(0.95, 0.3 + 0.65 * (1.0 - math.exp(-evidence / cfg.silence_evidence)))
        if last.sog is not None and last.sog < 1.0:
            conf = min(conf, cfg.stationary_conf_max)
            why.append(
                "the vessel is at rest (in port or at anchor): a silence there is "
                "often a reception gap"
            )
        if others is None:
            conf = min(conf, cfg.no_coverage_conf_max)
            why.append("no coverage information: a reception gap cannot be ruled out")
        else:
            why.append(
                f"{others} other vessels were heard near its last position since, "
                "so the receiver covers it"
            )
        return conf, why

    def _silence_threshold(self, mmsi: int, last_t: float) -> float:
        """How long this vessel must be unheard to count as silent. A ship at anchor reports
        every 3 min, class B every 30 s..3 min, and a receiver loses some ships for minutes
        at a time: silence counts from the longest of ``silent_s``, 3 of the vessel's usual
        intervals and 1.5 × its longest recent gap (its own reception pattern). A vessel
        whose rate is not known yet is assumed to be on the slowest regular one (180 s)."""
        iv = self.index.intervals(mmsi, last_t)
        median, longest = iv if iv is not None else (180.0, 0.0)
        return max(self.cfg.silent_s, 3 * median, 1.5 * longest)

    def _check_contradiction(self, tr: SensorTrack, c: Contact, mmsi: int | None,
                             lat: float, lon: float, res: ScanResult) -> None:  # fmt: skip
        cfg = self.cfg
        p = tr.partner
        assert p is not None
        cur = tr.open.get("contradicted")
        t = _ts(c.time)
        until = t + cfg.hold_s / 2
        claim = self.index.predict(p, t, until)
        sensor = self.sensors.get(c.sensor)
        fresh = claim is not None and claim.dt_s <= 60.0
        if mmsi == p or not fresh or claim is None:
            tr.contra_run = 0
            if cur is not None and mmsi == p:
                self._close(tr, "contradicted", c.time, lat, lon, p,
                            [f"AIS agrees with {c.kind} {c.sensor} again"])  # fmt: skip
            return
        gap = distance_m(claim.lat, claim.lon, lat, lon)
        covered = sensor is not None and sensor.covers(claim.lat, claim.lon)
        if gap < cfg.contradict_m or not covered:
            tr.contra_run = 0
            return
        if mmsi is not None:
            # the diverging track now gates with another vessel's AIS: the radar followed
            # the other ship (a partner swap), nothing says the partner's AIS is false
            self.stats["partner_swaps"] += 1
            tr.partner = mmsi
            tr.assoc.clear()
            tr.assoc.append(mmsi)
            self._partner_changed(tr, c, p, mmsi)
            return
        if tr.contra_run == 0 and not tr.was_stable:
            return  # a partnership not stable before the divergence (a ship passing by)
        if self._supported(c, p, until, claim.var_m2, tr):
            # some contact of this sensor, of whichever track, is where the AIS says
            tr.contra_run = 0
            self.stats["contradiction_supported"] += 1
            return
        tr.contra_run += 1
        if tr.contra_run < cfg.contradict_scans:
            return
        if cur is not None and (c.time - cur.last_emit).total_seconds() < cfg.update_every_s:
            return
        conf = min(0.97, 0.75 + 0.05 * tr.contra_run)
        start = c.time if cur is None else cur.start
        ev = make_event(
            cfg, "contradicted", "open" if cur is None else "update", p, start, time=c.time,
            lat=claim.lat, lon=claim.lon, confidence=conf, evidence=list(tr.evidence),
            extra=(c.sensor,),
            reasons=[f"AIS places MMSI {p} {gap / 1000:.1f} km from where {c.kind} {c.sensor} "
                     f"tracks it (target {tr.key}) over {tr.contra_run} scans",
                     f"{c.sensor} covers the AIS position and sees nothing there: no contact "
                     f"of any target within one scan lies in its gate"],
            attrs={"sensor": c.sensor, "sensor_kind": c.kind, "track": tr.key, "target": tr.tid,
                   "distance_m": round(gap, 1), "scans": tr.contra_run,
                   "ais": {"lat": round(claim.lat, 6), "lon": round(claim.lon, 6)},
                   "sensed": {"lat": round(lat, 6), "lon": round(lon, 6)}, "basis": "radar_track"},
        )  # fmt: skip
        if cur is None:
            tr.open["contradicted"] = cur = _open(ev, None)
            cur.info = {"mmsi": p}
        cur.last_emit = c.time
        self._emit(ev)

    def _supported(self, c: Contact, mmsi: int, until: float, var_m2: float,
                   tr: SensorTrack) -> bool:  # fmt: skip
        """Does any contact of ``c``'s sensor within the same scan lie in the gate of where
        ``mmsi``'s AIS places it (at that contact's time)? A rotating radar reports each
        target once per rotation at a bearing-dependent time, so "the same scan" is from
        one update interval of this track (≤ 60 s) before ``c`` to ``scan_s`` after it."""
        t = _ts(c.time)
        back = max(self.cfg.scan_s, min(tr.period_s or 0.0, 60.0))
        for tc, la, lo, sig in reversed(self._recent.get(c.sensor, ())):
            if tc < t - back:
                break
            if tc > t + self.cfg.scan_s or (tc == t and la == c.lat and lo == c.lon):
                continue
            pred = self.index.predict(mmsi, tc, until)
            if pred is None:
                continue
            d = distance_m(pred.lat, pred.lon, la, lo)
            if d * d / (pred.var_m2 + sig * sig) <= self.cfg.gate_chi2:
                return True
        return False

    # -- closing, expiry ------------------------------------------------------------------------
    def _close(self, tr: SensorTrack, ftype: str, time: datetime, lat: float, lon: float,
               mmsi: int, reasons: list[str], **attrs: Any) -> None:  # fmt: skip
        cur = tr.open.pop(ftype)
        if ftype == "dark_tracked":
            self._silent.discard(mmsi)
        self._emit(make_event(
            self.cfg, ftype, "close", mmsi, cur.start, time=time, lat=lat, lon=lon,
            confidence=0.0 if ftype != "dark_target" else tr.mean_confidence, eid=cur.id,
            reasons=reasons, area_id=cur.area_id,
            attrs={"sensor": tr.sensor, "track": tr.key, "target": tr.tid, **attrs},
        ))  # fmt: skip

    def _close_all(self, tr: SensorTrack, at: datetime, why: str) -> None:
        lat, lon, _ = tr.filt.latlon_at(_ts(tr.last))
        for ftype in sorted(tr.open):
            mmsi = tr.tid if ftype == "dark_target" else int(tr.open[ftype].info.get(
                "mmsi", tr.partner or tr.tid))  # fmt: skip
            self._close(tr, ftype, at, lat, lon, mmsi, [why])

    def _sweep(self, upto: float) -> None:
        """Close what time alone closes, at the event time it happened: tracks lost, AIS back."""
        for key in sorted(k for k, tr in self._tracks.items() if tr.open):
            tr = self._tracks[key]
            cur = tr.open.get("dark_tracked")
            if cur is not None:
                m = int(cur.info["mmsi"])
                back = self.index.fix_after(m, float(cur.info["last_ais_t"]), upto)
                if back is not None and back.t <= _ts(tr.last) + self.cfg.lost_s:
                    t_back = datetime.fromtimestamp(back.t, UTC)
                    self._close(
                        tr,
                        "dark_tracked",
                        t_back,
                        back.lat,
                        back.lon,
                        m,
                        [f"AIS back after {minutes(back.t - cur.info['last_ais_t'])}"],
                    )
            if tr.open and _ts(tr.last) + self.cfg.lost_s <= upto:
                self._close_all(tr, tr.last + timedelta(seconds=self.cfg.lost_s),
                                "radar track lost")  # fmt: skip

    def _sweep_due(self) -> float:
        """When (stream time) the next time-based closing can happen."""
        due = math.inf
        for tr in self._tracks.values():
            if not tr.open:
                continue
            due = min(due, _ts(tr.last) + self.cfg.lost_s + self.cfg.hold_s)
            cur = tr.open.get("dark_tracked")
            if cur is not None:
                back = self.index.fix_after(int(cur.info["mmsi"]), cur.info["last_ais_t"], math.inf)
                if back is not None:
                    due = min(due, back.t + self.cfg.hold_s)
        return due

    def expire(self, now: datetime) -> None:
        t = _ts(now)
        for key in [k for k, tr in self._tracks.items()
                    if not tr.open and _ts(tr.last) + self.cfg.lost_s < t]:  # fmt: skip
            del self._tracks[key]
        self.index.expire(t - 12 * 3600.0)
        old = [k for k, v in self._confirmed_at.items() if v < t - self.cfg.confirm_every_s]
        for ck in old:
            del self._confirmed_at[ck]
        self._uncovered = {k for k in self._uncovered if k[1] >= t - 12 * 3600.0}
        for sensor in [k for k, v in self._recent.items() if not v or v[-1][0] < t - RECENT_S]:
            del self._recent[sensor]

    # -- snapshot ---------------------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        pending = sorted((c for _, _, c in self._heap), key=_contact_key)
        return {
            "version": SNAPSHOT_VERSION,
            "now": self._now if math.isfinite(self._now) else None,
            "index": self.index.to_dict(),
            "pending": [contact_dict(c) for c in pending],
            "groups": [
                [k[0], k[1], [contact_dict(c) for c in v]] for k, v in sorted(self._groups.items())
            ],
            "passes": [pass_dict(p) for _, p in sorted(self._passes.items())],
            "tracks": [tr.to_dict() for _, tr in sorted(self._tracks.items())],
            "confirmed_at": [[m, s, t] for (m, s), t in sorted(self._confirmed_at.items())],
            "recent": {k: [list(r) for r in v] for k, v in sorted(self._recent.items())},
            "uncovered": sorted([m, t] for m, t in self._uncovered),
            "stats": dict(self.stats),
        }

    def restore(self, snap: dict[str, Any]) -> None:
        if snap.get("version") != SNAPSHOT_VERSION:
            raise ValueError(f"fusion snapshot version {snap.get('version')!r} not supported")
        self._now = -math.inf if snap["now"] is None else float(snap["now"])
        self.index.restore(snap["index"])
        self._heap = []
        self._seq = 0
        for d in snap["pending"]:
            self.on_contact(contact_from(d))
        self._groups = {(s, pid): [contact_from(d) for d in cs] for s, pid, cs in snap["groups"]}
        self._span = {}
        for key, cs in self._groups.items():
            for c in cs:
                self._widen(key, _ts(c.time), _ts(c.time))
        self._passes = {}
        for d in snap["passes"]:
            self.on_pass(pass_from(d))
        self._tracks = {}
        self._silent = set()
        for d in snap["tracks"]:
            tr = SensorTrack.from_dict(d, self.cfg)
            self._tracks[(tr.sensor, tr.key)] = tr
            if "dark_tracked" in tr.open:
                self._silent.add(int(tr.open["dark_tracked"].info["mmsi"]))
        self._confirmed_at = {(int(m), str(s)): float(t) for m, s, t in snap["confirmed_at"]}
        self._recent = {
            k: deque((float(a), float(b), float(c), float(d)) for a, b, c, d in v)
            for k, v in snap.get("recent", {}).items()
        }
        self._uncovered = {(int(m), float(t)) for m, t in snap.get("uncovered", [])}
        self.stats.update({k: int(v) for k, v in snap.get("stats", {}).items()})
        self._next_sweep = -math.inf  # re-derived at the next advance


def _open(ev: Event, area: str | None) -> OpenFinding:
    return OpenFinding(id=ev.id, start=datetime.fromisoformat(ev.attrs["started"]),
                       last_emit=ev.time, area_id=area)  # fmt: skip


__all__ = ["FusionConfig", "FusionOutput", "FusionStage"]
