"""The operator console in a real browser, on a PostgreSQL store (Debian's chromium).

``seawarden serve --store postgresql://…`` (API only) over alerts written through
PostgresStore; an admin logs in, sees the feed and acknowledges an alert (the action lands
in PostgreSQL); an ally's console shows only the alerts releasable to it. Skips without
the browser or PostgreSQL (in CI it fails), as tests/e2e does.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from seawarden.api import db
from tests.api.conftest import seed_alerts
from tests.api.serving import seawarden_server
from tests.api.test_api_pg import cli, pg_dsn  # noqa: F401 - pg_dsn is a fixture

pytestmark = pytest.mark.slow
CHROMIUM = Path(os.environ.get("SEAWARDEN_CHROMIUM", "/usr/bin/chromium"))
TIMEOUT_MS = 15_000


@pytest.fixture
def served(pg_dsn: str) -> Iterator[tuple[str, dict[str, str]]]:  # noqa: F811 - the fixture
    from seawarden.store.postgres import PostgresStore

    s = PostgresStore(pg_dsn)
    s.write_alerts(seed_alerts())
    s.close()
    secrets = {
        "admin": cli("token", "create", "--store", pg_dsn, "--name", "ops", "--role", "admin"),
        "ally": cli("token", "create", "--store", pg_dsn, "--name", "dnk", "--role", "ally",
                    "--nation", "DNK", "--areas", "baltic-pipe,nord-stream"),
    }  # fmt: skip
    try:
        with seawarden_server("serve", "--store", pg_dsn, "--port", "0") as server:
            yield server.url, {k: v.strip() for k, v in secrets.items()}
    finally:
        db.close_idle()


@pytest.fixture
def browser() -> Iterator[Any]:
    if not CHROMIUM.is_file():
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the browser tests: no {CHROMIUM}")
        pytest.skip(f"no browser at {CHROMIUM} (`make browser`)")
    pw_api = pytest.importorskip("playwright.sync_api")
    pw_api.expect.set_options(timeout=TIMEOUT_MS)
    with pw_api.sync_playwright() as pw:
        b = pw.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"], headless=True
        )
        try:
            yield b
        finally:
            b.close()


def _login(browser: Any, url: str, token: str) -> Any:
    from playwright.sync_api import expect

    ctx = browser.new_context(viewport={"width": 1440, "height": 900})
    ctx.set_default_timeout(TIMEOUT_MS)
    page = ctx.new_page()
    page.goto(url + "/")
    page.get_by_test_id("login-token").fill(token)
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_test_id("app")).to_be_visible()
    return page


def _item(page: Any, alert_id: str) -> Any:
    return page.locator(f'[data-testid="alert-item"][data-alert-id="{alert_id}"]')


def test_console_on_postgres_shows_the_feed_acts_and_hides_from_allies(
    served: tuple[str, dict[str, str]],
    browser: Any,
    pg_dsn: str,  # noqa: F811
) -> None:
    import psycopg
    from playwright.sync_api import expect

    url, secrets = served
    admin = _login(browser, url, secrets["admin"])
    item = _item(admin, "a-jef-in")
    expect(item).to_be_visible()
    expect(item).to_have_attribute("data-state", "new")
    item.get_by_test_id("alert-ack").click()
    expect(item).to_have_attribute("data-state", "acknowledged")
    with psycopg.connect(pg_dsn) as conn:
        acts = conn.execute(
            "SELECT actor, action FROM alert_actions WHERE alert_id = 'a-jef-in'"
        ).fetchall()
    assert acts == [("token:ops", "ack")]

    ally = _login(browser, url, secrets["ally"])
    expect(_item(ally, "a-jef-in")).to_be_visible()  # releasable (REL JEF), its area
    expect(_item(ally, "a-gbrnor")).to_have_count(0)  # its area, but REL GBR, NOR
    expect(_item(ally, "a-jef-out")).to_have_count(0)  # releasable, not its area
    expect(_item(ally, "a-jef-in").get_by_test_id("alert-ack")).to_have_count(0)
