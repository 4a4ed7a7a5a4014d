"""The subscriptions the service disseminates to (names of secrets only, never values)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends

from seawarden.api.auth import STAFF, require
from seawarden.api.console_schemas import SubscriptionPage
from seawarden.api.deps import Settings
from seawarden.api.principal import Principal
from seawarden.api.schemas import ErrorBody

router = APIRouter(prefix="/subscriptions", tags=["subscriptions"])


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, Iterable):
        return sorted(str(v) for v in value)
    return []


def shown_target(kind: str, target: str) -> str:
    """What the API shows of a channel target: for a URL only ``scheme://host[:port]`` —
    never user info, path, query or fragment, where a secret may hide (a Slack-style
    webhook path, ``?token=``); email addresses as configured; nothing otherwise."""
    if kind == "email":
        return target
    if not target:
        return ""
    try:
        parts = urlsplit(target)
        host, port = parts.hostname, parts.port
    except ValueError:
        return ""
    if not parts.scheme or not host:
        return ""
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    return f"{parts.scheme}://{host}" + (f":{port}" if port is not None else "")


def describe(sub: Any) -> dict[str, Any]:
    """A subscription as the API shows it: targets reduced to scheme, host and port
    (:func:`shown_target`), secrets by name."""
    areas = getattr(sub, "areas", None)
    channels = [
        {
            "kind": str(getattr(ch, "kind", "")),
            "target": shown_target(str(getattr(ch, "kind", "")), str(getattr(ch, "target", ""))),
            "secret": getattr(ch, "secret", None),
        }
        for ch in getattr(sub, "channels", ())
    ]
    return {
        "id": str(sub.id),
        "recipient": getattr(sub, "recipient", None),
        "nation": getattr(sub, "nation", None),
        "audience": _strings(getattr(sub, "audience", ())),
        "areas": None if areas is None else (areas if isinstance(areas, str) else _strings(areas)),
        "min_severity": getattr(sub, "min_severity", None),
        "statuses": _strings(getattr(sub, "statuses", ())),
        "watchlist_only": bool(getattr(sub, "watchlist_only", False)),
        "channels": channels,
    }


@router.get(
    "",
    summary="The loaded subscriptions (analyst, admin); secret names, never values",
    response_model=SubscriptionPage,
    responses={
        401: {"model": ErrorBody, "description": "no valid token"},
        403: {"model": ErrorBody, "description": "analyst or admin only"},
    },
)
def list_subscriptions(
    _staff: Annotated[Principal, Depends(require(*STAFF))], settings: Settings
) -> Any:
    subs = sorted(settings.subscriptions.values(), key=lambda s: str(s.id))
    return {"items": [describe(s) for s in subs]}
