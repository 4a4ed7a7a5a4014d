"""``seawarden ingest``: read files exactly as a replay does and publish each released record.

The reading is :class:`~seawarden.pipeline.replay.Replay`'s own — decode, normalise, the
event-time orderer, the same rejections counted — with only the hand-over replaced: where a
replay gives a released record to the pipeline core, ingest publishes it. The stream then
holds exactly the sequence a single-process replay would have processed, which is what lets
partitioned workers reproduce its results.

Each message carries ``Nats-Msg-Id = <input id>:<release index>``, where the input id hashes
the files (path and size) and the reading config: re-running ingest after a crash within
the stream's duplicate window re-publishes the same ids and JetStream drops the repeats.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import orjson

from seawarden.bus.codec import encode
from seawarden.bus.publish import BatchPublisher
from seawarden.bus.streams import EOS_SUBJECT, report_subject
from seawarden.errors import ConfigError, InputError
from seawarden.model import Observation, PositionReport, Rejection, StaticReport
from seawarden.pipeline.replay import Replay, ReplayStats
from seawarden.pipeline.settings import RunConfig


def reading_config(config: RunConfig) -> RunConfig:
    """Only what decides how input is read (format, NMEA, order, assumed time): the
    message ids depend on this, not on detector or area settings."""
    if config.sensors is not None:
        raise ConfigError(
            "the bus carries AIS reports only: radar/satellite fusion is not partitioned"
        )
    return RunConfig(
        nmea=config.nmea,
        order=config.order,
        input_format=config.input_format,
        assume_time=config.assume_time,
        detectors=None,
    )


class BusIngest(Replay):
    """A replay whose released records go to the bus instead of a pipeline core."""

    def __init__(
        self,
        inputs: Sequence[str | Path],
        config: RunConfig,
        publisher: BatchPublisher,
        *,
        partitions: int,
        strict: bool = False,
        sort: bool = False,
    ) -> None:
        if partitions < 1 or partitions > 4096:
            raise ConfigError("--partitions must be 1 … 4096")
        super().__init__(inputs, reading_config(config), strict=strict, sort=sort)
        self.publisher = publisher
        self.partitions = partitions
        try:
            # files (path, size, modification time), reading config and the options that
            # change what is released: another --sort or --strict is another stream
            mtimes = ",".join(str(p.stat().st_mtime_ns) for p in self.inputs)
            key = f"{self.resume_key()}:{mtimes}:sort={sort}:strict={strict}"
        except OSError as exc:
            raise InputError(f"cannot read: {exc.strerror}", source=str(exc.filename)) from exc
        self.input_id = hashlib.sha256(key.encode()).hexdigest()[:20]
        self.released = 0
        self.unpublished_contacts = 0

    def _emit(self, released: list[Observation | Rejection]) -> None:
        for rec in released:
            if isinstance(rec, Rejection):
                self._reject(rec)
                continue
            if not isinstance(rec, PositionReport | StaticReport):
                # Radar/satellite contacts in the AIS stream: counted, not carried.
                self.stats.contacts += 1
                self.unpublished_contacts += 1
                continue
            self.stats.records += 1
            if isinstance(rec, PositionReport):
                self.stats.positions += 1
            else:
                self.stats.statics += 1
            self.publisher.add(
                report_subject(rec, self.partitions),
                encode(rec),
                f"{self.input_id}:{self.released}",
            )
            self.released += 1

    def run(self) -> ReplayStats:
        stats = super().run()
        if self.completed:
            marker = orjson.dumps({"input_id": self.input_id, "records": self.released})
            self.publisher.publish_sync(EOS_SUBJECT, marker, f"{self.input_id}:eos")
        return stats


def ingest(
    inputs: Sequence[str | Path],
    config: RunConfig,
    url: str,
    *,
    partitions: int,
    publisher: BatchPublisher | None = None,
    strict: bool = False,
    sort: bool = False,
) -> BusIngest:
    """Publish ``inputs`` to the bus at ``url``; returns the finished run (stats, counts)."""
    pub = publisher or BatchPublisher(url)
    with pub:
        run = BusIngest(inputs, config, pub, partitions=partitions, strict=strict, sort=sort)
        run.run()
    return run
