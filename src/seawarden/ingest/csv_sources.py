"""Shared machinery for CSV exports of decoded AIS (DMA, NOAA, simple track files).

Much of the AIS history anyone can download is not raw NMEA but CSV that a coastal authority
already decoded: the Danish Maritime Authority's daily ``aisdk`` files (~11 million rows a
day), NOAA MarineCadastre's US files, and simple ``time,mmsi,lat,lon,…`` tracks that research
projects publish. They differ in column names, time formats and how they say "not
available", but share the hard parts, which live here:

* opening a path (plain or gzip, detected by its magic bytes) or an already-open text
  stream, decoding UTF-8 with undecodable bytes replaced and *counted* (a damaged vessel
  name must not cost us the position in the same row);
* splitting one *physical* line into fields: a plain ``str.split`` when the line has no
  quote (about 1.7x faster than :mod:`csv`), :mod:`csv` otherwise. Rows never span lines,
  so every physical line maps to exactly one position or rejection and ``line_no`` is exact;
  no format we read puts newlines inside quoted fields;
* mapping columns by header name, not position, because every publisher has reordered or
  renamed columns at some point;
* timestamps with a one-entry cache (exports are sorted by time, so consecutive rows
  usually share the same timestamp string) and AIS field parsing via
  :mod:`seawarden.ingest.normalise`, the one place sentinels become ``None``;
* :class:`StaticTracker`, which turns static columns repeated on every row into a
  :class:`~seawarden.model.StaticReport` only when a vessel's identity actually changes.

Accounting contract for every reader: each data line yields exactly one
:class:`~seawarden.model.PositionReport` or :class:`~seawarden.model.Rejection` with that
line's number, optionally preceded by one ``StaticReport`` with the same number. The header
is line 1. Rejection reasons: ``malformed`` (column count, unparseable number, blank line),
``bad_time``, ``bad_mmsi``, ``bad_position`` and, for DMA, ``not_vessel``.
"""

from __future__ import annotations

import csv
import gzip
import logging
import math
import os
import zlib
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import IO, Final, TypeAlias

from seawarden.errors import InputError
from seawarden.ingest import normalise
from seawarden.model import PositionReport, Rejection, StaticReport

__all__ = [
    "CsvInput",
    "CsvItem",
    "StaticTracker",
    "open_lines",
    "read_with",
]

log = logging.getLogger(__name__)

CsvInput: TypeAlias = "str | os.PathLike[str] | IO[str]"
"""A path (plain or ``.gz``) or an already-open text stream (opened with ``newline=""``)."""

CsvItem: TypeAlias = PositionReport | StaticReport | Rejection

# Keep rejected lines short enough that a file of garbage cannot balloon memory downstream.
RAW_MAX_CHARS: Final = 300
# Distinct vessels whose last static data we remember (a DMA day sees thousands of vessels).
DEFAULT_STATIC_CACHE_SIZE: Final = 50_000

# Static fields in StaticReport order, as used by StaticTracker and the readers.
StaticValues: TypeAlias = tuple[
    int | None,  # imo
    str | None,  # callsign
    str | None,  # name
    int | None,  # ship_type
    float | None,  # length_m
    float | None,  # beam_m
    float | None,  # draught_m
    str | None,  # destination
]
Lines: TypeAlias = Generator[tuple[int, str], None, None]


# --------------------------------------------------------------------------- opening


def source_name(src: CsvInput) -> str:
    """The file name used as ``source`` on every record (no directories: stable across hosts)."""
    if isinstance(src, (str, os.PathLike)):
        return os.path.basename(os.fspath(src))
    name = getattr(src, "name", None)
    return os.path.basename(name) if isinstance(name, str) else "<stream>"


def _open_text(path: str | os.PathLike[str]) -> IO[str]:
    # utf-8-sig drops a byte-order mark some spreadsheet exports put before the header.
    try:
        with open(path, "rb") as probe:
            gzipped = probe.read(2) == b"\x1f\x8b"  # gzip magic, whatever the file is called
        if gzipped:
            return gzip.open(path, "rt", encoding="utf-8-sig", errors="replace", newline="")
        return open(path, encoding="utf-8-sig", errors="replace", newline="")
    except FileNotFoundError:
        raise InputError("file not found; check the path", source=os.fspath(path)) from None
    except OSError as exc:
        raise InputError(f"cannot open: {exc.strerror or exc}", source=os.fspath(path)) from exc


def open_lines(src: CsvInput) -> tuple[str, Lines]:
    """``(source name, iterator of (1-based line number, line))`` for a path or text stream.

    The file is opened lazily on first iteration and closed when the iterator is exhausted or
    closed. A missing file, or a gzip file that is truncated or corrupt, raises
    :class:`~seawarden.errors.InputError`; lines with undecodable bytes are logged as a count.
    """
    source = source_name(src)
    return source, _lines(src, source)


