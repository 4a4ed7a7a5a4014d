"""Factories and data paths for fleet tests.

Real data lives in ``../shared/data`` (see its MANIFEST.md): the GUR shadow-fleet list and the
sanctions-by-IMO table are used in place (tests only, no licence to ship them).
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from seawarden.model import PositionReport, StaticReport

REPO = Path(__file__).resolve().parents[2]
# Same convention as tests/conftest.py: SEAWARDEN_SHARED_DATA overrides ../shared/data.
SHARED = Path(os.environ.get("SEAWARDEN_SHARED_DATA", REPO.parent / "shared" / "data"))
GUR = SHARED / "watchlists" / "gur_vessels_master.csv"
SANCTIONS = SHARED / "watchlists" / "sanctions_by_imo.csv"
EXAMPLE = REPO / "config" / "watchlist.csv"
T0 = datetime(2024, 12, 25, 10, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def make_position(t: float, mmsi: int = 230123456, **overrides: Any) -> PositionReport:
    """A realistic class A position in the Gulf of Finland, ``t`` seconds after T0."""
    values: dict[str, Any] = {
        "mmsi": mmsi,
        "time": at(t),
        "lat": 59.95,
        "lon": 24.95,
        "speed_kn": 8.5,
        "course_deg": 250.0,
        "heading_deg": 251,
        "nav_status": 0,
        "msg_type": 1,
        "source": "test",
    }
    values.update(overrides)
    return PositionReport(**values)


def make_static(t: float, mmsi: int = 230123456, **overrides: Any) -> StaticReport:
    """A static report carrying only what ``overrides`` give (type 5 unless told)."""
    values: dict[str, Any] = {"mmsi": mmsi, "time": at(t), "msg_type": 5, "source": "test"}
    values.update(overrides)
    return StaticReport(**values)
