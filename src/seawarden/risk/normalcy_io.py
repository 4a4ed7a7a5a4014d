"""Saving and loading a normalcy model: a documented, gzipped JSON file (never pickle).

A model file is data a user may get from someone else, so loading it must not run code and
must refuse anything it does not fully understand. The layout (see ``docs/normalcy.md``)::

    {"format": "seawarden-normalcy", "version": 1,
     "h3_resolution": 6, "parent_resolutions": [5, 4],
     "params": {...NormalcyParams...}, "knee": 3.9,
     "bins": {"speed_edges_kn": [...], "course_bins": 16, "groups": [...]},
     "created_from": {"inputs": [...], "reports": n, "vessels": n, ...},
     "entries": [[cell, group, n_reports, n_vessels, [[outcome, count], ...],
                  [[speed_bin, count], ...]], ...],
     "cells": [[cell, n_reports, n_vessels, total_s, stopped_s, interval_s|null,
                dwell_s|null, n_visits], ...]}

Histograms are stored sparse (only non-zero outcomes); cells are H3 strings.
"""

from __future__ import annotations

import dataclasses
import gzip
import math
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import orjson
from h3.api import basic_int as h3i

from seawarden.errors import ConfigError
from seawarden.risk.normalcy import (
    COURSE_BINS,
    GROUPS,
    N_JOINT,
    N_SPEED,
    SPEED_EDGES_KN,
    CellStats,
    EntryCounts,
    NormalcyModel,
    NormalcyParams,
)

__all__ = ["FORMAT", "VERSION", "load_model", "model_document", "model_from_document", "save_model"]

FORMAT = "seawarden-normalcy"
VERSION = 1


def _sparse(values: np.ndarray[Any, Any]) -> list[list[float]]:
    return [[int(i), float(values[i])] for i in np.flatnonzero(values)]


def model_document(model: NormalcyModel) -> dict[str, Any]:
    """The JSON-ready document of a model."""
    params = dataclasses.asdict(model.params)
    params["parent_resolutions"] = list(model.params.parent_resolutions)
    return {
        "format": FORMAT,
        "version": VERSION,
        "h3_resolution": model.params.h3_resolution,
        "parent_resolutions": list(model.params.parent_resolutions),
        "params": params,
        "knee": model.knee,
        "bins": {
            "speed_edges_kn": list(SPEED_EDGES_KN),
            "course_bins": COURSE_BINS,
            "groups": list(GROUPS),
        },
        "created_from": dict(model.created_from),
        "entries": [
            [
                h3i.int_to_str(cell),
                GROUPS[group],
                e.n_reports,
                e.n_vessels,
                _sparse(e.joint),
                _sparse(e.nocourse),
            ]
            for (cell, group), e in sorted(model.entries.items())
        ],
        "cells": [
            [
                h3i.int_to_str(cell),
                s.n_reports,
                s.n_vessels,
                s.total_s,
                s.stopped_s,
                s.interval_s,
                s.dwell_s,
                s.n_visits,
            ]
            for cell, s in sorted(model.cells.items())
        ],
    }


def save_model(model: NormalcyModel, path: str | Path) -> None:
    """Write a model as gzipped JSON (deterministic bytes for the same model)."""
    data = orjson.dumps(model_document(model), option=orjson.OPT_SORT_KEYS)
    try:
        with (
            Path(path).open("wb") as out,
            gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=0) as fh,
        ):
            fh.write(data)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot write the normalcy model ({exc})") from exc


def load_model(path: str | Path) -> NormalcyModel:
    """Read and validate a model file; :class:`ConfigError` says what is wrong with it."""
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the normalcy model ({exc})") from exc
    try:
        text = gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw
        doc = orjson.loads(text)
    except (OSError, EOFError, zlib.error, orjson.JSONDecodeError) as exc:
        raise ConfigError(
            f"{path}: not a readable normalcy model (corrupt gzip/JSON: {exc}); "
            "re-create it with `seawarden learn`"
        ) from exc
    return model_from_document(doc, source=str(path))


