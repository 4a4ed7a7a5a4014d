"""Reading a whole stream back, for the assertions of the bus tests."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import nats
from nats.js.api import ConsumerConfig, DeliverPolicy


@dataclass(frozen=True, slots=True)
class Message:
    seq: int
    subject: str
    msg_id: str | None
    data: bytes


def read_stream(url: str, stream: str, subjects: list[str]) -> list[Message]:
    """Every message of ``stream``, in stream order."""

    async def main() -> list[Message]:
        nc = await nats.connect(url)
        try:
            js = nc.jetstream()
            total = (await js.stream_info(stream)).state.messages
            out: list[Message] = []
            if total == 0:
                return out
            sub = await js.subscribe(
                subjects[0],
                stream=stream,
                ordered_consumer=True,
                config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL, filter_subjects=subjects),
            )
            while len(out) < total:
                msg = await sub.next_msg(timeout=10)
                headers = msg.headers or {}
                out.append(
                    Message(
                        msg.metadata.sequence.stream,
                        msg.subject,
                        headers.get("Nats-Msg-Id"),
                        msg.data,
                    )
                )
            await sub.unsubscribe()
            return out
        finally:
            await nc.close()

    return asyncio.run(main())


def stream_messages(url: str, stream: str) -> int:
    """How many messages ``stream`` holds."""

    async def main() -> int:
        nc = await nats.connect(url)
        try:
            return int((await nc.jetstream().stream_info(stream)).state.messages)
        finally:
            await nc.close()

    return asyncio.run(main())
