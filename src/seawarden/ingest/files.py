"""Open a recorded input file and turn it into a stream of records and rejections.

Users point ``seawarden replay`` at whatever they have: raw NMEA logs (plain or gzip),
DMA or NOAA CSV exports, or a simple decoded CSV — and what other sensors saw: radar
TTM/TLL sentences inside NMEA logs, ASTERIX recordings (raw blocks or pcap), satellite
detections and pass footprints (CSV or GeoJSON). The format is detected from the file's
start (``--format`` overrides), and every source yields the same thing:
``(line_no, observation-or-rejection)`` in file order (for ASTERIX the data-block number,
for GeoJSON the feature number), so the rest of the pipeline does not care where
reports came from. Non-AIS sources need the sensors registry (``--sensors``).
"""

from __future__ import annotations

import gzip
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Literal, cast

from seawarden.clock import EPOCH
from seawarden.errors import InputError
from seawarden.ingest.nmea import DecodeStats, NmeaConfig, NmeaDecoder, RawTap
from seawarden.model import Contact, Observation, PositionReport, Record, Rejection, SensorPass

if TYPE_CHECKING:
    from seawarden.fusion.sensors import SensorRegistry

InputFormat = Literal["nmea", "dma", "noaa", "simple", "asterix", "sat-csv", "sat-geojson"]
FORMATS: tuple[str, ...] = ("nmea", "dma", "noaa", "simple", "asterix", "sat-csv", "sat-geojson")
SENSOR_FORMATS: tuple[str, ...] = ("asterix", "sat-csv", "sat-geojson")
# Evidence retention for sensor files: each contact with the raw input it came from.
ContactTap = Callable[[Contact, int, bytes, datetime | None], None]


def open_binary(path: str | Path) -> IO[bytes]:
    p = Path(path)
    if not p.is_file():
        raise InputError("no such file (check the path)", source=str(path))
    try:
        if p.suffix == ".gz":
            return cast(IO[bytes], gzip.open(p, "rb"))
        return p.open("rb")
    except OSError as exc:  # pragma: no cover - permissions etc.
        raise InputError(f"cannot open: {exc}", source=str(path)) from exc


def sniff_format(path: str | Path) -> InputFormat:
    """Guess a file's format from its first meaningful line (or bytes, for binary ASTERIX)."""
    from seawarden.ingest.asterix import looks_like_asterix
    from seawarden.ingest.csv_detect import detect_csv_format
    from seawarden.ingest.satellite import detect_satellite_format

    with open_binary(path) as fh:
        try:
            head = fh.read(4096)
        except (OSError, EOFError) as exc:
            raise InputError(f"unreadable ({exc})", source=str(path)) from exc
    if head[:1] not in (b"!", b"\\", b"$", b"#") and looks_like_asterix(head):
        return "asterix"
    sat = detect_satellite_format(path)
    if sat is not None:
        return sat
    with open_binary(path) as fh:
        try:
            for _ in range(200):
                raw = fh.readline()
                if not raw:
                    break
                line = raw.strip()
                if not line or (line.startswith(b"#") and not line.startswith(b"# Timestamp")):
                    continue
                if line[:1] in (b"!", b"\\", b"$"):
                    return "nmea"
                fmt = detect_csv_format(line.decode("utf-8", "replace"))
                if fmt is not None:
                    return fmt
                break
        except (OSError, EOFError) as exc:
            raise InputError(f"unreadable ({exc})", source=str(path)) from exc
    raise InputError(
        "cannot tell the format from the first line; pass --format with one of "
        + ", ".join(FORMATS),
        source=str(path),
    )


