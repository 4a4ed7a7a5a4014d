"""The detectors seawarden knows, by name, and how to build them from configuration.

Adding a detector = one module, one line here. Modules are imported lazily so a broken or
heavy detector does not slow down commands that do not use it.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from seawarden.detectors.base import Detector
from seawarden.errors import ConfigError

DETECTORS: dict[str, str] = {
    "anchor_drag": "seawarden.detectors.anchor_drag:AnchorDragDetector",
    "loitering": "seawarden.detectors.loitering:LoiteringDetector",
    "ais_gap": "seawarden.detectors.ais_gap:AisGapDetector",
    "spoofing": "seawarden.detectors.spoofing:SpoofingDetector",
    "identity": "seawarden.detectors.identity:IdentityDetector",
    "encounter": "seawarden.detectors.encounter:EncounterDetector",
    "course_speed": "seawarden.detectors.course_speed:CourseSpeedDetector",
}


def detector_class(name: str) -> type[Detector[Any, Any]]:
    try:
        target = DETECTORS[name]
    except KeyError:
        raise ConfigError(
            f"unknown detector {name!r}; known: {', '.join(sorted(DETECTORS))}"
        ) from None
    module, _, attr = target.partition(":")
    cls: type[Detector[Any, Any]] = getattr(importlib.import_module(module), attr)
    return cls


def build_detectors(
    settings: Mapping[str, Any] | None = None, *, only: list[str] | None = None
) -> list[Detector[Any, Any]]:
    """Detectors in registry order. ``settings`` maps name → parameters (or
    ``{"enabled": false}``); unknown parameters are a :class:`ConfigError`."""
    settings = settings or {}
    for name in settings:
        if name not in DETECTORS:
            raise ConfigError(f"detector config names unknown detector {name!r}")
    out: list[Detector[Any, Any]] = []
    for name in DETECTORS:
        if only is not None and name not in only:
            continue
        params = dict(settings.get(name) or {})
        if not params.pop("enabled", True):
            continue
        cls = detector_class(name)
        try:
            config = cls.config_type(**params)
        except TypeError as exc:
            raise ConfigError(f"detector {name}: {exc}") from exc
        except ValueError as exc:
            raise ConfigError(f"detector {name}: {exc}") from exc
        out.append(cls(config))
    return out


def load_detector_settings(path: str | Path) -> dict[str, Any]:
    """Read ``config/detectors.yaml`` (a mapping of detector name → parameters)."""
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read detector config ({exc})") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML ({exc})") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of detector name to parameters")
    detectors = data.get("detectors", data)
    if not isinstance(detectors, dict):
        raise ConfigError(f"{path}: 'detectors' must be a mapping")
    return detectors