def _lines(src: CsvInput, source: str) -> Lines:
    owned = isinstance(src, (str, os.PathLike))
    stream = _open_text(src) if isinstance(src, (str, os.PathLike)) else src
    line_no = 0
    damaged = 0
    try:
        for line_no, line in enumerate(stream, start=1):
            # An ASCII/Latin-1 line cannot hold U+FFFD, so this test costs almost nothing.
            if "\ufffd" in line:
                damaged += 1
            yield line_no, line
    except (OSError, EOFError, zlib.error) as exc:
        raise InputError(
            f"cannot read past this line ({exc}); the file is truncated or corrupt",
            source=source,
            line_no=line_no,
        ) from exc
    finally:
        if owned:
            stream.close()
        if damaged:
            log.warning(
                "%s: %d line(s) held bytes that are not UTF-8; they were replaced by U+FFFD",
                source,
                damaged,
                extra={"source": source, "damaged_lines": damaged},
            )


# --------------------------------------------------------------------------- fields


def split_fields(line: str) -> list[str]:
    """The fields of one physical line (its line ending removed)."""
    line = line.rstrip("\r\n")
    if '"' not in line:
        return line.split(",")
    try:
        return next(csv.reader((line,)), [])
    except csv.Error:  # e.g. a quoted field beyond csv's field size limit
        return []


def normalise_name(column: str) -> str:
    """A header name as lower-case letters and digits: ``'# Timestamp'`` → ``'timestamp'``."""
    return "".join(ch for ch in column.lower() if ch.isalnum())


def header_names(header_line: str) -> list[str]:
    return [normalise_name(name) for name in split_fields(header_line)]


def find_column(names: Sequence[str], aliases: Iterable[str]) -> int | None:
    """Index of the first alias (in alias order) present among normalised header ``names``."""
    for alias in aliases:
        if alias in names:
            return names.index(alias)
    return None


def resolve_columns(
    names: Sequence[str],
    columns: Mapping[str, tuple[str, ...]],
    required: Iterable[str],
    *,
    source: str,
    fmt: str,
) -> dict[str, int | None]:
    """Map logical column names to indices; :class:`InputError` if a required one is absent."""
    found = {key: find_column(names, aliases) for key, aliases in columns.items()}
    missing = [key for key in required if found[key] is None]
    if missing:
        wanted = ", ".join(f"{key} ({'/'.join(columns[key])})" for key in missing)
        raise InputError(
            f"header lacks the {fmt} column(s) {wanted}; "
            "check the file's first line or choose another --format",
            source=source,
            line_no=1,
        )
    return found


def reject(reason: str, source: str, line_no: int, line: str, detail: str = "") -> Rejection:
    return Rejection(
        reason=reason,
        source=source,
        line_no=line_no,
        detail=detail,
        raw=line.rstrip("\r\n")[:RAW_MAX_CHARS],
    )


# --------------------------------------------------------------------------- values


def opt_float(text: str) -> float | None:
    """A number, or None for an empty field. Raises ValueError if not a number."""
    return float(text) if text else None


def opt_code(text: str) -> int | None:
    """An integer code written as ``'70'`` or ``'70.0'``; None for empty or non-finite."""
    if not text:
        return None
    value = float(text)
    return int(value) if math.isfinite(value) else None


def checked_fields(line: str, width: int, source: str, line_no: int) -> list[str] | Rejection:
    """A line's fields (plus one empty sentinel field for absent optional columns), or a
    ``malformed`` rejection when the count does not match the header."""
    fields = split_fields(line)
    if len(fields) != width:
        detail = "blank line" if not line.strip() else f"{len(fields)} fields, header has {width}"
        return reject("malformed", source, line_no, line, detail)
    fields.append("")
    return fields


def mmsi_and_time(
    fields: list[str],
    i_mmsi: int,
    i_time: int,
    parse_time: Callable[[str], datetime],
    source: str,
    line_no: int,
    line: str,
) -> tuple[int, datetime] | Rejection:
    """The row's MMSI and event time, or the ``bad_mmsi`` / ``bad_time`` rejection."""
    mmsi = parse_mmsi(fields[i_mmsi])
    if mmsi is None:
        return reject("bad_mmsi", source, line_no, line, f"MMSI {fields[i_mmsi]!r}")
    try:
        return mmsi, parse_time(fields[i_time])
    except ValueError:
        return reject("bad_time", source, line_no, line, f"time {fields[i_time]!r}")


def parse_mmsi(text: str) -> int | None:
    try:
        return normalise.mmsi(text)
    except ValueError:  # str.isdigit() admits digits int() refuses, e.g. '²'
        return None


def parse_imo(text: str) -> int | None:
    try:
        return normalise.imo(text)
    except ValueError:
        return None


