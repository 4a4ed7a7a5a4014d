"""Which vessels a partitioned worker owns.

A partitioned deployment (``seawarden worker`` on a bus, ``seawarden backfill --engine
dask``) splits the fleet by MMSI. Every worker still *reads* the whole ordered stream: the
vessel picture (fleet, who is near whom, who is heard where, which MMSI an IMO was last
heard on) is replicated, so cross-vessel findings — ship-to-ship meetings, coverage-aware
silence, MMSI swaps — are computed exactly as one process computes them. Only the owned
vessels get detectors, area events, risk, alerts and store writes. The union over a set of
partitions that covers ``range(count)`` equals a single-process run, event for event.
"""

from __future__ import annotations

from dataclasses import dataclass

from seawarden.errors import ConfigError

# Knuth's multiplicative hash: MMSIs are not uniform (a MID prefix, runs of consecutive
# numbers per operator), ``mmsi % n`` would load partitions unevenly.
_GOLDEN = 2654435761


def partition_of(mmsi: int, count: int) -> int:
    """The partition (0 … count-1) an MMSI (or fusion target id) belongs to; stable forever."""
    if count < 1:
        raise ValueError("count must be at least 1")
    return ((mmsi * _GOLDEN) & 0xFFFFFFFF) % count


@dataclass(frozen=True, slots=True)
class PartitionSpec:
    """Partitions ``mine`` of ``count``; written ``"0,2/4"`` (0 and 2 of 4) or ``"*/4"``."""

    mine: frozenset[int]
    count: int

    def __post_init__(self) -> None:
        if self.count < 1 or self.count > 4096:
            raise ConfigError("partition count must be 1 … 4096")
        if not self.mine or any(p < 0 or p >= self.count for p in self.mine):
            raise ConfigError(f"partitions must be in 0 … {self.count - 1}")

    @classmethod
    def parse(cls, text: str) -> PartitionSpec:
        mine_s, sep, count_s = text.strip().partition("/")
        try:
            count = int(count_s) if sep else 1
            if mine_s.strip() == "*":
                return cls(frozenset(range(count)), count)
            mine = frozenset(int(p) for p in mine_s.split(",") if p.strip())
        except ValueError:
            raise ConfigError(
                f"bad partitions {text!r}: write e.g. '0,1/4' (partitions 0 and 1 of 4) or '*/4'"
            ) from None
        return cls(mine, count)

    @property
    def everything(self) -> bool:
        return len(self.mine) == self.count

    def owns(self, mmsi: int) -> bool:
        return partition_of(mmsi, self.count) in self.mine

    def __str__(self) -> str:
        return f"{','.join(str(p) for p in sorted(self.mine))}/{self.count}"
