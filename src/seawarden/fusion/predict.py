# ruff: noqa: N806  (Kalman filter notation: F, Q, P, H, S, K)
"""Where was an AIS vessel at a contact's time, and how sure are we? And a radar track's filter.

Association compares a radar/satellite contact with where each AIS vessel *was at the
contact's time*. AIS reports rarely coincide with a radar scan, so the vessel's position is
predicted:

* between two reports that bracket the time (contacts are held ``hold_s`` so the later one
  has usually arrived), by cubic Hermite interpolation using both reports' SOG/COG as end
  tangents (linear when either lacks them): a turning ferry is followed much better than by
  a chord;
* otherwise by a constant-velocity extrapolation from the nearest report, with SOG/COG or
  the velocity of the two nearest reports.

The uncertainty is the AIS GNSS error plus what a white-acceleration (CV) model adds over
the time bridged: ``q·τ³/3`` per axis (the position block of the CV model's ``Q``), plus the
velocity error times ``τ`` for an extrapolation. It is kept isotropic (one variance) because
neither the GNSS error nor an unknown manoeuvre has a preferred direction; that keeps the
gate test a scalar division on the hot path.

All geometry is in a local tangent plane (metres east/north) around a reference point;
equirectangular is exact to well below radar noise within the ~20 km of a gate.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from seawarden.fusion.config import FusionConfig

EARTH_R = 6_371_008.8
KN = 1852.0 / 3600.0  # m/s per knot


# -- local plane ----------------------------------------------------------------------------


def to_plane(lat0: float, lon0: float, lat: float, lon: float) -> tuple[float, float]:
    """(east, north) metres of ``lat, lon`` from the reference point (antimeridian-safe)."""
    dlon = (lon - lon0 + 180.0) % 360.0 - 180.0
    east = math.radians(dlon) * EARTH_R * math.cos(math.radians(lat0))
    north = math.radians(lat - lat0) * EARTH_R
    return east, north


def from_plane(lat0: float, lon0: float, east: float, north: float) -> tuple[float, float]:
    """Inverse of :func:`to_plane`: (lat, lon)."""
    lat = lat0 + math.degrees(north / EARTH_R)
    coslat = max(math.cos(math.radians(lat0)), 1e-9)
    lon = lon0 + math.degrees(east / (EARTH_R * coslat))
    return max(-90.0, min(90.0, lat)), (lon + 180.0) % 360.0 - 180.0


def velocity_en(speed_kn: float | None, course_deg: float | None) -> tuple[float, float] | None:
    """SOG/COG as (east, north) m/s, or None when either is missing or not finite."""
    if speed_kn is None or course_deg is None:
        return None
    if not (math.isfinite(speed_kn) and math.isfinite(course_deg)):
        return None
    v = speed_kn * KN
    c = math.radians(course_deg)
    return v * math.sin(c), v * math.cos(c)


def speed_course(ve: float, vn: float) -> tuple[float, float]:
    """(speed_kn, course_deg) of an (east, north) velocity."""
    return math.hypot(ve, vn) / KN, math.degrees(math.atan2(ve, vn)) % 360.0


# -- AIS prediction --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Fix:
    """One AIS position, compact: epoch seconds, position, SOG (kn), COG (°)."""

    t: float
    lat: float
    lon: float
    sog: float | None
    cog: float | None

    def to_list(self) -> list[Any]:
        return [self.t, self.lat, self.lon, self.sog, self.cog]

    @classmethod
    def from_list(cls, row: Sequence[Any]) -> Fix:
        return cls(float(row[0]), float(row[1]), float(row[2]), row[3], row[4])


@dataclass(frozen=True, slots=True)
class Prediction:
    """A vessel's predicted position at a time: ``var_m2`` is the per-axis variance."""

    lat: float
    lon: float
    var_m2: float
    ve: float  # east velocity, m/s (0 when unknown)
    vn: float
    dt_s: float  # time bridged: to the nearer bracketing report, or extrapolated
    method: str  # "interpolate" | "extrapolate"
    vvar: float = math.inf  # per-axis variance of (ve, vn), m²/s²; large when unknown


