"""The configured non-AIS sensors: where each radar stands, how far it sees, how precise it is.

A radar reports targets relative to itself (TTM: range and bearing; ASTERIX cat 048: rho and
theta), so its position must be known to place them; its range says where "the radar saw
nothing" means something. Satellites have no fixed position (each pass carries its own
footprint) but have a typical position error and a smallest detectable vessel. Sentences in
a shared feed are attributed to a sensor by their tag-block station (``s:``) or, for
ASTERIX, by the SAC/SIC pair in the record — never guessed: an unattributed contact is
rejected as ``unknown_sensor``.

``config/sensors.example.yaml`` documents the file; ``docs/sources.md`` the whole picture.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from seawarden.errors import ConfigError
from seawarden.model.contacts import SensorKind

# Default 1-σ position error per kind when the file gives none: a VTS radar at a few km is
# good to tens of metres; Sentinel-1 vessel detections to about a pixel cluster (~100-200 m);
# RF geolocation (HawkEye-style) to kilometres.
DEFAULT_SIGMA_M: dict[str, float] = {"radar": 50.0, "sar": 150.0, "optical": 60.0, "rf": 2000.0}
DEFAULT_MIN_LENGTH_M: dict[str, float] = {"radar": 10.0, "sar": 20.0, "optical": 15.0, "rf": 0.0}
MAX_SENSORS = 1000
MAX_FILE_BYTES = 1_000_000
_EARTH_R = 6_371_008.8


class _Asterix(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    sac: int = Field(ge=0, le=255)
    sic: int = Field(ge=0, le=255)


class _SensorModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")
    kind: Literal["radar", "sar", "optical", "rf"]
    name: str | None = Field(default=None, max_length=200)
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    range_m: float | None = Field(default=None, gt=0, le=500_000)
    sigma_m: float | None = Field(default=None, gt=0, le=50_000)
    min_length_m: float | None = Field(default=None, ge=0, le=500)
    stations: tuple[str, ...] = Field(default=(), max_length=50)
    asterix: _Asterix | None = None

    @model_validator(mode="after")
    def _radar_needs_site(self) -> _SensorModel:
        if self.kind == "radar" and (self.lat is None or self.lon is None or self.range_m is None):
            raise ValueError(f"radar {self.id!r} needs lat, lon and range_m")
        for s in self.stations:
            if not s or len(s) > 64 or not s.isprintable():
                raise ValueError(f"sensor {self.id!r}: bad station name {s!r}")
        return self


class _FileModel(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sensors: list[_SensorModel] = Field(default_factory=list, max_length=MAX_SENSORS)


@dataclass(frozen=True, slots=True, kw_only=True)
class SensorConfig:
    """One sensor. ``lat``/``lon``/``range_m`` are set for radars (required) and optional
    otherwise; ``sigma_m`` and ``min_length_m`` are filled from the kind's default."""

    id: str
    kind: SensorKind
    sigma_m: float
    min_length_m: float
    name: str | None = None
    lat: float | None = None
    lon: float | None = None
    range_m: float | None = None
    stations: tuple[str, ...] = ()
    asterix: tuple[int, int] | None = None  # (SAC, SIC)

    def distance_m(self, lat: float, lon: float) -> float | None:
        """Great-circle distance from the sensor's site, or None if it has no site."""
        if self.lat is None or self.lon is None:
            return None
        p1, p2 = math.radians(self.lat), math.radians(lat)
        dp, dl = p2 - p1, math.radians(lon - self.lon)
        a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
        return 2 * _EARTH_R * math.asin(min(1.0, math.sqrt(a)))

    def covers(self, lat: float, lon: float) -> bool:
        """Whether a vessel at this point is within the radar's range (always False for a
        sensor without a site: a satellite's coverage is its pass footprint)."""
        d = self.distance_m(lat, lon)
        return d is not None and self.range_m is not None and d <= self.range_m

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "name": self.name,
            "lat": self.lat,
            "lon": self.lon,
            "range_m": self.range_m,
            "sigma_m": self.sigma_m,
            "min_length_m": self.min_length_m,
            "stations": list(self.stations),
            "asterix": list(self.asterix) if self.asterix else None,
        }


class SensorRegistry:
    """The sensors of a run, looked up by id, by feed station, or by ASTERIX SAC/SIC."""

    def __init__(self, sensors: Sequence[SensorConfig] = ()) -> None:
        self._by_id: dict[str, SensorConfig] = {}
        self._by_station: dict[str, SensorConfig] = {}
        self._by_asterix: dict[tuple[int, int], SensorConfig] = {}
        for s in sensors:
            if s.id in self._by_id:
                raise ConfigError(f"sensor id {s.id!r} appears twice")
            self._by_id[s.id] = s
            for st in (s.id, *s.stations):
                other = self._by_station.get(st)
                if other is not None and other.id != s.id:
                    raise ConfigError(f"station {st!r} is claimed by {other.id!r} and {s.id!r}")
                self._by_station[st] = s
            if s.asterix is not None:
                if s.asterix in self._by_asterix:
                    raise ConfigError(f"ASTERIX SAC/SIC {s.asterix} appears twice")
                self._by_asterix[s.asterix] = s

    def __len__(self) -> int:
        return len(self._by_id)

    def __iter__(self) -> Iterator[SensorConfig]:
        return iter(self._by_id.values())

    def get(self, sensor_id: str) -> SensorConfig | None:
        return self._by_id.get(sensor_id)

    def by_station(self, station: str | None) -> SensorConfig | None:
        """The sensor whose id or listed station is ``station`` (a tag-block ``s:``)."""
        return self._by_station.get(station) if station else None

    def by_asterix(self, sac: int, sic: int) -> SensorConfig | None:
        return self._by_asterix.get((sac, sic))

    def radars(self) -> list[SensorConfig]:
        return [s for s in self._by_id.values() if s.kind == "radar"]

    def to_dict(self) -> list[dict[str, Any]]:
        return [s.to_dict() for s in self._by_id.values()]


def load_sensors(path: str | Path) -> SensorRegistry:
    """Read ``sensors.yaml``; any problem is a :class:`ConfigError` naming the file."""
    p = Path(path)
    try:
        size = p.stat().st_size
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read sensors file ({exc.strerror})") from exc
    if size > MAX_FILE_BYTES:
        raise ConfigError(f"{p}: sensors file is over {MAX_FILE_BYTES} bytes")
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{p}: not valid YAML ({exc})") from exc
    return sensors_from_data(data, where=str(p))


def sensors_from_data(data: Any, *, where: str = "sensors") -> SensorRegistry:
    try:
        model = _FileModel.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(x) for x in first["loc"])
        raise ConfigError(f"{where}: {loc}: {first['msg']}") from exc
    return SensorRegistry(
        [
            SensorConfig(
                id=m.id,
                kind=m.kind,
                name=m.name,
                lat=m.lat,
                lon=m.lon,
                range_m=m.range_m,
                sigma_m=m.sigma_m if m.sigma_m is not None else DEFAULT_SIGMA_M[m.kind],
                min_length_m=m.min_length_m
                if m.min_length_m is not None
                else DEFAULT_MIN_LENGTH_M[m.kind],
                stations=m.stations,
                asterix=(m.asterix.sac, m.asterix.sic) if m.asterix else None,
            )
            for m in model.sensors
        ]
    )
