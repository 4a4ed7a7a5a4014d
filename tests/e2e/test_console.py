"""The operator console in headless Chromium against a real `seawarden serve` on loopback.

One server per session replays the EAGLE S-style anchor drag over real Baltic traffic (see
conftest.py); the tests sign in as the tokens conftest created and check what a watch officer
sees and does, and that the API agrees. The first test must run while the alert is still to
come (it is first in this file; the replay is paced so the alert comes ~26 s after start).
Screenshots and downloads go to tests/e2e/artifacts/.
"""

from __future__ import annotations

import html
import json
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest
from playwright.sync_api import Locator, Page, Route, expect

from tests.conftest import REPO
from tests.e2e import png
from tests.e2e.conftest import (
    ARTIFACTS,
    Published,
    Recorded,
    Scenario,
    Server,
    is_loopback,
    poll_anchor_drag_alert,
    shot,
    wait_for_anchor_drag_alert,
)

FEED_LATENCY_S = 5.0  # published (API) -> shown in the feed (live push)
SENTENCE = re.compile(r"!AIVDM,\d,\d,\d?,[AB12]?,[0-9:;<=>?@A-W`a-w]*,[0-5]\*[0-9A-Fa-f]{2}")
AREA_NAMES = {
    f["properties"]["id"]: f["properties"]["name"]
    for f in json.loads((REPO / "config/areas.geojson").read_text())["features"]
}


def tid(page: Page, name: str) -> Locator:
    return page.get_by_test_id(name)


def alert_item(page: Page, alert_id: str) -> Locator:
    return page.locator(f'[data-testid="alert-item"][data-alert-id="{alert_id}"]')


def open_console(page: Page, server: Server, token_name: str) -> None:
    page.goto(server.url + "/")
    expect(tid(page, "login")).to_be_visible()
    tid(page, "login-token").fill(server.tokens[token_name])
    tid(page, "login-submit").click()
    expect(tid(page, "app")).to_be_visible()


def wait_until_drawn(target: Locator, name: str, timeout_s: float = 10.0) -> png.PixelStats:
    """Screenshot ``target`` until it is not near-uniform (bounded); return its pixel stats."""
    deadline = time.monotonic() + timeout_s
    while True:
        _, data = shot(target, name)
        st = png.stats(data)
        if (st.distinct_colours >= 20 and st.dominant_fraction < 0.97) or (
            time.monotonic() > deadline
        ):
            return st
        target.page.wait_for_timeout(250)  # redraw interval of this bounded poll


# -- 1. live: must run first, before the alert is published ------------------------------------


@dataclass(slots=True)
class HeldStream:
    """A console whose first /api/stream request is held back until the test lets it go."""

    page: Page
    held: list[Route]
    published_before_load: bool


@pytest.fixture(scope="module")
def held_stream_console(server: Server, scenario: Scenario, browser: Any) -> Iterator[HeldStream]:
    ctx = browser.new_context(viewport={"width": 1440, "height": 900})
    page = ctx.new_page()
    held: list[Route] = []
    page.route("**/api/stream", lambda route: held.append(route))  # answered later
    open_console(page, server, "e2e-admin")
    deadline = time.monotonic() + 15
    while not held and time.monotonic() < deadline:
        page.wait_for_timeout(100)  # lets Playwright deliver the intercepted request
    assert held, "the console never requested /api/stream"
    expect(tid(page, "alert-feed")).to_be_visible()
    before = poll_anchor_drag_alert(server, scenario) is not None
    yield HeldStream(page=page, held=held, published_before_load=before)
    ctx.close()


def test_alert_appears_in_the_feed_within_seconds_of_publication(
    server: Server, scenario: Scenario, page: Page, held_stream_console: HeldStream
) -> None:
    """(The held-stream console is opened here too, before the alert: see the next test.)"""
    open_console(page, server, "e2e-admin")
    expect(tid(page, "alert-feed")).to_be_visible()
    expect(tid(page, "stream-state")).to_have_attribute("data-state", "live")
    if poll_anchor_drag_alert(server, scenario) is not None:
        pytest.fail(
            "the anchor-drag alert was published before the console was ready, so its live "
            "arrival cannot be measured: lower SEAWARDEN_E2E_SPEED or run this test first"
        )
    ours = page.locator(f'[data-testid="alert-item"][data-mmsi="{scenario.mmsi}"]')
    expect(ours).to_have_count(0)
    pub = wait_for_anchor_drag_alert(server, scenario)
    item = alert_item(page, pub.id)
    expect(item).to_be_visible(timeout=FEED_LATENCY_S * 1000)
    latency_s = time.monotonic() - pub.seen_monotonic
    print(f"alert {pub.id}: in the feed {latency_s:.2f} s after the API first showed it")
    expect(item).to_have_attribute("data-mmsi", str(scenario.mmsi))
    expect(item.get_by_test_id("alert-severity")).not_to_be_empty()
    expect(item.get_by_test_id("alert-reasons")).not_to_be_empty()
    expect(item).to_have_attribute("data-state", "new")
    # newest first: the alert is the first item of the feed
    expect(tid(page, "alert-item").first).to_have_attribute("data-alert-id", pub.id)
    shot(page, "feed-live-alert")


