"""Fixtures for fleet tests: the real watchlists in ../shared/data (tests only)."""

from __future__ import annotations

from pathlib import Path

import pytest

from .factories import GUR, SANCTIONS


@pytest.fixture(scope="session")
def gur_path() -> Path:
    assert GUR.exists(), f"real GUR list missing at {GUR}; see shared/data/MANIFEST.md"
    return GUR


@pytest.fixture(scope="session")
def sanctions_path() -> Path:
    assert SANCTIONS.exists(), f"sanctions table missing at {SANCTIONS}"
    return SANCTIONS
