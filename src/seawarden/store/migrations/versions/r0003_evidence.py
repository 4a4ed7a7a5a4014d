"""Raw evidence on PostgreSQL: the AIS messages and the radar/satellite inputs behind alerts.

The same columns and meanings as the SQLite tables (store/evidence.py), in PostgreSQL
types: times are ``timestamptz`` (the readers turn them back into aware datetimes in UTC),
raw input and CSV headers ``bytea``, untouched. The primary key is the row's content
digest (SHA-256 hex of vessel or sensor, event time, source, lines and bytes), so a
re-flush, a resumed run or a second replay into the same database inserts nothing twice
(``ON CONFLICT DO NOTHING``). ``line_nos`` stays the comma-joined text SQLite holds: the
readers parse one format for both stores. The report reads a vessel's rows by time range
and a sensor's by time range: one B-tree each.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

UPGRADE = [
    """CREATE TABLE evidence_messages (
        digest text PRIMARY KEY,
        mmsi bigint NOT NULL,
        time timestamptz NOT NULL,
        received timestamptz,
        msg_type integer NOT NULL,
        station text NOT NULL,
        source text NOT NULL,
        line_no integer NOT NULL,
        line_nos text NOT NULL,
        raw bytea NOT NULL,
        header bytea
    )""",
    "CREATE INDEX evidence_mmsi_time ON evidence_messages (mmsi, time)",
    """CREATE TABLE evidence_contacts (
        digest text PRIMARY KEY,
        sensor text NOT NULL,
        kind text NOT NULL,
        track text,
        pass_id text,
        time timestamptz NOT NULL,
        received timestamptz,
        station text NOT NULL,
        source text NOT NULL,
        line_no integer NOT NULL,
        fmt text NOT NULL,
        raw bytea NOT NULL,
        header bytea
    )""",
    "CREATE INDEX evidence_contacts_sensor_time ON evidence_contacts (sensor, time)",
]

DOWNGRADE = ["DROP TABLE evidence_contacts", "DROP TABLE evidence_messages"]


def upgrade() -> None:
    for sql in UPGRADE:
        op.execute(sql)


def downgrade() -> None:
    for sql in DOWNGRADE:
        op.execute(sql)
