"""Events: what the pipeline concludes about a vessel (area enter/exit, detector findings).

An event has a stable ``id`` derived from what produced it, which vessel and when the
situation started, so replaying the same input yields the same ids. Events that describe a
situation lasting in time follow the lifecycle ``open → update* → close`` under one id;
momentary ones (an area ``enter``) are ``instant``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

EventPhase = Literal["instant", "open", "update", "close"]


def event_id(kind: str, mmsi: int, start: datetime, *extra: str) -> str:
    """A deterministic id: a hash of producer, vessel, start time and any discriminators."""
    text = "|".join((kind, str(mmsi), start.isoformat(), *extra))
    return hashlib.blake2b(text.encode(), digest_size=10).hexdigest()


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """One event in the stream.

    ``kind`` is ``area.enter``, ``area.exit``, ``area.dwell``, ``area.crossing`` or a
    detector name. ``producer_version`` is the version of the code that produced it.
    ``attrs`` carries kind-specific facts with units in their names (``dwell_s``...).
    """

    id: str
    kind: str
    phase: EventPhase
    mmsi: int
    time: datetime
    lat: float
    lon: float
    area_id: str | None = None
    producer_version: str = "1"
    attrs: Mapping[str, Any] = field(default_factory=dict)
