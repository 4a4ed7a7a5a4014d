"""Time from a sentence arriving on the live socket to its alert committed in the outbox.

Usage: ``python bench/socket_latency.py [--proto tcp|udp] [--rates 1000 2000 5000 20000]
[--sentences N] [--lateness 10] [--no-ladder --rate 20000] [--seed 7]``

Issue 8 goal: p99 from a sentence arriving on the UDP/TCP socket to its alert in the outbox
≤ 50 ms at 20,000 sentences/s, with the sender in a second process on loopback.

Input: every ``seawarden simulate`` scenario over one day of real Baltic AIS (../shared/data),
as bench/alert_latency.py builds it (58,357 tagged ``!AIVDM`` lines spanning ~45 h of event
time with seed 7), cut to the first ``--sentences`` lines (default: all of them).

Two processes:

* the sender (this file run with ``--sender``) writes the lines to the socket paced at the
  offered rate: sentence *i* is due at ``t0 + i/rate``; about every millisecond it sends
  what is due (TCP: one ``sendall`` per batch; UDP: one datagram per sentence, as receivers
  such as AIS-catcher send them) and notes ``time.monotonic()`` just before each send.
  CLOCK_MONOTONIC is system-wide on Linux, so its times compare with the pipeline's. For
  TCP the sender is the server and the pipeline connects to it, as ``seawarden live --tcp``
  connects to AIS-catcher; for UDP the pipeline listens and the sender sends to it.
* the pipeline (the main process) runs ``LiveRunner.run_tcp`` / ``run_udp`` as
  ``seawarden live --subscriptions`` does: SQLite store in a temporary directory, RunConfig
  with config/areas.geojson, config/watchlist.csv, config/detectors.yaml, config/risk.yaml,
  ``--lateness`` (default 10 s, the CLI's) and the 3 s dedup window, and an ``OutboxSink``
  with one JEF-wide subscription (as alert_latency.py). No delivery worker runs: the end
  point is the moment ``OutboxSink.write`` returns, i.e. the alert revision and its
  deliveries are committed to the outbox (a subclass notes ``time.monotonic()`` per alert
  id + revision right after). The log sinks of ``seawarden live`` are left out. Each
  rate gets a fresh store and runner; the spoofing detector's land mask (built once per
  process, its tiles filled lazily) is built and filled for the input's positions before
  the first rung, as a long-running ``seawarden live`` has it — cold, its ~0.5 s on the
  first position backs up the first rung's whole slice.

Matching: each committed revision is matched to its trigger line by (vessel, event time),
then by event time alone (risk ticks and cancels carry the time of the record being
processed), as alert_latency.py does. Latency = commit time − the trigger's send time.
Revisions committed by the end-of-stream flush (after the feed is stopped: whatever the
lateness hold still held) are counted apart and left out. Also given: read → commit (the
pipeline's own part: the moment ``feed_line`` got the trigger line) and due → commit (what
a live source that never waits would see, if TCP backpressure held the sender back).

Caveats:

* The full pipeline keeps only a few thousand sentences/s on one core here. When the
  offered rate is higher, TCP builds a backlog in the socket buffers (and once they are
  full the sender blocks: ``sender_max_lag_ms``) and the latency grows with the length of
  the run: figures above the achieved rate are for this slice, not a steady state. UDP
  instead drops what the receive buffer cannot hold (counted as lost): latency stays
  bounded, sentences are lost. The output says when the pipeline fell behind. Its pace
  also varies along the input (dense stretches run at a fraction of the average), so a rate
  it keeps on average can still queue for a while.
* Lateness. The orderer holds each record until one ``lateness`` seconds of *event time*
  newer arrives. The tag-block times here come from history, which plays ~2.8 s of event
  time per sentence: at 20,000 sentences/s event time runs ~55,000x faster than the wall
  clock and a 10 s hold passes in well under a millisecond (the ``hold`` column gives the
  estimate per rate). On a real feed, stamped in real time, the same hold delays every
  record by the full ``lateness`` (10 s for ``seawarden live``): the 50 ms goal is then
  out of reach whatever the pipeline's speed unless the hold is (near) zero.
  ``--lateness 0`` measures the path without the hold.
* A rung's p99 rests on a few dozen alert revisions (the count is printed): at that size
  it is close to the maximum.
* Figures depend on what else runs on the machine (the load average is printed).

Ends with ``name=value`` lines. Figures, not assertions: never run in tests.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import socket
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from alert_latency import BALTIC, REPO, jef_subscription, pct
from seawarden.alerts.model import Alert
from seawarden.alerts.outbox import OutboxSink
from seawarden.alerts.subscriptions import Subscription
from seawarden.detectors.registry import load_detector_settings
from seawarden.detectors.spoofing import SpoofingConfig
from seawarden.geo.land import land_mask
from seawarden.ingest.nmea import NmeaConfig, NmeaDecoder
from seawarden.model import PositionReport, StaticReport
from seawarden.pipeline.live import LiveRunner
from seawarden.pipeline.order import OrderConfig
from seawarden.pipeline.settings import RunConfig
from seawarden.risk.config import load_risk_settings
from seawarden.sim import SCENARIOS, simulate
from seawarden.store.sqlite import SQLiteStore

LADDER = (1000.0, 2000.0, 5000.0, 20000.0)
GOAL_MS = 50.0
QUIET_S = 1.0  # after the sender is done: no line read for this long ends the run (UDP loss)
HOST = "127.0.0.1"


# -- input and matching --------------------------------------------------------------------------
@dataclass(slots=True)
class Triggers:
    """The first line that carried each (vessel, event time) and each event time."""

    by_vessel_time: dict[tuple[int, float], int] = field(default_factory=dict)
    by_time: dict[float, int] = field(default_factory=dict)

    def add(self, mmsi: int, t: float, index: int) -> None:
        self.by_vessel_time.setdefault((mmsi, t), index)
        self.by_time.setdefault(t, index)

    def find(self, mmsi: int, t: float) -> int | None:
        index = self.by_vessel_time.get((mmsi, t))
        return self.by_time.get(t) if index is None else index


@dataclass(frozen=True, slots=True)
class Input:
    path: Path  # the slice, one sentence a line: what the sender sends
    lines: list[bytes]
    triggers: Triggers
    span_s: float  # event time from the first record to the last


def build_input(tmp: Path, seed: int, sentences: int) -> Input:
    nmea = tmp / "sim.nmea"
    simulate(nmea, tmp / "labels.jsonl", scenarios=sorted(SCENARIOS), background=BALTIC, seed=seed)
    lines = nmea.read_bytes().splitlines()
    if sentences > 0:
        lines = lines[:sentences]
    path = tmp / "slice.nmea"
    path.write_bytes(b"".join(line + b"\n" for line in lines))
    triggers = Triggers()
    first, last = math.inf, -math.inf
    decoder = NmeaDecoder(source="bench", config=NmeaConfig())
    for i, line in enumerate(lines):
        for rec in decoder.feed(line, i + 1):
            if not isinstance(rec, PositionReport | StaticReport):
                continue  # rejections (radar contacts do not come in AIS lines)
            t = rec.time.timestamp()
            triggers.add(rec.mmsi, t, i)
            first, last = min(first, t), max(last, t)
    return Input(path, lines, triggers, max(0.0, last - first))


def warm_land_mask(lines: Sequence[bytes]) -> None:
    """Build the spoofing detector's land mask (once per process) and fill its tiles for
    every position of the input, as a long-running ``seawarden live`` has them: otherwise
    the first position of the first rung waits ~0.5 s for it and that backlog, not the
    pipeline's pace, sets the rung's latencies."""
    mask = land_mask(SpoofingConfig().harbour_buffer_m)
    decoder = NmeaDecoder(source="warm", config=NmeaConfig())
    for i, line in enumerate(lines):
        for rec in decoder.feed(line, i + 1):
            if isinstance(rec, PositionReport):
                mask.on_land(rec.lat, rec.lon)


class Commit(NamedTuple):
    mmsi: int
    event_time: float  # unix seconds
    at: float  # time.monotonic() once the outbox commit returned


@dataclass(frozen=True, slots=True)
class Matched:
    from_send_ms: list[float]
    from_read_ms: list[float]
    from_due_ms: list[float]
    unmatched: int  # no trigger line found (or it never reached the pipeline)
    at_end: int  # committed by the end-of-stream flush: left out


def match(
    commits: Sequence[Commit],
    triggers: Triggers,
    sent: Sequence[float],
    due: Sequence[float],
    read: Sequence[float],
    stopped: float,
) -> Matched:
    """Latency of each revision committed before ``stopped``, from its trigger's send, due
    and read times (NaN: never sent/read)."""
    from_send: list[float] = []
    from_read: list[float] = []
    from_due: list[float] = []
    unmatched = at_end = 0
    for c in commits:
        if c.at > stopped:
            at_end += 1
            continue
        i = triggers.find(c.mmsi, c.event_time)
        if i is None or math.isnan(sent[i]) or math.isnan(read[i]):
            unmatched += 1
            continue
        from_send.append((c.at - sent[i]) * 1000)
        from_read.append((c.at - read[i]) * 1000)
        from_due.append((c.at - due[i]) * 1000)
    return Matched(from_send, from_read, from_due, unmatched, at_end)


# -- the pipeline process ------------------------------------------------------------------------
class TimedOutbox(OutboxSink):
    """The outbox sink, noting when each revision's commit returned."""

    def __init__(self, store: SQLiteStore, subscriptions: Sequence[Subscription]) -> None:
        super().__init__(store, subscriptions)
        self.commits: dict[tuple[str, int], Commit] = {}

    def write(self, alerts: Sequence[Alert]) -> None:
        super().write(alerts)  # revision + deliveries committed here
        at = time.monotonic()
        for a in alerts:
            self.commits.setdefault(
                (a.id, a.revision), Commit(a.mmsi, a.event_time.timestamp(), at)
            )


