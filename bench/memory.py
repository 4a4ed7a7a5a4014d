"""Memory held per tracked vessel, split into the track windows and everything beyond them.

Usage: ``python bench/memory.py [--vessels 50000 300000] [--window-min 30 12] [--exact]``

Issue 8 goal: peak memory ≤ 2 KB per tracked vessel beyond the track windows.

Input. The real Baltic cargo tracks (tracks/baltic-cargo-2020 in the shared data, 76
ships, 1–2 min positions), cut into their at-sea runs of 3 h or more (39 runs; see
``load_sources``: the land mask would put ~40 % of the rows, in Norwegian fjords and ports,
on land), are replicated to N distinct vessels: vessel ``i`` follows run ``i mod 39`` from a
start row of its own (so copies of one ship are at different places along its route),
shifted by up to ~400 m (a per-copy grid offset, checked to stay at sea), with its own
start phase in the first 10 min. Its MMSI keeps the
source ship's MID (so the fleet classifies it as a ship) with a unique 6-digit tail; it
sends one static report (type-5-like: a valid, unique IMO, name, callsign, type 70,
dimensions, draught, destination) just after its first position. Each vessel reports the
source ship's own positions and time steps (real SOG/COG) for ``--window-min`` minutes of
event time, so every vessel is still heard at the end of the run (all N are held: no TTL
expiry, printed) and its track window is as full as a real 1–2-minute-sampled feed fills
it. All records of all vessels are merged in event-time order, as real traffic arrives.

Feeding. Records are built as model records (PositionReport/StaticReport) and fed straight
into ``PipelineCore.process``: decoding, normalising and ordering are not what is measured
and hold no per-vessel state beyond their bounded buffers. The core is the one the runners
build (``build_core``) from a RunConfig with config/areas.geojson, config/watchlist.csv, all
detectors at their defaults and the risk stage — but **no store**, as bench/throughput.py
runs, so the evidence rings (store/evidence.py, only kept with a store) are **not**
included. The large N uses a shorter reporting span by default (``--window-min 30 12``:
30 min = 24 positions per vessel at 50k on average, 18 held in the window, as the few
runs sampled every few seconds hit its 32-position cap; 12 min = 11.6 at 300k) to bound
the run time: the pipeline does ~5,000 records/s at these densities (the neighbour
queries grow with them), so 50k takes ~4 min and 300k ~13 min on one core. The state
measured is what a real run holds after that much traffic: every structure is the
pipeline's own, fed through ``process``; only the track windows are less full at 300k,
and they are subtracted.

Measuring. At the baseline (the core built, no vessel fed) every object the core reaches is
listed (and kept alive, so no id is reused). After the last record the feeder is deleted
and ``gc.collect()`` run; then a walk over the pipeline's structures counts, by
``sys.getsizeof`` (plus the blocks a deque keeps in its own free list), every object
made since the baseline that they reach (through
``gc.get_referents``, plus the keys of dicts, which it leaves out when they are all str;
types, modules and functions are not entered), each object once:

* ``track windows``: every ``VesselState.track`` deque and what it holds — the
  PositionReport objects with their datetimes, floats and ints. Walked first, so a report
  also held elsewhere (the newest one is in the neighbour index too) counts here;
* then, labelled by structure: the fleet dict, each VesselState's object and fields, the
  detector runner's per-vessel lists, each detector's state object and each of its fields,
  the runner's tick queue, the neighbours grid, coverage, the area tracker, the risk stage
  (and its engine, monitor, alerts) and the core's own per-vessel dicts;
* ``total`` = the walk's sum; ``beyond`` = total − track windows (the goal's figure);
* ``peak``: the largest RSS growth over the feed (sampled every 65,536 records) less the
  feeder's own arrays, which includes allocator overhead and transient per-record garbage;
  RSS growth after gc is printed beside it.

``--exact`` runs the same with tracemalloc on from the baseline: the total is then the
traced bytes retained (so it also holds what the walk cannot reach: CPython's free lists
of tuples/floats/dicts and allocator-level growth of baseline containers, printed as
``unattributed`` — a constant ~1–2 MB, i.e. a few bytes per vessel at 50k), the peak is
tracemalloc's, and the largest allocation sites still held are listed. It is ~5x slower
(1,500–2,500 records/s), for small N: at 8,000 vessels it gave 14,708 B/vessel, 249 of
them unattributed (2.0 MB in all; 1.4 MB at 3,000 vessels: not per-vessel state), and the
same labels within a few bytes of the default walk.

Ends with ``name=value`` lines for machines. Figures, not assertions: never run in tests.
"""

