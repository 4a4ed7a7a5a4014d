"""Event-time clocks.

Windows, timeouts and clean-up run on a :class:`Clock`, never on ``time.time()``, so a
replay of recorded traffic behaves exactly as the live run that saw it. The pipeline
advances a :class:`ReplayClock` with each record's event time; a live source stamps
records without a tag-block time using :class:`SystemClock`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    """Wall-clock UTC, for stamping live input that carries no time of its own."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class ReplayClock:
    """A clock moved forward by the data; it never goes backwards."""

    __slots__ = ("_now",)

    def __init__(self, start: datetime = EPOCH) -> None:
        self._now = start

    def now(self) -> datetime:
        return self._now

    def advance(self, to: datetime) -> None:
        if to > self._now:
            self._now = to
