"""Reading watchlist files in the formats that vessel registries are published in.

Public lists are compiled by hand or scraped from web pages, and it shows: IMO numbers
with a leading zero or a Russian register number ("RS 150443") in the IMO column, page
labels ("Call sign", "Flags (former)") scraped into data cells, flags spelled "russian
federation" or "unknown". A watch officer still wants every usable row, so each row is
repaired where that is safe (the bad cell is dropped and counted in ``repaired``) and
dropped only when nothing identifies the vessel (counted in ``rejected``). Three formats
are recognised by their header:

* ``local`` — ours: ``imo,mmsi,name,flag,source,reason`` (optional ``former_names``,
  ``lists``); several MMSIs separated by ``;`` (current first); ``#`` starts a comment.
* ``gur`` — the GUR list: ``gur_id,name,imo,mmsi_current,mmsi_legacy,flag,…,former_names,
  …,status`` with former names separated by `` / ``.
* ``sanctions`` — ``imo,ofac,uk,eu`` with ``True``/``False`` flags: IMO-only entries.
"""

from __future__ import annotations

import csv
import logging
from collections import Counter
from collections.abc import Callable, Mapping
from pathlib import Path

from seawarden.errors import ConfigError
from seawarden.fleet.identity import MmsiKind, classify_mmsi, flag_code, imo_valid
from seawarden.fleet.watchlist import WatchlistEntry

__all__ = ["detect_format", "read_watchlist", "read_watchlist_with_format"]

log = logging.getLogger(__name__)

_LOCAL = {"imo", "mmsi", "name", "flag", "source", "reason"}
_GUR = {"gur_id", "name", "imo", "mmsi_current", "mmsi_legacy", "flag", "former_names", "status"}
_SANCTIONS = {"imo", "ofac", "uk", "eu"}
# Column captions a scraper copied into data cells; they mean "empty".
_LABELS = frozenset(
    {"call sign", "vessel name", "vessel type", "flags (former)", "flag", "imo", "mmsi", "name"}
)
_TRUE = frozenset({"true", "1", "yes", "y", "x"})
_FALSE = frozenset({"false", "0", "no", "n", ""})

Row = Mapping[str, str]
RowParser = Callable[[Row, str, Counter[str]], WatchlistEntry | str]


def detect_format(header: list[str]) -> str | None:
    """``local``, ``gur`` or ``sanctions`` from a header row; None if unrecognised."""
    columns = {h.strip().lower() for h in header}
    if columns >= _GUR:
        return "gur"
    if columns >= _LOCAL:
        return "local"
    if columns >= _SANCTIONS:
        return "sanctions"
    return None


def read_watchlist(path: Path) -> tuple[list[WatchlistEntry], Counter[str], Counter[str]]:
    """Parse one file into entries plus ``rejected`` and ``repaired`` counts by reason."""
    _, entries, rejected, repaired = read_watchlist_with_format(path)
    return entries, rejected, repaired