from __future__ import annotations

import argparse
import csv
import ctypes
import dataclasses
import gc
import resource
import sys
import time
import tracemalloc
from collections import defaultdict, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import BuiltinFunctionType, CodeType, FunctionType, MethodType, ModuleType
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from corpus import REPO, SHARED
from seawarden.model import PositionReport, StaticReport
from seawarden.pipeline.core import PipelineCore
from seawarden.pipeline.replay import build_core
from seawarden.pipeline.settings import RunConfig

GOAL_BEYOND = 2048
BALTIC = SHARED / "tracks/baltic-cargo-2020/baltic_cargo_20201101.csv"
T0 = datetime(2025, 6, 1, 6, 0, tzinfo=UTC)
MAX_DLAT, MAX_DLON = 0.0036, 0.0048  # the largest per-copy shift (~400 m, ~300 m)


@dataclass(frozen=True, slots=True)
class Source:
    mmsi: int
    t: np.ndarray[Any, np.dtype[np.float64]]  # seconds since the track's first row
    lat: np.ndarray[Any, np.dtype[np.float64]]
    lon: np.ndarray[Any, np.dtype[np.float64]]
    sog: np.ndarray[Any, np.dtype[np.float64]]
    cog: np.ndarray[Any, np.dtype[np.float64]]


def load_sources(min_span_s: float) -> list[Source]:
    """The Baltic tracks, cut where the spoofing detector's land mask puts a (shifted) copy
    on land: the 1:10m coast with its 2 km harbour buffer swallows the Norwegian fjords and
    ports, so ~40 % of rows would open on-land episodes no real run has on that scale. Every
    at-sea run of at least ``min_span_s`` is a source of its own."""
    from seawarden.detectors.spoofing import SpoofingConfig
    from seawarden.geo.land import land_mask

    land = land_mask(SpoofingConfig().harbour_buffer_m)
    corners = [(0.0, 0.0)] + [(a * MAX_DLAT, b * MAX_DLON) for a in (-1, 1) for b in (-1, 1)]
    rows: dict[int, list[tuple[float, float, float, float, float]]] = defaultdict(list)
    with BALTIC.open(newline="") as fh:
        for r in csv.DictReader(fh):
            when = datetime.fromisoformat(r["time"]).replace(tzinfo=UTC).timestamp()
            lat, lon = float(r["lat"]), float(r["long"])
            sog, cog = float(r["sog"] or 0), float(r["cog"] or 0)
            rows[int(r["mmsi"])].append((when, lat, lon, sog, cog))
    out = []
    for mmsi, rs in sorted(rows.items()):
        if not 200 <= mmsi // 1_000_000 <= 799:
            continue
        rs.sort()
        runs: list[list[tuple[float, float, float, float, float]]] = [[]]
        for row in rs:
            if any(land.on_land(row[1] + a, row[2] + b) for a, b in corners):
                runs.append([])
            elif not runs[-1] or row[0] > runs[-1][-1][0]:  # one row per time
                runs[-1].append(row)
        for run_rows in runs:
            if len(run_rows) < 2 or run_rows[-1][0] - run_rows[0][0] < min_span_s:
                continue
            x = np.array(run_rows)
            out.append(Source(mmsi, x[:, 0] - x[0, 0], x[:, 1], x[:, 2], x[:, 3], x[:, 4] % 360))
    return out


def imo_for(i: int) -> int:
    """A valid, unique seven-digit IMO number for vessel ``i`` (check digit per A.1117)."""
    six = 200_000 + i
    digits = [int(c) for c in f"{six:06d}"]
    return six * 10 + sum(d * w for d, w in zip(digits, range(7, 1, -1), strict=True)) % 10


