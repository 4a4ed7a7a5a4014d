"""Alembic migrations of the PostgreSQL + PostGIS store (raw SQL, run on open by
:class:`~seawarden.store.postgres.PostgresStore`; see docs/operations.md)."""
