"""What a coastal radar and a satellite would have seen of a simulated scenario.

The scenario simulator (:mod:`seawarden.sim.write`) knows every vessel's *truth* — where it
was, whatever its transponder said or did not say — and the real background traffic. This
module turns that truth into sensor output for the fusion scenarios: a radar's TTM/TLL
sentences for every ship inside its range (background included, so the fusion stage is
tested against real traffic density), and satellite detections for a pass. All of it is
SIMULATED: no real radar or SAR record of these waters at these times is available offline.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from seawarden.fusion.sensors import SensorConfig
from seawarden.model import PositionReport
from seawarden.sim.radar import radar_lines
from seawarden.sim.write import Plan, plan, simulate

__all__ = ["RadarScenario", "merge_nmea", "radar_feed", "radar_scenario", "truth_tracks"]

_C_FIELD = re.compile(rb"[\\,]c:(\d+)")
_MAX_TRACK_NO = 99  # TTM/TLL target numbers are two digits
_REUSE_AFTER_S = 900.0  # a radar does not reuse a target number right after losing it


def truth_tracks(plan: Plan, *, background: bool = True) -> dict[int, list[PositionReport]]:
    """True positions by vessel key: scenario vessels (their MMSI; a second hull sharing an
    MMSI gets a negative key) and, with ``background``, the real ships (time-shifted)."""
    out: dict[int, list[PositionReport]] = {}
    for i, v in enumerate(plan.vessels):
        key = v.mmsi if v.mmsi not in out else -(i + 1)
        out[key] = [
            PositionReport(
                mmsi=v.mmsi,
                time=s.time(plan.epoch),
                lat=s.lat,
                lon=s.lon,
                speed_kn=s.speed_kn,
                course_deg=s.course_deg,
                heading_deg=s.heading_deg,
                source="truth",
            )
            for s in v.samples
        ]
    if background:
        scenario_keys = set(out)
        for rec in plan.background:
            if isinstance(rec, PositionReport) and rec.mmsi not in scenario_keys:
                shifted = PositionReport(
                    mmsi=rec.mmsi,
                    time=rec.time + plan.shift,
                    lat=rec.lat,
                    lon=rec.lon,
                    speed_kn=rec.speed_kn,
                    course_deg=rec.course_deg,
                    heading_deg=rec.heading_deg,
                    source="truth",
                )
                out.setdefault(rec.mmsi, []).append(shifted)
    return out


def radar_feed(
    tracks: Mapping[int, Sequence[PositionReport]],
    sensor: SensorConfig,
    *,
    seed: int,
    every_s: float = 6.0,
    sigma_m: float | None = None,
    min_reports: int = 3,
) -> list[bytes]:
    """Tagged TTM lines for every track inside the radar's range, with target numbers
    1..99 allocated as a radar would (a number is reused only well after its target was
    lost). Tracks with fewer than ``min_reports`` true positions are not tracked."""
    rng = random.Random(seed)
    sigma = sigma_m if sigma_m is not None else sensor.sigma_m
    free_at: dict[int, float] = {n: float("-inf") for n in range(1, _MAX_TRACK_NO + 1)}
    per_track: list[tuple[float, int, list[str]]] = []
    for key in sorted(tracks, key=lambda k: (min(r.time for r in tracks[k]), k)):
        truth = tracks[key]
        if len(truth) < min_reports:
            continue
        lines = radar_lines(truth, sensor, track_no=1, every_s=every_s, sigma_m=sigma, rng=rng)
        if not lines:
            continue
        start, end = _c_of(lines[0].encode()), _c_of(lines[-1].encode())
        number = next((n for n in sorted(free_at) if free_at[n] < start), None)
        if number is None:
            continue  # the radar's table is full: it does not track this one
        free_at[number] = end + _REUSE_AFTER_S
        # re-render with the allocated number (the same rng stream order is not needed)
        lines = radar_lines(truth, sensor, track_no=number, every_s=every_s, sigma_m=sigma, rng=rng)
        per_track.append((start, number, lines))
    out = [line.encode() for _, _, lines in per_track for line in lines]
    out.sort(key=_c_of)
    return out


@dataclass(frozen=True, slots=True)
class RadarScenario:
    plan: Plan
    ais: Path  # the scenario over its real background, AIS only
    feed: Path  # the same with the radar's TTM lines merged in by event time


def radar_scenario(
    out_dir: Path,
    spec: str,
    *,
    background: Path,
    radar: SensorConfig,
    seed: int = 7,
    radar_seed: int | None = None,
    keep_s: float | None = None,
) -> RadarScenario:
    """One scenario over real background traffic with a radar watching it: the recipe the
    fusion tests, the end-to-end test and ``bench/fusion.py`` share. ``keep_s`` cuts the
    feed that many seconds of event time after the scenario epoch."""
    out_dir.mkdir(parents=True, exist_ok=True)
    ais = out_dir / "ais.nmea"
    simulate(ais, out_dir / "labels.jsonl", scenarios=[spec], background=background, seed=seed)
    p = plan(scenarios=[spec], background=background, seed=seed)
    feed = out_dir / "ais+radar.nmea"
    lines = radar_feed(truth_tracks(p), radar, seed=seed if radar_seed is None else radar_seed)
    merge_nmea(ais, lines, feed)
    if keep_s is not None:
        end = p.epoch.timestamp() + keep_s
        kept = [ln for ln in feed.read_bytes().splitlines(keepends=True) if _c_of(ln) <= end]
        feed.write_bytes(b"".join(kept))
    return RadarScenario(plan=p, ais=ais, feed=feed)


def merge_nmea(path: Path, extra: Iterable[bytes], out: Path) -> int:
    """Write ``path``'s tagged lines and ``extra`` lines to ``out`` in event-time order (by
    tag-block ``c:``, stable), as one receiver log would hold them. Returns the line count."""
    lines = [ln.rstrip(b"\r\n") for ln in path.read_bytes().splitlines() if ln.strip()]
    lines += [ln.rstrip(b"\r\n") for ln in extra]
    lines.sort(key=_c_of)
    out.write_bytes(b"\n".join(lines) + b"\n")
    return len(lines)


def shifted(track: Sequence[PositionReport], by: timedelta) -> list[PositionReport]:
    """A track moved in time (helper for tests that place sensors' passes)."""
    return [
        PositionReport(
            mmsi=r.mmsi,
            time=r.time + by,
            lat=r.lat,
            lon=r.lon,
            speed_kn=r.speed_kn,
            course_deg=r.course_deg,
            source=r.source,
        )
        for r in track
    ]


def _c_of(line: bytes) -> float:
    m = _C_FIELD.search(line[: line.find(b"\\", 1) + 1] if line.startswith(b"\\") else b"")
    return float(m.group(1)) if m else float("inf")
