"""The API's PostgreSQL connections close like sqlite3's: once, and then they refuse SQL.

A finished request hands its psycopg session back to an idle pool for the next request.
Closing a ``PgConnection`` twice used to put the same session in the pool twice, so two
concurrent requests shared one server session (one saw the other's open transaction); and
a closed ``PgConnection`` kept running SQL on a session another request may hold by then.
Now a second close is a no-op and a closed connection raises ``sqlite3.ProgrammingError``,
as a closed sqlite3 connection does — checked on both stores side by side.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from seawarden.api import db
from seawarden.api.db import StoreTarget
from seawarden.store import open_store
from tests.api.test_api_pg import pg_schema

pytestmark = pytest.mark.slow


@pytest.fixture(params=["sqlite", "postgres"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreTarget]:
    if request.param == "sqlite":
        open_store(tmp_path / "s.db").close()
        yield tmp_path / "s.db"
        return
    with pg_schema() as dsn:
        open_store(dsn).close()
        try:
            yield dsn
        finally:
            db.close_idle()


@pytest.fixture
def pg_dsn() -> Iterator[str]:
    with pg_schema() as dsn:
        try:
            yield dsn
        finally:
            db.close_idle()


def _backend(conn: db.StoreConnection) -> int:
    return int(conn.execute("SELECT pg_backend_pid()").fetchone()[0])


def test_closing_twice_leaves_one_session_in_the_pool(pg_dsn: str) -> None:
    c = db.connect(pg_dsn)
    first = _backend(c)
    c.close()
    c.close()  # e.g. an explicit close inside `with db.connection()`
    a, b = db.connect(pg_dsn), db.connect(pg_dsn)  # two concurrent requests
    try:
        assert _backend(a) != _backend(b)
        assert first in (_backend(a), _backend(b))  # the pool still reuses the session
        db.begin(a)
        assert a.in_transaction
        assert not b.in_transaction  # B does not share A's session
        a.execute("ROLLBACK")
    finally:
        a.close()
        b.close()


USES: dict[str, Callable[[db.StoreConnection], Any]] = {
    "execute": lambda c: c.execute("SELECT 1"),
    "cursor": lambda c: c.cursor(),
    "in_transaction": lambda c: c.in_transaction,
    "begin": db.begin,
}


@pytest.mark.parametrize("use", sorted(USES))
def test_a_closed_connection_refuses_sql_as_sqlite3_does(target: StoreTarget, use: str) -> None:
    c = db.connect(target)
    assert c.execute("SELECT 1").fetchone()[0] == 1
    c.close()
    c.close()  # no-op, as sqlite3's
    with pytest.raises(sqlite3.ProgrammingError, match="closed database"):
        USES[use](c)


def test_a_connection_closed_inside_its_block_ends_cleanly(target: StoreTarget) -> None:
    with db.connection(target) as c:
        c.execute("SELECT 1")
        c.close()
    with db.connection(target) as c:  # the store is still usable, the pool consistent
        assert c.execute("SELECT 1").fetchone()[0] == 1
