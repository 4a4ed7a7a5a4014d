"""Migration 0002 (outbox + audit) on a real PostgreSQL: a store created at 0001 and holding
data upgrades in place when opened, keeps its data, and gets the outbox's tables and
indexes; the downgrade removes exactly them."""

from __future__ import annotations

from typing import Any

import psycopg
from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine
from sqlalchemy.pool import NullPool

from seawarden.store.postgres import MIGRATIONS, PostgresStore
from tests.alerts.factories import make_alert


def _alembic(dsn: str, target: str, *, down: bool = False) -> None:
    """Move the schema of ``dsn`` to ``target`` the way PostgresStore migrates."""

    def connect() -> psycopg.Connection[Any]:
        return psycopg.connect(dsn, autocommit=True)

    engine = create_engine("postgresql+psycopg://", creator=connect, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            cfg = Config()
            cfg.set_main_option("script_location", str(MIGRATIONS))
            cfg.attributes["connection"] = conn
            cfg.attributes["version_table_schema"] = conn.exec_driver_sql(
                "SELECT current_schema()"
            ).scalar()
            (command.downgrade if down else command.upgrade)(cfg, target)
            conn.commit()
    finally:
        engine.dispose()


def _tables(dsn: str) -> set[str]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
        return {r[0] for r in rows}


def test_a_0001_store_with_data_upgrades_to_the_outbox_and_back(pg_dsn: str) -> None:
    _alembic(pg_dsn, "0001")
    assert "outbox" not in _tables(pg_dsn)
    with psycopg.connect(pg_dsn) as conn:
        (version,) = conn.execute("SELECT version_num FROM alembic_version").fetchone()  # type: ignore[misc]
    assert version == "0001"
    alert = make_alert()
    with psycopg.connect(pg_dsn) as conn:
        conn.execute(
            "INSERT INTO alerts (id, revision, msg_type, mmsi, time, severity, score, body)"
            " VALUES (%s, 1, 'Alert', %s, %s, 'high', 70, '{}')",
            (alert.id, alert.mmsi, alert.event_time),
        )
    store = PostgresStore(pg_dsn)  # opening migrates to the head
    try:
        store.connection.execute("SELECT 1 FROM outbox LIMIT 1")
        assert store.alerts() == [{}]  # the 0001 data is still there
        store.commit()
    finally:
        store.close()
    assert {"outbox", "audit", "alerts"} <= _tables(pg_dsn)
    with psycopg.connect(pg_dsn) as conn:
        indexes = {
            r[0]
            for r in conn.execute(
                "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()"
            )
        }
        (n,) = conn.execute("SELECT count(*) FROM alerts").fetchone()  # type: ignore[misc]
    assert {"outbox_due", "outbox_lane", "outbox_alert", "audit_target"} <= indexes
    assert n == 1
    _alembic(pg_dsn, "0001", down=True)
    assert not {"outbox", "audit"} & _tables(pg_dsn)
    assert "alerts" in _tables(pg_dsn)
