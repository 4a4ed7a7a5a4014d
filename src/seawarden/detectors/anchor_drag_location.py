"""Where and what: how much an anchor-drag motion signature matters at this spot, for this ship.

The same yaw, zig-zag or slow-down means little in open water, a lot inside a cable or
pipeline corridor, and somewhere between while the ship closes on one. It means less where
many vessels stop (anchorages, ports, by the learned normalcy model) and for craft that
manoeuvre for a living (tugs, pilots, dredgers, trawlers, small craft). This module turns
the motion evidence into a confidence:

``confidence = motion × location × vessel-type × anchorage``

and says in words why (``location``, ``damped``), for the event's reasons.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from seawarden.detectors._kinematics import CorridorGeometry, CorridorHit, abs_angle_diff_deg
from seawarden.detectors.anchor_drag_config import (
    FISHING_TYPES,
    INFRA_KINDS,
    SERVICE_TYPES,
    SMALL_CRAFT_TYPES,
    AnchorDragConfig,
)
from seawarden.detectors.anchor_drag_signals import AnchorDragState, ramp
from seawarden.detectors.base import Context
from seawarden.model import PositionReport

if TYPE_CHECKING:
    from seawarden.areas.index import AreaIndex

__all__ = ["Assessment", "CorridorCache", "locate"]

_NO_EDGES: dict[str, float] = {}  # read-only: prev_edges when no corridor was near


@dataclass(slots=True)
class Assessment:
    """The confidence at one sample and what went into it."""

    confidence: float
    motion: float
    signals: dict[str, float]
    area_id: str | None = None
    hit: CorridorHit | None = None
    location: str = ""
    damped: list[str] = field(default_factory=list)


class CorridorCache:
    """Corridor centrelines of the current area index, rebuilt when the index changes."""

    def __init__(self, approach_m: float) -> None:
        self._approach_m = approach_m
        self._index: AreaIndex | None = None
        self._geo: CorridorGeometry | None = None

    def get(self, areas: AreaIndex | None) -> CorridorGeometry | None:
        if areas is None:
            return None
        if areas is not self._index:
            from seawarden.areas.geodesic import line_parts_unwrapped

            lines = [
                (a.id, a.buffer_m or 0.0, [p.tolist() for p in line_parts_unwrapped(a.centerline)])
                for a in areas.areas
                if a.kind in INFRA_KINDS and a.centerline is not None
            ]
            self._geo = CorridorGeometry(lines, self._approach_m)
            self._index = areas
        return self._geo


def locate(
    c: AnchorDragConfig,
    a: Assessment,
    state: AnchorDragState,
    r: PositionReport,
    ctx: Context,
    geo: CorridorGeometry | None,
) -> None:
    """Scale ``a.motion`` into ``a.confidence`` by location, vessel type and anchorage."""
    factor = c.outside_factor
    a.location = "not near a watched cable or pipeline"
    hits = geo.near(r.lat, r.lon) if geo is not None else []
    a.hit = hits[0] if hits else None
    infra: list[str] = []
    zones: list[str] = []
    if ctx.areas is not None:
        for area_id in ctx.inside:
            kind = ctx.areas.area(area_id).kind
            (infra if kind in INFRA_KINDS else zones).append(area_id)
    prev = state.prev_edges or _NO_EDGES
    state.prev_edges = {h.area_id: h.edge_distance_m for h in hits} if hits else None
    if infra:
        for area_id in infra:
            if area_id not in state.crossed and state.onset is not None:
                state.crossed = (*state.crossed, area_id)[-8:]
        chosen = infra[0]
        if state.area_id is not None and state.area_id in infra:
            chosen = state.area_id
        elif a.hit is not None and a.hit.area_id in infra:
            chosen = a.hit.area_id
        factor, a.area_id = 1.0, chosen
        kind = ctx.areas.area(chosen).kind if ctx.areas is not None else "cable"
        a.location = f"inside {kind} corridor {chosen}"
    else:
        course = r.course_deg if r.course_deg is not None else state.sample_course
        for hit in hits:
            edge = max(0.0, hit.edge_distance_m)
            before = prev.get(hit.area_id)
            towards = (
                before is not None
                and hit.edge_distance_m < before
                and course is not None
                and abs_angle_diff_deg(course, hit.bearing_deg) <= 75
            )
            if not (towards or edge == 0.0):
                continue
            near = c.outside_factor + (c.approach_factor - c.outside_factor) * (
                1.0 - edge / max(c.approach_m, 1.0)
            )
            if near > factor:
                factor, a.area_id, a.hit = near, hit.area_id, hit
                a.location = f"heading towards corridor {hit.area_id}, {edge / 1000:.1f} km away"
        if zones and c.zone_factor > factor:
            factor, a.area_id = c.zone_factor, zones[0]
            a.location = f"inside watched zone {zones[0]}"
    kind_factor = 1.0
    ship_type = ctx.vessel.ship_type
    if ship_type in SERVICE_TYPES:
        kind_factor = c.service_vessel_factor
        a.damped.append(f"service vessel (AIS type {ship_type})")
    elif ship_type in FISHING_TYPES:
        kind_factor = c.fishing_factor
        a.damped.append("fishing vessel (trawling looks alike)")
    elif ship_type in SMALL_CRAFT_TYPES or r.msg_type in (18, 19):
        kind_factor = c.small_craft_factor
        a.damped.append("small craft (class B or pleasure)")
    port = 1.0
    if ctx.normalcy is not None:
        sf = ctx.normalcy.stop_fraction(r.lat, r.lon)
        if sf is not None:
            port = 1.0 - c.anchorage_damping * ramp(sf, c.stop_fraction_low, c.stop_fraction_high)
            if port < 1.0:
                a.damped.append(f"{sf:.0%} of reports here are from stopped vessels")
    a.confidence = a.motion * factor * kind_factor * port
