"""Read weather grids (GRIB1/GRIB2 via ECMWF eccodes, or a simple CSV) into a WeatherField.

GRIB (``.grib``, ``.grib2``, ``.grb``, ``.grb2``) is read with eccodes directly, message by
message. Parameters used (by ``shortName``): ``10si`` (10 m wind speed), ``10u``/``10v``
(10 m wind components, combined to speed when both are present for the same time and grid),
``i10fg``/``10fg``/``gust`` (10 m gust) and ``swh`` (significant wave height); every other
parameter is counted as ``grib_ignored_param``. The valid time is eccodes'
``validityDate``/``validityTime``, i.e. ``dataDate``/``dataTime`` + ``step`` (the end of the
range for a gust "over the last hour").

Only regular lat/lon grids (``gridType = regular_ll``) are supported. Other grids (reduced
Gaussian, Lambert, rotated...) are *counted and skipped per message* (``grib_unsupported_grid``,
logged with the grid type) rather than failing the file, because ERA5/GFS downloads often mix
them with usable messages; a file with no usable message at all is a :class:`ConfigError`
that names the file and the counts. Regrid first (e.g. ``cdo remapbil``) if that happens.

A truncated or corrupt message ends that file (eccodes cannot resynchronise reliably): it is
counted as ``grib_unreadable`` and logged; messages before it are kept. Ensemble members and
repeats of the same parameter, time and grid are counted as ``duplicate_layer`` (first kept).

CSV grid, one row per grid point and time (``#`` comments allowed)::

    time,lat,lon,wind_ms[,gust_ms][,wave_m]        # or u10,v10 instead of wind_ms

``time`` is ISO 8601 (naive = UTC). The points of each time must form a rectilinear grid
(holes allowed: NaN; at least 2 x 2, at least half filled). Unparseable rows are counted
(``csv_bad_row``, ``csv_bad_time``, ``csv_bad_value``, ``csv_duplicate``) and logged.

Bounds (a :class:`ConfigError` says which and how to crop): a file at most
``MAX_FILE_BYTES`` (2 GiB); a GRIB message at most ``MAX_POINTS_PER_MESSAGE`` (7 million,
a 0.1-degree global grid); at most ``MAX_TOTAL_POINTS`` (100 million, ~800 MB) grid values
and ``MAX_MESSAGES`` (200,000) messages over all files; a CSV at most ``MAX_CSV_ROWS``
(5 million) rows of at most 1 KiB each.
"""

from __future__ import annotations

import csv
import importlib
import importlib.util
import logging
import math
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO, Final

import numpy as np

from seawarden.errors import ConfigError
from seawarden.fusion.weather import VARIABLES, FloatArray, Variable, WeatherField, WeatherLayer

__all__ = [
    "CSV_SUFFIXES",
    "GRIB_SUFFIXES",
    "MAX_CSV_ROWS",
    "MAX_FILE_BYTES",
    "MAX_MESSAGES",
    "MAX_POINTS_PER_MESSAGE",
    "MAX_TOTAL_POINTS",
    "import_eccodes",
    "load_weather",
]

log = logging.getLogger(__name__)

GRIB_SUFFIXES: Final = frozenset({".grib", ".grib2", ".grb", ".grb2"})
CSV_SUFFIXES: Final = frozenset({".csv"})
MAX_FILE_BYTES: Final = 2 * 1024**3
MAX_POINTS_PER_MESSAGE: Final = 7_000_000
MAX_TOTAL_POINTS: Final = 100_000_000
MAX_MESSAGES: Final = 200_000
MAX_CSV_ROWS: Final = 5_000_000
_MAX_CSV_LINE: Final = 1024

_PARAMS: Final[dict[str, Variable | str]] = {
    "10si": "wind_ms",
    "i10fg": "gust_ms",
    "10fg": "gust_ms",
    "gust": "gust_ms",
    "swh": "wave_m",
    "10u": "u",
    "10v": "v",
}
# Plausible physical ranges: values outside are a unit or decoding error, not weather.
_RANGES: Final[dict[str, tuple[float, float]]] = {
    "wind_ms": (0.0, 150.0),
    "gust_ms": (0.0, 150.0),
    "wave_m": (0.0, 40.0),
    "u10": (-150.0, 150.0),
    "v10": (-150.0, 150.0),
}

