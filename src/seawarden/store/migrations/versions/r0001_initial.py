"""Initial schema: runs, vessels, identity history, positions, events, alerts, checkpoints.

The same tables as the SQLite store (store/sqlite.py, schema version 1), in PostgreSQL
types: times are ``timestamptz``; run metadata is ``jsonb``; event attributes and alert
bodies are ``json`` (kept verbatim, so they read back byte for byte like SQLite's text);
checkpoints are ``bytea`` (orjson). Positions and vessels carry a generated PostGIS
``geography(Point, 4326)`` column with a GiST index for the area queries, and positions a
(mmsi, time) B-tree (the primary key) for tracks.

Revision ID: 0001
Revises:
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_POINT = (
    "geography(Point, 4326) GENERATED ALWAYS AS (CASE WHEN lat IS NULL OR lon IS NULL"
    " THEN NULL ELSE ST_SetSRID(ST_MakePoint(lon, lat), 4326)::geography END) STORED"
)

UPGRADE = [
    "CREATE EXTENSION IF NOT EXISTS postgis",
    """CREATE TABLE runs (
        run_id text PRIMARY KEY, started timestamptz NOT NULL, finished timestamptz,
        command text NOT NULL, inputs jsonb NOT NULL, config jsonb NOT NULL,
        versions jsonb NOT NULL, stats jsonb, status text NOT NULL
    )""",
    f"""CREATE TABLE vessels (
        mmsi bigint PRIMARY KEY, first_seen timestamptz NOT NULL, last_seen timestamptz NOT NULL,
        lat double precision, lon double precision, speed_kn double precision,
        course_deg double precision, imo bigint, name text, callsign text, ship_type integer,
        flag text, mmsi_class text, watchlist jsonb,
        geog {_POINT}
    )""",
    "CREATE INDEX vessels_imo ON vessels (imo)",
    "CREATE INDEX vessels_geog ON vessels USING gist (geog)",
    "CREATE INDEX vessels_last_seen ON vessels (last_seen)",
    """CREATE TABLE identity_history (
        mmsi bigint NOT NULL, time timestamptz NOT NULL, field text NOT NULL,
        old text, new text, source text NOT NULL,
        PRIMARY KEY (mmsi, time, field)
    )""",
    f"""CREATE TABLE positions (
        mmsi bigint NOT NULL, time timestamptz NOT NULL,
        lat double precision NOT NULL, lon double precision NOT NULL,
        speed_kn double precision, course_deg double precision, heading_deg integer,
        nav_status integer, msg_type integer NOT NULL, source text NOT NULL,
        geog {_POINT},
        CONSTRAINT positions_mmsi_time PRIMARY KEY (mmsi, time)
    )""",
    # no index on time alone: it halved the write rate (500 vessels share each second) and
    # no read needs it yet; tracks use the primary key, area reads the GiST
    "CREATE INDEX positions_geog ON positions USING gist (geog)",
    """CREATE TABLE events (
        id text NOT NULL, phase text NOT NULL, kind text NOT NULL, mmsi bigint NOT NULL,
        time timestamptz NOT NULL, lat double precision NOT NULL, lon double precision NOT NULL,
        area_id text, producer_version text NOT NULL, attrs json NOT NULL,
        PRIMARY KEY (id, phase, time)
    )""",
    "CREATE INDEX events_mmsi ON events (mmsi, time)",
    "CREATE INDEX events_kind ON events (kind, time)",
    """CREATE TABLE alerts (
        id text NOT NULL, revision integer NOT NULL, msg_type text NOT NULL,
        mmsi bigint NOT NULL, time timestamptz NOT NULL, severity text NOT NULL,
        score double precision NOT NULL, body json NOT NULL,
        PRIMARY KEY (id, revision)
    )""",
    "CREATE INDEX alerts_time ON alerts (time)",
    "CREATE INDEX alerts_mmsi ON alerts (mmsi, time)",
    """CREATE TABLE checkpoints (
        key text PRIMARY KEY, saved timestamptz NOT NULL, state bytea NOT NULL
    )""",
]

DOWNGRADE = [
    f"DROP TABLE {t}"
    for t in ("checkpoints", "alerts", "events", "positions", "identity_history", "vessels", "runs")
]


def upgrade() -> None:
    for sql in UPGRADE:
        op.execute(sql)


def downgrade() -> None:
    for sql in DOWNGRADE:
        op.execute(sql)
