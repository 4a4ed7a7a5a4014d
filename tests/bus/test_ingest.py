"""``ingest`` publishes exactly the records a single-process replay feeds the core, in order.

Real input: scenario vessels over real Solent AIS (conftest). The reference is a ``Replay``
with the full pipeline whose core records what it is given; the bus is a real nats-server.
"""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from seawarden.bus.codec import decode
from seawarden.bus.ingest import BusIngest, ingest
from seawarden.bus.server import NatsServer
from seawarden.bus.streams import EOS_SUBJECT, REPORT_SUBJECTS, REPORTS, report_subject
from seawarden.errors import ConfigError
from seawarden.model import Observation
from seawarden.pipeline.replay import Replay
from seawarden.pipeline.settings import RunConfig
from tests.bus.busread import read_stream, stream_messages
from tests.bus.conftest import PIPELINE_ARGS


def fed_to_core(inputs: list[Path], config: RunConfig) -> tuple[list[Observation], Replay]:
    """What a single-process replay hands to ``core.process``, in order."""
    run = Replay(inputs, config)
    seen: list[Observation] = []
    process = run.core.process

    def record(rec: Observation) -> list[object]:
        seen.append(rec)
        return list(process(rec))

    run.core.process = record  # type: ignore[method-assign,assignment]
    run.run()
    return seen, run


def test_ingest_publishes_what_replay_processes(
    nats_server: NatsServer, scenario_nmea: Path
) -> None:
    # What is fed does not depend on detectors (they are off to keep the test fast).
    full = RunConfig(
        areas=PIPELINE_ARGS["areas"], watchlists=(PIPELINE_ARGS["watchlist"],), detectors=None
    )
    expected, reference = fed_to_core([scenario_nmea], full)
    assert len(expected) > 20_000

    run = ingest([scenario_nmea], full, nats_server.url, partitions=3)
    assert run.stats.rejections == reference.stats.rejections  # same reading, same refusals
    assert run.stats.rejections["duplicate"] > 0  # the input has some: they are counted

    msgs = read_stream(nats_server.url, REPORTS, list(REPORT_SUBJECTS))
    *records, eos = msgs
    assert eos.subject == EOS_SUBJECT
    assert orjson.loads(eos.data)["records"] == len(expected)
    got = [decode(m.data) for m in records]
    assert got == expected  # field for field, in release order
    assert [m.subject for m in records] == [report_subject(r, 3) for r in expected]
    ids = [m.msg_id for m in records]
    assert len(set(ids)) == len(ids)
    assert ids[0] == f"{run.input_id}:0"

    # A second ingest of the same input (say after a crash) adds nothing: JetStream dedup.
    again = ingest([scenario_nmea], full, nats_server.url, partitions=3)
    assert again.input_id == run.input_id
    assert again.publisher.duplicates == again.publisher.published == len(expected)
    assert stream_messages(nats_server.url, REPORTS) == len(msgs)

    # Other options release other records: another input id, never mistaken for this one.
    assert BusIngest([scenario_nmea], full, None, partitions=3, sort=True)  # type: ignore[arg-type].input_id != run.input_id


def test_ingest_refuses_sensors_and_bad_partitions(tmp_path: Path, nats_server: NatsServer) -> None:
    empty = tmp_path / "empty.nmea"
    empty.write_bytes(b"")
    with pytest.raises(ConfigError, match="AIS reports only"):
        ingest([empty], RunConfig(sensors=tmp_path / "s.yaml"), nats_server.url, partitions=1)
    with pytest.raises(ConfigError, match="partitions"):
        ingest([empty], RunConfig(), nats_server.url, partitions=0)


def test_the_command_publishes_and_a_rerun_adds_nothing(nats_server: NatsServer) -> None:
    """``seawarden ingest`` on real NMEA with tag blocks (AISdb test data, Canadian waters)."""
    import subprocess
    import sys

    from tests.conftest import SHARED_DATA

    nm4 = SHARED_DATA / "nmea/aisdb/test_data_20211101.nm4"
    if not nm4.is_file():
        pytest.skip("needs ../shared/data (AISdb NMEA)")
    cmd = [sys.executable, "-c", "from seawarden.cli import main; main()", "ingest", str(nm4)]
    cmd += ["--bus", nats_server.url, "--partitions", "2"]
    outs = [subprocess.run(cmd, capture_output=True, text=True, timeout=60) for _ in range(2)]
    assert [o.returncode for o in outs] == [0, 0], outs[0].stderr
    assert "960 reports published (0 already on the bus)" in " ".join(outs[0].stderr.split())
    assert "(960 already on the bus)" in " ".join(outs[1].stderr.split())
    assert stream_messages(nats_server.url, REPORTS) == 961  # and one end marker
    missing = subprocess.run([*cmd[:4], "/nonexistent.nm4", *cmd[5:]], capture_output=True)
    assert missing.returncode == 1
    assert b"cannot read" in missing.stderr
    assert b"Traceback" not in missing.stderr


def test_unreachable_bus_is_a_clear_error(tmp_path: Path) -> None:
    from seawarden.bus.server import free_port
    from seawarden.errors import SourceError

    empty = tmp_path / "empty.nmea"
    empty.write_bytes(b"")
    with pytest.raises(SourceError, match="cannot connect"):
        ingest([empty], RunConfig(), f"nats://127.0.0.1:{free_port()}", partitions=1)