def _cv_var(q: float, tau: float) -> float:
    """Position variance a white-acceleration model adds over ``tau`` s (one axis)."""
    return q * tau**3 / 3.0


def predict_at(
    fixes: Sequence[Fix], times: Sequence[float], t: float, cfg: FusionConfig,
    n: int | None = None,
) -> Prediction | None:  # fmt: skip
    """The vessel's position at ``t`` from its time-sorted ``fixes`` (``times`` = their
    ``t``; only the first ``n`` when given, so callers need not copy), or None when the
    nearest report is more than ``max_extrapolate_s`` away."""
    n = len(fixes) if n is None else n
    if n == 0:
        return None
    q = cfg.accel_sigma_mps2**2
    r0 = cfg.ais_sigma_m**2
    i = bisect.bisect_left(times, t, 0, n)
    sv2 = cfg.speed_sigma_mps**2
    unknown_v2 = (cfg.max_speed_kn * KN / 3.0) ** 2
    if i < n and times[i] == t:
        f0 = fixes[i]
        v_known = velocity_en(f0.sog, f0.cog)
        v0 = v_known or (0.0, 0.0)
        vv = sv2 if v_known is not None else unknown_v2
        return Prediction(f0.lat, f0.lon, r0, v0[0], v0[1], 0.0, "interpolate", vv)
    if 0 < i < n:
        a, b = fixes[i - 1], fixes[i]
        h = b.t - a.t
        if 0 < h <= cfg.max_interp_gap_s:
            return _interpolate(a, b, t, h, q, r0, sv2)
    # extrapolate from the nearer neighbour
    if i == 0:
        k = 0
    elif i == n:
        k = n - 1
    else:
        k = i - 1 if t - times[i - 1] <= times[i] - t else i
    f = fixes[k]
    dt = t - f.t
    if abs(dt) > cfg.max_extrapolate_s:
        return None
    v: tuple[float, float] | None = velocity_en(f.sog, f.cog)
    vv = sv2
    if v is None and n >= 2:
        j = k - 1 if k > 0 else k + 1
        g = fixes[j]
        if g.t != f.t:
            e, nn = to_plane(g.lat, g.lon, f.lat, f.lon)
            v = (e / (f.t - g.t), nn / (f.t - g.t))
            vv = 2.0 * r0 / (f.t - g.t) ** 2  # the chord of two GNSS fixes
    var = r0 + _cv_var(q, abs(dt))
    if v is None:
        v = (0.0, 0.0)
        var += (cfg.max_speed_kn * KN * dt / 3.0) ** 2  # unknown motion: a wide guess
        vv = unknown_v2
    else:
        var += (cfg.speed_sigma_mps * dt) ** 2
    lat, lon = from_plane(f.lat, f.lon, v[0] * dt, v[1] * dt)
    # the velocity itself random-walks under the CV model: q·|dt| per axis
    return Prediction(lat, lon, var, v[0], v[1], abs(dt), "extrapolate", vv + q * abs(dt))


def _interpolate(a: Fix, b: Fix, t: float, h: float, q: float, r0: float,
                 sv2: float) -> Prediction:  # fmt: skip
    s = (t - a.t) / h
    tau = min(t - a.t, b.t - t)
    bx, by = to_plane(a.lat, a.lon, b.lat, b.lon)
    va, vb = velocity_en(a.sog, a.cog), velocity_en(b.sog, b.cog)
    if va is None or vb is None:
        x, y = bx * s, by * s
        ve, vn = bx / h, by / h
        vvar = 2.0 * r0 / h**2 + q * h / 3.0  # the chord: two GNSS errors, a manoeuvre
    else:
        # cubic Hermite: p(s) = h00·p0 + h10·h·v0 + h01·p1 + h11·h·v1
        h10 = s**3 - 2 * s**2 + s
        h01 = -2 * s**3 + 3 * s**2
        h11 = s**3 - s**2
        x = h10 * h * va[0] + h01 * bx + h11 * h * vb[0]
        y = h10 * h * va[1] + h01 * by + h11 * h * vb[1]
        # the velocity is the reports' own SOG/COG blended, not the curve's derivative: the
        # derivative carries the chord's GNSS jitter divided by h, and real feeds hold
        # reports a second apart from two receivers (measured on the Solent: 40 kn
        # "velocities" for a 22 kn fast ferry)
        ve = (1.0 - s) * va[0] + s * vb[0]
        vn = (1.0 - s) * va[1] + s * vb[1]
        vvar = sv2 + q * tau  # SOG/COG error, and the velocity's random walk since
    lat, lon = from_plane(a.lat, a.lon, x, y)
    return Prediction(lat, lon, r0 + _cv_var(q, tau), ve, vn, tau, "interpolate", vvar)


