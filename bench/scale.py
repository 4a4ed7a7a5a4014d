"""Scale-out figures: one process against JetStream workers and Dask backfill, same input.

Prints, side by side in one run on the same NMEA file (built by bench/corpus.py from the real
corpora, default 1M sentences):

* sequential ``seawarden replay`` (the reference),
* ``seawarden ingest`` + 1 and 2 ``seawarden worker`` processes on a real nats-server
  (JetStream), ingest and workers running at the same time as they would live,
* ``seawarden backfill --engine dask`` with 1 and 2 workers on a LocalCluster, over the
  GeoParquet archive of the same file (written once by ``seawarden archive``; its time is
  shown apart, since an archive is written once and backfilled many times),

with wall time, sentences/s, the CPU seconds every process used, and the cost per added
worker: each partitioned worker reads the whole stream to keep the shared vessel picture
(pipeline/partition.py), so adding a worker adds that reading again. Every run's alert
revisions are compared with the sequential replay's (``identical`` column).

Every command runs as its own process, as it would be deployed; on a 2-core machine two
workers plus ingest compete for the cores, so the 2-worker figures understate a real cluster.
"""

from __future__ import annotations

import argparse
import os
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
from corpus import build

REPO = Path(__file__).resolve().parents[1]
SEAWARDEN = [str(Path(sys.executable).parent / "seawarden")]
CONFIG = [
    "--areas",
    str(REPO / "config" / "areas.geojson"),
    "--watchlist",
    str(REPO / "config" / "watchlist.csv"),
]


@dataclass
class Result:
    name: str
    wall_s: float
    cpu_s: float
    workers: int
    alerts: set[tuple[str, int]] = field(default_factory=set)
    note: str = ""


def _cpu(ru: resource.struct_rusage) -> float:
    return float(ru.ru_utime + ru.ru_stime)


def _wait(proc: subprocess.Popen[bytes], what: str) -> float:
    """Wait for ``proc``; return the CPU seconds it (and the children it waited for) used."""
    _, status, ru = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        log = _ERR_LOGS.get(proc.pid)
        err = log.read_text(errors="replace") if log is not None else ""
        raise SystemExit(f"{what} failed ({proc.returncode}):\n{err[-3000:]}")
    return _cpu(ru)


_ERR_LOGS: dict[int, Path] = {}


