"""Opaque page positions for allies, kept on the server.

A staff cursor is the sort key ``<time>~<id>`` of the last alert on the page; staff have
seen that alert. An ally's page, though, may end on an alert the ally was *not* shown (the
scan budget ran out among hidden rows), and handing back that row's key would leak the id
and time of an alert not releasable to it. So allies get a random handle instead, bound to
their token and mapped here to the position. Handles live in memory, bounded in number and
age: after a restart or an hour an old handle is refused and the client starts again.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict

PREFIX = "~s."  # fits queries.CURSOR_PATTERN; real alert ids are hex, never start with "s"


class OpaqueCursors:
    def __init__(self, *, max_entries: int = 10_000, ttl_s: float = 3600.0) -> None:
        self.max_entries = max_entries
        self.ttl_s = ttl_s
        self._lock = threading.Lock()
        self._pos: OrderedDict[str, tuple[str, float, tuple[str, str]]] = OrderedDict()

    @staticmethod
    def is_handle(cursor: str) -> bool:
        return cursor.startswith(PREFIX)

    def issue(self, owner: str, pos: tuple[str, str]) -> str:
        handle = secrets.token_hex(16)
        now = time.monotonic()
        with self._lock:
            self._pos[handle] = (owner, now + self.ttl_s, pos)
            while len(self._pos) > self.max_entries:
                self._pos.popitem(last=False)
        return PREFIX + handle

    def resolve(self, owner: str, cursor: str) -> tuple[str, str] | None:
        """The position behind a handle issued to ``owner``; ``None`` if unknown or expired."""
        handle = cursor[len(PREFIX) :]
        with self._lock:
            entry = self._pos.get(handle)
            if entry is None or entry[0] != owner or entry[1] < time.monotonic():
                return None
            return entry[2]


__all__ = ["PREFIX", "OpaqueCursors"]
