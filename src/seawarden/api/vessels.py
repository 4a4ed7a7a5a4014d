"""The vessel picture for the console: who is where, how risky, heading for which cable.

Two sources, one shape. Inside ``seawarden serve`` the picture is the running pipeline's
memory — the fleet, the risk stage's latest assessment, the monitor and each vessel's open
alert — built in the pipeline's thread (:mod:`seawarden.api.link`). Standalone, it is the
store: the ``vessels`` table joined with each vessel's latest alert revision.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from seawarden.alerts.lifecycle import reasons_of
from seawarden.api import db
from seawarden.api.hub import HubAlertSink
from seawarden.fleet.vessel import VesselState
from seawarden.fusion.ids import is_target_id
from seawarden.pipeline.core import PipelineCore, match_to_dict
from seawarden.pipeline.sinks import iso_utc

BBox = tuple[float, float, float, float]  # min lon, min lat, max lon, max lat
LEVEL_RANK = {"info": 0, "low": 1, "medium": 2, "high": 3, "critical": 4}


def in_bbox(lat: float | None, lon: float | None, bbox: BBox | None) -> bool:
    if bbox is None:
        return True
    if lat is None or lon is None:
        return False
    return bbox[0] <= lon <= bbox[2] and bbox[1] <= lat <= bbox[3]


def _sort(items: list[dict[str, Any]], limit: int) -> list[dict[str, Any]]:
    # riskiest first; among equals the most recently seen first
    items.sort(key=lambda v: (-(v["risk_score"] or 0.0), _neg_time(v["last_seen"])))
    return items[:limit]


def _neg_time(text: str | None) -> float:
    return -datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() if text else 0.0


def _from_alert(body: Mapping[str, Any] | None) -> dict[str, Any]:
    """Alert-derived fields of a vessel item; an open alert only (not a Cancel)."""
    if body is None or body.get("msg_type") == "Cancel":
        return {"next_crossing": None, "predicted_track": [], "alert_id": None}
    return {
        "next_crossing": body.get("next_crossing"),
        "predicted_track": list(body.get("predicted_track") or []),
        "alert_id": body.get("id"),
    }


# -- serve mode: built in the pipeline's thread ---------------------------------------------


def live_item(
    v: VesselState, core: PipelineCore, alerts: HubAlertSink, open_ids: Mapping[int, str]
) -> dict[str, Any]:
    last = v.last
    risk = core.risk
    a = risk.latest.get(v.mmsi) if risk is not None else None
    alert = alerts.open_by_mmsi.get(v.mmsi)
    open_id = open_ids.get(v.mmsi)
    body = alert.to_dict() if alert is not None and alert.id == open_id else None
    item: dict[str, Any] = {
        "mmsi": v.mmsi,
        "name": v.name,
        "imo": v.imo,
        "callsign": v.callsign,
        "flag": v.flag,
        "ship_type": v.ship_type,
        "lat": last.lat if last else None,
        "lon": last.lon if last else None,
        "speed_kn": last.speed_kn if last else None,
        "course_deg": last.course_deg if last else None,
        "heading_deg": last.heading_deg if last else None,
        "last_seen": iso_utc(v.last_seen),
        "risk_level": a.level if a is not None else "info",
        "risk_score": round(a.score, 1) if a is not None else 0.0,
        "monitored": risk is not None and v.mmsi in risk.monitor.monitored,
        "watchlist": match_to_dict(v.watch),
        "non_ais": is_target_id(v.mmsi),
    }
    item.update(_from_alert(body))
    if body is None and open_id is not None:
        item["alert_id"] = open_id
    return item


def live_vessels(
    core: PipelineCore, alerts: HubAlertSink, bbox: BBox | None, limit: int
) -> list[dict[str, Any]]:
    open_ids = core.risk.alerts.open_alerts() if core.risk is not None else {}
    items = []
    for v in core.fleet:
        last = v.last
        if last is None or not in_bbox(last.lat, last.lon, bbox):
            continue
        items.append(live_item(v, core, alerts, open_ids))
    return _sort(items, limit)


def live_vessel(
    core: PipelineCore, alerts: HubAlertSink, mmsi: int
) -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
    """The item and the latest assessment's contributions, or None if not in memory."""
    v = core.fleet.get(mmsi)
    if v is None:
        return None
    open_ids = core.risk.alerts.open_alerts() if core.risk is not None else {}
    item = live_item(v, core, alerts, open_ids)
    a = core.risk.latest.get(mmsi) if core.risk is not None else None
    contributions = (
        [{"detector": r.detector, "weight": r.weight, "text": r.text} for r in reasons_of(a)]
        if a is not None
        else []
    )
    return item, contributions


# -- standalone: the store ------------------------------------------------------------------

_VESSEL_COLS = (
    "mmsi, last_seen, lat, lon, speed_kn, course_deg, imo, name, callsign, ship_type, flag,"
    " watchlist"
)


