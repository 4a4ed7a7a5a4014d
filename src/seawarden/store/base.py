"""The store contract shared by the embedded (SQLite) and server (PostgreSQL) stores.

The pipeline writes through this interface only, so switching to a server database is a
configuration change. Writes come in batches (the pipeline buffers them) because per-row
commits would cap throughput at disk-sync speed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from seawarden.alerts.model import Alert
from seawarden.model import Event, PositionReport


@dataclass(frozen=True, slots=True, kw_only=True)
class RunInfo:
    """What a run was: its inputs and the effective config and versions that produced it."""

    run_id: str
    started: datetime
    command: str
    inputs: Sequence[str]
    config: dict[str, Any]
    versions: dict[str, str]


@dataclass(frozen=True, slots=True, kw_only=True)
class VesselRow:
    """Latest known state of a vessel, as kept in the store."""

    mmsi: int
    first_seen: datetime
    last_seen: datetime
    lat: float | None
    lon: float | None
    speed_kn: float | None
    course_deg: float | None
    imo: int | None
    name: str | None
    callsign: str | None
    ship_type: int | None
    flag: str | None
    mmsi_class: str | None
    watchlist: dict[str, Any] | None


@dataclass(frozen=True, slots=True, kw_only=True)
class IdentityRow:
    mmsi: int
    time: datetime
    field: str
    old: str | None
    new: str | None
    source: str


class Store(Protocol):
    def begin_run(self, info: RunInfo) -> None: ...
    def end_run(self, run_id: str, stats: dict[str, Any], status: str) -> None: ...
    def write_positions(self, reports: Sequence[PositionReport]) -> None: ...
    def upsert_vessels(self, rows: Sequence[VesselRow]) -> None: ...
    def write_identity(self, rows: Sequence[IdentityRow]) -> None: ...
    def write_events(self, events: Sequence[Event]) -> None: ...
    def write_alerts(self, alerts: Sequence[Alert]) -> None: ...
    def save_checkpoint(self, key: str, state: dict[str, Any]) -> None: ...
    def load_checkpoint(self, key: str) -> dict[str, Any] | None: ...
    def commit(self) -> None: ...
    def close(self) -> None: ...

    # reads (API and tests)
    def vessel(self, mmsi: int) -> VesselRow | None: ...
    def vessels(self) -> list[VesselRow]: ...
    def identity_history(self, mmsi: int) -> list[IdentityRow]: ...
    def track(self, mmsi: int, start: datetime, end: datetime) -> list[PositionReport]: ...
    def events(self, *, mmsi: int | None = None, kind: str | None = None) -> list[Event]: ...
    def runs(self) -> list[dict[str, Any]]: ...
    def alerts(self, *, mmsi: int | None = None) -> list[dict[str, Any]]: ...
