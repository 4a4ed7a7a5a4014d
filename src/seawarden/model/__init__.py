"""Pure data records that flow through the pipeline.

Every record is an immutable, slotted dataclass. Units live in field names
(``speed_kn``, ``course_deg``); times are timezone-aware UTC ``datetime``; AIS
"not available" sentinels have already become ``None`` (see ``ingest.normalise``).
"""

from seawarden.model.contacts import SENSOR_KINDS, Contact, Observation, SensorKind, SensorPass
from seawarden.model.events import Event, EventPhase, event_id
from seawarden.model.reports import (
    PositionReport,
    Record,
    Rejection,
    StaticReport,
)

__all__ = [
    "SENSOR_KINDS",
    "Contact",
    "Event",
    "EventPhase",
    "Observation",
    "PositionReport",
    "Record",
    "Rejection",
    "SensorKind",
    "SensorPass",
    "StaticReport",
    "event_id",
]
