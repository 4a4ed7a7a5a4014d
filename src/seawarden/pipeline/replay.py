"""Replay recorded traffic through the pipeline, deterministically and resumably.

An analyst replays a day of history to see what the system would have said; an operator
reprocesses after a config change. Both need the same answer every time, a count of
everything thrown away, and — for long inputs — the ability to stop and continue.

Resume works without replaying from scratch: every ``checkpoint_every`` lines the runner
commits the store together with the pipeline state, the orderer's release point and the
earliest input line any not-yet-released record came from. On ``--resume`` it re-reads from
that line, drops whatever it had already released (by the orderer's canonical key), and
carries on; the output is the same as an uninterrupted run.
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from time import perf_counter
from typing import Any, TypeVar, cast

import orjson

from seawarden.alerts.model import Alert
from seawarden.alerts.sinks import AlertSink, JsonlAlertSink
from seawarden.areas.index import AreaIndex
from seawarden.areas.load import load_areas
from seawarden.areas.tracker import AreaTracker
from seawarden.detectors.registry import build_detectors
from seawarden.detectors.runner import DetectorRunner
from seawarden.errors import ConfigError, RejectedInputError
from seawarden.fleet.fleet import Fleet
from seawarden.fleet.watchlist import Watchlist
from seawarden.fusion.sensors import SensorRegistry, load_sensors
from seawarden.ingest.files import (
    SENSOR_FORMATS,
    InputFormat,
    NmeaFileSource,
    SensorFileSource,
    open_source,
    sniff_format,
)
from seawarden.ingest.nmea import DecodeStats
from seawarden.model import Event, Observation, PositionReport, Rejection, StaticReport
from seawarden.pipeline.core import PipelineCore
from seawarden.pipeline.order import EventTimeOrderer, sort_key
from seawarden.pipeline.settings import RunConfig, versions
from seawarden.pipeline.sinks import EventSink, JsonlEventSink
from seawarden.risk.normalcy_io import load_model
from seawarden.risk.score import PriorSource
from seawarden.risk.stage import RiskStage
from seawarden.store.base import RunInfo, Store

log = logging.getLogger(__name__)

Position = tuple[int, int]  # (input index, line number)


@dataclass(slots=True)
class ReplayStats:
    """What a replay did; printed by the CLI and stored with the run."""

    lines: int = 0
    records: int = 0
    positions: int = 0
    statics: int = 0
    contacts: int = 0  # radar/satellite contacts and satellite passes
    rejections: Counter[str] = field(default_factory=Counter)
    events: Counter[str] = field(default_factory=Counter)
    alerts: Counter[str] = field(default_factory=Counter)
    vessels: int = 0
    decode: dict[str, dict[str, Any]] = field(default_factory=dict)
    elapsed_s: float = 0.0
    resumed_from: Position | None = None

    @property
    def rejected(self) -> int:
        return sum(self.rejections.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "lines": self.lines,
            "records": self.records,
            "positions": self.positions,
            "statics": self.statics,
            "contacts": self.contacts,
            "rejected": self.rejected,
            "rejections": dict(sorted(self.rejections.items())),
            "events": dict(sorted(self.events.items())),
            "alerts": dict(sorted(self.alerts.items())),
            "vessels": self.vessels,
            "decode": self.decode,
            "elapsed_s": round(self.elapsed_s, 3),
            "lines_per_s": round(self.lines / self.elapsed_s) if self.elapsed_s > 0 else None,
            "resumed_from": list(self.resumed_from) if self.resumed_from else None,
        }


def build_core(
    config: RunConfig,
    store: Store | None,
    sensors: SensorRegistry | None = None,
    *,
    owns: Callable[[int], bool] | None = None,
) -> PipelineCore:
    """The pipeline stages for a config: watchlist → fleet, areas → tracker, detectors,
    normalcy model and land mask → detector runner, sensors → fusion, weather grids →
    weather context, registry particulars → risk priors, risk stage. ``owns``: a
    partitioned worker's vessels (see pipeline/partition.py)."""
    watchlist: Watchlist | None = None
    for path in config.watchlists:
        loaded = Watchlist.load(path)
        watchlist = loaded if watchlist is None else watchlist.merge(loaded)
    fleet = Fleet(config.fleet, watchlist)
    tracker = None
    index = None
    if config.areas is not None:
        index = AreaIndex(load_areas(config.areas))
        tracker = AreaTracker(index, config.area_tracker)
    runner = None
    risk = None
    if config.detectors is not None:
        normalcy = load_model(config.model) if config.model is not None else None
        # No shared land mask: the spoofing detector builds one with its own harbour buffer.
        runner = DetectorRunner(build_detectors(config.detectors), areas=index, normalcy=normalcy)
        risk = RiskStage(config.risk, index, priors=registry_priors(config.registry))
    if sensors is None and config.sensors is not None:
        sensors = load_sensors(config.sensors)
    fusion = None
    if sensors is not None:
        from seawarden.fusion.config import FusionConfig
        from seawarden.fusion.stage import FusionStage

        fusion = FusionStage(
            sensors,
            fusion_config(FusionConfig, config.fusion),
            areas=index,
            # who else the receivers hear tells a switched-off transponder from a reception gap
            coverage=runner.coverage if runner is not None else None,
        )
    weather = None
    if config.weather:
        from seawarden.fusion.weather import WeatherConfig, WeatherContext
        from seawarden.ingest.weather import load_weather

        weather = WeatherContext(
            load_weather(config.weather), fusion_config(WeatherConfig, config.weather_params)
        )
    return PipelineCore(
        fusion=fusion,
        weather=weather,
        fleet=fleet,
        tracker=tracker,
        detectors=runner,
        risk=risk,
        store=store,
        config=config.core,
        owns=owns,
    )


