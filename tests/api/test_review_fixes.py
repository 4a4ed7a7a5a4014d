"""Regression tests for defects a review found in the console API (secrets in channel
targets, an empty watchlist replace, 500s on hostile input, name-only watchlist keys, the
standalone vessel ranking)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from seawarden.alerts.subscriptions import Channel, Subscription
from seawarden.api import ApiSettings, create_app, db
from tests.api.conftest import T0, Seeded, add_tokens, build_store, make_alert


def test_subscription_targets_show_no_path_or_query(seeded: Seeded) -> None:
    sub = Subscription(
        id="dnk-moc",
        recipient="DNK MOC",
        nation="DNK",
        audience=frozenset({"DNK"}),
        areas=None,
        min_severity="low",
        channels=(
            Channel(kind="webhook", target="https://hooks.slack.com/services/T0/B0/XSECRETX"),
            Channel(kind="cap_http", target="https://cap.example:8443/in?token=XSECRETX#f"),
            Channel(kind="mqtt", target="mqtts://broker.example:8883/alerts/XSECRETX"),
            Channel(kind="webhook", target="http://[::1]:9000/XSECRETX"),
            Channel(kind="email", target="watch@dnk.example, ops@dnk.example"),
            Channel(kind="console", target=""),
        ),
    )
    app = create_app(ApiSettings(store=seeded.store, subscriptions={sub.id: sub}))
    with TestClient(app) as c:
        r = c.get("/api/subscriptions", headers=seeded.auth("analyst-1"))
    assert r.status_code == 200
    assert "XSECRETX" not in r.text
    (item,) = r.json()["items"]
    assert [ch["target"] for ch in item["channels"]] == [
        "https://hooks.slack.com",
        "https://cap.example:8443",
        "mqtts://broker.example:8883",
        "http://[::1]:9000",
        "watch@dnk.example, ops@dnk.example",
        "",
    ]


LOCAL_HEADER = "imo,mmsi,name,flag,source,reason\n"
EAGLE_ROW = "9329760,518998000,EAGLE S,CK,test,cable incident\n"


def _import(client: TestClient, seeded: Seeded, csv: str, mode: str = "merge") -> Any:
    return client.post(
        f"/api/watchlist/import?mode={mode}",
        headers={**seeded.auth("ops-admin"), "content-type": "text/csv"},
        content=csv.encode(),
    )


def test_replace_with_no_accepted_rows_is_refused(client: TestClient, seeded: Seeded) -> None:
    assert _import(client, seeded, LOCAL_HEADER + EAGLE_ROW).status_code == 200
    for csv in (LOCAL_HEADER + "123,0,,,x,y\n", LOCAL_HEADER):
        r = _import(client, seeded, csv, "replace")
        assert r.status_code == 422, r.text
    keys = [
        e["key"]
        for e in client.get("/api/watchlist", headers=seeded.auth("ops-admin")).json()["items"]
    ]
    assert keys == ["imo:9329760"]


@pytest.mark.parametrize(
    ("when", "status"),
    [
        # not representable in UTC (year 0 / year 10000): refused
        ("0001-01-01T00:00:00+01:00", 422),
        ("9999-12-31T23:59:59-01:00", 422),
        # valid extremes are honoured by their meaning (clamped), as the schema promises
        ("0001-01-01T00:00:00Z", 200),
        ("9999-12-31T23:00:00Z", 200),
    ],
)
def test_extreme_dates_are_clamped_or_422_never_500(
    client: TestClient, seeded: Seeded, when: str, status: int
) -> None:
    auth = seeded.auth("analyst-1")
    q = quote(when)
    for url in (
        f"/api/alerts?since={q}",
        f"/api/vessels/518998000/track?start={q}",
        f"/api/vessels/518998000/track?end={q}",
    ):
        r = client.get(url, headers=auth)
        assert r.status_code in (status, 404), (url, r.status_code, r.text)
        assert r.status_code != 404 or "track" in url  # only an unknown vessel may 404


_SQUARE_GEOMETRY = (
    '{"type": "Polygon", "coordinates": '
    "[[[-1.4, 50.7], [-1.2, 50.7], [-1.2, 50.8], [-1.4, 50.8], [-1.4, 50.7]]]}"
)


@pytest.mark.parametrize(
    "extra",
    [
        '"big": 18446744073709551616',  # 2^64
        '"big": -99999999999999999999999',
        '"deep": ' + "[" * 300 + "]" * 300,
        '"deep": ' + '{"a": ' * 300 + "1" + "}" * 300,
        '"x": NaN',
        '"x": Infinity',
        '"x": [1, -Infinity]',
    ],
)
def test_unstorable_area_properties_are_422(client: TestClient, seeded: Seeded, extra: str) -> None:
    body = (
        '{"type": "Feature", "geometry": ' + _SQUARE_GEOMETRY + ', "properties": '
        '{"name": "Test box", "kind": "zone", ' + extra + "}}"
    )
    auth = {**seeded.auth("ops-admin"), "content-type": "application/json"}
    r = client.put("/api/areas/test-box", headers=auth, content=body.encode())
    assert r.status_code == 422, r.text
    assert "test-box" not in client.get("/api/areas", headers=auth).text


def test_plain_area_properties_still_stored(client: TestClient, seeded: Seeded) -> None:
    body = (
        '{"type": "Feature", "geometry": ' + _SQUARE_GEOMETRY + ', "properties": '
        '{"name": "Test box", "kind": "zone", "n": 18446744073709551615, "f": 1.5}}'
    )
    auth = {**seeded.auth("ops-admin"), "content-type": "application/json"}
    r = client.put("/api/areas/test-box", headers=auth, content=body.encode())
    assert r.status_code == 201, r.text
    assert r.json()["properties"]["f"] == 1.5


@pytest.mark.parametrize(
    "csv",
    [
        LOCAL_HEADER + "9329760,518998000," + "A" * 200_000 + ",CK,x,y\n",  # field > 131072
        LOCAL_HEADER + '9329760,518998000,"EAGLE\nS",CK,x,y\n',  # quoted newline
    ],
)
def test_unreadable_watchlist_csv_is_422(client: TestClient, seeded: Seeded, csv: str) -> None:
    r = _import(client, seeded, csv)
    assert r.status_code == 422, r.text


def test_cancelled_alert_does_not_outrank_an_open_one_under_limit(tmp_path: Path) -> None:
    store = tmp_path / "s.db"
    cancelled = make_alert("v-a", mmsi=219_000_001, score=90.0, severity="critical")
    open_ = make_alert("v-b", mmsi=219_000_002, score=50.0, severity="medium")
    build_store(store, [cancelled, replace(cancelled, revision=2, msg_type="Cancel"), open_])
    toks = add_tokens(store)
    with db.connection(store) as conn:
        for m in (219_000_001, 219_000_002):
            conn.execute(
                "INSERT INTO vessels (mmsi, first_seen, last_seen, lat, lon) VALUES (?,?,?,?,?)",
                (m, T0.isoformat(), T0.isoformat(), 59.9, 25.0),
            )
        conn.commit()
    auth = {"Authorization": f"Bearer {toks['analyst-1']}"}
    with TestClient(create_app(ApiSettings(store=store))) as c:
        r = c.get("/api/vessels?limit=1", headers=auth)
    assert r.status_code == 200, r.text
    assert [(v["mmsi"], v["alert_id"]) for v in r.json()["items"]] == [(219_000_002, "v-b")]


def test_name_only_watchlist_key_with_a_space_can_be_deleted(
    client: TestClient, seeded: Seeded
) -> None:
    assert _import(client, seeded, LOCAL_HEADER + ",,Eagle S,,x,y\n").status_code == 200
    auth = seeded.auth("ops-admin")
    keys = [e["key"] for e in client.get("/api/watchlist", headers=auth).json()["items"]]
    assert keys == ["name:EAGLE S"]
    assert client.delete("/api/watchlist/name:EAGLE%20S", headers=auth).status_code == 204
    assert client.get("/api/watchlist", headers=auth).json()["items"] == []
    assert client.delete("/api/watchlist/name:EAGLE%20S", headers=auth).status_code == 404
    assert client.delete("/api/watchlist/name:%20EAGLE", headers=auth).status_code == 422


@pytest.mark.parametrize(
    "csv",
    [
        '"imo","mmsi","name","flag","source","reason"\n' + EAGLE_ROW,  # quoted header
        "  # an indented comment\n" + LOCAL_HEADER + EAGLE_ROW,
    ],
)
def test_import_uses_read_watchlists_header_rule(
    client: TestClient, seeded: Seeded, csv: str
) -> None:
    r = _import(client, seeded, csv)
    assert r.status_code == 200, r.text
    assert (r.json()["format"], r.json()["accepted"]) == ("local", 1)


def test_unrecognised_header_is_422_without_the_server_temp_path(
    client: TestClient, seeded: Seeded
) -> None:
    r = _import(client, seeded, "a,b,c\n1,2,3\n")
    assert r.status_code == 422
    assert "unrecognised header" in r.text
    assert "seawarden-wl-" not in r.text
