"""Parameters of the anchor-drag detector, validated on load, with the ship-type classes.

An anchor drag is recognised from several weak signs, each with its own thresholds (see
``docs/detectors/anchor_drag.md`` for every value and why it was chosen). This module holds
them in one frozen, validated record so a run can record exactly what it used, and the AIS
ship-type classes whose vessels manoeuvre for a living (tugs, pilots, fishing, small craft)
and so weigh less.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

from seawarden.errors import ConfigError

__all__ = [
    "ANCHORED_STATUSES",
    "FISHING_TYPES",
    "INFRA_KINDS",
    "SERVICE_TYPES",
    "SMALL_CRAFT_TYPES",
    "AnchorDragConfig",
]

INFRA_KINDS = frozenset({"cable", "pipeline"})
# AIS ship types that manoeuvre slowly for a living: dredging/underwater ops (33), diving
# (34), military (35), pilot (50), SAR (51), tug (52), tender (53), anti-pollution (54),
# law enforcement (55), medical (58), towing (31, 32).
SERVICE_TYPES = frozenset({31, 32, 33, 34, 35, 50, 51, 52, 53, 54, 55, 58})
FISHING_TYPES = frozenset({30})
# sailing, pleasure craft and high-speed craft (light anchors; HSC manoeuvre at piers)
SMALL_CRAFT_TYPES = frozenset({36, 37, *range(40, 50)})
ANCHORED_STATUSES = frozenset({1, 5})  # at anchor, moored


@dataclass(frozen=True, slots=True, kw_only=True)
class AnchorDragConfig:
    """Parameters of :class:`~seawarden.detectors.anchor_drag.AnchorDragDetector`.

    Units are in the names; every value and its reason is in docs/detectors/anchor_drag.md.
    """

    # lifecycle (hysteresis pair open/close)
    open_confidence: float = 0.5
    close_confidence: float = 0.3
    min_duration_s: float = 180.0
    close_after_s: float = 900.0
    stale_after_s: float = 3 * 3600.0
    sample_s: float = 30.0
    update_min_interval_s: float = 300.0
    update_min_change: float = 0.1
    # the vessel's own transit speed
    transit_min_speed_kn: float = 5.0
    transit_tau_s: float = 1800.0
    transit_memory_s: float = 3 * 3600.0
    # speed drop
    drag_min_speed_kn: float = 1.0
    speed_ratio_start: float = 0.7
    speed_ratio_full: float = 0.35
    speed_drop_ramp_s: float = 600.0
    # heading vs course over ground
    divergence_min_speed_kn: float = 2.0
    divergence_start_deg: float = 15.0
    divergence_full_deg: float = 30.0
    divergence_tau_s: float = 120.0
    heading_baseline_tau_s: float = 3600.0
    # zig-zag: reversals of the course made good over zigzag_baseline_s
    zigzag_min_speed_kn: float = 2.0
    zigzag_max_speed_kn: float = 12.0
    zigzag_baseline_s: float = 120.0
    zigzag_baseline_min_m: float = 300.0
    turn_deg: float = 25.0
    zigzag_max_leg_s: float = 1500.0
    zigzag_start_reversals: int = 2
    zigzag_full_reversals: int = 6
    zigzag_min_leg_s: float = 240.0
    uturn_deg: float = 120.0
    # nav status inconsistent with motion
    status_moving_min_kn: float = 1.0
    status_drag_max_kn: float = 7.0
    status_start_m: float = 600.0
    status_full_m: float = 1500.0
    # AIS dark spells
    gap_min_s: float = 600.0
    gap_multiple: float = 5.0
    gap_window_s: float = 3 * 3600.0
    gap_full_count: float = 2.0
    # weights of the noisy-OR
    weight_speed_drop: float = 0.55
    weight_divergence: float = 0.75
    weight_zigzag: float = 0.85
    weight_status: float = 0.8
    weight_gaps: float = 0.45
    # where: corridors, anchorages, vessel type
    approach_m: float = 15_000.0
    approach_factor: float = 0.9
    outside_factor: float = 0.55
    zone_factor: float = 0.8
    stop_fraction_low: float = 0.2
    stop_fraction_high: float = 0.6
    anchorage_damping: float = 0.8
    service_vessel_factor: float = 0.5
    fishing_factor: float = 0.7
    small_craft_factor: float = 0.5

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not math.isfinite(value) or value < 0:
                raise ConfigError(f"anchor_drag.{f.name} must be a finite number ≥ 0, got {value}")
        unit = [f.name for f in fields(self) if _is_unit(f.name) and getattr(self, f.name) > 1]
        if unit:
            raise ConfigError(f"anchor_drag: {', '.join(unit)} must be in 0..1")
        if self.close_confidence >= self.open_confidence:
            raise ConfigError("anchor_drag: close_confidence must be below open_confidence")
        if self.speed_ratio_full >= self.speed_ratio_start:
            raise ConfigError("anchor_drag: speed_ratio_full must be below speed_ratio_start")
        if self.divergence_full_deg <= self.divergence_start_deg:
            raise ConfigError("anchor_drag: divergence_full_deg must exceed divergence_start_deg")
        if self.status_full_m <= self.status_start_m:
            raise ConfigError("anchor_drag: status_full_m must exceed status_start_m")
        if self.zigzag_full_reversals <= self.zigzag_start_reversals or self.gap_full_count <= 0:
            raise ConfigError(
                "anchor_drag: zigzag_full_reversals must exceed zigzag_start_reversals, "
                "and gap_full_count must be > 0"
            )
        if self.zigzag_max_speed_kn <= self.zigzag_min_speed_kn:
            raise ConfigError("anchor_drag: zigzag_max_speed_kn must exceed zigzag_min_speed_kn")
        if not 0 < self.turn_deg < self.uturn_deg <= 180:
            raise ConfigError("anchor_drag: need 0 < turn_deg < uturn_deg ≤ 180")
        for name in (
            "sample_s",
            "transit_tau_s",
            "divergence_tau_s",
            "heading_baseline_tau_s",
            "zigzag_baseline_s",
        ):
            if getattr(self, name) <= 0:
                raise ConfigError(f"anchor_drag.{name} must be > 0")


def _is_unit(name: str) -> bool:
    """Parameters that are shares or probabilities, in 0..1 (by naming convention)."""
    return name.startswith(("weight_", "stop_fraction_", "speed_ratio_")) or name.endswith(
        ("_confidence", "_factor", "_damping", "_change")
    )