def test_an_alert_published_while_the_console_connects_is_not_lost(
    server: Server, scenario: Scenario, held_stream_console: HeldStream
) -> None:
    """The console loaded its feed, then its stream connected only after the alert was
    published (the gap between the first GET /api/alerts and the stream, made wide here):
    the alert must still reach the feed once the stream is live."""
    console = held_stream_console
    if console.published_before_load:
        pytest.fail("the alert was published before this console loaded: run the file in order")
    pub = wait_for_anchor_drag_alert(server, scenario)
    page = console.page
    expect(alert_item(page, pub.id)).to_have_count(0)  # not in the feed it loaded earlier
    for route in console.held:
        route.continue_()
    page.unroute("**/api/stream")
    expect(tid(page, "stream-state")).to_have_attribute("data-state", "live")
    try:
        expect(alert_item(page, pub.id)).to_be_visible(timeout=FEED_LATENCY_S * 1000)
    finally:
        shot(page, "feed-after-late-stream")


# -- 2. the map -----------------------------------------------------------------------------


def test_blank_screenshot_is_told_from_a_drawn_one(page: Page) -> None:
    """The pixel check the map test relies on can fail: a uniform box is reported uniform."""
    page.set_content('<div id="b" style="width:400px;height:300px;background:#123456"></div>')
    _, data = shot(page.locator("#b"), "blank-control")
    st = png.stats(data)
    assert st.distinct_colours == 1
    assert st.dominant_fraction == 1.0
    assert st.luminance_stddev == 0.0


def test_map_renders_areas_with_names_and_vessel_markers(
    server: Server, scenario: Scenario, published: Published, page: Page
) -> None:
    open_console(page, server, "e2e-admin")
    the_map = tid(page, "map")
    expect(the_map).to_be_visible()
    box = the_map.bounding_box()
    assert box is not None
    assert box["width"] >= 400
    assert box["height"] >= 300

    labels = tid(page, "area-label")
    expect(labels.first).to_be_attached()
    shown: list[list[str]] = labels.evaluate_all(
        "els => els.map(e => [e.dataset.areaId || '', (e.textContent || '').trim(),"
        " e.getAttribute('title') || ''])"
    )
    by_id = {a: (text, title) for a, text, title in shown}
    missing = set(AREA_NAMES) - set(by_id)
    assert not missing, f"areas drawn without a name label: {missing}"
    for area_id, (text, title) in by_id.items():
        assert area_id in AREA_NAMES, f"label for an unknown area {area_id!r}"
        name = AREA_NAMES[area_id]  # the label is the name (or its part before a bracket)
        assert text, area_id
        assert name.startswith(text), (area_id, text, name)
        assert title == name, (area_id, title, name)
    for area_id in published.alert["area_ids"]:  # the alerted area's name is readable
        expect(
            page.locator(f'[data-testid="area-label"][data-area-id="{area_id}"]')
        ).to_be_visible()
    readable = sum(1 for i in range(labels.count()) if labels.nth(i).is_visible())
    assert readable >= 3, f"only {readable} area names readable on the map"

    ours = page.locator(f'[data-testid="vessel-marker"][data-mmsi="{scenario.mmsi}"]')
    expect(ours).to_have_count(1)
    expect(ours).to_have_attribute("data-risk", re.compile(r"^(medium|high|critical)$"))
    markers = tid(page, "vessel-marker")
    expect(markers.nth(1)).to_be_attached()  # background traffic too, not just the scenario
    print(f"{markers.count()} vessel markers, {len(by_id)} area labels ({readable} readable)")

    st = wait_until_drawn(the_map, "map")
    assert st.distinct_colours >= 50, st
    assert st.dominant_fraction < 0.9, st
    assert st.luminance_stddev > 5, st
    shot(page, "console-overview")


