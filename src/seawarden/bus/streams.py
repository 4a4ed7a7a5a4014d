"""The JetStream streams and subjects of the bus, and their idempotent creation.

``SEAWARDEN_REPORTS`` holds every decoded report in release (event-time) order on
``sw.reports.<partition>.<h3 res-2 cell | static>`` and the end-of-stream marker on
``sw.control.eos``: one stream, so the marker is ordered after the records before it.
``SEAWARDEN_ALERTS`` holds alert revisions on ``sw.alerts.<severity>``. Both deduplicate by
the ``Nats-Msg-Id`` header within ``duplicate_window`` (at least an hour: long enough to
re-run a crashed ingest or replace a dead worker).
"""

from __future__ import annotations

from dataclasses import dataclass

import h3
import nats.js.errors
from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig

from seawarden.errors import ConfigError
from seawarden.model import PositionReport, StaticReport
from seawarden.pipeline.partition import partition_of

REPORTS = "SEAWARDEN_REPORTS"
ALERTS = "SEAWARDEN_ALERTS"
REPORT_SUBJECTS = ("sw.reports.>", "sw.control.>")
ALERT_SUBJECTS = ("sw.alerts.>",)
EOS_SUBJECT = "sw.control.eos"
MSG_ID = "Nats-Msg-Id"
EXPECTED_LAST_SEQ = "Nats-Expected-Last-Sequence"  # stored only if that is the last one
CELL_RES = 2  # ~87,000 km² hexagons: a handful per sea, coarse enough for few subjects

MIN_DUPLICATE_WINDOW_S = 3600.0


@dataclass(frozen=True, slots=True)
class StreamSettings:
    """``max_age_s``: how long messages are kept (0 = forever, until limits); the window in
    which a repeated ``Nats-Msg-Id`` is dropped is ``duplicate_window_s`` (≥ 1 h);
    ``replicas``: copies of each stream in a NATS cluster (1 on a single server; 3 to keep
    both streams, in order, through the loss of any one node — JetStream's RAFT needs a
    majority, so 3 nodes tolerate 1 lost, 5 tolerate 2). ``None``: a new stream gets 1 and
    an existing one keeps its count (a worker started without the option must not shrink
    the streams an operator created with 3)."""

    max_age_s: float = 7 * 24 * 3600.0
    duplicate_window_s: float = 2 * 3600.0
    replicas: int | None = None

    def __post_init__(self) -> None:
        if self.max_age_s < 0:
            raise ConfigError("stream max age must be ≥ 0 (0: no age limit)")
        if self.duplicate_window_s < MIN_DUPLICATE_WINDOW_S:
            raise ConfigError("the duplicate window must be at least 3600 s")
        if self.max_age_s and self.max_age_s < self.duplicate_window_s:
            raise ConfigError("max age must be at least the duplicate window")
        if self.replicas is not None and not 1 <= self.replicas <= 5:
            raise ConfigError("stream replicas must be 1…5 (JetStream's limit)")


def report_subject(rec: PositionReport | StaticReport, partitions: int) -> str:
    """``sw.reports.<partition>.<cell>``: the owner's partition and, for positions, the
    h3 cell (for consumers that want a region: the encounter stage keyed by cell)."""
    part = partition_of(rec.mmsi, partitions)
    if isinstance(rec, PositionReport):
        return f"sw.reports.{part}.{h3.latlng_to_cell(rec.lat, rec.lon, CELL_RES)}"
    return f"sw.reports.{part}.static"


def alert_subject(severity: str) -> str:
    return f"sw.alerts.{severity}"


async def ensure_streams(js: JetStreamContext, settings: StreamSettings | None = None) -> None:
    """Create both streams, or update their limits; safe to call from every process."""
    s = settings or StreamSettings()
    for name, subjects in ((REPORTS, REPORT_SUBJECTS), (ALERTS, ALERT_SUBJECTS)):
        cfg = StreamConfig(
            name=name,
            subjects=list(subjects),
            retention=RetentionPolicy.LIMITS,
            storage=StorageType.FILE,
            discard=DiscardPolicy.OLD,
            max_age=s.max_age_s,
            duplicate_window=s.duplicate_window_s,
            num_replicas=s.replicas or 1,
        )
        try:
            await js.add_stream(cfg)
        except nats.js.errors.BadRequestError:
            # Exists with other limits (the server refuses a create that differs): update.
            if s.replicas is None:
                cfg.num_replicas = (await js.stream_info(name)).config.num_replicas
            await js.update_stream(cfg)