def _spawn(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    # stderr to a file, never a pipe nobody reads while the process runs: a run that logs
    # more than the pipe's 64 KB (rejection warnings over 1M sentences) would block on it.
    fh = log.open("wb")
    err = log.with_suffix(".err")
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([*SEAWARDEN, *args], stdout=fh, stderr=err.open("wb"), env=env)
    _ERR_LOGS[proc.pid] = err
    return proc


def _jsonl_alerts(path: Path) -> set[tuple[str, int]]:
    out: set[tuple[str, int]] = set()
    for line in path.open("rb"):
        a = orjson.loads(line)
        out.add((a["id"], int(a["revision"])))
    return out


def _store_alerts(path: Path) -> set[tuple[str, int]]:
    with sqlite3.connect(path) as db:
        return {(i, int(r)) for i, r in db.execute("SELECT id, revision FROM alerts")}


def sequential(corpus: Path, tmp: Path) -> Result:
    alerts = tmp / "seq-alerts.jsonl"
    t = time.perf_counter()
    proc = _spawn(["replay", str(corpus), *CONFIG, "--alerts-out", str(alerts)], tmp / "seq.log")
    cpu = _wait(proc, "replay")
    return Result("sequential replay", time.perf_counter() - t, cpu, 1, _jsonl_alerts(alerts))


def jetstream(corpus: Path, tmp: Path, workers: int) -> Result:
    from seawarden.bus.server import NatsServer

    run = tmp / f"js{workers}"
    run.mkdir()
    (run / "nats").mkdir()
    with NatsServer(store_dir=run / "nats") as server:
        t = time.perf_counter()
        ingest = _spawn(
            ["ingest", str(corpus), "--bus", server.url, "--partitions", str(workers), "-q"],
            run / "ingest.log",
        )
        procs = [
            _spawn(
                [
                    "worker",
                    "--bus",
                    server.url,
                    "--partitions",
                    f"{k}/{workers}",
                    "--store",
                    str(run / f"w{k}.db"),
                    "--exit-on-eos",
                    *CONFIG,
                ],
                run / f"w{k}.log",
            )
            for k in range(workers)
        ]
        cpu = _wait(ingest, "ingest")
        ingest_s = time.perf_counter() - t
        for k, proc in enumerate(procs):
            cpu += _wait(proc, f"worker {k}")
        wall = time.perf_counter() - t
    alerts: set[tuple[str, int]] = set()
    for k in range(workers):
        alerts |= _store_alerts(run / f"w{k}.db")
    return Result(
        f"JetStream, {workers} worker{'s' if workers > 1 else ''}",
        wall,
        cpu,
        workers,
        alerts,
        f"ingest done after {ingest_s:.1f} s",
    )


def archive(corpus: Path, tmp: Path) -> tuple[Path, float]:
    root = tmp / "archive"
    t = time.perf_counter()
    proc = _spawn(["archive", str(corpus), "--out", str(root), "-q"], tmp / "archive.log")
    _wait(proc, "archive")
    return root, time.perf_counter() - t


def dask(root: Path, tmp: Path, workers: int) -> Result:
    alerts = tmp / f"dask{workers}-alerts.jsonl"
    t = time.perf_counter()
    proc = _spawn(
        [
            "backfill",
            str(root),
            "--engine",
            "dask",
            "--scheduler",
            "local",
            "--partitions",
            str(workers),
            "--workers",
            str(workers),
            "--alerts-out",
            str(alerts),
            "-q",
            *CONFIG,
        ],
        tmp / f"dask{workers}.log",
    )
    cpu = _wait(proc, "backfill")
    return Result(
        f"Dask backfill, {workers} worker{'s' if workers > 1 else ''}",
        time.perf_counter() - t,
        cpu,
        workers,
        _jsonl_alerts(alerts),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sentences", type=int, default=1_000_000)
    parser.add_argument("--skip", default="", help="comma list of: sequential,jetstream,dask")
    args = parser.parse_args()
    skip = set(filter(None, args.skip.split(",")))

    out_dir = REPO / "bench" / "out"
    out_dir.mkdir(parents=True, exist_ok=True)
    corpus = out_dir / f"corpus-{args.sentences}.nmea"
    if not corpus.exists():
        t = time.perf_counter()
        n = build(corpus, args.sentences)
        print(f"built {corpus.name}: {n:,} sentences in {time.perf_counter() - t:.1f} s")
    n_lines = sum(1 for _ in corpus.open("rb"))
    print(f"input: {corpus.name}, {n_lines:,} sentences; {os.cpu_count()} cores")

    results: list[Result] = []
    archive_s = None
    with tempfile.TemporaryDirectory(prefix="seawarden-scale-") as tmp_s:
        tmp = Path(tmp_s)
        if "sequential" not in skip:
            results.append(sequential(corpus, tmp))
            print(f"  {results[-1].name}: {results[-1].wall_s:.1f} s", flush=True)
        if "jetstream" not in skip:
            for k in (1, 2):
                results.append(jetstream(corpus, tmp, k))
                print(f"  {results[-1].name}: {results[-1].wall_s:.1f} s", flush=True)
        if "dask" not in skip:
            root, archive_s = archive(corpus, tmp)
            print(f"  archive written in {archive_s:.1f} s (once; not counted below)", flush=True)
            for k in (1, 2):
                results.append(dask(root, tmp, k))
                print(f"  {results[-1].name}: {results[-1].wall_s:.1f} s", flush=True)

    reference = results[0].alerts if results and "sequential" not in skip else None
    print()
    print(f"{'run':<26}{'wall s':>9}{'sent/s':>10}{'CPU s':>9}{'speed-up':>10}  identical")
    base: dict[str, Result] = {}
    for r in results:
        family = r.name.split(",")[0]
        first = base.setdefault(family, r)
        same = "n/a" if reference is None else ("yes" if r.alerts == reference else "NO")
        speed = first.wall_s / r.wall_s
        print(
            f"{r.name:<26}{r.wall_s:>9.1f}{n_lines / r.wall_s:>10,.0f}{r.cpu_s:>9.1f}"
            f"{speed:>9.2f}×  {same}  {r.note}"
        )
    print()
    print(f"sentences={n_lines}")
    if reference is not None:
        print(f"alert_revisions={len(reference)}")
    if archive_s is not None:
        print(f"archive_write_s={archive_s:.1f}")
    for r in results:
        key = r.name.split(",")[0].split()[0].lower() + (f"_{r.workers}" if "," in r.name else "")
        print(f"{key}_wall_s={r.wall_s:.1f}")
        print(f"{key}_sentences_per_s={n_lines / r.wall_s:.0f}")
        print(f"{key}_cpu_s={r.cpu_s:.1f}")
        if reference is not None:
            print(f"{key}_identical={int(r.alerts == reference)}")
    for family in ("jetstream", "dask"):
        runs = {r.workers: r for r in results if r.name.lower().startswith(family)}
        one, two = runs.get(1), runs.get(2)
        if one and two:
            # CPU the second worker adds beyond splitting the first one's work in two
            print(f"{family}_cpu_s_per_added_worker={two.cpu_s - one.cpu_s:.1f}")
            print(f"{family}_speedup_2_workers={one.wall_s / two.wall_s:.2f}")


if __name__ == "__main__":
    main()
