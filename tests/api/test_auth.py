"""Authentication and roles: who gets 401, who gets 403, and what is counted and logged."""

from __future__ import annotations

import logging
import sqlite3

import pytest
from fastapi.testclient import TestClient

from seawarden.api import tokens
from tests.api.conftest import DNK_AREAS, Seeded

PROTECTED = [
    ("GET", "/api/alerts"),
    ("GET", "/api/alerts/a-jef-in"),
    ("POST", "/api/alerts/a-jef-in/ack"),
    ("GET", "/api/audit"),
    ("GET", "/api/deliveries"),
    ("GET", "/api/tokens"),
    ("GET", "/api/openapi.json"),
    ("GET", "/api/no-such-route"),  # 401 before routing: paths are not enumerable
    ("GET", "/api/stream"),
    ("GET", "/metrics"),
    ("GET", "/openapi.json"),
]


@pytest.mark.parametrize(("method", "path"), PROTECTED)
@pytest.mark.parametrize(
    "header",
    [
        None,
        "Bearer",
        "Bearer ",
        "Basic dXNlcjpwYXNz",
        "Bearer garbage",
        "Bearer sw_" + "A" * 43,  # right shape, unknown
        "Bearer gh_" + "A" * 43,  # another system's prefix
        "Bearer " + tokens.DEMO_ADMIN_TOKEN,  # the public demo token, outside --demo
    ],
)
def test_bad_credentials_get_401_with_challenge(
    client: TestClient, method: str, path: str, header: str | None
) -> None:
    r = client.request(method, path, headers={} if header is None else {"Authorization": header})
    assert r.status_code == 401, r.text
    assert r.headers["www-authenticate"].startswith("Bearer")
    assert r.json()["error"] == "unauthorized"
    assert r.headers["x-content-type-options"] == "nosniff"


def test_revoked_token_is_refused(client: TestClient, seeded: Seeded) -> None:
    r = client.get("/api/alerts", headers=seeded.auth("old-analyst"))
    assert r.status_code == 401
    assert 'error="invalid_token"' in r.headers["www-authenticate"]


def test_revocation_takes_effect_on_the_next_request(client: TestClient, seeded: Seeded) -> None:
    assert client.get("/api/alerts", headers=seeded.auth("analyst-1")).status_code == 200
    r = client.post("/api/tokens/analyst-1/revoke", headers=seeded.auth("ops-admin"))
    assert r.status_code == 200
    assert r.json()["revoked"]
    assert client.get("/api/alerts", headers=seeded.auth("analyst-1")).status_code == 401


def test_health_needs_no_token_and_leaks_no_version(client: TestClient) -> None:
    r = client.get("/api/health")
    assert r.status_code == 200
    assert r.json() == {"status": "ok", "store": "ok"}
    assert "server" not in r.headers or "uvicorn" not in r.headers["server"].lower()
    assert "0.1" not in r.text


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/api/alerts/a-jef-in/ack", None),
        ("POST", "/api/alerts/a-jef-in/assign", {"to": "me"}),
        ("POST", "/api/alerts/a-jef-in/close", {"reason": "x"}),
        ("GET", "/api/audit", None),
        ("GET", "/api/deliveries", None),
        ("POST", "/api/deliveries/d1/retry", None),
        ("GET", "/api/tokens", None),
        ("POST", "/api/tokens", {"name": "mine", "role": "admin"}),
        ("GET", "/api/stats", None),
    ],
)
def test_ally_may_not_act_or_administer(
    client: TestClient, seeded: Seeded, method: str, path: str, body: object
) -> None:
    r = client.request(method, path, headers=seeded.auth("dnk-moc"), json=body)
    assert r.status_code == 403, r.text
    assert r.json()["error"] == "forbidden"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/audit"),
        ("POST", "/api/deliveries/d1/retry"),
        ("GET", "/api/tokens"),
        ("POST", "/api/tokens/dnk-moc/revoke"),
    ],
)
def test_analyst_is_not_admin(client: TestClient, seeded: Seeded, method: str, path: str) -> None:
    assert client.request(method, path, headers=seeded.auth("analyst-1")).status_code == 403


def test_failures_are_counted_and_logged_without_the_token(
    client: TestClient, seeded: Seeded, caplog: pytest.LogCaptureFixture
) -> None:
    secret_looking = "sw_" + "Z" * 43
    with caplog.at_level(logging.WARNING, logger="seawarden.api.auth"):
        client.get("/api/alerts", headers={"Authorization": f"Bearer {secret_looking}"})
        client.get("/api/alerts")
        client.get("/api/alerts", headers={"Authorization": "Bearer nope"})
        client.get("/api/alerts", headers=seeded.auth("old-analyst"))
    text = caplog.text
    assert "reason=unknown_or_revoked" in text
    assert "reason=missing" in text
    assert secret_looking not in text
    assert seeded.tokens["old-analyst"] not in text
    stats = client.get("/api/stats", headers=seeded.auth("ops-admin")).json()
    assert stats["auth_failures"] == {"malformed": 1, "missing": 1, "unknown_or_revoked": 2}


def test_store_keeps_only_digests(seeded: Seeded) -> None:
    raw = b"".join(p.read_bytes() for p in seeded.store.parent.glob("api.db*"))
    for secret in seeded.tokens.values():
        assert secret.encode() not in raw
    conn = sqlite3.connect(seeded.store)
    hashes = {r[0] for r in conn.execute("SELECT token_hash FROM tokens")}
    conn.close()
    assert {tokens.digest(s) for s in seeded.tokens.values()} == hashes


def test_token_format() -> None:
    t = tokens.new_token()
    assert t.startswith("sw_")
    assert len(t) == 46
    assert tokens.TOKEN_RE.match(t)
    assert len({tokens.new_token() for _ in range(100)}) == 100


def test_admin_creates_token_over_api_and_it_is_audited(client: TestClient, seeded: Seeded) -> None:
    admin = seeded.auth("ops-admin")
    r = client.post(
        "/api/tokens",
        headers=admin,
        json={"name": "nor-jhq", "role": "ally", "nation": "NOR", "areas": ["norned"]},
    )
    assert r.status_code == 201, r.text
    new = r.json()["token"]
    assert client.get("/api/alerts", headers={"Authorization": f"Bearer {new}"}).status_code == 200
    again = client.post("/api/tokens", headers=admin, json={"name": "nor-jhq", "role": "analyst"})
    assert again.status_code == 409
    listed = client.get("/api/tokens", headers=admin).json()
    assert new not in str(listed)
    assert "nor-jhq" in str(listed)
    audit = client.get("/api/audit", headers=admin).json()["items"]
    assert [
        (e["actor"], e["action"], e["target"]) for e in audit if e["target"] == "token:nor-jhq"
    ] == [("token:ops-admin", "token.create", "token:nor-jhq")]


def test_me_says_who_the_token_is(client: TestClient, seeded: Seeded) -> None:
    dnk = client.get("/api/me", headers=seeded.auth("dnk-moc")).json()
    assert (dnk["name"], dnk["role"], dnk["nation"]) == ("dnk-moc", "ally", "DNK")
    assert dnk["areas"] == sorted(DNK_AREAS)
    admin = client.get("/api/me", headers=seeded.auth("ops-admin")).json()
    assert (admin["role"], admin["nation"], admin["areas"]) == ("admin", None, None)
    assert client.get("/api/me").status_code == 401
    assert client.get("/api/me", headers=seeded.auth("old-analyst")).status_code == 401
