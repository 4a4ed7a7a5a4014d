"""Throughput of the full pipeline beside pyais decoding alone, on the same file.

Usage: ``python bench/throughput.py [--sentences 1000000] [--keep]``

Builds (once, cached in bench/out/) a file of at least ``--sentences`` real NMEA sentences
(see bench/corpus.py), then in one run measures:

* pyais decode alone: ``pyais.FileReaderStream`` over the file, ``.decode()`` each message;
* the seawarden pipeline: decode → normalise → order/dedup → fleet → 22 areas → events to a
  JSON Lines file (no store), through the same ``Replay`` the CLI uses;
* peak memory (max RSS growth over the pipeline run) per tracked vessel.

Ends with ``name=value`` lines for machines. Figures, not assertions: never run in tests.
"""

from __future__ import annotations

import argparse
import gc
import resource
import sys
import tempfile
import time
from pathlib import Path

import pyais

sys.path.insert(0, str(Path(__file__).resolve().parent))

from corpus import REPO, build
from seawarden.pipeline.replay import Replay
from seawarden.pipeline.settings import RunConfig


def rss_bytes() -> int:
    # ru_maxrss is in KiB on Linux
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def current_rss_bytes() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * resource.getpagesize()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sentences", type=int, default=1_000_000)
    args = parser.parse_args()

    out_dir = REPO / "bench" / "out"
    out_dir.mkdir(parents=True, exist_ok=True)
    corpus = out_dir / f"corpus-{args.sentences}.nmea"
    if not corpus.exists():
        t = time.perf_counter()
        n = build(corpus, args.sentences)
        print(f"built {corpus.name}: {n:,} sentences in {time.perf_counter() - t:.1f} s")
    n_lines = sum(1 for _ in corpus.open("rb"))

    t = time.perf_counter()
    messages = 0
    for msg in pyais.FileReaderStream(str(corpus)):
        msg.decode()
        messages += 1
    pyais_s = time.perf_counter() - t
    pyais_rate = n_lines / pyais_s
    print(f"pyais decode alone: {n_lines:,} sentences ({messages:,} messages) in {pyais_s:.2f} s")

    gc.collect()
    base_rss = current_rss_bytes()
    config = RunConfig(
        areas=REPO / "config" / "areas.geojson",
        watchlists=(REPO / "config" / "watchlist.csv",),
    )
    with tempfile.TemporaryDirectory() as tmp:
        events = Path(tmp) / "events.jsonl"
        t = time.perf_counter()
        run = Replay([corpus], config, events_out=events)
        stats = run.run()
        pipe_s = time.perf_counter() - t
        n_events = sum(1 for _ in events.open("rb"))
    peak_growth = max(rss_bytes() - base_rss, 0)
    # The fleet forgets vessels unheard for 12 h, so the count at the end understates what
    # was held; divide by the distinct vessels seen (an upper bound of those held at once,
    # so bytes/vessel is a lower bound — issue 8 measures per-vessel memory exactly).
    vessels = max(run.core.fleet.stats["vessels_created"], 1)
    pipe_rate = n_lines / pipe_s
    print(
        f"pipeline: {n_lines:,} sentences in {pipe_s:.2f} s -> {stats.records:,} records, "
        f"{n_events:,} events, {stats.rejected:,} rejected {dict(stats.rejections)}"
    )
    print(
        f"vessels seen: {vessels:,} (held at the end: {len(run.core.fleet):,}); "
        f"peak RSS growth {peak_growth / 2**20:.1f} MiB"
    )
    print(f"sentences={n_lines}")
    print(f"vessels={vessels}")
    print(f"peak_bytes_per_vessel={peak_growth // vessels}")
    print(f"pyais_decode_sentences_per_s={pyais_rate:.0f}")
    print(f"pipeline_sentences_per_s={pipe_rate:.0f}")
    print(f"pipeline_vs_pyais={pipe_rate / pyais_rate:.3f}")


if __name__ == "__main__":
    main()
