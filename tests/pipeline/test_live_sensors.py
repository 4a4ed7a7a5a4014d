"""Radar over the live inputs, on real loopback sockets.

* TTM sentences interleaved with AIS in one NMEA feed over TCP (the way a VTS or a gateway
  relays both): a live run must fuse exactly what a replay of the same lines fuses.
* ASTERIX cat 048 datagrams over UDP beside an AIS feed: the real sample recorded by
  Croatia Control and shipped with asterix-decoder, sent as the radar would send it.

The AIS is real (the Solent, 2016); the radar's TTM sentences are simulated from the ships'
truth (``sim/sensors.py``) because no real radar record of those waters is available.
"""

from __future__ import annotations

import asyncio
import socket
from dataclasses import replace
from pathlib import Path

import asterix
import pytest

from seawarden.fusion.sensors import load_sensors
from seawarden.pipeline.live import LiveRunner
from seawarden.pipeline.order import OrderConfig
from seawarden.pipeline.replay import Replay
from seawarden.pipeline.settings import RunConfig
from seawarden.pipeline.sinks import MemoryEventSink
from seawarden.sim.sensors import radar_scenario
from tests.conftest import REPO, SHARED_DATA

SOLENT = SHARED_DATA / "tracks/solent/SolentAIS_20160112_130211.csv"
SENSORS = REPO / "config/sensors.example.yaml"
ASTERIX_SAMPLE = Path(asterix.__file__).parent / "sample_data/cat048.raw"


def config() -> RunConfig:
    return RunConfig(
        areas=REPO / "config/areas.geojson",
        watchlists=(REPO / "config/watchlist.csv",),
        order=OrderConfig(lateness_s=60),
        sensors=SENSORS,
    )


@pytest.fixture(scope="module")
def feed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first 30 min of the Solent dark-spell scenario with the Calshot radar."""
    radar = load_sensors(SENSORS).get("vts-solent")
    assert radar is not None
    return radar_scenario(
        tmp_path_factory.mktemp("live-radar"), "dark_spell:region=solent",
        background=SOLENT, radar=radar, keep_s=30 * 60,
    ).feed  # fmt: skip


def test_radar_ttm_over_tcp_fuses_like_a_replay(feed: Path) -> None:
    replayed = MemoryEventSink()
    Replay([feed], config(), sinks=[replayed]).run()
    lines = feed.read_bytes().splitlines(keepends=True)

    async def scenario() -> LiveRunner:
        served = asyncio.Event()

        async def serve(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            if served.is_set():
                writer.close()
                return
            for i in range(0, len(lines), 500):
                writer.write(b"".join(lines[i : i + 500]))
                await writer.drain()
            writer.close()
            served.set()

        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        runner = LiveRunner(config(), sinks=[sink])
        stop = asyncio.Event()
        task = asyncio.create_task(runner.run_tcp("127.0.0.1", port, stop))
        await asyncio.wait_for(served.wait(), 60)
        for _ in range(600):  # until every line has been read off the socket
            if runner.lines >= len(lines):
                break
            await asyncio.sleep(0.05)
        stop.set()
        await asyncio.wait_for(task, 60)
        server.close()
        await server.wait_closed()
        return runner

    sink = MemoryEventSink()
    runner = asyncio.run(scenario())
    assert runner.core.counts["contacts"] > 10_000, (runner.core.counts, runner.rejections)
    live = [e for e in sink.events if e.kind == "fusion"]
    want = [e for e in replayed.events if e.kind == "fusion"]
    assert want, "the replay fused nothing"
    assert {e.attrs["type"] for e in want} >= {"confirmed"}
    assert [(e.id, e.phase) for e in live] == [(e.id, e.phase) for e in want]


def test_asterix_datagrams_over_udp_beside_an_ais_feed(tmp_path: Path) -> None:
    # The sample's radar is SAC 25 / SIC 201; its real site is not published with the data,
    # so it is placed at an illustrative site that puts the recorded target in range.
    sensors = tmp_path / "sensors.yaml"
    sensors.write_text(
        "sensors:\n"
        "  - {id: sample-radar, kind: radar, lat: 45.74, lon: 16.07, range_m: 500000,\n"
        "     asterix: {sac: 25, sic: 201}}\n"
    )
    cfg = replace(config(), sensors=sensors, areas=None)
    block = ASTERIX_SAMPLE.read_bytes()
    ports = []
    for _ in range(2):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.bind(("127.0.0.1", 0))
            ports.append(probe.getsockname()[1])

    async def scenario() -> LiveRunner:
        runner = LiveRunner(cfg)
        stop = asyncio.Event()
        ais = asyncio.create_task(runner.run_udp("127.0.0.1", ports[0], stop))
        radar = asyncio.create_task(runner.listen_asterix("127.0.0.1", ports[1], stop))
        await asyncio.sleep(0.3)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
            for _ in range(3):
                tx.sendto(block, ("127.0.0.1", ports[1]))
                tx.sendto(block[:5], ("127.0.0.1", ports[1]))  # a truncated datagram
        for _ in range(50):
            if runner.rejections.get("malformed", 0) >= 3:
                break
            await asyncio.sleep(0.05)
        stop.set()
        await asyncio.wait_for(asyncio.gather(ais, radar), 10)
        return runner

    runner = asyncio.run(scenario())
    # three copies of the same report: one contact, two duplicates; truncated ones counted
    assert runner.core.counts["contacts"] == 1
    assert runner.rejections["duplicate"] == 2
    assert runner.rejections["malformed"] == 3
