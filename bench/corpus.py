"""Build a large, realistic NMEA file for benchmarks from the real data in ../shared/data.

Real sentences only at the source: raw AIVDM from the AISdb, gpsd and pyais corpora, plus
the real Solent and Baltic tracks encoded to type 1 position reports (pyais's encoder). To
reach benchmark size, the material is replayed as later periods: each copy gets tag-block
times shifted by the span of the material (~1.5 days) and MMSIs remapped (MID kept),
so the file holds many distinct vessels. Writes ``!AIVDM`` lines behind ``\\c:…\\`` tag
blocks, the form AIS-catcher and many aggregators produce.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from pyais.encode import encode_dict
from pyais.messages import TagBlock

from seawarden.ingest.nmea import NmeaDecoder
from seawarden.model import PositionReport, StaticReport

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SEAWARDEN_SHARED_DATA", REPO.parent / "shared" / "data"))


def _raw_corpus() -> list[tuple[float, list[str]]]:
    """(unix time, sentences) for every decodable message in the raw corpora."""
    out: list[tuple[float, list[str]]] = []
    for path in sorted((SHARED / "nmea").glob("*/*")):
        if path.suffix == ".chk" or path.name in ("LICENSE", "COPYING"):
            continue
        dec = NmeaDecoder(source=path.name)
        lines = path.read_bytes().splitlines()
        for i, line in enumerate(lines, 1):
            for rec in dec.feed(line, i):
                # single sentences, and multi-part messages whose parts are adjacent lines
                if isinstance(rec, (PositionReport, StaticReport)) and i - rec.line_no <= 1:
                    group = [_strip_tag(x) for x in lines[rec.line_no - 1 : i]]
                    if all(g.startswith("!AIVDM") for g in group):
                        # untimed corpora: spread over the first hour in file order
                        out.append((3600.0 * i / len(lines), group))
    return out


def _strip_tag(line: bytes) -> str:
    text = line.decode("ascii", "replace").strip()
    return text[text.rfind("\\") + 1 :] if text.startswith("\\") else text


def _track_corpus() -> list[tuple[float, list[str]]]:
    out: list[tuple[float, list[str]]] = []
    files = [
        (
            SHARED / "tracks/solent/SolentAIS_20160112_130211.csv",
            "Time",
            "Latitude_degrees",
            "Longitude_degrees",
            "SOG_knots",
            "COG_degrees",
            "MMSI",
        ),
        (
            SHARED / "tracks/baltic-cargo-2020/baltic_cargo_20201101.csv",
            "time",
            "lat",
            "long",
            "sog",
            "cog",
            "mmsi",
        ),
    ]
    for path, t, lat, lon, sog, cog, mmsi in files:
        with path.open(newline="") as fh:
            rows = list(csv.DictReader(fh))
        t0 = min(datetime.fromisoformat(r[t]).timestamp() for r in rows)
        for r in rows:
            when = datetime.fromisoformat(r[t]).timestamp() - t0
            data = {
                "type": 1,
                "mmsi": int(r[mmsi]),
                "lat": float(r[lat]),
                "lon": float(r[lon]),
                "speed": min(float(r[sog] or 0), 102.2),
                "course": float(r[cog] or 0) % 360,
                "heading": 511,
                "status": 0,
            }
            out.append((when, encode_dict(data, sentence_type="VDM")))
    return out


_ARMOR = "0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVW`abcdefghijklmnopqrstuvw"
_UNARMOR = {c: i for i, c in enumerate(_ARMOR)}


def _nmea_checksum(body: str) -> str:
    value = 0
    for ch in body.encode("ascii"):
        value ^= ch
    return f"{value:02X}"


def _remap(sentences: list[str], copy: int) -> list[str]:
    """The same message from another vessel: rewrite the MMSI bits (8..37) in place.

    Every AIS message type carries its MMSI in bits 8-37, i.e. in the first seven armoured
    characters of the first fragment, so no full decode/encode is needed.
    """
    if copy == 0:
        return sentences
    first = sentences[0]
    body, _, _ = first[1:].rpartition("*")
    fields = body.split(",")
    payload = fields[5]
    if len(payload) < 7:
        return sentences
    bits = 0
    for ch in payload[:7]:
        bits = (bits << 6) | _UNARMOR[ch]
    mmsi = (bits >> 4) & ((1 << 30) - 1)  # 42 bits: 8 before the MMSI, 4 after
    mid, rest = divmod(mmsi, 1_000_000)
    if not 200 <= mid <= 799:
        return sentences
    new = mid * 1_000_000 + (rest + copy * 7919) % 1_000_000
    bits = (bits & ~(((1 << 30) - 1) << 4)) | (new << 4)
    head = "".join(_ARMOR[(bits >> (6 * (6 - i))) & 63] for i in range(7))
    fields[5] = head + payload[7:]
    body = ",".join(fields)
    return [f"{first[0]}{body}*{_nmea_checksum(body)}", *sentences[1:]]


def build(path: Path, sentences: int, *, distinct_copies: int = 50) -> int:
    """Write at least ``sentences`` lines to ``path``; returns the number written."""
    base = _raw_corpus() + _track_corpus()
    base.sort(key=lambda x: x[0])
    variants: list[list[tuple[float, list[str]]]] = []
    for copy in range(distinct_copies):
        variant = []
        for when, sents in base:
            variant.append((when, _remap(sents, copy)))
        variants.append(variant)
    start = 1_700_000_000
    written = 0
    hour = 0  # index of the copy ("block") being written
    block_s = int(max(when for when, _ in base)) + 60
    with path.open("w") as fh:
        while written < sentences:
            variant = variants[hour % distinct_copies]
            for when, sents in variant:
                tb = TagBlock.create(receiver_timestamp=int(start + hour * block_s + when)).decode()  # type: ignore[arg-type]
                for s in sents:
                    fh.write(f"\\{tb}\\{s}\n")
                    written += 1
            hour += 1
    return written


def lines(path: Path) -> Iterator[bytes]:
    with path.open("rb") as fh:
        yield from fh
