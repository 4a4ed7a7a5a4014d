"""The console's resources over a store the pipeline really wrote (bundled real Solent AIS).

Roles, validation of hostile input, audit rows for every management action, the operator
cancel through the outbox, and /metrics parsed with prometheus_client's own parser.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from seawarden.alerts import outbox
from seawarden.alerts.subscriptions import Channel, Subscription
from seawarden.api import ApiSettings, create_app, db
from seawarden.pipeline.replay import Replay
from seawarden.pipeline.settings import RunConfig
from seawarden.store.sqlite import SQLiteStore
from tests.api.conftest import Seeded, add_tokens, make_alert
from tests.conftest import REPO

SOLENT = REPO / "src/seawarden/data/demo/1-solent-20160112.csv.gz"
SOLENT_BBOX = "-1.6,50.6,-1.0,51.0"
CORRIDOR = REPO / "tests/data/solent_corridor.geojson"
SUB = Subscription(
    id="gbr-moc",
    recipient="GBR MOC",
    nation="GBR",
    audience=frozenset({"GBR"}),
    areas=None,
    min_severity="low",
    channels=(Channel(kind="webhook", target="http://127.0.0.1:9/hook", secret="GBR_KEY"),),
)


@pytest.fixture(scope="module")
def solent_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("console") / "solent.db"
    store = SQLiteStore(path)
    Replay([SOLENT], RunConfig(areas=REPO / "config/areas.geojson"), store=store).run()
    store.write_alerts([make_alert("a-solent", mmsi=235_000_001)])
    store.close()
    db.ensure_schema(path)
    return path


@pytest.fixture
def seeded_solent(solent_store: Path, tmp_path: Path) -> Seeded:
    copy = tmp_path / "s.db"
    copy.write_bytes(solent_store.read_bytes())
    return Seeded(store=copy, tokens=add_tokens(copy))


@pytest.fixture
def api(seeded_solent: Seeded) -> Iterator[TestClient]:
    settings = ApiSettings(store=seeded_solent.store, subscriptions={SUB.id: SUB})
    with TestClient(create_app(settings), raise_server_exceptions=False) as c:
        yield c


def audit_actions(store: Path) -> list[tuple[str, str]]:
    with db.connection(store) as conn:
        rows = conn.execute("SELECT action, target FROM audit ORDER BY seq").fetchall()
    return [(str(a), str(t)) for a, t in rows]


# -- vessels ------------------------------------------------------------------------------------


def test_vessels_from_the_store(api: TestClient, seeded_solent: Seeded) -> None:
    r = api.get(
        "/api/vessels", params={"bbox": SOLENT_BBOX}, headers=seeded_solent.auth("analyst-1")
    )
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert len(items) > 20  # the Solent demo has 91 vessels
    assert all(-1.6 <= v["lon"] <= -1.0 and 50.6 <= v["lat"] <= 51.0 for v in items)
    assert {v["risk_level"] for v in items} <= {"info", "low", "medium", "high", "critical"}
    tiny = api.get("/api/vessels", params={"bbox": "0,0,0.001,0.001", "limit": 5},
                   headers=seeded_solent.auth("analyst-1"))  # fmt: skip
    assert tiny.json()["items"] == []


@pytest.mark.parametrize(
    "bbox", ["1,2,3", "a,b,c,d", "10,0,5,1", "0,0,200,1", "0,95,1,96", "nan,0,1,1"]
)
def test_bad_bbox_is_422(api: TestClient, seeded_solent: Seeded, bbox: str) -> None:
    r = api.get("/api/vessels", params={"bbox": bbox}, headers=seeded_solent.auth("ops-admin"))
    assert r.status_code == 422


def test_dossier_and_track(api: TestClient, seeded_solent: Seeded) -> None:
    auth = seeded_solent.auth("ops-admin")
    first = api.get("/api/vessels", params={"bbox": SOLENT_BBOX}, headers=auth).json()["items"]
    mmsi = max(first, key=lambda v: v["last_seen"])["mmsi"]
    d = api.get(f"/api/vessels/{mmsi}", headers=auth)
    assert d.status_code == 200, d.text
    body = d.json()
    assert body["mmsi"] == mmsi
    assert isinstance(body["identity_history"], list)
    assert len(body["events"]) <= 500
    t = api.get(f"/api/vessels/{mmsi}/track", headers=auth)
    assert t.status_code == 200
    pts = t.json()["items"]
    assert pts
    assert [p["time"] for p in pts] == sorted(p["time"] for p in pts)
    assert api.get("/api/vessels/1", headers=auth).status_code == 404
    huge = {"start": "2015-01-01T00:00:00Z", "end": "2016-12-31T00:00:00Z"}
    assert api.get(f"/api/vessels/{mmsi}/track", params=huge, headers=auth).status_code == 422
    back = {"start": "2016-01-12T12:00:00Z", "end": "2016-01-12T11:00:00Z"}
    assert api.get(f"/api/vessels/{mmsi}/track", params=back, headers=auth).status_code == 422


def test_alerted_vessel_carries_its_alert(api: TestClient, seeded_solent: Seeded) -> None:
    with db.connection(seeded_solent.store) as conn:
        conn.execute(
            "INSERT OR REPLACE INTO vessels (mmsi, first_seen, last_seen, lat, lon)"
            " VALUES (235000001, '2024-12-25T09:00:00+00:00', '2024-12-25T10:00:00+00:00',"
            " 59.95, 25.05)"
        )
    v = api.get("/api/vessels/235000001", headers=seeded_solent.auth("analyst-1")).json()
    assert v["alert_id"] == "a-solent"
    assert v["risk_level"] == "high"
    assert v["next_crossing"]["area_id"] == "estlink-1"
    assert v["contributions"][0]["detector"] == "anchor_drag"


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/api/vessels"), ("GET", "/api/vessels/235000001"), ("GET", "/api/areas"),
     ("GET", "/api/watchlist"), ("GET", "/api/subscriptions"), ("GET", "/metrics"),
     ("PUT", "/api/areas/x"), ("DELETE", "/api/areas/x"), ("PUT", "/api/watchlist/9329760"),
     ("POST", "/api/watchlist/import"), ("POST", "/api/alerts/a-solent/cancel")],
)  # fmt: skip
def test_ally_is_refused(api: TestClient, seeded_solent: Seeded, method: str, path: str) -> None:
    r = api.request(method, path, headers=seeded_solent.auth("gbr-all"), json={})
    assert r.status_code == 403, r.text


@pytest.mark.parametrize(
    ("method", "path"),
    [("PUT", "/api/areas/x"), ("DELETE", "/api/areas/x"), ("PUT", "/api/watchlist/9329760"),
     ("DELETE", "/api/watchlist/9329760"), ("POST", "/api/watchlist/import")],
)  # fmt: skip
def test_analyst_may_not_manage(
    api: TestClient, seeded_solent: Seeded, method: str, path: str
) -> None:
    assert api.request(method, path, headers=seeded_solent.auth("analyst-1")).status_code == 403


# -- areas --------------------------------------------------------------------------------------

SQUARE = {
    "type": "Feature",
    "geometry": {
        "type": "Polygon",
        "coordinates": [[[-1.4, 50.7], [-1.2, 50.7], [-1.2, 50.8], [-1.4, 50.8], [-1.4, 50.7]]],
    },
    "properties": {"name": "Spithead test box", "kind": "zone"},
}


def test_area_put_get_delete_audited(api: TestClient, seeded_solent: Seeded) -> None:
    auth = seeded_solent.auth("ops-admin")
    r = api.put("/api/areas/spithead-box", headers=auth, json=SQUARE)
    assert r.status_code == 201, r.text
    assert r.json()["properties"]["id"] == "spithead-box"
    again = api.put("/api/areas/spithead-box", headers=auth, json=SQUARE)
    assert again.status_code == 200
    got = api.get("/api/areas", headers=seeded_solent.auth("analyst-1")).json()
    assert got["type"] == "FeatureCollection"
    assert [f["properties"]["id"] for f in got["features"]] == ["spithead-box"]
    assert api.delete("/api/areas/spithead-box", headers=auth).status_code == 204
    assert api.delete("/api/areas/spithead-box", headers=auth).status_code == 404
    acts = audit_actions(seeded_solent.store)
    assert acts.count(("area.put", "area:spithead-box")) == 2
    assert ("area.delete", "area:spithead-box") in acts


@pytest.mark.parametrize(
    "feature",
    [
        {**SQUARE, "geometry": {"type": "Polygon", "coordinates": [[[-1.4, 50.7], [-1.2, 50.7],
                                                                  [-1.2, 50.8]]]}},
        {**SQUARE, "properties": {"name": "no kind"}},
        {**SQUARE, "geometry": {"type": "LineString", "coordinates": [[-1.4, 50.7], [-1.2, 50.8]]},
         "properties": {"name": "cable without width", "kind": "cable"}},
        {**SQUARE, "geometry": {"type": "Point", "coordinates": [-1.4, 50.7]}},
        {**SQUARE, "properties": {**SQUARE["properties"], "id": "another-id"}},
        {**SQUARE, "geometry": {"type": "Polygon", "coordinates": [[[500, 50.7], [-1.2, 50.7],
                                                                  [-1.2, 50.8], [500, 50.7]]]}},
        {"type": "FeatureCollection", "features": []},
    ],
)  # fmt: skip
def test_bad_geojson_is_422(api: TestClient, seeded_solent: Seeded, feature: Any) -> None:
    r = api.put("/api/areas/bad-one", headers=seeded_solent.auth("ops-admin"), json=feature)
    assert r.status_code == 422, r.text
    assert not [a for a in audit_actions(seeded_solent.store) if a[0] == "area.put"]


# -- watchlist ----------------------------------------------------------------------------------


def test_watchlist_put_delete_audited(api: TestClient, seeded_solent: Seeded) -> None:
    auth = seeded_solent.auth("ops-admin")
    body = {"mmsis": [518998865], "name": "Eagle S", "flag": "CK", "reason": "Estlink 2"}
    r = api.put("/api/watchlist/9329760", headers=auth, json=body)
    assert r.status_code == 200, r.text
    assert r.json()["key"] == "imo:9329760"
    assert r.json()["name"] == "EAGLE S"
    items = api.get("/api/watchlist", headers=seeded_solent.auth("analyst-1")).json()["items"]
    assert [i["imo"] for i in items] == [9329760]
    assert (
        api.put("/api/watchlist/9329761", headers=auth, json=body).status_code == 422
    )  # check digit
    assert api.delete("/api/watchlist/9329760", headers=auth).status_code == 204
    assert api.delete("/api/watchlist/9329760", headers=auth).status_code == 404
    acts = audit_actions(seeded_solent.store)
    assert ("watchlist.put", "watchlist:imo:9329760") in acts
    assert ("watchlist.delete", "watchlist:imo:9329760") in acts


def test_watchlist_import_real_lists(api: TestClient, seeded_solent: Seeded) -> None:
    auth = seeded_solent.auth("ops-admin") | {"content-type": "text/csv"}
    csv = (REPO / "config/watchlist.csv").read_bytes()
    r = api.post("/api/watchlist/import", headers=auth, content=csv)
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["format"] == "local"
    assert got["accepted"] > 0
    assert got["total"] == got["accepted"]
    r2 = api.post("/api/watchlist/import", headers=auth, content=csv)
    assert r2.json()["total"] == got["total"]  # merge: same entries combine
    r3 = api.post("/api/watchlist/import?mode=replace", headers=auth,
                  content=b"imo,ofac,uk,eu\n9329760,True,False,False\n")  # fmt: skip
    assert r3.json()["total"] == 1
    imports = [a for a in audit_actions(seeded_solent.store) if a[0] == "watchlist.import"]
    assert len(imports) == 3


@pytest.mark.parametrize(
    ("content", "status"),
    [
        (b"\xff\xfe\x00binary\x00", 422),
        (b"imo,mmsi,name,flag,source,reason\n9329760,\x00,X,,,\n", 422),
        (b"who,what\n1,2\n", 422),
        (b"", 422),
        (b"imo,mmsi,name,flag,source,reason\n" + b"9329760,1,A,,,\n" * 80_000, 413),
    ],
)
def test_hostile_csv(api: TestClient, seeded_solent: Seeded, content: bytes, status: int) -> None:
    auth = seeded_solent.auth("ops-admin") | {"content-type": "text/csv"}
    r = api.post("/api/watchlist/import", headers=auth, content=content)
    assert r.status_code == status, r.text
    assert not [a for a in audit_actions(seeded_solent.store) if a[0] == "watchlist.import"]


def test_csv_rows_rejected_are_counted(api: TestClient, seeded_solent: Seeded) -> None:
    auth = seeded_solent.auth("ops-admin") | {"content-type": "text/csv"}
    body = b'imo,mmsi,name,flag,source,reason\n=cmd|/c calc,,"",,,\n9329760,518998865,EAGLE S,,,\n'
    r = api.post("/api/watchlist/import", headers=auth, content=body)
    assert r.status_code == 200, r.text
    assert r.json()["accepted"] == 1
    assert sum(r.json()["rejected"].values()) == 1


# -- cancel, subscriptions, metrics ---------------------------------------------------------------


def test_operator_cancel_goes_to_previous_recipients(
    api: TestClient, seeded_solent: Seeded
) -> None:
    store = seeded_solent.store
    with db.connection(store) as conn:
        outbox.ensure_schema(conn)
        assert outbox.enqueue(conn, [make_alert("a-solent", mmsi=235_000_001)], [SUB]) == 1
    r = api.post("/api/alerts/a-solent/cancel", headers=seeded_solent.auth("analyst-1"),
                 json={"reason": "vessel identified, anchored legitimately"})  # fmt: skip
    assert r.status_code == 200, r.text
    revs = r.json()["revisions"]
    assert [x["msg_type"] for x in revs] == ["Alert", "Cancel"]
    assert r.json()["operator"]["cancel_reason"].startswith("vessel identified")
    with db.connection(store) as conn:
        rows = conn.execute(
            "SELECT revision, subscription_id FROM outbox ORDER BY revision"
        ).fetchall()
    assert rows == [(1, "gbr-moc"), (2, "gbr-moc")]
    assert ("alert.cancel", "alert:a-solent") in audit_actions(store)
    again = api.post("/api/alerts/a-solent/cancel", headers=seeded_solent.auth("analyst-1"),
                     json={"reason": "twice"})  # fmt: skip
    assert again.status_code == 409
    assert (
        api.post("/api/alerts/a-solent/ack", headers=seeded_solent.auth("analyst-1")).status_code
        == 409
    )
    assert api.post("/api/alerts/nope/cancel", headers=seeded_solent.auth("analyst-1"),
                    json={"reason": "x"}).status_code == 404  # fmt: skip
    empty = api.post("/api/alerts/a-solent/cancel", headers=seeded_solent.auth("analyst-1"),
                     json={"reason": ""})  # fmt: skip
    assert empty.status_code == 422


def test_subscriptions_show_secret_names_only(api: TestClient, seeded_solent: Seeded) -> None:
    r = api.get("/api/subscriptions", headers=seeded_solent.auth("analyst-1"))
    assert r.status_code == 200
    (sub,) = r.json()["items"]
    assert sub["id"] == "gbr-moc"
    assert sub["channels"] == [{"kind": "webhook", "target": "http://127.0.0.1:9",
                                "secret": "GBR_KEY"}]  # fmt: skip


def test_metrics_parse(api: TestClient, seeded_solent: Seeded) -> None:
    api.get("/api/alerts", headers={"Authorization": "Bearer sw_" + "x" * 40})  # an auth failure
    r = api.get("/metrics", headers=seeded_solent.auth("analyst-1"))
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    fams = {f.name: f for f in text_string_to_metric_families(r.text)}
    assert "seawarden_auth_failures" in fams
    assert sum(s.value for s in fams["seawarden_auth_failures"].samples) >= 1
    assert {s.labels["status"] for s in fams["seawarden_deliveries"].samples} == {
        "pending", "delivered", "dead"}  # fmt: skip
    assert "seawarden_stream_clients" in fams
    assert r.headers["cache-control"] == "no-store"


def test_console_paths_public_with_console_csp(api: TestClient) -> None:
    r = api.get("/no-console-here")  # no console mounted: 404, but not 401
    assert r.status_code == 404
    assert "default-src 'self'" in r.headers["content-security-policy"]
    h = api.get("/api/health")
    assert h.headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"
