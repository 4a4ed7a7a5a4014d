"""Alert factories with realistic defaults: a high-risk anchor drag near Estlink 2 (cf. Eagle S)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from seawarden.alerts.model import Alert, NextCrossing, Reason
from seawarden.alerts.subscriptions import Channel, subscription_from_dict

T0 = datetime(2024, 12, 25, 10, 1, tzinfo=UTC)


def make_alert(**overrides: Any) -> Alert:
    """A first revision (``Alert``) for a watchlisted tanker dragging anchor near Estlink 2.

    Any field can be overridden; ``t`` (seconds after ``T0``) sets ``event_time``.
    """
    t = overrides.pop("t", 0.0)
    values: dict[str, Any] = {
        "id": "5c0ffee1d2a4b3e8f901",
        "revision": 1,
        "msg_type": "Alert",
        "mmsi": 518_998_000,
        "imo": 9_329_760,
        "name": "EAGLE S",
        "flag": "CK",
        "severity": "high",
        "score": 72.5,
        "event_time": T0 + timedelta(seconds=t),
        "lat": 59.78,
        "lon": 25.48,
        "area_ids": ("estlink-2", "gulf-of-finland-cables"),
        "detectors": ("anchor_drag", "course_speed"),
        "reasons": (
            Reason(
                detector="anchor_drag",
                weight=45.0,
                text="moving at 6.2 kn with nav status 'at anchor' over Estlink 2",
            ),
            Reason(
                detector="course_speed.slowdown",
                weight=12.5,
                text="slowed from 11 kn to 6 kn inside a cable corridor",
            ),
            Reason(detector="watchlist", weight=15.0, text="on the shadow-fleet watchlist"),
        ),
        "next_crossing": NextCrossing(
            area_id="estlink-1",
            eta=T0 + timedelta(seconds=t + 2400),
            distance_m=7400.0,
            inside_now=False,
        ),
        "watchlist": {
            "key": "imo",
            "score": 1.0,
            "detail": "IMO 9329760",
            "entry": {
                "imo": 9_329_760,
                "mmsis": [518_998_000],
                "name": "EAGLE S",
                "flag": "CK",
                "lists": ["eu-sanctions"],
                "reason": "shadow fleet",
                "source": "test",
            },
        },
        "monitored": True,
        "predicted_track": tuple(
            (T0 + timedelta(seconds=t + 600 * k), 59.78 - 0.01 * k, 25.48 - 0.05 * k)
            for k in range(1, 7)
        ),
        "status": "Actual",
        "releasability": "REL JEF",
    }
    values.update(overrides)
    return Alert(**values)


def revise(alert: Alert, msg_type: str, *, dt_s: float = 300.0, **overrides: Any) -> Alert:
    """The next revision of ``alert`` (Update or Cancel), ``dt_s`` seconds later."""
    return replace(
        alert,
        revision=alert.revision + 1,
        msg_type=msg_type,
        event_time=alert.event_time + timedelta(seconds=dt_s),
        **overrides,
    )


def channel_from_config(
    kind: str, target: str = "", *, secret: str | None = None, **options: Any
) -> Channel:
    """A channel exactly as the subscriptions loader builds it from a file's mapping, so a
    test configures a channel only with options the loader accepts (loader/sender drift is
    caught by every channel test)."""
    raw: dict[str, Any] = {"kind": kind, "target": target}
    if secret is not None:
        raw["secret"] = secret
    if options:
        raw["options"] = options
    sub = subscription_from_dict(
        {
            "id": "test-sub",
            "recipient": "Test recipient",
            "cleared_for": "REL DNK",
            "areas": "all",
            "min_severity": "info",
            "channels": [raw],
        }
    )
    return sub.channels[0]