# Not in normalise yet (candidates to move there): AIS uses 0 for "not available" in both
# ship type and dimensions; codes above 99 do not exist.
def ship_type_code(value: int | None) -> int | None:
    return value if value is not None and 0 < value <= 99 else None


def dimension_m(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) and value > 0 else None


class IsoTimeParser:
    """ISO 8601 (naive = UTC, any offset converted to UTC) or Unix seconds/milliseconds.

    Remembers the last string it parsed: sorted exports repeat each timestamp many times.
    Raises ValueError for anything else.
    """

    __slots__ = ("_last_dt", "_last_text")

    def __init__(self) -> None:
        # None, not "": an empty time field must never hit the cache.
        self._last_text: str | None = None
        self._last_dt = normalise.unix_time(0)

    def __call__(self, text: str) -> datetime:
        if text == self._last_text:
            return self._last_dt
        stripped = text.strip()
        try:
            try:
                # Appending the zone is ~6x faster than .replace(tzinfo=UTC) on the result;
                # it fails for text that already has a zone, handled just below.
                dt = datetime.fromisoformat(stripped + "+00:00")
                if dt.tzinfo is None:  # date only: the suffix was read as a time of day
                    dt = datetime.fromisoformat(stripped).replace(tzinfo=UTC)
            except ValueError:
                try:
                    dt = datetime.fromisoformat(stripped)
                except ValueError:
                    dt = normalise.unix_time(float(stripped))
                else:
                    dt = dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)
        except (OverflowError, OSError) as exc:  # far outside what datetime can hold
            raise ValueError(f"time out of range: {stripped!r}") from exc
        self._last_text, self._last_dt = text, dt
        return dt


# --------------------------------------------------------------------------- static data


class StaticTracker:
    """Decides when repeated static columns are news about a vessel.

    CSV exports repeat a vessel's static data on every row, often blank on rows that came
    from a position message. A field counts as changed only when the row *carries* a value
    that differs from the last one known: blank is "not in this row", not "cleared", so rows
    alternating between blank and filled do not flood the stream with identical reports.
    Memory is bounded by ``max_vessels``; the oldest vessel is forgotten first, which costs at
    most one repeated report when it comes back.
    """

    __slots__ = ("_known", "_max")

    def __init__(self, max_vessels: int = DEFAULT_STATIC_CACHE_SIZE) -> None:
        self._max = max(1, max_vessels)
        # mmsi → (raw field strings of the last row, merged known values)
        self._known: dict[int, tuple[tuple[str, ...], StaticValues]] = {}

    def unchanged_raw(self, mmsi: int, raw: tuple[str, ...]) -> bool:
        """Fast path: the row's static fields are the same strings as this vessel's last row."""
        entry = self._known.get(mmsi)
        return entry is not None and entry[0] == raw

    def update(self, mmsi: int, raw: tuple[str, ...], values: StaticValues) -> bool:
        """Record a row's parsed values; True if any carried value is new for this vessel."""
        entry = self._known.get(mmsi)
        if entry is None:
            changed = any(value is not None for value in values)
            merged = values
        else:
            old = entry[1]
            changed = any(
                new is not None and new != was for new, was in zip(values, old, strict=True)
            )
            merged = tuple(  # type: ignore[assignment]  # same shape as StaticValues
                was if new is None else new for new, was in zip(values, old, strict=True)
            )
        if entry is None and len(self._known) >= self._max:
            del self._known[next(iter(self._known))]
        self._known[mmsi] = (raw, merged)
        return changed


def static_report(
    mmsi: int, time: datetime, values: StaticValues, *, msg_type: int, source: str, line_no: int
) -> StaticReport:
    imo, callsign, name, ship_type, length_m, beam_m, draught_m, destination = values
    return StaticReport(
        mmsi=mmsi,
        time=time,
        imo=imo,
        callsign=callsign,
        name=name,
        ship_type=ship_type,
        length_m=length_m,
        beam_m=beam_m,
        draught_m=draught_m,
        destination=destination,
        msg_type=msg_type,
        source=source,
        line_no=line_no,
    )


RecordsBody: TypeAlias = Callable[[str, str, Lines], Iterator[CsvItem]]


def read_with(body: RecordsBody, src: CsvInput) -> Iterator[CsvItem]:
    """Open ``src``, hand ``(source, header line, remaining lines)`` to ``body``, always close.

    An empty input yields nothing; a header ``body`` cannot use raises ``InputError``.
    """
    source, lines = open_lines(src)
    try:
        first = next(lines, None)
        if first is not None:
            yield from body(source, first[1], lines)
    finally:
        lines.close()


def indices(cols: Mapping[str, int | None], keys: Sequence[str], absent: int) -> list[int]:
    """Column indices for ``keys``; absent columns get ``absent`` (where rows hold ``""``)."""
    out: list[int] = []
    for key in keys:
        index = cols[key]
        out.append(absent if index is None else index)
    return out
