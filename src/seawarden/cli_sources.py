"""Command-line options for non-AIS sources, shared by ``replay``, ``live`` and ``serve``.

Radar and satellite contacts are fused only when the run knows the sensors that made them
(``--sensors``); weather grids and registry particulars are context for the risk score.
Each option also has a ``SEAWARDEN_*`` default (``pipeline.settings.EnvSettings``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
import yaml

from seawarden.errors import ConfigError
from seawarden.pipeline.settings import EnvSettings

SensorsOpt = Annotated[
    Path | None,
    typer.Option(help="non-AIS sensors: radars, satellites (YAML; config/sensors.example.yaml)"),
]
WeatherOpt = Annotated[
    list[Path] | None, typer.Option(help="wind/sea-state grid, GRIB2 or CSV (repeatable)")
]
RegistryOpt = Annotated[
    list[Path] | None, typer.Option(help="vessel particulars by IMO, CSV (repeatable)")
]
FusionOpt = Annotated[
    Path | None, typer.Option(help="fusion and weather parameters (YAML: fusion:, weather:)")
]

_MAX_PARAMS_BYTES = 100_000


def source_settings(
    env: EnvSettings,
    *,
    sensors: Path | None,
    weather: list[Path] | None,
    registry: list[Path] | None,
    fusion: Path | None,
) -> dict[str, Any]:
    """RunConfig keyword arguments for the non-AIS sources of a run."""
    out: dict[str, Any] = {
        "sensors": sensors or env.sensors,
        "weather": tuple(weather or env.weather),
        "registry": tuple(registry or env.registry),
    }
    if fusion is not None:
        params = _read_params(fusion)
        out["fusion"] = params.get("fusion") or {}
        out["weather_params"] = params.get("weather") or {}
    return out


def _read_params(path: Path) -> dict[str, Any]:
    try:
        if path.stat().st_size > _MAX_PARAMS_BYTES:
            raise ConfigError(f"{path}: over {_MAX_PARAMS_BYTES} bytes")
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from exc
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc})") from exc
    if not isinstance(data, dict) or set(data) - {"fusion", "weather"}:
        raise ConfigError(f"{path}: expected a mapping with sections fusion and/or weather")
    for name in ("fusion", "weather"):
        if data.get(name) is not None and not isinstance(data[name], dict):
            raise ConfigError(f"{path}: [{name}] must be a mapping of parameter: value")
    return data