# -- 3. acknowledge through the UI, checked through the API --------------------------------------


def test_acknowledging_in_the_console_changes_the_state_through_the_api(
    server: Server, published: Published, new_page: Callable[[], Page]
) -> None:
    with server.api() as http:
        before = http.get(f"/api/alerts/{published.id}")
    assert before.status_code == 200, before.text
    assert (before.json().get("operator") or {}).get("acknowledged_by") is None

    page = new_page()
    open_console(page, server, "e2e-admin")
    item = alert_item(page, published.id)
    expect(item).to_be_visible()
    expect(item).to_have_attribute("data-state", "new")
    item.get_by_test_id("alert-ack").click()
    expect(item).to_have_attribute("data-state", "acknowledged")
    expect(item.get_by_test_id("alert-state")).to_contain_text("acknowledged")
    shot(page, "feed-acknowledged")

    with server.api() as http:
        after = http.get(f"/api/alerts/{published.id}")
    assert after.status_code == 200, after.text
    body = after.json()
    assert body["operator"]["acknowledged_by"] == "token:e2e-admin", body["operator"]
    acks = [a for a in body["actions"] if a["action"] == "ack"]
    assert len(acks) == 1, body["actions"]

    fresh = new_page()  # a second console reads the state from the API, not local memory
    open_console(fresh, server, "e2e-admin")
    expect(alert_item(fresh, published.id)).to_have_attribute("data-state", "acknowledged")


# -- 4. the dossier ---------------------------------------------------------------------------


def test_dossier_opens_and_its_plot_renders(
    server: Server, scenario: Scenario, published: Published, page: Page
) -> None:
    open_console(page, server, "e2e-admin")
    item = alert_item(page, published.id)
    expect(item).to_be_visible()
    item.get_by_test_id("alert-vessel").click()

    dossier = tid(page, "dossier")
    expect(dossier).to_be_visible()
    expect(dossier).to_have_attribute("data-mmsi", str(scenario.mmsi))
    identity = tid(page, "dossier-identity")
    expect(identity).to_contain_text(str(scenario.mmsi))
    expect(identity).to_contain_text(scenario.name)
    expect(tid(page, "dossier-contributions")).not_to_be_empty()
    expect(tid(page, "dossier-alerts")).to_contain_text(published.id)

    plot = tid(page, "dossier-plot")
    expect(plot).to_be_visible()
    drawn = plot.locator("canvas, svg").first
    expect(drawn).to_be_visible()
    box = drawn.bounding_box()
    assert box is not None
    assert box["width"] >= 100, box
    assert box["height"] >= 50, box
    st = wait_until_drawn(plot, "dossier-plot")
    assert st.distinct_colours >= 20, f"the plot looks empty: {st}"
    assert st.dominant_fraction < 0.97, f"the plot looks empty: {st}"
    shot(page, "dossier")


# -- 5. the evidence report ---------------------------------------------------------------------


def _unix(rfc3339: str) -> int:
    return int(datetime.fromisoformat(rfc3339.replace("Z", "+00:00")).timestamp())


def test_evidence_report_downloads_with_the_triggering_messages(
    server: Server,
    scenario: Scenario,
    published: Published,
    new_page: Callable[[], Page],
    recorded: Recorded,
) -> None:
    page = new_page()
    open_console(page, server, "e2e-admin")
    item = alert_item(page, published.id)
    expect(item).to_be_visible()
    button = item.locator('[data-testid="report-button"][data-format="html"]')
    with page.expect_download(timeout=60_000) as info:
        button.click()
    download = info.value
    assert download.failure() is None, download.failure()
    path = ARTIFACTS / f"report-{published.id}.html"
    download.save_as(path)
    print(f"report: {path} ({download.suggested_filename})")
    raw = path.read_text(encoding="utf-8")
    text = html.unescape(raw)

    found = set(SENTENCE.findall(text))
    own = {s for _, s in scenario.sentences[scenario.mmsi]}
    assert found, "the report shows no raw !AIVDM message"
    foreign = found - own
    assert not foreign, (
        f"{len(foreign)} messages in the report are not this vessel's input lines "
        f"(altered, fabricated or another vessel's): {sorted(foreign)[:5]}"
    )
    t_alert = _unix(published.alert["event_time"])
    trigger = {s for t, s in scenario.sentences[scenario.mmsi] if t == t_alert}
    assert trigger, f"no input line of MMSI {scenario.mmsi} at the alert's event time"
    assert trigger <= found, f"the triggering message(s) {trigger} are not in the report"
    hhmmss = published.alert["event_time"][11:19]
    assert hhmmss in text, f"the trigger's receive time {hhmmss} is not shown"
    print(f"report shows {len(found)} of the vessel's {len(own)} input messages")

    # self-contained: opened from disk it loads nothing from any other host
    before = len(recorded.requests)
    viewer = new_page()
    viewer.goto(path.as_uri())
    shot(viewer, "report-rendered")
    off = [u for u in recorded.requests[before:] if not (is_loopback(u) or u.startswith("file:"))]
    assert not off, f"the report loads from other hosts: {off}"


