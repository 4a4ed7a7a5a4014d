"""Put records from many receivers into one deterministic event-time order.

Feeds arrive out of order (several receivers, network buffering, satellite latency) and
repeat themselves (the same transmission heard by several stations). Detectors need each
vessel's reports in time order, and a replay must behave exactly like the live run. The
:class:`EventTimeOrderer` holds records for ``lateness_s`` of event time, releases them
sorted by a canonical key (time, then content, then source), drops records that arrive
after their slot was released (``too_late``) and repeats of the same report heard within
``dedup_window_s`` (``duplicate``) — both counted as rejections, never silently.

Because release order depends only on the records and not on their arrival order, any
shuffle of the input that keeps every record within the lateness bound yields the same
output, and the last released key is a precise resume point (see ``pipeline.replay``).
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from typing import Any

from seawarden.model import Contact, Observation, PositionReport, Rejection, SensorPass

SortKey = tuple[float, int, int, str, str, int]


def content_key(rec: Observation) -> tuple[Any, ...]:
    """What makes two reports "the same report", whoever heard it and whenever."""
    if isinstance(rec, Contact):
        # The same radar sentence relayed by two feeds is one contact; the time is part of
        # the key, since a stationary target reported unchanged by consecutive scans is not
        # a repeat (AIS repeats are judged by content alone: a ship re-sends its position).
        return (
            -1,
            2,
            rec.time.timestamp(),
            rec.sensor,
            rec.track,
            rec.pass_id,
            rec.lat,
            rec.lon,
            rec.speed_kn,
            rec.course_deg,
            rec.length_m,
            rec.status,
        )
    if isinstance(rec, SensorPass):
        return (-1, 3, rec.sensor, rec.pass_id, rec.start.timestamp(), rec.end.timestamp())
    if isinstance(rec, PositionReport):
        return (
            rec.mmsi,
            0,
            rec.lat,
            rec.lon,
            rec.speed_kn,
            rec.course_deg,
            rec.heading_deg,
            rec.nav_status,
            rec.msg_type,
        )
    return (
        rec.mmsi,
        1,
        rec.msg_type,
        rec.imo,
        rec.name,
        rec.callsign,
        rec.ship_type,
        rec.length_m,
        rec.beam_m,
        rec.draught_m,
        rec.destination,
    )


_RANK = {PositionReport: 0, Contact: 2, SensorPass: 3}
# Sorts after every MMSI and fusion target id (< 2e9): within one instant, AIS first, then
# contacts, then satellite passes.
_SENSOR_SLOT = 2**31


def sort_key(rec: Observation) -> SortKey:
    if isinstance(rec, Contact | SensorPass):
        return (
            rec.time.timestamp(),
            _SENSOR_SLOT,
            _RANK[type(rec)],
            repr(content_key(rec)),
            rec.source,
            rec.line_no,
        )
    return (
        rec.time.timestamp(),
        rec.mmsi,
        0 if isinstance(rec, PositionReport) else 1,
        repr(content_key(rec)),
        rec.source,
        rec.line_no,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderConfig:
    """``lateness_s``: how far behind the newest record a record may arrive and still be
    placed in order. ``dedup_window_s``: repeats of the same report within this span are
    one report (multi-receiver reception); 0 disables dedup."""

    lateness_s: float = 60.0
    dedup_window_s: float = 3.0

    def __post_init__(self) -> None:
        if self.lateness_s < 0 or self.dedup_window_s < 0:
            raise ValueError("lateness_s and dedup_window_s must be >= 0")


class EventTimeOrderer:
    """A bounded reorder buffer with dedup; see the module docstring."""

    def __init__(self, config: OrderConfig | None = None) -> None:
        self.config = config or OrderConfig()
        # (key, record, origin): origin is opaque to the orderer (the runner stores where the
        # record was read, to know how far back to re-read on resume).
        # ``seq`` only breaks exact-key ties (the same report read twice), which dedup drops.
        self._heap: list[tuple[SortKey, int, Observation, Any]] = []
        self._seq = 0
        self._max_time: float = float("-inf")
        self.last_key: SortKey | None = None
        self._seen: dict[tuple[Any, ...], float] = {}
        self._seen_sweep_at = 0.0

    def __len__(self) -> int:
        return len(self._heap)

    def buffered(self) -> list[Any]:
        """Origins of the records still held back."""
        return [origin for _, _, _, origin in self._heap]

    def push(self, rec: Observation, origin: Any = None) -> list[Observation | Rejection]:
        key = sort_key(rec)
        if self.last_key is not None and key <= self.last_key:
            return [_reject(rec, "too_late", f"{rec.time.isoformat()} after release point")]
        self._seq += 1
        heapq.heappush(self._heap, (key, self._seq, rec, origin))
        if key[0] > self._max_time:
            self._max_time = key[0]
        return self._release(self._max_time - self.config.lateness_s)

    def release_until(self, time: float) -> list[Observation | Rejection]:
        """Release what is older than ``time - lateness_s`` even if no newer record came
        (a live feed that falls quiet must not hold its last reports forever)."""
        return self._release(time - self.config.lateness_s)

    def flush(self) -> list[Observation | Rejection]:
        return self._release(float("inf"))

    def _release(self, watermark: float) -> list[Observation | Rejection]:
        out: list[Observation | Rejection] = []
        heap = self._heap
        # Strictly below the watermark: a record exactly ``lateness_s`` behind may still come.
        while heap and heap[0][0][0] < watermark:
            key, _, rec, _ = heapq.heappop(heap)
            self.last_key = key
            out.append(self._dedup(rec, key[0]))
        return out

    def _dedup(self, rec: Observation, t: float) -> Observation | Rejection:
        window = self.config.dedup_window_s
        if window <= 0:
            return rec
        ckey = content_key(rec)
        seen_at = self._seen.get(ckey)
        self._seen[ckey] = t if seen_at is None or t - seen_at > window else seen_at
        if t - self._seen_sweep_at > 10 * window:
            # Forget keys that can no longer match, so memory stays bounded.
            self._seen = {k: v for k, v in self._seen.items() if t - v <= window}
            self._seen_sweep_at = t
        if seen_at is not None and t - seen_at <= window:
            return _reject(rec, "duplicate", f"same report within {window:g} s")
        return rec

    # -- checkpointing ---------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        return {
            "last_key": list(self.last_key) if self.last_key else None,
            "max_time": self._max_time if self._max_time != float("-inf") else None,
            "seen": [[list(k), v] for k, v in self._seen.items()],
            "seen_sweep_at": self._seen_sweep_at,
        }

    def restore(self, snap: dict[str, Any]) -> None:
        lk = snap.get("last_key")
        self.last_key = tuple(lk) if lk else None
        mt = snap.get("max_time")
        self._max_time = float("-inf") if mt is None else float(mt)
        self._seen = {tuple(k): float(v) for k, v in snap.get("seen", [])}
        self._seen_sweep_at = float(snap.get("seen_sweep_at", 0.0))


def _reject(rec: Observation, reason: str, detail: str) -> Rejection:
    if isinstance(rec, Contact):
        what = f"contact {rec.sensor}/{rec.track or rec.pass_id or '-'}"
    elif isinstance(rec, SensorPass):
        what = f"pass {rec.sensor}/{rec.pass_id}"
    else:
        kind = "position" if isinstance(rec, PositionReport) else "static"
        what = f"{kind} mmsi={rec.mmsi}"
    return Rejection(
        reason=reason, source=rec.source, line_no=rec.line_no, detail=f"{what} {detail}"
    )
