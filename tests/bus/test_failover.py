"""A three-node NATS cluster loses a node under every stage: nothing is lost, doubled or
reordered, and the alerts equal a single-process replay's.

Real ``nats-server`` processes clustered on 127.0.0.1, streams with 3 replicas. Input
(conftest): an STS meeting and an anchor drag simulated over real Solent AIS.

1. ``seawarden ingest --replicas 3`` is publishing when the reports stream's leader node is
   SIGKILLed. The stream must still hold exactly the release sequence ``<input>:0 … n-1``
   then the end marker: with pipelined publishing, some acks are lost in the election and
   the publisher must send again from the first unacknowledged message without letting a
   later one in first (the predecessor check) and without doubling one (the dedup id).
2. The killed node rejoins. Two workers (0/2, 1/2) and ``bus-dispatch`` are running when
   the node that leads the alert stream (and holds the workers' ephemeral consumers, which
   live on one node) is killed. The workers must re-create their consumers from their last
   sequence and re-send unacknowledged alerts; the dispatcher must wait for its durable
   consumer's new leader. The alerts on the bus and the outbox equal the reference's.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import nats
import orjson
import pytest

from seawarden.alerts.outbox import OutboxSink
from seawarden.alerts.subscriptions import load_subscriptions
from seawarden.bus.server import NatsCluster
from seawarden.bus.streams import ALERT_SUBJECTS, ALERTS, EOS_SUBJECT, REPORT_SUBJECTS, REPORTS
from seawarden.pipeline.replay import Replay
from seawarden.store.sqlite import SQLiteStore
from tests.bus.busread import read_stream
from tests.bus.test_kill import (
    SUBSCRIPTIONS,
    _alert_rows,
    _cli,
    _Collect,
    _config,
    _outbox,
    _pipeline_args,
    _summary,
    _tail,
)

pytestmark = pytest.mark.slow


def _stream(url: str, name: str) -> tuple[int, str | None]:
    """(messages, leader node) of a stream, or (0, None) while it does not exist/answer."""

    async def main() -> tuple[int, str | None]:
        nc = await nats.connect(url, max_reconnect_attempts=1)
        try:
            info = await nc.jetstream().stream_info(name)
            leader = info.cluster.leader if info.cluster else None
            return int(info.state.messages), leader
        except (nats.errors.Error, nats.js.errors.Error):
            return 0, None
        finally:
            await nc.close()

    return asyncio.run(main())


def _wait_for(what: str, cond: Any, timeout_s: float, procs: list[subprocess.Popen[bytes]]) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        got = cond()
        if got:
            return got
        for p in procs:
            assert p.poll() is None, f"{p.args[3:5]} ended before: {what}"
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _node_index(leader: str) -> int:
    assert leader.startswith("n"), leader
    return int(leader[1:])


def test_a_lost_node_under_ingest_workers_and_dispatch(tmp_path: Path, scenario_nmea: Path) -> None:
    config = _config()
    subs_file = tmp_path / "subscriptions.yaml"
    subs_file.write_text(SUBSCRIPTIONS)
    ref_db = tmp_path / "reference.db"
    ref_store = SQLiteStore(ref_db)
    collect = _Collect()
    reference = Replay(
        [scenario_nmea],
        config,
        alert_sinks=[collect, OutboxSink(ref_store, load_subscriptions(subs_file))],
    )
    reference.run()
    ref_store.close()
    expected = {(a.id, a.revision): orjson.loads(orjson.dumps(a.to_dict())) for a in collect.alerts}
    assert len(expected) >= 10

    env = {**os.environ, "SEAWARDEN_LOG_LEVEL": "WARNING"}
    procs: list[subprocess.Popen[bytes]] = []

    def spawn(name: str, *args: str | Path) -> subprocess.Popen[bytes]:
        with (tmp_path / f"{name}.out").open("wb") as out:
            proc = subprocess.Popen(_cli(*args), env=env, cwd=tmp_path, stdout=out, stderr=out)
        procs.append(proc)
        return proc

    with NatsCluster(3) as cluster:
        urls = cluster.urls
        try:
            # -- 1. the reports stream's leader dies while ingest publishes ----------------
            ingest = spawn(
                "ingest", "ingest", scenario_nmea, "--bus", urls, "--partitions", "2",
                "--replicas", "3",
            )  # fmt: skip
            probe = cluster.node(0).url
            _, leader = _wait_for(
                "ingest to publish 3,000 reports",
                lambda: (s := _stream(probe, REPORTS))[0] >= 3000 and s,
                120,
                [ingest],
            )
            assert ingest.poll() is None, "ingest finished before the node could be killed"
            lost = _node_index(leader)
            cluster.node(lost).kill()
            assert ingest.wait(timeout=180) == 0, _tail(tmp_path / "ingest.out")
            cluster.node(lost).start(timeout_s=60)  # rejoins and catches up

            alive = cluster.node((lost + 1) % 3).url
            msgs = read_stream(alive, REPORTS, list(REPORT_SUBJECTS))
            ids = [m.msg_id for m in msgs]
            last = ids[-1]
            assert last is not None
            assert last.endswith(":eos")
            input_id = last.rsplit(":", 1)[0]
            n = reference.stats.records
            # every report once, in release order, then the marker: nothing lost, doubled
            # or overtaken through the election
            assert ids == [f"{input_id}:{i}" for i in range(n)] + [f"{input_id}:eos"]
            assert msgs[-1].subject == EOS_SUBJECT
            assert orjson.loads(msgs[-1].data)["records"] == n

            # -- 2. the alert stream's leader dies under two workers and bus-dispatch -------
            disp_db = tmp_path / "dispatch.db"
            workers = []
            for p in (0, 1):
                workers.append(spawn(
                    f"worker{p}", "worker", "--bus", urls, "--partitions", f"{p}/2",
                    "--store", tmp_path / f"worker{p}.db", "--exit-on-eos",
                    "--checkpoint-every", "2000", *_pipeline_args(),
                ))  # fmt: skip
            dispatch = spawn(
                "dispatch", "bus-dispatch", "--bus", urls, "--store", disp_db,
                "--subscriptions", subs_file, "--idle-exit-s", "20",
            )  # fmt: skip
            _, leader = _wait_for(
                "the workers' first alerts",
                lambda: (s := _stream(alive, ALERTS))[0] >= 3 and s,
                180,
                [*workers, dispatch],
            )
            for w in workers:
                assert w.poll() is None, "a worker finished before the node could be killed"
            second = _node_index(leader)
            cluster.node(second).kill()
            for p, w in enumerate(workers):
                assert w.wait(timeout=300) == 0, _tail(tmp_path / f"worker{p}.out")
            assert dispatch.wait(timeout=300) == 0, _tail(tmp_path / "dispatch.out")
        finally:
            for p in procs:
                if p.poll() is None:
                    p.kill()
                    p.wait()

        survivor = cluster.node((second + 1) % 3).url
        got: dict[tuple[str, int], Any] = {}
        for m in read_stream(survivor, ALERTS, list(ALERT_SUBJECTS)):
            body = orjson.loads(m.data)
            key = (body["id"], body["revision"])
            assert key not in got, f"revision {key} on the bus twice"
            got[key] = body
        assert got == expected

    stats = [_summary(tmp_path / f"worker{p}.out") for p in (0, 1)]
    assert all(s["eos"] for s in stats)
    assert _outbox(disp_db) == _outbox(ref_db)
    assert _alert_rows(disp_db) == _alert_rows(ref_db)
    ingest_log = (tmp_path / "ingest.out").read_text()
    assert "Traceback" not in ingest_log
    print(f"\ningest: {ingest_log.strip().splitlines()[-1]}\nworkers: {stats}")
