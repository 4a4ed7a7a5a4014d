"""Record factories with realistic defaults, shared by the pipeline tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from seawarden.model import PositionReport, StaticReport

T0 = datetime(2024, 12, 25, 10, 0, tzinfo=UTC)


def make_report(t: float, mmsi: int = 230_123_456, **overrides: Any) -> PositionReport:
    """A class A position in the Gulf of Finland ``t`` seconds after ``T0`` (12 kn east)."""
    values: dict[str, Any] = {
        "mmsi": mmsi,
        "time": T0 + timedelta(seconds=t),
        "lat": 59.9,
        "lon": 24.9 + t * 1e-4,
        "speed_kn": 12.0,
        "course_deg": 90.0,
        "heading_deg": 91,
        "nav_status": 0,
        "msg_type": 1,
        "source": "test",
    }
    values.update(overrides)
    return PositionReport(**values)


def make_static(t: float, mmsi: int = 230_123_456, **overrides: Any) -> StaticReport:
    values: dict[str, Any] = {
        "mmsi": mmsi,
        "time": T0 + timedelta(seconds=t),
        "imo": 9329760,
        "name": "EAGLE S",
        "callsign": "E5U4266",
        "ship_type": 80,
        "msg_type": 5,
        "source": "test",
    }
    values.update(overrides)
    return StaticReport(**values)