class TimedRunner(LiveRunner):
    """The live runner, noting when ``feed_line`` got each line of the input."""

    def __init__(
        self,
        config: RunConfig,
        *,
        store: SQLiteStore,
        alert_sinks: Sequence[OutboxSink],
        index: dict[bytes, int],
        n: int,
    ) -> None:
        super().__init__(config, store=store, alert_sinks=alert_sinks)
        self.index = index  # line -> its first position in the input
        self.read_at = [math.nan] * n
        self.first_read = self.last_read = math.nan

    def feed_line(self, line: bytes, source: str) -> None:
        now = time.monotonic()
        i = self.index.get(line.rstrip(b"\r\n"))
        if i is not None and math.isnan(self.read_at[i]):
            self.read_at[i] = now
        if math.isnan(self.first_read):
            self.first_read = now
        self.last_read = now
        super().feed_line(line, source)


@dataclass(frozen=True, slots=True)
class Rung:
    rate: float
    sent: int
    received: int
    achieved: float  # lines/s the pipeline read, first line to last
    backlog_s: float  # last line read − last line sent
    queue_p99_ms: float  # read − send over every line: the wait in the socket buffers
    sender_lag_ms: float  # the most a send came after its due time
    hold_ms: float  # the lateness hold in wall time at this rate (history's event time)
    revisions: int
    matched: Matched


