"""Where events go: a JSON Lines file, the log, or memory (tests).

The JSON Lines form is the stable, documented output (``docs/formats.md``): keys sorted,
times in ISO 8601 UTC with a ``Z``, no wall-clock values — so the same input and config
give a byte-identical file.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Protocol

import orjson

from seawarden.model import Event

log = logging.getLogger("seawarden.events")


class EventSink(Protocol):
    def write(self, events: Sequence[Event]) -> None: ...
    def close(self) -> None: ...


def iso_utc(dt: datetime) -> str:
    """ISO 8601 with a ``Z``; microseconds only when present (sources differ in resolution)."""
    dt = dt.astimezone(UTC)
    text = dt.strftime("%Y-%m-%dT%H:%M:%S")
    if dt.microsecond:
        text += f".{dt.microsecond:06d}".rstrip("0")
    return text + "Z"


def event_to_dict(ev: Event) -> dict[str, Any]:
    return {
        "id": ev.id,
        "kind": ev.kind,
        "phase": ev.phase,
        "mmsi": ev.mmsi,
        "time": iso_utc(ev.time),
        "lat": round(ev.lat, 6),
        "lon": round(ev.lon, 6),
        "area_id": ev.area_id,
        "producer_version": ev.producer_version,
        "attrs": dict(ev.attrs),
    }


def _default(obj: Any) -> Any:
    if isinstance(obj, datetime):
        return iso_utc(obj)
    if isinstance(obj, (set, frozenset, tuple)):
        return sorted(obj) if isinstance(obj, (set, frozenset)) else list(obj)
    raise TypeError(f"not serialisable: {type(obj).__name__}")


def dumps_event(ev: Event) -> bytes:
    return orjson.dumps(event_to_dict(ev), default=_default, option=orjson.OPT_SORT_KEYS)


class JsonlEventSink:
    """Append events to a file, one JSON object per line."""

    def __init__(self, path: str | Path, *, append: bool = False) -> None:
        self.path = Path(path)
        self._fh: IO[bytes] = self.path.open("ab" if append else "wb")

    def write(self, events: Sequence[Event]) -> None:
        for ev in events:
            self._fh.write(dumps_event(ev) + b"\n")

    def flush(self) -> None:
        self._fh.flush()

    def close(self) -> None:
        self._fh.close()


class LogEventSink:
    """Log each event at INFO (the demo's output until the console exists)."""

    def write(self, events: Sequence[Event]) -> None:
        for ev in events:
            log.info(
                "%s %s mmsi=%d area=%s at %s (%.4f, %.4f)",
                ev.kind,
                ev.phase,
                ev.mmsi,
                ev.area_id,
                iso_utc(ev.time),
                ev.lat,
                ev.lon,
            )

    def close(self) -> None:
        pass


class MemoryEventSink:
    """Keeps events in a list; a test double shipped with the package."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def write(self, events: Sequence[Event]) -> None:
        self.events.extend(events)

    def close(self) -> None:
        pass
