"""The alert outbox and the audit log on PostgreSQL.

The same columns and meanings as the SQLite tables (alerts/outbox.py, store/audit.py), in
PostgreSQL types: times are ``timestamptz`` (the readers turn them back into the SQLite
code's ISO 8601 text), payloads ``bytea``, audit details ``jsonb``. Two columns exist only
here, because several deliverers on several machines share one outbox: ``claimed_until`` (a
lease, on the database's clock, renewed while a deliverer holds the row; a deliverer that
dies releases its rows when the lease runs out) and ``claimed_by`` (who holds it, for the
operator). The due and lane indexes are partial on pending rows: that is all a deliverer
ever scans.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

UPGRADE = [
    """CREATE TABLE outbox (
        delivery_id text PRIMARY KEY,
        alert_id text NOT NULL,
        revision integer NOT NULL,
        subscription_id text NOT NULL,
        channel text NOT NULL,
        channel_index integer NOT NULL,
        status text NOT NULL CHECK (status IN ('pending', 'delivered', 'dead')),
        attempts integer NOT NULL DEFAULT 0,
        next_attempt timestamptz NOT NULL,
        last_error text,
        created timestamptz NOT NULL,
        delivered timestamptz,
        payload bytea NOT NULL,
        claimed_until timestamptz,
        claimed_by text
    )""",
    "CREATE INDEX outbox_due ON outbox (next_attempt) WHERE status = 'pending'",
    # a deliverer reads each lane's oldest pending rows by this index (alerts/outbox_pg.py)
    "CREATE INDEX outbox_lane ON outbox (subscription_id, channel_index, created, alert_id,"
    " revision) WHERE status = 'pending'",
    "CREATE INDEX outbox_status ON outbox (status, created)",
    "CREATE INDEX outbox_alert ON outbox (alert_id, subscription_id)",
    """CREATE TABLE audit (
        seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        time timestamptz NOT NULL,
        actor text NOT NULL,
        action text NOT NULL,
        target text NOT NULL,
        detail jsonb NOT NULL
    )""",
    "CREATE INDEX audit_target ON audit (target, seq)",
]

DOWNGRADE = ["DROP TABLE audit", "DROP TABLE outbox"]


def upgrade() -> None:
    for sql in UPGRADE:
        op.execute(sql)


def downgrade() -> None:
    for sql in DOWNGRADE:
        op.execute(sql)
