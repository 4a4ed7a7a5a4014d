// Speed and course over time (uPlot), with the detector events drawn as labelled bands.

import uPlot from '../vendor/uplot/uPlot.esm.js';
import { ms } from './format.js';

const EVENT_COLOURS = ['#cc79a7', '#009e73', '#f0e442', '#56b4e9', '#e69f00', '#d55e00'];

export function eventSpan(e) {
  const start = ms(e.start || e.start_time || e.opened || e.time || e.event_time);
  let end = ms(e.end || e.end_time || e.closed || e.last_time);
  if (!Number.isFinite(end)) end = start;
  return { start, end };
}

/** Break the course line where it wraps through north (359° → 1°), so no vertical spikes. */
function unwrapBreaks(xs, course) {
  const outX = []; const outC = []; const idx = [];
  for (let i = 0; i < xs.length; i += 1) {
    if (i > 0 && course[i] !== null && course[i - 1] !== null && Math.abs(course[i] - course[i - 1]) > 180) {
      outX.push((xs[i] + xs[i - 1]) / 2); outC.push(null); idx.push(-1);
    }
    outX.push(xs[i]); outC.push(course[i]); idx.push(i);
  }
  return { outX, outC, idx };
}

function eventsPlugin(events) {
  const colourOf = new Map();
  for (const e of events) {
    const d = String(e.detector || e.kind || 'event');
    if (!colourOf.has(d)) colourOf.set(d, EVENT_COLOURS[colourOf.size % EVENT_COLOURS.length]);
  }
  return {
    hooks: {
      draw: [(u) => {
        const { ctx } = u;
        const { top, height, left, width } = u.bbox;
        ctx.save();
        ctx.font = `${Math.round(12 * devicePixelRatio)}px system-ui, sans-serif`;
        let row = 0;
        for (const e of events) {
          const { start, end } = eventSpan(e);
          if (!Number.isFinite(start)) continue;
          const x0 = Math.max(left, u.valToPos(start / 1000, 'x', true));
          const x1 = Math.min(left + width, Math.max(x0 + 2 * devicePixelRatio, u.valToPos(end / 1000, 'x', true)));
          if (x1 < left || x0 > left + width) continue;
          const colour = colourOf.get(String(e.detector || e.kind || 'event'));
          ctx.fillStyle = `${colour}33`;
          ctx.fillRect(x0, top, x1 - x0, height);
          ctx.fillStyle = colour;
          ctx.fillRect(x0, top, 2 * devicePixelRatio, height);
          const label = String(e.detector || e.kind || 'event');
          ctx.fillText(label, x0 + 4 * devicePixelRatio, top + (14 + 14 * (row % 3)) * devicePixelRatio);
          row += 1;
        }
        ctx.restore();
      }],
    },
  };
}

/**
 * Draw the plot in el. track: [{time, speed_kn, course_deg}], events: detector events.
 * Returns {destroy()}.
 */
export function drawPlot(el, track, events) {
  const points = track.filter((p) => Number.isFinite(ms(p.time)));
  const xs = points.map((p) => ms(p.time) / 1000);
  const speed = points.map((p) => (Number.isFinite(p.speed_kn) ? p.speed_kn : null));
  const course = points.map((p) => (Number.isFinite(p.course_deg) ? p.course_deg : null));
  const { outX, outC, idx } = unwrapBreaks(xs, course);
  const outS = idx.map((i) => (i < 0 ? null : speed[i]));
  const axis = { stroke: '#c9d4df', grid: { stroke: '#2a3948', width: 1 }, ticks: { stroke: '#2a3948' } };
  const opts = {
    width: Math.max(300, el.clientWidth || 600),
    height: Math.max(180, el.clientHeight || 240),
    cursor: { drag: { x: true, y: false } },
    legend: { show: true, live: true },
    scales: { x: { time: true }, kn: { auto: true, range: (u, lo, hi) => [0, Math.max(2, hi * 1.1)] }, deg: { range: [0, 360] } },
    axes: [
      { ...axis, values: (u, ticks) => ticks.map((t) => new Date(t * 1000).toISOString().slice(11, 16)) },
      { ...axis, scale: 'kn', label: 'speed (kn)', size: 56 },
      { ...axis, scale: 'deg', side: 1, label: 'course (°)', size: 56, splits: () => [0, 90, 180, 270, 360], grid: { show: false } },
    ],
    series: [
      { label: 'time (UTC)', value: (u, v) => (v === null ? '—' : new Date(v * 1000).toISOString().slice(11, 19)) },
      { label: 'speed kn', scale: 'kn', stroke: '#56b4e9', width: 2, spanGaps: true },
      { label: 'course °', scale: 'deg', stroke: '#e69f00', width: 1.5, points: { show: false }, spanGaps: false },
    ],
    plugins: [eventsPlugin(events)],
  };
  const plot = new uPlot(opts, [outX, outS, outC], el);
  const resize = new ResizeObserver(() => {
    const w = el.clientWidth;
    if (w > 0) plot.setSize({ width: w, height: Math.max(180, Math.min(320, Math.round(w * 0.38))) });
  });
  resize.observe(el);
  return {
    destroy() { resize.disconnect(); plot.destroy(); },
  };
}