def test_evidence_report_pdf_downloads(server: Server, published: Published, page: Page) -> None:
    open_console(page, server, "e2e-admin")
    item = alert_item(page, published.id)
    expect(item).to_be_visible()
    button = item.locator('[data-testid="report-button"][data-format="pdf"]')
    with page.expect_download(timeout=120_000) as info:
        button.click()
    download = info.value
    assert download.failure() is None, download.failure()
    path = ARTIFACTS / f"report-{published.id}.pdf"
    download.save_as(path)
    data = path.read_bytes()
    assert data.startswith(b"%PDF-"), data[:40]
    assert b"%%EOF" in data[-1024:]
    assert len(data) > 2000, len(data)


# -- 6. allies ---------------------------------------------------------------------------------


def test_an_ally_sees_only_releasable_alerts_and_cannot_act(
    server: Server, published: Published, new_page: Callable[[], Page]
) -> None:
    assert published.alert["releasability"] == "REL JEF", published.alert["releasability"]

    dnk = new_page()  # DNK is in JEF: the alert is released to it, but allies only read
    open_console(dnk, server, "e2e-ally-dnk")
    expect(tid(dnk, "app")).to_have_attribute("data-role", "ally")
    expect(tid(dnk, "user-role")).to_contain_text("ally · DNK")
    expect(alert_item(dnk, published.id)).to_be_visible()
    for action in ("alert-ack", "alert-assign", "alert-close", "alert-cancel"):
        expect(tid(dnk, action)).to_have_count(0)
    shot(dnk, "ally-dnk")

    usa = new_page()  # USA is not in REL JEF: the alert is not releasable to it
    open_console(usa, server, "e2e-ally-usa")
    expect(tid(usa, "app")).to_have_attribute("data-role", "ally")
    # the stream opens after the feed's first load, so "live" means the feed has loaded
    expect(tid(usa, "stream-state")).to_have_attribute("data-state", "live")
    feed = tid(usa, "alert-feed")
    expect(feed).to_be_visible()
    expect(alert_item(usa, published.id)).to_have_count(0)
    expect(feed).to_have_attribute("data-count", "0")
    for action in ("alert-ack", "alert-assign", "alert-close", "alert-cancel"):
        expect(tid(usa, action)).to_have_count(0)
    shot(usa, "ally-usa")
    with server.api("e2e-ally-usa") as http:  # and the API agrees with what the console shows
        assert http.get(f"/api/alerts/{published.id}").status_code == 404
        listing = http.get("/api/alerts").json()["items"]
        assert all(i["alert"]["id"] != published.id for i in listing)


# -- 7. loopback only ---------------------------------------------------------------------------


def test_the_console_requests_nothing_beyond_loopback(
    server: Server, scenario: Scenario, published: Published, page: Page, recorded: Recorded
) -> None:
    open_console(page, server, "e2e-admin")
    expect(tid(page, "map")).to_be_visible()
    expect(tid(page, "vessel-marker").first).to_be_attached()
    item = alert_item(page, published.id)
    expect(item).to_be_visible()
    item.get_by_test_id("alert-vessel").click()
    expect(tid(page, "dossier-plot")).to_be_visible()
    expect(tid(page, "dossier-track-map")).to_be_visible()
    assert len(recorded.requests) >= 5, recorded.requests  # the check saw real traffic
    off = [u for u in recorded.requests if not is_loopback(u)]
    assert not off, f"the console asked other hosts: {off}"
    print(f"{len(recorded.requests)} requests, all to loopback")
