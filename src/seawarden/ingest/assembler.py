"""Reassemble multi-part AIS messages (type 5, 19, 24 …) from their NMEA fragments.

A long AIS payload travels as several ``!AIVDM,n,k,seq,…`` sentences that receivers
interleave across channels and stations; NMEA 4 tag blocks may group them with
``g:k-n-id`` instead. Fragments get lost on the radio link, so a buffer that waits for
the rest forever leaks memory. This assembler keys fragments by (group or sequence id,
channel, station), completes a message when all parts are in, and evicts incomplete
groups when they are older than ``timeout_s`` in *event* time or when more than
``max_pending`` groups wait, returning each evicted fragment so it is counted, not lost.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Generic, TypeVar

T = TypeVar("T")

GroupKey = tuple[str | int | None, ...]


@dataclass(slots=True)
class _Pending(Generic[T]):
    total: int
    first_time: datetime
    parts: dict[int, T] = field(default_factory=dict)


@dataclass(slots=True)
class AssemblyResult(Generic[T]):
    """What one fragment produced: a completed message and/or fragments thrown away."""

    complete: list[T] | None = None
    evicted: list[tuple[str, T]] = field(default_factory=list)  # (reason, fragment)


class FragmentAssembler(Generic[T]):
    """Collect fragments until a message is complete; bounded in time and memory."""

    def __init__(self, *, timeout_s: float = 30.0, max_pending: int = 10_000) -> None:
        self.timeout_s = timeout_s
        self.max_pending = max_pending
        self._pending: OrderedDict[GroupKey, _Pending[T]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._pending)

    def add(
        self, key: GroupKey, part_no: int, total: int, time: datetime, fragment: T
    ) -> AssemblyResult[T]:
        result: AssemblyResult[T] = AssemblyResult()
        pending = self._pending.get(key)
        if pending is not None and (pending.total != total or part_no in pending.parts):
            # Same key, but this fragment cannot belong to the waiting group: the sender
            # reused the sequence id, so the old group will never complete.
            reason = "duplicate_fragment" if part_no in pending.parts else "bad_fragment"
            del self._pending[key]
            result.evicted.extend((reason, f) for f in pending.parts.values())
            pending = None
        if pending is None:
            pending = _Pending(total=total, first_time=time)
            self._pending[key] = pending
        pending.parts[part_no] = fragment
        if len(pending.parts) == total:
            del self._pending[key]
            result.complete = [pending.parts[i] for i in sorted(pending.parts)]
        result.evicted.extend(self.expire(time))
        return result

    def expire(self, now: datetime) -> list[tuple[str, T]]:
        """Evict groups older than the timeout, and the oldest beyond ``max_pending``."""
        evicted: list[tuple[str, T]] = []
        while self._pending:
            key, oldest = next(iter(self._pending.items()))
            timed_out = (now - oldest.first_time).total_seconds() > self.timeout_s
            if not timed_out and len(self._pending) <= self.max_pending:
                break
            del self._pending[key]
            reason = "fragment_timeout" if timed_out else "fragment_overflow"
            evicted.extend((reason, f) for f in oldest.parts.values())
        return evicted

    def min_fragment(self, key: Callable[[T], int]) -> int | None:
        """The smallest ``key(fragment)`` over waiting fragments (e.g. their line numbers)."""
        return min((key(f) for p in self._pending.values() for f in p.parts.values()), default=None)

    def drain(self) -> list[tuple[str, T]]:
        """End of input: every fragment still waiting is incomplete."""
        evicted = [
            ("fragment_timeout", f) for p in self._pending.values() for f in p.parts.values()
        ]
        self._pending.clear()
        return evicted
