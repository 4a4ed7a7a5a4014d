"""An operator's cancel: the watch officer decides an alert is over, and allies are told.

A cancel is a revision, not only a note: a Cancel revision (CAP msgType Cancel, revision
n+1, referencing the earlier ones) is stored and queued through the outbox to every
subscription that received an earlier revision, exactly as a Cancel the pipeline raised
itself. Inside ``seawarden serve`` the running alert lifecycle is asked first — it owns the
revision numbers of the alerts it holds open, and forgetting the alert there means a new
situation opens a new alert — and the revision goes out through the pipeline's own sinks.
An alert the lifecycle does not hold (standalone API, an alert from an earlier run) is
cancelled in the store here, in one transaction with its action and audit entries.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, Literal

import orjson

from seawarden.alerts import outbox
from seawarden.alerts.model import Alert, NextCrossing, Reason
from seawarden.alerts.subscriptions import Subscription
from seawarden.api import db
from seawarden.api.principal import Principal
from seawarden.api.queries import ConflictError
from seawarden.store import audit

FINAL_ACTIONS = ("close", "cancel")


def alert_from_dict(d: Mapping[str, Any]) -> Alert:
    """Rebuild an :class:`Alert` from its stored ``to_dict()`` body."""

    def t(text: str) -> datetime:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))

    nc = d.get("next_crossing")
    return Alert(
        id=str(d["id"]),
        revision=int(d["revision"]),
        msg_type=d["msg_type"],
        mmsi=int(d["mmsi"]),
        imo=d.get("imo"),
        name=d.get("name"),
        flag=d.get("flag"),
        severity=str(d["severity"]),
        score=float(d["score"]),
        event_time=t(d["event_time"]),
        lat=float(d["lat"]),
        lon=float(d["lon"]),
        area_ids=tuple(d.get("area_ids") or ()),
        detectors=tuple(d.get("detectors") or ()),
        reasons=tuple(
            Reason(detector=r["detector"], weight=float(r["weight"]), text=r["text"])
            for r in d.get("reasons") or ()
        ),
        next_crossing=None
        if not nc
        else NextCrossing(
            area_id=nc["area_id"],
            eta=t(nc["eta"]),
            distance_m=float(nc["distance_m"]),
            inside_now=bool(nc["inside_now"]),
        ),
        watchlist=d.get("watchlist"),
        monitored=bool(d.get("monitored")),
        predicted_track=tuple(
            (t(p["time"]), float(p["lat"]), float(p["lon"])) for p in d.get("predicted_track") or ()
        ),
        status=d.get("status", "Actual"),
        releasability=str(d.get("releasability", "REL JEF")),
        notes=tuple(str(n) for n in d.get("notes") or ()),
    )


def latest(conn: db.StoreConnection, alert_id: str) -> dict[str, Any] | None:
    row = conn.execute(
        "SELECT body FROM alerts WHERE id = ? ORDER BY revision DESC LIMIT 1", (alert_id,)
    ).fetchone()
    return None if row is None else dict(orjson.loads(row[0]))


def check(conn: db.StoreConnection, alert_id: str) -> dict[str, Any] | None:
    """The latest revision if the alert may be cancelled; None if absent; ConflictError."""
    body = latest(conn, alert_id)
    if body is None:
        return None
    if body.get("msg_type") == "Cancel":
        raise ConflictError("the alert is already cancelled")
    done = conn.execute(
        "SELECT action FROM alert_actions WHERE alert_id = ? AND action IN ('close', 'cancel')"
        " LIMIT 1",
        (alert_id,),
    ).fetchone()
    if done is not None:
        raise ConflictError(f"the alert is {'closed' if done[0] == 'close' else 'cancelled'}")
    return body


def _record(
    conn: db.StoreConnection, alert_id: str, principal: Principal, detail: dict[str, Any]
) -> None:
    now = datetime.now(UTC)
    conn.execute(
        "INSERT INTO alert_actions (alert_id, time, actor, action, detail) VALUES (?, ?, ?, ?, ?)",
        (
            alert_id,
            now.isoformat(),
            principal.actor,
            "cancel",
            audit.json_text(conn, detail, sort_keys=False),
        ),
    )
    audit.record(
        conn,
        actor=principal.actor,
        action="alert.cancel",
        target=f"alert:{alert_id}",
        detail=detail,
        time=now,
    )


def record_action(
    conn: db.StoreConnection, alert_id: str, principal: Principal, detail: dict[str, Any]
) -> None:
    """The action and audit entries of a cancel the pipeline carried out."""
    db.begin(conn)
    try:
        _record(conn, alert_id, principal, detail)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


# How often a cancel starts over when the pipeline wrote the revision number it was about to
# take (PostgreSQL: the API's write lock does not hold the pipeline's writes back).
CANCEL_ATTEMPTS = 3


def cancel_in_store(
    conn: db.StoreConnection,
    alert_id: str,
    principal: Principal,
    reason: str,
    subscriptions: Sequence[Subscription],
) -> Alert | None:
    """Write the Cancel revision, queue it, record action and audit; one transaction.

    The Cancel takes the number after the latest revision. On SQLite ``BEGIN IMMEDIATE``
    keeps the pipeline from writing meanwhile; on PostgreSQL the pipeline may commit that
    number between the read and the insert, so the insert yields to it (``ON CONFLICT DO
    NOTHING``) and the cancel starts over on the fresh latest revision — which may itself be
    the pipeline's Cancel (a 409 then). After :data:`CANCEL_ATTEMPTS` lost races it is a
    :class:`ConflictError`, never a failed write."""
    for _ in range(CANCEL_ATTEMPTS):
        done = _try_cancel(conn, alert_id, principal, reason, subscriptions)
        if done is not False:
            return done
    raise ConflictError(
        f"the pipeline kept revising the alert while it was being cancelled"
        f" ({CANCEL_ATTEMPTS} attempts); retry the cancel"
    )


def _try_cancel(
    conn: db.StoreConnection,
    alert_id: str,
    principal: Principal,
    reason: str,
    subscriptions: Sequence[Subscription],
) -> Alert | Literal[False] | None:
    """One attempt: the Cancel, None if there is no alert, False if its revision was taken."""
    db.begin(conn)
    try:
        body = check(conn, alert_id)
        if body is None:
            conn.execute("ROLLBACK")
            return None
        prev = alert_from_dict(body)
        alert = replace(prev, revision=prev.revision + 1, msg_type="Cancel", predicted_track=())
        cur = conn.execute(
            "INSERT INTO alerts VALUES (?,?,?,?,?,?,?,?) ON CONFLICT DO NOTHING",
            (
                alert.id,
                alert.revision,
                alert.msg_type,
                alert.mmsi,
                alert.event_time.astimezone(UTC).isoformat(),
                alert.severity,
                alert.score,
                orjson.dumps(alert.to_dict(), option=orjson.OPT_SORT_KEYS).decode(),
            ),
        )
        if cur.rowcount != 1:  # the pipeline wrote this revision since check() read
            conn.execute("ROLLBACK")
            return False
        queued = 0
        if subscriptions:
            if isinstance(conn, db.PgConnection):
                from seawarden.alerts import outbox_pg  # same rules, in this transaction

                queued = outbox_pg.enqueue(conn.raw, [alert], subscriptions)
            else:
                outbox.ensure_schema(conn)
                queued = outbox.enqueue(conn, [alert], subscriptions)
        _record(
            conn,
            alert_id,
            principal,
            {"reason": reason, "revision": alert.revision, "queued": queued, "by": "api"},
        )
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return alert


def subscriptions_of(values: Sequence[object]) -> list[Subscription]:
    return [s for s in values if isinstance(s, Subscription)]
