"""The HTTP API's own tables on PostgreSQL: tokens, operator actions, managed areas/watchlist.

The same columns and meanings as the SQLite tables the API creates at start (api/tokens.py,
api/db.py, api/managed.py), in PostgreSQL types: times are ``timestamptz`` (the API's
connection reads them back as the SQLite code's ISO 8601 text), small details ``jsonb``,
and the documents the API hands back as they came (an area's GeoJSON feature, a watchlist
entry) ``json``, kept verbatim. ``api_areas.seq`` keeps the insertion order SQLite's rowid
gives (an upsert keeps a row's place). Tokens keep only the SHA-256 of the secret; the
digest is unique (the lookup is an index seek).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

UPGRADE = [
    """CREATE TABLE tokens (
        name text PRIMARY KEY,
        token_hash text NOT NULL UNIQUE,
        role text NOT NULL,
        nation text,
        areas jsonb,
        subscription_id text,
        created timestamptz NOT NULL,
        revoked timestamptz
    )""",
    """CREATE TABLE alert_actions (
        seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        alert_id text NOT NULL,
        time timestamptz NOT NULL,
        actor text NOT NULL,
        action text NOT NULL,
        detail jsonb NOT NULL
    )""",
    "CREATE INDEX alert_actions_alert ON alert_actions (alert_id, seq)",
    """CREATE TABLE api_areas (
        seq bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
        id text PRIMARY KEY,
        feature json NOT NULL,
        updated timestamptz NOT NULL,
        actor text NOT NULL
    )""",
    """CREATE TABLE api_watchlist (
        key text PRIMARY KEY,
        entry json NOT NULL,
        updated timestamptz NOT NULL,
        actor text NOT NULL
    )""",
]

DOWNGRADE = [f"DROP TABLE {t}" for t in ("api_watchlist", "api_areas", "alert_actions", "tokens")]


def upgrade() -> None:
    for sql in UPGRADE:
        op.execute(sql)


def downgrade() -> None:
    for sql in DOWNGRADE:
        op.execute(sql)
