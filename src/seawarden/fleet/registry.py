"""Vessel registry particulars by IMO number: build year, owner, insurer, class, past flags.

Registry facts (from Equasis-like sources or hand-compiled lists) are *priors*: an uninsured,
recently re-flagged 20-year-old tanker is a classic shadow-fleet profile. They are loaded from
a documented CSV (see ``docs/sources/registry.md``)::

    imo,name,build_year,ship_type,gross_tonnage,owner,manager,insurer,class_society,flag,
    flag_since,previous_names,previous_flags

``previous_names``/``previous_flags`` are ``NAME@YYYY-MM-DD|NAME2@...`` (the date the vessel
*stopped* using it, optional). ``insurer`` empty = unknown; ``none``/``uninsured`` = known to
be uninsured. ``class_society`` empty = unknown; ``none``/``withdrawn`` = unclassed. ``#``
starts a comment line. Rows with a bad IMO (check digit, IMO Res. A.1117(30)) or bad cells are
skipped, counted in ``registry.stats`` and logged; a :class:`ConfigError` (with the bad line
numbers) is raised only for a wrong header or when *every* row is bad. Bounds: 64 MiB file,
1,000,000 rows, 4 KiB per line, csv field size limit 4 KiB.
"""

from __future__ import annotations

import csv
import logging
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Final

from seawarden.errors import ConfigError
from seawarden.fleet.identity import flag_code, imo_valid

__all__ = ["COLUMNS", "Particulars", "VesselRegistry", "load_registry"]

log = logging.getLogger(__name__)

COLUMNS: Final = (
    "imo",
    "name",
    "build_year",
    "ship_type",
    "gross_tonnage",
    "owner",
    "manager",
    "insurer",
    "class_society",
    "flag",
    "flag_since",
    "previous_names",
    "previous_flags",
)
MAX_FILE_BYTES: Final = 64 * 1024**2
MAX_ROWS: Final = 1_000_000
_MAX_LINE: Final = 4096
_NO_INSURER: Final = frozenset({"none", "uninsured", "no", "n/a: uninsured"})
_UNCLASSED: Final = frozenset({"none", "withdrawn", "unclassed", "no"})
_MAX_HISTORY: Final = 50


@dataclass(frozen=True, slots=True, kw_only=True)
class Particulars:
    """What a registry says about one hull. None = unknown (never "no")."""

    imo: int
    name: str | None = None
    build_year: int | None = None
    ship_type: str | None = None
    gross_tonnage: int | None = None
    owner: str | None = None
    manager: str | None = None
    insurer: str | None = None  # P&I club
    insured: bool | None = None  # False only when the registry says explicitly "none"
    class_society: str | None = None
    classed: bool | None = None  # False for "none"/"withdrawn"
    flag: str | None = None  # ISO alpha-2
    flag_since: date | None = None
    previous_names: tuple[tuple[str, date | None], ...] = ()
    previous_flags: tuple[tuple[str, date | None], ...] = ()
    source: str = ""


class VesselRegistry:
    """Particulars keyed by IMO; ``stats`` counts what loading kept and skipped."""

    def __init__(
        self, entries: Iterable[Particulars] = (), stats: Counter[str] | None = None
    ) -> None:
        self._by_imo: dict[int, Particulars] = {}
        self.stats: Counter[str] = stats if stats is not None else Counter()
        for p in entries:
            self._by_imo[p.imo] = p

    def get(self, imo: int | None) -> Particulars | None:
        return self._by_imo.get(imo) if imo is not None else None

    def __len__(self) -> int:
        return len(self._by_imo)

    def __iter__(self) -> Iterator[Particulars]:
        return iter(self._by_imo.values())

    def merge(self, other: VesselRegistry) -> VesselRegistry:
        """A new registry: ``other``'s known values fill and override this one's per IMO."""
        out = dict(self._by_imo)
        for imo, theirs in other._by_imo.items():
            mine = out.get(imo)
            if mine is None:
                out[imo] = theirs
                continue
            changes = {
                name: getattr(theirs, name)
                for name in Particulars.__dataclass_fields__
                if getattr(theirs, name) not in (None, ())
            }
            out[imo] = replace(mine, **changes)
        return VesselRegistry(out.values(), self.stats + other.stats)


