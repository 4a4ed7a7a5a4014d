"""Worker and dispatcher edges on a real nats-server: SIGTERM checkpoints what was
processed and exits 0, a restart resumes exactly there; undecodable alerts are counted and
terminated, not retried; partitioned fusion is refused."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from pathlib import Path

import nats
import orjson
import pytest

from seawarden.alerts.subscriptions import load_subscriptions
from seawarden.bus.dispatch import BusDispatcher
from seawarden.bus.ingest import ingest
from seawarden.bus.server import NatsServer
from seawarden.bus.streams import ensure_streams
from seawarden.bus.worker import partitioned_core
from seawarden.errors import ConfigError
from seawarden.pipeline.partition import PartitionSpec
from seawarden.pipeline.settings import RunConfig
from seawarden.sim import simulate
from seawarden.store.sqlite import SQLiteStore
from tests.alerts.factories import make_alert
from tests.bus.test_kill import SUBSCRIPTIONS, _checkpoint, _cli, _pipeline_args, _summary
from tests.conftest import SHARED_DATA


def test_sigterm_checkpoints_and_a_restart_resumes_there(
    tmp_path: Path, nats_server: NatsServer, scenario_nmea: Path
) -> None:
    ingest([scenario_nmea], RunConfig(), nats_server.url, partitions=2)
    store = tmp_path / "w.db"
    env = {**os.environ, "SEAWARDEN_LOG_LEVEL": "WARNING"}

    def start(tag: str, *extra: str) -> subprocess.Popen[bytes]:
        args = _cli(
            "worker", "--bus", nats_server.url, "--partitions", "0/2", "--store", store,
            "--checkpoint-every", "1000", *_pipeline_args(), *extra,
        )  # fmt: skip
        with (tmp_path / f"{tag}.out").open("wb") as out:
            return subprocess.Popen(args, env=env, cwd=tmp_path, stdout=out, stderr=out)

    proc = start("first")
    try:
        deadline = time.monotonic() + 60
        while (ck := _checkpoint(store)) is None or ck["seq"] < 2000:
            assert proc.poll() is None
            assert time.monotonic() < deadline
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    first = _summary(tmp_path / "first.out")
    saved = _checkpoint(store)
    assert saved is not None
    assert saved["seq"] == first["last_seq"] >= 2000  # everything processed is checkpointed
    assert not saved["eos"]

    again = start("again", "--exit-on-eos")
    assert again.wait(timeout=120) == 0
    second = _summary(tmp_path / "again.out")
    assert second["resumed_at"] == saved["seq"]
    assert second["messages"] == second["last_seq"] - saved["seq"]
    assert second["eos"]


def test_dispatch_counts_and_terminates_bad_alerts(tmp_path: Path, nats_server: NatsServer) -> None:
    good = make_alert()

    async def publish() -> None:
        nc = await nats.connect(nats_server.url)
        js = nc.jetstream()
        await ensure_streams(js)
        await js.publish("sw.alerts.high", b"{not json")
        await js.publish("sw.alerts.high", orjson.dumps({"id": "x"}))  # no revision etc.
        # every field present, but a time that is not text (was an AttributeError that
        # killed the dispatcher and blocked the good alert of the same batch for good)
        await js.publish("sw.alerts.high", orjson.dumps({**good.to_dict(), "event_time": 17}))
        await js.publish("sw.alerts.high", orjson.dumps(good.to_dict()))
        await nc.close()

    asyncio.run(publish())
    (tmp_path / "subs.yaml").write_text(SUBSCRIPTIONS)
    subs = load_subscriptions(tmp_path / "subs.yaml")
    for attempt in range(2):  # terminated: not redelivered to the same durable
        db = SQLiteStore(tmp_path / "d.db")
        try:
            d = BusDispatcher(nats_server.url, db, subs, idle_exit_s=0.5)
            stats = asyncio.run(d.run(asyncio.Event()))
        finally:
            db.close()
        if attempt == 0:
            assert stats.bad_messages == 3
            assert stats.revisions == 1
        else:
            assert stats.messages == 0


def test_partitioned_fusion_is_refused(tmp_path: Path) -> None:
    cfg = RunConfig(sensors=tmp_path / "sensors.yaml")
    with pytest.raises(ConfigError, match="fusion"):
        partitioned_core(cfg, None, PartitionSpec.parse("0/2"))


def test_a_checkpoint_from_another_stream_is_refused(tmp_path: Path) -> None:
    """A worker store that was used against one SEAWARDEN_REPORTS stream must not resume
    against a recreated one (the sequence numbers would mean other records)."""
    from seawarden.bus.worker import Worker
    from tests.conftest import SHARED_DATA

    nm4 = SHARED_DATA / "nmea/aisdb/test_data_20211101.nm4"
    if not nm4.is_file():
        pytest.skip("needs ../shared/data (AISdb NMEA)")
    cfg = RunConfig(detectors=None)
    spec = PartitionSpec.parse("0/2")
    for attempt in range(2):
        with NatsServer() as server:
            ingest([nm4], cfg, server.url, partitions=2)
            db = SQLiteStore(tmp_path / "w.db")
            try:
                worker = Worker(server.url, cfg, spec, db, exit_on_eos=True)
                if attempt == 0:
                    stats = asyncio.run(worker.run(asyncio.Event()))
                    assert stats.eos
                    assert stats.records == 960
                else:
                    with pytest.raises(ConfigError, match="another SEAWARDEN_REPORTS stream"):
                        asyncio.run(worker.run(asyncio.Event()))
            finally:
                db.close()


BACKLOG = SHARED_DATA / "tracks/baltic-cargo-2020/baltic_cargo_20201101.csv"


@pytest.mark.slow
def test_a_backlog_far_larger_than_any_client_buffer_is_read_to_the_end(
    tmp_path: Path, nats_server: NatsServer
) -> None:
    """Ingest first, work later (a worker replaced after an outage meets a backlog): a real
    Baltic day (written in time order by `simulate`, with one ferry), ~35k reports, is read
    to the end. The push consumer this replaced stalled for
    good once the backlog overflowed its 20k-message buffer (flow control lost)."""
    if not BACKLOG.is_file():
        pytest.skip("needs ../shared/data (real Baltic AIS)")
    files = [tmp_path / "baltic.nmea"]
    simulate(files[0], tmp_path / "labels.jsonl", scenarios=["ferry"], background=BACKLOG, seed=3)
    published = ingest(files, RunConfig(), nats_server.url, partitions=2).stats.records
    assert published > 30_000
    store = tmp_path / "w.db"
    args = _cli(
        "worker", "--bus", nats_server.url, "--partitions", "1/2", "--store", store,
        "--no-detectors", "--exit-on-eos",
    )  # fmt: skip
    with (tmp_path / "w.out").open("wb") as out:
        proc = subprocess.run(args, cwd=tmp_path, stdout=out, stderr=out, timeout=120)
    assert proc.returncode == 0, (tmp_path / "w.out").read_text()[-2000:]
    stats = _summary(tmp_path / "w.out")
    assert stats["eos"]
    assert stats["records"] == published
    assert stats["missed"] == 0
