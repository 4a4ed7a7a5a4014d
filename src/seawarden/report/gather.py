"""Collect everything an evidence report states about one alert, from the store alone.

The report must say nothing the store cannot back: the alert's revisions as issued, the
vessel's identity and its history, the watchlist match, every detector finding behind the
alert with the detector's version and the parameters it ran with, the track, the raw
messages retained for the vessel (``store/evidence.py``) matched to each finding's
evidence, and the runs that wrote the store (their effective configuration and software
versions). Reads go through a plain connection so the API (one connection per request)
and the CLI share this code: a :class:`sqlite3.Connection` on a SQLite store file, or the
psycopg connection of a :class:`~seawarden.store.postgres.PostgresStore`. Both give the same
bundle for the same replay: PostgreSQL's ``timestamptz`` come back as the ISO text (UTC)
SQLite holds, its JSON columns as text, and text columns are ordered bytewise as SQLite
orders them.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from seawarden.areas.load import load_areas
from seawarden.errors import SeawardenError
from seawarden.model.area import Area
from seawarden.store import evidence as ev

if TYPE_CHECKING:
    import psycopg

    Conn = sqlite3.Connection | psycopg.Connection[Any]

# Findings are looked for this far before the first revision (risk keeps closed findings
# with a half-life; the default evidence horizon is the same 6 h).
LOOKBACK = timedelta(hours=6)
# The track is drawn a little past the last revision, to show where the vessel went.
TRACK_AFTER = timedelta(minutes=30)
DEFAULT_AREAS = Path(__file__).resolve().parents[1] / "data" / "areas.geojson"


@dataclass(frozen=True, slots=True, kw_only=True)
class Phase:
    kind: str
    phase: str
    time: datetime
    lat: float
    lon: float
    area_id: str | None
    attrs: Mapping[str, Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class Finding:
    """One detector situation (an event id) with all its phases and matched evidence."""

    id: str
    kind: str
    version: str
    params: Mapping[str, Any]
    phases: tuple[Phase, ...]
    matches: tuple[ev.Match, ...]

    @property
    def start(self) -> datetime:
        return self.phases[0].time

    @property
    def unmatched(self) -> int:
        return sum(1 for m in self.matches if not m.rows)


@dataclass(frozen=True, slots=True, kw_only=True)
class TrackPoint:
    time: datetime
    lat: float
    lon: float
    speed_kn: float | None
    course_deg: float | None
    heading_deg: int | None


@dataclass(frozen=True, slots=True, kw_only=True)
class RunRow:
    run_id: str
    started: str
    finished: str | None
    command: str
    inputs: list[str]
    config: dict[str, Any]
    config_digest: str  # SHA-256 of the configuration as recorded
    versions: dict[str, str]
    status: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Bundle:
    """The report's content. ``revisions`` are those the reader may see, in order."""

    alert_id: str
    revisions: tuple[Mapping[str, Any], ...]
    vessel: Mapping[str, Any] | None
    identity: tuple[Mapping[str, Any], ...]
    findings: tuple[Finding, ...]
    area_events: tuple[Phase, ...]
    track: tuple[TrackPoint, ...]
    areas: tuple[Area, ...]
    runs: tuple[RunRow, ...]
    evidence_table: bool  # False: this store predates evidence retention
    window: tuple[datetime, datetime]
    contact_table: bool = True  # False: this store predates radar/satellite evidence

    @property
    def mmsi(self) -> int:
        return int(self.revisions[-1]["mmsi"])

    @property
    def watchlist(self) -> Mapping[str, Any] | None:
        for r in reversed(self.revisions):
            if r.get("watchlist"):
                w: Mapping[str, Any] = r["watchlist"]
                return w
        if self.vessel is not None and self.vessel.get("watchlist"):
            wv: Mapping[str, Any] = self.vessel["watchlist"]
            return wv
        return None


class ReportError(SeawardenError):
    """The report cannot be built (no such alert, unreadable store)."""


def _time(value: str | datetime) -> datetime:
    if isinstance(value, datetime):  # PostgreSQL timestamptz
        return value.astimezone(UTC)
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _text(value: Any) -> Any:
    """A time column as SQLite holds it (ISO 8601 text); other values unchanged."""
    return value.astimezone(UTC).isoformat() if isinstance(value, datetime) else value


class _Db:
    """The report's reads on either store. SQL is written once with ``?`` placeholders and
    ``{C}`` after text columns it orders by (bytewise on PostgreSQL, as SQLite's BINARY);
    time arguments are datetimes (ISO text on SQLite, whose times are that text)."""

    def __init__(self, conn: Conn) -> None:
        self.conn = conn
        self.pg = ev.is_postgres(conn)

    def rows(self, sql: str, *args: Any) -> list[Sequence[Any]]:
        if self.pg:
            from psycopg.types.string import TextLoader

            pg: psycopg.Connection[Any] = self.conn  # type: ignore[assignment]
            with pg.cursor() as cur:
                # JSON columns as their text, parsed below as SQLite's text is
                cur.adapters.register_loader("json", TextLoader)
                cur.adapters.register_loader("jsonb", TextLoader)
                query = sql.replace("%", "%%").replace("?", "%s").format(C=' COLLATE "C"')
                cur.execute(query, args)
                return list(cur.fetchall())
        lite: sqlite3.Connection = self.conn  # type: ignore[assignment]
        params = [a.isoformat() if isinstance(a, datetime) else a for a in args]
        return list(lite.execute(sql.format(C=""), params).fetchall())