def latest_alert_bodies(conn: db.StoreConnection, mmsis: Sequence[int]) -> dict[int, Any]:
    """Each vessel's most recent alert revision (by event time, then revision)."""
    out: dict[int, Any] = {}
    for start in range(0, len(mmsis), 500):
        chunk = list(mmsis[start : start + 500])
        rows = conn.execute(
            f"SELECT mmsi, body FROM alerts WHERE mmsi IN ({','.join('?' * len(chunk))})"
            " ORDER BY time, id, revision",
            chunk,
        )
        for m, body in rows:
            out[int(m)] = body
    return {m: orjson.loads(b) for m, b in out.items()}


def _heading(conn: db.StoreConnection, mmsi: int) -> int | None:
    row = conn.execute(
        "SELECT heading_deg FROM positions WHERE mmsi = ? ORDER BY time DESC LIMIT 1", (mmsi,)
    ).fetchone()
    return None if row is None or row[0] is None else int(row[0])


def _is_open(body: Any) -> bool:
    """An alert body counts for a vessel's risk only while open (not a Cancel)."""
    return body is not None and body.get("msg_type") != "Cancel"


def _open_score(body: Any) -> float:
    return float(body["score"]) if _is_open(body) else 0.0


def _stored_item(conn: db.StoreConnection, r: Sequence[Any], body: Any) -> dict[str, Any]:
    (mmsi, last_seen, lat, lon, sog, cog, imo, name, callsign, ship_type, flag, watch) = r
    is_open = _is_open(body)
    item: dict[str, Any] = {
        "mmsi": int(mmsi),
        "name": name,
        "imo": imo,
        "callsign": callsign,
        "flag": flag,
        "ship_type": ship_type,
        "lat": lat,
        "lon": lon,
        "speed_kn": sog,
        "course_deg": cog,
        "heading_deg": _heading(conn, int(mmsi)),
        "last_seen": iso_utc(datetime.fromisoformat(last_seen)),
        "risk_level": body["severity"] if is_open else "info",
        "risk_score": _open_score(body),
        "monitored": bool(body.get("monitored")) if is_open else False,
        "watchlist": None if watch is None else orjson.loads(watch),
        "non_ais": is_target_id(int(mmsi)),
    }
    item.update(_from_alert(body))
    return item


# PostgreSQL: the box is first matched on the GiST index of vessels.geog, as a polygon a
# little larger than the box (its edges are geodesics; store/spatial.py densifies them to
# within metres of the lon/lat lines), then cut exactly by the same BETWEEN as on SQLite.
_PAD_DEG = 0.01
_INDEXED_SPAN_DEG = 90.0  # a larger box takes most of the fleet: a plain scan is as good


def _bbox_filter(conn: db.StoreConnection, bbox: BBox) -> tuple[str, list[Any]]:
    sql = "lon BETWEEN ? AND ? AND lat BETWEEN ? AND ?"
    args: list[Any] = [bbox[0], bbox[2], bbox[1], bbox[3]]
    lo_lon, lo_lat = bbox[0] - _PAD_DEG, bbox[1] - _PAD_DEG
    hi_lon, hi_lat = bbox[2] + _PAD_DEG, bbox[3] + _PAD_DEG
    # the polygon stays clear of the antimeridian and the poles (no wrap-around question)
    clear = lo_lon >= -180.0 and hi_lon <= 180.0 and lo_lat >= -85.0 and hi_lat <= 85.0
    if db.is_pg(conn) and clear and max(hi_lon - lo_lon, hi_lat - lo_lat) < _INDEXED_SPAN_DEG:
        from seawarden.store.spatial import area_wkt

        ring = [[lo_lon, lo_lat], [hi_lon, lo_lat], [hi_lon, hi_lat], [lo_lon, hi_lat]]
        wkt = area_wkt({"type": "Polygon", "coordinates": [[*ring, ring[0]]]})
        sql = "ST_Intersects(geog, ST_GeogFromText(?)) AND " + sql
        args.insert(0, wkt)
    return sql, args


def stored_vessels(
    conn: db.StoreConnection, bbox: BBox | None, limit: int, *, scan_max: int = 50_000
) -> list[dict[str, Any]]:
    sql, args = f"SELECT {_VESSEL_COLS} FROM vessels", list[Any]()
    if bbox is not None:
        where, args = _bbox_filter(conn, bbox)
        sql += " WHERE " + where
    sql += " ORDER BY last_seen DESC LIMIT ?"
    args.append(scan_max)
    rows = conn.execute(sql, args).fetchall()
    bodies = latest_alert_bodies(conn, [int(r[0]) for r in rows])
    # The same rule as _sort (open alerts only; rows are already newest first, and the sort
    # is stable), so the cut to ``limit`` keeps exactly the vessels _sort would rank first.
    scored = sorted(rows, key=lambda r: -_open_score(bodies.get(int(r[0]))))[:limit]
    return _sort([_stored_item(conn, r, bodies.get(int(r[0]))) for r in scored], limit)


