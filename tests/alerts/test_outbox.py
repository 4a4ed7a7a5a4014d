"""The outbox: committed with the revision, idempotent, and releasable to every recipient."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import orjson
import pytest

from seawarden.alerts import outbox
from seawarden.alerts.cap import cap_identifier
from seawarden.alerts.outbox import OutboxSink, delivery_id
from seawarden.alerts.releasability import JEF, parse_label
from seawarden.alerts.subscriptions import Channel, Subscription
from seawarden.store.sqlite import SQLiteStore
from tests.alerts.factories import make_alert, revise

HOOK = Channel(kind="webhook", target="https://moc.example/alerts", secret="HOOK")


def sub(
    sid: str,
    audience: frozenset[str] = JEF,
    *,
    min_severity: str = "medium",
    areas: frozenset[str] | None = None,
    channels: tuple[Channel, ...] = (HOOK,),
) -> Subscription:
    return Subscription(
        id=sid,
        recipient=sid.upper(),
        nation=None,
        audience=audience,
        areas=areas,
        min_severity=min_severity,
        channels=channels,
    )


@pytest.fixture
def store(tmp_path: Path) -> SQLiteStore:
    s = SQLiteStore(tmp_path / "s.db")
    yield s  # type: ignore[misc]
    s.close()


def rows(path: str) -> list[dict[str, object]]:
    """The outbox as another connection sees it: only what was committed."""
    conn = sqlite3.connect(path)
    try:
        return outbox.deliveries(conn)
    finally:
        conn.close()


def test_revision_and_deliveries_are_committed_before_write_returns(store: SQLiteStore) -> None:
    woken: list[int] = []
    sink = OutboxSink(store, [sub("jef-all")], on_enqueue=lambda: woken.append(1))
    alert = make_alert()
    sink.write([alert])
    got = rows(store.path)
    assert len(got) == 1
    row = got[0]
    assert row["status"] == "pending"
    assert row["attempts"] == 0
    assert row["delivery_id"] == delivery_id(alert.id, 1, "jef-all", 0)
    assert row["channel"] == "webhook:https://moc.example/alerts"
    conn = sqlite3.connect(store.path)
    (body,) = conn.execute("SELECT body FROM alerts WHERE id=?", (alert.id,)).fetchone()
    (payload,) = conn.execute("SELECT payload FROM outbox").fetchone()
    conn.close()
    assert orjson.loads(body)["id"] == alert.id
    env = orjson.loads(payload)
    assert env["delivery_id"] == row["delivery_id"]
    assert env["alert"]["revision"] == 1
    assert woken == [1]


def test_enqueue_is_idempotent_so_resume_does_not_duplicate(store: SQLiteStore) -> None:
    sink = OutboxSink(store, [sub("a"), sub("b", channels=(HOOK, HOOK))])
    alert = make_alert()
    sink.write([alert])
    sink.write([alert])  # a --resume re-emits the same revision
    got = rows(store.path)
    assert len(got) == 3
    assert len({r["delivery_id"] for r in got}) == 3
    assert sink.counts["already_queued"] == 3


def test_jef_recipient_never_receives_a_narrower_marking(store: SQLiteStore) -> None:
    subs = [sub("jef-list", JEF), sub("uk-moc", parse_label("REL GBR")), sub("no", {"NOR"})]
    sink = OutboxSink(store, subs)
    narrow = make_alert(id="aaaa1111", releasability="REL GBR, NOR")
    sink.write([narrow, revise(narrow, "Update"), revise(revise(narrow, "Update"), "Cancel")])
    got = rows(store.path)
    assert {r["subscription_id"] for r in got} == {"uk-moc", "no"}
    assert all(r["subscription_id"] != "jef-list" for r in got)


def test_cancel_reaches_previous_recipients_whatever_its_severity(store: SQLiteStore) -> None:
    high_only = sub("high-only", min_severity="high", areas=frozenset({"estlink-2"}))
    late = sub("critical-only", min_severity="critical")
    sink = OutboxSink(store, [high_only, late])
    first = make_alert(severity="high")
    cancel = revise(first, "Cancel", severity="low", score=10.0, area_ids=())
    sink.write([first])
    sink.write([cancel])
    got = {(r["subscription_id"], r["revision"]) for r in rows(store.path)}
    assert got == {("high-only", 1), ("high-only", 2)}  # never-told critical-only stays out


def test_follow_up_whose_marking_narrowed_is_withheld(store: SQLiteStore) -> None:
    sink = OutboxSink(store, [sub("jef", JEF)])
    first = make_alert()
    sink.write([first, revise(first, "Update", releasability="REL GBR, NOR")])
    assert [r["revision"] for r in rows(store.path)] == [1]
    assert sink.counts["withheld"] == 1


def test_cap_payload_references_the_earlier_revisions(store: SQLiteStore) -> None:
    cap = Channel(kind="cap_http", target="https://cap.example/in", secret="HOOK")
    sink = OutboxSink(store, [sub("cap", channels=(cap,))], sender="seawarden.test")
    first = make_alert()
    update = revise(first, "Update")
    sink.write([first])
    sink.write([update])
    conn = sqlite3.connect(store.path)
    payloads = [p for (p,) in conn.execute("SELECT payload FROM outbox ORDER BY revision")]
    conn.close()
    assert payloads[0].startswith(b"<?xml")
    assert b"<msgType>Alert</msgType>" in payloads[0] or b":msgType>Alert<" in payloads[0]
    assert cap_identifier(first.id, 1).encode() in payloads[1]
    assert b"references" in payloads[1]


def test_requeue_dead_puts_rows_back_and_audits(store: SQLiteStore) -> None:
    sink = OutboxSink(store, [sub("a")])
    sink.write([make_alert()])
    conn = sqlite3.connect(store.path, isolation_level=None)
    conn.execute("UPDATE outbox SET status='dead', attempts=5, last_error='HTTP 404'")
    assert outbox.counts_by_status(conn) == {"pending": 0, "delivered": 0, "dead": 1}
    assert outbox.requeue_dead(conn, actor="cli") == 1
    assert outbox.counts_by_status(conn)["pending"] == 1
    (action,) = conn.execute("SELECT action FROM audit").fetchone()
    conn.close()
    assert action == "delivery.requeue"


def test_dead_at_enqueue_and_withheld_follow_ups_are_audited_once(store: SQLiteStore) -> None:
    # Rows dead when queued ("cannot render") and withheld follow-ups left no audit entry:
    # the audit log must account for every delivery decision, in the revision's transaction.
    from seawarden.store import audit

    cap = Channel(kind="cap_http", target="https://cap.example/in", secret="HOOK")
    subs = [sub("cap", channels=(cap,)), sub("jef", JEF)]
    sink = OutboxSink(store, subs, sender="not a valid CAP sender")  # spaces: CAP refuses
    first = make_alert()
    narrowed = revise(first, "Update", releasability="REL GBR, NOR")
    sink.write([first])
    sink.write([narrowed])
    sink.write([first, narrowed])  # a --resume queues both again: nothing new to record
    conn = sqlite3.connect(store.path)
    entries = audit.entries(conn, action_prefix="delivery.")
    conn.close()
    got = sorted((e.action, e.detail["subscription_id"], e.detail["revision"]) for e in entries)
    assert got == [
        ("delivery.dead", "cap", 1),
        ("delivery.withheld", "cap", 2),
        ("delivery.withheld", "jef", 2),
    ]
    dead = next(e for e in entries if e.action == "delivery.dead")
    assert dead.target == f"delivery:{delivery_id(first.id, 1, 'cap', 0)}"
    assert "cannot render" in dead.detail["error"]
    withheld = next(e for e in entries if e.detail["subscription_id"] == "jef")
    assert "REL GBR, NOR does not cover" in withheld.detail["reason"]
    assert sink.counts["withheld"] == 4  # counted per enqueue; audited once
