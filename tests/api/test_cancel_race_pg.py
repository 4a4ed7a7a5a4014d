"""An operator's cancel racing the pipeline for the next revision number: never a 500.

The cancel reads the alert's latest revision N and writes the Cancel as N+1. On SQLite its
``BEGIN IMMEDIATE`` holds the pipeline's writes back; on PostgreSQL the API's write lock is
an advisory lock the pipeline does not take, so the pipeline can commit N+1 in between (the
insert used to fail on ``alerts_pkey``: HTTP 500). The interleaving is made deterministic:
``cancel.check``, which reads the latest revision inside the cancel's transaction, is wrapped
so that right after it the real pipeline store (its own connection) commits a revision.
The cancel then starts over on the fresh revision; a pipeline Cancel in between, or a race
lost on every attempt, is a 409 with a message — on both stores.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import orjson
import pytest

from seawarden.alerts.model import Alert
from seawarden.api import cancel, db
from seawarden.store import open_store
from tests.api.conftest import seed_alerts
from tests.api.test_nul_fields_pg import Store
from tests.api.test_nul_fields_pg import store as store  # the two-store fixture, shared

pytestmark = pytest.mark.slow

ALERT = "a-jef-in"  # revision 1, an Alert


def _first() -> Alert:
    return next(a for a in seed_alerts() if a.id == ALERT)


def _pipeline_writes(
    monkeypatch: pytest.MonkeyPatch, store: Store, make: Callable[[int], Alert | None]
) -> list[str]:
    """Wrap ``cancel.check``: inside the cancel's transaction, after each read of the latest
    revision, the pipeline writes ``make(n)`` (n = 1, 2, …; None: nothing) through its own
    store. Returns the log of what the pipeline managed ("wrote r2", "blocked")."""
    real = cancel.check
    log: list[str] = []

    def check(conn: db.StoreConnection, alert_id: str) -> dict[str, Any] | None:
        body = real(conn, alert_id)
        if conn.in_transaction and (alert := make(len(log) + 1)) is not None:
            try:
                s = open_store(store.target)
                try:
                    s.write_alerts([alert])
                    s.commit()
                finally:
                    s.close()
                log.append(f"wrote r{alert.revision}")
            except Exception as exc:  # SQLite: the cancel's write lock holds it back
                log.append("blocked" if "locked" in str(exc) else f"failed: {exc!r}")
        return body

    monkeypatch.setattr(cancel, "check", check)
    return log


def _revisions(store: Store) -> list[tuple[int, str]]:
    with db.connection(store.target) as conn:
        rows = conn.execute(
            "SELECT revision, msg_type FROM alerts WHERE id = ? ORDER BY revision", (ALERT,)
        ).fetchall()
    return [(int(r), str(m)) for r, m in rows]


def _cancel_rows(store: Store) -> tuple[list[dict[str, Any]], list[str]]:
    with db.connection(store.target) as conn:
        actions = [
            orjson.loads(d)
            for (d,) in conn.execute(
                "SELECT detail FROM alert_actions WHERE alert_id = ? AND action = 'cancel'",
                (ALERT,),
            ).fetchall()
        ]
        audits = [
            str(a)
            for (a,) in conn.execute(
                "SELECT action FROM audit WHERE target = ? ORDER BY seq", (f"alert:{ALERT}",)
            ).fetchall()
        ]
    return actions, audits


def test_a_revision_committed_meanwhile_is_cancelled_on_top_of(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    update = replace(_first(), revision=2, msg_type="Update")
    log = _pipeline_writes(monkeypatch, store, lambda n: update if n == 1 else None)
    with store.client() as cl:
        r = cl.post(f"/api/alerts/{ALERT}/cancel", json={"reason": "dup"}, headers=store.auth())
    assert r.status_code == 200, r.text
    if store.backend == "postgres":  # the pipeline's r2 went in; the cancel took r3
        assert log == ["wrote r2"]
        assert _revisions(store) == [(1, "Alert"), (2, "Update"), (3, "Cancel")]
    else:  # BEGIN IMMEDIATE held the pipeline back: no race to lose
        assert log == ["blocked"]
        assert _revisions(store) == [(1, "Alert"), (2, "Cancel")]
    last = r.json()["revisions"][-1]
    assert last["msg_type"] == "Cancel"
    assert last["revision"] == _revisions(store)[-1][0]
    actions, audits = _cancel_rows(store)
    assert [a["revision"] for a in actions] == [last["revision"]]
    assert audits == ["alert.cancel"]


# SQLite holds the pipeline's write back (BEGIN IMMEDIATE): the race cannot happen there
@pytest.mark.parametrize("store", ["postgres"], indirect=True)
def test_a_pipeline_cancel_meanwhile_is_a_409(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    theirs = replace(_first(), revision=2, msg_type="Cancel")
    log = _pipeline_writes(monkeypatch, store, lambda n: theirs if n == 1 else None)
    with store.client() as cl:
        r = cl.post(f"/api/alerts/{ALERT}/cancel", json={"reason": "dup"}, headers=store.auth())
    assert log == ["wrote r2"]
    assert r.status_code == 409, r.text
    assert "already cancelled" in r.json()["message"]
    assert _revisions(store) == [(1, "Alert"), (2, "Cancel")]
    assert _cancel_rows(store) == ([], [])


# SQLite holds the pipeline's write back (BEGIN IMMEDIATE): the race cannot happen there
@pytest.mark.parametrize("store", ["postgres"], indirect=True)
def test_a_race_lost_on_every_attempt_is_a_409_and_writes_nothing(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = _first()
    log = _pipeline_writes(
        monkeypatch, store, lambda n: replace(first, revision=n + 1, msg_type="Update")
    )
    with store.client() as cl:
        r = cl.post(f"/api/alerts/{ALERT}/cancel", json={"reason": "dup"}, headers=store.auth())
    assert r.status_code == 409, r.text
    assert "retry the cancel" in r.json()["message"]
    n = cancel.CANCEL_ATTEMPTS
    assert log == [f"wrote r{i + 2}" for i in range(n)]
    assert _revisions(store) == [(1, "Alert")] + [(i + 2, "Update") for i in range(n)]
    assert _cancel_rows(store) == ([], [])
