"""Identifiers for targets that have no MMSI: dark vessels seen only by other sensors.

Every part of seawarden (fleet, risk, alerts, store, console) keys a vessel by an integer.
A radar track or satellite detection with no AIS partner still needs one, stable across a
replay, and it must never be mistaken for a real MMSI. MMSIs are at most nine digits, so
target ids live in ``1_000_000_000 .. 1_999_999_999``: visibly ten digits, positive (safe in
JSON, SQLite and JavaScript), and derived from a hash of what first saw the target.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

TARGET_ID_MIN = 1_000_000_000
TARGET_ID_MAX = 1_999_999_999


def target_id(sensor: str, key: str, start: datetime) -> int:
    """The id of a non-AIS target first seen by ``sensor`` as ``key`` (its track number or
    detection key) at ``start``. Deterministic: the same input gives the same id."""
    text = f"{sensor}|{key}|{start.isoformat()}".encode()
    h = int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "big")
    return TARGET_ID_MIN + h % (TARGET_ID_MAX - TARGET_ID_MIN + 1)


def is_target_id(n: int) -> bool:
    """True for a seawarden target id (a dark vessel), False for anything MMSI-shaped."""
    return TARGET_ID_MIN <= n <= TARGET_ID_MAX