def run_config(lateness: float) -> RunConfig:
    return RunConfig(
        areas=REPO / "config/areas.geojson",
        watchlists=(REPO / "config/watchlist.csv",),
        order=OrderConfig(lateness_s=lateness, dedup_window_s=3.0),  # `seawarden live`
        detectors=load_detector_settings(REPO / "config/detectors.yaml"),
        risk=load_risk_settings(REPO / "config/risk.yaml"),
    )


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


async def run_rung(inp: Input, rate: float, proto: str, lateness: float, tmp: Path) -> Rung:
    tag = f"{proto}-{rate:.0f}-{lateness:g}"
    store = SQLiteStore(tmp / f"{tag}.db")
    # never sent: no delivery worker runs, the outbox commit is the end point
    sub = jef_subscription("http://127.0.0.1:9/alerts")
    sink = TimedOutbox(store, [sub])
    index: dict[bytes, int] = {}
    for i, line in enumerate(inp.lines):
        index.setdefault(line, i)
    n = len(inp.lines)
    runner = TimedRunner(run_config(lateness), store=store, alert_sinks=[sink], index=index, n=n)
    out = tmp / f"{tag}.npy"
    cmd = [__file__, "--sender", "--proto", proto, "--rate", repr(rate)]
    cmd += ["--input", str(inp.path), "--out", str(out)]
    udp_port = free_udp_port() if proto == "udp" else 0
    if udp_port:
        cmd += ["--port", str(udp_port)]
    proc = await asyncio.create_subprocess_exec(
        sys.executable, *cmd, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE
    )
    assert proc.stdin is not None
    assert proc.stdout is not None
    stop = asyncio.Event()
    try:
        ready = (await proc.stdout.readline()).split()
        if not ready or ready[0] != b"ready":
            raise RuntimeError(f"sender did not start: {ready!r}")
        if proto == "tcp":
            task = asyncio.create_task(runner.run_tcp(HOST, int(ready[1]), stop))
        else:
            task = asyncio.create_task(runner.run_udp(HOST, udp_port, stop))
            await asyncio.sleep(0.2)  # let run_udp bind its socket before the sender starts
            proc.stdin.write(b"go\n")
            await proc.stdin.drain()
        done = await proc.stdout.readline()
        if done.strip() != b"sent":
            raise RuntimeError(f"sender failed: {done!r}")
        while (
            runner.lines < n and not task.done() and time.monotonic() - runner.last_read < QUIET_S
        ):
            await asyncio.sleep(0.01)
        stopped = time.monotonic()
        stop.set()
        await task  # the end-of-stream flush runs here
    finally:
        stop.set()
        if proc.returncode is None:
            proc.stdin.close()
            try:
                await asyncio.wait_for(proc.wait(), 10.0)
            except TimeoutError:
                proc.kill()
                await proc.wait()
        store.close()

    times = np.load(out)
    sent, due = times[0].tolist(), times[1].tolist()
    read = runner.read_at
    got = [t for t in read if not math.isnan(t)]
    queue = [(r - s) * 1000 for r, s in zip(read, sent, strict=True) if not math.isnan(r)]
    span = runner.last_read - runner.first_read
    event_per_wall = inp.span_s / max(1, n - 1) * rate  # event seconds per wall second
    return Rung(
        rate=rate,
        sent=n,
        received=runner.lines,
        achieved=(len(got) - 1) / span if span > 0 else math.nan,
        backlog_s=runner.last_read - max(sent),
        queue_p99_ms=pct(queue, 0.99),
        sender_lag_ms=max(s - d for s, d in zip(sent, due, strict=True)) * 1000,
        hold_ms=lateness / event_per_wall * 1000 if event_per_wall > 0 else math.nan,
        revisions=len(sink.commits),
        matched=match(list(sink.commits.values()), inp.triggers, sent, due, read, stopped),
    )


