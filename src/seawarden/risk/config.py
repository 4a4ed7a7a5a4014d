"""Read the risk, monitoring and alert settings from YAML (``config/risk.yaml``).

Weights and thresholds are policy, not code: an operations centre tunes them to its own
tolerance for false alarms, and every run records the values it used.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from seawarden.alerts.lifecycle import AlertConfig
from seawarden.errors import ConfigError
from seawarden.risk.monitor import MonitorConfig
from seawarden.risk.score import DEFAULT_WEIGHTS, RiskConfig
from seawarden.risk.stage import RiskSettings

_SECTIONS = {"risk": RiskConfig, "monitor": MonitorConfig, "alerts": AlertConfig}


def load_risk_settings(path: str | Path) -> RiskSettings:
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read risk config ({exc})") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML ({exc})") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping with sections risk, monitor, alerts")
    unknown = set(data) - set(_SECTIONS) - {"approach_every_s"}
    if unknown:
        raise ConfigError(f"{path}: unknown section(s) {sorted(unknown)}")
    built: dict[str, Any] = {}
    for name, cls in _SECTIONS.items():
        section = dict(data.get(name) or {})
        if name == "risk":
            if "weights" in section:
                section["weights"] = {**DEFAULT_WEIGHTS, **dict(section["weights"])}
            if "levels" in section:
                section["levels"] = tuple(float(x) for x in section["levels"])
            if "location_independent" in section:
                section["location_independent"] = tuple(section["location_independent"])
            if "same_evidence" in section:
                section["same_evidence"] = tuple(tuple(g) for g in section["same_evidence"])
        try:
            built[name] = cls(**section)
        except TypeError as exc:
            raise ConfigError(f"{path}: [{name}] {exc}") from exc
    approach_every_s = float(data.get("approach_every_s", RiskSettings().approach_every_s))
    return RiskSettings(
        risk=built["risk"],
        monitor=built["monitor"],
        alerts=built["alerts"],
        approach_every_s=approach_every_s,
    )
