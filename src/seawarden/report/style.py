"""The report's stylesheet (inline: the file must stand alone), for screen and print."""

from __future__ import annotations

CSS = """
:root { --ink: #111827; --muted: #4b5563; --rule: #d1d5db; --band: #f3f4f6; }
* { box-sizing: border-box; }
body { font: 13px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
       color: var(--ink); margin: 0 auto; max-width: 1100px; padding: 16px 24px; }
h1 { font-size: 20px; margin: 8px 0 4px; }
h2 { font-size: 16px; border-bottom: 2px solid var(--ink); padding-bottom: 2px;
     margin: 22px 0 8px; }
h3 { font-size: 14px; margin: 14px 0 6px; }
.marking { text-align: center; font-weight: 700; letter-spacing: .08em; padding: 3px;
           border: 2px solid var(--ink); margin: 4px 0; }
.sub { color: var(--muted); margin: 0 0 8px; }
.note { color: var(--muted); font-style: italic; }
.warn { background: #fef3c7; border-left: 4px solid #d97706; padding: 6px 10px; }
table { border-collapse: collapse; width: 100%; margin: 4px 0 10px; }
th, td { border: 1px solid var(--rule); padding: 3px 6px; text-align: left; vertical-align: top; }
th { background: var(--band); font-weight: 600; }
table.kv th { width: 22%; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
pre.raw, code { font: 11.5px/1.35 ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace; }
pre.raw { margin: 0; white-space: pre-wrap; word-break: break-all; }
.sev { display: inline-block; padding: 0 6px; border-radius: 3px; color: #fff; font-weight: 600; }
.sev-info { background: #6b7280; } .sev-low { background: #2563eb; }
.sev-medium { background: #d97706; } .sev-high { background: #dc2626; }
.sev-critical { background: #7f1d1d; }
.exact { font-weight: 600; } .other { color: var(--muted); }
svg { width: 100%; height: auto; display: block; margin: 4px 0 10px; }
svg .t { font: 600 12px system-ui, sans-serif; fill: var(--ink); }
svg .tick { font: 10px system-ui, sans-serif; fill: var(--muted); }
svg .ax { stroke: var(--ink); stroke-width: 1; }
svg .grid { stroke: #e5e7eb; stroke-width: 1; }
svg .mark { stroke-width: 1.2; stroke-dasharray: 3 3; }
svg .sea { fill: #eaf2fb; } svg .land { fill: #e7e1d3; stroke: #a8a29e; stroke-width: .6; }
svg .area { fill: #f97316; fill-opacity: .22; stroke: #c2410c; stroke-width: 1; }
svg .centerline { fill: none; stroke: #9a3412; stroke-width: 1.2; stroke-dasharray: 6 4; }
svg .area-label { font: 11px system-ui, sans-serif; fill: #7c2d12; }
svg .track { stroke-width: 2.2; stroke-linecap: round; }
svg .finding { fill: #fff; stroke: #111827; stroke-width: 1.6; }
svg .scale { stroke: var(--ink); stroke-width: 3; } svg .scale-bg { fill: #fff; fill-opacity: .8; }
svg .north { font: 700 12px system-ui, sans-serif; fill: var(--ink); }
.ramp { display: inline-block; width: 160px; height: 10px; vertical-align: middle;
        background: linear-gradient(to right, #440154, #3b528b, #21918c, #5ec962, #fde725); }
footer { margin-top: 24px; color: var(--muted); font-size: 11px; }
@media print {
  @page { size: A4; margin: 14mm 12mm; }
  body { max-width: none; padding: 0; font-size: 10.5px; }
  h2 { break-after: avoid; } tr, svg, .finding-head { break-inside: avoid; }
  section.finding { break-before: page; }
  a { color: inherit; text-decoration: none; }
}
"""