GridKey = tuple[datetime, int, int, float, float, float, float]


class _Collector:
    """Layers from all files, with the bounds and the counts."""

    def __init__(self) -> None:
        self.layers: list[WeatherLayer] = []
        self.stats: Counter[str] = Counter()
        self.points = 0
        self._keys: set[tuple[str, GridKey]] = set()

    def add(self, layer: WeatherLayer, path: Path) -> None:
        key = (layer.variable, _grid_key(layer.valid_time, layer.lats, layer.lons))
        if key in self._keys:
            self.stats["duplicate_layer"] += 1
            log.info("weather layer repeated, first kept", extra={"source": layer.source})
            return
        self.points += layer.points
        if self.points > MAX_TOTAL_POINTS:
            raise ConfigError(
                f"weather {path}: more than {MAX_TOTAL_POINTS:,} grid values in total; crop "
                "the files to the area and period of interest (e.g. cdo sellonlatbox, seldate)"
            )
        self._keys.add(key)
        self.layers.append(layer)
        self.stats[f"layers_{layer.variable}"] += 1


def load_weather(paths: Sequence[Path], *, max_age_s: float = 10_800.0) -> WeatherField:
    """Read GRIB and CSV weather files into one :class:`WeatherField`.

    Raises :class:`ConfigError` naming the file for a missing, oversized, unreadable or
    empty file, an unknown suffix or a CSV that is not a grid; see the module docstring.
    """
    if not paths:
        raise ConfigError("no weather files given")
    out = _Collector()
    for path in paths:
        path = Path(path)
        suffix = path.suffix.lower()
        if suffix not in GRIB_SUFFIXES | CSV_SUFFIXES:
            raise ConfigError(
                f"weather {path}: unknown file type {suffix!r}; expected GRIB "
                f"({', '.join(sorted(GRIB_SUFFIXES))}) or .csv"
            )
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            raise ConfigError(f"weather {path} does not exist; check the path") from None
        except OSError as exc:
            raise ConfigError(f"weather {path} cannot be read: {exc}") from exc
        if size > MAX_FILE_BYTES:
            raise ConfigError(
                f"weather {path} is {size:,} bytes, over the {MAX_FILE_BYTES:,} byte bound; "
                "crop it to the area and period of interest"
            )
        before = len(out.layers)
        if suffix in GRIB_SUFFIXES:
            _read_grib(path, out)
        else:
            _read_csv(path, out)
        if len(out.layers) == before:
            counts = {k: v for k, v in sorted(out.stats.items()) if v}
            raise ConfigError(f"weather {path}: no usable wind or wave field (read: {counts})")
    log.info(
        "weather loaded",
        extra={"files": [str(p) for p in paths], "layers": len(out.layers), **out.stats},
    )
    return WeatherField(out.layers, max_age_s=max_age_s, stats=dict(out.stats))


# -- GRIB -----------------------------------------------------------------------------------------


def import_eccodes() -> Any:
    """The eccodes module, imported only when GRIB is used (a large binary library).

    pyproj is imported first on purpose: the eccodeslib/eckitlib 2.50 wheels bundle their
    own libproj, and if it is loaded before pyproj's, pyproj fails ("unable to set PROJ
    database path") and the process can abort at exit. Loaded the other way round, both work.
    """
    importlib.import_module("pyproj")  # load order, see above
    # The same wheels bundle OpenSSL 1.1 (libcrypto via libcurl); loaded before psycopg's
    # OpenSSL 3 the process segfaults at exit once psycopg is imported later (seen in the
    # full test run: PostgreSQL store tests after weather tests). psycopg first is safe.
    if importlib.util.find_spec("psycopg") is not None:
        importlib.import_module("psycopg")
    import eccodes

    return eccodes


