"""Alerts over the API: who sees which alert, paging and filters, operator actions."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from seawarden.api import ApiSettings, create_app
from seawarden.store.sqlite import SQLiteStore
from tests.api.conftest import Seeded, make_alert


def ids(page: dict[str, Any]) -> list[str]:
    return [i["alert"]["id"] for i in page["items"]]


def all_ids(client: TestClient, headers: dict[str, str], **params: Any) -> list[str]:
    """Walk every page (bounded) and return the ids in order."""
    out: list[str] = []
    cursor = None
    for _ in range(100):
        q = dict(params, **({"cursor": cursor} if cursor else {}))
        r = client.get("/api/alerts", headers=headers, params=q)
        assert r.status_code == 200, r.text
        out += ids(r.json())
        cursor = r.json()["next_cursor"]
        if cursor is None:
            return out
    raise AssertionError("paging did not end")


# -- releasability -----------------------------------------------------------------------
def test_ally_sees_only_releasable_alerts_for_its_areas(client: TestClient, seeded: Seeded) -> None:
    seen = all_ids(client, seeded.auth("dnk-moc"))
    # a-jef-in: REL JEF in baltic-pipe; a-approach: REL NATO heading for nord-stream;
    # a-nato: REL NATO in nord-stream (its Cancel left the area but the alert stays DNK's)
    assert sorted(seen) == ["a-approach", "a-jef-in", "a-nato"]


@pytest.mark.parametrize("alert_id", ["a-gbrnor", "a-jef-out", "a-narrowed", "bg-001", "nope"])
def test_ally_gets_404_for_what_it_may_not_see(
    client: TestClient, seeded: Seeded, alert_id: str
) -> None:
    r = client.get(f"/api/alerts/{alert_id}", headers=seeded.auth("dnk-moc"))
    assert r.status_code == 404
    assert r.json() == {"error": "not_found", "message": f"no alert {alert_id}"}


def test_ally_reads_a_releasable_alert_without_operator_details(
    client: TestClient, seeded: Seeded
) -> None:
    client.post("/api/alerts/a-jef-in/ack", headers=seeded.auth("analyst-1"))
    r = client.get("/api/alerts/a-jef-in", headers=seeded.auth("dnk-moc"))
    assert r.status_code == 200
    body = r.json()
    assert [v["releasability"] for v in body["revisions"]] == ["REL JEF"]
    assert body["actions"] is None
    assert body["operator"] is None
    assert "analyst-1" not in r.text


def test_narrowed_alert_is_hidden_from_those_it_no_longer_releases_to(
    client: TestClient, seeded: Seeded
) -> None:
    gbr = client.get("/api/alerts/a-narrowed", headers=seeded.auth("gbr-all")).json()
    assert [v["revision"] for v in gbr["revisions"]] == [1, 2]
    assert "a-narrowed" not in all_ids(client, seeded.auth("dnk-moc"))


def test_ally_with_all_areas_is_still_bound_by_markings(client: TestClient, seeded: Seeded) -> None:
    seen = set(all_ids(client, seeded.auth("gbr-all")))
    assert {"a-gbrnor", "a-jef-in", "a-jef-out", "a-nato", "a-narrowed"} <= seen
    assert not any(i.startswith("bg-") and int(i[3:]) % 2 == 0 for i in seen)  # REL FIN, EST


def test_analyst_sees_everything(client: TestClient, seeded: Seeded) -> None:
    seen = all_ids(client, seeded.auth("analyst-1"))
    assert len(seen) == len(set(seen)) == 6 + 40
    assert seen[0] == "a-narrowed"  # newest first


def test_alert_detail_has_every_revision(client: TestClient, seeded: Seeded) -> None:
    r = client.get("/api/alerts/a-nato", headers=seeded.auth("analyst-1"))
    body = r.json()
    assert [(v["revision"], v["msg_type"]) for v in body["revisions"]] == [
        (1, "Alert"),
        (2, "Update"),
        (3, "Cancel"),
    ]
    assert body["revisions"][0]["reasons"][0]["detector"] == "anchor_drag"
    assert body["actions"] == []


def test_list_shows_latest_revision(client: TestClient, seeded: Seeded) -> None:
    page = client.get("/api/alerts", headers=seeded.auth("analyst-1"), params={"mmsi": 273000002})
    [item] = page.json()["items"]
    assert (item["alert"]["revision"], item["alert"]["msg_type"], item["revisions"]) == (
        3,
        "Cancel",
        3,
    )


# -- filters and paging ------------------------------------------------------------------
def test_severity_is_a_minimum(client: TestClient, seeded: Seeded) -> None:
    page = client.get(
        "/api/alerts",
        headers=seeded.auth("analyst-1"),
        params={"severity": "critical", "limit": 25},
    ).json()
    assert {i["alert"]["severity"] for i in page["items"]} == {"critical"}
    high = all_ids(client, seeded.auth("analyst-1"), severity="high")
    expected = {f"bg-{i:03d}" for i in range(40) if i % 5 >= 3}
    expected |= {"a-gbrnor", "a-jef-in", "a-jef-out", "a-narrowed"}
    assert set(high) == expected
    assert "a-nato" not in high  # its latest revision is a low Cancel


def test_since_filters_by_latest_revision_time(client: TestClient, seeded: Seeded) -> None:
    got = all_ids(client, seeded.auth("analyst-1"), since="2024-12-25T10:05:30Z")
    assert sorted(got) == ["a-narrowed", "a-nato"]
    naive = client.get(
        "/api/alerts", headers=seeded.auth("analyst-1"), params={"since": "2024-12-25T10:05:30"}
    )
    assert naive.status_code == 422


def test_paging_is_complete_and_limit_is_clamped(client: TestClient, seeded: Seeded) -> None:
    headers = seeded.auth("analyst-1")
    small = all_ids(client, headers, limit=7)
    assert small == all_ids(client, headers)
    huge = client.get("/api/alerts", headers=headers, params={"limit": 10**30})
    assert huge.status_code == 200
    assert len(huge.json()["items"]) == 25  # the fixture's max_page
    ally = all_ids(client, seeded.auth("dnk-moc"), limit=1)
    assert sorted(ally) == ["a-approach", "a-jef-in", "a-nato"]


@pytest.mark.parametrize(
    "params",
    [
        {"cursor": "not-a-cursor!"},
        {"cursor": "2024-12-25~a b"},  # id with a space
        {"limit": 0},
        {"limit": -5},
        {"mmsi": 10**12},
        {"severity": "extreme"},
        {"since": "yesterday"},
    ],
)
def test_bad_query_parameters_are_422(
    client: TestClient, seeded: Seeded, params: dict[str, Any]
) -> None:
    r = client.get("/api/alerts", headers=seeded.auth("analyst-1"), params=params)
    assert r.status_code == 422, r.text
    assert r.json()["error"] == "invalid_request"


# -- operator actions ----------------------------------------------------------------------
def test_ack_assign_close_are_stored_and_audited(client: TestClient, seeded: Seeded) -> None:
    analyst, admin = seeded.auth("analyst-1"), seeded.auth("ops-admin")
    assert client.post("/api/alerts/a-jef-in/ack", headers=analyst).status_code == 200
    r = client.post("/api/alerts/a-jef-in/assign", headers=admin, json={"to": "watch-2"})
    assert r.status_code == 200
    r = client.post("/api/alerts/a-jef-in/close", headers=analyst, json={"reason": "false alarm"})
    assert r.status_code == 200
    body = client.get("/api/alerts/a-jef-in", headers=analyst).json()
    assert [(a["actor"], a["action"]) for a in body["actions"]] == [
        ("token:analyst-1", "ack"),
        ("token:ops-admin", "assign"),
        ("token:analyst-1", "close"),
    ]
    op = body["operator"]
    assert op["acknowledged_by"] == "token:analyst-1"
    assert op["assigned_to"] == "watch-2"
    assert op["close_reason"] == "false alarm"
    listed = client.get("/api/alerts", headers=analyst, params={"mmsi": 219000001}).json()
    assert listed["items"][0]["operator"]["closed_by"] == "token:analyst-1"
    audit = client.get("/api/audit", headers=admin).json()["items"]
    mine = [
        (e["actor"], e["action"], e["detail"]) for e in audit if e["target"] == "alert:a-jef-in"
    ]
    assert mine == [
        ("token:analyst-1", "alert.ack", {}),
        ("token:ops-admin", "alert.assign", {"to": "watch-2"}),
        ("token:analyst-1", "alert.close", {"reason": "false alarm"}),
    ]
    again = client.post("/api/alerts/a-jef-in/ack", headers=analyst)
    assert again.status_code == 409


def test_action_on_unknown_alert_is_404_and_not_audited(client: TestClient, seeded: Seeded) -> None:
    r = client.post("/api/alerts/zzz/ack", headers=seeded.auth("analyst-1"))
    assert r.status_code == 404
    audit = client.get("/api/audit", headers=seeded.auth("ops-admin")).json()["items"]
    assert all(e["target"] != "alert:zzz" for e in audit)


def test_audit_pages_by_seq(client: TestClient, seeded: Seeded) -> None:
    admin = seeded.auth("ops-admin")
    for _ in range(3):
        client.post("/api/alerts/a-nato/ack", headers=seeded.auth("analyst-1"))
    first = client.get("/api/audit", headers=admin, params={"limit": 2}).json()
    assert len(first["items"]) == 2
    rest = client.get("/api/audit", headers=admin, params={"after": first["next_after"]}).json()
    seqs = [e["seq"] for e in first["items"] + rest["items"]]
    assert seqs == sorted(set(seqs))
    assert len(seqs) == 6 + 3  # 5 token.create + 1 token.revoke from the fixture, 3 acks


# -- hostile input -------------------------------------------------------------------------
def test_oversized_body_is_413(client: TestClient, seeded: Seeded) -> None:
    big = {"reason": "x" * (70 * 1024)}
    r = client.post("/api/alerts/a-jef-in/close", headers=seeded.auth("analyst-1"), json=big)
    assert r.status_code == 413
    assert r.json()["error"] == "payload_too_large"


def test_oversized_streamed_body_is_413(client: TestClient, seeded: Seeded) -> None:
    def chunks() -> Any:
        for _ in range(100):
            yield b"x" * 1024

    r = client.post(
        "/api/alerts/a-jef-in/close",
        headers=seeded.auth("analyst-1") | {"content-type": "application/json"},
        content=chunks(),
    )
    assert r.status_code == 413


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (b'{"reason": ', "not valid JSON"),
        (b"\xff\xfe", "not valid JSON"),
        (b'{"reason": "ok", "extra": 1}', "extra"),
        (b'{"reason": ""}', "reason"),
        (b"[]", "body"),
    ],
)
def test_bad_bodies_are_422_with_a_clear_message(
    client: TestClient, seeded: Seeded, content: bytes, fragment: str
) -> None:
    r = client.post(
        "/api/alerts/a-jef-in/close",
        headers=seeded.auth("analyst-1") | {"content-type": "application/json"},
        content=content,
    )
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["error"] == "invalid_request"
    assert fragment in body["message"] or fragment in str(body["details"])
    assert "Traceback" not in r.text


@pytest.mark.parametrize(
    "path",
    [
        "/api/alerts/..%2f..%2fetc%2fpasswd",
        "/api/alerts/%00",
        "/api/alerts/a'%20OR%201=1--",
        "/api/alerts/" + "a" * 500,
        "/api/alerts/a-jef-in%3Bdrop",
    ],
)
def test_path_tricks_are_rejected_cleanly(client: TestClient, seeded: Seeded, path: str) -> None:
    r = client.get(path, headers=seeded.auth("analyst-1"))
    assert r.status_code in (404, 422), r.text
    assert "Traceback" not in r.text


def test_security_headers(client: TestClient, seeded: Seeded) -> None:
    for r in (
        client.get("/api/alerts", headers=seeded.auth("analyst-1")),
        client.get("/api/alerts/nope", headers=seeded.auth("analyst-1")),
        client.get("/api/alerts"),
    ):
        assert r.headers["cache-control"] == "no-store"
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["x-frame-options"] == "DENY"
        assert "default-src 'none'" in r.headers["content-security-policy"]


def test_unknown_query_parameter_is_422_not_ignored(client: TestClient, seeded: Seeded) -> None:
    r = client.get("/api/alerts", headers=seeded.auth("analyst-1"), params={"severty": "high"})
    assert r.status_code == 422
    assert "severty" in r.json()["message"]


def test_wrong_method_lists_every_allowed_one(client: TestClient, seeded: Seeded) -> None:
    r = client.delete("/api/tokens", headers=seeded.auth("ops-admin"))
    assert r.status_code == 405
    assert r.headers["allow"] == "GET, POST"


def test_non_utf8_body_is_422(client: TestClient, seeded: Seeded) -> None:
    r = client.post(
        "/api/alerts/a-jef-in/close",
        headers=seeded.auth("analyst-1") | {"content-type": "application/json"},
        content=b'{"reason": "\xc3\x28"}',
    )
    assert r.status_code == 422
    assert "not valid JSON" in r.json()["message"]


@pytest.mark.parametrize(
    "since",
    ["0.5", "2024-12-25", "2024-12-25T10:00:00", "20241225T100000Z", "2024-13-01T00:00:00Z"],
)
def test_since_must_be_rfc3339_with_offset(client: TestClient, seeded: Seeded, since: str) -> None:
    r = client.get("/api/alerts", headers=seeded.auth("analyst-1"), params={"since": since})
    assert r.status_code == 422


def test_since_accepts_offsets_and_fractions(client: TestClient, seeded: Seeded) -> None:
    for since in ("2024-12-25T12:05:30+02:00", "2024-12-25t10:05:30.123456789z"):
        got = all_ids(client, seeded.auth("analyst-1"), since=since)
        assert sorted(got) == ["a-narrowed", "a-nato"]


def test_reads_go_on_and_writes_get_503_while_the_pipeline_holds_a_batch(seeded: Seeded) -> None:
    app = create_app(ApiSettings(store=seeded.store, busy_timeout_ms=200))
    pipeline = SQLiteStore(seeded.store)
    pipeline.write_alerts([make_alert("in-flight")])  # uncommitted: the write lock is held
    try:
        with TestClient(app) as c:
            r = c.get("/api/alerts/a-jef-in", headers=seeded.auth("analyst-1"))
            assert r.status_code == 200
            assert (
                c.get("/api/alerts/in-flight", headers=seeded.auth("analyst-1")).status_code == 404
            )
            busy = c.post("/api/alerts/a-jef-in/ack", headers=seeded.auth("analyst-1"))
            assert busy.status_code == 503
            assert busy.headers["retry-after"] == "1"
            pipeline.commit()
            assert (
                c.post("/api/alerts/a-jef-in/ack", headers=seeded.auth("analyst-1")).status_code
                == 200
            )
            assert (
                c.get("/api/alerts/in-flight", headers=seeded.auth("analyst-1")).status_code == 200
            )
    finally:
        pipeline.close()
