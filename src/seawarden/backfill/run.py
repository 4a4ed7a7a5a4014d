"""Run the unchanged pipeline core over a history archive, in one process or on Dask.

``engine="sequential"`` is the reference: one core that owns every vessel, fed the
archive's ordered stream (:class:`~seawarden.backfill.source.ArchiveSource`) through the
same event-time orderer a replay uses (so repeats heard by several receivers are dropped
exactly as a replay drops them).

``engine="dask"`` runs one task per MMSI partition. Every task reads the *whole* stream
and builds a core with ``owns=spec.owns``: the vessel picture (who is near whom, who is
heard where, which MMSI an IMO was last heard on) is replicated, so cross-vessel findings
come out as one process computes them, but only owned vessels produce events and alerts.
Tasks get the archive path, the config and a partition spec string — nothing that needs
shared memory — and return their output already serialised and sorted.

Both engines write their output in one deterministic order, so the files of the two
compare byte for byte: events by (event time, id, JSON line), alert revisions by (event
time, id, revision, JSON line). The JSON lines are the documented formats of
``JsonlEventSink``/``JsonlAlertSink``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import heapq
import logging
import re
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from time import perf_counter
from typing import TYPE_CHECKING, Any, Literal

import orjson

from seawarden.alerts.sinks import dumps_alert
from seawarden.backfill.source import ArchiveSource, check_archive
from seawarden.errors import ConfigError
from seawarden.model import PositionReport, Rejection
from seawarden.pipeline.order import EventTimeOrderer
from seawarden.pipeline.partition import PartitionSpec
from seawarden.pipeline.replay import build_core
from seawarden.pipeline.settings import RunConfig
from seawarden.pipeline.sinks import dumps_event

if TYPE_CHECKING:
    from distributed import Client

    from seawarden.alerts.model import Alert
    from seawarden.model import Event

Engine = Literal["sequential", "dask"]
EventRow = tuple[float, str, bytes]  # (event time, id, JSON line)
AlertRow = tuple[float, str, int, bytes]  # (event time, id, revision, JSON line)
_SCHEDULER = re.compile(r"^(tcp|tls)://[A-Za-z0-9._\-\[\]:]+:\d{1,5}$")


@dataclass(slots=True)
class PartitionOutput:
    """What one task produced: its events and alert revisions (sorted), and counters."""

    spec: str
    events: list[EventRow] = field(default_factory=list)
    alerts: list[AlertRow] = field(default_factory=list)
    records: int = 0
    positions: int = 0
    statics: int = 0
    rejections: Counter[str] = field(default_factory=Counter)
    elapsed_s: float = 0.0
    # with a spill directory: the files holding ``events`` and ``alerts`` instead
    spilled: tuple[str, str] | None = None


@dataclass(slots=True)
class BackfillStats:
    """What a backfill did, over all its tasks."""

    engine: str
    partitions: int
    workers: int
    records: int = 0  # records the stream held (each task read all of them)
    positions: int = 0
    statics: int = 0
    rejections: Counter[str] = field(default_factory=Counter)
    events: Counter[str] = field(default_factory=Counter)
    alerts: Counter[str] = field(default_factory=Counter)
    elapsed_s: float = 0.0
    task_s: list[float] = field(default_factory=list)

    @property
    def records_per_s(self) -> float:
        return self.records / self.elapsed_s if self.elapsed_s > 0 else 0.0


def _event_row(ev: Event) -> EventRow:
    return (ev.time.timestamp(), ev.id, dumps_event(ev))


def _alert_row(a: Alert) -> AlertRow:
    return (a.event_time.timestamp(), a.id, a.revision, dumps_alert(a))


def run_partition(
    archive: str,
    config: RunConfig,
    spec: str | None,
    start: datetime | None = None,
    end: datetime | None = None,
    spill: str | None = None,
) -> PartitionOutput:
    """One task: the whole archive stream through a core owning ``spec`` (all if None).

    A module-level function of plain arguments, so Dask can ship it to any worker that
    has seawarden installed and sees ``archive`` at the same path. With ``spill`` (a
    file name prefix in a directory the client sees too) the sorted rows go to two files
    instead of back through the scheduler."""
    started = perf_counter()
    owns = PartitionSpec.parse(spec).owns if spec is not None else None
    core = build_core(config, None, owns=owns)
    orderer = EventTimeOrderer(config.order)
    out = PartitionOutput(spec=spec or "*/1")

    def feed(released: Sequence[object]) -> None:
        for rec in released:
            if isinstance(rec, Rejection):
                out.rejections[rec.reason] += 1
                continue
            out.records += 1
            if isinstance(rec, PositionReport):
                out.positions += 1
            else:
                out.statics += 1
            out.events.extend(_event_row(ev) for ev in core.process(rec))  # type: ignore[arg-type]
            out.alerts.extend(_alert_row(a) for a in core.drain_alerts())

    for rec in ArchiveSource(Path(archive), start, end):
        feed(orderer.push(rec))
    feed(orderer.flush())
    tail, alerts = core.end_of_stream()
    out.events.extend(_event_row(ev) for ev in tail)
    out.alerts.extend(_alert_row(a) for a in alerts)
    out.events.sort()
    out.alerts.sort()
    if spill is not None:
        out.spilled = (_spill(out.events, f"{spill}.events"), _spill(out.alerts, f"{spill}.alerts"))
        out.events, out.alerts = [], []
    out.elapsed_s = perf_counter() - started
    return out


def _spill(rows: Sequence[tuple[Any, ...]], path: str) -> str:
    """Sorted rows to a file, one JSON array a line (floats round-trip exactly)."""
    with open(path, "wb") as fh:
        for row in rows:
            fh.write(orjson.dumps([*row[:-1], row[-1].decode()]) + b"\n")
    return path


def _unspill(path: str) -> Iterator[Any]:
    """The rows of a spill file, as the tuples :func:`_spill` was given."""
    with open(path, "rb") as fh:
        for raw in fh:
            v = orjson.loads(raw)
            yield (*v[:-1], v[-1].encode())


def absolute_paths(config: RunConfig) -> RunConfig:
    """``config`` with its input files as absolute paths: a worker's working directory is
    not the client's (a remote worker needs the same paths on a shared file system)."""

    def a(p: Path | None) -> Path | None:
        return None if p is None else Path(p).resolve()

    return dataclasses.replace(
        config,
        areas=a(config.areas),
        watchlists=tuple(Path(w).resolve() for w in config.watchlists),
        model=a(config.model),
        weather=tuple(Path(w).resolve() for w in config.weather),
        registry=tuple(Path(r).resolve() for r in config.registry),
    )


