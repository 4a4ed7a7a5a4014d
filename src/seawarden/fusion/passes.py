"""Satellite passes: what a SAR/optical/RF acquisition saw, and what it should have seen.

A pass is judged once, ``hold_s`` after it ends: its detections are associated with AIS
like a radar scan (``confirmed`` for the matches); every AIS vessel the footprint covered
that is long enough to be seen and was not detected is ``unconfirmed``, unless the one
conservative spoofing pattern holds (``contradicted``, see :func:`_sat_contradiction`);
unassociated detections become dark-target candidates. Also the JSON forms of contacts
and passes for the stage snapshot.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import shapely

from seawarden.fleet.fleet import Fleet
from seawarden.fusion.associate import ScanResult
from seawarden.fusion.predict import predict_at, to_plane
from seawarden.fusion.sensors import DEFAULT_MIN_LENGTH_M, DEFAULT_SIGMA_M
from seawarden.fusion.tracks import contact_evidence, make_event
from seawarden.geo.sphere import distance_m
from seawarden.model.contacts import Contact, SensorPass

if TYPE_CHECKING:
    from seawarden.fusion.stage import FusionStage


def _ts(t: datetime) -> float:
    return t.timestamp()


def process_pass(
    stage: FusionStage, contacts: list[Contact], p: SensorPass | None, fleet: Fleet
) -> None:
    res = stage._associate(contacts, fleet) if contacts else ScanResult()
    paired = {q.contact: q for q in res.pairs}
    for i, c in enumerate(contacts):
        q = paired.get(i)
        if q is not None:
            stage._confirm(c, q.mmsi, q.d2, distance_m(c.lat, c.lon, q.pred.lat, q.pred.lon))
    free = list(res.unassigned)
    used: set[int] = set()
    if p is not None:
        used = _judge_footprint(stage, p, contacts, res, free, fleet)
    for i in free:
        if i not in used:
            c = contacts[i]
            stage._single_dark(c, f"{c.pass_id}:{c.line_no}:{i}")


def _judge_footprint(stage: FusionStage, p: SensorPass, contacts: list[Contact], res: ScanResult,
                     free: list[int], fleet: Fleet) -> set[int]:  # fmt: skip
    cfg = stage.cfg
    sensor = stage.sensors.get(p.sensor)
    min_len = max(p.min_length_m, sensor.min_length_m if sensor else
                  DEFAULT_MIN_LENGTH_M.get(p.kind, 0.0))  # fmt: skip
    t_mid = (_ts(p.start) + _ts(p.end)) / 2
    when = datetime.fromtimestamp(t_mid, UTC)
    until = _ts(p.end) + cfg.hold_s / 2
    x0, y0, x1, y1 = shapely.bounds(p.footprint).tolist()
    assigned = {q.mmsi for q in res.pairs}
    used: set[int] = set()
    sigma = sensor.sigma_m if sensor else DEFAULT_SIGMA_M.get(p.kind, 150.0)
    for m in stage.index.candidates(y0, y1, x0, x1, t_mid):
        if m in assigned or res.gated.get(m):
            continue
        v = fleet.get(m)
        length = v.length_m if v is not None else None
        if length is None or length < min_len:
            continue
        claim = stage.index.predict(m, t_mid, until)
        if claim is None or claim.dt_s > 120.0:
            continue
        if not shapely.intersects_xy(p.footprint, claim.lon, claim.lat):
            continue
        hit = _sat_contradiction(stage, m, length, t_mid, claim.lat, claim.lon, contacts,
                                      free, used, sigma)  # fmt: skip
        if hit is not None:
            i, earlier, gap = hit
            used.add(i)
            c = contacts[i]
            stage._emit(make_event(
                cfg, "contradicted", "instant", m, when, time=when, lat=claim.lat,
                lon=claim.lon, confidence=0.7, evidence=[contact_evidence(c)],
                extra=(p.sensor, p.pass_id),
                reasons=[f"{p.kind} pass {p.pass_id} did not see MMSI {m} where its AIS "
                         f"says it is, but saw a {c.length_m:.0f} m vessel "
                         f"{gap / 1000:.1f} km away, where its earlier track led"],
                attrs={"sensor": p.sensor, "sensor_kind": p.kind, "pass_id": p.pass_id,
                       "distance_m": round(gap, 1), "basis": "satellite_pass",
                       "ais": {"lat": round(claim.lat, 6), "lon": round(claim.lon, 6)},
                       "sensed": {"lat": round(c.lat, 6), "lon": round(c.lon, 6)},
                       "earlier_track": {"lat": round(earlier[0], 6),
                                         "lon": round(earlier[1], 6)}},
            ))  # fmt: skip
            continue
        stage._emit(make_event(
            cfg, "unconfirmed", "instant", m, when, time=when, lat=claim.lat, lon=claim.lon,
            confidence=0.35, extra=(p.sensor, p.pass_id),
            reasons=[f"{p.kind} pass {p.pass_id} covered the AIS position of this "
                     f"{length:.0f} m vessel and detected nothing within the gate"],
            attrs={"sensor": p.sensor, "sensor_kind": p.kind, "pass_id": p.pass_id,
                   "length_m": length, "min_length_m": min_len,
                   "ais": {"lat": round(claim.lat, 6), "lon": round(claim.lon, 6)}},
        ))  # fmt: skip
    return used


def _sat_contradiction(
    stage: FusionStage, m: int, length: float, t: float, lat: float, lon: float,
    contacts: list[Contact], free: list[int], used: set[int], sigma: float,
) -> tuple[int, tuple[float, float], float] | None:  # fmt: skip
    """Conservative: the vessel's own AIS track jumped (its position ``max_extrapolate_s``
    ago, dead-reckoned, is ≥ ``contradict_m`` from its claim), and exactly one free
    detection of known, matching length lies in the gate of that earlier-track
    prediction."""
    cfg = stage.cfg
    fixes, times = stage.index.fixes_until(m, t)
    k = next((j for j, ft in enumerate(times) if ft >= t - cfg.max_extrapolate_s), None)
    if k is None or times[k] > t - 120.0:
        return None
    early = predict_at(fixes[: k + 1], times[: k + 1], t, cfg)
    if early is None or distance_m(early.lat, early.lon, lat, lon) < cfg.contradict_m:
        return None
    hits = []
    for i in free:
        c = contacts[i]
        if i in used or c.length_m is None or max(c.length_m, length) / max(
                min(c.length_m, length), 1e-9) > cfg.length_ratio_max:  # fmt: skip
            continue
        e, n = to_plane(early.lat, early.lon, c.lat, c.lon)
        if (e * e + n * n) / (early.var_m2 + sigma**2) <= cfg.gate_chi2:
            hits.append(i)
    if len(hits) != 1:
        return None
    c = contacts[hits[0]]
    return hits[0], (early.lat, early.lon), distance_m(c.lat, c.lon, lat, lon)


# -- snapshot forms ---------------------------------------------------------------------------

_CONTACT_FIELDS = ("lat", "lon", "sensor", "kind", "track", "speed_kn", "course_deg",
                   "heading_deg", "length_m", "confidence", "sigma_m", "pass_id", "label",
                   "status", "source", "line_no")  # fmt: skip


def contact_dict(c: Contact) -> dict[str, Any]:
    d = {k: getattr(c, k) for k in _CONTACT_FIELDS}
    d["time"] = c.time.isoformat()
    return d


def contact_from(d: dict[str, Any]) -> Contact:
    return Contact(time=datetime.fromisoformat(d["time"]), **{k: d[k] for k in _CONTACT_FIELDS})


def pass_dict(p: SensorPass) -> dict[str, Any]:
    return {"pass_id": p.pass_id, "sensor": p.sensor, "kind": p.kind,
            "start": p.start.isoformat(), "end": p.end.isoformat(),
            "footprint": shapely.to_wkb(p.footprint, hex=True), "min_length_m": p.min_length_m,
            "source": p.source, "line_no": p.line_no}  # fmt: skip


def pass_from(d: dict[str, Any]) -> SensorPass:
    return SensorPass(
        pass_id=d["pass_id"], sensor=d["sensor"], kind=d["kind"],
        start=datetime.fromisoformat(d["start"]), end=datetime.fromisoformat(d["end"]),
        footprint=shapely.from_wkb(d["footprint"]), min_length_m=d["min_length_m"],
        source=d["source"], line_no=d["line_no"],
    )  # fmt: skip
