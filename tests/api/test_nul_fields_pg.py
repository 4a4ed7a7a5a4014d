"""A NUL character (U+0000) in a free-text request field: the same clear 422 on both stores.

PostgreSQL's ``text`` cannot hold NUL and its ``jsonb`` refuses the ``\\u0000`` escape, so a
close reason, a cancel reason or an area's name with one in it used to be an HTTP 500 on
PostgreSQL where SQLite stored it. The request schemas now refuse NUL in every free-text
field (a 422 naming the field, nothing written, on either store), other control characters
still pass, and the PostgreSQL write path of ``alert_actions``/``audit`` stores a NUL that
reaches it any other way as U+FFFD instead of failing.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from seawarden.api import ApiSettings, cancel, create_app, db, managed, queries, tokens
from seawarden.api.db import StoreTarget
from seawarden.api.principal import Principal
from seawarden.store import audit, open_store
from tests.api.conftest import seed_alerts
from tests.api.test_api_pg import pg_schema

pytestmark = pytest.mark.slow

SQUARE = {"type": "Polygon", "coordinates": [[[20, 55], [21, 55], [21, 56], [20, 56], [20, 55]]]}
WHO = Principal(name="op", role="analyst", nation=None, areas=None)


def _area(**props: Any) -> dict[str, Any]:
    return {"type": "Feature", "properties": {"name": "Zone", "kind": "cable", **props},
            "geometry": SQUARE}  # fmt: skip


# (method, url, body, where the 422 says the NUL is)
NUL_CALLS: list[tuple[str, str, dict[str, Any], str]] = [
    ("POST", "/api/alerts/a-jef-in/close", {"reason": "false\x00alarm"}, "body.reason"),
    ("POST", "/api/alerts/a-jef-out/cancel", {"reason": "dup\x00licate"}, "body.reason"),
    (
        "PUT",
        "/api/watchlist/9329760",
        {"name": "EAGLE S", "reason": "sanc\x00tioned"},
        "body.reason",
    ),
    ("PUT", "/api/watchlist/9329760", {"name": "EAGLE\x00S"}, "body.name"),
    ("PUT", "/api/watchlist/9329760", {"former_names": ["OK", "BAD\x00"]}, "body.former_names.1"),
    ("PUT", "/api/areas/zone-1", _area(name="Zo\x00ne"), "properties.name"),
    ("PUT", "/api/areas/zone-1", _area(notes={"k\x00": 1}), "properties.notes.k\\u0000"),
    ("PUT", "/api/areas/zone-1", _area(owners=["a", "b\x00"]), "properties.owners[1]"),
    (
        "POST",
        "/api/tokens",
        {"name": "x", "role": "ally", "nation": "DNK", "areas": ["nord\x00stream"]},
        "body.areas.0",
    ),
]


@dataclass(frozen=True)
class Store:
    backend: str
    target: StoreTarget
    admin: str  # an admin token's secret

    def client(self) -> TestClient:
        return TestClient(create_app(ApiSettings(store=self.target)), raise_server_exceptions=False)

    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.admin}"}


def _build(backend: str, target: StoreTarget) -> Store:
    s = open_store(target)
    s.write_alerts(seed_alerts())
    s.close()
    db.ensure_schema(target)
    with db.connection(target) as conn:
        secret, _ = tokens.create(conn, name="adm", role="admin", actor="test")
    return Store(backend, target, secret)


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        yield _build("sqlite", tmp_path / "s.db")
        return
    with pg_schema() as dsn:
        try:
            yield _build("postgres", dsn)
        finally:
            db.close_idle()


def _rows(target: StoreTarget, sql: str) -> list[Any]:
    with db.connection(target) as conn:
        return list(conn.execute(sql).fetchall())


def test_nul_in_a_free_text_field_is_a_422_naming_it_and_writes_nothing(store: Store) -> None:
    before = _rows(store.target, "SELECT action, target FROM audit ORDER BY seq")
    with store.client() as cl:
        for method, url, body, field in NUL_CALLS:
            r = cl.request(method, url, json=body, headers=store.auth())
            assert r.status_code == 422, (store.backend, url, body, r.status_code, r.text)
            got = r.json()
            assert got["error"] == "invalid_request"
            assert "NUL character (U+0000)" in got["message"], got
            assert field in got["message"], (field, got)
    assert _rows(store.target, "SELECT action, target FROM audit ORDER BY seq") == before
    assert _rows(store.target, "SELECT * FROM alert_actions") == []
    assert _rows(store.target, "SELECT id FROM api_areas WHERE id = 'zone-1'") == []
    assert _rows(store.target, "SELECT key FROM api_watchlist WHERE key = 'imo:9329760'") == []
    assert _rows(store.target, "SELECT name FROM tokens WHERE name = 'x'") == []


def test_other_control_characters_pass_and_round_trip(store: Store) -> None:
    """Only NUL is refused: a tab, a newline or U+0001 is text both stores hold."""
    reason = "line one\nline\ttwo \x01 \x7f end"
    with store.client() as cl:
        r = cl.post("/api/alerts/a-jef-in/close", json={"reason": reason}, headers=store.auth())
        assert r.status_code == 200, r.text
        assert r.json()["operator"]["close_reason"] == reason
        r = cl.post("/api/alerts/a-jef-out/cancel", json={"reason": reason}, headers=store.auth())
        assert r.status_code == 200, r.text
        assert r.json()["operator"]["cancel_reason"] == reason
        r = cl.put("/api/areas/zone-1", json=_area(name="Zo\x01ne"), headers=store.auth())
        assert r.status_code == 201, r.text
        assert r.json()["properties"]["name"] == "Zo\x01ne"
        r = cl.get("/api/audit", headers=store.auth())
        assert r.status_code == 200, r.text
        put = [e["detail"]["name"] for e in r.json()["items"] if e["action"] == "area.put"]
        assert put == ["Zo\x01ne"]


def test_the_store_write_path_stores_nul_as_replacement_character(store: Store) -> None:
    """Defence in depth below the schemas: actions, cancels, area and audit writes that carry
    NUL (from a caller other than the HTTP bodies) do not fail; PostgreSQL keeps U+FFFD
    where SQLite keeps the NUL itself."""
    kept = "\x00" if store.backend == "sqlite" else "\ufffd"
    with db.connection(store.target) as conn:
        assert queries.act(conn, "a-jef-in", WHO, "close", {"reason": "a\x00b"})
        done = cancel.cancel_in_store(conn, "a-jef-out", WHO, "c\x00d", [])
        assert done is not None
        assert done.revision == 2
        managed.ensure_schema(conn)  # SQLite: the app creates api_areas at start
        managed.put_area(conn, "zone-1", _area(name="Zo\x00ne"), "token:adm")
        audit.record_many(conn, [("cli:x\x00y", "test.nul", "t:\x00", {"k\x00": ["\x00"]})])
        conn.execute("BEGIN")
        audit.record(conn, actor="cli:z", action="test.nul", target="t:1", detail={"v": "\\\x00"})
        conn.execute("COMMIT")
        actions = conn.execute(
            "SELECT alert_id, action, detail FROM alert_actions ORDER BY seq"
        ).fetchall()
        assert [(a, act, orjson.loads(d)["reason"]) for a, act, d in actions] == [
            ("a-jef-in", "close", f"a{kept}b"),
            ("a-jef-out", "cancel", f"c{kept}d"),
        ]
        entries = audit.entries(conn)
    details = {e.action: e for e in entries}
    assert details["alert.close"].detail == {"reason": f"a{kept}b"}
    assert details["alert.cancel"].detail["reason"] == f"c{kept}d"
    assert details["area.put"].detail["name"] == f"Zo{kept}ne"
    nul = [e for e in entries if e.action == "test.nul"]
    assert [(e.actor, e.target, e.detail) for e in nul] == [
        (f"cli:x{kept}y", f"t:{kept}", {f"k{kept}": [kept]}),
        ("cli:z", "t:1", {"v": f"\\{kept}"}),  # the escaped backslash before it stays
    ]
    if store.backend == "postgres":  # a literal backslash-u0000 text is not a NUL: unchanged
        with db.connection(store.target) as conn:
            conn.execute("BEGIN")
            audit.record(conn, actor="a", action="test.lit", target="t", detail={"v": "\\u0000"})
            conn.execute("COMMIT")
            (lit,) = audit.entries(conn, action_prefix="test.lit")
        assert lit.detail == {"v": "\\u0000"}
