"""Effective configuration of a run, built from CLI options and ``SEAWARDEN_*`` variables.

Everything that changes what a run outputs lives here, so it can be recorded beside the
output (``runs`` table, summary) and hashed into the resume key: resuming with a different
configuration would silently mix two runs.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
from pydantic_settings import BaseSettings, SettingsConfigDict

from seawarden.areas.tracker import AreaTracker, AreaTrackerConfig
from seawarden.clock import EPOCH
from seawarden.fleet.fleet import FleetConfig
from seawarden.ingest.nmea import NmeaConfig
from seawarden.pipeline.core import PIPELINE_VERSION, CoreConfig
from seawarden.pipeline.order import OrderConfig
from seawarden.risk.stage import RiskSettings


class EnvSettings(BaseSettings):
    """Defaults a deployment sets once in its environment (``SEAWARDEN_AREAS=…``)."""

    model_config = SettingsConfigDict(env_prefix="SEAWARDEN_", extra="ignore")

    areas: Path | None = None
    watchlist: list[Path] = []
    # a SQLite file or a postgresql:// DSN (store.open_store); a Path would fold "//" to "/"
    store: str | None = None
    sensors: Path | None = None  # non-AIS sensors (radars, satellites): config/sensors.yaml
    weather: list[Path] = []  # GRIB2 / CSV wind and sea-state grids
    registry: list[Path] = []  # vessel particulars by IMO (risk priors)
    lateness_s: float = 60.0
    dedup_window_s: float = 3.0
    log_level: str = "INFO"


def env_settings() -> EnvSettings:
    """Read the environment now (not at import), so tests and embedders control it."""
    return EnvSettings()


@dataclass(frozen=True, slots=True, kw_only=True)
class RunConfig:
    areas: Path | None = None
    watchlists: tuple[Path, ...] = ()
    nmea: NmeaConfig = field(default_factory=NmeaConfig)
    order: OrderConfig = field(default_factory=OrderConfig)
    fleet: FleetConfig = field(default_factory=FleetConfig)
    area_tracker: AreaTrackerConfig = field(default_factory=AreaTrackerConfig)
    core: CoreConfig = field(default_factory=CoreConfig)
    input_format: str | None = None
    assume_time: datetime = EPOCH
    # detector name -> parameters ({"enabled": false} turns one off); None = no detectors
    detectors: dict[str, Any] | None = field(default_factory=dict)
    risk: RiskSettings = field(default_factory=RiskSettings)
    model: Path | None = None  # learned normalcy model (seawarden learn)
    # Non-AIS sources (issue 6): sensors file (radars/satellites; None = contacts are
    # counted, not fused), fusion parameters (fusion/config.py FusionConfig), weather grids
    # and their parameters (fusion/weather.py WeatherConfig), registry particulars CSVs.
    sensors: Path | None = None
    fusion: dict[str, Any] = field(default_factory=dict)
    weather: tuple[Path, ...] = ()
    weather_params: dict[str, Any] = field(default_factory=dict)
    registry: tuple[Path, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "areas": str(self.areas) if self.areas else None,
            "watchlists": [str(w) for w in self.watchlists],
            "input_format": self.input_format,
            "assume_time": self.assume_time.isoformat(),
            "detectors": self.detectors,
            "model": str(self.model) if self.model else None,
            "sensors": str(self.sensors) if self.sensors else None,
            "fusion": self.fusion,
            "weather": [str(w) for w in self.weather],
            "weather_params": self.weather_params,
            "registry": [str(r) for r in self.registry],
        }
        for name in ("nmea", "order", "fleet", "area_tracker", "core", "risk"):
            out[name] = asdict(getattr(self, name))
        return out

    def digest(self) -> str:
        data = orjson.dumps(self.to_dict(), option=orjson.OPT_SORT_KEYS, default=str)
        return hashlib.sha256(data).hexdigest()[:16]


def versions() -> dict[str, str]:
    from importlib.metadata import version

    from seawarden import __version__

    return {
        "seawarden": __version__,
        "pipeline": PIPELINE_VERSION,
        "area_tracker": AreaTracker.version,
        "pyais": version("pyais"),
        "shapely": version("shapely"),
    }
