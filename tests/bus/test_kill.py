"""Two workers on a real nats-server, one SIGKILLed mid-stream and replaced: the alerts on
the bus, and what bus-dispatch queues from them, equal a single-process replay's.

Input (conftest): an STS meeting (an encounter between two tankers) and an anchor drag over
real Solent AIS. The tankers are in different partitions of 2, so each worker sees its
tanker's partner only through the replicated context; partition 0 also owns the dragging
ship. A garbage message is published first: the workers must count and skip it. Worker 0/2
is killed after it has committed a checkpoint and published revisions past it, so its
replacement re-processes those records and re-publishes the same revisions, which the
stream's dedup must drop.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import nats
import orjson
import pytest

from seawarden.alerts.model import Alert
from seawarden.alerts.outbox import OutboxSink
from seawarden.alerts.subscriptions import load_subscriptions
from seawarden.bus.cli import Positions, worker_config
from seawarden.bus.ingest import ingest
from seawarden.bus.server import NatsServer
from seawarden.bus.streams import ALERT_SUBJECTS, ALERTS, ensure_streams
from seawarden.pipeline.partition import partition_of
from seawarden.pipeline.replay import Replay
from seawarden.store.sqlite import SQLiteStore
from tests.bus.busread import read_stream, stream_messages
from tests.bus.conftest import PIPELINE_ARGS

pytestmark = pytest.mark.slow

SUBSCRIPTIONS = """subscriptions:
  - id: gbr-watch
    recipient: UK watch officer
    nation: GBR
    cleared_for: REL GBR
    areas: all
    min_severity: info
    channels:
      - {kind: console}
