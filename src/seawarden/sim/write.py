"""Write scenario vessels over real background traffic as tagged NMEA, with labels.

The background is a real recorded track (the Solent or Baltic cargo CSV, or any file
``read_track`` reads). It is shifted in *time only* so that it overlaps the scenario window
— real traffic is never moved in space — and re-encoded as AIVDM type 1 (and type 5 where
the file had static data). Scenario vessels (see :mod:`seawarden.sim.scenarios`) are
encoded as type 1 positions at their ITU reporting intervals and type 5 static reports every
6 minutes. Every line carries an NMEA 4 tag block with the station (``s:``) and the unix
event time (``c:``), and lines are written in event-time order, so the file replays like a
receiver log. A labels JSONL says, per scenario vessel, what a detector should conclude.
The same inputs and seed give byte-identical files.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import orjson
from pyais import encode_dict
from pyais.messages import TagBlock

from seawarden.areas import AreaIndex, load_areas
from seawarden.areas.geodesic import SideOfLine
from seawarden.errors import ConfigError
from seawarden.model import PositionReport, Record, StaticReport
from seawarden.pipeline.sinks import iso_utc
from seawarden.sim.motion import EARTH_RADIUS_M, Sample, distance_m
from seawarden.sim.scenarios import (
    BuildContext,
    Region,
    Silence,
    SimVessel,
    build,
    parse_scenario,
)
from seawarden.testing import read_track

__all__ = ["DEFAULT_START", "STATIC_EVERY_S", "Label", "Plan", "plan", "simulate"]

DEFAULT_START = datetime(2024, 12, 24, 0, 0, tzinfo=UTC)
STATIC_EVERY_S = 360
NEARBY_M = 30_000.0  # "background traffic nearby" = a real vessel within this distance…
NEARBY_S = 900  # …and within this time of the scenario vessel
SIM_STATION = "sim"
BG_STATION = "bg"


@dataclass(frozen=True, slots=True, kw_only=True)
class Label:
    """Ground truth for one scenario vessel (one MMSI); the labels JSONL contract."""

    scenario: str
    mmsi: int
    imo: int | None
    name: str
    expected: str  # "alert" | "no_alert"
    min_severity: str | None
    onset: datetime
    end: datetime
    corridor_ids: tuple[str, ...]
    last_corridor_crossing: datetime | None
    crossings: tuple[tuple[str, datetime], ...] = ()  # (corridor id, time) in time order
    incident: str | None = None
    seed: int = 0
    region: str = ""
    background_nearby: int = 0
    notes: str = ""
    params: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "mmsi": self.mmsi,
            "imo": self.imo,
            "name": self.name,
            "expected": self.expected,
            "min_severity": self.min_severity,
            "onset": iso_utc(self.onset),
            "end": iso_utc(self.end),
            "corridor_ids": list(self.corridor_ids),
            "last_corridor_crossing": None
            if self.last_corridor_crossing is None
            else iso_utc(self.last_corridor_crossing),
            "crossings": [{"area_id": a, "time": iso_utc(t)} for a, t in self.crossings],
            "incident": self.incident,
            "seed": self.seed,
            "region": self.region,
            "background_nearby": self.background_nearby,
            "notes": self.notes,
            "params": self.params,
        }


def _bundled_areas() -> Path:
    return Path(__file__).resolve().parents[1] / "data" / "areas.geojson"


def _region_of(records: Sequence[Record]) -> Region:
    pos = [r for r in records if isinstance(r, PositionReport)]
    if not pos:
        return "baltic"
    lat = sum(r.lat for r in pos) / len(pos)
    lon = sum(r.lon for r in pos) / len(pos)
    return "solent" if (-10.0 < lon < 3.0 and 47.0 < lat < 52.5) else "baltic"


@dataclass(frozen=True, slots=True, kw_only=True)
class Plan:
    """The scenario vessels (truth and transmissions) over their time-shifted background:
    what :func:`simulate` encodes, and what sensor simulators (``sim/sensors.py``) observe."""

    epoch: datetime
    vessels: list[SimVessel]
    background: list[Record]  # real records, *not yet* shifted: add ``shift`` to their times
    shift: timedelta


def plan(
    *,
    scenarios: Sequence[str],
    background: Path | None,
    seed: int,
    start: datetime | None = None,
) -> Plan:
    """Build the scenario vessels exactly as :func:`simulate` does (same seed, same ships)."""
    if not scenarios:
        raise ConfigError("no scenarios given; name at least one (see docs/scenarios.md)")
    specs = [parse_scenario(s) for s in scenarios]
    epoch = (start or DEFAULT_START).replace(microsecond=0)
    if epoch.tzinfo is None:
        epoch = epoch.replace(tzinfo=UTC)
    epoch = epoch.astimezone(UTC)

    bg_records: list[Record] = read_track(background) if background is not None else []
    region = _region_of(bg_records)
    shift = timedelta(0)
    if bg_records:
        shift = epoch - bg_records[0].time.replace(microsecond=0)
    taken = {r.mmsi for r in bg_records}
    names: set[str] = set()

    vessels: list[SimVessel] = []
    for index, (name, params) in enumerate(specs):
        ctx = BuildContext(
            region=region, seed=_sub_seed(seed, index, name), taken_mmsis=taken, taken_names=names
        )
        vessels.extend(build(ctx, name, params))
    return Plan(epoch=epoch, vessels=vessels, background=bg_records, shift=shift)


def simulate(
    out_nmea: Path,
    out_labels: Path,
    *,
    scenarios: Sequence[str],
    background: Path | None,
    seed: int,
    start: datetime | None = None,
    areas: Path | None = None,
) -> list[Label]:
    """Write ``out_nmea`` (tagged AIVDM) and ``out_labels`` (JSONL); return the labels.

    ``scenarios``: names or ``name:key=value,…`` specs (see ``docs/scenarios.md``).
    ``background``: a real track file, shifted in time so its first report is at ``start``.
    ``start``: the scenario epoch (default 2024-12-24T00:00Z); each scenario begins
    ``start_h`` hours after it. ``areas``: corridors used to label crossings (default: the
    bundled 22 corridors).
    """
    p = plan(scenarios=scenarios, background=background, seed=seed, start=start)
    epoch, vessels, bg_records, shift = p.epoch, p.vessels, p.background, p.shift
    area_index = AreaIndex(load_areas(areas or _bundled_areas()))
    labels = _labels(vessels, epoch, area_index, seed, bg_records, shift)

    lines = _encode(vessels, epoch, bg_records, shift)
    out_nmea.parent.mkdir(parents=True, exist_ok=True)
    out_nmea.write_bytes(b"".join(lines))
    out_labels.parent.mkdir(parents=True, exist_ok=True)
    out_labels.write_bytes(
        b"".join(orjson.dumps(lb.to_dict(), option=orjson.OPT_SORT_KEYS) + b"\n" for lb in labels)
    )
    return labels


def _sub_seed(seed: int, index: int, name: str) -> int:
    return random.Random(f"{seed}:{index}:{name}").getrandbits(63)


# -- labels -----------------------------------------------------------------------------------
def _labels(
    vessels: Sequence[SimVessel],
    epoch: datetime,
    index: AreaIndex,
    seed: int,
    bg: Sequence[Record],
    shift: timedelta,
) -> list[Label]:
    bg_arr = _bg_arrays(bg, epoch, shift)
    sides = {a.id: SideOfLine(a.centerline) for a in index.areas if a.centerline is not None}
    out: list[Label] = []
    for v in vessels:
        if not v.labelled:
            continue
        hulls = [w for w in vessels if w.mmsi == v.mmsi and w.scenario == v.scenario]
        corridors: set[str] = set()
        crossings: list[tuple[int, str]] = []
        nearby: set[int] = set()
        for hull in hulls:
            window = [s for s in hull.samples if v.onset_ms <= s.t_ms <= v.end_ms]
            if v.expected == "no_alert":
                window = hull.samples
            ids, cross = _corridors(window, index, sides)
            corridors |= ids
            crossings.extend(cross)
            nearby |= _nearby(hull.samples, bg_arr)
        ms = timedelta(milliseconds=1)
        out.append(
            Label(
                scenario=v.scenario,
                mmsi=v.mmsi,
                imo=v.imo,
                name=v.name,
                expected=v.expected,
                min_severity=v.min_severity,
                onset=(epoch + v.onset_ms * ms).replace(microsecond=0),
                end=(epoch + v.end_ms * ms).replace(microsecond=0),
                corridor_ids=tuple(sorted(corridors)),
                last_corridor_crossing=(epoch + max(crossings)[0] * ms).replace(microsecond=0)
                if crossings
                else None,
                crossings=tuple(
                    (a, (epoch + t * ms).replace(microsecond=0)) for t, a in sorted(crossings)
                ),
                incident=v.incident,
                seed=seed,
                region=str(v.params.get("region", "")),
                background_nearby=len(nearby),
                notes=v.notes + _nearby_note(len(nearby), bool(bg)),
                params=v.params,
            )
        )
    return out


def _nearby_note(count: int, have_bg: bool) -> str:
    if not have_bg:
        return "; no background traffic given"
    if count == 0:
        return "; NO real background traffic near this scenario (placed for the incident facts)"
    return f"; {count} real background vessels within 30 km during the scenario"


def _corridors(
    samples: Sequence[Sample], index: AreaIndex, sides: dict[str, SideOfLine]
) -> tuple[set[str], list[tuple[int, str]]]:
    """Areas the true track is inside, and times (ms) it crossed a corridor centerline."""
    ids: set[str] = set()
    crossings: list[tuple[int, str]] = []
    last_side: dict[str, int] = {}
    for s in samples:
        inside = index.containing(s.lon, s.lat)
        ids.update(inside)
        for area_id in inside:
            side_of = sides.get(area_id)
            if side_of is None:
                continue
            side = side_of.side(s.lon, s.lat)
            if side == 0:
                continue
            prev = last_side.get(area_id)
            if prev is not None and prev != side:
                crossings.append((s.t_ms, area_id))
            last_side[area_id] = side
    return ids, crossings


def _bg_arrays(
    bg: Sequence[Record], epoch: datetime, shift: timedelta
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    pos = [r for r in bg if isinstance(r, PositionReport)]
    base = epoch.timestamp()
    t = np.array([(r.time + shift).timestamp() - base for r in pos], dtype=float)
    lat = np.array([r.lat for r in pos], dtype=float)
    lon = np.array([r.lon for r in pos], dtype=float)
    mmsi = np.array([r.mmsi for r in pos], dtype=np.int64)
    return t, lat, lon, mmsi


def _nearby(
    samples: Sequence[Sample], bg: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]
) -> set[int]:
    """Background MMSIs within NEARBY_M and NEARBY_S of the scenario vessel."""
    t, lat, lon, mmsi = bg
    found: set[int] = set()
    if len(t) == 0:
        return found
    last = -math.inf
    for s in samples:
        ts = s.t_ms / 1000.0
        if ts - last < 300.0:
            continue
        last = ts
        m = np.abs(t - ts) <= NEARBY_S
        m &= np.abs(lat - s.lat) <= 0.3
        if not m.any():
            continue
        dlat = np.radians(lat[m] - s.lat)
        dlon = np.radians(lon[m] - s.lon) * math.cos(math.radians(s.lat))
        d = EARTH_RADIUS_M * np.hypot(dlat, dlon)
        found.update(int(x) for x in mmsi[m][d <= NEARBY_M])
    return found


# -- NMEA ---------------------------------------------------------------------------------------
def _tagged(station: str, t_s: int, sentences: Iterable[str]) -> bytes:
    fields: dict[str, Any] = {"source_station": station, "receiver_timestamp": t_s}
    tb = TagBlock.create(**fields).decode()
    return "".join(f"\\{tb}\\{s}\n" for s in sentences).encode("ascii")


def _silenced(silences: Sequence[Silence], t_ms: int, lat: float, lon: float) -> bool:
    """Whether a transmission at (t_ms after the epoch, lat, lon) falls in a receiver outage."""
    return any(
        q.start_ms <= t_ms <= q.end_ms and distance_m(q.lat, q.lon, lat, lon) <= q.radius_m
        for q in silences
    )


def _encode(
    vessels: Sequence[SimVessel], epoch: datetime, bg: Sequence[Record], shift: timedelta
) -> list[bytes]:
    base = int(epoch.timestamp())
    items: list[tuple[int, int, int, int, dict[str, Any]]] = []  # t, rank, mmsi, n, fields
    n = 0
    silences = [q for v in vessels for q in v.silences]
    for v in vessels:
        last_static = -math.inf
        for s in v.samples:
            if not s.on or (silences and _silenced(silences, s.t_ms, s.rep_lat, s.rep_lon)):
                continue
            t_s = base + s.t_ms // 1000
            if t_s - last_static >= STATIC_EVERY_S:
                last_static = t_s
                items.append((t_s, 0, v.mmsi, n, _static_fields(v)))
                n += 1
            items.append((t_s, 0, v.mmsi, n, _position_fields(v.mmsi, s)))
            n += 1
    last_pos: dict[int, tuple[float, float]] = {}  # a static report has no position
    for rec in bg:
        t_s = int((rec.time + shift).timestamp())
        if isinstance(rec, PositionReport):
            last_pos[rec.mmsi] = (rec.lat, rec.lon)
        if silences and rec.mmsi in last_pos:
            t_ms = round(((rec.time + shift) - epoch).total_seconds() * 1000)
            if _silenced(silences, t_ms, *last_pos[rec.mmsi]):
                continue
        fields = _bg_position(rec) if isinstance(rec, PositionReport) else _bg_static(rec)
        items.append((t_s, 1, rec.mmsi, n, fields))
        n += 1
    items.sort(key=lambda it: (it[0], it[1], it[2], it[3]))
    out: list[bytes] = []
    seq = 0
    for t_s, rank, _, _, fields in items:
        station = SIM_STATION if rank == 0 else BG_STATION
        if fields["msg_type"] == 5:
            sentences = encode_dict(fields, sentence_type="VDM", seq_id=seq)
            seq = (seq + 1) % 10
        else:
            sentences = encode_dict(fields, sentence_type="VDM")
        out.append(_tagged(station, t_s, sentences))
    return out


def _position_fields(mmsi: int, s: Sample) -> dict[str, Any]:
    return {
        "msg_type": 1,
        "mmsi": mmsi,
        "status": s.nav_status,
        "turn": -128,
        "speed": min(102.2, s.rep_speed_kn),
        "accuracy": 1,
        "lon": round(s.rep_lon, 6),
        "lat": round(s.rep_lat, 6),
        "course": s.rep_course_deg,
        "heading": s.heading_deg,
        "second": (s.t_ms // 1000) % 60,
    }


def _static_fields(v: SimVessel) -> dict[str, Any]:
    bow = round(v.length_m * 0.85)
    port = v.beam_m // 2
    return {
        "msg_type": 5,
        "mmsi": v.mmsi,
        "ais_version": 0,
        "imo": v.imo or 0,
        "callsign": v.callsign,
        "shipname": v.name,
        "ship_type": v.ship_type,
        "to_bow": bow,
        "to_stern": v.length_m - bow,
        "to_port": port,
        "to_starboard": v.beam_m - port,
        "epfd": 1,
        "draught": v.draught_m,
        "destination": v.destination,
        "dte": 0,
    }


def _bg_position(r: PositionReport) -> dict[str, Any]:
    return {
        "msg_type": 1,
        "mmsi": r.mmsi,
        "status": 15 if r.nav_status is None else r.nav_status,
        "turn": -128,
        "speed": 102.3 if r.speed_kn is None else min(102.2, r.speed_kn),
        "accuracy": 0 if not r.accuracy else 1,
        "lon": round(r.lon, 6),
        "lat": round(r.lat, 6),
        "course": 360.0 if r.course_deg is None else r.course_deg,
        "heading": 511 if r.heading_deg is None else r.heading_deg,
        "second": r.time.second,
    }


def _bg_static(r: StaticReport) -> dict[str, Any]:
    length = int(r.length_m or 0)
    beam = int(r.beam_m or 0)
    return {
        "msg_type": 5,
        "mmsi": r.mmsi,
        "imo": r.imo or 0,
        "callsign": r.callsign or "",
        "shipname": r.name or "",
        "ship_type": r.ship_type or 0,
        "to_bow": length // 2,
        "to_stern": length - length // 2,
        "to_port": beam // 2,
        "to_starboard": beam - beam // 2,
        "draught": r.draught_m or 0.0,
        "destination": r.destination or "",
    }
