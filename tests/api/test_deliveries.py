"""Deliveries: reading the outbox (its column contract) and putting dead letters back."""

from __future__ import annotations

import sqlite3

from fastapi.testclient import TestClient

from tests.api.conftest import Seeded

# The outbox's column contract (alerts/outbox.py owns the table; the API only reads it and
# resets dead rows). Created here by hand so these tests pin the contract, not its code.
OUTBOX = """
CREATE TABLE outbox (
    delivery_id TEXT PRIMARY KEY, alert_id TEXT, revision INTEGER, subscription_id TEXT,
    channel TEXT, status TEXT, attempts INTEGER, next_attempt TEXT, last_error TEXT,
    created TEXT, delivered TEXT, payload BLOB
)
"""

ROWS = [
    ("d-1", "a-jef-in", 1, "dnk-moc", "webhook:http://127.0.0.1:9/dnk", "delivered", 1,
     "2026-01-01T00:00:00.000000Z", None, "2026-01-01T00:00:00.000000Z",
     "2026-01-01T00:00:01.000000Z", b'{"secret": "payload"}'),
    ("d-2", "a-jef-in", 1, "gbr-moc", "webhook:http://127.0.0.1:9/gbr", "dead", 12,
     "2026-01-01T02:00:00.000000Z", "HTTP 503", "2026-01-01T00:00:02.000000Z", None,
     b'{"secret": "payload"}'),
    ("d-3", "a-nato", 2, "nor-jhq", "email:ops@example.invalid", "pending", 2,
     "2026-01-01T00:10:00.000000Z", "timeout", "2026-01-01T00:00:03.000000Z", None, b"{}"),
]  # fmt: skip


def add_outbox(seeded: Seeded) -> None:
    conn = sqlite3.connect(seeded.store)
    conn.execute(OUTBOX)
    conn.executemany("INSERT INTO outbox VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", ROWS)
    conn.commit()
    conn.close()


def test_no_outbox_yet_is_an_empty_list(client: TestClient, seeded: Seeded) -> None:
    r = client.get("/api/deliveries", headers=seeded.auth("analyst-1"))
    assert r.status_code == 200
    assert r.json() == {"items": [], "next_cursor": None}
    retry = client.post("/api/deliveries/d-2/retry", headers=seeded.auth("ops-admin"))
    assert retry.status_code == 404
    conn = sqlite3.connect(seeded.store)
    assert conn.execute("SELECT name FROM sqlite_master WHERE name='outbox'").fetchone() is None
    conn.close()


def test_list_by_status_without_payloads(client: TestClient, seeded: Seeded) -> None:
    add_outbox(seeded)
    r = client.get("/api/deliveries", headers=seeded.auth("analyst-1"))
    assert [d["delivery_id"] for d in r.json()["items"]] == ["d-3", "d-2", "d-1"]
    assert "secret" not in r.text
    assert r.json()["items"][2]["payload_bytes"] == len(ROWS[0][-1])
    dead = client.get(
        "/api/deliveries", headers=seeded.auth("ops-admin"), params={"status": "dead"}
    )
    assert [d["delivery_id"] for d in dead.json()["items"]] == ["d-2"]
    paged = client.get("/api/deliveries", headers=seeded.auth("ops-admin"), params={"limit": 2})
    nxt = paged.json()["next_cursor"]
    rest = client.get("/api/deliveries", headers=seeded.auth("ops-admin"), params={"cursor": nxt})
    assert [d["delivery_id"] for d in rest.json()["items"]] == ["d-1"]


def test_retry_dead_delivery_resets_it_and_is_audited(client: TestClient, seeded: Seeded) -> None:
    add_outbox(seeded)
    admin = seeded.auth("ops-admin")
    r = client.post("/api/deliveries/d-2/retry", headers=admin)
    assert r.status_code == 200, r.text
    d = r.json()
    assert (d["status"], d["attempts"]) == ("pending", 0)
    assert d["next_attempt"] > ROWS[1][7]
    assert d["next_attempt"].endswith("Z")  # the outbox's own fixed-width time format
    audit = client.get("/api/audit", headers=admin).json()["items"]
    [entry] = [e for e in audit if e["target"] == "delivery:d-2"]
    assert (entry["actor"], entry["action"]) == ("token:ops-admin", "delivery.requeue")
    assert entry["detail"] == {"previous_status": "dead", "previous_attempts": 12}
    assert client.post("/api/deliveries/d-2/retry", headers=admin).status_code == 409


def test_retry_rules(client: TestClient, seeded: Seeded) -> None:
    add_outbox(seeded)
    admin = seeded.auth("ops-admin")
    assert client.post("/api/deliveries/d-1/retry", headers=admin).status_code == 409
    assert client.post("/api/deliveries/d-9/retry", headers=admin).status_code == 404
    analyst = client.post("/api/deliveries/d-2/retry", headers=seeded.auth("analyst-1"))
    assert analyst.status_code == 403
    ally = client.get("/api/deliveries", headers=seeded.auth("dnk-moc"))
    assert ally.status_code == 403
    assert "secret" not in ally.text


def test_reads_and_retries_the_real_outbox_table(client: TestClient, seeded: Seeded) -> None:
    """The same against the table as alerts/outbox.py creates it (extra columns, NOT NULLs)."""
    from seawarden.alerts import outbox

    conn = sqlite3.connect(seeded.store)
    outbox.ensure_schema(conn)
    now = outbox.wall_iso()
    did = outbox.delivery_id("a-jef-in", 1, "dnk-moc", 0)
    conn.execute(
        "INSERT INTO outbox (delivery_id, alert_id, revision, subscription_id, channel,"
        " channel_index, status, attempts, next_attempt, last_error, created, delivered,"
        " payload) VALUES (?, 'a-jef-in', 1, 'dnk-moc', 'webhook:http://127.0.0.1:9/dnk', 0,"
        " 'dead', 8, ?, 'HTTP 500', ?, NULL, ?)",
        (did, now, now, b'{"alert": "..."}'),
    )
    conn.commit()
    conn.close()
    admin = seeded.auth("ops-admin")
    [row] = client.get("/api/deliveries", headers=admin, params={"status": "dead"}).json()["items"]
    assert (row["delivery_id"], row["attempts"], row["payload_bytes"]) == (did, 8, 16)
    r = client.post(f"/api/deliveries/{did}/retry", headers=admin)
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["attempts"]) == ("pending", 0)
