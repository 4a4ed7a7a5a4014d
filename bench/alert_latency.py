"""Time from the triggering AIS report to the webhook POST, under a paced replay.

Usage: ``python bench/alert_latency.py [--rate 20000] [--seed 7]``

Input: every ``seawarden simulate`` scenario (anchor drags, dark spells, STS, spoofing, …)
over one day of real Baltic AIS (../shared/data), written once to a temporary directory.
The NMEA lines are offered to the live pipeline in-process at ``--rate`` sentences per
second (a paced source: sentence *i* is due at ``t0 + i/rate``; if the pipeline falls
behind, sentences wait as they would in a socket buffer). The pipeline runs as
``seawarden live --subscriptions`` does: SQLite store, outbox sink (revision + delivery
committed before anything is sent), delivery worker thread, a signed webhook POST to a
real HTTP receiver on 127.0.0.1 that notes the arrival time.

Each POST is matched to its triggering sentence by the alert's vessel and event time
(ticks and cancels by event time alone). Two latencies are reported:

* ``alert_latency_*``: POST arrival − the trigger's due time at the offered rate (what a
  live feed at that rate would see, backlog included);
* ``alert_latency_from_ingest_*``: POST arrival − the moment the pipeline read the trigger
  sentence (the dissemination path: lateness hold, risk, outbox commit, worker, HTTP).

Ends with ``name=value`` lines. Figures, not assertions: never run in tests.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import orjson

from seawarden.alerts.dispatch import Dispatcher
from seawarden.alerts.outbox import OutboxSink
from seawarden.alerts.releasability import JEF
from seawarden.alerts.subscriptions import Channel, Subscription
from seawarden.ingest.nmea import NmeaConfig, NmeaDecoder
from seawarden.model import Rejection
from seawarden.pipeline.live import LiveRunner
from seawarden.pipeline.order import OrderConfig
from seawarden.pipeline.settings import RunConfig
from seawarden.sim import SCENARIOS, simulate
from seawarden.store.sqlite import SQLiteStore

REPO = Path(__file__).resolve().parents[1]
BALTIC = REPO.parent / "shared/data/tracks/baltic-cargo-2020/baltic_cargo_20201101.csv"
SECRET = "bench-signing-key-5d1e"


class Receiver:
    def __init__(self) -> None:
        self.arrivals: dict[str, tuple[float, bytes]] = {}
        self.lock = threading.Lock()
        rx = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                at = time.time()
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                key = self.headers.get("Idempotency-Key", "")
                with rx.lock:
                    rx.arrivals.setdefault(key, (at, body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/alerts"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def jef_subscription(webhook_url: str) -> Subscription:
    """Every alert, any severity, to one signed webhook (secret ``HOOK``): the latency
    benches' single recipient."""
    return Subscription(
        id="jef-all",
        recipient="JEF distribution",
        nation=None,
        audience=JEF,
        areas=None,
        min_severity="info",
        channels=(Channel(kind="webhook", target=webhook_url, secret="HOOK"),),
    )


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=20_000.0, help="offered sentences/s")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    if not BALTIC.is_file():
        sys.exit(f"needs {BALTIC} (../shared/data)")

    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        nmea = tmp / "sim.nmea"
        simulate(
            nmea,
            tmp / "labels.jsonl",
            scenarios=sorted(SCENARIOS),
            background=BALTIC,
            seed=args.seed,
        )
        lines = nmea.read_bytes().splitlines()

        # Which line carried which report (for matching an alert to its trigger).
        by_vessel_time: dict[tuple[int, str], int] = {}
        by_time: dict[str, int] = {}
        decoder = NmeaDecoder(source="bench", config=NmeaConfig())
        for i, line in enumerate(lines):
            for rec in decoder.feed(line, i + 1):
                if isinstance(rec, Rejection):
                    continue
                t = rec.time.isoformat()
                by_vessel_time.setdefault((rec.mmsi, t), i)
                by_time.setdefault(t, i)

        rx = Receiver()
        config = RunConfig(
            areas=REPO / "config/areas.geojson",
            watchlists=(REPO / "config/watchlist.csv",),
            order=OrderConfig(lateness_s=10.0, dedup_window_s=3.0),  # `seawarden live` defaults
        )
        store = SQLiteStore(tmp / "bench.db")
        subs = [jef_subscription(rx.url)]
        sink = OutboxSink(store, subs)
        worker = Dispatcher(store.path, subs, secrets={"HOOK": SECRET})
        sink.on_enqueue = worker.wake
        worker.start()
        runner = LiveRunner(config, store=store, alert_sinks=[sink])

        ingest_wall = [0.0] * len(lines)
        wall0 = time.time() - time.perf_counter()
        t0 = time.perf_counter() + 0.05
        next_tick = t0 + 1.0
        for i, line in enumerate(lines):
            due = t0 + i / args.rate
            now = time.perf_counter()
            if due - now > 0.001:
                time.sleep(due - now)
                now = time.perf_counter()
            ingest_wall[i] = wall0 + now
            runner.feed_line(line, "bench")
            if now >= next_tick:  # the live runner's one-second tick: commit the store
                runner.tick()
                next_tick = now + 1.0
        runner.finish()
        feed_s = time.perf_counter() - t0
        worker.wait_idle(60.0)
        worker.stop()
        store.close()
        rx.close()

    latencies: list[float] = []
    from_ingest: list[float] = []
    unmatched = 0
    for at, body in rx.arrivals.values():
        a = orjson.loads(body)["alert"]
        t = a["event_time"].replace("Z", "+00:00")
        idx = by_vessel_time.get((a["mmsi"], t), by_time.get(t))
        if idx is None:
            unmatched += 1
            continue
        latencies.append((at - (wall0 + t0 + idx / args.rate)) * 1000)
        from_ingest.append((at - ingest_wall[idx]) * 1000)

    achieved = len(lines) / feed_s
    print(
        f"{len(lines):,} sentences offered at {args.rate:,.0f}/s, processed in {feed_s:.2f} s "
        f"({achieved:,.0f}/s); {runner.records:,} records, {sum(runner.alerts.values())} alert "
        f"revisions, {len(rx.arrivals)} webhook POSTs ({unmatched} unmatched to a trigger)"
    )
    if latencies:
        print(
            f"trigger due -> POST: p50 {pct(latencies, 0.5):.1f} ms, p99 "
            f"{pct(latencies, 0.99):.1f} ms, max {max(latencies):.1f} ms; "
            f"ingest -> POST: p50 {pct(from_ingest, 0.5):.1f} ms, p99 "
            f"{pct(from_ingest, 0.99):.1f} ms (mean {statistics.fmean(from_ingest):.1f} ms)"
        )
    if achieved < args.rate * 0.95:
        print(
            f"note: the full pipeline (detectors, risk, store) kept {achieved:,.0f} sentences/s "
            f"on this machine, not {args.rate:,.0f}; the first latency includes that backlog"
        )
    print(f"alert_latency_p50_ms={pct(latencies, 0.5):.1f}")
    print(f"alert_latency_p99_ms={pct(latencies, 0.99):.1f}")
    print(f"alert_latency_from_ingest_p50_ms={pct(from_ingest, 0.5):.1f}")
    print(f"alert_latency_from_ingest_p99_ms={pct(from_ingest, 0.99):.1f}")
    print(f"replay_rate_sentences_per_s={achieved:.0f}")
    print(f"offered_rate_sentences_per_s={args.rate:.0f}")
    print(f"alert_posts={len(latencies)}")


if __name__ == "__main__":
    main()
