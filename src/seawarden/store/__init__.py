"""Persistence of vessels, identity history, positions, events and run checkpoints."""

from __future__ import annotations

from pathlib import Path

from seawarden.store.base import RunInfo, Store, VesselRow
from seawarden.store.sqlite import SQLiteStore

__all__ = ["RunInfo", "SQLiteStore", "Store", "VesselRow", "display_name", "open_store"]

_SCHEMES = ("postgresql://", "postgres://")


def open_store(target: str | Path) -> Store:
    """The store ``target`` names: a ``postgresql://`` (or ``postgres://``) DSN opens the
    PostgreSQL + PostGIS store (needs ``seawarden[postgres]``), anything else a SQLite file.

    The DSN carries no password (libpq takes it from ``PGPASSWORD``, ``~/.pgpass`` or a
    service file); print :func:`display_name` of it, never the DSN itself.
    """
    text = str(target)
    if isinstance(target, str) and text.startswith(_SCHEMES):
        from seawarden.store.postgres import PostgresStore

        return PostgresStore(text)
    return SQLiteStore(target)


def display_name(target: str | Path) -> str:
    """``target`` as it may appear in logs: a DSN without its password, a path as is."""
    if isinstance(target, str) and target.startswith(_SCHEMES):
        from seawarden.store.postgres import redact_dsn

        return redact_dsn(target)
    return str(target)
