// The vessel dossier: identity and its history, watchlist match, risk contributions, the
// track on a map and speed/course over time with the detector events marked.

import { getJSON } from './api.js';
import { reportButtons } from './alerts.js';
import { h, replace, toast } from './dom.js';
import { hhmm, isNonAis, latlon, ms, normLevel, num, stamp, text, vesselLabel } from './format.js';
import { createMap, drawAreas, crossingText } from './map.js';
import { drawPlot } from './plot.js';

const L = window.L;

/** Detector situations from the event list: one per id, with its span and reasons. */
export function detectorSituations(events) {
  const byId = new Map();
  for (const e of events || []) {
    const kind = String(e.kind || '');
    if (!kind || kind.includes('.')) continue; // area.* / identity.* / watchlist.*: not detectors
    const t = ms(e.time);
    const attrs = e.attrs || {};
    let s = byId.get(e.id);
    if (!s) {
      s = { id: e.id, detector: kind, start: t, end: t, phase: e.phase, reasons: [], version: e.producer_version, lat: e.lat, lon: e.lon };
      byId.set(e.id, s);
    }
    const started = ms(attrs.started);
    if (Number.isFinite(started)) s.start = Math.min(s.start, started);
    if (Number.isFinite(t)) { s.start = Math.min(s.start, t); s.end = Math.max(s.end, t); }
    if (e.phase === 'close' || !s.closed) s.phase = e.phase;
    if (e.phase === 'close') s.closed = true;
    if (Array.isArray(attrs.reasons) && attrs.reasons.length) s.reasons = attrs.reasons;
    if (Number.isFinite(attrs.confidence)) s.confidence = attrs.confidence;
  }
  return [...byId.values()].sort((a, b) => a.start - b.start)
    .map((s) => ({ ...s, start: new Date(s.start).toISOString(), end: new Date(s.end).toISOString() }));
}

function table(testid, headers, rows, empty) {
  if (!rows.length) return h('p', { class: 'muted', testid }, empty);
  return h('table', { class: 'grid', testid },
    h('thead', {}, h('tr', {}, headers.map((x) => h('th', {}, x)))),
    h('tbody', {}, rows.map((r) => h('tr', {}, r.map((c) => h('td', {}, c))))));
}

