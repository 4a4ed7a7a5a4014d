"""Persistence of vessels, identity history, positions, events and run checkpoints."""

from seawarden.store.base import RunInfo, Store, VesselRow
from seawarden.store.sqlite import SQLiteStore

__all__ = ["RunInfo", "SQLiteStore", "Store", "VesselRow"]