def read_watchlist_with_format(
    path: Path,
) -> tuple[str, list[WatchlistEntry], Counter[str], Counter[str]]:
    """:func:`read_watchlist`, plus the format its header was recognised as."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(
            f"watchlist {path} does not exist; check the path or remove it from the config"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"watchlist {path} cannot be read as UTF-8 text: {exc}") from exc

    # Keep real line numbers for evidence while skipping comments and blank lines.
    numbered = [
        (no, line)
        for no, line in enumerate(text.splitlines(), start=1)
        if line.strip() and not line.lstrip().startswith("#")
    ]
    if not numbered:
        raise ConfigError(f"watchlist {path} is empty; expected a CSV header row")
    reader = csv.reader([line for _, line in numbered])

    def record(line_no: int) -> list[str]:
        """The next CSV record, which must be exactly the line ``line_no``; ConfigError."""
        before = reader.line_num
        try:
            cells = next(reader)
        except csv.Error as exc:  # e.g. a field over csv.field_size_limit()
            raise ConfigError(f"watchlist {path}:{line_no}: unreadable CSV row ({exc})") from None
        if reader.line_num != before + 1:
            raise ConfigError(
                f"watchlist {path}:{line_no}: a quoted field runs onto the next line; "
                "each watchlist row must be one line"
            )
        return cells

    header = [h.strip().lower() for h in record(numbered[0][0])]
    fmt = detect_format(header)
    if fmt is None:
        raise ConfigError(
            f"watchlist {path}: unrecognised header {header}; expected our own format "
            f"({','.join(sorted(_LOCAL))}), the GUR list (gur_id,name,imo,mmsi_current,…) "
            f"or a sanctions table (imo,ofac,uk,eu)"
        )
    parser: RowParser = {"local": _parse_local, "gur": _parse_gur, "sanctions": _parse_sanctions}[
        fmt
    ]
    entries: list[WatchlistEntry] = []
    rejected: Counter[str] = Counter()
    repaired: Counter[str] = Counter()
    for line_no, _ in numbered[1:]:
        cells = record(line_no)
        source = f"{path.name}:{line_no}"
        if len(cells) != len(header):
            result: WatchlistEntry | str = "bad_columns"
        else:
            row = {h: c.strip() for h, c in zip(header, cells, strict=True)}
            result = parser(row, source, repaired)
        if isinstance(result, str):
            rejected[result] += 1
            log.warning(
                "watchlist row rejected",
                extra={"source": source, "reason": result, "format": fmt},
            )
        else:
            entries.append(result)
    log.info(
        "watchlist loaded",
        extra={
            "path": str(path),
            "format": fmt,
            "entries": len(entries),
            "rejected": dict(rejected),
            "repaired": dict(repaired),
        },
    )
    return fmt, entries, rejected, repaired


def _cell(row: Row, column: str, repaired: Counter[str]) -> str:
    value = row.get(column, "")
    if value.lower() in _LABELS:
        repaired["label_leak"] += 1
        return ""
    return value


def _imo(raw: str) -> tuple[int | None, str | None]:
    """(IMO, None) if valid; (None, reason) if present but unusable; (None, None) if blank."""
    text = raw.upper().removeprefix("IMO").strip()
    if not text:
        return None, None
    if not text.isdigit():
        return None, "bad_imo"
    if text.startswith("0"):
        return None, "imo_leading_zero"
    if not imo_valid(int(text)):
        return None, "imo_check_digit"
    return int(text), None


def _mmsis(raw: str, repaired: Counter[str]) -> list[int]:
    out: list[int] = []
    for part in raw.replace("/", ";").replace(",", ";").split(";"):
        part = part.strip()
        if not part:
            continue
        digits = "".join(c for c in part if c.isdigit())
        if digits != part and len(digits) == 9:
            repaired["junk_characters"] += 1  # e.g. U+FFFD from a bad scrape before the MMSI
            part = digits
        kind = classify_mmsi(int(part)).kind if part.isdigit() else MmsiKind.INVALID
        if kind in (MmsiKind.INVALID, MmsiKind.PLACEHOLDER):
            repaired["bad_mmsi"] += 1
            continue
        out.append(int(part))
    return out


def _flag(raw: str, repaired: Counter[str]) -> str | None:
    code = flag_code(raw)
    if code is None and raw and raw.lower() not in {"unknown", "n/a", "-"}:
        repaired["unknown_flag"] += 1
    return code


def _names(raw: str, repaired: Counter[str]) -> tuple[str, ...]:
    names = (n.strip() for n in raw.split(" / "))
    kept: list[str] = []
    for name in names:
        if name.lower() in _LABELS:
            repaired["label_leak"] += 1
        elif name:
            kept.append(name)
    return tuple(dict.fromkeys(kept))


def _identified(
    imo: int | None,
    imo_problem: str | None,
    mmsis: list[int],
    repaired: Counter[str],
    name: str = "",
) -> str | None:
    """The rejection reason when a row has no usable key; counts a dropped bad IMO.

    ``name`` is passed only where a name-only entry is acceptable (our own format, where a
    person wrote it on purpose); it then matches by name alone.
    """
    if imo is None and not mmsis and not name:
        return imo_problem or "no_identifier"
    if imo_problem:
        repaired[imo_problem] += 1  # row kept under its MMSI
    return None


def _parse_local(row: Row, source: str, repaired: Counter[str]) -> WatchlistEntry | str:
    imo, problem = _imo(row["imo"])
    mmsis = _mmsis(row["mmsi"], repaired)
    if (reason := _identified(imo, problem, mmsis, repaired, row["name"])) is not None:
        return reason
    lists = tuple(x.strip().lower() for x in row.get("lists", "").split(";") if x.strip())
    return WatchlistEntry(
        imo=imo,
        mmsis=tuple(dict.fromkeys(mmsis)),
        name=row["name"],
        former_names=_names(row.get("former_names", ""), repaired),
        flag=_flag(row["flag"], repaired),
        source=row["source"] or source,
        reason=row["reason"],
        lists=lists or ("local",),
    )


def _parse_gur(row: Row, source: str, repaired: Counter[str]) -> WatchlistEntry | str:
    imo, problem = _imo(row["imo"])
    current = _mmsis(_cell(row, "mmsi_current", repaired), repaired)
    legacy = [m for m in _mmsis(_cell(row, "mmsi_legacy", repaired), repaired) if m not in current]
    mmsis = current + legacy
    if (reason := _identified(imo, problem, mmsis, repaired)) is not None:
        return reason
    name = _cell(row, "name", repaired)
    status = row.get("status", "") or "listed"
    vessel_type = _cell(row, "vessel_type", repaired)
    return WatchlistEntry(
        imo=imo,
        mmsis=tuple(dict.fromkeys(mmsis)),
        legacy_mmsis=tuple(legacy),
        name=name,
        former_names=tuple(n for n in _names(row["former_names"], repaired) if n != name),
        flag=_flag(row["flag"], repaired),
        source=source,
        reason=f"GUR list ({status})" + (f", {vessel_type}" if vessel_type else ""),
        lists=("gur-delisted",) if status.startswith("delisted") else ("gur",),
    )


def _parse_sanctions(row: Row, source: str, repaired: Counter[str]) -> WatchlistEntry | str:
    imo, problem = _imo(row["imo"])
    if imo is None:
        return problem or "no_identifier"
    lists: list[str] = []
    for regime in ("ofac", "uk", "eu"):
        value = row[regime].lower()
        if value in _TRUE:
            lists.append(regime)
        elif value not in _FALSE:
            return "bad_boolean"
    if not lists:
        return "no_sanction"
    return WatchlistEntry(
        imo=imo,
        source=source,
        reason="sanctioned: " + ", ".join(x.upper() for x in lists),
        lists=tuple(sorted(lists)),
    )
