"""Alembic environment: migrations always run on a connection handed in by the store.

``PostgresStore`` opens the connection (psycopg 3, wrapped by SQLAlchemy) and passes it in
``config.attributes["connection"]``; there is no ``alembic.ini`` and no URL here, so the
password never leaves libpq's own sources (``PGPASSWORD``, ``~/.pgpass``, service files).
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

connection = context.config.attributes.get("connection")
if not isinstance(connection, Connection):  # pragma: no cover - only via PostgresStore
    raise RuntimeError("seawarden migrations run from PostgresStore, not the alembic CLI")
context.configure(
    connection=connection,
    target_metadata=None,
    transactional_ddl=True,
    version_table_schema=context.config.attributes.get("version_table_schema"),
)
with context.begin_transaction():
    context.run_migrations()
