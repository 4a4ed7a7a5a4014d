"""Shared test configuration: where the real data lives, and hypothesis profiles.

Real data is in ``../shared/data`` beside the repository (see its MANIFEST.md); set
``SEAWARDEN_SHARED_DATA`` to point elsewhere.
"""

from __future__ import annotations

import os
from pathlib import Path

from hypothesis import HealthCheck, settings

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("SEAWARDEN_SHARED_DATA", REPO.parent / "shared" / "data"))

settings.register_profile(
    "ci", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", max_examples=100, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
