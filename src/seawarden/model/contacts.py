"""What other sensors see: radar tracks, satellite detections, and where a satellite looked.

AIS is what a vessel *says*. A ship that switches its transponder off, or lies about where
it is, is only seen by sensors that do not depend on its cooperation: coastal and VTS radars
(NMEA ``TTM``/``TLL``, EUROCONTROL ASTERIX) and satellites (SAR, optical, RF geolocation).
Every such reader produces :class:`Contact` records; a satellite acquisition also produces
one :class:`SensorPass` with its footprint, because "the satellite looked here and saw
nothing" is information too. ``fusion/`` associates both with AIS tracks.

A contact never carries an MMSI: a sensor's own target label (a radar operator's tag, a
TLL target name) is kept in ``label`` for the evidence but is never trusted as identity.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from shapely.geometry.base import BaseGeometry

from seawarden.model.reports import PositionReport, StaticReport

SensorKind = Literal["radar", "sar", "optical", "rf"]
SENSOR_KINDS: tuple[str, ...] = ("radar", "sar", "optical", "rf")


@dataclass(frozen=True, slots=True, kw_only=True)
class Contact:
    """One non-AIS observation of a vessel-sized object at one event time.

    * ``sensor``: the configured sensor id (``config/sensors.yaml``) that made it.
    * ``track``: the sensor's own track number (radar TTM/TLL target number, ASTERIX track
      number) — consecutive contacts with the same ``(sensor, track)`` are one target.
      ``None`` for single-shot detections (a satellite image).
    * ``sigma_m``: 1-σ position uncertainty in metres; ``None`` means the sensor's default.
    * ``confidence``: the sensor's own detection confidence, 0..1 (SAR presence score).
    * ``pass_id``: the satellite scene/pass a detection belongs to (see :class:`SensorPass`).
    * ``status``: radar target status where the sensor gives one (``T`` tracking,
      ``Q`` acquiring, ``L`` lost).
    """

    time: datetime
    lat: float
    lon: float
    sensor: str
    kind: SensorKind
    track: str | None = None
    speed_kn: float | None = None
    course_deg: float | None = None
    heading_deg: float | None = None
    length_m: float | None = None
    confidence: float = 1.0
    sigma_m: float | None = None
    pass_id: str | None = None
    label: str | None = None
    status: str | None = None
    source: str = ""
    line_no: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class SensorPass:
    """One satellite acquisition: which sensor looked where, and when.

    ``footprint`` is a shapely Polygon/MultiPolygon in lon/lat (WGS-84). Inside it, during
    ``start``..``end``, every vessel at least ``min_length_m`` long should have been detected;
    a vessel that AIS places inside but that was not detected is "unconfirmed", and a
    detection with no AIS partner is a dark-vessel candidate.
    """

    pass_id: str
    sensor: str
    kind: SensorKind
    start: datetime
    end: datetime
    footprint: BaseGeometry
    min_length_m: float = 15.0
    source: str = ""
    line_no: int = 0

    @property
    def time(self) -> datetime:
        """The pass sorts into the stream at its start (detections follow within it)."""
        return self.start


Observation = PositionReport | StaticReport | Contact | SensorPass
"""Everything the pipeline's ordered stream carries."""