"""


def _cli(*args: str | Path) -> list[str]:
    return [sys.executable, "-c", "from seawarden.cli import main; main()", *map(str, args)]


def _pipeline_args() -> list[str]:
    out: list[str] = []
    for name, path in PIPELINE_ARGS.items():
        out += [f"--{name}", str(path)]
    return out


def _config() -> Any:
    return worker_config(
        areas=PIPELINE_ARGS["areas"],
        watchlists=[PIPELINE_ARGS["watchlist"]],
        detectors=PIPELINE_ARGS["detectors"],
        no_detectors=False,
        risk=PIPELINE_ARGS["risk"],
        model=None,
        registry=[],
        positions=Positions.sampled,
    )


class _Collect:
    def __init__(self) -> None:
        self.alerts: list[Alert] = []

    def write(self, alerts: list[Alert]) -> None:
        self.alerts.extend(alerts)

    def close(self) -> None:
        pass


def _checkpoint(db: Path) -> dict[str, Any] | None:
    if not db.exists():
        return None
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        row = conn.execute("SELECT state FROM checkpoints WHERE key LIKE 'worker:%'").fetchone()
    except sqlite3.OperationalError:  # schema not created yet
        return None
    finally:
        conn.close()
    return None if row is None else dict(orjson.loads(row[0]))


def _outbox(db: Path) -> set[tuple[Any, ...]]:
    conn = sqlite3.connect(db)
    try:
        rows = conn.execute(
            "SELECT delivery_id, alert_id, revision, subscription_id, channel_index, status,"
            " payload FROM outbox"
        ).fetchall()
    finally:
        conn.close()
    return set(rows)


def _alert_rows(db: Path) -> set[tuple[Any, ...]]:
    conn = sqlite3.connect(db)
    try:
        return set(conn.execute("SELECT id, revision, body FROM alerts").fetchall())
    finally:
        conn.close()


def _revisions_of(url: str, *, partition: int) -> list[tuple[str, int]]:
    """The alert revisions on the bus of vessels in ``partition`` (of 2)."""
    if stream_messages(url, ALERTS) == 0:
        return []
    out = []
    for m in read_stream(url, ALERTS, list(ALERT_SUBJECTS)):
        body = orjson.loads(m.data)
        if partition_of(body["mmsi"], 2) == partition:
            out.append((body["id"], body["revision"]))
    return out


def _summary(path: Path) -> dict[str, Any]:
    """The JSON counters a worker prints last."""
    lines = [ln for ln in path.read_text().splitlines() if ln.startswith("{")]
    assert lines, _tail(path)
    return dict(orjson.loads(lines[-1]))


def _tail(path: Path) -> str:
    return path.read_text()[-3000:]


def _publish_garbage(url: str) -> None:
    """Create the streams and put an undecodable report first in SEAWARDEN_REPORTS."""

    async def main() -> None:
        nc = await nats.connect(url)
        js = nc.jetstream()
        await ensure_streams(js)
        await js.publish("sw.reports.0.garbage", b"\x00 not a report")
        await nc.close()

    asyncio.run(main())


def test_kill_a_worker_and_replace_it_same_alerts_as_one_process(
    tmp_path: Path, nats_server: NatsServer, scenario_nmea: Path
) -> None:
    config = _config()
    subs_file = tmp_path / "subscriptions.yaml"
    subs_file.write_text(SUBSCRIPTIONS)

    # -- the reference: one process, alerts collected and queued into an outbox -----------
    ref_db = tmp_path / "reference.db"
    ref_store = SQLiteStore(ref_db)
    collect = _Collect()
    Replay(
        [scenario_nmea],
        config,
        alert_sinks=[collect, OutboxSink(ref_store, load_subscriptions(subs_file))],
    ).run()
    ref_store.close()
    expected = {(a.id, a.revision): orjson.loads(orjson.dumps(a.to_dict())) for a in collect.alerts}
    assert len(expected) == len(collect.alerts) >= 10
    owners = {partition_of(a.mmsi, 2) for a in collect.alerts}
    owned1 = {a.mmsi for a in collect.alerts if partition_of(a.mmsi, 2) == 1}
    assert owners == {0, 1}, "both partitions must own alerted vessels"
    met = {partition_of(a.mmsi, 2) for a in collect.alerts if "encounter" in a.detectors}
    assert met == {0, 1}, "the encounter must be between vessels of both partitions"

    # -- the bus ---------------------------------------------------------------------------
    url = nats_server.url
    _publish_garbage(url)
    ingest([scenario_nmea], config, url, partitions=2)
    env = {**os.environ, "SEAWARDEN_LOG_LEVEL": "WARNING"}
    stores = {p: tmp_path / f"worker{p}.db" for p in (0, 1)}

    def start(p: int, tag: str, every: int) -> subprocess.Popen[bytes]:
        args = _cli(
            "worker", "--bus", url, "--partitions", f"{p}/2", "--store", stores[p],
            "--exit-on-eos", "--checkpoint-every", str(every), *_pipeline_args(),
        )  # fmt: skip
        with (tmp_path / f"worker{p}-{tag}.out").open("wb") as out:
            return subprocess.Popen(args, env=env, cwd=tmp_path, stdout=out, stderr=out)

    # Worker 0/2 checkpoints every 5000 messages; its alerts come from stream sequence
    # ~20,100 on (the encounter, then the anchor drag), so after its checkpoint at 20,000 it
    # publishes many revisions and no checkpoint before the end (24,412). It is killed once
    # 8 of its revisions are on the bus: the replacement restarts at 20,000 and must publish
    # those 8 again (dropped by dedup).
    first = {0: start(0, "first", 5000), 1: start(1, "first", 2000)}
    victim = first[0]
    procs = list(first.values())
    try:
        deadline = time.monotonic() + 150
        while len(_revisions_of(url, partition=0)) < 8:
            assert victim.poll() is None, "worker 0/2 ended before it could be killed"
            assert time.monotonic() < deadline, "worker 0/2 published too few alerts"
            time.sleep(0.1)
        assert victim.poll() is None, "worker 0/2 ended before it could be killed"
        victim.send_signal(signal.SIGKILL)
        assert victim.wait(timeout=10) == -signal.SIGKILL
        killed_at = _checkpoint(stores[0])
        assert killed_at is not None  # it had committed a checkpoint …
        assert not killed_at["eos"]  # … but not reached the end
        replacement = start(0, "replacement", 5000)
        procs.append(replacement)
        assert replacement.wait(timeout=180) == 0, _tail(tmp_path / "worker0-replacement.out")
        assert first[1].wait(timeout=180) == 0, _tail(tmp_path / "worker1-first.out")
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()

    stats0 = _summary(tmp_path / "worker0-replacement.out")
    stats1 = _summary(tmp_path / "worker1-first.out")
    assert stats1["bad_messages"] == 1  # the garbage: counted and skipped
    assert stats0["eos"]
    assert stats1["eos"]
    assert stats0["resumed_at"] == killed_at["seq"] > 0
    assert stats0["alerts_duplicate"] >= 8  # re-published after the restart, dropped
    assert stats1["alerts_published"] == sum(1 for a in collect.alerts if a.mmsi in owned1)

    # -- the alerts stream: each revision once, with the reference's content ---------------
    msgs = read_stream(url, ALERTS, list(ALERT_SUBJECTS))
    got: dict[tuple[str, int], Any] = {}
    for m in msgs:
        body = orjson.loads(m.data)
        key = (body["id"], body["revision"])
        assert key not in got, f"revision {key} on the bus twice"
        assert m.msg_id == f"{key[0]}:{key[1]}"
        assert m.subject == f"sw.alerts.{body['severity']}"
        got[key] = body
    assert got == expected

    # -- bus-dispatch queues exactly the reference's deliveries; a redelivery is a no-op --
    disp_db = tmp_path / "dispatch.db"
    for durable in ("seawarden-dispatch", "second-reader"):
        done = subprocess.run(
            _cli(
                "bus-dispatch",
                "--bus",
                url,
                "--store",
                disp_db,
                "--subscriptions",
                subs_file,
                "--idle-exit-s",
                "1.5",
                "--durable",
                durable,
            ),
            env=env,
            cwd=tmp_path,
            capture_output=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr.decode()
        summary = orjson.loads(done.stdout.decode().strip().splitlines()[-1])
        assert summary["revisions"] == len(expected)
        assert summary["bad_messages"] == 0
        assert _outbox(disp_db) == _outbox(ref_db)
        assert _alert_rows(disp_db) == _alert_rows(ref_db)
    # … and the existing `seawarden deliver` sends them (console channel) from that store.
    sent = subprocess.run(
        _cli("deliver", "--store", disp_db, "--subscriptions", subs_file, "--once"),
        env=env, cwd=tmp_path, capture_output=True, timeout=120,
    )  # fmt: skip
    assert sent.returncode == 0, sent.stderr.decode()
    statuses = {row[5] for row in _outbox(disp_db)}
    assert statuses == {"delivered"}
    print(f"\nreplacement 0: {stats0}\nworker 1: {stats1}")
