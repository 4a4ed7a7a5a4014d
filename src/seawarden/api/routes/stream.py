"""Live push over Server-Sent Events: positions, alert revisions, area events, heartbeats.

Read it with ``fetch()`` and the ``Authorization`` header (a browser's ``EventSource``
cannot send one, and tokens never go in URLs). A client that cannot keep up is dropped
by the hub (:mod:`seawarden.api.hub`); if it stops reading altogether, the write that is
stuck on its socket is abandoned and the connection closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from seawarden.api.auth import ANY_ROLE, require
from seawarden.api.deps import Settings
from seawarden.api.hub import Hub, StreamClient, heartbeat
from seawarden.api.principal import Principal
from seawarden.api.schemas import ErrorBody

log = logging.getLogger("seawarden.api.stream")
router = APIRouter(tags=["stream"])

STREAM_DOC = """\
`text/event-stream`. Frames `event: position | alert | area_event | heartbeat` with one
`data:` line of JSON each (see docs/api.md). An ally receives only `alert` frames it may
read. A heartbeat comes first and then every 15 s. A client that reads too slowly is
disconnected; reconnect and re-read `GET /api/alerts`.
"""


def hub_of(request: Request) -> Hub:
    hub = getattr(request.app.state, "hub", None)
    if not isinstance(hub, Hub):
        raise RuntimeError("app.state.hub is missing; build the app with create_app")
    return hub


class EventStreamResponse(Response):
    """Streams a :class:`StreamClient`'s frames until it closes or the peer goes away."""

    media_type = "text/event-stream"

    def __init__(self, hub: Hub, client: StreamClient, heartbeat_s: float) -> None:
        super().__init__(
            status_code=200,
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
            media_type=self.media_type,
        )
        # an endless body: no Content-Length (h11 then sends it chunked)
        self.raw_headers = [(k, v) for k, v in self.raw_headers if k != b"content-length"]
        self.hub = hub
        self.client = client
        self.heartbeat_s = heartbeat_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        client = self.client

        async def watch_disconnect() -> None:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    client.close()
                    return

        watcher = asyncio.create_task(watch_disconnect())
        try:
            await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
            if not await self._send(send, heartbeat()):
                return
            last_beat = time.monotonic()
            while not client.closed:
                wait = max(0.05, self.heartbeat_s - (time.monotonic() - last_beat))
                frames = await client.take(wait)
                if client.closed:
                    break
                if time.monotonic() - last_beat >= self.heartbeat_s:
                    frames.append(heartbeat())
                    last_beat = time.monotonic()
                if frames and not await self._send(send, b"".join(frames)):
                    return  # abandoned mid-write: uvicorn closes the connection
            if client.dropped:
                log.warning("stream client %s dropped: it read too slowly", client.principal.name)
            with contextlib.suppress(OSError):
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
            self.hub.disconnect(client)

    async def _send(self, send: Send, body: bytes) -> bool:
        """Write ``body``; False if the client was closed (dropped) while the write waited."""
        message: Message = {"type": "http.response.body", "body": body, "more_body": True}
        writing = asyncio.ensure_future(send(message))
        closing = asyncio.ensure_future(self.client.wait_closed())
        try:
            done, _ = await asyncio.wait({writing, closing}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            closing.cancel()
        if writing in done:
            writing.result()
            return True
        writing.cancel()
        with contextlib.suppress(asyncio.CancelledError, OSError):
            await writing
        if self.client.dropped:
            log.warning("stream client %s dropped: its socket stopped", self.client.principal.name)
        return False


@router.get(
    "/stream",
    summary="Live push: positions, alert revisions, area events (Server-Sent Events)",
    description=STREAM_DOC,
    response_class=EventStreamResponse,
    status_code=200,
    responses={
        200: {"content": {"text/event-stream": {"schema": {"type": "string"}}}},
        401: {"model": ErrorBody, "description": "no valid token"},
    },
)
async def stream(
    request: Request,
    principal: Annotated[Principal, Depends(require(*ANY_ROLE))],
    settings: Settings,
) -> EventStreamResponse:
    hub = hub_of(request)
    client = hub.connect(principal, asyncio.get_running_loop())
    return EventStreamResponse(hub, client, settings.heartbeat_s)
