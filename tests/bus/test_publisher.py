"""The publisher's start on a stream whose newest message is gone (aged out by max age, or
deleted): the last sequence stays, the message does not. Ingest must still start (it looks
the tail up to resume a re-run) and publish after it, in order. Real nats-server."""

from __future__ import annotations

import asyncio

import nats
import pytest

from seawarden.bus.publish import BatchPublisher
from seawarden.bus.server import NatsServer
from seawarden.bus.streams import REPORTS, ensure_streams
from tests.bus.busread import read_stream

pytestmark = pytest.mark.slow


def test_ingest_starts_after_its_tail_message_was_deleted(nats_server: NatsServer) -> None:
    async def prepare() -> None:
        nc = await nats.connect(nats_server.url)
        js = nc.jetstream()
        await ensure_streams(js)
        ack = await js.publish("sw.reports.0.x", b"[]", headers={"Nats-Msg-Id": "old:0"})
        await js.delete_msg(REPORTS, ack.seq)
        await nc.close()

    asyncio.run(prepare())
    with BatchPublisher(nats_server.url, batch=5) as pub:
        for i in range(12):
            pub.add("sw.reports.0.x", b"[]", f"new:{i}")
    assert pub.published == 12
    assert pub.duplicates == 0
    ids = [m.msg_id for m in read_stream(nats_server.url, REPORTS, ["sw.reports.>"])]
    assert ids == [f"new:{i}" for i in range(12)]
