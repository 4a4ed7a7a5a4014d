"""Per-vessel state, identity facts and the watchlist registry.

The fleet sits between normalised records and the areas/detectors: it knows, for every
MMSI heard, who the vessel claims to be, where it has just been, and whether it is a vessel
of interest. See ``docs/fleet.md``.
"""

from seawarden.fleet.fleet import Fleet, FleetConfig
from seawarden.fleet.identity import (
    Flag,
    MmsiClass,
    MmsiKind,
    classify_mmsi,
    flag_code,
    flag_of_mmsi,
    imo_valid,
    mid_table,
)
from seawarden.fleet.vessel import IdentityChange, VesselState
from seawarden.fleet.watchlist import Watchlist, WatchlistEntry, WatchlistMatch, normalise_name

__all__ = [
    "Flag",
    "Fleet",
    "FleetConfig",
    "IdentityChange",
    "MmsiClass",
    "MmsiKind",
    "VesselState",
    "Watchlist",
    "WatchlistEntry",
    "WatchlistMatch",
    "classify_mmsi",
    "flag_code",
    "flag_of_mmsi",
    "imo_valid",
    "mid_table",
    "normalise_name",
]
