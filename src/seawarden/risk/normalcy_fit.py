"""Learning the normalcy model from recorded traffic (``seawarden learn``).

History is read once into flat numpy columns; everything after that is vectorised: each
vessel's reports are ordered by time (so input order does not matter), each report is weighted
by the time it stands for (to the vessel's next report, capped), positions are snapped to a
small grid whose few distinct points alone go through H3, and histograms are ``bincount`` s
over (cell, ship-type group) keys at every resolution. Ship types come from static reports
seen anywhere in the input (a type heard after a vessel's first positions still counts), so
grouping happens at the end.
"""

from __future__ import annotations

import math
import time as _time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from seawarden.ingest.files import open_source
from seawarden.model import PositionReport, Rejection, StaticReport
from seawarden.risk.normalcy import (
    COURSE_BIN_DEG,
    COURSE_BINS,
    COURSE_COL,
    N_JOINT,
    N_SPEED,
    N_STOPPED,
    SPEED_COL,
    SPEED_EDGES_KN,
    CellStats,
    EntryCounts,
    NormalcyModel,
    NormalcyParams,
    cells_for_key,
    raw_tables,
    ship_group,
)

__all__ = ["LearnStats", "RecordColumns", "fit", "fit_columns", "learn"]

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
GROUP_SHIFT = 56  # H3 cell indexes keep bits 56–58 zero: the group index lives there
CELL_MASK = ~(7 << GROUP_SHIFT)
SINGLE_REPORT_S = 60.0
MIN_KNEE = math.log(
    4.0
)  # at least "4 times less likely than the usual" to score 0.5  # weight of a vessel's only report


@dataclass(slots=True)
class RecordColumns:
    """Position reports as columns, plus the last known ship type per MMSI."""

    mmsi: list[int] = field(default_factory=list)
    t: list[float] = field(default_factory=list)
    lat: list[float] = field(default_factory=list)
    lon: list[float] = field(default_factory=list)
    sog: list[float] = field(default_factory=list)
    cog: list[float] = field(default_factory=list)
    ship_types: dict[int, int] = field(default_factory=dict)
    statics: int = 0

    def add(self, rec: PositionReport | StaticReport) -> None:
        if isinstance(rec, PositionReport):
            self.mmsi.append(rec.mmsi)
            self.t.append(rec.time.timestamp())
            self.lat.append(rec.lat)
            self.lon.append(rec.lon)
            s = rec.speed_kn
            self.sog.append(np.nan if s is None else s)
            c = rec.course_deg
            self.cog.append(np.nan if c is None else c)
        elif isinstance(rec, StaticReport):
            self.statics += 1
            if rec.ship_type:
                self.ship_types[rec.mmsi] = rec.ship_type


def fit(
    records: Iterable[PositionReport | StaticReport],
    params: NormalcyParams | None = None,
    *,
    created_from: Mapping[str, Any] | None = None,
) -> NormalcyModel:
    """Learn a model from records (any order; each vessel's reports are sorted by time)."""
    cols = RecordColumns()
    for rec in records:
        cols.add(rec)
    return fit_columns(cols, params, created_from=created_from)


def _episode_counts(
    entry: I64, outcome: I64, vessel: I64, bucket: I64, n_entries: int, n_outcomes: int
) -> F64:
    """Per entry and outcome, how many distinct (vessel, time bucket) pairs showed it.

    Counting vessel-episodes rather than reports or seconds keeps a ferry reporting every 2 s
    from drowning a ship reporting every 3 min, and a day moored from drowning a lane.
    """
    m = outcome >= 0
    e, o, v, b = entry[m], outcome[m], vessel[m], bucket[m]
    order = np.lexsort((b, v, o, e))
    e, o, v, b = e[order], o[order], v[order], b[order]
    first = np.ones(e.size, dtype=bool)
    first[1:] = (e[1:] != e[:-1]) | (o[1:] != o[:-1]) | (v[1:] != v[:-1]) | (b[1:] != b[:-1])
    flat = e[first] * n_outcomes + o[first]
    return (
        np.bincount(flat, minlength=n_entries * n_outcomes)
        .astype(np.float64)
        .reshape(n_entries, n_outcomes)
    )