# -- the sender process --------------------------------------------------------------------------
def send(proto: str, rate: float, path: Path, out: Path, port: int) -> None:
    """Send ``path``'s lines paced at ``rate``; save (send times, due times) to ``out``."""
    lines = [line + b"\r\n" for line in path.read_bytes().splitlines()]
    n = len(lines)
    sent = np.full(n, np.nan)
    server: socket.socket | None = None
    if proto == "tcp":
        server = socket.create_server((HOST, 0))
        print(f"ready {server.getsockname()[1]}", flush=True)
        sock, _ = server.accept()
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    else:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.connect((HOST, port))
        print("ready", flush=True)
        sys.stdin.readline()  # "go": the pipeline is listening
    refused = 0
    t0 = time.monotonic()
    i = 0
    while i < n:
        now = time.monotonic()
        upto = min(n, int((now - t0) * rate) + 1)
        if upto <= i:
            time.sleep(min(0.001, t0 + i / rate - now))
            continue
        if proto == "tcp":
            sent[i:upto] = now
            sock.sendall(b"".join(lines[i:upto]))
        else:
            for j in range(i, upto):
                sent[j] = time.monotonic()
                try:
                    sock.send(lines[j])
                except ConnectionRefusedError:
                    refused += 1
        i = upto
    np.save(out, np.stack([sent, t0 + np.arange(n) / rate]))
    if refused:
        print(f"sender: {refused} datagrams refused", file=sys.stderr)
    print("sent", flush=True)
    sys.stdin.read()  # keep the connection until the pipeline has stopped reading
    sock.close()
    if server is not None:
        server.close()


