"""What one API service is pointed at: its store, its subscriptions and its limits."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol


class SubscriptionLike(Protocol):
    """What the API needs from a subscription (``seawarden.alerts.subscriptions``)."""

    @property
    def id(self) -> str: ...
    @property
    def nation(self) -> str | None: ...
    @property
    def areas(self) -> object: ...  # a sequence of area ids, or "all"


@dataclass(frozen=True, slots=True, kw_only=True)
class ApiSettings:
    """Settings of :func:`seawarden.api.create_app`.

    ``demo`` accepts the public demo token (see :mod:`seawarden.api.tokens`); the ``serve``
    command allows it on loopback only. ``subscriptions`` binds ally tokens created with
    ``--subscription ID`` to that subscription's areas.
    """

    store: Path | str  # a SQLite file or a postgresql:// DSN (api.db.StoreTarget)
    demo: bool = False
    subscriptions: Mapping[str, SubscriptionLike] = field(default_factory=dict)
    max_body_bytes: int = 64 * 1024
    max_page: int = 500
    default_page: int = 100
    # an ally listing scans at most this many alerts per request, then hands back a cursor
    max_scan: int = 5000
    busy_timeout_ms: int = 5000
    # bodies of PUT /api/areas/{id} and POST /api/watchlist/import may be this large
    max_upload_bytes: int = 1024 * 1024
    # live push (GET /api/stream): heartbeat interval, frames queued per client before it
    # is dropped, and the least interval between two positions of one vessel
    heartbeat_s: float = 15.0
    stream_queue: int = 1000
    position_interval_s: float = 1.0
