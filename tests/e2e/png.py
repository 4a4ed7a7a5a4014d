"""A small PNG decoder for screenshot checks (8-bit RGB/RGBA/grey, non-interlaced).

Chromium's screenshots are 8-bit truecolour PNGs; this reads them with the standard library
only (zlib), so the end-to-end tests need no imaging package to tell a drawn map from a
blank one.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_CHANNELS = {0: 1, 2: 3, 4: 2, 6: 4}  # colour type -> samples per pixel


@dataclass(frozen=True, slots=True, kw_only=True)
class Image:
    width: int
    height: int
    channels: int
    pixels: bytes  # rows of width * channels bytes, filters undone

    def colours(self) -> list[tuple[int, ...]]:
        c, data = self.channels, self.pixels
        return [tuple(data[i : i + c]) for i in range(0, len(data), c)]


@dataclass(frozen=True, slots=True, kw_only=True)
class PixelStats:
    distinct_colours: int
    dominant_fraction: float  # share of the most common colour
    luminance_stddev: float


def decode(data: bytes) -> Image:
    """Decode a PNG; ValueError for anything this small decoder does not handle."""
    if not data.startswith(_SIGNATURE):
        raise ValueError("not a PNG")
    pos, idat, header = len(_SIGNATURE), bytearray(), None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            break
    if header is None:
        raise ValueError("PNG without IHDR")
    width, height, depth, colour_type, _, _, interlace = header
    if depth != 8 or colour_type not in _CHANNELS or interlace:
        raise ValueError(f"unsupported PNG: depth {depth}, colour type {colour_type}")
    channels = _CHANNELS[colour_type]
    raw = zlib.decompress(bytes(idat))
    stride = width * channels
    out = bytearray(height * stride)
    prev = bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind = raw[start]
        line = bytearray(raw[start + 1 : start + 1 + stride])
        _unfilter(kind, line, prev, channels)
        out[y * stride : (y + 1) * stride] = line
        prev = line
    return Image(width=width, height=height, channels=channels, pixels=bytes(out))


def _unfilter(kind: int, line: bytearray, prev: bytearray, bpp: int) -> None:
    if kind == 0:
        return
    for i in range(len(line)):
        a = line[i - bpp] if i >= bpp else 0
        b = prev[i]
        if kind == 1:
            line[i] = (line[i] + a) & 0xFF
        elif kind == 2:
            line[i] = (line[i] + b) & 0xFF
        elif kind == 3:
            line[i] = (line[i] + ((a + b) >> 1)) & 0xFF
        elif kind == 4:
            c = prev[i - bpp] if i >= bpp else 0
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
            line[i] = (line[i] + pred) & 0xFF
        else:
            raise ValueError(f"bad PNG filter type {kind}")


def stats(data: bytes) -> PixelStats:
    """Distinct colours, the most common colour's share and the luminance spread."""
    img = decode(data)
    colours = img.colours()
    counts: dict[tuple[int, ...], int] = {}
    for col in colours:
        counts[col] = counts.get(col, 0) + 1
    lum = [sum(col[:3]) / len(col[:3]) for col in colours]
    mean = sum(lum) / len(lum)
    var = sum((v - mean) ** 2 for v in lum) / len(lum)
    return PixelStats(
        distinct_colours=len(counts),
        dominant_fraction=max(counts.values()) / len(colours),
        luminance_stddev=var**0.5,
    )
