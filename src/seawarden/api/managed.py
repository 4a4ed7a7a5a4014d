"""Areas of interest and the watchlist as the watch floor edits them: kept in the store.

Analysts add a corridor when a new cable is laid, or a tanker the day it is named in the
news, without a restart. The edited sets live in two tables of the store (``api_areas``,
``api_watchlist``; on PostgreSQL from migration 0004), seeded from the configured files
when empty; every change is written with its audit entry in one transaction. Validation is
the loaders' own
(:func:`seawarden.areas.load.parse_areas`, :func:`seawarden.fleet.watchlist_io.read_watchlist`),
so a feature or row the API accepts is exactly one the config files would.
"""

from __future__ import annotations

import math
import sqlite3
import tempfile
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from seawarden.api import db
from seawarden.areas.load import load_areas, parse_areas
from seawarden.errors import ConfigError
from seawarden.fleet.watchlist import Watchlist, WatchlistEntry
from seawarden.fleet.watchlist_io import read_watchlist_with_format
from seawarden.model.area import Area
from seawarden.store import audit

SCHEMA = """
CREATE TABLE IF NOT EXISTS api_areas (
    id TEXT PRIMARY KEY, feature TEXT NOT NULL, updated TEXT NOT NULL, actor TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS api_watchlist (
    key TEXT PRIMARY KEY, entry TEXT NOT NULL, updated TEXT NOT NULL, actor TEXT NOT NULL
);
"""


def ensure_schema(conn: db.StoreConnection) -> None:
    if isinstance(conn, sqlite3.Connection):  # PostgreSQL: the store's migration 0004
        conn.executescript(SCHEMA)


@contextmanager
def transaction(conn: db.StoreConnection) -> Iterator[None]:
    db.begin(conn)
    try:
        yield
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


# -- areas --------------------------------------------------------------------------------------


def _check_storable(feature: dict[str, Any]) -> None:
    """ConfigError unless the feature round-trips as JSON: no integer orjson cannot write
    (beyond 64 bits), no nesting deeper than orjson's 255, no NaN or Infinity (which
    orjson would store silently as null)."""
    try:
        orjson.dumps(feature)
    except orjson.JSONEncodeError as exc:
        raise ConfigError(f"the feature cannot be stored as JSON: {exc}") from None
    stack: list[Any] = [feature]  # depth is bounded by the dumps above
    while stack:
        v = stack.pop()
        if isinstance(v, float) and not math.isfinite(v):
            raise ConfigError("the feature contains NaN or Infinity, which JSON cannot hold")
        if isinstance(v, dict):
            stack.extend(v.values())
        elif isinstance(v, list | tuple):
            stack.extend(v)


def validate_feature(area_id: str, feature: dict[str, Any]) -> tuple[dict[str, Any], Area]:
    """The feature with ``properties.id`` = ``area_id``, and its parsed Area; ConfigError."""
    props = feature.get("properties")
    if not isinstance(props, dict):
        raise ConfigError("the feature needs a 'properties' object with name and kind")
    given = props.get("id")
    if given is not None and given != area_id:
        raise ConfigError(f"properties.id {str(given)[:60]!r} differs from the path's {area_id!r}")
    clean = {**feature, "properties": {**props, "id": area_id}}
    _check_storable(clean)
    (area,) = parse_areas({"type": "FeatureCollection", "features": [clean]}, source="body")
    return clean, area


def features(conn: db.StoreConnection) -> list[dict[str, Any]]:
    order = "seq" if db.is_pg(conn) else "rowid"  # insertion order, kept by an upsert
    rows = conn.execute(f"SELECT feature FROM api_areas ORDER BY {order}")
    return [orjson.loads(r[0]) for r in rows]


def areas(conn: db.StoreConnection) -> list[Area]:
    """The stored areas, parsed (the pipeline's input)."""
    return parse_areas({"type": "FeatureCollection", "features": features(conn)}, source="store")


def put_area(
    conn: db.StoreConnection, area_id: str, feature: dict[str, Any], actor: str
) -> tuple[dict[str, Any], bool]:
    """Store a validated feature (audited); returns it and whether it was new."""
    clean, _ = validate_feature(area_id, feature)
    now = datetime.now(UTC)
    with transaction(conn):
        existed = conn.execute("SELECT 1 FROM api_areas WHERE id = ?", (area_id,)).fetchone()
        conn.execute(
            "INSERT INTO api_areas (id, feature, updated, actor) VALUES (?, ?, ?, ?)"
            " ON CONFLICT(id) DO UPDATE SET feature=excluded.feature, updated=excluded.updated,"
            " actor=excluded.actor",
            (area_id, orjson.dumps(clean).decode(), now.isoformat(), actor),
        )
        props = clean["properties"]
        audit.record(
            conn,
            actor=actor,
            action="area.put",
            target=f"area:{area_id}",
            detail={"name": props.get("name"), "kind": props.get("kind"), "new": not existed},
            time=now,
        )
    return clean, existed is None


def delete_area(conn: db.StoreConnection, area_id: str, actor: str) -> bool:
    with transaction(conn):
        cur = conn.execute("DELETE FROM api_areas WHERE id = ?", (area_id,))
        if cur.rowcount:
            audit.record(conn, actor=actor, action="area.delete", target=f"area:{area_id}")
    return bool(cur.rowcount)