class NmeaFileSource:
    """Lines of an NMEA log through an :class:`NmeaDecoder`."""

    def __init__(
        self,
        path: str | Path,
        *,
        config: NmeaConfig | None = None,
        assume_time: datetime = EPOCH,
        start_line: int = 0,
        sensors: SensorRegistry | None = None,
    ) -> None:
        self.path = Path(path)
        self.decoder = NmeaDecoder(
            source=self.path.name, config=config, assume_time=assume_time, sensors=sensors
        )
        self.start_line = start_line

    @property
    def stats(self) -> DecodeStats:
        return self.decoder.stats

    def __iter__(self) -> Iterator[tuple[int, Record | Contact | Rejection]]:
        decoder = self.decoder
        with open_binary(self.path) as fh:
            line_no = 0
            try:
                for line_no, raw in enumerate(fh, 1):
                    if line_no < self.start_line:
                        continue
                    for item in decoder.feed(raw, line_no):
                        yield line_no, item
            except (OSError, EOFError, gzip.BadGzipFile) as exc:
                yield (
                    line_no,
                    Rejection(
                        reason="truncated_file",
                        source=self.path.name,
                        line_no=line_no,
                        detail=str(exc)[:120],
                    ),
                )
        for item in decoder.flush():
            yield line_no, item


class CsvFileSource:
    """Rows of a decoded-AIS CSV file (DMA, NOAA or simple)."""

    def __init__(self, path: str | Path, fmt: InputFormat, *, start_line: int = 0) -> None:
        self.path = Path(path)
        self.fmt = fmt
        self.start_line = start_line
        self.tap: RawTap | None = None  # evidence retention: each row with its raw text
        self._memo: _LineMemo | None = None

    def header(self) -> bytes | None:
        """The file's first line (its column names), once reading has begun."""
        return None if self._memo is None else self._memo.first

    def __iter__(self) -> Iterator[tuple[int, Record | Rejection]]:
        from seawarden.ingest.csv_detect import read_csv_records
        from seawarden.ingest.csv_sources import _open_text

        if not self.path.is_file():
            raise InputError("no such file (check the path)", source=str(self.path))
        tap = self.tap
        if tap is None:
            # The CSV reader opens the path itself: it detects gzip by content, strips a BOM.
            for item in read_csv_records(self.path, self.fmt):
                if item.line_no < self.start_line:
                    continue
                yield item.line_no, item
            return
        # With a tap, the same opening, through a stream that remembers the line just read
        # (the reader consumes one physical line per row, so it is the row's own line).
        with _open_text(self.path) as stream:
            memo = self._memo = _LineMemo(stream, str(self.path))
            tapped = -1
            for item in read_csv_records(cast(IO[str], memo), self.fmt):
                if item.line_no < self.start_line:
                    continue
                # A DMA/NOAA row may yield a static report before its position: tap the
                # position, which is what findings cite (matched by time and message type).
                if item.line_no != tapped and isinstance(item, PositionReport):
                    tapped = item.line_no
                    tap(item, item.line_no, memo.last.rstrip("\r\n").encode(), None)
                yield item.line_no, item


class _LineMemo:
    """A text stream wrapper keeping the first and the latest line read (raw CSV rows)."""

    def __init__(self, stream: IO[str], name: str) -> None:
        self.stream = stream
        self.name = name
        self.first: bytes | None = None
        self.last = ""

    def __iter__(self) -> Iterator[str]:
        for line in self.stream:
            if self.first is None:
                self.first = line.rstrip("\r\n").encode()
            self.last = line
            yield line