def load_registry(path: Path) -> VesselRegistry:
    """Read the registry CSV; see the module docstring for the format and the bounds."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ConfigError(f"registry {path} is {size:,} bytes, over {MAX_FILE_BYTES:,}")
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(f"registry {path} does not exist; check the path") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"registry {path} cannot be read as UTF-8 text: {exc}") from exc
    numbered = [
        (no, line)
        for no, line in enumerate(text.splitlines(), start=1)
        if line.strip() and not line.lstrip().startswith("#")
    ]
    if not numbered:
        raise ConfigError(f"registry {path} is empty; expected the header {','.join(COLUMNS)}")
    if len(numbered) > MAX_ROWS + 1:
        raise ConfigError(f"registry {path}: more than {MAX_ROWS:,} rows")
    old_limit = csv.field_size_limit(_MAX_LINE)
    try:
        header_no, header_line = numbered[0]
        header = [h.strip().lower() for h in _cells(header_line) or []]
        if tuple(header) != COLUMNS:
            raise ConfigError(
                f"registry {path}:{header_no}: header {header[:20]} is not the expected "
                f"{','.join(COLUMNS)}"
            )
        stats: Counter[str] = Counter()
        entries: list[Particulars] = []
        bad_lines: list[int] = []
        for line_no, line in numbered[1:]:
            stats["rows"] += 1
            source = f"{path.name}:{line_no}"
            cells = _cells(line) if len(line) <= _MAX_LINE else None
            result: Particulars | str
            if cells is None:
                result = "unreadable_row"
            elif len(cells) != len(COLUMNS):
                result = "bad_columns"
            else:
                result = _row(dict(zip(COLUMNS, (c.strip() for c in cells), strict=True)), source)
            if isinstance(result, str):
                stats[result] += 1
                bad_lines.append(line_no)
                log.warning("registry row skipped", extra={"source": source, "reason": result})
            else:
                entries.append(result)
    finally:
        csv.field_size_limit(old_limit)
    if bad_lines and not entries:
        shown = ", ".join(map(str, bad_lines[:20])) + (" ..." if len(bad_lines) > 20 else "")
        reasons = {k: v for k, v in stats.items() if k != "rows"}
        raise ConfigError(f"registry {path}: every row is bad ({reasons}); lines {shown}")
    stats["loaded"] = len(entries)
    log.info("registry loaded", extra={"path": str(path), **stats})
    return VesselRegistry(entries, stats)


def _cells(line: str) -> list[str] | None:
    try:
        return next(csv.reader([line]))
    except (csv.Error, StopIteration):
        return None


def _row(row: dict[str, str], source: str) -> Particulars | str:
    raw_imo = row["imo"].upper().removeprefix("IMO").strip()
    if not raw_imo.isdigit() or raw_imo.startswith("0") or not imo_valid(int(raw_imo)):
        return "bad_imo"
    try:
        build_year = _int(row["build_year"], 1850, date.today().year + 2)
        gross_tonnage = _int(row["gross_tonnage"], 1, 1_000_000)
        flag_since = _date(row["flag_since"])
        names = _history(row["previous_names"], upper=True)
        flags = _history(row["previous_flags"], upper=True)
    except ValueError:
        return "bad_value"
    flag = flag_code(row["flag"]) if row["flag"] else None
    if row["flag"] and flag is None:
        return "bad_flag"
    prev_flags: list[tuple[str, date | None]] = []
    for text, when in flags:
        code = flag_code(text)
        if code is None:
            return "bad_flag"
        prev_flags.append((code, when))
    insurer = row["insurer"] or None
    cls = row["class_society"] or None
    return Particulars(
        imo=int(raw_imo),
        name=row["name"] or None,
        build_year=build_year,
        ship_type=row["ship_type"] or None,
        gross_tonnage=gross_tonnage,
        owner=row["owner"] or None,
        manager=row["manager"] or None,
        insurer=insurer,
        insured=None if insurer is None else insurer.lower() not in _NO_INSURER,
        class_society=cls,
        classed=None if cls is None else cls.lower() not in _UNCLASSED,
        flag=flag,
        flag_since=flag_since,
        previous_names=tuple(names),
        previous_flags=tuple(prev_flags),
        source=source,
    )


def _int(text: str, low: int, high: int) -> int | None:
    if not text:
        return None
    value = int(float(text)) if text.replace(".", "", 1).isdigit() else int(text)
    if not low <= value <= high:
        raise ValueError(f"{value} outside {low}..{high}")
    return value


def _date(text: str) -> date | None:
    return date.fromisoformat(text) if text else None


def _history(text: str, *, upper: bool) -> list[tuple[str, date | None]]:
    out: list[tuple[str, date | None]] = []
    for part in text.split("|"):
        part = part.strip()
        if not part:
            continue
        name, _, when = part.rpartition("@") if "@" in part else (part, "", "")
        name = " ".join(name.split())
        if not name:
            raise ValueError("empty name")
        out.append((name.upper() if upper else name, _date(when.strip())))
        if len(out) > _MAX_HISTORY:
            raise ValueError("history too long")
    return out
