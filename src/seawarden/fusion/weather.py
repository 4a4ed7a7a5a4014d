"""Weather context: wind and sea state at a vessel, and what a storm does to an anchor drag.

A dragging anchor is the signature of deliberate cable sabotage, but it is also what happens
to a ship at anchor in a storm: VEZHEN's owner said its port anchor fell in wind above
25 m/s and dragged, and the Swedish probe concluded it was an accident. Weather therefore
changes the *explanation* and the *certainty* of an anchor-drag finding — never the finding
itself. :class:`WeatherContext` never removes or suppresses a detector event; it emits a
separate ``weather`` *modifier* event (``attrs["modifies"] = "anchor_drag"``) that the risk
engine multiplies into the anchor-drag contribution (× ``factor``) and whose ``note`` it puts
on the alert, so the officer still sees the alert, with "likely accidental" beside it.

Calm weather is worth nothing as evidence either way: a ship can drag an anchor deliberately
in a storm, and a storm-free drag is not thereby deliberate. So calm produces no event.

:class:`WeatherField` holds gridded fields (from :func:`seawarden.ingest.weather.load_weather`)
and answers :meth:`WeatherField.at`: **bilinear** in space on each rectilinear lat/lon grid,
**nearest valid time** (not interpolated in time: a storm front is a moving edge, and blending
two fields an hour apart smears it into something neither model run said; with hourly ERA5 or
3-hourly GFS the nearest time is at most 30/90 min off). None outside the grid or more than
``max_age_s`` from every valid time.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, Literal

import numpy as np
import numpy.typing as npt

from seawarden.errors import ConfigError
from seawarden.model import Event, event_id

__all__ = [
    "BEAUFORT_LOWER_MS",
    "VARIABLES",
    "WEATHER_VERSION",
    "Variable",
    "WeatherAt",
    "WeatherConfig",
    "WeatherContext",
    "WeatherField",
    "WeatherLayer",
    "beaufort",
]

log = logging.getLogger(__name__)

WEATHER_VERSION: Final = "1"
Variable = Literal["wind_ms", "gust_ms", "wave_m"]
VARIABLES: Final[tuple[Variable, ...]] = ("wind_ms", "gust_ms", "wave_m")

# Lower bound (m/s, 10 m mean wind) of Beaufort forces 0..12, WMO Manual on Marine
# Meteorological Services (WMO-No. 558), Annex I / Met Office "Beaufort wind force scale".
BEAUFORT_LOWER_MS: Final = (0.0, 0.3, 1.6, 3.4, 5.5, 8.0, 10.8, 13.9, 17.2, 20.8, 24.5, 28.5, 32.7)
_DEFAULT_MAX_AGE_S: Final = 10_800.0
# Bound on the drag ids remembered (a drag episode is hours; 100k covers any real fleet).
_MAX_MEMORY: Final = 100_000

FloatArray = npt.NDArray[np.float64]


def beaufort(wind_ms: float) -> int:
    """Beaufort force (0..12) of a 10 m mean wind speed in m/s."""
    force = 0
    for n, lower in enumerate(BEAUFORT_LOWER_MS):
        if wind_ms >= lower:
            force = n
    return force


@dataclass(frozen=True, slots=True)
class WeatherAt:
    """The weather at one place and time. ``source`` names the file and message/rows used."""

    valid_time: datetime
    wind_ms: float | None
    gust_ms: float | None
    wave_m: float | None
    source: str


class WeatherLayer:
    """One variable on one rectilinear lat/lon grid at one valid time.

    ``values[i, j]`` is the value at ``lats[i]``, ``lons[j]``; NaN where missing (e.g. a wave
    model over land). Coordinates may come in either order and in -180..180 or 0..360: they
    are stored ascending and unwrapped, and a grid spanning the globe wraps around.
    """

    __slots__ = ("lats", "lons", "source", "t_s", "valid_time", "values", "variable")

    def __init__(
        self,
        variable: Variable,
        valid_time: datetime,
        lats: npt.ArrayLike,
        lons: npt.ArrayLike,
        values: npt.ArrayLike,
        source: str,
    ) -> None:
        if variable not in VARIABLES:
            raise ConfigError(f"{source}: unknown weather variable {variable!r}")
        la = np.asarray(lats, dtype=np.float64)
        lo = np.asarray(lons, dtype=np.float64)
        va = np.asarray(values, dtype=np.float64)
        if la.ndim != 1 or lo.ndim != 1 or va.shape != (la.size, lo.size):
            raise ConfigError(
                f"{source}: grid shape mismatch: {la.size} lats x {lo.size} lons "
                f"but values of shape {va.shape}"
            )
        if la.size < 2 or lo.size < 2:
            raise ConfigError(f"{source}: a grid needs at least 2 x 2 points, got {va.shape}")
        if not (np.isfinite(la).all() and np.isfinite(lo).all()):
            raise ConfigError(f"{source}: non-finite grid coordinates")
        if la[0] > la[-1]:
            la, va = la[::-1], va[::-1, :]
        if lo[0] > lo[-1] and np.all(np.diff(lo) < 0):
            lo, va = lo[::-1], va[:, ::-1]
        # Unwrap a grid crossing the antimeridian (170, 180, -170 → 170, 180, 190).
        lo = lo.copy()
        for k in range(1, lo.size):
            while lo[k] <= lo[k - 1] - 180.0:
                lo[k:] += 360.0
        if np.any(np.diff(la) <= 0) or np.any(np.diff(lo) <= 0):
            raise ConfigError(f"{source}: grid coordinates are not strictly monotonic")
        if la[0] < -90.0 - 1e-9 or la[-1] > 90.0 + 1e-9:
            raise ConfigError(f"{source}: latitudes outside -90..90")
        step = float(np.median(np.diff(lo)))
        span = float(lo[-1] - lo[0])
        if span >= 360.0 + 1e-6:
            raise ConfigError(f"{source}: longitudes span {span:g} degrees (more than 360)")
        if abs(span + step - 360.0) < 1e-3 * step:
            # Global grid: repeat the first column at +360 so the last cell wraps around.
            lo = np.append(lo, lo[0] + 360.0)
            va = np.concatenate([va, va[:, :1]], axis=1)
        va = np.where(np.isfinite(va), va, np.nan)
        self.variable: Variable = variable
        self.valid_time = valid_time if valid_time.tzinfo else valid_time.replace(tzinfo=UTC)
        self.t_s = self.valid_time.timestamp()
        self.lats: FloatArray = np.ascontiguousarray(la)
        self.lons: FloatArray = np.ascontiguousarray(lo)
        self.values: FloatArray = np.ascontiguousarray(va)
        self.source = source

    @property
    def points(self) -> int:
        return int(self.values.size)

    def sample(self, lat: float, lon: float) -> float | None:
        """Bilinear value at (lat, lon); None outside the grid or where all 4 corners miss.

        Where some corners are missing (coast of a wave grid) the finite ones are averaged
        with their bilinear weights renormalised, rather than losing the vessel entirely.
        """
        la, lo = self.lats, self.lons
        if not la[0] <= lat <= la[-1]:
            return None
        x = lo[0] + (lon - lo[0]) % 360.0  # the query in the grid's longitude frame
        if not lo[0] <= x <= lo[-1]:
            return None
        i = min(int(np.searchsorted(la, lat, side="right")) - 1, la.size - 2)
        j = min(int(np.searchsorted(lo, x, side="right")) - 1, lo.size - 2)
        fy = (lat - la[i]) / (la[i + 1] - la[i])
        fx = (x - lo[j]) / (lo[j + 1] - lo[j])
        v = self.values
        corners = (
            (v[i, j], (1 - fy) * (1 - fx)),
            (v[i, j + 1], (1 - fy) * fx),
            (v[i + 1, j], fy * (1 - fx)),
            (v[i + 1, j + 1], fy * fx),
        )
        total = 0.0
        weight = 0.0
        for value, w in corners:
            if not math.isnan(value):
                total += float(value) * w
                weight += w
        if weight <= 1e-12:
            return None
        return float(total / weight)


class WeatherField:
    """Gridded weather, queried per alert with :meth:`at`.

    ``stats`` counts what the loader read, used and skipped (``grib_messages``,
    ``grib_unsupported_grid``, ``csv_bad_value`` ...), so nothing is dropped silently.
    """

    def __init__(
        self,
        layers: Iterable[WeatherLayer],
        *,
        max_age_s: float = _DEFAULT_MAX_AGE_S,
        stats: Mapping[str, int] | None = None,
    ) -> None:
        if not (math.isfinite(max_age_s) and max_age_s >= 0):
            raise ConfigError(f"weather max_age_s must be a finite number >= 0, got {max_age_s}")
        self.max_age_s = float(max_age_s)
        self.stats: dict[str, int] = dict(stats or {})
        by_var: dict[Variable, list[WeatherLayer]] = {v: [] for v in VARIABLES}
        for layer in layers:
            by_var[layer.variable].append(layer)
        self._layers: dict[Variable, list[WeatherLayer]] = {}
        self._times: dict[Variable, FloatArray] = {}
        for var, items in by_var.items():
            items.sort(key=lambda a: a.t_s)  # stable: file order breaks ties
            self._layers[var] = items
            self._times[var] = np.array([a.t_s for a in items], dtype=np.float64)

    def __len__(self) -> int:
        return sum(len(v) for v in self._layers.values())

    @property
    def layers(self) -> list[WeatherLayer]:
        return [a for var in VARIABLES for a in self._layers[var]]

    def times(self) -> list[datetime]:
        """All distinct valid times, ascending."""
        return sorted({a.valid_time for a in self.layers})

    def at(self, lat: float, lon: float, time: datetime) -> WeatherAt | None:
        """The weather at a point and time, or None where no field covers it.

        Each variable comes from its layer with the nearest valid time (ties: the earlier)
        that covers the point, within ``max_age_s``. A naive ``time`` is taken as UTC.
        Never raises for any float coordinates: NaN, infinities and |lat| > 90 give None.
        """
        try:
            lat = float(lat)
            lon = float(lon)
        except (TypeError, ValueError):
            return None
        if not (math.isfinite(lat) and math.isfinite(lon)) or abs(lat) > 90.0:
            return None
        t_s = (time if time.tzinfo else time.replace(tzinfo=UTC)).timestamp()
        found: dict[Variable, tuple[float, WeatherLayer]] = {}
        for var in VARIABLES:
            hit = self._sample(var, lat, lon, t_s)
            if hit is not None:
                found[var] = hit
        if not found:
            return None
        first = next(iter(found.values()))[1]
        sources = list(dict.fromkeys(layer.source for _, layer in found.values()))
        return WeatherAt(
            valid_time=first.valid_time,
            wind_ms=found["wind_ms"][0] if "wind_ms" in found else None,
            gust_ms=found["gust_ms"][0] if "gust_ms" in found else None,
            wave_m=found["wave_m"][0] if "wave_m" in found else None,
            source="; ".join(sources),
        )

    def _sample(
        self, var: Variable, lat: float, lon: float, t_s: float
    ) -> tuple[float, WeatherLayer] | None:
        times = self._times[var]
        if times.size == 0:
            return None
        dt = np.abs(times - t_s)
        for k in np.argsort(dt, kind="stable"):
            if dt[k] > self.max_age_s:
                break
            layer = self._layers[var][int(k)]
            value = layer.sample(lat, lon)
            if value is not None:
                return value, layer
        return None


# -- storms and anchor drags ----------------------------------------------------------------------

WeatherClass = Literal["storm", "gale"]


@dataclass(frozen=True)
class WeatherConfig:
    """Thresholds and effect of weather on an anchor-drag finding.

    * ``storm_wind_ms`` 24.5: lower bound of Beaufort 10 ("storm", WMO-No. 558); mean wind or
      gust at or above it makes an accidental drag likely (VEZHEN: > 25 m/s).
    * ``gale_wind_ms`` 17.2: lower bound of Beaufort 8 ("gale"): accidental drag possible.
    * ``storm_wave_m`` 6.0: significant wave height of "very high" sea (WMO sea state 7).
    * ``factor`` 0.9 / ``gale_factor`` 0.97: what the anchor-drag contribution is multiplied
      by while the modifier is active — visible, never zero (a storm does not clear a ship).
    * ``valid_s`` 10800: how long after its time a modifier stays active in the risk engine.
    """

    storm_wind_ms: float = 24.5
    gale_wind_ms: float = 17.2
    storm_wave_m: float = 6.0
    factor: float = 0.9
    gale_factor: float = 0.97
    valid_s: float = 10_800.0

    def __post_init__(self) -> None:
        for name in ("storm_wind_ms", "gale_wind_ms", "storm_wave_m", "valid_s"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                raise ConfigError(f"weather.{name} must be a finite number > 0, got {value!r}")
        if self.gale_wind_ms >= self.storm_wind_ms:
            raise ConfigError(
                f"weather.gale_wind_ms ({self.gale_wind_ms}) must be below "
                f"storm_wind_ms ({self.storm_wind_ms})"
            )
        for name in ("factor", "gale_factor"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and 0 < value <= 1):
                raise ConfigError(
                    f"weather.{name} must be in (0, 1]: a storm lowers the certainty of an "
                    f"anchor drag but never erases it; got {value!r}"
                )
        if self.gale_factor < self.factor:
            raise ConfigError(
                f"weather.gale_factor ({self.gale_factor}) must be >= factor ({self.factor}): "
                "a gale explains a drag less than a storm"
            )


@dataclass(slots=True)
class _Annotated:
    modifier_id: str
    cls: WeatherClass
    time: datetime


class WeatherContext:
    """Turns anchor-drag findings in storms into ``weather`` modifier events.

    For each ``anchor_drag`` event (phase open/update) the weather at its position and time
    is looked up; in storm (wind or gust >= ``storm_wind_ms``, or waves >= ``storm_wave_m``)
    or gale (wind or gust >= ``gale_wind_ms``) one modifier is emitted per drag event id. The
    same modifier id is re-emitted (instant, at the later finding's time, which replaces the
    earlier one in the risk engine) only when the class changes (gale → storm) or when the
    previous one has lapsed (``valid_s`` passed) while the drag goes on in the same weather.
    Calm, or no weather data, emits nothing: calm is no evidence either way, and a modifier
    already emitted simply lapses after ``valid_s``. A ``close`` of the drag forgets its id.
    """

    def __init__(self, field: WeatherField, config: WeatherConfig | None = None) -> None:
        self.field = field
        self.config = config or WeatherConfig()
        self._seen: dict[str, _Annotated] = {}

    def classify(self, w: WeatherAt) -> WeatherClass | None:
        cfg = self.config
        wind = max((v for v in (w.wind_ms, w.gust_ms) if v is not None), default=None)
        if (wind is not None and wind >= cfg.storm_wind_ms) or (
            w.wave_m is not None and w.wave_m >= cfg.storm_wave_m
        ):
            return "storm"
        if wind is not None and wind >= cfg.gale_wind_ms:
            return "gale"
        return None

    def on_findings(self, findings: Sequence[Event]) -> list[Event]:
        out: list[Event] = []
        for ev in findings:
            if ev.kind != "anchor_drag":
                continue
            if ev.phase == "close":
                self._seen.pop(ev.id, None)
                continue
            if ev.phase not in ("open", "update"):
                continue
            w = self.field.at(ev.lat, ev.lon, ev.time)
            cls = self.classify(w) if w is not None else None
            if w is None or cls is None:
                continue
            prev = self._seen.get(ev.id)
            if (
                prev is not None
                and prev.cls == cls
                and (ev.time - prev.time).total_seconds() <= self.config.valid_s
            ):
                continue  # still active in the risk engine: do not repeat
            mod_id = prev.modifier_id if prev else event_id("weather", ev.mmsi, ev.time, ev.id)
            self._seen.pop(ev.id, None)
            self._seen[ev.id] = _Annotated(mod_id, cls, ev.time)
            if len(self._seen) > _MAX_MEMORY:
                del self._seen[next(iter(self._seen))]  # oldest annotation first
            out.append(self._modifier(ev, w, cls, mod_id))
        return out

    def _modifier(self, ev: Event, w: WeatherAt, cls: WeatherClass, mod_id: str) -> Event:
        cfg = self.config
        at = w.valid_time.astimezone(UTC)
        parts: list[str] = []
        force: int | None = None
        if w.wind_ms is not None:
            force = beaufort(w.wind_ms)
            parts.append(f"wind {w.wind_ms:.0f} m/s (Beaufort {force})")
        if w.gust_ms is not None and (w.wind_ms is None or w.gust_ms > w.wind_ms):
            parts.append(f"gusts {w.gust_ms:.0f} m/s")
        if w.wave_m is not None:
            parts.append(f"waves {w.wave_m:.1f} m")
        what = ", ".join(parts)
        if cls == "storm":
            explanation, factor = "likely accidental", cfg.factor
        else:
            explanation, factor = "accidental drag possible", cfg.gale_factor
        note = f"{explanation}: {cls}, {what} at the vessel at {at:%H:%M}Z ({w.source})"
        reason = (
            f"The weather model gives {what} at the vessel's position at "
            f"{at:%Y-%m-%d %H:%M}Z ({w.source}); an anchor can drag by accident in a {cls}, "
            f"so the anchor-drag finding counts × {factor:g} and stays an alert."
        )
        return Event(
            id=mod_id,
            kind="weather",
            phase="instant",
            mmsi=ev.mmsi,
            time=ev.time,
            lat=ev.lat,
            lon=ev.lon,
            producer_version=WEATHER_VERSION,
            attrs={
                "type": cls,
                "modifies": "anchor_drag",
                "modifies_event_id": ev.id,
                "factor": factor,
                "valid_s": cfg.valid_s,
                "explanation": explanation,
                "note": note,
                "wind_ms": _round(w.wind_ms),
                "gust_ms": _round(w.gust_ms),
                "wave_m": _round(w.wave_m),
                "beaufort": force,
                "weather_valid_time": at.isoformat(),
                "source": w.source,
                "reasons": [reason],
            },
        )

    # -- memory ---------------------------------------------------------------------------------
    def forget(self, ids: Iterable[str]) -> None:
        """Drop the memory of these anchor-drag event ids."""
        for i in ids:
            self._seen.pop(i, None)

    def snapshot(self) -> dict[str, Any]:
        return {
            "version": 1,
            "annotated": [
                [drag_id, a.modifier_id, a.cls, a.time.isoformat()]
                for drag_id, a in self._seen.items()
            ],
        }

    def restore(self, snap: Mapping[str, Any]) -> None:
        try:
            if snap.get("version") != 1:
                raise ValueError(f"unknown version {snap.get('version')!r}")
            seen: dict[str, _Annotated] = {}
            for drag_id, mod_id, cls, time in snap["annotated"]:
                if cls not in ("storm", "gale"):
                    raise ValueError(f"unknown class {cls!r}")
                seen[str(drag_id)] = _Annotated(str(mod_id), cls, datetime.fromisoformat(time))
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"weather context snapshot is unreadable: {exc}") from exc
        self._seen = seen


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)
