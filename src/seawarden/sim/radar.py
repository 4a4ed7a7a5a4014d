"""A radar SIMULATOR: what a coastal radar would report about a ship whose true track is known.

This is not a model of any real radar's tracker. It samples a ship's true track (a list of
:class:`~seawarden.model.PositionReport`, e.g. a scenario vessel's ground truth) every
``every_s`` seconds while the ship is within the radar's range, adds a 2-D Gaussian position
error of ``sigma_m`` per axis, and writes each observation as an NMEA 0183 ``TTM`` (range and
bearing from the site, true) or ``TLL`` (lat/lon) sentence rendered by pynmea2, behind a tag
block ``\\s:station,c:unix*hh\\`` — the lines a shared feed would carry, which
:mod:`seawarden.ingest.radar_nmea` reads back. Speed and course are those of the true track
between its two bracketing reports (no noise: a tracker smooths them).
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Literal

import pynmea2
from pyproj import Geod

from seawarden.fusion.sensors import SensorConfig
from seawarden.model import PositionReport

__all__ = ["radar_lines", "tag_block"]

_GEOD = Geod(ellps="WGS84")
_M_PER_NM = 1852.0


def tag_block(station: str, unix_s: int) -> str:
    """``\\s:station,c:unix*hh\\``; the checksum is the XOR of the characters between the
    opening backslash and ``*`` (NMEA 4.10 tag blocks)."""
    body = f"s:{station},c:{unix_s}"
    cs = 0
    for ch in body.encode("ascii"):
        cs ^= ch
    return f"\\{body}*{cs:02X}\\"


def radar_lines(
    truth: Sequence[PositionReport],
    sensor: SensorConfig,
    *,
    track_no: int,
    every_s: float = 6.0,
    sigma_m: float = 30.0,
    rng: random.Random,
    sentence: Literal["TTM", "TLL"] = "TTM",
    station: str | None = None,
    drop_prob: float = 0.0,
) -> list[str]:
    """Simulated radar observations of one ship, as tagged NMEA lines sorted by time.

    ``truth`` need not be sorted; observation times are whole seconds (the tag block's
    ``c:``), from the first true report on, ``every_s`` apart. ``drop_prob`` is the chance
    that a scan misses the target. ``station`` defaults to the sensor's first listed
    station (or its id), so that the registry attributes the lines back to ``sensor``.
    """
    if sensor.lat is None or sensor.lon is None or sensor.range_m is None:
        raise ValueError(f"sensor {sensor.id!r} has no site or range: not a radar")
    if every_s <= 0 or sigma_m < 0 or not 0.0 <= drop_prob <= 1.0:
        raise ValueError("every_s must be > 0, sigma_m >= 0 and drop_prob within 0..1")
    if not 0 <= track_no <= 99:
        raise ValueError("track_no must be 0..99 (TTM/TLL target number)")
    st = station or (sensor.stations[0] if sensor.stations else sensor.id)
    pts = sorted(truth, key=lambda r: r.time)
    if not pts:
        return []
    t0, t_end = pts[0].time.timestamp(), pts[-1].time.timestamp()
    out: list[str] = []
    j = 0
    k = 0
    while True:
        t = float(round(t0 + k * every_s))
        k += 1
        if t > t_end:
            break
        while j + 1 < len(pts) - 1 and pts[j + 1].time.timestamp() <= t:
            j += 1
        a, b = pts[j], pts[min(j + 1, len(pts) - 1)]
        lat, lon, speed_kn, course = _interpolate(a, b, t)
        _, _, true_dist = _GEOD.inv(sensor.lon, sensor.lat, lon, lat)
        if true_dist > sensor.range_m:
            continue
        if drop_prob and rng.random() < drop_prob:
            continue
        if sigma_m > 0:
            dx, dy = rng.gauss(0.0, sigma_m), rng.gauss(0.0, sigma_m)
            lon, lat, _ = _GEOD.fwd(lon, lat, math.degrees(math.atan2(dx, dy)), math.hypot(dx, dy))
        when = datetime.fromtimestamp(t, tz=UTC)
        hhmmss = when.strftime("%H%M%S") + ".00"
        if sentence == "TTM":
            az, _, dist = _GEOD.inv(sensor.lon, sensor.lat, lon, lat)
            msg = pynmea2.TTM(
                "RA",
                "TTM",
                (
                    f"{track_no:02d}",
                    f"{dist / _M_PER_NM:.4f}",
                    f"{az % 360.0:.1f}",
                    "T",
                    "" if speed_kn is None else f"{speed_kn:.1f}",
                    "" if course is None else f"{course:.1f}",
                    "T",
                    "",
                    "",
                    "N",
                    "",
                    "T",
                    "",
                    hhmmss,
                    "A",
                ),
            )
        else:
            msg = pynmea2.TLL(
                "RA",
                "TLL",
                (f"{track_no:02d}", *_dm(lat, lon), "", hhmmss, "T", ""),
            )
        out.append(tag_block(st, int(t)) + str(msg))
    return out


def _interpolate(
    a: PositionReport, b: PositionReport, t: float
) -> tuple[float, float, float | None, float | None]:
    """Position at ``t`` on the geodesic a→b, with the segment's speed and course."""
    ta, tb = a.time.timestamp(), b.time.timestamp()
    az, _, dist = _GEOD.inv(a.lon, a.lat, b.lon, b.lat)
    if tb <= ta or dist == 0.0:
        return a.lat, a.lon, (0.0 if tb > ta else a.speed_kn), (None if tb > ta else a.course_deg)
    f = min(1.0, max(0.0, (t - ta) / (tb - ta)))
    lon, lat, _ = _GEOD.fwd(a.lon, a.lat, az, dist * f)
    return float(lat), float(lon), dist / (tb - ta) * 3600.0 / _M_PER_NM, az % 360.0


def _dm(lat: float, lon: float) -> tuple[str, str, str, str]:
    """Degrees and decimal minutes, as TLL writes them: ``ddmm.mmmmm,N,dddmm.mmmmm,E``."""

    def one(value: float, width: int) -> str:
        minutes = round(abs(value) * 60.0, 5)
        d, m = divmod(minutes, 60.0)
        return f"{int(d):0{width}d}{m:08.5f}"

    return one(lat, 2), "N" if lat >= 0 else "S", one(lon, 3), "E" if lon >= 0 else "W"