# -- a radar track's constant-velocity Kalman filter ----------------------------------------


class CVFilter:
    """A 2-D constant-velocity Kalman filter (state east, north, v_east, v_north) in the
    tangent plane at ``(lat0, lon0)``, the track's first contact."""

    __slots__ = ("P", "lat0", "lon0", "q", "t", "x")

    def __init__(
        self, lat0: float, lon0: float, t: float, sigma_m: float, q: float,
        velocity: tuple[float, float] | None = None, vel_sigma_mps: float = 10.0,
    ) -> None:  # fmt: skip
        self.lat0, self.lon0, self.t, self.q = lat0, lon0, t, q
        v = velocity or (0.0, 0.0)
        vs = 1.0 if velocity is not None else vel_sigma_mps
        self.x: NDArray[np.float64] = np.array([0.0, 0.0, v[0], v[1]])
        self.P: NDArray[np.float64] = np.diag([sigma_m**2, sigma_m**2, vs**2, vs**2])

    @staticmethod
    def _fq(dt: float, q: float) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        F = np.eye(4)
        F[0, 2] = F[1, 3] = dt
        a, b, c = q * abs(dt) ** 3 / 3.0, q * dt**2 / 2.0 * np.sign(dt), q * abs(dt)
        Q = np.array([[a, 0, b, 0], [0, a, 0, b], [b, 0, c, 0], [0, b, 0, c]], dtype=float)
        return F, Q

    def predicted(self, t: float) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """State and covariance at ``t`` (not stored)."""
        dt = t - self.t
        if dt == 0:
            return self.x.copy(), self.P.copy()
        F, Q = self._fq(dt, self.q)
        return F @ self.x, F @ self.P @ F.T + Q

    def latlon_at(self, t: float) -> tuple[float, float, float]:
        """(lat, lon, per-axis position variance) predicted at ``t``."""
        x, P = self.predicted(t)
        lat, lon = from_plane(self.lat0, self.lon0, float(x[0]), float(x[1]))
        return lat, lon, float(max(P[0, 0], P[1, 1]))

    def update(self, t: float, lat: float, lon: float, sigma_m: float) -> float:
        """Predict to ``t`` and update with a position; returns the innovation d²."""
        x, P = self.predicted(t)
        z = np.array(to_plane(self.lat0, self.lon0, lat, lon))
        H = np.array([[1.0, 0, 0, 0], [0, 1.0, 0, 0]])
        nu = z - H @ x
        S = H @ P @ H.T + np.eye(2) * sigma_m**2
        Si = np.linalg.inv(S)
        K = P @ H.T @ Si
        self.x = x + K @ nu
        # Joseph form keeps P symmetric positive definite under rounding
        ikh = np.eye(4) - K @ H
        self.P = ikh @ P @ ikh.T + K @ (np.eye(2) * sigma_m**2) @ K.T
        self.t = t
        return float(nu @ Si @ nu)

    def velocity(self) -> tuple[float, float]:
        return float(self.x[2]), float(self.x[3])

    def to_dict(self) -> dict[str, Any]:
        return {
            "lat0": self.lat0, "lon0": self.lon0, "t": self.t, "q": self.q,
            "x": [float(v) for v in self.x], "P": [[float(v) for v in row] for row in self.P],
        }  # fmt: skip

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CVFilter:
        f = cls(float(d["lat0"]), float(d["lon0"]), float(d["t"]), 1.0, float(d["q"]))
        f.x = np.array(d["x"], dtype=float)
        f.P = np.array(d["P"], dtype=float)
        return f