def _cell(text: Any, levels: tuple[int, ...]) -> int:
    try:
        cell = h3i.str_to_int(text) if isinstance(text, str) else -1
    except ValueError:
        cell = -1
    if cell < 0 or not h3i.is_valid_cell(cell):
        raise ValueError(f"invalid H3 cell {text!r}")
    if h3i.get_resolution(cell) not in levels:
        raise ValueError(f"cell {text} is not at a resolution of this model {levels}")
    return int(cell)


def _count(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"expected a non-negative integer, got {value!r}")
    return value


def _number(value: Any, *, optional: bool = False) -> float | None:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"expected a number, got {value!r}")
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"expected a finite non-negative number, got {value!r}")
    return float(value)


def _dense(pairs: Any, size: int) -> np.ndarray[Any, np.dtype[np.float64]]:
    out = np.zeros(size, dtype=np.float64)
    if not isinstance(pairs, list):
        raise ValueError("a histogram must be a list of [bin, count] pairs")
    for pair in pairs:
        if not isinstance(pair, list) or len(pair) != 2:
            raise ValueError(f"bad histogram pair {pair!r}")
        i = _count(pair[0])
        if i >= size:
            raise ValueError(f"histogram bin {i} out of range (< {size})")
        out[i] = _number(pair[1])
    return out


def model_from_document(doc: Any, *, source: str = "model") -> NormalcyModel:
    """Validate a decoded document and build the model from it."""
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ConfigError(f"{source}: not a seawarden normalcy model (format must be {FORMAT!r})")
    if doc.get("version") != VERSION:
        raise ConfigError(
            f"{source}: normalcy model version {doc.get('version')!r} is not supported "
            f"(this seawarden reads version {VERSION}); re-create it with `seawarden learn`"
        )
    where = "header"
    try:
        bins = doc["bins"]
        if (
            [float(x) for x in bins["speed_edges_kn"]] != list(SPEED_EDGES_KN)
            or bins["course_bins"] != COURSE_BINS
            or list(bins["groups"]) != list(GROUPS)
        ):
            raise ValueError("the model was learnt with other bins or ship-type groups")
        raw_params = dict(doc["params"])
        raw_params["parent_resolutions"] = tuple(raw_params["parent_resolutions"])
        params = NormalcyParams(**raw_params)
        if params.h3_resolution != doc["h3_resolution"]:
            raise ValueError("h3_resolution disagrees with params")
        levels = params.levels
        try:
            knee = _number(doc["knee"]) or 0.0  # the model refuses a non-positive knee
        except ValueError as exc:
            raise ValueError(f"knee: {exc}") from None
        entries: dict[tuple[int, int], EntryCounts] = {}
        for i, row in enumerate(doc["entries"]):
            where = f"entries[{i}]"
            cell_s, group, n_rep, n_ves, joint, nocourse = row
            if group not in GROUPS:
                raise ValueError(f"unknown ship-type group {group!r}")
            entries[(_cell(cell_s, levels), GROUPS.index(group))] = EntryCounts(
                n_reports=_count(n_rep),
                n_vessels=_count(n_ves),
                joint=_dense(joint, N_JOINT),
                nocourse=_dense(nocourse, N_SPEED),
            )
        cells: dict[int, CellStats] = {}
        for i, row in enumerate(doc["cells"]):
            where = f"cells[{i}]"
            cell_s, n_rep, n_ves, total, stopped, interval, dwell, visits = row
            cells[_cell(cell_s, levels)] = CellStats(
                n_reports=_count(n_rep),
                n_vessels=_count(n_ves),
                total_s=_number(total) or 0.0,
                stopped_s=_number(stopped) or 0.0,
                interval_s=_number(interval, optional=True),
                dwell_s=_number(dwell, optional=True),
                n_visits=_count(visits),
            )
        created_from = doc.get("created_from") or {}
        if not isinstance(created_from, dict):
            raise ValueError("created_from must be an object")
        return NormalcyModel(
            params=params, entries=entries, cells=cells, knee=knee, created_from=created_from
        )
    except ConfigError as exc:
        raise ConfigError(f"{source}: invalid normalcy model: {exc}") from exc
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(
            f"{source}: invalid normalcy model ({type(exc).__name__} in {where}: {exc}); "
            "re-create it with `seawarden learn`"
        ) from exc
