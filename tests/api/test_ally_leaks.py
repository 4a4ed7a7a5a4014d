"""Regression tests for two leaks a security review found in the ally's view of alerts.

* A page cut short by the scan budget among hidden alerts must not hand back, as its
  cursor, the id and time of an alert the ally may not read.
* An alert must not become visible to an ally because of a revision it may not read.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from fastapi.testclient import TestClient

from seawarden.api import ApiSettings, create_app, db, tokens
from tests.api.conftest import T0, build_store, make_alert


def _ally(store: Path) -> dict[str, str]:
    with db.connection(store) as c:
        tok, _ = tokens.create(
            c, name="dnk", role="ally", nation="DNK", areas=("baltic-pipe",), actor="test"
        )
    return {"Authorization": f"Bearer {tok}"}


def test_ally_cursor_reveals_no_hidden_alert_and_still_pages(tmp_path: Path) -> None:
    store = tmp_path / "s.db"
    visible = make_alert(
        "visible-old",
        releasability="REL JEF",
        area_ids=("baltic-pipe",),
        next_crossing=None,
        event_time=T0 - timedelta(days=1),
    )
    hidden = [
        make_alert(
            f"hidden-{i:03d}",
            releasability="REL GBR",  # in DNK's area, not releasable to DNK
            area_ids=("baltic-pipe",),
            next_crossing=None,
            mmsi=100_000_000 + i,
            event_time=T0 + timedelta(seconds=i),
        )
        for i in range(150)
    ]
    build_store(store, [visible, *hidden])
    auth = _ally(store)
    with TestClient(create_app(ApiSettings(store=store, max_scan=100))) as client:
        first = client.get("/api/alerts", headers=auth, params={"limit": 1})
        assert first.status_code == 200, first.text
        page = first.json()
        assert page["items"] == []
        cursor = page["next_cursor"]
        assert cursor, "the scan budget ran out: the client must be able to go on"
        assert "hidden" not in cursor
        assert "T" not in cursor
        rest = client.get("/api/alerts", headers=auth, params={"limit": 1, "cursor": cursor})
        assert rest.status_code == 200, rest.text
        assert [i["alert"]["id"] for i in rest.json()["items"]] == ["visible-old"]
        # a handle is bound to its token and cannot be forged
        forged = client.get("/api/alerts", headers=auth, params={"cursor": "~s." + "0" * 32})
        assert forged.status_code == 422


def test_area_of_a_hidden_revision_does_not_make_an_alert_visible(tmp_path: Path) -> None:
    store = tmp_path / "s.db"
    # Revision 1 is about DNK's area but marked REL GBR; revision 2 is REL NATO, elsewhere.
    r1 = make_alert("x1", releasability="REL GBR", area_ids=("baltic-pipe",), next_crossing=None)
    r2 = replace(
        r1,
        revision=2,
        msg_type="Update",
        releasability="REL NATO",
        area_ids=("north-sea-link",),
        event_time=T0 + timedelta(minutes=5),
    )
    # Control: a REL NATO alert that was about DNK's area in a revision DNK may read.
    c1 = make_alert("x2", releasability="REL NATO", area_ids=("baltic-pipe",), next_crossing=None)
    build_store(store, [r1, r2, c1])
    auth = _ally(store)
    with TestClient(create_app(ApiSettings(store=store))) as client:
        ids = [i["alert"]["id"] for i in client.get("/api/alerts", headers=auth).json()["items"]]
        assert ids == ["x2"]
        assert client.get("/api/alerts/x1", headers=auth).status_code == 404
