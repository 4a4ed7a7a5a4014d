"""Fuzz the API against its own OpenAPI document (schemathesis), as an admin and as an ally.

Every operation gets generated valid and invalid requests; the checks are schemathesis's
defaults (no 5xx, status codes / content types / bodies / headers as documented, invalid
data rejected). Bounded: a few examples per operation, no deadline.

The schemas are loaded at import (``schemathesis.pytest.from_fixture`` reads a private
pytest attribute that pytest 9 removed), on a store in a temporary directory that the
module fixture below removes.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import positive_data_acceptance

from seawarden.api import OPENAPI_URL, ApiSettings, create_app
from tests.api.conftest import Seeded, add_tokens, build_store, seed_alerts

# one item per API operation, all with one node id: not under pytest-xdist (pyproject.toml)
pytestmark = pytest.mark.single_process

_TMP = tempfile.TemporaryDirectory(prefix="seawarden-fuzz-")
_PATH = Path(_TMP.name) / "fuzz.db"
build_store(_PATH, seed_alerts())
STORE = Seeded(store=_PATH, tokens=add_tokens(_PATH))
APP = create_app(ApiSettings(store=_PATH, max_page=50))

# The stream never ends (it has its own real-HTTP tests in test_stream.py).
admin_api = schemathesis.openapi.from_asgi(
    OPENAPI_URL, APP, headers=STORE.auth("ops-admin")
).exclude(path="/api/stream")
ally_api = schemathesis.openapi.from_asgi(OPENAPI_URL, APP, headers=STORE.auth("dnk-moc")).exclude(
    path="/api/stream"
)
# Constraints that OpenAPI cannot state (422 otherwise, as documented): a track window
# must have end >= start and span at most 31 days; a bbox needs min <= max within range;
# an area is checked by the areas loader (closed rings, corridor widths, coordinates); an
# IMO number by its check digit; an imported CSV by the watchlist reader (its header).
CROSS_PARAMETER = {
    "/api/watchlist/import",
    "/api/vessels/{mmsi}/track",
    "/api/vessels",
    "/api/areas/{area_id}",
    "/api/watchlist/{key}",
}


def _excluded(case: Any) -> list[Any]:
    return [positive_data_acceptance] if case.operation.path in CROSS_PARAMETER else []


def call_as(case: Any, auth: dict[str, str]) -> Any:
    """Send ``case`` with the token in ``auth`` and run the checks on the answer.

    A negative case may mutate the Authorization header itself (remove it, or give it a
    value its scheme does not allow) alongside other components: that case goes out
    without the token, so the API's 401 is what is checked. Putting the token back would
    turn it into a request the API rightly accepts, which ``negative_data_rejection``
    then reports (ST201).
    """
    negated = case.operation.schema.is_security_param_negated(case)
    return case.call_and_validate(
        headers=None if negated else auth, excluded_checks=_excluded(case)
    )


FUZZ = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


@pytest.fixture(scope="module", autouse=True)
def _remove_store() -> Iterator[None]:
    yield
    _TMP.cleanup()


@admin_api.parametrize()
@FUZZ
def test_api_as_admin(case: Any) -> None:
    call_as(case, STORE.auth("ops-admin"))


@ally_api.parametrize()
@FUZZ
def test_api_as_ally(case: Any) -> None:
    response = call_as(case, STORE.auth("dnk-moc"))
    if case.operation.path == "/api/alerts" and response.status_code == 200:
        for item in response.json()["items"]:
            assert item["alert"]["releasability"] in ("REL JEF", "REL NATO")