def all_revisions(conn: Conn, alert_id: str) -> list[dict[str, Any]]:
    rows = _Db(conn).rows("SELECT body FROM alerts WHERE id = ? ORDER BY revision", alert_id)
    return [orjson.loads(r[0]) for r in rows]


def gather(
    conn: Conn,
    alert_id: str,
    revisions: Sequence[Mapping[str, Any]] | None = None,
) -> Bundle:
    """Everything the report shows; ``revisions`` (already authorised) or all of them."""
    revs = list(revisions) if revisions is not None else all_revisions(conn, alert_id)
    db = _Db(conn)
    if not revs:
        raise ReportError(f"no alert {alert_id} in this store; check the id (seawarden alerts)")
    mmsi = int(revs[-1]["mmsi"])
    first, last = _time(revs[0]["event_time"]), _time(revs[-1]["event_time"])
    start, end = first - LOOKBACK, last
    kinds = sorted({str(d) for r in revs for d in r.get("detectors") or ()})
    findings = _findings(db, mmsi, kinds, start, end)
    t0 = min([start, *(f.start for f in findings)])
    rows = ev.read_rows(conn, mmsi, t0, end + TRACK_AFTER)
    contacts = _contact_rows(conn, findings)
    findings = [_with_matches(f, rows, mmsi, contacts) for f in findings]
    area_events = _area_events(db, mmsi, t0, end + TRACK_AFTER)
    runs = _runs(db)
    areas = _areas(runs)
    wanted = {str(a) for r in revs for a in r.get("area_ids") or ()}
    wanted |= {p.area_id for f in findings for p in f.phases if p.area_id}
    wanted |= {e.area_id for e in area_events if e.area_id}
    return Bundle(
        alert_id=alert_id,
        revisions=tuple(revs),
        vessel=_vessel(db, mmsi),
        identity=tuple(_identity(db, mmsi)),
        findings=tuple(findings),
        area_events=tuple(area_events),
        track=tuple(_track(db, mmsi, t0, end + TRACK_AFTER)),
        areas=tuple(a for a in areas if a.id in wanted) or tuple(areas),
        runs=tuple(runs),
        evidence_table=ev.has_table(conn),
        window=(t0, end + TRACK_AFTER),
        contact_table=ev.has_contact_table(conn),
    )


def _contact_rows(conn: Conn, findings: Sequence[Finding]) -> dict[str, list[ev.ContactRow]]:
    """Retained radar/satellite inputs of the sensors the findings cite, over the span of
    the contacts they cite."""
    spans: dict[str, tuple[datetime, datetime]] = {}
    for f in findings:
        for p in f.phases:
            for e in p.attrs.get("evidence") or ():
                if not ev.is_contact_report(e):
                    continue
                try:
                    t = _time(str(e.get("time")))
                except ValueError:
                    continue
                sensor = str(e["sensor"])
                lo, hi = spans.get(sensor, (t, t))
                spans[sensor] = (min(lo, t), max(hi, t))
    return {s: ev.read_contact_rows(conn, s, lo, hi) for s, (lo, hi) in sorted(spans.items())}


def _area_events(db: _Db, mmsi: int, start: datetime, end: datetime) -> list[Phase]:
    rows = db.rows(
        "SELECT kind, phase, time, lat, lon, area_id, attrs FROM events"
        " WHERE mmsi = ? AND time >= ? AND time <= ? AND kind LIKE 'area.%'"
        " ORDER BY time, id{C}, phase{C}",
        mmsi,
        start,
        end,
    )
    return [_phase(r, attrs_col=6) for r in rows]


def _phase(r: Sequence[Any], *, attrs_col: int) -> Phase:
    """One events row (kind, phase, time, lat, lon, area_id, …, attrs) as a Phase."""
    return Phase(
        kind=str(r[0]),
        phase=str(r[1]),
        time=_time(r[2]),
        lat=r[3],
        lon=r[4],
        area_id=r[5],
        attrs=orjson.loads(r[attrs_col]),
    )


