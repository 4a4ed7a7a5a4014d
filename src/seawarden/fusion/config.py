"""Settings of the fusion stage (AIS ↔ radar/satellite association and its findings).

Every threshold a fusion finding depends on lives here, so that each event can carry the
parameters it was made with (``params``) and a run can be reproduced. ``docs/fusion.md``
explains each one and why its default is what it is.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from seawarden.errors import ConfigError

VERSION = "1"


_TIME_BOUNDS: dict[str, float] = {
    "hold_s": 600.0,
    "max_extrapolate_s": 3600.0,
    "max_interp_gap_s": 6 * 3600.0,
    "silent_s": 6 * 3600.0,
    "lost_s": 3600.0,
    "approach_horizon_s": 6 * 3600.0,
    "confirm_every_s": 6 * 3600.0,
    "confirm_valid_s": 24 * 3600.0,
    "scan_s": 60.0,
    "update_every_s": 3600.0,
    "heard_within_s": 3600.0,
}


@dataclass(frozen=True, slots=True, kw_only=True)
class FusionConfig:
    """Fusion parameters; validated on construction (``ConfigError`` names the field)."""

    hold_s: float = 30.0
    gate_chi2: float = 9.21
    ais_sigma_m: float = 25.0
    accel_sigma_mps2: float = 0.05
    max_extrapolate_s: float = 600.0
    length_ratio_max: float = 2.0
    confirm_updates: int = 3
    partner_min: int = 3
    partner_window: int = 5
    silent_s: float = 180.0
    lost_s: float = 300.0
    approach_horizon_s: float = 3600.0
    contradict_m: float = 1000.0
    confirm_every_s: float = 600.0
    confirm_factor: float = 0.5
    confirm_valid_s: float = 1800.0
    min_length_m: float = 12.0
    # -- extensions (keyword defaults) ---------------------------------------------------
    scan_s: float = 2.0  # contacts of one sensor within this span are one scan
    speed_sigma_mps: float = 0.3  # error of an AIS SOG/COG velocity, 1 σ per axis
    max_speed_kn: float = 40.0  # bounds the candidate search radius
    max_interp_gap_s: float = 900.0  # bracketing reports further apart → extrapolate
    contradict_scans: int = 3  # consecutive contradicting scans before `contradicted` opens
    update_every_s: float = 300.0  # open findings re-emit at most this often
    evidence_n: int = 10  # contacts kept as evidence
    history_n: int = 256  # AIS reports kept per vessel
    # -- track restart (a radar reusing a target number, or a track that jumped) ---------
    restart_gates: float = 10.0  # contact this many gate radii from the track's prediction
    restart_m: float = 5000.0  # ... or this far from it → a new target
    # -- dark_tracked and coverage (same names and defaults as the ais_gap detector) -----
    min_others_heard: int = 3  # other ships heard near the last AIS position, needed
    heard_within_s: float = 300.0  # "heard" = within this long before the contact
    no_coverage_conf_max: float = 0.45  # dark_tracked confidence cap without coverage info
    stationary_conf_max: float = 0.4  # cap for a vessel at rest (AIS and radar < 1 kn)
    silence_evidence: float = 37.0  # missed reports (weighted) for 63 % of the confidence rise
    # -- velocity consistency (a contact's speed/course vs the AIS vessel's velocity) -----
    contact_speed_sigma_kn: float = 1.0  # a radar tracker's speed error, 1 σ
    contact_course_sigma_deg: float = 7.0  # ... and course error, 1 σ (tracked target)
    velocity_min_kn: float = 2.0  # slower contacts: course meaningless, position only
    velocity_gate_chi2: float = 13.82  # 2-dof 99.9 % gate on the velocity innovation

    def __post_init__(self) -> None:
        positive = (
            "hold_s", "gate_chi2", "ais_sigma_m", "accel_sigma_mps2", "max_extrapolate_s",
            "silent_s", "lost_s", "approach_horizon_s", "contradict_m", "confirm_every_s",
            "confirm_valid_s", "scan_s", "speed_sigma_mps", "max_speed_kn", "max_interp_gap_s",
            "update_every_s", "restart_gates", "restart_m", "heard_within_s", "silence_evidence",
            "contact_speed_sigma_kn", "contact_course_sigma_deg", "velocity_min_kn",
            "velocity_gate_chi2",
        )  # fmt: skip
        for name in positive:
            v = getattr(self, name)
            ok = isinstance(v, int | float) and not isinstance(v, bool)
            if not (ok and math.isfinite(v) and v > 0):
                raise ConfigError(f"fusion config: {name} must be a finite number > 0, got {v!r}")
        # Times bound what is held in memory and how late a finding may come: a contact held
        # for a day is a finding a day late (and a day of contacts in memory).
        for name, most in _TIME_BOUNDS.items():
            if getattr(self, name) > most:
                raise ConfigError(f"fusion config: {name} must be <= {most:g} s")
        if not (isinstance(self.length_ratio_max, int | float) and self.length_ratio_max >= 1.0):
            raise ConfigError("fusion config: length_ratio_max must be >= 1")
        # A confirmation changes how much a spoofing finding is believed; it never erases it.
        if not (
            isinstance(self.confirm_factor, int | float)
            and not isinstance(self.confirm_factor, bool)
            and 0.25 <= self.confirm_factor <= 1.0
        ):
            raise ConfigError("fusion config: confirm_factor must be in 0.25..1")
        if not (math.isfinite(self.min_length_m) and self.min_length_m >= 0):
            raise ConfigError("fusion config: min_length_m must be >= 0")
        for name in ("confirm_updates", "partner_min", "partner_window", "contradict_scans",
                     "evidence_n", "history_n", "min_others_heard"):  # fmt: skip
            v = getattr(self, name)
            if not (isinstance(v, int) and not isinstance(v, bool) and v >= 1):
                raise ConfigError(f"fusion config: {name} must be an integer >= 1")
        for name in ("no_coverage_conf_max", "stationary_conf_max"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ConfigError(f"fusion config: {name} must be in 0..1")
        if self.partner_min > self.partner_window:
            raise ConfigError("fusion config: partner_min must be <= partner_window")
        if self.history_n < 2:
            raise ConfigError("fusion config: history_n must be >= 2")

    def params(self) -> dict[str, Any]:
        """The parameters as a JSON-ready dict (carried by every event)."""
        return dataclasses.asdict(self)