def check_scheduler(scheduler: str) -> str:
    """``local`` or a ``tcp://HOST:PORT`` (``tls://``) address, else a ConfigError."""
    if scheduler == "local" or _SCHEDULER.match(scheduler):
        return scheduler
    raise ConfigError(
        f"bad --scheduler {scheduler!r}: write 'local' (start a LocalCluster here) or the "
        "address of a running Dask scheduler, e.g. tcp://10.0.0.5:8786"
    )


@contextlib.contextmanager
def dask_client(
    scheduler: str = "local", workers: int = 2, *, timeout_s: float = 10.0
) -> Iterator[Client]:
    """A Dask client: on a new ``LocalCluster`` of ``workers`` processes (one thread each:
    the core is pure Python, threads would share one GIL), or connected to ``scheduler``.
    The local dashboard gets a free port: a fixed one clashes with any other cluster."""
    check_scheduler(scheduler)
    try:
        from distributed import Client, LocalCluster
    except ImportError as exc:
        raise ConfigError(
            "the dask engine needs dask and distributed: install seawarden with its 'dask' "
            "extra, or pip install dask==2026.8.0 distributed==2026.8.0"
        ) from exc
    # Importing distributed sets its loggers to INFO: a page of cluster chatter per run.
    logging.getLogger("distributed").setLevel(logging.WARNING)
    if scheduler == "local":
        if workers < 1:
            raise ConfigError("--workers must be at least 1")
        cluster = LocalCluster(  # type: ignore[no-untyped-call]
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0"
        )
        try:
            with Client(cluster) as client:  # type: ignore[no-untyped-call]
                yield client
        finally:
            cluster.close()
        return
    try:
        client = Client(scheduler, timeout=f"{timeout_s}s")  # type: ignore[no-untyped-call]
    except (OSError, TimeoutError) as exc:
        raise ConfigError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from exc
    try:
        yield client
    finally:
        client.close()  # type: ignore[no-untyped-call]


