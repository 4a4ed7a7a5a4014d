"""FusionConfig refuses what would make fusion lie or stall (review findings): a
confirmation that erases a spoofing finding, booleans for numbers, holds of days."""

from __future__ import annotations

from typing import Any

import pytest

from seawarden.errors import ConfigError
from seawarden.fusion.config import FusionConfig


@pytest.mark.parametrize(
    "params",
    [
        {"confirm_factor": 0.0},
        {"confirm_factor": 0.1},
        {"confirm_factor": True},
        {"gate_chi2": True},
        {"partner_min": True, "partner_window": True},
        {"hold_s": 1e300},
        {"hold_s": float("nan")},
        {"lost_s": 10 * 86400.0},
        {"length_ratio_max": None},
    ],
)
def test_harmful_parameters_are_refused(params: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        FusionConfig(**params)


def test_defaults_and_sane_values_are_accepted() -> None:
    FusionConfig()
    FusionConfig(confirm_factor=0.25, hold_s=600.0, partner_min=2, partner_window=2)