class Feed:
    """The event-time-ordered records of ``n`` replicated vessels (see the module doc)."""

    def __init__(self, sources: list[Source], n: int, span_s: float) -> None:
        self.sources = sources
        self.n = n
        rng = np.random.default_rng(8)
        s = len(sources)
        src = np.arange(n) % s
        copy = np.arange(n) // s
        phase = rng.uniform(0, 600, n)
        # per-copy offsets: ~±400 m lat, ±300 m lon, so copies of one ship are distinct
        dlat = ((copy % 9) - 4) * (MAX_DLAT / 4)
        dlon = (((copy // 9) % 9) - 4) * (MAX_DLON / 4)
        vi: list[np.ndarray[Any, Any]] = []
        ri: list[np.ndarray[Any, Any]] = []
        ti: list[np.ndarray[Any, Any]] = []
        for k, source in enumerate(sources):
            members = np.nonzero(src == k)[0]
            # rows from which ``span_s`` of track remain
            last_start = int(np.searchsorted(source.t, source.t[-1] - span_s)) - 1
            last_start = max(last_start, 1)
            starts = (copy[members] * 37) % last_start
            for m, r0 in zip(members, starts, strict=True):
                t = source.t
                r1 = int(np.searchsorted(t, t[r0] + span_s, side="right"))
                rows = np.arange(r0, r1)
                vi.append(np.full(len(rows) + 1, m, dtype=np.int32))
                ri.append(np.concatenate([rows, [-1]]).astype(np.int32))  # -1: the static
                rel = t[rows] - t[r0] + phase[m]
                ti.append(np.concatenate([rel, [rel[0] + 1.0]]))
        times = np.concatenate(ti)
        order = np.argsort(times, kind="stable")
        self.vessel = np.concatenate(vi)[order]
        self.row = np.concatenate(ri)[order]
        self.time = times[order]
        self.src, self.dlat, self.dlon = src, dlat, dlon
        self.mmsi = np.array([sources[k].mmsi // 1_000_000 for k in src]) * 1_000_000 + (
            np.arange(n) + 1
        )

    def __len__(self) -> int:
        return len(self.time)

    @property
    def nbytes(self) -> int:
        arrays = (self.vessel, self.row, self.time, self.src, self.dlat, self.dlon, self.mmsi)
        return sum(a.nbytes for a in arrays)

    def _rows(self) -> Iterator[tuple[int, int, float]]:
        # in chunks: a list of every record's fields would be a large transient
        for a in range(0, len(self.time), 65_536):
            b = a + 65_536
            vs, rs, ts = self.vessel[a:b].tolist(), self.row[a:b].tolist(), self.time[a:b].tolist()
            yield from zip(vs, rs, ts, strict=True)

    def records(self) -> Iterator[PositionReport | StaticReport]:
        sources = self.sources
        for v, r, t in zip(
            self.vessel.tolist(), self.row.tolist(), self.time.tolist(), strict=True
        ):
            mmsi = int(self.mmsi[v])
            when = T0 + timedelta(seconds=t)
            if r < 0:
                yield StaticReport(
                    mmsi=mmsi,
                    time=when,
                    imo=imo_for(v),
                    callsign=f"B{v:06d}",
                    name=f"BENCH {v}",
                    ship_type=70,
                    length_m=180.0,
                    beam_m=28.0,
                    draught_m=9.5,
                    destination="GDANSK",
                    msg_type=5,
                    source="bench",
                )
                continue
            s = sources[int(self.src[v])]
            yield PositionReport(
                mmsi=mmsi,
                time=when,
                lat=float(s.lat[r]) + float(self.dlat[v]),
                lon=float(s.lon[r]) + float(self.dlon[v]),
                speed_kn=float(s.sog[r]),
                course_deg=float(s.cog[r]),
                heading_deg=511 if s.sog[r] < 0.5 else round(float(s.cog[r])) % 360,
                nav_status=0,
                accuracy=False,
                msg_type=1,
                source="bench",
            )


# -- the walk --------------------------------------------------------------------------------

_OPAQUE = (type, ModuleType, FunctionType, BuiltinFunctionType, MethodType, CodeType)


def _deque_free_blocks() -> Callable[[object], int]:
    """Bytes a deque keeps in its own free list of blocks, which ``sys.getsizeof`` leaves
    out: a bounded deque that keeps appending (a track window) moves right through its
    blocks and keeps the one it left (CPython 3.11 ``dequeobject.numfreeblocks``, read at
    its offset; 0 where the layout is not the known one)."""
    block = 64 * 8 + 16  # BLOCKLEN pointers + the two links
    offset = (
        9 * 8 if sys.version_info[:2] == (3, 11) and sys.implementation.name == "cpython" else -1
    )

    def read(d: object) -> int:
        return ctypes.c_ssize_t.from_address(id(d) + offset).value

    if offset > 0:
        probe: deque[int] = deque(maxlen=4)
        fresh = read(probe)
        probe.extend(range(200))
        if fresh == 0 and read(probe) == 1:
            return lambda d: read(d) * block
    return lambda d: 0


deque_free_bytes = _deque_free_blocks()


class Walker:
    """Bytes of objects made since the baseline, reachable from labelled roots; each object
    counted once, for the first label that reaches it. ``old``: ids of the objects the
    baseline core already reached (kept alive by the caller, so no id is reused); with
    tracemalloc on, an object traced since the baseline is new whatever ``old`` says."""

    def __init__(self, old: set[int], *, traced: bool) -> None:
        self.seen: set[int] = set()  # visited
        self.old = old
        self.traced = traced
        self.bytes: dict[str, int] = defaultdict(int)

    def add(self, label: str, obj: object, *, root: bool = False) -> None:
        """Count ``obj`` and what it reaches. A root (a structure made at the baseline, e.g.
        the fleet's dict) is counted whatever its age; below it, only new objects."""
        seen, old, traced, total = self.seen, self.old, self.traced, 0
        getsize, referents, traceback = (
            sys.getsizeof,
            gc.get_referents,
            tracemalloc.get_object_traceback,
        )
        stack = [obj]
        first = root
        while stack:
            o = stack.pop()
            i = id(o)
            if i in seen or isinstance(o, _OPAQUE):
                continue
            seen.add(i)
            # an object of the baseline is not counted, but what was added to it is
            if first or not (traceback(o) is None if traced else i in old):
                total += getsize(o)
                if type(o) is deque:
                    total += deque_free_bytes(o)
            first = False
            stack.extend(referents(o))
            if isinstance(o, dict):
                stack.extend(o)  # a dict with only str keys hides them from get_referents
        self.bytes[label] += total

    def shell(self, label: str, obj: object, *, root: bool = False) -> None:
        """Count ``obj`` alone (its fields are labelled separately)."""
        i = id(obj)
        if i in self.seen:
            return
        if not root and (
            tracemalloc.get_object_traceback(obj) is None if self.traced else i in self.old
        ):
            return
        self.seen.add(i)
        self.bytes[label] += sys.getsizeof(obj)


def reachable(root: object) -> list[object]:
    """Every object the baseline core reaches (types, modules and functions excepted)."""
    seen: set[int] = set()
    out: list[object] = []
    stack = [root]
    while stack:
        o = stack.pop()
        if id(o) in seen or isinstance(o, _OPAQUE):
            continue
        seen.add(id(o))
        out.append(o)
        stack.extend(gc.get_referents(o))
        if isinstance(o, dict):
            stack.extend(o)
    return out


def slots_of(obj: object) -> list[str]:
    names: list[str] = []
    for cls in type(obj).__mro__:
        s = cls.__dict__.get("__slots__", ())
        names.extend((s,) if isinstance(s, str) else s)
    if hasattr(obj, "__dict__"):
        names.extend(vars(obj))
    return [n for n in names if n not in ("__dict__", "__weakref__") and hasattr(obj, n)]


def breakdown(core: PipelineCore, old: set[int], *, traced: bool) -> tuple[int, dict[str, int]]:
    """(track window bytes, bytes by structure beyond the windows)."""
    w = Walker(old, traced=traced)
    fleet = core.fleet
    vessels = list(fleet)
    for v in vessels:
        w.add("track windows", v.track)
    track = w.bytes.pop("track windows")
    # fleet: the dict, the VesselState objects, each field
    w.shell("fleet._vessels (dict)", fleet._vessels, root=True)
    for m in fleet._vessels:
        w.add("fleet._vessels keys (int)", m)
    for v in vessels:
        w.shell("VesselState (object)", v)
        for name in slots_of(v):
            w.add(f"VesselState.{name}", getattr(v, name))
    components: list[tuple[str, object]] = [("fleet", fleet)]
    runner = core.detectors
    if runner is not None:
        names = [d.name for d in runner.detectors]
        w.shell("detectors._states (dict)", runner._states, root=True)
        for m, states in runner._states.items():
            w.add("detectors._states keys (int)", m)
            w.shell("detectors._states (per-vessel list)", states)
            for name, st in zip(names, states, strict=True):
                if dataclasses.is_dataclass(st):  # the state object, then each field
                    w.shell(f"detector {name} (state object)", st)
                    for f in dataclasses.fields(st):
                        w.add(f"detector {name}.{f.name}", getattr(st, f.name))
                else:
                    w.add(f"detector {name}", st)
        components += [
            ("detectors", runner),
            ("neighbours", runner.neighbours),
            ("coverage", runner.coverage),
        ]
    if core.tracker is not None:
        components.append(("area tracker", core.tracker))
    if core.risk is not None:
        risk = core.risk
        components += [
            ("risk", risk),
            ("risk.engine", risk.engine),
            ("risk.monitor", risk.monitor),
            ("risk.alerts", risk.alerts),
        ]
    components.append(("core", core))
    skip = {id(obj) for _, obj in components}
    for label, obj in components:
        for name in slots_of(obj):
            value = getattr(obj, name)
            if id(value) in skip or name in ("detectors", "tracker", "fleet"):
                continue
            w.add(f"{label}.{name}", value, root=True)
    return track, dict(w.bytes)


# -- a run -----------------------------------------------------------------------------------


def current_rss() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * resource.getpagesize()


def run(n: int, span_s: float, sources: list[Source], *, exact: bool, top: int) -> dict[str, int]:
    config = RunConfig(
        areas=REPO / "config" / "areas.geojson",
        watchlists=(REPO / "config" / "watchlist.csv",),
    )
    t = time.perf_counter()
    feed = Feed(sources, n, span_s)
    print(
        f"\n== {n:,} vessels: {len(feed):,} records ({(len(feed) - n) / n:.1f} positions + 1 "
        f"static per vessel, {span_s / 60:.0f} min of event time); feed built in "
        f"{time.perf_counter() - t:.1f} s"
    )
    core = build_core(config, None)
    baseline = reachable(core)  # kept alive to the end: their ids stay theirs
    old = {id(o) for o in baseline}
    gc.collect()
    rss0 = current_rss()
    if exact:
        tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0] if exact else 0
    t = time.perf_counter()
    events = 0
    kinds: dict[str, int] = defaultdict(int)
    peak_rss = 0
    for k, rec in enumerate(feed.records()):
        for e in core.process(rec):
            events += 1
            kinds[e.kind if e.kind != "spoofing" else f"spoofing.{e.attrs.get('type')}"] += 1
        if not k & 0xFFFF:
            peak_rss = max(peak_rss, current_rss())
    alerts = len(core.drain_alerts())
    feed_s = time.perf_counter() - t
    feed_bytes, n_records, end = feed.nbytes, len(feed), float(feed.time[-1])
    peak_traced = tracemalloc.get_traced_memory()[1] - base - feed_bytes if exact else 0
    del feed, rec
    gc.collect()
    rss = current_rss() - rss0
    peak_rss = max(peak_rss, current_rss()) - rss0
    held = len(core.fleet)
    print(
        f"fed in {feed_s:.0f} s{' under tracemalloc' if exact else ''} "
        f"({n_records / feed_s:,.0f} records/s); {events:,} events "
        f"{dict(sorted(kinds.items()))}, {alerts:,} alert revisions"
    )
    expired = core.fleet.stats["vessels_expired"]
    print(
        f"vessels held at the end: {held:,} of {n:,} (expired {expired:,}; event time "
        f"{end / 60:.0f} min); in the neighbour index: "
        f"{len(core.detectors.neighbours) if core.detectors else 0:,}"
    )
    t = time.perf_counter()
    track, parts = breakdown(core, old, traced=exact)
    walked = track + sum(parts.values())
    print(f"walk in {time.perf_counter() - t:.0f} s")
    if exact:
        total = tracemalloc.get_traced_memory()[0] - base
        peak = peak_traced
        how = "tracemalloc: traced now − at the baseline"
        peak_how = f"tracemalloc peak − baseline − the feeder's {feed_bytes / 2**20:.0f} MiB"
    else:
        total = walked
        peak = max(peak_rss - feed_bytes, 0)
        how = "the walk: every object made since the baseline reachable from the pipeline"
        peak_how = f"max RSS growth, sampled, − the feeder's {feed_bytes / 2**20:.0f} MiB"
    beyond = total - track
    positions = sum(len(v.track) for v in core.fleet) / n
    print(f"total retained ({how}): {total / 2**20:.1f} MiB = {total / n:.0f} B/vessel")
    print(
        f"  track windows {track / n:.0f} B/vessel ({positions:.1f} positions each); "
        f"beyond the windows {beyond / n:.0f} B/vessel (goal {GOAL_BEYOND})"
    )
    print(f"  peak {peak / n:.0f} B/vessel ({peak_how})")
    print(
        f"  RSS growth after gc {rss / n:.0f} B/vessel (allocator overhead and freed garbage "
        f"included{'; tracemalloc inflates it' if exact else ''})"
    )
    print(f"beyond the windows, by structure (B/vessel; top {top}):")
    ranked = sorted(parts.items(), key=lambda kv: -kv[1])
    for label, b in ranked[:top]:
        print(f"  {b / n:8.0f}  {label}")
    rest = sum(b for _, b in ranked[top:])
    print(f"  {rest / n:8.0f}  (the other {max(len(ranked) - top, 0)} structures)")
    if exact:
        print(f"  {(total - walked) / n:8.0f}  unattributed (traced total − walked)")
        snap = tracemalloc.take_snapshot()
        tracemalloc.stop()
        print("largest allocation sites still held (tracemalloc, B/vessel):")
        for stat in snap.statistics("lineno")[:10]:
            frame = stat.traceback[0]
            where = Path(frame.filename)
            rel = where.relative_to(REPO) if where.is_relative_to(REPO) else where.name
            print(f"  {stat.size / n:8.0f}  {rel}:{frame.lineno}")
    del baseline
    return {
        "bytes": total // n,
        "track": track // n,
        "beyond": beyond // n,
        "peak": peak // n,
        "rss": rss // n,
        "held": held,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vessels", type=int, nargs="+", default=[50_000, 300_000])
    parser.add_argument(
        "--window-min",
        type=float,
        nargs="+",
        default=[30.0, 12.0],
        help="minutes of reports per vessel, one per --vessels value (the last repeats)",
    )
    parser.add_argument("--top", type=int, default=12)
    parser.add_argument(
        "--exact",
        action="store_true",
        help="trace allocations with tracemalloc (totals and peak exact, ~4x slower)",
    )
    args = parser.parse_args()
    spans = [args.window_min[min(i, len(args.window_min) - 1)] for i in range(len(args.vessels))]
    sources = load_sources(min_span_s=3 * 3600.0)
    print(
        f"{len(sources)} at-sea runs (3 h or more) of real Baltic cargo tracks from {BALTIC.name}"
    )
    t = time.perf_counter()
    results = {
        n: run(n, span * 60, sources, exact=args.exact, top=args.top)
        for n, span in zip(args.vessels, spans, strict=True)
    }
    print(f"\nrun time {time.perf_counter() - t:.0f} s")
    for n, r in results.items():
        print(f"vessels_{n}_held={r['held']}")
        print(f"vessels_{n}_bytes_per_vessel={r['bytes']}")
        print(f"vessels_{n}_track_window_bytes_per_vessel={r['track']}")
        print(f"vessels_{n}_beyond_tracks_bytes_per_vessel={r['beyond']}")
        print(f"vessels_{n}_peak_bytes_per_vessel={r['peak']}")
        print(f"vessels_{n}_rss_bytes_per_vessel={r['rss']}")
    print(f"goal_beyond_tracks_bytes_per_vessel={GOAL_BEYOND}")


if __name__ == "__main__":
    main()