def _read_grib(path: Path, out: _Collector) -> None:
    eccodes = import_eccodes()

    pending: dict[tuple[str, GridKey], tuple[FloatArray, int]] = {}
    try:
        f: BinaryIO = path.open("rb")
    except OSError as exc:
        raise ConfigError(f"weather {path} cannot be read: {exc}") from exc
    with f:
        n = 0
        while True:
            try:
                h = eccodes.codes_grib_new_from_file(f)
            except eccodes.CodesInternalError as exc:
                out.stats["grib_unreadable"] += 1
                log.warning(
                    "GRIB message unreadable; rest of file skipped",
                    extra={"source": f"{path.name} msg {n + 1}", "error": str(exc)},
                )
                break
            if h is None:
                break
            n += 1
            out.stats["grib_messages"] += 1
            if out.stats["grib_messages"] > MAX_MESSAGES:
                eccodes.codes_release(h)
                raise ConfigError(f"weather {path}: more than {MAX_MESSAGES:,} GRIB messages")
            try:
                _grib_message(eccodes, h, path, n, out, pending)
            except eccodes.CodesInternalError as exc:
                out.stats["grib_unreadable"] += 1
                log.warning(
                    "GRIB message undecodable, skipped",
                    extra={"source": f"{path.name} msg {n}", "error": str(exc)},
                )
            finally:
                eccodes.codes_release(h)
    for (comp, _), (_, m) in pending.items():
        out.stats["grib_unpaired_wind_component"] += 1
        log.warning(
            "10 m wind component without its partner, skipped",
            extra={"source": f"{path.name} msg {m}", "component": comp},
        )


def _grib_message(
    eccodes: Any,
    h: Any,
    path: Path,
    n: int,
    out: _Collector,
    pending: dict[tuple[str, GridKey], tuple[FloatArray, int]],
) -> None:
    source = f"{path.name} msg {n}"
    short = str(eccodes.codes_get(h, "shortName"))
    var = _PARAMS.get(short)
    if var is None:
        out.stats["grib_ignored_param"] += 1
        return
    grid_type = str(eccodes.codes_get(h, "gridType"))
    if grid_type != "regular_ll":
        out.stats["grib_unsupported_grid"] += 1
        log.warning(
            "GRIB grid type not supported (regular_ll only), message skipped",
            extra={"source": source, "grid_type": grid_type},
        )
        return
    ni, nj = int(eccodes.codes_get(h, "Ni")), int(eccodes.codes_get(h, "Nj"))
    if ni * nj > MAX_POINTS_PER_MESSAGE:
        out.stats["grib_too_large"] += 1
        log.warning(
            "GRIB message over the size bound, skipped",
            extra={"source": source, "points": ni * nj, "bound": MAX_POINTS_PER_MESSAGE},
        )
        return
    if int(eccodes.codes_get(h, "alternativeRowScanning")) != 0:
        out.stats["grib_unsupported_grid"] += 1
        log.warning("GRIB alternative row scanning not supported", extra={"source": source})
        return
    values = np.asarray(eccodes.codes_get_values(h), dtype=np.float64)
    lats = np.asarray(eccodes.codes_get_array(h, "latitudes"), dtype=np.float64)
    lons = np.asarray(eccodes.codes_get_array(h, "longitudes"), dtype=np.float64)
    if not values.size == lats.size == lons.size == ni * nj or ni < 2 or nj < 2:
        out.stats["grib_bad_grid"] += 1
        log.warning("GRIB grid inconsistent, skipped", extra={"source": source})
        return
    if int(eccodes.codes_get(h, "bitmapPresent")):
        values[values == float(eccodes.codes_get(h, "missingValue"))] = np.nan
    # Scanning order: rows of constant latitude unless j points are consecutive.
    if int(eccodes.codes_get(h, "jPointsAreConsecutive")):
        grid = values.reshape(ni, nj).T
        lat_axis, lon_axis = lats.reshape(ni, nj)[0, :], lons.reshape(ni, nj)[:, 0]
    else:
        grid = values.reshape(nj, ni)
        lat_axis, lon_axis = lats.reshape(nj, ni)[:, 0], lons.reshape(nj, ni)[0, :]
    try:
        valid = _validity(
            int(eccodes.codes_get(h, "validityDate")), int(eccodes.codes_get(h, "validityTime"))
        )
    except ValueError as exc:
        out.stats["grib_bad_time"] += 1
        log.warning(
            "GRIB valid time unreadable, skipped", extra={"source": source, "error": str(exc)}
        )
        return
    if var in ("u", "v"):
        # Same key = same time, size and corner order, so the raw grids line up cell by cell.
        key = _grid_key(valid, lat_axis, lon_axis)
        other = pending.pop(("v" if var == "u" else "u", key), None)
        if other is None:
            pending[(var, key)] = (grid, n)
            return
        partner, m = other
        first, second = sorted((m, n))
        speed = np.hypot(grid, partner)
        _add(
            out,
            path,
            "wind_ms",
            valid,
            lat_axis,
            lon_axis,
            speed,
            f"{path.name} msg {first}+{second}",
        )
        return
    _add(out, path, var, valid, lat_axis, lon_axis, grid, source)  # type: ignore[arg-type]