def _findings(
    db: _Db, mmsi: int, kinds: Sequence[str], start: datetime, end: datetime
) -> list[Finding]:
    if not kinds:
        return []
    # Situations with a phase in the window; then every phase of them up to the last revision.
    ids = [
        str(r[0])
        for r in db.rows(
            "SELECT DISTINCT id FROM events WHERE mmsi = ?"
            f" AND kind IN ({','.join('?' * len(kinds))}) AND time >= ? AND time <= ?",
            mmsi,
            *kinds,
            start,
            end,
        )
    ]
    out: list[Finding] = []
    for eid in ids:
        rows = db.rows(
            "SELECT kind, phase, time, lat, lon, area_id, producer_version, attrs FROM events"
            " WHERE id = ? AND time <= ? ORDER BY time, phase{C}",
            eid,
            end,
        )
        phases = tuple(_phase(r, attrs_col=7) for r in rows)
        params: Mapping[str, Any] = next(
            (p.attrs["params"] for p in phases if "params" in p.attrs), {}
        )
        out.append(
            Finding(
                id=eid,
                kind=str(rows[0][0]),
                version=str(rows[-1][6]),
                params=params,
                phases=phases,
                matches=(),
            )
        )
    out.sort(key=lambda f: (f.start, f.kind, f.id))
    return out


def _with_matches(
    f: Finding,
    rows: Sequence[ev.EvidenceRow],
    mmsi: int,
    contacts: Mapping[str, Sequence[ev.ContactRow]],
) -> Finding:
    seen: set[tuple[Any, ...]] = set()
    reports: list[Mapping[str, Any]] = []
    for p in f.phases:
        for e in p.attrs.get("evidence") or ():
            key = (
                e.get("time"),
                e.get("source"),
                e.get("line_no"),
                e.get("msg_type"),
                e.get("sensor"),
            )
            if key not in seen:
                seen.add(key)
                reports.append(e)
    reports.sort(key=lambda e: (str(e.get("time")), str(e.get("source")), e.get("line_no") or 0))
    matches = tuple(
        ev.match_contact(contacts.get(str(e["sensor"]), ()), e)
        if ev.is_contact_report(e)
        else ev.match_evidence(rows, mmsi, e)
        for e in reports
    )
    return Finding(
        id=f.id, kind=f.kind, version=f.version, params=f.params, phases=f.phases, matches=matches
    )


# The SQLite store's vessel columns, in its order (PostgreSQL adds a generated geography).
VESSEL_COLUMNS = (
    "mmsi",
    "first_seen",
    "last_seen",
    "lat",
    "lon",
    "speed_kn",
    "course_deg",
    "imo",
    "name",
    "callsign",
    "ship_type",
    "flag",
    "mmsi_class",
    "watchlist",
)


def _vessel(db: _Db, mmsi: int) -> dict[str, Any] | None:
    rows = db.rows(f"SELECT {', '.join(VESSEL_COLUMNS)} FROM vessels WHERE mmsi = ?", mmsi)
    if not rows:
        return None
    out = {k: _text(v) for k, v in zip(VESSEL_COLUMNS, rows[0], strict=True)}
    if out.get("watchlist"):
        out["watchlist"] = orjson.loads(out["watchlist"])
    return out


IDENTITY_COLUMNS = ("time", "field", "old", "new", "source")


def _identity(db: _Db, mmsi: int) -> list[dict[str, Any]]:
    rows = db.rows(
        f"SELECT {', '.join(IDENTITY_COLUMNS)} FROM identity_history WHERE mmsi = ?"
        " ORDER BY time, field{C}",
        mmsi,
    )
    return [{k: _text(v) for k, v in zip(IDENTITY_COLUMNS, r, strict=True)} for r in rows]


def _track(db: _Db, mmsi: int, start: datetime, end: datetime) -> list[TrackPoint]:
    rows = db.rows(
        "SELECT time, lat, lon, speed_kn, course_deg, heading_deg FROM positions"
        " WHERE mmsi = ? AND time >= ? AND time <= ? ORDER BY time",
        mmsi,
        start,
        end,
    )
    return [
        TrackPoint(
            time=_time(r[0]), lat=r[1], lon=r[2], speed_kn=r[3], course_deg=r[4], heading_deg=r[5]
        )
        for r in rows
    ]


def _runs(db: _Db) -> list[RunRow]:
    rows = db.rows(
        "SELECT run_id, started, finished, command, inputs, config, versions, status FROM runs"
        " ORDER BY started, run_id{C}"
    )
    out: list[RunRow] = []
    for r in rows:
        config = str(r[5])
        if db.pg:
            # jsonb keeps the values, not the text: the digest is of the canonical text the
            # SQLite store records (sorted keys, compact), so both stores give the same digest
            config = orjson.dumps(orjson.loads(config), option=orjson.OPT_SORT_KEYS).decode()
        out.append(
            RunRow(
                run_id=str(r[0]),
                started=str(_text(r[1])),
                finished=None if r[2] is None else str(_text(r[2])),
                command=str(r[3]),
                inputs=list(orjson.loads(r[4])),
                config=dict(orjson.loads(config)),
                config_digest=hashlib.sha256(config.encode()).hexdigest(),
                versions=dict(orjson.loads(r[6])),
                status=str(r[7]),
            )
        )
    return out


def _areas(runs: Sequence[RunRow]) -> list[Area]:
    """The areas the runs watched (their recorded file, if still readable), else the
    packaged defaults."""
    for run in reversed(runs):
        path = run.config.get("areas")
        if isinstance(path, str) and Path(path).is_file():
            try:
                return load_areas(path)
            except SeawardenError:
                continue
    return load_areas(DEFAULT_AREAS)
