"""The HTTP API on a PostgreSQL store: the same answers as on SQLite, for the same replay.

One replay of simulated incidents over real Baltic traffic, once into a SQLite file and
once into a PostgreSQL schema (tests/api/twostores.py: made once per session, shared with
test_report_api_pg.py). The API is then asked the same questions on both stores and the
answers compared: alert pages and cursors, details,
what allies may see, the vessel picture, dossiers and tracks, the outbox. The writes
(tokens, operator actions, cancels, retries) run on both and must leave the same state.

PostgreSQL comes from ``.venv/seawarden-test-pg.dsn`` or ``SEAWARDEN_TEST_PG_DSN``, as in
tests/store/conftest.py; without one these tests skip (in CI they fail).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx2
import pytest
from fastapi.testclient import TestClient

from seawarden.alerts.releasability import releasable
from seawarden.alerts.subscriptions import load_subscriptions
from seawarden.api import ApiSettings, create_app, db, tokens, vessels
from seawarden.api.db import StoreTarget
from seawarden.cli import app
from tests.api.conftest import T0, make_alert, seed_alerts
from tests.api.serving import seawarden_server
from tests.api.twostores import (
    BACKENDS,
    DNK_AREAS,
    SUBSCRIPTIONS,
    TOKENS,
    Api,
    Replayed,
    add_tokens,
    cli,
    pg_schema,
    runner,
)
from tests.conftest import REPO

# under pytest-xdist on the same worker as its sibling module (SHARED_SCOPES, tests/conftest.py)
pytestmark = pytest.mark.slow


@pytest.fixture
def pg_dsn() -> Iterator[str]:
    with pg_schema() as dsn:
        yield dsn


@pytest.fixture
def replayed(two_stores: Replayed) -> Replayed:
    """The session's replay (tests/api/twostores.py), shared with test_report_api_pg.py."""
    return two_stores


@pytest.fixture
def api(two_store_api: Api) -> Api:
    return two_store_api


def _all_pages(api: Api, backend: str, who: str, **params: Any) -> list[dict[str, Any]]:
    pages: list[dict[str, Any]] = []
    cursor = None
    while True:
        q = {**params, **({"cursor": cursor} if cursor else {})}
        r = api.call(backend, "GET", who, "/api/alerts", params=q)
        assert r.status_code == 200, r.text
        pages.append(r.json())
        cursor = pages[-1]["next_cursor"]
        if cursor is None:
            return pages


def _audit(api: Api, backend: str) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    after: int | None = 0
    while after is not None:
        r = api.call(backend, "GET", "ops-admin", "/api/audit", params={"after": after})
        assert r.status_code == 200, r.text
        entries += r.json()["items"]
        after = r.json()["next_after"]
    return entries


def _stored(target: StoreTarget) -> dict[str, list[dict[str, Any]]]:
    from seawarden.store import open_store

    s = open_store(target)
    by_id: dict[str, list[dict[str, Any]]] = {}
    for body in s.alerts():
        by_id.setdefault(body["id"], []).append(body)
    s.close()
    for revs in by_id.values():
        revs.sort(key=lambda b: b["revision"])
    return by_id


# -- the tests ------------------------------------------------------------------------------------


def test_the_api_tables_come_with_the_newest_migration(replayed: Replayed) -> None:
    import psycopg

    with psycopg.connect(str(replayed.targets["postgres"])) as conn:
        (rev,) = conn.execute("SELECT version_num FROM alembic_version").fetchone() or ("",)
        names = {
            r[0]
            for r in conn.execute(
                "SELECT table_name FROM information_schema.tables"
                " WHERE table_schema = current_schema()"
            )
        }
    assert rev == "0004"
    assert {"tokens", "alert_actions", "api_areas", "api_watchlist"} <= names


