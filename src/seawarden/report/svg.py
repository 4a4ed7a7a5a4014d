"""Small inline-SVG charts for the evidence report: time series and a timeline.

Why not matplotlib: the report needs three plain chart types; matplotlib would add a large
pinned dependency whose SVG output embeds glyph outlines and a creation date (not
byte-stable without configuration) and whose text would escape our control. These ~200
lines write deterministic SVG (fixed decimals, no clock) in which every piece of text is
escaped here, once. Times are UTC throughout.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

WIDTH = 900
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 26, 30
_STEPS_S = (60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400)
# A perceptually ordered ramp (viridis stops): early = purple, late = yellow.
_RAMP = ((68, 1, 84), (59, 82, 139), (33, 145, 140), (94, 201, 98), (253, 231, 37))
SEVERITY_COLOURS = {
    "info": "#6b7280",
    "low": "#2563eb",
    "medium": "#d97706",
    "high": "#dc2626",
    "critical": "#7f1d1d",
}


def esc(value: object) -> str:
    """Text for HTML/SVG content or attribute values (quotes included)."""
    return html.escape(str(value), quote=True)


def num(x: float) -> str:
    return f"{x:.1f}"


def ramp(frac: float) -> str:
    """Colour of a time fraction 0 (start) .. 1 (end)."""
    f = min(max(frac, 0.0), 1.0) * (len(_RAMP) - 1)
    i = min(int(f), len(_RAMP) - 2)
    a, b, w = _RAMP[i], _RAMP[i + 1], f - i
    r, g, bl = (round(a[k] + (b[k] - a[k]) * w) for k in range(3))
    return f"#{r:02x}{g:02x}{bl:02x}"


def utc(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")


@dataclass(frozen=True, slots=True)
class TimeAxis:
    t0: float
    t1: float
    x0: float = LEFT
    x1: float = WIDTH - RIGHT

    @classmethod
    def of(cls, start: datetime, end: datetime) -> TimeAxis:
        a, b = start.timestamp(), end.timestamp()
        return cls(a, b if b > a else a + 60.0)

    @property
    def t0_dt(self) -> datetime:
        return datetime.fromtimestamp(self.t0, UTC)

    @property
    def t1_dt(self) -> datetime:
        return datetime.fromtimestamp(self.t1, UTC)

    def x(self, t: datetime | float) -> float:
        ts = t.timestamp() if isinstance(t, datetime) else t
        return self.x0 + (ts - self.t0) / (self.t1 - self.t0) * (self.x1 - self.x0)

    def ticks(self, n: int = 7) -> list[tuple[float, str]]:
        span = self.t1 - self.t0
        step = next((s for s in _STEPS_S if span / s <= n), 86400 * max(1, round(span / n / 86400)))
        first = (int(self.t0) // step + 1) * step
        out = []
        t = float(first)
        while t <= self.t1:
            d = datetime.fromtimestamp(t, UTC)
            label = d.strftime("%d %b %H:%M") if step >= 21600 else d.strftime("%H:%M")
            out.append((self.x(t), label))
            t += step
        return out


def nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """Round tick values (1, 2, 5 × 10^k steps) covering [lo, hi]."""
    raw = (hi - lo) / max(n - 1, 1)
    exp = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1.0
    step = next(s * exp for s in (1, 2, 2.5, 5, 10) if s * exp >= raw)
    first = math.ceil(lo / step) * step
    out, v = [], first
    while v <= hi + step * 1e-9:
        out.append(round(v, 10))
        v += step
    return out


def _frame(axis: TimeAxis, height: float, title: str) -> list[str]:
    bottom = height - BOTTOM
    out = [
        f'<text x="{LEFT}" y="16" class="t">{esc(title)}</text>',
        f'<line x1="{num(axis.x0)}" y1="{num(bottom)}" x2="{num(axis.x1)}" y2="{num(bottom)}"'
        ' class="ax"/>',
    ]
    for x, label in axis.ticks():
        out.append(
            f'<line x1="{num(x)}" y1="{TOP}" x2="{num(x)}" y2="{num(bottom)}" class="grid"/>'
            f'<text x="{num(x)}" y="{num(bottom + 16)}" class="tick" text-anchor="middle">'
            f"{esc(label)}</text>"
        )
    return out


@dataclass(frozen=True, slots=True, kw_only=True)
class Series:
    label: str
    colour: str
    points: Sequence[tuple[datetime, float]]
    dots: bool = False  # angles wrap at 360: dots, not a line


@dataclass(frozen=True, slots=True, kw_only=True)
class Mark:
    """A vertical line at a time (alert revisions) or a point (finding evidence)."""

    time: datetime
    colour: str
    label: str
    value: float | None = None


def series_plot(
    title: str,
    series: Sequence[Series],
    axis: TimeAxis,
    *,
    y_range: tuple[float, float] | None = None,
    y_ticks: Sequence[float] | None = None,
    marks: Sequence[Mark] = (),
    height: int = 230,
    css_class: str = "plot",
) -> str:
    values = [v for s in series for _, v in s.points] + [m.value for m in marks if m.value]
    lo, hi = y_range or ((min(values), max(values)) if values else (0.0, 1.0))
    if hi <= lo:
        hi = lo + 1.0
    bottom = height - BOTTOM

    def y(v: float) -> float:
        return bottom - (v - lo) / (hi - lo) * (bottom - TOP)

    out = _frame(axis, height, title)
    ticks = y_ticks if y_ticks is not None else nice_ticks(lo, hi)
    for v in ticks:
        out.append(
            f'<line x1="{LEFT}" y1="{num(y(v))}" x2="{num(axis.x1)}" y2="{num(y(v))}"'
            f' class="grid"/><text x="{LEFT - 6}" y="{num(y(v) + 4)}" class="tick"'
            f' text-anchor="end">{v:g}</text>'
        )
    for m in marks:
        if m.value is None:
            x = num(axis.x(m.time))
            out.append(
                f'<line x1="{x}" y1="{TOP}" x2="{x}" y2="{num(bottom)}" stroke="{esc(m.colour)}"'
                f' class="mark"><title>{esc(m.label)}</title></line>'
            )
    for s in series:
        pts = [(axis.x(t), y(v)) for t, v in s.points]
        if s.dots:
            out.extend(
                f'<circle cx="{num(px)}" cy="{num(py)}" r="1.6" fill="{esc(s.colour)}"/>'
                for px, py in pts
            )
        elif pts:
            path = " ".join(f"{num(px)},{num(py)}" for px, py in pts)
            out.append(
                f'<polyline points="{path}" fill="none" stroke="{esc(s.colour)}"'
                ' stroke-width="1.4"/>'
            )
    for m in marks:
        if m.value is not None:
            out.append(
                f'<circle cx="{num(axis.x(m.time))}" cy="{num(y(m.value))}" r="3.2"'
                f' fill="none" stroke="{esc(m.colour)}" stroke-width="1.4">'
                f"<title>{esc(m.label)}</title></circle>"
            )
    legend_x = WIDTH - RIGHT
    for s in reversed(series):
        out.append(
            f'<text x="{legend_x}" y="16" class="tick" text-anchor="end"'
            f' fill="{esc(s.colour)}">■ {esc(s.label)}</text>'
        )
        legend_x -= 9 * (len(s.label) + 3)
    return _svg(height, title, out, css_class)


@dataclass(frozen=True, slots=True, kw_only=True)
class Bar:
    start: datetime
    end: datetime
    colour: str
    label: str


@dataclass(slots=True, kw_only=True)
class Lane:
    name: str
    bars: list[Bar] = field(default_factory=list)
    ticks: list[Mark] = field(default_factory=list)


def timeline(title: str, lanes: Sequence[Lane], axis: TimeAxis) -> str:
    lane_h = 26
    height = TOP + lane_h * max(len(lanes), 1) + BOTTOM + 6
    out = _frame(axis, height, title)
    for i, lane in enumerate(lanes):
        top = TOP + 4 + i * lane_h
        out.append(
            f'<text x="{LEFT - 6}" y="{top + 15}" class="tick" text-anchor="end">'
            f"{esc(lane.name[:24])}</text>"
        )
        for b in lane.bars:
            x0, x1 = axis.x(b.start), axis.x(b.end)
            out.append(
                f'<rect x="{num(x0)}" y="{top + 4}" width="{num(max(x1 - x0, 2.0))}"'
                f' height="{lane_h - 10}" fill="{esc(b.colour)}" fill-opacity="0.55">'
                f"<title>{esc(b.label)}</title></rect>"
            )
        for m in lane.ticks:
            x = num(axis.x(m.time))
            out.append(
                f'<line x1="{x}" y1="{top + 1}" x2="{x}" y2="{top + lane_h - 3}"'
                f' stroke="{esc(m.colour)}" stroke-width="2.5"><title>{esc(m.label)}</title>'
                "</line>"
            )
    return _svg(height, title, out, "timeline")


def _svg(height: float, title: str, body: Sequence[str], css_class: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {num(height)}"'
        f' class="{css_class}" role="img" aria-label="{esc(title)}">' + "".join(body) + "</svg>"
    )