# -- report --------------------------------------------------------------------------------------
def report(rungs: Sequence[Rung], proto: str, lateness: float, inp: Input) -> None:
    head = (
        f"{'offered/s':>9} {'achieved/s':>10} {'received':>9} {'revisions':>9} {'matched':>7} "
        f"{'unm.':>4} {'at end':>6} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'max ms':>8} "
        f"{'read p99':>8} {'queue p99':>9} {'backlog s':>9} {'hold ms':>8}"
    )
    print(head)
    for r in rungs:
        m = r.matched
        lat = m.from_send_ms
        print(
            f"{r.rate:>9,.0f} {r.achieved:>10,.0f} {r.received:>9,} {r.revisions:>9} "
            f"{len(lat):>7} {m.unmatched:>4} {m.at_end:>6} {pct(lat, 0.5):>8.1f} "
            f"{pct(lat, 0.9):>8.1f} {pct(lat, 0.99):>8.1f} {max(lat, default=math.nan):>8.1f} "
            f"{pct(m.from_read_ms, 0.99):>8.1f} {r.queue_p99_ms:>9.1f} "
            f"{r.backlog_s:>9.2f} {r.hold_ms:>8.2f}"
        )
    print(
        "latency = outbox commit − the trigger sentence's send on the socket (p50…max over "
        "the matched revisions); read p99: from the pipeline reading the trigger; queue p99: "
        "read − send over every sentence; backlog: last sentence read − last sent; at end: "
        "revisions of the end-of-stream flush (left out); hold: the lateness hold in wall "
        "time at that rate"
    )
    for r in rungs:
        lost = r.sent - r.received
        if lost > 0:
            print(
                f"note: at {r.rate:,.0f}/s offered the pipeline read {r.achieved:,.0f}/s; the "
                f"socket's receive buffer filled and the kernel dropped {lost:,} of "
                f"{r.sent:,} sentences ({lost / r.sent:.0%}): the latency of what got through "
                "is bounded by that buffer, the loss is not"
            )
        elif r.achieved < 0.95 * r.rate or r.backlog_s > 0.5:
            print(
                f"note: at {r.rate:,.0f}/s offered the pipeline read {r.achieved:,.0f}/s and "
                f"ended {r.backlog_s:.1f} s behind the sender: a backlog built in the socket "
                f"buffers, so latency grows with the run length ({r.sent:,} sentences here), "
                "not a steady state"
            )
        if r.sender_lag_ms > 20:
            print(
                f"note: at {r.rate:,.0f}/s TCP backpressure held the sender up to "
                f"{r.sender_lag_ms / 1000:.1f} s behind schedule; latency from the send "
                "understates what a live source that never waits would see: p99 from "
                f"the due time {pct(r.matched.from_due_ms, 0.99):.1f} ms"
            )
    if lateness > 0:
        print(
            f"note: the {lateness:g} s lateness hold is in event time; this input plays "
            f"{inp.span_s / max(1, len(inp.lines) - 1):.1f} s of it per sentence, so the hold "
            "passes in the 'hold' column's wall time. On a real-time feed it would delay every "
            f"record by {lateness:g} s."
        )
    ok = [
        r.rate
        for r in rungs
        if r.matched.from_send_ms and pct(r.matched.from_send_ms, 0.99) <= GOAL_MS
    ]
    print(f"proto={proto}")
    print(f"lateness_s={lateness:g}")
    print(f"sentences={len(inp.lines)}")
    for r in rungs:
        at = f"{r.rate:.0f}"
        m = r.matched
        print(f"socket_latency_p50_ms_at_{at}={pct(m.from_send_ms, 0.5):.1f}")
        print(f"socket_latency_p90_ms_at_{at}={pct(m.from_send_ms, 0.9):.1f}")
        print(f"socket_latency_p99_ms_at_{at}={pct(m.from_send_ms, 0.99):.1f}")
        print(f"socket_latency_max_ms_at_{at}={max(m.from_send_ms, default=math.nan):.1f}")
        print(f"read_to_outbox_p99_ms_at_{at}={pct(m.from_read_ms, 0.99):.1f}")
        print(f"due_to_outbox_p99_ms_at_{at}={pct(m.from_due_ms, 0.99):.1f}")
        print(f"achieved_sentences_per_s_at_{at}={r.achieved:.0f}")
        print(f"sentences_received_at_{at}={r.received}")
        print(f"backlog_s_at_{at}={r.backlog_s:.2f}")
        print(f"socket_queue_p99_ms_at_{at}={r.queue_p99_ms:.1f}")
        print(f"sender_max_lag_ms_at_{at}={r.sender_lag_ms:.1f}")
        print(f"alerts_matched_at_{at}={len(m.from_send_ms)}")
        print(f"alerts_unmatched_at_{at}={m.unmatched}")
        print(f"alerts_at_end_of_stream_at_{at}={m.at_end}")
    print(f"max_rate_with_p99_under_50ms={max(ok, default=0):.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--proto", choices=("tcp", "udp"), default="tcp")
    parser.add_argument("--rates", type=float, nargs="+", default=list(LADDER))
    parser.add_argument("--ladder", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--rate", type=float, default=20_000.0, help="with --no-ladder")
    parser.add_argument("--sentences", type=int, default=0, help="first N lines (0: all)")
    parser.add_argument("--lateness", type=float, default=10.0, help="event-time hold, s")
    parser.add_argument("--seed", type=int, default=7)
    # the sender process
    parser.add_argument("--sender", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--input", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.sender:
        send(args.proto, args.rate, args.input, args.out, args.port)
        return
    if not BALTIC.is_file():
        sys.exit(f"needs {BALTIC} (../shared/data)")
    rates: list[float] = args.rates if args.ladder else [args.rate]
    print(f"load average at start: {os.getloadavg()[0]:.2f} ({os.cpu_count()} CPUs)")
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        inp = build_input(tmp, args.seed, args.sentences)
        warm_land_mask(inp.lines)
        print(
            f"{len(inp.lines):,} sentences, {inp.span_s / 3600:.1f} h of event time; "
            f"{args.proto.upper()} on loopback, lateness {args.lateness:g} s"
        )
        rungs = []
        for rate in rates:
            rungs.append(asyncio.run(run_rung(inp, rate, args.proto, args.lateness, tmp)))
    report(rungs, args.proto, args.lateness, inp)


if __name__ == "__main__":
    main()