def _add(
    out: _Collector,
    path: Path,
    var: Variable,
    valid: datetime,
    lats: np.ndarray,
    lons: np.ndarray,
    grid: np.ndarray,
    source: str,
    *,
    bad: str = "grib_bad_grid",
) -> None:
    try:
        layer = WeatherLayer(var, valid, lats, lons, grid, source)
    except ConfigError as exc:
        out.stats[bad] += 1
        log.warning("weather grid unusable, skipped", extra={"source": source, "error": str(exc)})
        return
    out.add(layer, path)


def _validity(date: int, hhmm: int) -> datetime:
    y, md = divmod(date, 10_000)
    mo, d = divmod(md, 100)
    hh, mm = divmod(hhmm, 100)
    if not 1900 <= y <= 2200:
        raise ValueError(f"year {y} out of range")
    return datetime(y, mo, d, hh, mm, tzinfo=UTC)


def _grid_key(valid: datetime, lats: np.ndarray, lons: np.ndarray) -> GridKey:
    return (
        valid,
        int(lats.size),
        int(lons.size),
        round(float(lats[0]), 6),
        round(float(lats[-1]), 6),
        round(float(lons[0]) % 360.0, 6),
        round(float(lons[-1]) % 360.0, 6),
    )


# -- CSV ------------------------------------------------------------------------------------------


def _read_csv(path: Path, out: _Collector) -> None:
    try:
        f = path.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise ConfigError(f"weather {path} cannot be read: {exc}") from exc
    # time -> (lat, lon) -> (wind, gust, wave)
    slices: dict[datetime, dict[tuple[float, float], tuple[float, float, float]]] = {}
    lines: dict[datetime, list[int]] = {}  # time -> [first line, last line]
    header: list[str] | None = None
    try:
        with f:
            for line_no, line in enumerate(f, start=1):
                if not line.strip() or line.lstrip().startswith("#"):
                    continue
                if len(line) > _MAX_CSV_LINE:
                    if header is None:
                        raise ConfigError(f"weather {path}:{line_no}: header line too long")
                    _bad(out, "csv_bad_row", path, line_no, "line too long")
                    continue
                try:
                    cells = [c.strip() for c in next(csv.reader([line]))]
                except (csv.Error, StopIteration) as exc:
                    _bad(out, "csv_bad_row", path, line_no, str(exc))
                    continue
                if header is None:
                    header = [c.lower() for c in cells]
                    _check_header(header, path)
                    continue
                out.stats["csv_rows"] += 1
                if out.stats["csv_rows"] > MAX_CSV_ROWS:
                    raise ConfigError(f"weather {path}: more than {MAX_CSV_ROWS:,} rows")
                _csv_row(header, cells, path, line_no, out, slices, lines)
    except UnicodeDecodeError as exc:
        raise ConfigError(f"weather {path} is not UTF-8 text: {exc}") from exc
    if header is None:
        raise ConfigError(f"weather {path} is empty; expected a header time,lat,lon,wind_ms")
    for t in sorted(slices):
        points = slices[t]
        lats = np.array(sorted({p[0] for p in points}), dtype=np.float64)
        lons = np.array(sorted({p[1] for p in points}), dtype=np.float64)
        source = f"{path.name} lines {lines[t][0]}-{lines[t][1]}"
        if lats.size < 2 or lons.size < 2:
            _bad(out, "csv_bad_grid", path, lines[t][0], f"{t.isoformat()}: fewer than 2x2")
            continue
        if lats.size * lons.size > 2 * len(points):
            raise ConfigError(
                f"weather {source}: the {len(points)} points at {t.isoformat()} do not form a "
                f"lat/lon grid ({lats.size} distinct lats x {lons.size} lons); a CSV weather "
                "file must list the points of a regular grid"
            )
        li = {v: k for k, v in enumerate(lats.tolist())}
        lj = {v: k for k, v in enumerate(lons.tolist())}
        grids = np.full((3, lats.size, lons.size), np.nan)
        for (la, lo), vals in points.items():
            grids[:, li[la], lj[lo]] = vals
        for k, var in enumerate(VARIABLES):
            if np.isfinite(grids[k]).any():
                _add(out, path, var, t, lats, lons, grids[k], source, bad="csv_bad_grid")