def stored_vessel(
    conn: db.StoreConnection, mmsi: int
) -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
    r = conn.execute(f"SELECT {_VESSEL_COLS} FROM vessels WHERE mmsi = ?", (mmsi,)).fetchone()
    if r is None:
        return None
    body = latest_alert_bodies(conn, [mmsi]).get(mmsi)
    item = _stored_item(conn, r, body)
    reasons = list(body.get("reasons") or []) if body is not None else []
    return item, reasons


# -- dossier parts from the store (both modes) ----------------------------------------------


def identity_history(conn: db.StoreConnection, mmsi: int) -> list[dict[str, Any]]:
    rows = conn.execute(
        "SELECT time, field, old, new, source FROM identity_history WHERE mmsi = ?"
        " ORDER BY time, field",
        (mmsi,),
    )
    return [
        {
            "time": iso_utc(datetime.fromisoformat(t)),
            "field": f,
            "old": old,
            "new": new,
            "source": src,
        }
        for t, f, old, new, src in rows
    ]


def events(conn: db.StoreConnection, mmsi: int, limit: int = 500) -> list[dict[str, Any]]:
    rows = conn.execute(
        "SELECT id, phase, kind, mmsi, time, lat, lon, area_id, producer_version, attrs"
        " FROM events WHERE mmsi = ? ORDER BY time DESC, id DESC LIMIT ?",
        (mmsi, limit),
    )
    return [
        {
            "id": i,
            "kind": kind,
            "phase": phase,
            "mmsi": int(m),
            "time": iso_utc(datetime.fromisoformat(t)),
            "lat": lat,
            "lon": lon,
            "area_id": area,
            "producer_version": ver,
            "attrs": orjson.loads(attrs),
        }
        for i, phase, kind, m, t, lat, lon, area, ver, attrs in rows
    ]


def alert_refs(conn: db.StoreConnection, mmsi: int) -> list[dict[str, Any]]:
    rows = conn.execute(
        "SELECT id, revision, msg_type, severity, score, time FROM alerts WHERE mmsi = ?"
        " ORDER BY time DESC, id DESC, revision DESC LIMIT 1000",
        (mmsi,),
    )
    return [
        {
            "id": i,
            "revision": int(rev),
            "msg_type": mt,
            "severity": sev,
            "score": float(score),
            "event_time": iso_utc(datetime.fromisoformat(t)),
        }
        for i, rev, mt, sev, score, t in rows
    ]


def track(
    conn: db.StoreConnection,
    mmsi: int,
    start: datetime | None,
    end: datetime | None,
    *,
    default_window_s: float,
    max_points: int,
) -> tuple[list[dict[str, Any]], bool]:
    """Stored positions in [start, end] (default: the last 6 h of the vessel's data)."""
    if end is None:
        row = conn.execute("SELECT MAX(time) FROM positions WHERE mmsi = ?", (mmsi,)).fetchone()
        if row is None or row[0] is None:
            return [], False
        end = datetime.fromisoformat(row[0])
    if start is None:
        start = end - timedelta(seconds=default_window_s)
    if db.is_pg(conn):
        return _pg_track(conn, mmsi, start, end, max_points=max_points)
    rows = conn.execute(
        "SELECT time, lat, lon, speed_kn, course_deg, heading_deg, nav_status FROM positions"
        " WHERE mmsi = ? AND time >= ? AND time <= ? ORDER BY time LIMIT ?",
        (mmsi, start.astimezone(UTC).isoformat(), end.astimezone(UTC).isoformat(), max_points + 1),
    ).fetchall()
    items = [
        {
            "time": iso_utc(datetime.fromisoformat(t)),
            "lat": lat,
            "lon": lon,
            "speed_kn": sog,
            "course_deg": cog,
            "heading_deg": hdg,
            "nav_status": nav,
        }
        for t, lat, lon, sog, cog, hdg, nav in rows[:max_points]
    ]
    return items, len(rows) > max_points


def _pg_track(
    conn: db.StoreConnection, mmsi: int, start: datetime, end: datetime, *, max_points: int
) -> tuple[list[dict[str, Any]], bool]:
    """:func:`track` on PostgreSQL: the store's own track statement (the (mmsi, time) primary
    key, :data:`seawarden.store.postgres.TRACK_SQL`), cut at ``max_points``."""
    from seawarden.store.postgres import TRACK_SQL

    rows = conn.execute(
        TRACK_SQL + " LIMIT %(limit)s",
        {"mmsi": mmsi, "start": start, "end": end, "limit": max_points + 1},
    ).fetchall()
    # TRACK_SQL's columns: mmsi, time, lat, lon, speed_kn, course_deg, heading_deg,
    # nav_status, msg_type, source
    items = [
        {
            "time": iso_utc(datetime.fromisoformat(r[1])),
            "lat": r[2],
            "lon": r[3],
            "speed_kn": r[4],
            "course_deg": r[5],
            "heading_deg": r[6],
            "nav_status": r[7],
        }
        for r in rows[:max_points]
    ]
    return items, len(rows) > max_points