def seed_areas(conn: db.StoreConnection, path: Path | None, actor: str) -> int:
    """Fill an empty ``api_areas`` from a GeoJSON file; returns areas seeded (0 if not empty)."""
    if path is None or conn.execute("SELECT 1 FROM api_areas LIMIT 1").fetchone():
        return 0
    load_areas(path)  # validates the whole file (duplicates included) first
    doc = orjson.loads(path.read_bytes())
    now = datetime.now(UTC).isoformat()
    with transaction(conn):
        for f in doc["features"]:
            conn.execute(
                "INSERT INTO api_areas (id, feature, updated, actor) VALUES (?, ?, ?, ?)",
                (f["properties"]["id"], orjson.dumps(f).decode(), now, actor),
            )
        audit.record(
            conn,
            actor=actor,
            action="area.seed",
            target=f"file:{path.name}",
            detail={"areas": len(doc["features"])},
        )
    return len(doc["features"])


# -- watchlist ----------------------------------------------------------------------------------


def entry_to_dict(e: WatchlistEntry) -> dict[str, Any]:
    d = asdict(e)
    d["key"] = e.key
    return d


def entry_from_dict(d: dict[str, Any]) -> WatchlistEntry:
    return WatchlistEntry(
        imo=d.get("imo"),
        mmsis=tuple(d.get("mmsis") or ()),
        legacy_mmsis=tuple(d.get("legacy_mmsis") or ()),
        name=str(d.get("name") or ""),
        former_names=tuple(d.get("former_names") or ()),
        flag=d.get("flag"),
        source=str(d.get("source") or ""),
        reason=str(d.get("reason") or ""),
        lists=tuple(d.get("lists") or ()),
    )


def entries(conn: db.StoreConnection) -> list[WatchlistEntry]:
    rows = conn.execute("SELECT entry FROM api_watchlist ORDER BY key")
    return [entry_from_dict(orjson.loads(r[0])) for r in rows]


def watchlist(conn: db.StoreConnection) -> Watchlist:
    return Watchlist(entries(conn))


def _upsert(conn: db.StoreConnection, e: WatchlistEntry, actor: str, now: str) -> None:
    conn.execute(
        "INSERT INTO api_watchlist (key, entry, updated, actor) VALUES (?, ?, ?, ?)"
        " ON CONFLICT(key) DO UPDATE SET entry=excluded.entry, updated=excluded.updated,"
        " actor=excluded.actor",
        (e.key, orjson.dumps(entry_to_dict(e)).decode(), now, actor),
    )


def put_entry(conn: db.StoreConnection, entry: WatchlistEntry, actor: str) -> WatchlistEntry:
    now = datetime.now(UTC)
    with transaction(conn):
        _upsert(conn, entry, actor, now.isoformat())
        audit.record(
            conn,
            actor=actor,
            action="watchlist.put",
            target=f"watchlist:{entry.key}",
            detail={"name": entry.name, "mmsis": list(entry.mmsis), "lists": list(entry.lists)},
            time=now,
        )
    return entry


def delete_entry(conn: db.StoreConnection, key: str, actor: str) -> bool:
    with transaction(conn):
        cur = conn.execute("DELETE FROM api_watchlist WHERE key = ?", (key,))
        if cur.rowcount:
            audit.record(conn, actor=actor, action="watchlist.delete", target=f"watchlist:{key}")
    return bool(cur.rowcount)


def parse_csv(
    text: str, source: str
) -> tuple[str, list[WatchlistEntry], Counter[str], Counter[str]]:
    """Parse CSV text with the project's reader (via a private temporary file); the format
    is the one :func:`read_watchlist_with_format` recognised, so there is one header rule."""
    with tempfile.TemporaryDirectory(prefix="seawarden-wl-") as d:
        path = Path(d) / f"{source}.csv"
        path.write_text(text, encoding="utf-8")
        try:
            return read_watchlist_with_format(path)
        except ConfigError as exc:  # name the upload, not the server's temporary path
            raise ConfigError(str(exc).replace(str(path), f"{source}.csv")) from None


def import_entries(
    conn: db.StoreConnection,
    got: Sequence[WatchlistEntry],
    *,
    replace: bool,
    actor: str,
    detail: dict[str, Any],
) -> int:
    """Merge (combine by key) or replace; audited; returns the number of entries after."""
    now = datetime.now(UTC)
    with transaction(conn):
        current = {} if replace else {e.key: e for e in entries(conn)}
        if replace:
            conn.execute("DELETE FROM api_watchlist")
        for e in got:
            old = current.get(e.key)
            _upsert(conn, e.combine(old) if old is not None else e, actor, now.isoformat())
        total = int(conn.execute("SELECT COUNT(*) FROM api_watchlist").fetchone()[0])
        audit.record(
            conn,
            actor=actor,
            action="watchlist.import",
            target="watchlist",
            detail={**detail, "mode": "replace" if replace else "merge", "total": total},
            time=now,
        )
    return total


def seed_watchlist(conn: db.StoreConnection, paths: Sequence[Path], actor: str) -> int:
    if not paths or conn.execute("SELECT 1 FROM api_watchlist LIMIT 1").fetchone():
        return 0
    merged: Watchlist | None = None
    for p in paths:
        wl = Watchlist.load(p)
        merged = wl if merged is None else merged.merge(wl)
    got = list(merged or ())
    return import_entries(
        conn, got, replace=True, actor=actor, detail={"files": [p.name for p in paths]}
    )