def _check_header(header: list[str], path: Path) -> None:
    base = {"time", "lat", "lon"}
    has_wind = "wind_ms" in header or {"u10", "v10"} <= set(header)
    if not base <= set(header) or not (has_wind or "wave_m" in header or "gust_ms" in header):
        raise ConfigError(
            f"weather {path}: unrecognised header {header}; expected "
            "time,lat,lon,wind_ms[,gust_ms][,wave_m] (or u10,v10 instead of wind_ms)"
        )
    if len(set(header)) != len(header):
        raise ConfigError(f"weather {path}: repeated column in header {header}")


def _csv_row(
    header: list[str],
    cells: list[str],
    path: Path,
    line_no: int,
    out: _Collector,
    slices: dict[datetime, dict[tuple[float, float], tuple[float, float, float]]],
    lines: dict[datetime, list[int]],
) -> None:
    if len(cells) != len(header):
        _bad(out, "csv_bad_row", path, line_no, f"{len(cells)} cells, header has {len(header)}")
        return
    row = dict(zip(header, cells, strict=True))
    try:
        t = datetime.fromisoformat(row["time"])
    except ValueError:
        _bad(out, "csv_bad_time", path, line_no, f"time {row['time'][:40]!r}")
        return
    t = t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)
    try:
        lat, lon = float(row["lat"]), float(row["lon"])
        if not (math.isfinite(lat) and math.isfinite(lon)):
            raise ValueError("non-finite position")
        if not (-90 <= lat <= 90 and -180 <= lon <= 360):
            raise ValueError(f"position {lat},{lon} out of range")
        got = {k: _value(row, k) for k in ("wind_ms", "gust_ms", "wave_m", "u10", "v10")}
    except ValueError as exc:
        _bad(out, "csv_bad_value", path, line_no, str(exc))
        return
    wind = got["wind_ms"]
    if math.isnan(wind) and not (math.isnan(got["u10"]) or math.isnan(got["v10"])):
        wind = math.hypot(got["u10"], got["v10"])
    if math.isnan(wind) and math.isnan(got["gust_ms"]) and math.isnan(got["wave_m"]):
        _bad(out, "csv_bad_value", path, line_no, "no wind, gust or wave value")
        return
    points = slices.setdefault(t, {})
    if (lat, lon) in points:
        _bad(out, "csv_duplicate", path, line_no, f"{t.isoformat()} {lat},{lon} repeated")
        return
    points[(lat, lon)] = (wind, got["gust_ms"], got["wave_m"])
    span = lines.setdefault(t, [line_no, line_no])
    span[1] = line_no


def _value(row: dict[str, str], column: str) -> float:
    """The cell as float, NaN if absent or empty; ValueError if not a plausible number."""
    text = row.get(column, "")
    if not text:
        return math.nan
    value = float(text)
    low, high = _RANGES[column]
    if not (math.isfinite(value) and low <= value <= high):
        raise ValueError(f"{column} {text[:20]!r} outside {low:g}..{high:g}")
    return value


def _bad(out: _Collector, reason: str, path: Path, line_no: int, detail: str) -> None:
    out.stats[reason] += 1
    log.warning(
        "weather row skipped",
        extra={"source": f"{path.name}:{line_no}", "reason": reason, "detail": detail},
    )
