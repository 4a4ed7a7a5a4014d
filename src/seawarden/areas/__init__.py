"""Areas of interest around undersea cables and pipelines, and ships' visits to them.

Load corridors and zones from GeoJSON (:func:`load_areas`), index them
(:class:`AreaIndex`), and turn position reports into ``area.enter`` / ``area.dwell`` /
``area.exit`` / ``area.crossing`` events (:class:`AreaTracker`).
"""

from seawarden.areas.index import AreaIndex
from seawarden.areas.load import load_areas, parse_areas
from seawarden.areas.tracker import AreaTracker, AreaTrackerConfig
from seawarden.model.area import Area

__all__ = ["Area", "AreaIndex", "AreaTracker", "AreaTrackerConfig", "load_areas", "parse_areas"]