def _group_median(keys: I64, values: F64) -> tuple[I64, F64, I64]:
    """Median of ``values`` per distinct key: (keys, medians, counts)."""
    if keys.size == 0:
        return keys, values, keys
    order = np.lexsort((values, keys))
    k, v = keys[order], values[order]
    starts = np.flatnonzero(np.r_[True, k[1:] != k[:-1]])
    counts = np.diff(np.r_[starts, k.size])
    lo = starts + (counts - 1) // 2
    hi = starts + counts // 2
    return k[starts], (v[lo] + v[hi]) / 2.0, counts


def fit_columns(
    cols: RecordColumns,
    params: NormalcyParams | None = None,
    *,
    created_from: Mapping[str, Any] | None = None,
) -> NormalcyModel:
    """The vectorised core of :func:`fit`."""
    p = params or NormalcyParams()
    mmsi = np.asarray(cols.mmsi, dtype=np.int64)
    t = np.asarray(cols.t, dtype=np.float64)
    lat = np.asarray(cols.lat, dtype=np.float64)
    lon = np.asarray(cols.lon, dtype=np.float64)
    sog = np.asarray(cols.sog, dtype=np.float64)
    cog = np.asarray(cols.cog, dtype=np.float64)
    ok = np.isfinite(lat) & np.isfinite(lon) & (np.abs(lat) <= 90.0) & np.isfinite(t)
    order = np.flatnonzero(ok)[np.lexsort((t[ok], mmsi[ok]))]
    mmsi = mmsi[order]
    t, lat, lon, sog, cog = t[order], lat[order], lon[order], sog[order], cog[order]
    n = mmsi.size
    summary: dict[str, Any] = dict(created_from or {})
    summary.update(
        reports=int(n),
        vessels=int(np.unique(mmsi).size),
        typed_vessels=len(cols.ship_types),
        first_time=float(t.min()) if n else None,
        last_time=float(t.max()) if n else None,
    )
    if n == 0:
        return NormalcyModel(params=p, entries={}, cells={}, knee=1.0, created_from=summary)

    # -- time per report ----------------------------------------------------------------------
    same = mmsi[1:] == mmsi[:-1]
    gaps = t[1:] - t[:-1]
    dt_next = np.full(n, np.nan)
    dt_next[:-1] = np.where(same, gaps, np.nan)
    dt_prev = np.full(n, np.nan)
    dt_prev[1:] = np.where(same, gaps, np.nan)
    w = np.where(np.isnan(dt_next), dt_prev, dt_next)
    w = np.clip(np.nan_to_num(w, nan=SINGLE_REPORT_S), 0.0, p.weight_cap_s)

    # -- cells: snap, then H3 only for distinct grid points --------------------------------------
    inv = 1.0 / p.snap_deg
    ki = np.rint(lat * inv).astype(np.int64)
    kj = np.rint((((lon + 180.0) % 360.0) - 180.0) * inv).astype(np.int64)
    _, first, grid_inv = np.unique(ki * 1_000_000 + kj, return_index=True, return_inverse=True)
    levels = p.levels
    grid_cells = np.array(
        [cells_for_key(k, p) for k in zip(ki[first].tolist(), kj[first].tolist(), strict=True)],
        dtype=np.int64,
    ).reshape(first.size, len(levels))
    cell = grid_cells[grid_inv]  # (n, levels)

    # -- groups and outcomes ---------------------------------------------------------------------
    vessels, vessel_idx = np.unique(mmsi, return_inverse=True)
    vessel_group = np.array(
        [ship_group(cols.ship_types.get(m)) for m in vessels.tolist()], dtype=np.int64
    )
    group = vessel_group[vessel_idx]
    has_speed = np.isfinite(sog)
    sb = np.where(has_speed, np.searchsorted(np.asarray(SPEED_EDGES_KN), sog, side="right"), -1)
    has_course = np.isfinite(cog)
    cb = np.floor(
        (np.mod(np.where(has_course, cog, 0.0), 360.0) + COURSE_BIN_DEG / 2) / COURSE_BIN_DEG
    ).astype(np.int64)
    cb = np.where(has_course, cb % COURSE_BINS, -1)
    stopped = has_speed & (sb < N_STOPPED)
    moving = has_speed & ~stopped
    joint_out = np.where(
        stopped,
        sb,
        np.where(moving & has_course, N_STOPPED + (sb - N_STOPPED) * COURSE_BINS + cb, -1),
    )
    nocourse_out = np.where(moving & ~has_course, sb, -1)
    col = np.where(
        ~has_speed,
        np.where(has_course, COURSE_COL + cb, -1),
        np.where(stopped, sb, np.where(has_course, joint_out, SPEED_COL + sb)),
    )

    # -- histograms per (cell, group) at every level, in vessel-episodes --------------------------
    bucket = np.floor(t / p.episode_s).astype(np.int64)
    idx = np.arange(n)
    typed = idx[group > 0]
    ekeys = np.concatenate(
        [cell[:, li] for li in range(len(levels))]
        + [cell[typed, li] | (group[typed] << GROUP_SHIFT) for li in range(len(levels))]
    )
    erep = np.concatenate([idx] * len(levels) + [typed] * len(levels))
    ukeys, einv = np.unique(ekeys, return_inverse=True)
    n_entries = ukeys.size
    e_reports = np.bincount(einv, minlength=n_entries)
    nv = vessels.size
    pairs = np.unique(einv * nv + vessel_idx[erep])
    e_vessels = np.bincount(pairs // nv, minlength=n_entries)
    erep_vessel = vessel_idx[erep]
    erep_bucket = bucket[erep]
    joint = _episode_counts(einv, joint_out[erep], erep_vessel, erep_bucket, n_entries, N_JOINT)
    nocourse = _episode_counts(
        einv, nocourse_out[erep], erep_vessel, erep_bucket, n_entries, N_SPEED
    )

    # -- calibration: rarity of every training report under the entry scoring would use -------
    usable = (e_reports >= p.min_reports) & (e_vessels >= p.min_vessels)
    row_of = np.cumsum(usable) - 1
    chosen = np.full(n, -1, dtype=np.int64)
    candidates = [(li, True) for li in range(len(levels))] + [
        (li, False) for li in range(len(levels))
    ]
    for li, own_group in candidates:
        key = cell[:, li] | ((group if own_group else 0) << GROUP_SHIFT)
        pos = np.minimum(np.searchsorted(ukeys, key), n_entries - 1)
        found = (ukeys[pos] == key) & usable[pos] & (chosen < 0)
        if own_group:
            found &= group > 0
        chosen = np.where(found, pos, chosen)
    scored = (chosen >= 0) & (col >= 0)
    knee = 1.0
    if scored.any() and usable.any():
        raw = raw_tables(joint[usable], nocourse[usable], p.alpha)
        r = raw[row_of[chosen[scored]], col[scored]]
        # a floor keeps a model of perfectly regular traffic from calling everything odd
        knee = max(float(np.quantile(r, p.calibration_quantile)), MIN_KNEE)

    entries = {
        (int(k) & CELL_MASK, (int(k) >> GROUP_SHIFT) & 7): EntryCounts(
            n_reports=int(e_reports[i]),
            n_vessels=int(e_vessels[i]),
            joint=joint[i],
            nocourse=nocourse[i],
        )
        for i, k in enumerate(ukeys.tolist())
    }
    cells = _cell_stats(p, cell, vessel_idx, nv, t, w, has_speed, stopped, dt_next)
    return NormalcyModel(params=p, entries=entries, cells=cells, knee=knee, created_from=summary)


def _cell_stats(
    p: NormalcyParams,
    cell: I64,
    vessel_idx: I64,
    nv: int,
    t: F64,
    w: F64,
    has_speed: npt.NDArray[np.bool_],
    stopped: npt.NDArray[np.bool_],
    dt_next: F64,
) -> dict[int, CellStats]:
    n, n_levels = cell.shape
    ckeys = cell.T.reshape(-1)
    rep = np.tile(np.arange(n), n_levels)
    ucells, cinv = np.unique(ckeys, return_inverse=True)
    nc = ucells.size
    c_reports = np.bincount(cinv, minlength=nc)
    c_vessels = np.bincount(np.unique(cinv * nv + vessel_idx[rep]) // nv, minlength=nc)
    total = np.bincount(cinv, weights=np.where(has_speed, w, 0.0)[rep], minlength=nc)
    stop_s = np.bincount(cinv, weights=np.where(stopped, w, 0.0)[rep], minlength=nc)
    # report interval: each vessel's median in the cell, then the median over vessels
    ok = np.isfinite(dt_next[rep]) & (dt_next[rep] > 0) & (dt_next[rep] <= p.interval_max_s)
    vkeys, vmed, _ = _group_median(cinv[ok] * nv + vessel_idx[rep][ok], dt_next[rep][ok])
    ikeys, imed, _ = _group_median(vkeys // nv, vmed)
    interval = np.full(nc, np.nan)
    interval[ikeys] = imed
    # dwell per visit in the fine cell: a run of one vessel's reports in it, no long silence
    fine = cinv[:n]
    new_visit = np.ones(n, dtype=bool)
    new_visit[1:] = (
        (vessel_idx[1:] != vessel_idx[:-1])
        | (fine[1:] != fine[:-1])
        | (t[1:] - t[:-1] > p.visit_gap_s)
    )
    starts = np.flatnonzero(new_visit)
    ends = np.r_[starts[1:], n] - 1
    dkeys, dmed, dcount = _group_median(fine[starts], t[ends] - t[starts])
    dwell = np.full(nc, np.nan)
    dwell[dkeys] = dmed
    visits = np.zeros(nc, dtype=np.int64)
    visits[dkeys] = dcount
    out: dict[int, CellStats] = {}
    for i, c in enumerate(ucells.tolist()):
        iv, dw = float(interval[i]), float(dwell[i])
        out[c] = CellStats(
            n_reports=int(c_reports[i]),
            n_vessels=int(c_vessels[i]),
            total_s=float(total[i]),
            stopped_s=float(stop_s[i]),
            interval_s=None if np.isnan(iv) else iv,
            dwell_s=None if np.isnan(dw) else dw,
            n_visits=int(visits[i]),
        )
    return out


@dataclass(slots=True, kw_only=True)
class LearnStats:
    """What ``learn`` read and how fast it learnt."""

    inputs: list[str]
    positions: int
    statics: int
    rejected: int
    vessels: int
    entries: int
    cells: int
    read_s: float
    fit_s: float

    @property
    def fit_reports_per_s(self) -> float:
        return self.positions / self.fit_s if self.fit_s > 0 else float("inf")


def learn(
    inputs: Sequence[Path],
    out: Path | None,
    *,
    sort: bool = False,
    params: NormalcyParams | None = None,
) -> tuple[NormalcyModel, LearnStats]:
    """Read NMEA/CSV inputs, learn a model, save it to ``out`` (if given); return both.

    The fit orders each vessel's reports itself, so ``sort`` only makes the reader load and
    sort whole files first (as ``read_track`` does); streaming (the default) needs less memory.
    """
    from seawarden.testing import read_track

    started = _time.perf_counter()
    cols = RecordColumns()
    rejected = 0
    for path in inputs:
        if sort:
            for rec in read_track(path, sort=True):
                cols.add(rec)
        else:
            rejected += read_records(cols, path)
    read_s = _time.perf_counter() - started
    return fit_and_save(
        cols, [Path(p).name for p in inputs], out, params=params, rejected=rejected, read_s=read_s
    )


def read_records(cols: RecordColumns, path: Path) -> int:
    """Stream one NMEA/CSV input into ``cols``; return how many lines it rejected."""
    rejected = 0
    for _, item in open_source(path):
        if isinstance(item, Rejection):
            rejected += 1
        elif isinstance(item, PositionReport | StaticReport):
            cols.add(item)  # normal traffic is learned from AIS only
    return rejected


def fit_and_save(
    cols: RecordColumns,
    names: list[str],
    out: Path | None,
    *,
    params: NormalcyParams | None,
    rejected: int,
    read_s: float,
) -> tuple[NormalcyModel, LearnStats]:
    """Fit the model on everything read, save it to ``out`` (if given), count what was
    done. Every engine ends here, so a model depends only on ``cols`` and ``names``."""
    from seawarden.risk.normalcy_io import save_model

    started = _time.perf_counter()
    model = fit_columns(cols, params, created_from={"inputs": names})
    fit_s = _time.perf_counter() - started
    if out is not None:
        save_model(model, out)
    stats = LearnStats(
        inputs=names,
        positions=len(cols.mmsi),
        statics=cols.statics,
        rejected=rejected,
        vessels=int(model.created_from.get("vessels", 0)),
        entries=len(model.entries),
        cells=len(model.cells),
        read_s=read_s,
        fit_s=fit_s,
    )
    return model, stats
