"""Geography helpers: the land mask (is a reported position inland?)."""

from seawarden.geo.land import LandMask, land_mask

__all__ = ["LandMask", "land_mask"]