def test_alert_pages_and_cursors_are_the_same_on_both_stores(api: Api) -> None:
    stored = _stored(api.replayed.targets["postgres"])
    assert len(stored) >= 3, "the simulated incidents raise several alerts"
    assert stored == _stored(api.replayed.targets["sqlite"])
    pages = {b: _all_pages(api, b, "analyst", limit=2) for b in BACKENDS}
    assert len(pages["postgres"]) >= 2, "paged"
    assert pages["postgres"] == pages["sqlite"]
    items = [i for p in pages["postgres"] for i in p["items"]]
    assert {i["alert"]["id"] for i in items} == set(stored)
    assert len(items) == len(stored)  # no alert twice, none skipped
    for i in items:
        assert i["alert"] == stored[i["alert"]["id"]][-1]
    first = items[0]["alert"]
    api.same("analyst", "/api/alerts", severity="high")
    api.same("analyst", "/api/alerts", mmsi=first["mmsi"])
    api.same("analyst", "/api/alerts", since=items[len(items) // 2]["alert"]["event_time"])
    for alert_id in stored:
        api.same("analyst", f"/api/alerts/{alert_id}")
    # Any <time>~<id> is a position (SQLite compares the text): a hand-made cursor lands on
    # the same page on PostgreSQL, whether or not its time is one the store writes.
    mid = items[len(items) // 2]["alert"]
    t = mid["event_time"].replace("Z", "+00:00")  # as the store holds it
    for cursor in (f"{t}~{mid['id']}", f"{t}~0", f"{t[:16]}~{mid['id']}", f"{mid['event_time']}~x",
                   f"{t.replace('T', ' ')}~{mid['id']}", "99~x", "~0", "2~a", "Z~z"):  # fmt: skip
        api.same("analyst", "/api/alerts", cursor=cursor, limit=5)
        api.same("dnk", "/api/alerts", cursor=cursor, limit=5)


def test_allies_see_only_what_is_releasable_to_them_on_postgres(api: Api) -> None:
    stored = _stored(api.replayed.targets["postgres"])
    mine = set(DNK_AREAS)

    def about_mine(revs: list[dict[str, Any]]) -> bool:
        areas = {a for r in revs for a in r["area_ids"]}
        areas |= {r["next_crossing"]["area_id"] for r in revs if r["next_crossing"]}
        return bool(areas & mine)

    dnk = {
        i for i, revs in stored.items()
        if releasable(revs[-1]["releasability"], frozenset({"DNK"})) and about_mine(revs)
    }  # fmt: skip
    usa = {i for i, r in stored.items() if releasable(r[-1]["releasability"], frozenset({"USA"}))}
    assert dnk, "some simulated incident is on a Danish-watched corridor"
    for who, expected in (("dnk", dnk), ("usa", usa)):
        shown = {
            b: [i["alert"]["id"] for p in _all_pages(api, b, who, limit=2) for i in p["items"]]
            for b in BACKENDS
        }
        assert set(shown["postgres"]) == expected, who
        assert shown["postgres"] == shown["sqlite"], who
    for alert_id in stored:
        for b in BACKENDS:
            r = api.call(b, "GET", "dnk", f"/api/alerts/{alert_id}")
            assert r.status_code == (200 if alert_id in dnk else 404), (b, alert_id)
    # staff-only reads stay staff-only
    assert api.call("postgres", "GET", "dnk", "/api/vessels").status_code == 403
    assert api.call("postgres", "GET", "dnk", "/api/deliveries").status_code == 403
    assert api.call("postgres", "GET", "analyst", "/api/audit").status_code == 403


def test_ally_cursor_reveals_no_hidden_alert_on_postgres(pg_dsn: str) -> None:
    """tests/api/test_ally_leaks.py on PostgreSQL: a page cut short by the scan budget among
    hidden alerts hands back an opaque handle, never a hidden alert's id and time."""
    from seawarden.store.postgres import PostgresStore

    visible = make_alert("visible-old", releasability="REL JEF", area_ids=("baltic-pipe",),
                         next_crossing=None, event_time=T0 - timedelta(days=1))  # fmt: skip
    hidden = [
        make_alert(f"hidden-{i:03d}", releasability="REL GBR", area_ids=("baltic-pipe",),
                   next_crossing=None, mmsi=100_000_000 + i, event_time=T0 + timedelta(seconds=i))
        for i in range(150)
    ]  # fmt: skip
    # a revision the ally may not read does not make an alert visible either
    narrowed = make_alert("narrowed", releasability="REL GBR", area_ids=("baltic-pipe",),
                          next_crossing=None, event_time=T0 - timedelta(days=2))  # fmt: skip
    s = PostgresStore(pg_dsn)
    later = replace(narrowed, revision=2, releasability="REL JEF", area_ids=())
    s.write_alerts([visible, *hidden, narrowed, later])
    s.close()
    db.ensure_schema(pg_dsn)
    with db.connection(pg_dsn) as c:
        tok, _ = tokens.create(
            c, name="dnk", role="ally", nation="DNK", areas=("baltic-pipe",), actor="test"
        )
    auth = {"Authorization": f"Bearer {tok}"}
    with TestClient(create_app(ApiSettings(store=pg_dsn, max_scan=100))) as client:
        page = client.get("/api/alerts", headers=auth, params={"limit": 1}).json()
        assert page["items"] == []
        cursor = page["next_cursor"]
        assert cursor, "the scan budget ran out: the client must be able to go on"
        assert "hidden" not in cursor
        assert "T" not in cursor
        rest = client.get("/api/alerts", headers=auth, params={"limit": 1, "cursor": cursor})
        assert rest.status_code == 200, rest.text
        assert [i["alert"]["id"] for i in rest.json()["items"]] == ["visible-old"]
        nxt = rest.json()["next_cursor"]
        if nxt is not None:
            more = client.get("/api/alerts", headers=auth, params={"cursor": nxt}).json()
            assert [i["alert"]["id"] for i in more["items"]] == []
        assert client.get("/api/alerts/hidden-000", headers=auth).status_code == 404
        assert client.get("/api/alerts/narrowed", headers=auth).status_code == 404
        forged = client.get("/api/alerts", headers=auth, params={"cursor": "~s." + "0" * 32})
        assert forged.status_code == 422


def test_vessels_dossiers_and_tracks_are_the_same_on_both_stores(api: Api) -> None:
    listed = api.same("analyst", "/api/vessels")["items"]
    assert len(listed) > 20, "the Baltic background has many vessels"
    lons = sorted(v["lon"] for v in listed)
    lats = sorted(v["lat"] for v in listed)
    lon, lat = round(lons[len(lons) // 2], 3), round(lats[len(lats) // 2], 3)  # a busy spot
    box = (lon - 1.0, lat - 0.5, lon + 1.0, lat + 0.5)
    inside = api.same("analyst", "/api/vessels", bbox=",".join(f"{x:.3f}" for x in box))
    assert 0 < len(inside["items"]) < len(listed)
    for v in inside["items"]:
        assert box[0] <= v["lon"] <= box[2]
        assert box[1] <= v["lat"] <= box[3]
    api.same("analyst", "/api/vessels", bbox="19.0,54.0,19.0,54.0")  # a point: empty, no error
    api.same("analyst", "/api/vessels", bbox="-180,-90,180,90")  # the world: a plain scan
    for edge in ("179.995,60,180,60.5", "10,89.99,11,90", "-180,-90,-179,-89"):  # no wrap-around
        api.same("analyst", "/api/vessels", bbox=edge)
    for v in listed[:6]:
        dossier = api.same("analyst", f"/api/vessels/{v['mmsi']}")
        assert dossier["mmsi"] == v["mmsi"]
        track = api.same("analyst", f"/api/vessels/{v['mmsi']}/track")["items"]
        assert track, "the replay stored positions"
        mid = track[len(track) // 2]["time"]
        part = api.same("analyst", f"/api/vessels/{v['mmsi']}/track", start=track[0]["time"],
                        end=mid)["items"]  # fmt: skip
        assert part == track[: len(part)]
        assert part[-1]["time"] == mid
    r = api.call("postgres", "GET", "analyst", "/api/vessels/1")
    assert r.status_code == 404


def test_the_bbox_read_runs_on_the_gist_index(replayed: Replayed) -> None:
    with db.connection(replayed.targets["postgres"]) as conn:
        where, args = vessels._bbox_filter(conn, (19.0, 54.0, 21.5, 56.5))
        assert "ST_Intersects" in where
        conn.execute("BEGIN")  # SET LOCAL: nothing stays on a connection kept for reuse
        conn.execute("SET LOCAL enable_seqscan = off")  # a small table: make the plan honest
        plan = "\n".join(
            r[0] for r in conn.execute(f"EXPLAIN SELECT mmsi FROM vessels WHERE {where}", args)
        )
        conn.execute("ROLLBACK")
    assert "vessels_geog" in plan, plan


def test_deliveries_and_retry_on_the_postgres_outbox(api: Api) -> None:
    keys = ("delivery_id", "alert_id", "revision", "subscription_id", "channel", "payload_bytes")
    rows: dict[str, list[dict[str, Any]]] = {}
    for b in BACKENDS:
        seen: list[dict[str, Any]] = []
        cursor = None
        while True:
            params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
            r = api.call(b, "GET", "analyst", "/api/deliveries", params=params)
            assert r.status_code == 200, r.text
            seen += r.json()["items"]
            cursor = r.json()["next_cursor"]
            if cursor is None:
                break
        rows[b] = seen
    pg, lite = rows["postgres"], rows["sqlite"]
    assert len(pg) >= 2, "the DNK subscription was sent alerts"
    assert len({d["delivery_id"] for d in pg}) == len(pg)  # paging: none twice
    assert pg == sorted(pg, key=lambda d: (d["created"], d["delivery_id"]), reverse=True)

    def key(d: dict[str, Any]) -> tuple[Any, ...]:
        return tuple(d[k] for k in keys)

    # the same rows (ids are idempotency keys); their status depends on delivery timing
    assert sorted(map(key, pg)) == sorted(map(key, lite))
    assert {d["status"] for d in pg} <= {"dead", "pending"}
    for d in pg:
        assert d["created"].endswith("Z")
        assert len(d["created"]) == 27  # the outbox's fixed-width text, as on SQLite
    # Any <time>~<id> is a position, compared as SQLite compares it (text, byte-wise): the
    # page after it on PostgreSQL is what that rule picks from the full listing.
    for d in (pg[0], pg[len(pg) // 2]):
        did, at = d["delivery_id"], d["created"]
        for cursor in (f"{at}~{did}", f"{at[:19]}~0", f"{at.replace('Z', '+00:00')}~{did}", "~0"):
            ct, _, cid = cursor.partition("~")
            want = [x["delivery_id"] for x in pg if (x["created"], x["delivery_id"]) < (ct, cid)]
            r = api.call("postgres", "GET", "analyst", "/api/deliveries",
                         params={"cursor": cursor, "limit": 5})  # fmt: skip
            assert [x["delivery_id"] for x in r.json()["items"]] == want[:5], cursor
    dead = [d for d in pg if d["status"] == "dead"]
    metrics = api.call("postgres", "GET", "analyst", "/metrics").text
    assert f'seawarden_deliveries{{status="dead"}} {float(len(dead))}' in metrics
    statuses = {b: {d["delivery_id"]: d["status"] for d in rows[b]} for b in BACKENDS}
    # an admin puts one dead letter back, on both stores: the same row, audited
    did = next(d for d, st in statuses["postgres"].items() if st == statuses["sqlite"][d] == "dead")
    assert (
        api.call("postgres", "POST", "analyst", f"/api/deliveries/{did}/retry").status_code == 403
    )
    again = {}
    for b in BACKENDS:
        r = api.call(b, "POST", "ops-admin", f"/api/deliveries/{did}/retry")
        assert r.status_code == 200, (b, r.text)
        again[b] = r.json()
        assert (again[b]["status"], again[b]["attempts"]) == ("pending", 0)
        twice = api.call(b, "POST", "ops-admin", f"/api/deliveries/{did}/retry")
        assert twice.status_code == 409
        [entry] = [e for e in _audit(api, b) if e["target"] == f"delivery:{did}"
                   and e["action"] == "delivery.requeue"]  # fmt: skip
        assert entry["actor"] == "token:ops-admin"
        assert entry["detail"] == {"previous_status": "dead", "previous_attempts": 1}
    assert key(again["postgres"]) == key(again["sqlite"])
    assert (
        api.call("postgres", "POST", "ops-admin", "/api/deliveries/nope/retry").status_code == 404
    )


# -- writes on two small stores: the conftest's alerts through each store's write path -----------


@pytest.fixture
def pair(tmp_path: Path, pg_dsn: str) -> Iterator[Api]:
    from seawarden.store import open_store

    subs_file = tmp_path / "subs.yaml"
    subs_file.write_text(SUBSCRIPTIONS)
    subs = {s.id: s for s in load_subscriptions(subs_file)}
    targets: dict[str, StoreTarget] = {"sqlite": tmp_path / "w.db", "postgres": pg_dsn}
    clients = {}
    for b, target in targets.items():
        s = open_store(target)
        s.write_alerts(seed_alerts())
        s.close()
        db.ensure_schema(target)
        clients[b] = TestClient(
            create_app(ApiSettings(store=target, subscriptions=subs)),
            raise_server_exceptions=False,
        )
    secrets = {b: add_tokens(t) for b, t in targets.items()}
    yield Api(Replayed(targets, secrets, subs_file, tmp_path), clients)
    for c in clients.values():
        c.close()


_WALL_TIMES = ("time", "created", "revoked", "updated")


def _without_times(value: Any) -> Any:
    """An answer with its wall-clock times (when an operator acted) reduced to "set or not"."""
    if isinstance(value, dict):
        return {
            k: (v is not None) if k in _WALL_TIMES or k.endswith("_at") else _without_times(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_without_times(v) for v in value]
    return value


def test_operator_actions_and_cancel_leave_the_same_state(pair: Api) -> None:
    steps: list[tuple[str, str, dict[str, Any], int]] = [
        ("analyst", "/api/alerts/a-jef-in/ack", {}, 200),
        ("analyst", "/api/alerts/a-jef-in/assign", {"json": {"to": "watch-2"}}, 200),
        ("ops-admin", "/api/alerts/a-jef-in/close", {"json": {"reason": "fishing"}}, 200),
        ("analyst", "/api/alerts/a-jef-in/ack", {}, 409),  # closed: no further actions
        ("dnk", "/api/alerts/a-gbrnor/ack", {}, 403),  # allies are read-only
        ("analyst", "/api/alerts/no-such/ack", {}, 404),
        ("analyst", "/api/alerts/a-narrowed/cancel", {"json": {"reason": "false alarm"}}, 200),
        ("analyst", "/api/alerts/a-narrowed/cancel", {"json": {"reason": "again"}}, 409),
    ]
    for who, url, kw, want in steps:
        got = {}
        for b in BACKENDS:
            r = pair.call(b, "POST", who, url, **kw)
            assert r.status_code == want, (b, url, r.text)
            got[b] = _without_times(r.json())
        assert got["postgres"] == got["sqlite"], url
    details = pair.get("analyst", "/api/alerts/a-narrowed")
    assert _without_times(details["postgres"]) == _without_times(details["sqlite"])
    revisions = details["postgres"]["revisions"]
    assert [r["msg_type"] for r in revisions] == ["Alert", "Update", "Cancel"]
    feed = pair.get("analyst", "/api/alerts", limit=100)
    assert _without_times(feed["postgres"]) == _without_times(feed["sqlite"])
    audits = pair.get("ops-admin", "/api/audit", limit=500)
    assert _without_times(audits["postgres"]["items"]) == _without_times(audits["sqlite"]["items"])
    actions = [e["action"] for e in audits["postgres"]["items"]]
    assert actions.count("token.create") == len(TOKENS)
    assert {"alert.ack", "alert.assign", "alert.close", "alert.cancel"} <= set(actions)


SQUARE = {
    "type": "Feature",
    "geometry": {
        "type": "Polygon",
        "coordinates": [[[-1.4, 50.7], [-1.2, 50.7], [-1.2, 50.8], [-1.4, 50.8], [-1.4, 50.7]]],
    },
    "properties": {"name": "Spithead test box", "kind": "zone", "depth_m": 12.50},
}


def test_areas_watchlist_and_tokens_managed_over_the_api_match(pair: Api) -> None:
    csv = (REPO / "config/watchlist.csv").read_bytes()
    steps: list[tuple[str, str, str, dict[str, Any], int]] = [
        ("PUT", "ops-admin", "/api/areas/spithead-box", {"json": SQUARE}, 201),
        ("PUT", "ops-admin", "/api/areas/nab-box", {"json": SQUARE}, 201),
        ("PUT", "ops-admin", "/api/areas/spithead-box", {"json": SQUARE}, 200),  # keeps place
        ("DELETE", "ops-admin", "/api/areas/nab-box", {}, 204),
        ("DELETE", "ops-admin", "/api/areas/nab-box", {}, 404),
        ("PUT", "analyst", "/api/areas/x", {"json": SQUARE}, 403),
        ("PUT", "ops-admin", "/api/watchlist/9329760",
         {"json": {"mmsis": [518998865], "name": "Eagle S", "flag": "CK"}}, 200),
        ("POST", "ops-admin", "/api/watchlist/import",
         {"content": csv, "headers": {"content-type": "text/csv"}}, 200),
        ("DELETE", "ops-admin", "/api/watchlist/9329760", {}, 204),
        ("POST", "ops-admin", "/api/tokens",
         {"json": {"name": "est-moc", "role": "ally", "nation": "EST", "areas": ["estlink-2"]}},
         201),
        ("POST", "ops-admin", "/api/tokens", {"json": {"name": "est-moc", "role": "admin"}}, 409),
        ("POST", "ops-admin", "/api/tokens/est-moc/revoke", {}, 200),
        ("POST", "ops-admin", "/api/tokens/nobody/revoke", {}, 404),
    ]  # fmt: skip
    for method, who, url, kw, want in steps:
        got = {}
        for b in BACKENDS:
            extra = kw.pop("headers", None) or {}
            r = pair.clients[b].request(method, url, headers=pair.auth(b, who) | extra, **kw)
            if extra:
                kw["headers"] = extra
            assert r.status_code == want, (b, method, url, r.text)
            body = r.json() if r.content else None
            if isinstance(body, dict):
                body.pop("token", None)  # a new secret on each store
            got[b] = _without_times(body)
        assert got["postgres"] == got["sqlite"], (method, url)
    areas = pair.same("analyst", "/api/areas")
    assert [f["properties"]["id"] for f in areas["features"]] == ["spithead-box"]
    assert areas["features"][0] == {**SQUARE, "properties": {**SQUARE["properties"],
                                                              "id": "spithead-box"}}  # fmt: skip
    listed = pair.same("analyst", "/api/watchlist")
    assert listed["items"], "the imported list"
    tokens_now = pair.get("ops-admin", "/api/tokens")
    assert _without_times(tokens_now["postgres"]) == _without_times(tokens_now["sqlite"])
    [est] = [t for t in tokens_now["postgres"] if t["name"] == "est-moc"]
    assert est["revoked"] is not None
    # the evidence report is served from PostgreSQL too (test_report_api_pg compares it)
    r = pair.call("postgres", "GET", "analyst", "/api/alerts/a-jef-in/report.html")
    assert r.status_code == 200, r.text


def test_token_commands_on_postgres_keep_only_the_digest(pg_dsn: str) -> None:
    import psycopg

    cli("token", "create", "--store", pg_dsn, "--name", "ops-admin", "--role", "admin")
    secret = cli("token", "create", "--store", pg_dsn, "--name", "dnk-moc", "--role", "ally",
                 "--nation", "DNK", "--areas", "baltic-pipe").strip()  # fmt: skip
    assert tokens.TOKEN_RE.match(secret)
    listed = cli("token", "list", "--store", pg_dsn)
    assert "dnk-moc" in listed
    assert secret not in listed
    with psycopg.connect(pg_dsn) as conn:
        rows = conn.execute("SELECT * FROM tokens").fetchall()
        (digest,) = conn.execute("SELECT token_hash FROM tokens WHERE name = 'dnk-moc'").fetchone()
    assert digest == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in repr(rows)
    auth = {"Authorization": f"Bearer {secret}"}
    with TestClient(create_app(ApiSettings(store=pg_dsn))) as client:
        me = client.get("/api/me", headers=auth)
        assert me.status_code == 200, me.text
        assert me.json() == {"name": "dnk-moc", "role": "ally", "nation": "DNK",
                             "areas": ["baltic-pipe"]}  # fmt: skip
        cli("token", "revoke", "--store", pg_dsn, "dnk-moc")
        assert client.get("/api/me", headers=auth).status_code == 401
    dup = runner.invoke(app, ["token", "create", "--store", pg_dsn, "--name", "dnk-moc",
                              "--role", "analyst"])  # fmt: skip
    assert dup.exit_code != 0
    assert "already exists" in str(dup.exception)


def test_token_list_refuses_a_database_without_a_store(pg_dsn: str) -> None:
    r = runner.invoke(app, ["token", "list", "--store", pg_dsn])
    assert r.exit_code != 0
    assert "no such store" in str(r.exception)


def test_serve_on_postgres_answers_http_and_writes_the_feed_there(pg_dsn: str) -> None:
    """`seawarden serve --store postgresql://… --replay FILE` as a real process: the API
    answers over loopback HTTP and the pipeline writes the replayed feed into PostgreSQL."""
    import psycopg

    secret = cli("token", "create", "--store", pg_dsn, "--name", "ops", "--role", "admin").strip()
    sample = REPO / "tests/data/dma_aisdk_sample.csv"
    with seawarden_server(
        "serve", "--store", pg_dsn, "--port", "0", "--replay", sample, "--speed", "100000"
    ) as served:  # fmt: skip
        headers = {"Authorization": f"Bearer {secret}"}
        with httpx2.Client(base_url=served.url, timeout=5) as http:
            assert http.get("/api/health").json() == {"status": "ok", "store": "ok"}
            assert http.get("/api/me", headers=headers).json()["name"] == "ops"
            assert http.get("/api/alerts", headers=headers).status_code == 200
            assert http.get("/api/alerts").status_code == 401

            def stored() -> int:
                with psycopg.connect(pg_dsn) as conn:
                    (n,) = conn.execute(
                        "SELECT count(*) FROM vessels WHERE mmsi = 219012345"
                    ).fetchone() or (0,)
                return int(n)

            _wait(lambda: stored() == 1, timeout_s=30)  # NORDIC TRADER, from the sample
            track = http.get("/api/vessels/219012345/track", headers=headers)
            assert track.status_code == 200, track.text
            assert track.json()["items"]
            assert http.get("/", headers=headers).status_code == 200  # the console
    assert served.returncode == 0, served.stderr
    redacted = f"(store {db.display_name(pg_dsn)})"  # no options, no password
    assert redacted in served.stderr.replace("\n", "")


def _wait(cond: Callable[[], bool], *, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not cond():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)  # pacing the poll only


def test_kept_connections_are_reused_and_checked_first(pg_dsn: str) -> None:
    """A request's connection is kept for the next; one the server has ended meanwhile (a
    restart, ``idle_session_timeout``) is replaced, not handed out broken."""
    import psycopg

    from seawarden.store import open_store

    open_store(pg_dsn).close()

    def backend() -> int:
        with db.connection(pg_dsn) as conn:
            return int(conn.execute("SELECT pg_backend_pid()").fetchone()[0])

    first = backend()
    assert backend() == first  # reused
    with psycopg.connect(pg_dsn, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (first,))
    replaced = backend()
    assert replaced != first

    def failing_request() -> None:
        with db.connection(pg_dsn) as conn:
            db.begin(conn)
            conn.execute("INSERT INTO alert_actions (alert_id, time, actor, action, detail)"
                         " VALUES ('x', now(), 'test', 'ack', '{}')")  # fmt: skip
            raise RuntimeError("the request failed")

    # a request that fails inside its transaction leaves nothing behind for the next one
    with pytest.raises(RuntimeError):
        failing_request()
    with db.connection(pg_dsn) as conn:
        assert int(conn.execute("SELECT pg_backend_pid()").fetchone()[0]) == replaced
        assert not conn.in_transaction
        assert conn.execute("SELECT count(*) FROM alert_actions").fetchone()[0] == 0
    db.close_idle()


def test_a_write_waiting_past_the_busy_timeout_is_a_503_as_on_sqlite(pair: Api) -> None:
    """Another writer holds the API's write lock (as the pipeline's batch holds SQLite's):
    the request waits ``busy_timeout_ms``, then answers 503 with Retry-After, and writes
    nothing; once the lock is free the same request succeeds."""
    import psycopg

    dsn = str(pair.replayed.targets["postgres"])
    app_ = create_app(ApiSettings(store=dsn, busy_timeout_ms=300))
    auth = pair.auth("postgres", "analyst")
    with TestClient(app_, raise_server_exceptions=False) as client:
        with psycopg.connect(dsn) as holder:  # a transaction holding the lock
            holder.execute("SELECT pg_advisory_xact_lock(%s)", (db._WRITE_LOCK,))
            r = client.post("/api/alerts/a-jef-in/ack", headers=auth)
            assert r.status_code == 503, r.text
            assert r.headers["Retry-After"] == "1"
        r = client.post("/api/alerts/a-jef-in/ack", headers=auth)
        assert r.status_code == 200, r.text
        acks = [a for a in r.json()["actions"] if a["action"] == "ack"]
        assert len(acks) == 1


def test_run_demo_takes_a_postgres_dsn(pg_dsn: str, tmp_path: Path) -> None:
    """`seawarden run --demo --store postgresql://…` (it took a file path only, and made a
    SQLite file of the DSN's text): the demo serves and its pipeline writes PostgreSQL."""
    import psycopg

    with seawarden_server(
        "run", "--demo", "--store", pg_dsn, "--port", "0", "--no-open",
        "--speed", "2000", "--duration-s", "120",
        cwd=tmp_path, start_timeout_s=120, stop_timeout_s=30,  # the first demo builds its feed
    ) as served:  # fmt: skip
        headers = {"Authorization": f"Bearer {tokens.DEMO_ADMIN_TOKEN}"}
        with httpx2.Client(base_url=served.url, timeout=5) as http:
            assert http.get("/api/health").json() == {"status": "ok", "store": "ok"}
            assert http.get("/api/me", headers=headers).json()["role"] == "admin"

            def stored() -> int:
                with psycopg.connect(pg_dsn) as conn:
                    (n,) = conn.execute("SELECT count(*) FROM vessels").fetchone() or (0,)
                return int(n)

            _wait(lambda: stored() > 0, timeout_s=60)
            page = http.get("/api/vessels", headers=headers)
            assert page.status_code == 200, page.text
            assert page.json()["items"]
    assert served.returncode == 0, served.stderr
    assert f"(store {db.display_name(pg_dsn)})" in served.stderr.replace("\n", "")
    assert list(tmp_path.iterdir()) == []  # no SQLite file named after the DSN