def _tasks_on(
    client: Client,
    archive: str,
    config: RunConfig,
    partitions: int,
    start: datetime | None,
    end: datetime | None,
    spill_dir: Path | None,
) -> list[PartitionOutput]:
    run = uuid.uuid4().hex[:8]  # a fresh key per run: Dask would reuse a held result
    futures = []
    for p in range(partitions):
        spec = str(PartitionSpec(frozenset([p]), partitions))
        spill = None if spill_dir is None else str(spill_dir / f"backfill-{run}-{p}of{partitions}")
        futures.append(
            client.submit(
                run_partition, archive, config, spec, start, end, spill, key=f"bf-{spec}-{run}"
            )
        )
    results: list[PartitionOutput] = client.gather(futures)  # type: ignore[no-untyped-call]
    return results


def backfill(
    archive: Path,
    config: RunConfig,
    *,
    engine: Engine = "sequential",
    partitions: int = 2,
    scheduler: str = "local",
    workers: int | None = None,
    client: Client | None = None,
    events_out: Path | None = None,
    alerts_out: Path | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    spill_dir: Path | None = None,
) -> BackfillStats:
    """Run the detectors over ``archive``; write events/alerts JSONL (if asked); return
    the counters. ``client`` (tests, notebooks) reuses a running Dask client instead of
    ``scheduler``; ``workers`` sizes a local cluster (default: one per partition).
    ``spill_dir`` (dask; a directory the workers and this process share): tasks write
    their sorted output there and it is merged from the files, streaming, then deleted."""
    root = check_archive(archive)
    if engine not in ("sequential", "dask"):
        raise ConfigError(f"bad engine {engine!r}: sequential or dask")
    if config.sensors is not None:
        raise ConfigError("the archive holds AIS only: a backfill takes no --sensors")
    started = perf_counter()
    if engine == "sequential":
        outputs = [run_partition(str(root), config, None, start, end)]
        n_workers, n_parts = 1, 1
    else:
        if not 1 <= partitions <= 4096:
            raise ConfigError("--partitions must be 1 … 4096")
        n_parts = partitions
        config = absolute_paths(config)
        spill = None
        if spill_dir is not None:
            spill = Path(spill_dir).resolve()
            spill.mkdir(parents=True, exist_ok=True)
        if client is not None:
            outputs = _tasks_on(client, str(root.resolve()), config, n_parts, start, end, spill)
            n_workers = len(client.scheduler_info().get("workers", {}))
        else:
            check_scheduler(scheduler)
            n_workers = workers or n_parts
            with dask_client(scheduler, n_workers) as c:
                outputs = _tasks_on(c, str(root.resolve()), config, n_parts, start, end, spill)
                n_workers = len(c.scheduler_info().get("workers", {}))
    stats = BackfillStats(engine=engine, partitions=n_parts, workers=n_workers)
    first = outputs[0]  # every task read the same stream: count it once
    stats.records, stats.positions, stats.statics = first.records, first.positions, first.statics
    stats.rejections = Counter(first.rejections)
    stats.task_s = [o.elapsed_s for o in outputs]
    try:
        events = heapq.merge(*(_rows(o, 0) for o in outputs))
        alerts = heapq.merge(*(_rows(o, 1) for o in outputs))
        stats.events = _write(events_out, events, _event_kind)
        stats.alerts = _write(alerts_out, alerts, _alert_kind)
    finally:
        for o in outputs:
            for name in o.spilled or ():
                Path(name).unlink(missing_ok=True)
    stats.elapsed_s = perf_counter() - started
    return stats


def _rows(out: PartitionOutput, which: int) -> Iterator[Any]:
    """A task's sorted events (0) or alerts (1), from memory or its spill file."""
    if out.spilled is not None:
        return _unspill(out.spilled[which])
    return iter(out.events if which == 0 else out.alerts)


def _event_kind(line: bytes) -> str:
    return str(_loads(line)["kind"])


def _alert_kind(line: bytes) -> str:
    d = _loads(line)
    return f"{d['msg_type']}:{d['severity']}"


def _loads(line: bytes) -> dict[str, Any]:
    value: dict[str, Any] = orjson.loads(line)
    return value


def _write(path: Path | None, rows: Iterator[Any], kind: Any) -> Counter[str]:
    """Write the merged rows' JSON lines to ``path`` (if any); count them by kind."""
    counts: Counter[str] = Counter()
    fh = path.open("wb") if path is not None else None
    try:
        for row in rows:
            line: bytes = row[-1]
            counts[kind(line)] += 1
            if fh is not None:
                fh.write(line + b"\n")
    finally:
        if fh is not None:
            fh.close()
    return counts