class SensorFileSource:
    """A non-AIS recording (ASTERIX, satellite CSV/GeoJSON) as ``(n, item)`` pairs, resumable
    from item ``start_line`` like the line-based sources."""

    def __init__(
        self,
        path: str | Path,
        fmt: InputFormat,
        sensors: SensorRegistry | None,
        *,
        assume_time: datetime = EPOCH,
        start_line: int = 0,
    ) -> None:
        from seawarden.errors import ConfigError

        if sensors is None:
            raise ConfigError(
                f"{path}: a {fmt} file holds radar/satellite contacts; give the sensors that "
                "made them with --sensors FILE (see config/sensors.example.yaml)"
            )
        self.path = Path(path)
        self.fmt = fmt
        self.start_line = start_line
        # Evidence retention: each contact with its raw input (the ASTERIX data block or
        # datagram, the CSV row, the GeoJSON feature); see store/evidence.py.
        self.tap: ContactTap | None = None
        self._header: bytes | None = None
        self._inner: Iterable[tuple[int, Contact | SensorPass | Rejection]]
        if fmt == "asterix":
            from seawarden.ingest.asterix import AsterixFileSource

            self._inner = AsterixFileSource(self.path, sensors, reference=assume_time)
        else:
            from seawarden.ingest.satellite import SatelliteFileSource

            self._inner = SatelliteFileSource(self.path, sensors, fmt=fmt)  # type: ignore[arg-type]

    @property
    def stats(self) -> dict[str, Any]:
        stats = getattr(self._inner, "stats", None)
        as_dict = getattr(stats, "as_dict", None)
        return dict(as_dict()) if callable(as_dict) else {}

    @property
    def raw_format(self) -> str:
        """How the raw input of a contact is held: ``asterix`` (binary block), ``csv``
        (a row, the header kept beside it) or ``geojson`` (one feature)."""
        return {"asterix": "asterix", "sat-csv": "csv"}.get(self.fmt, "geojson")

    def header(self) -> bytes | None:
        """A satellite CSV file's header line (its columns), once reading has begun."""
        return self._header

    def __iter__(self) -> Iterator[tuple[int, Contact | SensorPass | Rejection]]:
        tap = self.tap
        if tap is None:
            for n, item in self._inner:
                if n >= self.start_line:
                    yield n, item
            return
        raw_of = self._raw_reader()
        for n, item in self._inner:
            if n < self.start_line:
                continue
            if isinstance(item, Contact):
                raw, received = raw_of(n)
                tap(item, n, raw, received)
            yield n, item

    def _raw_reader(self) -> Callable[[int], tuple[bytes, datetime | None]]:
        """The raw input of item ``n``, read beside the decoder: an ASTERIX reader's block
        (one bytes object shared by the block's contacts), a CSV file's line ``n`` (read
        in step, the file once more), a GeoJSON file's feature ``n`` (compact JSON)."""
        if self.fmt == "asterix":
            decoder = self._inner.decoder  # type: ignore[attr-defined]
            feed = decoder.feed
            last: list[Any] = [b"", None]

            def remember(data: bytes, block_no: int, received: datetime | None = None) -> Any:
                last[0], last[1] = bytes(data), received
                return feed(data, block_no, received)

            decoder.feed = remember
            return lambda n: (last[0], last[1])
        if self.fmt == "sat-csv":
            from seawarden.ingest.csv_sources import open_lines

            _, lines = open_lines(self.path)
            at: list[Any] = [0, ""]

            def row(n: int) -> tuple[bytes, datetime | None]:
                while at[0] < n:
                    got = next(lines, None)
                    if got is None:
                        break
                    at[0], at[1] = got
                    if at[0] == 1:
                        self._header = str(at[1]).rstrip("\r\n").encode()
                return str(at[1]).rstrip("\r\n").encode() if at[0] == n else b"", None

            return row
        import orjson

        from seawarden.ingest.satellite import MAX_GEOJSON_BYTES, _read_bounded

        features: list[Any] | None = None

        def feature(n: int) -> tuple[bytes, datetime | None]:
            nonlocal features
            if features is None:
                doc = orjson.loads(_read_bounded(self.path, MAX_GEOJSON_BYTES) or b"{}")
                features = (
                    [doc]
                    if isinstance(doc, dict) and doc.get("type") == "Feature"
                    else list(doc.get("features") or [])
                    if isinstance(doc, dict)
                    else []
                )
            return (orjson.dumps(features[n - 1]) if 0 < n <= len(features) else b""), None

        return feature


Source = NmeaFileSource | CsvFileSource | SensorFileSource
SourceItem = Observation | Rejection


def open_source(
    path: str | Path,
    fmt: InputFormat | None = None,
    *,
    nmea_config: NmeaConfig | None = None,
    assume_time: datetime = EPOCH,
    start_line: int = 0,
    sensors: SensorRegistry | None = None,
) -> Source:
    fmt = fmt or sniff_format(path)
    if fmt == "nmea":
        return NmeaFileSource(
            path,
            config=nmea_config,
            assume_time=assume_time,
            start_line=start_line,
            sensors=sensors,
        )
    if fmt in SENSOR_FORMATS:
        return SensorFileSource(path, fmt, sensors, assume_time=assume_time, start_line=start_line)
    return CsvFileSource(path, fmt, start_line=start_line)
