"""A dark vessel seen only by radar, on the watch officer's screen (real browser, real server).

Input: real Solent AIS (2016, shifted in time) with the ``dark_spell`` ship transmitting no
AIS for its first 45 min, and a SIMULATED radar at the illustrative Calshot site
(``config/sensors.example.yaml``) tracking every ship in range — no real radar record is
available offline. ``seawarden serve --replay … --sensors …`` fuses them; the console must
show the unidentified radar target in the IFA2 corridor as a non-AIS marker and alert on it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from seawarden.fusion.sensors import load_sensors
from seawarden.sim.sensors import radar_scenario
from tests.conftest import REPO, SHARED_DATA
from tests.e2e.conftest import Server, require_browser, shot, start_server
from tests.e2e.test_console import open_console, tid

SOLENT = SHARED_DATA / "tracks/solent/SolentAIS_20160112_130211.csv"
SENSORS = REPO / "config/sensors.example.yaml"
SPEC = "dark_spell:region=solent,on_before_min=0"
KEEP_S = 20 * 60  # the first 20 min of event time: the ship is dark throughout
SPEED = 40.0


@pytest.fixture(scope="module")
def radar_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    require_browser()
    tmp = tmp_path_factory.mktemp("e2e-radar")
    radar = load_sensors(SENSORS).get("vts-solent")
    assert radar is not None
    feed = radar_scenario(tmp, SPEC, background=SOLENT, radar=radar, keep_s=KEEP_S).feed
    args = [
        "--replay", str(feed), "--speed", str(SPEED), "--sensors", str(SENSORS),
        "--areas", str(REPO / "config/areas.geojson"),
        "--watchlist", str(REPO / "config/watchlist.csv"),
    ]  # fmt: skip
    with start_server(args, tmp, "serve-radar") as srv:
        yield srv


def test_a_radar_only_target_is_drawn_and_alerted(radar_server: Server, page: Page) -> None:
    open_console(page, radar_server, "e2e-admin")
    marker = page.locator('[data-testid="vessel-marker"][data-non-ais="true"]').first
    expect(marker).to_be_visible(timeout=60_000)
    expect(marker).to_have_class(_contains("non-ais"))
    item = tid(page, "alert-vessel").filter(has_text="non-AIS target").first
    expect(item).to_be_visible(timeout=60_000)
    shot(page, "non-ais-target")
    # its dossier opens (the id is not an MMSI, and the API takes it) and says why
    item.click()
    expect(page.locator(".dossier-head h2")).to_contain_text("non-AIS target", timeout=20_000)
    expect(tid(page, "dossier-contributions")).to_contain_text("no AIS vessel")
    expect(page.locator(".dossier-body")).to_contain_text("target id (no AIS)")
    shot(page, "non-ais-dossier")
    # the API says the same: a non-AIS vessel with an open alert, no MMSI-shaped id
    with radar_server.api() as http:
        vessels = http.get("/api/vessels").json()["items"]
    dark = [v for v in vessels if v["non_ais"]]
    assert dark
    assert all(1_000_000_000 <= v["mmsi"] <= 1_999_999_999 for v in dark)
    assert any(v.get("alert_id") for v in dark)


def _contains(word: str) -> Any:
    import re

    return re.compile(rf"(^|\s){re.escape(word)}(\s|$)")
