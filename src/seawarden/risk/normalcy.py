"""A learned model of normal traffic: what speeds and courses are usual where, for which ships.

A fixed rule ("a ship below 1 kn outside a port is suspicious") fires all day in an anchorage
and never in a lane where ships always crawl. Detectors therefore ask this model how unusual a
report is *here*: it keeps, per H3 cell (resolution 6, ~36 km², with parent cells at 5 and 4 as
a fallback where a fine cell saw too little traffic) and per ship-type group, histograms of
speed over ground and course over ground learnt from history, plus per-cell facts: the share of
vessel-time spent stopped (< 1 kn: an anchorage/port proxy), the typical report interval (a
coverage proxy) and the typical time a vessel spends in the cell per visit.

The method is traffic-pattern learning in the style of Pallotta et al. (TREAD, 2013) and the
Global Fishing Watch gridded activity layers, reduced to counting: Laplace-smoothed histograms
with a small neighbour-bin kernel, so each score can be explained as "ships of this type spend
x % of their time here at this speed and course". See ``docs/normalcy.md``.

Everything answers ``None`` where the model has seen too little (fewer than ``min_reports``
reports or ``min_vessels`` vessels in the cell and its parents): unseen waters mean "no data",
never "abnormal". Lookups are dictionary hits on a snapped position (µs per call).
"""

from __future__ import annotations

import math
from array import array
from bisect import bisect_right
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from h3.api import basic_int as h3i

from seawarden.errors import ConfigError

__all__ = [
    "COURSE_BINS",
    "GROUPS",
    "N_JOINT",
    "SPEED_EDGES_KN",
    "CellStats",
    "EntryCounts",
    "NormalcyModel",
    "NormalcyParams",
    "calibrate",
    "raw_tables",
    "ship_group",
]

FloatArray = npt.NDArray[np.float64]

# -- bins ----------------------------------------------------------------------------------
SPEED_EDGES_KN: tuple[float, ...] = (0.5, 1.0, 2.0, 3.0, 5.0, 7.0, 10.0, 13.0, 16.0, 20.0)
N_SPEED = len(SPEED_EDGES_KN) + 1  # 11 bins: 0–0.5, 0.5–1, 1–2, … 16–20, 20+ kn
STOP_SPEED_KN = 1.0  # below this a report counts as "stopped" (GFW anchorage practice)
N_STOPPED = 2  # speed bins below STOP_SPEED_KN
N_MOVING = N_SPEED - N_STOPPED  # 9
COURSE_BINS = 16  # 22.5° each, bin 0 centred on north; course only for moving reports
COURSE_BIN_DEG = 360.0 / COURSE_BINS
# Joint outcomes: the two stopped speed bins (course ignored), then moving speed × course.
N_JOINT = N_STOPPED + N_MOVING * COURSE_BINS  # 146
SPEED_COL = N_JOINT  # score-table columns for the speed-only marginal
COURSE_COL = N_JOINT + N_SPEED  # … and for the course-only marginal (moving reports)
N_TABLE = COURSE_COL + COURSE_BINS

GROUPS: tuple[str, ...] = (
    "all",
    "cargo",
    "tanker",
    "passenger",
    "fishing",
    "service",
    "pleasure",
    "other",
)
ALL = 0


def ship_group(ship_type: int | None) -> int:
    """Index into :data:`GROUPS` of an AIS ship type; 0 ("all") when unknown."""
    if ship_type is None or ship_type <= 0:
        return ALL
    if 70 <= ship_type <= 79:
        return 1
    if 80 <= ship_type <= 89:
        return 2
    if 60 <= ship_type <= 69:
        return 3
    if ship_type == 30:
        return 4
    if 50 <= ship_type <= 59 or ship_type in (31, 32):  # tugs/towing, pilots, SAR, law…
        return 5
    if ship_type in (36, 37):
        return 6
    return 7


def speed_bin(speed_kn: float) -> int:
    return bisect_right(SPEED_EDGES_KN, speed_kn)


