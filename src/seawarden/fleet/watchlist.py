"""The watchlist: vessels of interest and how a live vessel is recognised as one of them.

Ships suspected of damaging undersea cables (EAGLE S, FITBURG …) and the "shadow fleet"
behind them change names, flags and MMSIs far more often than their hull changes: the one
stable identity is the seven-digit IMO number. So a vessel is matched to a registry entry
by IMO first, then by MMSI (current or any legacy one), and only then, weakly, by a fuzzy
name (current or former) with the flag agreeing or not. Public lists arrive in several
formats (our own CSV, the Ukrainian GUR list, an IMO-keyed sanctions table); they are
loaded by :mod:`seawarden.fleet.watchlist_io` and merged here by IMO.

>>> wl = Watchlist([WatchlistEntry(imo=9329760, mmsis=(518998865,), name="EAGLE S")])
>>> m = wl.match(name="Eagle-S.")
>>> (m.key, m.score) if m else None
('name', 1.0)
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal, TypeVar

from rapidfuzz import fuzz, process

from seawarden.errors import ConfigError
from seawarden.fleet.identity import imo_valid

__all__ = ["MatchKey", "Watchlist", "WatchlistEntry", "WatchlistMatch", "normalise_name"]

log = logging.getLogger(__name__)

MatchKey = Literal["imo", "mmsi", "name"]
_T = TypeVar("_T")

DEFAULT_NAME_THRESHOLD = 0.92
DEFAULT_MIN_NAME_CHARS = 6
FLAG_BONUS = 0.05
FLAG_PENALTY = 0.15
LEGACY_MMSI_SCORE = 0.9
IMO_CONFLICT_MMSI_SCORE = 0.6


@dataclass(frozen=True, slots=True, kw_only=True)
class WatchlistEntry:
    """One vessel of interest.

    ``mmsis`` lists every known MMSI, the current one first; those in ``legacy_mmsis``
    were used before (the GUR list often knows only a legacy one). ``flag`` is ISO alpha-2.
    ``lists`` names the registries it is on: ``gur``, ``gur-delisted``, ``ofac``, ``uk``,
    ``eu``, ``local``. ``source`` is where it came from (file:line, joined by ``;``).
    """

    imo: int | None = None
    mmsis: tuple[int, ...] = ()
    legacy_mmsis: tuple[int, ...] = ()
    name: str = ""
    former_names: tuple[str, ...] = ()
    flag: str | None = None
    source: str = ""
    reason: str = ""
    lists: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        """A stable identifier within a watchlist: ``imo:…``, else ``mmsi:…``, else name."""
        if self.imo is not None:
            return f"imo:{self.imo}"
        if self.mmsis:
            return f"mmsi:{self.mmsis[0]}"
        return f"name:{normalise_name(self.name)}"

    def combine(self, other: WatchlistEntry) -> WatchlistEntry:
        """The union of two entries for the same vessel; ``self`` wins on single values."""
        name = self.name or other.name
        mmsis = _unique((*self.mmsis, *other.mmsis))
        current = {m for e in (self, other) for m in e.mmsis if m not in e.legacy_mmsis}
        former = _unique((*self.former_names, other.name, *other.former_names))
        return replace(
            self,
            imo=self.imo if self.imo is not None else other.imo,
            mmsis=mmsis,
            legacy_mmsis=tuple(m for m in mmsis if m not in current),
            name=name,
            former_names=tuple(
                n for n in former if n and normalise_name(n) != normalise_name(name)
            ),
            flag=self.flag or other.flag,
            source=";".join(_unique((*self.source.split(";"), *other.source.split(";")))),
            reason="; ".join(_unique((*self.reason.split("; "), *other.reason.split("; ")))),
            lists=tuple(sorted(set(self.lists) | set(other.lists))),
        )


@dataclass(frozen=True, slots=True)
class WatchlistMatch:
    """Why a vessel is taken to be a watchlist entry: by which key, how sure (0..1), how."""

    entry: WatchlistEntry
    key: MatchKey
    score: float
    detail: str


_NON_ALNUM = re.compile(r"[^0-9A-Z\u0400-\u04FF]+")


def normalise_name(name: str) -> str:
    """Upper case, accents and punctuation removed, blanks collapsed: 'Eagle-S.' -> 'EAGLE S'."""
    flat = unicodedata.normalize("NFKD", name)
    flat = "".join(c for c in flat if not unicodedata.combining(c)).upper()
    return " ".join(_NON_ALNUM.sub(" ", flat).split())


_DIGITS = re.compile(r"\d+")
_ROMAN = frozenset(
    ["I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII", "XIII", "XIV"]
)


def _hull_numbers(norm: str) -> tuple[str, ...]:
    """The numbers in a name ('YI PENG 3' -> ('3',), 'OCEANIC II' -> ('II',))."""
    return (*_DIGITS.findall(norm), *(w for w in norm.split() if w in _ROMAN))


def _unique(items: Iterable[_T]) -> tuple[_T, ...]:
    return tuple(dict.fromkeys(i for i in items if i))


@dataclass(slots=True)
class _NameIndex:
    """Normalised names bucketed by length, so a query only scores plausible candidates."""

    names: list[str] = field(default_factory=list)
    owners: list[str] = field(default_factory=list)  # entry key per name
    former: list[bool] = field(default_factory=list)
    exact: dict[str, list[int]] = field(default_factory=dict)
    by_len: dict[int, list[int]] = field(default_factory=dict)

    def add(self, name: str, owner: str, *, former: bool) -> None:
        norm = normalise_name(name)
        if not norm:
            return
        i = len(self.names)
        self.names.append(norm)
        self.owners.append(owner)
        self.former.append(former)
        self.exact.setdefault(norm, []).append(i)
        self.by_len.setdefault(len(norm), []).append(i)

    def candidates(self, query: str, threshold: float) -> list[int]:
        # fuzz.ratio = 2*matches/(len_a+len_b) <= 2*min/(len_a+len_b): lengths too far apart
        # can never reach the threshold, so they are not scored at all.
        n = len(query)
        lo = int(n * threshold / (2 - threshold))
        hi = int(n * (2 - threshold) / threshold) + 1
        return [i for length in range(lo, hi + 1) for i in self.by_len.get(length, ())]


class Watchlist:
    """Vessels of interest, indexed by IMO, MMSI and name.

    ``name_threshold`` (0..1) is the least fuzzy-name score accepted after the flag
    adjustment; names shorter than ``min_name_chars`` letters/digits never match by name.
    ``rejected`` and ``repaired`` count rows dropped and fields cleaned while loading.
    """

    def __init__(
        self,
        entries: Iterable[WatchlistEntry] = (),
        *,
        name_threshold: float = DEFAULT_NAME_THRESHOLD,
        min_name_chars: int = DEFAULT_MIN_NAME_CHARS,
    ) -> None:
        if not 0.5 <= name_threshold <= 1.0:
            raise ConfigError(f"name_threshold must be within 0.5..1.0, got {name_threshold}")
        if min_name_chars < 1:
            raise ConfigError(f"min_name_chars must be at least 1, got {min_name_chars}")
        self.name_threshold = name_threshold
        self.min_name_chars = min_name_chars
        self.rejected: Counter[str] = Counter()
        self.repaired: Counter[str] = Counter()
        self._entries: dict[str, WatchlistEntry] = {}
        for entry in entries:
            self._add(entry)
        self._reindex()

    @classmethod
    def load(
        cls,
        path: str | Path,
        *,
        name_threshold: float = DEFAULT_NAME_THRESHOLD,
        min_name_chars: int = DEFAULT_MIN_NAME_CHARS,
    ) -> Watchlist:
        """Read one watchlist file, detecting its format from the header.

        Raises :class:`ConfigError` for a missing file or an unknown header; bad rows are
        counted in ``rejected`` (by reason) and logged, never raised.
        """
        from seawarden.fleet.watchlist_io import read_watchlist

        entries, rejected, repaired = read_watchlist(Path(path))
        wl = cls(entries, name_threshold=name_threshold, min_name_chars=min_name_chars)
        wl.rejected.update(rejected)
        wl.repaired.update(repaired)
        return wl

    def merge(self, other: Watchlist) -> Watchlist:
        """A new watchlist with both sets of entries, combined by IMO (then by first MMSI)."""
        merged = Watchlist(
            self._entries.values(),
            name_threshold=self.name_threshold,
            min_name_chars=self.min_name_chars,
        )
        for entry in other._entries.values():
            merged._add(entry)
        merged._reindex()
        merged.rejected = self.rejected + other.rejected
        merged.repaired = self.repaired + other.repaired
        return merged

    def _add(self, entry: WatchlistEntry) -> None:
        existing = self._entries.get(entry.key)
        self._entries[entry.key] = existing.combine(entry) if existing else entry

    def _reindex(self) -> None:
        self._by_imo: dict[int, str] = {}
        self._by_mmsi: dict[int, list[tuple[str, bool]]] = {}  # (entry key, is_current)
        self._names = _NameIndex()
        for key, entry in self._entries.items():
            if entry.imo is not None:
                self._by_imo[entry.imo] = key
            for mmsi in entry.mmsis:
                self._by_mmsi.setdefault(mmsi, []).append((key, mmsi not in entry.legacy_mmsis))
            self._names.add(entry.name, key, former=False)
            for former in entry.former_names:
                self._names.add(former, key, former=True)

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[WatchlistEntry]:
        return iter(self._entries.values())

    def get(self, key: str) -> WatchlistEntry | None:
        """The entry with this :attr:`WatchlistEntry.key`, if any."""
        return self._entries.get(key)

    def match(
        self,
        *,
        imo: int | None = None,
        mmsi: int | None = None,
        name: str | None = None,
        flag: str | None = None,
    ) -> WatchlistMatch | None:
        """Find the entry a vessel is, by IMO, then MMSI, then fuzzy name; None if none.

        ``flag`` is the vessel's ISO alpha-2 flag (from its MID), used only for names.
        """
        if imo is not None and imo in self._by_imo:
            entry = self._entries[self._by_imo[imo]]
            return WatchlistMatch(entry, "imo", 1.0, f"IMO {imo}")
        if mmsi is not None and mmsi in self._by_mmsi:
            return self._match_mmsi(mmsi, imo)
        if name:
            return self._match_name(name, flag)
        return None

    def _match_mmsi(self, mmsi: int, imo: int | None) -> WatchlistMatch:
        # Prefer an entry whose *current* MMSI this is; MMSIs get reissued to other hulls.
        key, current = max(self._by_mmsi[mmsi], key=lambda kc: kc[1])
        entry = self._entries[key]
        score = 1.0 if current else LEGACY_MMSI_SCORE
        detail = f"{'current' if current else 'legacy'} MMSI {mmsi}"
        if imo is not None and imo_valid(imo) and entry.imo is not None and entry.imo != imo:
            # The vessel states another valid IMO: either a reissued MMSI or a spoof.
            score = IMO_CONFLICT_MMSI_SCORE
            detail += f", but vessel reports IMO {imo}, entry has {entry.imo}"
        return WatchlistMatch(entry, "mmsi", score, detail)

    def _match_name(self, name: str, flag: str | None) -> WatchlistMatch | None:
        query = normalise_name(name)
        if len(query.replace(" ", "")) < self.min_name_chars:
            return None
        index = self._names
        floor = self.name_threshold - FLAG_BONUS
        if query in index.exact:
            scored = [(i, 1.0) for i in index.exact[query]]
        else:
            pool = index.candidates(query, floor)
            hits = process.extract(
                query,
                [index.names[i] for i in pool],
                scorer=fuzz.ratio,
                score_cutoff=floor * 100,
                limit=8,
            )
            scored = [(pool[pos], score / 100) for _, score, pos in hits]
        best: WatchlistMatch | None = None
        for i, similarity in scored:
            entry = self._entries[index.owners[i]]
            score, why = _flag_adjust(similarity, flag, entry.flag)
            agrees = why == "flag agrees"
            former = index.former[i]
            if similarity < 1.0 and _hull_numbers(index.names[i]) != _hull_numbers(query):
                # Sister ships differ only by number: YI PENG 2 is not YI PENG 3.
                continue
            if " " not in index.names[i] and (former or similarity < 1.0 or not agrees):
                # One common word ("JUPITER", "VICTORIA") names many ships: only the exact
                # current name under the same flag counts.
                continue
            if former and not agrees:
                # Names are resold with hulls; an old name is a lead only under the same flag.
                continue
            if score >= self.name_threshold and (best is None or score > best.score):
                kind = "former name" if index.former[i] else "name"
                detail = f"{kind} {index.names[i]!r} ~ {query!r} ({similarity:.2f}, {why})"
                best = WatchlistMatch(entry, "name", score, detail)
        return best


def _flag_adjust(similarity: float, flag: str | None, entry_flag: str | None) -> tuple[float, str]:
    if flag is None or entry_flag is None:
        return similarity, "flag unknown"
    if flag == entry_flag:
        return min(1.0, similarity + FLAG_BONUS), "flag agrees"
    return max(0.0, similarity - FLAG_PENALTY), f"flag differs {flag}/{entry_flag}"