function kv(testid, pairs) {
  return h('dl', { class: 'kv', testid }, pairs.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
}

function watchlistBlock(w) {
  if (!w) return h('p', { class: 'muted', testid: 'dossier-watchlist' }, 'Not on the watchlist.');
  const entry = w.entry || {};
  return h('div', { class: 'watch-block', testid: 'dossier-watchlist' },
    h('p', { class: 'badge badge-watch' }, 'WATCHLIST MATCH'),
    kv('dossier-watchlist-detail', [
      ['matched on', `${text(w.key)}${Number.isFinite(w.score) ? ` (score ${w.score.toFixed(2)})` : ''}`],
      ['listed name', text(entry.name)],
      ['IMO', text(entry.imo)],
      ['lists', Array.isArray(entry.lists) && entry.lists.length ? entry.lists.join(', ') : '—'],
      ['reason', text(entry.reason || w.detail)],
      ['source', text(entry.source)],
    ]));
}

function contributionsBlock(contributions) {
  const rows = [...(contributions || [])].sort((a, b) => (Number(b.weight) || 0) - (Number(a.weight) || 0));
  if (!rows.length) return h('p', { class: 'muted', testid: 'dossier-contributions' }, 'Nothing contributes to this vessel’s risk.');
  const max = Math.max(...rows.map((r) => Math.abs(Number(r.weight) || 0)), 1);
  return h('ul', { class: 'contributions', testid: 'dossier-contributions' }, rows.map((r) => {
    const bar = h('span', { class: 'contrib-bar' });
    bar.style.width = `${Math.round((100 * Math.abs(Number(r.weight) || 0)) / max)}%`;
    return h('li', { class: 'contrib' },
      h('span', { class: 'contrib-weight' }, num(r.weight, 1)),
      h('span', { class: 'contrib-detector' }, r.detector),
      h('span', { class: 'contrib-text' }, r.text),
      h('span', { class: 'contrib-track' }, bar));
  }));
}

export class Dossier {
  constructor({ el, config, areas, areaName, feed, picture, onClose }) {
    this.el = el;
    this.config = config;
    this.areas = areas; // () => FeatureCollection | null
    this.areaName = areaName;
    this.feed = feed;
    this.picture = picture;
    this.onClose = onClose;
    this.map = null;
    this.plot = null;
    this.mmsi = null;
    this.seq = 0;
  }

  close() {
    this.teardown();
    this.el.hidden = true;
    this.el.replaceChildren();
    this.mmsi = null;
    document.body.classList.remove('dossier-open');
    this.onClose();
  }

  teardown() {
    if (this.plot) { this.plot.destroy(); this.plot = null; }
    if (this.map) { this.map.remove(); this.map = null; }
  }

  /** Open for a vessel; alertId: the alert it was opened from (listed first). */
  async open(mmsi, alertId = null, fallback = null) {
    const seq = ++this.seq;
    this.teardown();
    this.mmsi = mmsi;
    this.el.hidden = false;
    this.el.dataset.mmsi = String(mmsi);
    document.body.classList.add('dossier-open');
    replace(this.el, this.header({ mmsi, name: fallback && fallback.name }), h('p', { class: 'muted pad' }, 'Loading…'));
    let d;
    try {
      d = await getJSON(`/api/vessels/${encodeURIComponent(mmsi)}`);
    } catch (err) {
      if (err.unauthorized || seq !== this.seq) return;
      if (err.status === 403 || err.status === 404) {
        d = { mmsi, ...(fallback || {}), unavailable: err.status };
      } else {
        toast(`Dossier: ${err.message}`, 'error');
        return;
      }
    }
    if (seq !== this.seq) return;
    let track = [];
    if (!d.unavailable) {
      try {
        const end = d.last_seen || null;
        const params = end ? { end, start: new Date(ms(end) - 6 * 3600e3).toISOString() } : null;
        track = (await getJSON(`/api/vessels/${encodeURIComponent(mmsi)}/track`, params)).items || [];
      } catch (err) {
        if (err.unauthorized) return;
        toast(`Track: ${err.message}`, 'error');
      }
    }
    if (seq !== this.seq) return;
    this.render(d, track, alertId);
  }

  header(d) {
    return h('header', { class: 'dossier-head' },
      h('h2', {}, vesselLabel(d)),
      d.risk_level ? h('span', { class: `sev-badge risk-${normLevel(d.risk_level)}`, testid: 'dossier-risk' },
        `${normLevel(d.risk_level)} ${num(d.risk_score, 0)}`) : null,
      d.watchlist ? h('span', { class: 'badge badge-watch' }, 'WATCHLIST') : null,
      h('span', { class: 'topbar-fill' }),
      h('button', { type: 'button', class: 'btn', testid: 'dossier-close', on: { click: () => this.close() } }, 'Close ✕'));
  }

  render(d, track, alertId) {
    const situations = detectorSituations(d.events || []);
    const nc = d.next_crossing;
    const identity = kv('dossier-identity', [
      ['name', text(d.name)], [isNonAis(d) ? 'target id (no AIS)' : 'MMSI', text(d.mmsi)], ['IMO', text(d.imo)], ['call sign', text(d.callsign)],
      ['flag', text(d.flag)], ['ship type', text(d.ship_type)],
      ['position', latlon(d.lat, d.lon)],
      ['speed / course', `${num(d.speed_kn, 1, ' kn')} / ${num(d.course_deg, 0, '°')}`
        + (Number.isFinite(d.heading_deg) ? ` (heading ${d.heading_deg}°)` : '')],
      ['last seen', stamp(d.last_seen)],
      ['monitored', d.monitored ? 'yes' : 'no'],
      ['next crossing', nc ? crossingText(nc, this.picture(), this.areaName) : '—'],
    ]);
    const history = table('dossier-identity-history', ['time', 'field', 'old', 'new', 'source'],
      (d.identity_history || []).map((x) => [stamp(x.time), x.field, text(x.old), text(x.new), text(x.source)]),
      'No identity changes recorded.');
    const eventsList = table('dossier-events', ['detector', 'from', 'to', 'phase', 'reasons'],
      situations.map((s) => [s.detector, stamp(s.start), stamp(s.end), text(s.phase), (s.reasons || []).join('; ') || '—']),
      'No detector events.');
    const alertIds = [];
    for (const a of d.alerts || []) if (!alertIds.includes(a.id)) alertIds.push(a.id);
    for (const i of this.feed.forVessel(d.mmsi)) if (!alertIds.includes(i.alert.id)) alertIds.push(i.alert.id);
    if (alertId && !alertIds.includes(alertId)) alertIds.unshift(alertId);
    if (alertId) alertIds.sort((x, y) => (x === alertId ? -1 : y === alertId ? 1 : 0));
    const latestRev = new Map();
    for (const a of d.alerts || []) if (!latestRev.has(a.id)) latestRev.set(a.id, a);
    const alertsBlock = alertIds.length
      ? h('ul', { class: 'dossier-alerts', testid: 'dossier-alerts' }, alertIds.map((id) => {
        const a = latestRev.get(id) || (this.feed.items.get(id) || { item: { alert: { id } } }).item.alert;
        return h('li', { dataset: { alertId: id } },
          h('span', { class: `sev-badge risk-${normLevel(a.severity)}` }, normLevel(a.severity)),
          h('span', { class: 'mono' }, id),
          h('span', { class: 'muted' }, `${text(a.msg_type)} rev ${text(a.revision)} · ${hhmm(a.event_time)}`),
          reportButtons(id));
      }))
      : h('p', { class: 'muted', testid: 'dossier-alerts' }, 'No alerts for this vessel.');

    const mapEl = h('div', { class: 'dossier-map', testid: 'dossier-track-map' });
    const plotEl = h('div', { class: 'dossier-plot', testid: 'dossier-plot', dataset: { points: String(track.length) } });
    replace(this.el,
      this.header(d),
      d.unavailable ? h('p', { class: 'muted pad' }, 'Vessel details are not available to this role; showing what the alert carries.') : null,
      h('div', { class: 'dossier-body' },
        h('section', { class: 'dossier-col' },
          h('h3', {}, 'Identity'), identity,
          h('h3', {}, 'Watchlist'), watchlistBlock(d.watchlist),
          h('h3', {}, `Risk ${d.risk_level ? `— ${normLevel(d.risk_level)} (${num(d.risk_score, 0)})` : ''}`),
          contributionsBlock(d.contributions),
          h('h3', {}, 'Alerts and evidence reports'), alertsBlock),
        h('section', { class: 'dossier-col' },
          h('h3', {}, `Track (${track.length} positions${track.length ? `, ${hhmm(track[0].time)} – ${hhmm(track[track.length - 1].time)}` : ''})`),
          mapEl,
          h('h3', {}, 'Speed and course over time'), plotEl,
          h('h3', {}, 'Detector events'), eventsList,
          h('h3', {}, 'Identity history'), history)));

    requestAnimationFrame(() => {
      if (this.mmsi !== d.mmsi && String(this.mmsi) !== String(d.mmsi)) return;
      this.drawTrackMap(mapEl, d, track, situations);
      if (track.length) this.plot = drawPlot(plotEl, track, situations);
      else replace(plotEl, h('p', { class: 'muted pad' }, 'No stored positions in the window.'));
    });
  }

  drawTrackMap(el, d, track, situations) {
    const map = createMap(el, this.config, { zoomControl: true, worldCopyJump: false });
    this.map = map;
    map.setView([57, 15], 4); // a view before any layer (Leaflet clips paths to it)
    const areas = this.areas();
    if (areas) drawAreas(map, areas, { labels: false });
    const line = track.filter((p) => Number.isFinite(p.lat) && Number.isFinite(p.lon)).map((p) => [p.lat, p.lon]);
    const level = normLevel(d.risk_level);
    let bounds = null;
    if (line.length) {
      const poly = L.polyline(line, { className: `track-line risk-${level}`, weight: 3 }).addTo(map);
      bounds = poly.getBounds();
      L.circleMarker(line[0], { className: 'track-start', radius: 5 }).bindTooltip(`start ${hhmm(track[0].time)}`).addTo(map);
    }
    for (const s of situations) {
      if (!Number.isFinite(s.lat) || !Number.isFinite(s.lon)) continue;
      L.circleMarker([s.lat, s.lon], { className: 'track-event', radius: 7 })
        .bindTooltip(`${s.detector} ${hhmm(s.start)}`).addTo(map);
    }
    if (Number.isFinite(d.lat) && Number.isFinite(d.lon)) {
      L.circleMarker([d.lat, d.lon], { className: `track-now risk-${level}`, radius: 7 })
        .bindTooltip(`last seen ${hhmm(d.last_seen)}`).addTo(map);
      if (Array.isArray(d.predicted_track) && d.predicted_track.length) {
        L.polyline([[d.lat, d.lon], ...d.predicted_track.map((p) => [p.lat, p.lon])],
          { className: `predicted-track risk-${level}`, weight: 2 }).addTo(map);
      }
      bounds = bounds ? bounds.extend([d.lat, d.lon]) : L.latLngBounds([[d.lat, d.lon]]);
    }
    if (bounds) map.fitBounds(bounds.pad(0.15), { maxZoom: 12 });
  }
}
