"""tests/api/test_schemathesis.py on a PostgreSQL store: the same fuzzing, the same checks.

Every generated request (valid and invalid) must be answered as the OpenAPI document says,
never with a 5xx, when the store is PostgreSQL: this is where a dialect difference the
comparison tests (test_api_pg.py) do not reach would show (a parameter PostgreSQL parses
where SQLite compares text, an error the driver raises in another class). The store is a
schema of this module's own, built at import (schemathesis loads the schema then), dropped
by the module fixture; without PostgreSQL the module skips (in CI it fails).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
import schemathesis

from seawarden.api import OPENAPI_URL, ApiSettings, create_app, db
from tests.api import twostores
from tests.api.conftest import Seeded, add_tokens, seed_alerts
from tests.api.test_schemathesis import FUZZ, call_as

# one item per API operation, all with one node id: not under pytest-xdist (pyproject.toml)
pytestmark = pytest.mark.single_process


_BASE = twostores.base_dsn(module_level=True)
_SCHEMA = f"t_fuzz_{uuid.uuid4().hex[:12]}"


def _setup() -> str:
    import psycopg

    from seawarden.store.postgres import PostgresStore

    with psycopg.connect(_BASE, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {_SCHEMA}")
    opt = quote(f"-c search_path={_SCHEMA},public", safe="")
    dsn = f"{_BASE}{'&' if '?' in _BASE else '?'}options={opt}"
    s = PostgresStore(dsn)
    s.write_alerts(seed_alerts())
    s.close()
    db.ensure_schema(dsn)
    return dsn


DSN = _setup()
STORE = Seeded(store=DSN, tokens=add_tokens(DSN))  # type: ignore[arg-type]  # a DSN, not a path
APP = create_app(ApiSettings(store=DSN, max_page=50))

admin_api = schemathesis.openapi.from_asgi(
    OPENAPI_URL, APP, headers=STORE.auth("ops-admin")
).exclude(path="/api/stream")
ally_api = schemathesis.openapi.from_asgi(OPENAPI_URL, APP, headers=STORE.auth("dnk-moc")).exclude(
    path="/api/stream"
)


@pytest.fixture(scope="module", autouse=True)
def _drop_schema() -> Iterator[None]:
    import psycopg

    yield
    db.close_idle()
    with psycopg.connect(_BASE, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA {_SCHEMA} CASCADE")


@admin_api.parametrize()
@FUZZ
def test_api_as_admin_on_postgres(case: Any) -> None:
    call_as(case, STORE.auth("ops-admin"))


@ally_api.parametrize()
@FUZZ
def test_api_as_ally_on_postgres(case: Any) -> None:
    response = call_as(case, STORE.auth("dnk-moc"))
    if case.operation.path == "/api/alerts" and response.status_code == 200:
        for item in response.json()["items"]:
            assert item["alert"]["releasability"] in ("REL JEF", "REL NATO")
