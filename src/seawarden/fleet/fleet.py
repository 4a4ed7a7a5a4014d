"""The fleet: every vessel currently heard, its merged identity and its watchlist match.

A coastal picture holds thousands of vessels at once and some 300,000 in a day worldwide;
each sends positions and, separately, who it is. The fleet keeps one
:class:`~seawarden.fleet.vessel.VesselState` per MMSI, merges static reports into it,
notices identity changes (a rename, a new callsign, an IMO reappearing under another MMSI
and flag — how sanctioned tankers "disappear"), keeps each vessel matched against the
watchlist through those changes, and forgets vessels unheard for ``state_ttl_s`` so
memory stays bounded. Everything runs on event time, so a replay rebuilds the same state;
``snapshot``/``restore`` let a run resume from the store.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import partial
from typing import Any, Final

from seawarden.errors import ConfigError
from seawarden.fleet.identity import PLACEHOLDER_IMOS, flag_of_mmsi, imo_valid
from seawarden.fleet.vessel import IdentityChange, VesselState
from seawarden.fleet.watchlist import Watchlist, WatchlistMatch
from seawarden.model import PositionReport, StaticReport

__all__ = ["Fleet", "FleetConfig"]

log = logging.getLogger(__name__)

SNAPSHOT_VERSION: Final = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class FleetConfig:
    """How much the fleet remembers.

    * ``track_window_s`` / ``track_window_n``: a vessel's track keeps positions no older
      than this many seconds before its newest one, and at most this many (default 30 min,
      32 positions). A vessel costs about 1.2 KB plus 0.3 KB per kept position.
    * ``state_ttl_s``: a vessel unheard this long (event time) is dropped by :meth:`Fleet.expire`
      (default 12 h, long enough to bridge an AIS gap while crossing a sea area).
    * ``identity_ttl_s``: how long an IMO remembers the MMSI it was last heard on, to notice
      it reappearing under another MMSI (default 7 days).
    * ``history_n``: identity changes kept per vessel (default 8).
    """

    track_window_s: float = 1800.0
    track_window_n: int = 32
    state_ttl_s: float = 12 * 3600.0
    identity_ttl_s: float = 7 * 86400.0
    history_n: int = 8

    def __post_init__(self) -> None:
        for name in ("track_window_s", "state_ttl_s", "identity_ttl_s"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"fleet config: {name} must be > 0 s, got {getattr(self, name)}")
        for name in ("track_window_n", "history_n"):
            if getattr(self, name) < 1:
                raise ConfigError(f"fleet config: {name} must be at least 1")


class Fleet:
    """All vessels by MMSI. Feed it records in (roughly) event-time order."""

    def __init__(
        self, config: FleetConfig | None = None, watchlist: Watchlist | None = None
    ) -> None:
        self.config = config or FleetConfig()
        self.watchlist = watchlist
        self.stats: Counter[str] = Counter()
        self._vessels: dict[int, VesselState] = {}
        # IMO -> (MMSI it was last heard on, when): how an MMSI swap is noticed.
        self._imo_index: dict[int, tuple[int, datetime]] = {}
        self._window = timedelta(seconds=self.config.track_window_s)
        self._born = 0  # VesselState.order of the next new vessel (dict order, as a number)

    def __len__(self) -> int:
        return len(self._vessels)

    def __iter__(self) -> Iterator[VesselState]:
        return iter(self._vessels.values())

    def __contains__(self, mmsi: object) -> bool:
        return mmsi in self._vessels

    def get(self, mmsi: int) -> VesselState | None:
        return self._vessels.get(mmsi)

    def _vessel(self, mmsi: int, time: datetime) -> VesselState:
        vessel = self._vessels.get(mmsi)
        if vessel is None:
            vessel = VesselState(mmsi, time, track_window_n=self.config.track_window_n)
            vessel.order = self._born
            self._born += 1
            self._vessels[mmsi] = vessel
            self.stats["vessels_created"] += 1
            self._rematch(vessel)  # the MMSI alone may be on the watchlist
        return vessel

    def on_position(self, report: PositionReport) -> VesselState:
        """Add a position to its vessel (created on first sight) and return the vessel."""
        vessel = self._vessel(report.mmsi, report.time)
        self.stats["positions"] += 1
        if not vessel.add_position(report, self._window):
            self.stats["positions_not_tracked"] += 1
        return vessel

    def on_static(self, report: StaticReport) -> list[IdentityChange]:
        """Merge a static report; return the identity changes it reveals (often none)."""
        self.stats["statics"] += 1
        vessel = self._vessel(report.mmsi, report.time)
        had = (vessel.imo, vessel.name)
        if report.imo is not None and (not imo_valid(report.imo) or report.imo in PLACEHOLDER_IMOS):
            # Transponders often carry 0, 1234567 or an LR number with a bad check digit.
            self.stats["imo_invalid"] += 1
            report = replace(report, imo=None)
        changes = [
            IdentityChange(
                mmsi=vessel.mmsi, time=report.time, field=f, old=old, new=new, source=report.source
            )
            for f, old, new in vessel.merge_static(report)
        ]
        if report.imo is not None and report.imo == vessel.imo:
            changes += self._note_imo(vessel, report.imo, report)
        if changes:
            self.stats["identity_changes"] += len(changes)
            keep = self.config.history_n
            vessel.changes = (*vessel.changes, *changes)[-keep:]
            log.info(
                "identity change",
                extra={"mmsi": vessel.mmsi, "changes": [(c.field, c.old, c.new) for c in changes]},
            )
        if changes or (vessel.imo, vessel.name) != had:
            self._rematch(vessel)
        return changes

    def _note_imo(
        self, vessel: VesselState, imo: int, report: StaticReport
    ) -> list[IdentityChange]:
        previous = self._imo_index.get(imo)
        if previous is not None and report.time < previous[1]:
            return []  # a late report must not swap the IMO back to where it was
        self._imo_index[imo] = (vessel.mmsi, report.time)
        if previous is None or previous[0] == vessel.mmsi:
            return []
        old_mmsi, heard = previous
        if report.time - heard > timedelta(seconds=self.config.identity_ttl_s):
            return []
        change = partial(IdentityChange, mmsi=vessel.mmsi, time=report.time, source=report.source)
        changes = [change(field="mmsi", old=old_mmsi, new=vessel.mmsi)]
        old_flag, new_flag = flag_of_mmsi(old_mmsi), flag_of_mmsi(vessel.mmsi)
        old_code = old_flag.alpha2 if old_flag else None
        new_code = new_flag.alpha2 if new_flag else None
        if old_code != new_code:
            changes.append(change(field="flag", old=old_code, new=new_code))
        # The same hull under a new MMSI keeps what the watchlist knew about it.
        old_vessel = self._vessels.get(old_mmsi)
        if old_vessel is not None and old_vessel.watch is not None and vessel.watch is None:
            vessel.watch = old_vessel.watch
        return changes

    def _rematch(self, vessel: VesselState) -> None:
        if self.watchlist is None:
            return
        found = self.watchlist.match(
            imo=vessel.imo, mmsi=vessel.mmsi, name=vessel.name, flag=vessel.flag
        )
        # Sticky: a vessel once identified stays so after renaming or reflagging, unless a
        # stronger key now points at another entry.
        if found is not None and (vessel.watch is None or _stronger_or_equal(found, vessel.watch)):
            if vessel.watch is None or vessel.watch.entry.key != found.entry.key:
                self.stats["watchlist_matches"] += 1
                log.info(
                    "watchlist match",
                    extra={"mmsi": vessel.mmsi, "entry": found.entry.key, "key": found.key},
                )
            vessel.watch = found

    def expire(self, now: datetime) -> int:
        """Drop vessels unheard for ``state_ttl_s`` and stale IMO links; return vessels dropped."""
        cutoff = now - timedelta(seconds=self.config.state_ttl_s)
        stale = [m for m, v in self._vessels.items() if v.last_seen < cutoff]
        for mmsi in stale:
            del self._vessels[mmsi]
        id_cutoff = now - timedelta(seconds=self.config.identity_ttl_s)
        for imo in [i for i, (_, t) in self._imo_index.items() if t < id_cutoff]:
            del self._imo_index[imo]
        self.stats["vessels_expired"] += len(stale)
        return len(stale)

    def snapshot(self) -> dict[str, Any]:
        """All state as plain JSON types, for ``--resume`` from the store."""
        return {
            "version": SNAPSHOT_VERSION,
            "vessels": [v.to_dict() for v in self._vessels.values()],
            "imo_index": [[i, m, t.isoformat()] for i, (m, t) in self._imo_index.items()],
            "stats": dict(self.stats),
        }

    def restore(self, data: dict[str, Any]) -> None:
        """Replace the state with a :meth:`snapshot`; matches are re-resolved by entry key."""
        if data.get("version") != SNAPSHOT_VERSION:
            raise ConfigError(
                f"fleet snapshot version {data.get('version')!r} is not {SNAPSHOT_VERSION}; "
                "start without --resume to rebuild state from input"
            )
        self._vessels.clear()
        n = self.config.track_window_n
        for row in data["vessels"]:
            vessel = VesselState.from_dict(row, track_window_n=n)
            vessel.watch = self._restore_match(row.get("watch"))
            self._rematch(vessel)
            vessel.order = self._born
            self._born += 1
            self._vessels[vessel.mmsi] = vessel
        self._imo_index = {
            int(i): (int(m), datetime.fromisoformat(t)) for i, m, t in data["imo_index"]
        }
        self.stats = Counter(data.get("stats", {}))

    def _restore_match(self, saved: dict[str, Any] | None) -> WatchlistMatch | None:
        if saved is None or self.watchlist is None:
            return None
        entry = self.watchlist.get(saved["entry"])
        if entry is None:  # the watchlist changed since the snapshot
            return None
        return WatchlistMatch(entry, saved["key"], float(saved["score"]), saved["detail"])


_KEY_RANK: Final = {"name": 0, "mmsi": 1, "imo": 2}


def _stronger_or_equal(new: WatchlistMatch, old: WatchlistMatch) -> bool:
    return (_KEY_RANK[new.key], new.score) >= (_KEY_RANK[old.key], old.score)