def registry_priors(paths: Sequence[Path]) -> list[PriorSource]:
    """Risk priors from vessel registry particulars (none without a registry file)."""
    if not paths:
        return []
    from seawarden.fleet.registry import load_registry
    from seawarden.risk.priors import RegistryPriors

    registry = load_registry(paths[0])
    for path in paths[1:]:
        registry = registry.merge(load_registry(path))
    return [RegistryPriors(registry)]


_C = TypeVar("_C")


def fusion_config(cls: type[_C], params: dict[str, Any]) -> _C:
    """A frozen parameter dataclass from a user mapping; unknown names are a ConfigError."""
    try:
        return cls(**params)
    except TypeError as exc:
        raise ConfigError(f"{cls.__name__}: {exc}") from exc


class Replay:
    """One replay of a list of input files. Use :meth:`run`."""

    def __init__(
        self,
        inputs: Sequence[str | Path],
        config: RunConfig,
        *,
        store: Store | None = None,
        sinks: Sequence[EventSink] = (),
        events_out: Path | None = None,
        alerts_out: Path | None = None,
        alert_sinks: Sequence[AlertSink] = (),
        rejects_out: Path | None = None,
        strict: bool = False,
        resume: bool = False,
        checkpoint_every: int = 200_000,
        stop_after_lines: int | None = None,
        sort: bool = False,
        progress: Callable[[int, int, int], None] | None = None,
        owns: Callable[[int], bool] | None = None,
    ) -> None:
        self.inputs = [Path(p) for p in inputs]
        self.config = config
        self.store = store
        self.strict = strict
        self.resume = resume
        self.checkpoint_every = checkpoint_every
        self.stop_after_lines = stop_after_lines
        self.sort = sort
        if sort and resume:
            raise ConfigError("--sort reads all input before processing; it cannot --resume")
        self.progress = progress
        self.events_out = events_out
        self.alerts_out = alerts_out
        self.alert_sinks: list[AlertSink] = list(alert_sinks)
        self._alerts_file: JsonlAlertSink | None = None
        self.rejects_out = rejects_out
        self.sinks: list[EventSink] = list(sinks)
        self.sensors = load_sensors(config.sensors) if config.sensors is not None else None
        self.core = build_core(config, store, self.sensors, owns=owns)
        self.orderer = EventTimeOrderer(config.order)
        self.stats = ReplayStats()
        self._events_file: JsonlEventSink | None = None
        self._rejects_fh: Any = None
        self.run_id = uuid.uuid4().hex[:12]
        self.completed = False
        # side inputs (radar/satellite files) merged into the AIS stream by event time
        self._side: list[Observation] = []
        self._side_at = 0
        self._main_pos: Position = (0, 0)

    # -- key and checkpoint ------------------------------------------------------------------
    def resume_key(self) -> str:
        files = ",".join(f"{p.resolve()}:{p.stat().st_size}" for p in self.inputs)
        return f"replay:{self.config.digest()}:{files}"

    def _checkpoint(
        self,
        at: Position,
        pending_min: Callable[[], int | None] | None,
        decode: DecodeStats | None,
    ) -> None:
        """Commit the store with everything needed to continue after line ``at``."""
        if self.store is None:
            return
        self.core.flush()
        needed: list[Position] = [*self.orderer.buffered(), at]
        first_pending = pending_min() if pending_min is not None else None
        if first_pending is not None:
            needed.append((at[0], first_pending))
        if self._events_file is not None:
            self._events_file.flush()
        if self._alerts_file is not None:
            self._alerts_file.flush()
        state = {
            "at": list(at),
            "restart": list(min(needed)),
            "orderer": self.orderer.snapshot(),
            "core": self.core.snapshot(),
            "stats": self.stats.as_dict(),
            "decode": decode.as_dict() if decode else None,
            "events_bytes": self.events_out.stat().st_size if self.events_out else 0,
            "alerts_bytes": self.alerts_out.stat().st_size if self.alerts_out else 0,
            "complete": False,
        }
        self.store.save_checkpoint(self.resume_key(), state)
        self.store.commit()

    # -- run -----------------------------------------------------------------------------------
    def run(self) -> ReplayStats:
        started = perf_counter()
        saved = self._load_resume()
        resume_at: Position | None = _pos(saved["at"]) if saved else None
        restart: Position = _pos(saved["restart"]) if saved else (0, 0)
        if saved:
            self._restore(saved)
        self._open_outputs(saved)
        if self.store is not None:
            self.store.begin_run(
                RunInfo(
                    run_id=self.run_id,
                    started=datetime.now(UTC),
                    command="replay",
                    inputs=[str(p) for p in self.inputs],
                    config=self.config.to_dict(),
                    versions=versions(),
                )
            )
        status = "failed"
        try:
            if self.sort:
                self._run_sorted()
            else:
                self._run_inputs(restart, resume_at)
            if not self._stopped:
                self._emit(self.orderer.flush())
                tail, alerts = self.core.end_of_stream()
                if tail:
                    self._deliver(tail)
                if alerts:
                    self._deliver_alerts(alerts)
                self.completed = True
            status = "complete" if self.completed else "stopped"
        finally:
            self.stats.vessels = len(self.core.fleet)
            self.stats.elapsed_s += perf_counter() - started
            self.core.flush()
            if self.store is not None:
                if self.completed:
                    self.store.save_checkpoint(self.resume_key(), {"complete": True})
                self.store.end_run(self.run_id, self.stats.as_dict(), status)
            self._close_outputs()
        return self.stats

    _stopped = False
    _saved_decode: dict[str, Any] | None = None

    def _load_side(self, resume_at: Position | None) -> set[int]:
        """Radar/satellite recordings (ASTERIX, satellite CSV/GeoJSON) are separate files
        beside the AIS logs; read one after another they would all arrive "too late". They
        are small, so they are read whole, sorted, and merged into the AIS stream by event
        time as it is read (:meth:`_feed_side`). Returns their input indices."""
        side: set[int] = set()
        items: list[Observation] = []
        for index, path in enumerate(self.inputs):
            fmt = cast(InputFormat, self.config.input_format or sniff_format(path))
            if fmt not in SENSOR_FORMATS:
                continue
            side.add(index)
            source = open_source(
                path, fmt, assume_time=self.config.assume_time, sensors=self.sensors
            )
            if self.core.evidence is not None:
                self.core.evidence.attach(source)  # the raw rows/blocks behind each contact
            for _, item in source:
                if isinstance(item, Rejection):
                    if resume_at is None:  # counted once, in the run that first read it
                        self._reject(item)
                else:
                    items.append(item)
            self.stats.decode[path.name] = cast(SensorFileSource, source).stats
        items.sort(key=sort_key)
        self._side = items
        self._side_at = 0
        return side

    def _feed_side(self, until: float, resume_at: Position | None) -> None:
        """Push side contacts up to event time ``until`` (all of them for +inf)."""
        side = self._side
        while self._side_at < len(side) and side[self._side_at].time.timestamp() <= until:
            item = side[self._side_at]
            self._side_at += 1
            last = self.orderer.last_key
            if resume_at is not None and last is not None and sort_key(item) <= last:
                continue  # released before the checkpoint (held ones are in the fusion state)
            self._emit(self.orderer.push(item, self._main_pos))

    def _run_inputs(self, restart: Position, resume_at: Position | None) -> None:
        since_ckpt = 0
        side = self._load_side(resume_at)
        for index, path in enumerate(self.inputs):
            if index < restart[0] or index in side:
                continue
            start_line = restart[1] if index == restart[0] else 0
            source = open_source(
                path,
                self.config.input_format,  # type: ignore[arg-type]
                nmea_config=self.config.nmea,
                assume_time=self.config.assume_time,
                start_line=start_line,
                sensors=self.sensors,
            )
            if self.core.evidence is not None:
                self.core.evidence.attach(source)
            nmea = source if isinstance(source, NmeaFileSource) else None
            pending_min = nmea.decoder.pending_min_line if nmea else None
            saved_decode = self._saved_decode if resume_at and index == resume_at[0] else None
            last_line = max(start_line - 1, 0)
            for line_no, item in source:
                if line_no != last_line:
                    # Line ``last_line`` is fully ingested: a safe point to checkpoint/stop.
                    prev = (index, last_line)
                    if resume_at is None or prev > resume_at:
                        if saved_decode is not None and nmea is not None:
                            _restore_decode(nmea.stats, saved_decode)
                            saved_decode = None
                        since_ckpt += line_no - last_line
                        self.stats.lines += line_no - last_line
                        if since_ckpt >= self.checkpoint_every:
                            self._checkpoint(prev, pending_min, nmea.stats if nmea else None)
                            since_ckpt = 0
                        stop = self.stop_after_lines
                        if stop is not None and self.stats.lines >= stop:
                            self._checkpoint(prev, pending_min, nmea.stats if nmea else None)
                            self._stopped = True
                            return
                    last_line = line_no
                    if self.progress is not None and line_no % 10_000 == 0:
                        self.progress(index, line_no, self.stats.records)
                if self._side_at < len(self._side) and not isinstance(item, Rejection):
                    self._main_pos = (index, line_no)
                    self._feed_side(item.time.timestamp(), resume_at)
                self._ingest(item, index, resume_at)
            if nmea is not None:
                self.stats.decode[path.name] = nmea.stats.as_dict()
            elif isinstance(source, SensorFileSource):
                self.stats.decode[path.name] = source.stats

        self._feed_side(float("inf"), resume_at)

    def _run_sorted(self) -> None:
        """Read everything, sort by the canonical key, then process: for history files that
        are ordered by vessel rather than by time (common in published archives)."""
        records: list[Observation] = []
        for index, path in enumerate(self.inputs):
            source = open_source(
                path,
                self.config.input_format,  # type: ignore[arg-type]
                nmea_config=self.config.nmea,
                assume_time=self.config.assume_time,
                sensors=self.sensors,
            )
            if self.core.evidence is not None:
                self.core.evidence.attach(source)
            last_line = 0
            for line_no, item in source:
                self.stats.lines += max(line_no - last_line, 0)
                last_line = max(last_line, line_no)
                if isinstance(item, Rejection):
                    self._reject(item)
                else:
                    records.append(item)
                if self.progress is not None and line_no % 10_000 == 0:
                    self.progress(index, line_no, len(records))
            if isinstance(source, NmeaFileSource):
                self.stats.decode[path.name] = source.stats.as_dict()
            elif isinstance(source, SensorFileSource):
                self.stats.decode[path.name] = source.stats
        records.sort(key=sort_key)
        for rec in records:
            self._emit(self.orderer.push(rec))

    def _ingest(
        self, item: Observation | Rejection, index: int, resume_at: Position | None
    ) -> None:
        origin = (index, item.line_no)
        if resume_at is not None and origin <= resume_at:
            # Re-read to rebuild state; already counted or released before the checkpoint.
            if isinstance(item, Rejection):
                return
            last = self.orderer.last_key
            if last is not None and sort_key(item) <= last:
                return
        if isinstance(item, Rejection):
            self._reject(item)
            return
        self._emit(self.orderer.push(item, origin))

    def _emit(self, released: list[Observation | Rejection]) -> None:
        for rec in released:
            if isinstance(rec, Rejection):
                self._reject(rec)
                continue
            self.stats.records += 1
            if isinstance(rec, PositionReport):
                self.stats.positions += 1
            elif isinstance(rec, StaticReport):
                self.stats.statics += 1
            else:
                self.stats.contacts += 1
            events = self.core.process(rec)
            if events:
                self._deliver(events)
            alerts = self.core.drain_alerts()
            if alerts:
                self._deliver_alerts(alerts)

    def _deliver(self, events: list[Event]) -> None:
        for ev in events:
            self.stats.events[ev.kind] += 1
        if self._events_file is not None:
            self._events_file.write(events)
        for sink in self.sinks:
            sink.write(events)

    def _deliver_alerts(self, alerts: list[Alert]) -> None:
        for a in alerts:
            self.stats.alerts[f"{a.msg_type}:{a.severity}"] += 1
        if self._alerts_file is not None:
            self._alerts_file.write(alerts)
        for sink in self.alert_sinks:
            sink.write(alerts)

    def _reject(self, rej: Rejection) -> None:
        self.stats.rejections[rej.reason] += 1
        if self.strict:
            raise RejectedInputError(rej)
        if self.stats.rejections[rej.reason] <= 3:
            log.warning("rejected %s at %s:%d %s", rej.reason, rej.source, rej.line_no, rej.detail)
        if self._rejects_fh is not None:
            self._rejects_fh.write(
                orjson.dumps(
                    {
                        "reason": rej.reason,
                        "source": rej.source,
                        "line_no": rej.line_no,
                        "detail": rej.detail,
                        "raw": rej.raw,
                    },
                    option=orjson.OPT_SORT_KEYS,
                )
                + b"\n"
            )

    # -- resume helpers ------------------------------------------------------------------------
    def _load_resume(self) -> dict[str, Any] | None:
        if not self.resume or self.store is None:
            return None
        saved = self.store.load_checkpoint(self.resume_key())
        if saved is None:
            log.info("no checkpoint for these inputs and config: starting from the beginning")
            return None
        if saved.get("complete"):
            log.info("this replay already completed in the store; nothing to resume")
            self._stopped = True
            return None
        return saved

    def _restore(self, saved: dict[str, Any]) -> None:
        self.orderer.restore(saved["orderer"])
        self.core.restore(saved["core"])
        st = saved["stats"]
        self.stats.lines = st["lines"]
        self.stats.records = st["records"]
        self.stats.positions = st["positions"]
        self.stats.statics = st["statics"]
        self.stats.rejections.update(st["rejections"])
        self.stats.events.update(st["events"])
        self.stats.alerts.update(st.get("alerts", {}))
        self.stats.decode = dict(st["decode"])
        self.stats.elapsed_s = float(st["elapsed_s"])
        self.stats.resumed_from = _pos(saved["at"])
        self._saved_decode = saved.get("decode")

    def _open_outputs(self, saved: dict[str, Any] | None) -> None:
        if self.events_out is not None:
            if saved is not None and self.events_out.exists():
                with self.events_out.open("r+b") as fh:
                    fh.truncate(int(saved["events_bytes"]))
                self._events_file = JsonlEventSink(self.events_out, append=True)
            elif not self._stopped:
                self._events_file = JsonlEventSink(self.events_out)
        if self.alerts_out is not None:
            if saved is not None and self.alerts_out.exists():
                with self.alerts_out.open("r+b") as fh:
                    fh.truncate(int(saved.get("alerts_bytes", 0)))
                self._alerts_file = JsonlAlertSink(self.alerts_out, append=True)
            elif not self._stopped:
                self._alerts_file = JsonlAlertSink(self.alerts_out)
        if self.rejects_out is not None:
            self._rejects_fh = self.rejects_out.open("ab" if saved else "wb")

    def _close_outputs(self) -> None:
        if self._events_file is not None:
            self._events_file.close()
        if self._alerts_file is not None:
            self._alerts_file.close()
        for alert_sink in self.alert_sinks:
            alert_sink.close()
        if self._rejects_fh is not None:
            self._rejects_fh.close()
        for sink in self.sinks:
            sink.close()


def _restore_decode(stats: DecodeStats, saved: dict[str, Any]) -> None:
    """Put back the decoder's counters as they were at the checkpoint."""
    for name in (
        "lines",
        "blank_or_comment",
        "wrappers",
        "fragments_used",
        "rejected_lines",
        "messages",
        "positions",
        "statics",
        "rejected_messages",
        "assumed_time",
    ):
        setattr(stats, name, int(saved[name]))
    # radar counters (absent from checkpoints written before radar input existed)
    stats.radar_used = int(saved.get("radar_used", 0))
    stats.contacts = int(saved.get("contacts", 0))
    stats.skipped_types = Counter({int(k): v for k, v in saved["skipped_types"].items()})
    stats.rejections = Counter(saved["rejections"])
    stats.radar_rejections = Counter(saved.get("radar_rejections", {}))


def _pos(value: list[int]) -> Position:
    return int(value[0]), int(value[1])