def course_bin(course_deg: float) -> int:
    return int(((course_deg % 360.0) + COURSE_BIN_DEG / 2) // COURSE_BIN_DEG) % COURSE_BINS


# -- parameters ----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True, kw_only=True)
class NormalcyParams:
    """How the model is learnt and when it is trusted.

    - ``h3_resolution`` (6, ~36 km²): fine cell; ``parent_resolutions`` (5, 4) the fallbacks.
    - ``snap_deg`` (0.005°, ~550 m): positions are snapped to this grid before the H3 lookup,
      so cell lookups are cached dictionary hits; fit and scoring snap identically.
    - ``min_reports`` (30) / ``min_vessels`` (3): support a cell needs before it answers.
    - ``min_visits`` (3): visits a fine cell needs before ``typical_dwell_s`` answers.
    - ``episode_s`` (600 s): histograms count vessel-episodes, i.e. distinct (vessel, 10-min
      slot) pairs per outcome, not reports: report rates differ 90-fold between a fast ferry
      and a ship at anchor, and a ship moored all day must not drown a busy lane.
    - ``alpha`` (0.1): Laplace pseudo-count (in vessel-episodes) given to every outcome.
    - ``weight_cap_s`` (600 s): for ``stop_fraction`` a report stands for the time to the
      vessel's next report, at most this (vessel-time, not report counts).
    - ``visit_gap_s`` (1800 s): a silence longer than this ends a visit to a cell.
    - ``interval_max_s`` (3600 s): longer gaps are outages, not the report interval.
    - ``calibration_quantile`` (0.95): share of training reports scoring below 0.5.
    """

    h3_resolution: int = 6
    parent_resolutions: tuple[int, ...] = (5, 4)
    snap_deg: float = 0.005
    min_reports: int = 30
    min_vessels: int = 3
    min_visits: int = 3
    episode_s: float = 600.0
    alpha: float = 0.1
    weight_cap_s: float = 600.0
    visit_gap_s: float = 1800.0
    interval_max_s: float = 3600.0
    calibration_quantile: float = 0.95

    def __post_init__(self) -> None:
        if not 0 <= self.h3_resolution <= 15:
            raise ConfigError(f"h3_resolution must be 0..15, got {self.h3_resolution}")
        levels = list(self.parent_resolutions)
        if any(not 0 <= r < self.h3_resolution for r in levels) or levels != sorted(
            set(levels), reverse=True
        ):
            raise ConfigError(
                "parent_resolutions must be distinct, coarser than h3_resolution and in "
                f"decreasing order, got {self.parent_resolutions}"
            )
        if not 0.0001 <= self.snap_deg <= 0.1:
            raise ConfigError(f"snap_deg must be within 0.0001..0.1, got {self.snap_deg}")
        for name in ("min_reports", "min_vessels", "min_visits"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1")
        for name in ("alpha", "episode_s", "weight_cap_s", "visit_gap_s", "interval_max_s"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ConfigError(f"{name} must be a positive number, got {value}")
        if not 0.5 <= self.calibration_quantile < 1.0:
            raise ConfigError("calibration_quantile must be within 0.5..1 (exclusive)")

    @property
    def levels(self) -> tuple[int, ...]:
        return (self.h3_resolution, *self.parent_resolutions)


# -- learnt counts -------------------------------------------------------------------------
@dataclass(frozen=True, slots=True, kw_only=True)
class EntryCounts:
    """Histograms of one cell × ship-type group, in vessel-episodes (see ``episode_s``).

    ``joint`` has :data:`N_JOINT` outcomes (stopped speed bins, then moving speed × course);
    ``nocourse`` has :data:`N_SPEED` bins for moving reports that carried no course.
    """

    n_reports: int
    n_vessels: int
    joint: FloatArray
    nocourse: FloatArray


@dataclass(frozen=True, slots=True, kw_only=True)
class CellStats:
    """Per-cell facts over all ship types."""

    n_reports: int
    n_vessels: int
    total_s: float
    stopped_s: float
    interval_s: float | None
    dwell_s: float | None
    n_visits: int


def _smooth_speed(x: FloatArray) -> FloatArray:
    """[0.25, 0.5, 0.25] along axis 1 with edges reflected into themselves (mass kept)."""
    p = np.concatenate([x[:, :1], x, x[:, -1:]], axis=1)
    out: FloatArray = 0.25 * p[:, :-2] + 0.5 * p[:, 1:-1] + 0.25 * p[:, 2:]
    return out


def _smooth_course(x: FloatArray) -> FloatArray:
    """Circular [0.25, 0.5, 0.25] along the last axis."""
    out: FloatArray = 0.5 * x + 0.25 * np.roll(x, 1, axis=-1) + 0.25 * np.roll(x, -1, axis=-1)
    return out


def _rarity(x: FloatArray, alpha: float) -> FloatArray:
    """ln(p_max / p) row-wise after Laplace smoothing (``alpha`` added to every outcome)."""
    peak = x.max(axis=1, keepdims=True) + alpha
    out: FloatArray = np.log(peak / (x + alpha))
    return out


def raw_tables(joint_s: FloatArray, nocourse_s: FloatArray, alpha: float) -> FloatArray:
    """Uncalibrated rarity of every outcome, shape (n, N_TABLE): joint, speed-only, course-only.

    A rarity is ln(p(most likely outcome) / p(outcome)) after a neighbour-bin kernel (one
    speed bin / 22.5° either side) and Laplace smoothing: 0 for the usual; an outcome never
    seen reaches ln((n_max + alpha) / alpha), so little data is weak evidence.
    """
    n = joint_s.shape[0]
    moving = joint_s[:, N_STOPPED:].reshape(n, N_MOVING, COURSE_BINS)
    smooth = _smooth_speed(_smooth_course(moving))
    joint = np.concatenate([joint_s[:, :N_STOPPED], smooth.reshape(n, -1)], axis=1)
    speed = np.concatenate(
        [joint_s[:, :N_STOPPED], _smooth_speed(moving.sum(axis=2) + nocourse_s[:, N_STOPPED:])],
        axis=1,
    )
    course = _smooth_course(moving.sum(axis=1))
    return np.concatenate(
        [_rarity(joint, alpha), _rarity(speed, alpha), _rarity(course, alpha)], axis=1
    )


def calibrate(rarity: FloatArray, knee: float) -> FloatArray:
    """Rarity to surprise: ``1 − 2^(−rarity/knee)``; 0 → 0, ``knee`` → 0.5, → 1 as it grows."""
    out: FloatArray = 1.0 - np.exp2(-rarity / knee)
    return np.clip(out, 0.0, 1.0)


# -- the model -----------------------------------------------------------------------------
_CACHE_MAX = 500_000


@dataclass(slots=True, kw_only=True)
class NormalcyModel:
    """Learnt histograms and cell facts; implements the detectors' ``Normalcy`` protocol.

    ``entries`` maps (H3 cell, group index) to counts at every level; ``cells`` maps an H3 cell
    (any level) to its facts; ``knee`` is the rarity that the calibration maps to 0.5 (the
    ``calibration_quantile`` of training reports); ``created_from`` summarises the inputs.
    """

    params: NormalcyParams
    entries: Mapping[tuple[int, int], EntryCounts]
    cells: Mapping[int, CellStats]
    knee: float
    created_from: Mapping[str, Any] = field(default_factory=dict)
    _rows: dict[tuple[int, int], int] = field(init=False, repr=False)
    _table: array[float] = field(init=False, repr=False)
    _cell_cache: dict[tuple[int, int], tuple[int, ...]] = field(init=False, repr=False)
    _row_cache: dict[tuple[int, int, int], int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if not (math.isfinite(self.knee) and self.knee > 0.0):
            raise ConfigError(f"normalcy calibration knee must be positive, got {self.knee}")
        p = self.params
        usable = [
            key
            for key, e in self.entries.items()
            if e.n_reports >= p.min_reports and e.n_vessels >= p.min_vessels
        ]
        self._rows = {key: i for i, key in enumerate(usable)}
        if usable:
            joint = np.stack([self.entries[k].joint for k in usable])
            nocourse = np.stack([self.entries[k].nocourse for k in usable])
            table = calibrate(raw_tables(joint, nocourse, p.alpha), self.knee)
            # A flat float32 array.array: compact, and indexing returns plain floats fast.
            self._table = array("f", table.astype(np.float32).tobytes())
        else:
            self._table = array("f")
        self._cell_cache = {}
        self._row_cache = {}

    # -- cells -------------------------------------------------------------------------------
    def snap(self, lat: float, lon: float) -> tuple[int, int] | None:
        """The snapped grid key of a position, or None if it is not a valid position."""
        if not (math.isfinite(lat) and math.isfinite(lon)) or abs(lat) > 90.0:
            return None
        inv = 1.0 / self.params.snap_deg
        return round(lat * inv), round(normalise_lon(lon) * inv)

    def cells_at(self, lat: float, lon: float) -> tuple[int, ...] | None:
        """The H3 cells (fine first, then parents) that answer for a position."""
        key = self.snap(lat, lon)
        if key is None:
            return None
        return self._cells_for_key(key)

    def _cells_for_key(self, key: tuple[int, int]) -> tuple[int, ...]:
        cells = self._cell_cache.get(key)
        if cells is None:
            if len(self._cell_cache) >= _CACHE_MAX:
                self._cell_cache.clear()
            cells = self._cell_cache[key] = cells_for_key(key, self.params)
        return cells

    def _row(self, key: tuple[int, int], group: int) -> int:
        ck = (key[0], key[1], group)
        row = self._row_cache.get(ck)
        if row is None:
            row = -1
            cells = self._cells_for_key(key)
            rows = self._rows
            for g in (group, ALL) if group != ALL else (ALL,):
                for c in cells:
                    r = rows.get((c, g))
                    if r is not None:
                        row = r
                        break
                if row >= 0:
                    break
            if len(self._row_cache) >= _CACHE_MAX:
                self._row_cache.clear()
            self._row_cache[ck] = row
        return row

    def _stats(self, lat: float, lon: float) -> CellStats | None:
        cells = self.cells_at(lat, lon)
        if cells is None:
            return None
        p = self.params
        for c in cells:
            st = self.cells.get(c)
            if st is not None and st.n_reports >= p.min_reports and st.n_vessels >= p.min_vessels:
                return st
        return None

    # -- the Normalcy protocol -----------------------------------------------------------------
    def surprise(
        self,
        lat: float,
        lon: float,
        speed_kn: float | None,
        course_deg: float | None,
        ship_type: int | None,
    ) -> float | None:
        """How unusual this speed/course is here for this ship type: 0 typical .. 1 never seen.

        None when the cell and its parents saw too little traffic, or when neither speed nor
        course is known.
        """
        if speed_kn is not None and not math.isfinite(speed_kn):
            speed_kn = None
        if course_deg is not None and not math.isfinite(course_deg):
            course_deg = None
        if speed_kn is None and course_deg is None:
            return None
        key = self.snap(lat, lon)
        if key is None:
            return None
        row = self._row(key, ship_group(ship_type))
        if row < 0:
            return None
        if speed_kn is None:
            col = COURSE_COL + course_bin(course_deg)  # type: ignore[arg-type]
        else:
            sb = speed_bin(speed_kn)
            if sb < N_STOPPED:
                col = sb
            elif course_deg is None:
                col = SPEED_COL + sb
            else:
                col = N_STOPPED + (sb - N_STOPPED) * COURSE_BINS + course_bin(course_deg)
        return self._table[row * N_TABLE + col]

    def stop_fraction(self, lat: float, lon: float) -> float | None:
        """Share of vessel-time in this cell spent below 1 kn (anchorage/port proxy)."""
        st = self._stats(lat, lon)
        if st is None or st.total_s <= 0:
            return None
        return min(1.0, st.stopped_s / st.total_s)

    def expected_interval_s(self, lat: float, lon: float) -> float | None:
        """Median over vessels of each vessel's median report interval in this cell."""
        st = self._stats(lat, lon)
        return None if st is None else st.interval_s

    def typical_dwell_s(self, lat: float, lon: float) -> float | None:
        """Median time a vessel spends in this (fine) cell per visit."""
        cells = self.cells_at(lat, lon)
        if cells is None:
            return None
        st = self.cells.get(cells[0])
        if st is None or st.n_visits < self.params.min_visits:
            return None
        return st.dwell_s

    # -- explanation ----------------------------------------------------------------------------
    def describe(self, lat: float, lon: float) -> dict[str, Any]:
        """What the model knows at a position (for reasons and the console)."""
        cells = self.cells_at(lat, lon)
        out: dict[str, Any] = {"cells": [h3i.int_to_str(c) for c in cells or ()]}
        st = self._stats(lat, lon)
        if st is not None:
            out.update(
                reports=st.n_reports,
                vessels=st.n_vessels,
                stop_fraction=self.stop_fraction(lat, lon),
                expected_interval_s=st.interval_s,
            )
        out["typical_dwell_s"] = self.typical_dwell_s(lat, lon)
        return out


def normalise_lon(lon: float) -> float:
    return ((lon + 180.0) % 360.0) - 180.0


def cells_for_key(key: tuple[int, int], params: NormalcyParams) -> tuple[int, ...]:
    """H3 cells (fine, then parents) of a snapped grid key; fit and scoring share this."""
    lat = max(-90.0, min(90.0, key[0] * params.snap_deg))
    lon = normalise_lon(key[1] * params.snap_deg)
    fine = h3i.latlng_to_cell(lat, lon, params.h3_resolution)
    return (fine, *(h3i.cell_to_parent(fine, r) for r in params.parent_resolutions))
