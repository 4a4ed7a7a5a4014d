"""Areas of interest: the sea around a cable, a pipeline, or a watched zone.

A cable on a chart is a line, but a ship threatens it from anywhere within anchor-drag
reach, so the watched area of a corridor is the line buffered by a distance in metres. The
record keeps both: ``geometry`` (what containment is tested against) and ``centerline``
(what "which side of the cable" is measured against, for crossing detection).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from shapely.geometry import LineString, MultiLineString, MultiPolygon, Polygon

AreaKind = Literal["cable", "pipeline", "zone"]
AREA_KINDS: tuple[AreaKind, ...] = ("cable", "pipeline", "zone")


@dataclass(frozen=True, slots=True, kw_only=True)
class Area:
    """One area of interest, in WGS 84 lon/lat.

    ``geometry`` is the area itself (a corridor is already buffered and split at the
    antimeridian, so every longitude lies in [-180, 180]). ``centerline`` is the line a
    corridor was drawn from (``None`` for zones); ``buffer_m`` its half-width in metres.
    ``properties`` keeps the remaining GeoJSON properties (``source``, ``operator``...).
    """

    id: str
    name: str
    kind: AreaKind
    geometry: Polygon | MultiPolygon
    centerline: LineString | MultiLineString | None = None
    buffer_m: float | None = None
    properties: Mapping[str, Any] = field(default_factory=dict)

    @property
    def is_corridor(self) -> bool:
        """True when the area was buffered from a line (so it has sides)."""
        return self.centerline is not None
