"""Store fixtures: the SQLite store in a temp file, the PostgreSQL store in a fresh schema.

PostgreSQL comes from ``make postgres`` (a throw-away PostgreSQL 15 + PostGIS cluster on
127.0.0.1, its DSN in ``.venv/seawarden-test-pg.dsn``) or from ``SEAWARDEN_TEST_PG_DSN``
(a database with PostGIS created in it, where the role may create schemas). Each test gets
its own schema (``search_path=<schema>,public``; PostGIS stays in ``public``), dropped
afterwards. Without a server the PostgreSQL tests skip with the reason, except in CI (``CI``
set), where they fail: CI must run them.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from seawarden.store.base import Store
from tests.conftest import REPO

DSN_FILE = REPO / ".venv" / "seawarden-test-pg.dsn"

StoreFactory = Callable[[], Store]


def _base_dsn() -> tuple[str | None, str]:
    dsn = os.environ.get("SEAWARDEN_TEST_PG_DSN")
    if dsn:
        return dsn, "SEAWARDEN_TEST_PG_DSN"
    if DSN_FILE.is_file() and DSN_FILE.read_text().strip():
        return DSN_FILE.read_text().strip(), str(DSN_FILE)
    return None, ""


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"CI must run the PostgreSQL store tests: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def pg_base_dsn() -> str:
    """The test server's DSN (public schema), checked reachable once per session."""
    try:
        import psycopg
    except ImportError:
        _unavailable("psycopg is not installed: pip install -e '.[dev]'")
    dsn, origin = _base_dsn()
    if dsn is None:
        _unavailable(
            f"no PostgreSQL for the store tests: run `make postgres` (writes {DSN_FILE}) "
            "or set SEAWARDEN_TEST_PG_DSN"
        )
        raise AssertionError  # unreachable: skip/fail raise
    try:
        with psycopg.connect(dsn, connect_timeout=5) as conn:
            conn.execute("SELECT postgis_version()")
    except psycopg.Error as exc:
        _unavailable(f"PostgreSQL from {origin} does not answer with PostGIS: {exc}")
    return dsn


def with_schema(dsn: str, schema: str) -> str:
    """``dsn`` (a URL) with ``search_path=<schema>,public`` in its options."""
    opt = quote(f"-c search_path={schema},public", safe="")
    return f"{dsn}{'&' if '?' in dsn else '?'}options={opt}"


@pytest.fixture
def pg_dsn(pg_base_dsn: str) -> Iterator[str]:
    """A DSN whose tables land in a schema of this test's own (dropped afterwards)."""
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_base_dsn, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        yield with_schema(pg_base_dsn, schema)
    finally:
        with psycopg.connect(pg_base_dsn, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture(params=["sqlite", "postgres"])
def open_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreFactory]:
    """Opens (and re-opens) one store of each kind; every test using it runs on both."""
    opened: list[Store] = []
    if request.param == "sqlite":
        from seawarden.store.sqlite import SQLiteStore

        path = tmp_path / "contract.db"

        def factory() -> Store:
            opened.append(SQLiteStore(path))
            return opened[-1]
    else:
        dsn: str = request.getfixturevalue("pg_dsn")
        from seawarden.store.postgres import PostgresStore

        def factory() -> Store:
            opened.append(PostgresStore(dsn))
            return opened[-1]

    yield factory
    for s in opened:
        with contextlib.suppress(sqlite3.ProgrammingError):  # a test may have closed it
            s.close()
