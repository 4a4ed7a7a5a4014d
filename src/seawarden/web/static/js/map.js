// The maps: the offline Natural Earth basemap (optionally a configured tile layer), the
// areas of interest with their names, and the vessels coloured by risk level.

import { h, replace } from './dom.js';
import {
  LEVELS, LEVEL_COLOURS, isNonAis, levelRank, ms, normLevel, num, relMinutes, vesselLabel,
} from './format.js';

const L = window.L;
const BASEMAP_URL = '/static/basemap/land.geojson';
let basemapPromise = null;

function loadBasemap() {
  if (!basemapPromise) {
    basemapPromise = fetch(BASEMAP_URL, { credentials: 'omit' })
      .then((r) => (r.ok ? r.json() : null))
      .catch(() => null);
  }
  return basemapPromise;
}

/** Which tile URL to use: the server's setting, or ?tiles= (off | on | a same-origin path). */
export function tileUrl(config) {
  const param = new URLSearchParams(window.location.search).get('tiles');
  if (param === 'off') return null;
  if (param && param !== 'on') {
    // only same-origin templates: the page's security policy would block any other host
    return param.startsWith('/') && !param.startsWith('//') ? param : null;
  }
  return (config && config.tile_url) || null;
}

/** A Leaflet map with the land basemap (and tiles if configured). */
export function createMap(el, config, options = {}) {
  const map = L.map(el, {
    zoomControl: true,
    attributionControl: true,
    worldCopyJump: true,
    preferCanvas: false,
    minZoom: 2,
    maxZoom: 16,
    ...options,
  });
  map.attributionControl.setPrefix('Leaflet');
  const canvas = L.canvas({ padding: 0.3 });
  const url = tileUrl(config);
  if (url) {
    L.tileLayer(url, {
      maxZoom: (config && config.tile_max_zoom) || 18,
      attribution: (config && config.tile_attribution) || '',
      className: 'tiles',
    }).addTo(map);
    el.classList.add('has-tiles');
  } else {
    loadBasemap().then((land) => {
      if (!land) return;
      L.geoJSON(land, {
        renderer: canvas,
        interactive: false,
        // no stroke: the 1:10m / 1:50m seam would show as a line; the fill is the coast
        style: () => ({ stroke: false, fillColor: '#27374a', fillOpacity: 1 }),
      }).addTo(map).bringToBack();
      map.attributionControl.addAttribution('Natural Earth');
    });
  }
  return map;
}

/** Draw the areas of interest, each with a permanent name label. Returns the layer. */
export function drawAreas(map, collection, { labels = true } = {}) {
  const layer = L.geoJSON(collection, {
    style: (feature) => {
      const kind = String((feature.properties && feature.properties.kind) || 'area');
      return { className: `area area-${kind.replace(/[^a-z0-9_-]/gi, '')}`, weight: 2 };
    },
    onEachFeature: (feature, path) => {
      const p = feature.properties || {};
      const id = p.id || feature.id || '';
      const name = p.name || id;
      if (labels) {
        const label = h('span', { testid: 'area-label', dataset: { areaId: id }, title: name }, shortName(name));
        path.bindTooltip(label, {
          permanent: true, direction: 'center', className: 'area-label', opacity: 1,
        });
      } else {
        path.bindTooltip(name, { className: 'area-label', sticky: true });
      }
    },
  });
  layer.addTo(map);
  if (labels) {
    layer.priority = new Set(); // area ids whose labels win a collision (alerted areas)
    const run = () => declutter(map, layer);
    map.on('zoomend moveend', run);
    layer.declutter = run;
    setTimeout(run, 0);
  }
  return layer;
}

/**
 * Hide area labels that would overlap one drawn before them (alerted areas first, then
 * the larger areas), so the names that are shown can be read.
 */
export function declutter(map, layer) {
  const entries = [];
  layer.eachLayer((path) => {
    const tip = path.getTooltip && path.getTooltip();
    const el = tip && tip.getElement && tip.getElement();
    if (!el) return;
    const id = (path.feature && path.feature.properties && path.feature.properties.id) || '';
    const b = path.getBounds ? path.getBounds() : null;
    const size = b ? Math.abs((b.getEast() - b.getWest()) * (b.getNorth() - b.getSouth())) : 0;
    entries.push({ el, id, size, alerted: layer.priority.has(id) });
  });
  entries.sort((a, b) => (b.alerted - a.alerted) || (b.size - a.size));
  const placed = [];
  for (const e of entries) {
    e.el.classList.remove('label-hidden');
    const r = e.el.getBoundingClientRect();
    const hit = placed.some((p) => r.left < p.right + 4 && r.right > p.left - 4
      && r.top < p.bottom + 2 && r.bottom > p.top - 2);
    if (hit) e.el.classList.add('label-hidden');
    else placed.push(r);
  }
}

/** "Estlink 2 (Anttila FI – Püssi EE) HVDC" → "Estlink 2": the name before any bracket. */
export function shortName(name) {
  const s = String(name || '');
  const cut = s.indexOf(' (');
  return cut > 2 ? s.slice(0, cut) : s;
}

/** The risk legend under the map. */
export function drawLegend(el) {
  replace(
    el,
    h('span', { class: 'legend-title' }, 'Risk'),
    LEVELS.map((level) => h('span', { class: `legend-item risk-${level}` },
      h('span', { class: 'legend-swatch' }), level)),
    h('span', { class: 'legend-item' }, h('span', { class: 'legend-watch' }), 'watchlist'),
    h('span', { class: 'legend-item' }, h('span', { class: 'legend-track' }), 'predicted track'),
  );
}

function remPx() {
  return parseFloat(getComputedStyle(document.documentElement).fontSize) || 16;
}

function bearing(v) {
  const moving = Number(v.speed_kn) >= 0.5;
  const deg = Number.isFinite(v.heading_deg) ? v.heading_deg
    : (moving && Number.isFinite(v.course_deg) ? v.course_deg : null);
  return { deg, moving };
}

/** The live picture: one marker per vessel, predicted tracks for monitored vessels. */
export class VesselLayer {
  constructor(map, { onSelect }) {
    this.map = map;
    this.onSelect = onSelect;
    this.vessels = new Map(); // mmsi -> {data, marker, el, arrow, track, tip}
    this.group = L.layerGroup().addTo(map);
    this.tracks = L.layerGroup().addTo(map);
    this.pictureMs = NaN;
    this.areaName = (id) => id;
  }

  /** Latest data time seen (the "picture time", which in a replay is not the wall clock). */
  picture() {
    return Number.isFinite(this.pictureMs) ? this.pictureMs : Date.now();
  }

  /** Replace the whole picture from GET /api/vessels. */
  setAll(items) {
    const seen = new Set();
    for (const v of items) {
      seen.add(String(v.mmsi));
      this.upsert(v, { replace: true });
    }
    for (const key of [...this.vessels.keys()]) if (!seen.has(key)) this.remove(key);
  }

  remove(key) {
    const entry = this.vessels.get(key);
    if (!entry) return;
    this.group.removeLayer(entry.marker);
    if (entry.track) this.tracks.removeLayer(entry.track);
    this.vessels.delete(key);
  }

  /** A position from the stream (only kinematics): merge into what we know. */
  position(p) {
    if (!p || p.mmsi === undefined || !Number.isFinite(p.lat) || !Number.isFinite(p.lon)) return;
    const key = String(p.mmsi);
    const entry = this.vessels.get(key);
    const merged = { ...(entry ? entry.data : { risk_level: 'info' }), ...p };
    if (p.time && !p.last_seen) merged.last_seen = p.time;
    this.upsert(merged, { replace: true });
  }

  upsert(v, { replace: full = false } = {}) {
    if (!Number.isFinite(v.lat) || !Number.isFinite(v.lon)) return;
    const key = String(v.mmsi);
    const t = ms(v.last_seen);
    if (Number.isFinite(t) && !(t <= this.pictureMs)) this.pictureMs = t;
    let entry = this.vessels.get(key);
    if (!entry) {
      const arrow = h('span', { class: 'vessel-arrow' });
      const el = h('div', { testid: 'vessel-marker', class: 'vessel', dataset: { mmsi: key } },
        arrow, h('span', { class: 'vessel-badge' }, 'W'));
      const size = Math.round(1.875 * remPx()); // .vessel is 1.875rem square (app.css)
      const icon = L.divIcon({ html: el, className: 'vessel-icon', iconSize: [size, size] });
      const marker = L.marker([v.lat, v.lon], { icon, keyboard: true, title: vesselLabel(v) });
      marker.on('click', () => this.onSelect(Number(v.mmsi)));
      marker.bindTooltip('', { direction: 'top', offset: [0, -14], className: 'vessel-tip' });
      entry = { data: v, marker, el, arrow, track: null, crossing: null };
      this.vessels.set(key, entry);
      marker.addTo(this.group);
    }
    entry.data = full ? v : { ...entry.data, ...v };
    this.render(entry);
  }

  render(entry) {
    const v = entry.data;
    const level = normLevel(v.risk_level);
    const { deg, moving } = bearing(v);
    entry.marker.setLatLng([v.lat, v.lon]);
    entry.marker.setZIndexOffset(levelRank(level) * 1000 + (v.watchlist ? 500 : 0));
    const el = entry.el;
    el.className = `vessel risk-${level}${v.watchlist ? ' watch' : ''}${v.monitored ? ' monitored' : ''}`
      + `${deg === null ? ' still' : ''}${moving ? '' : ' slow'}${isNonAis(v) ? ' non-ais' : ''}`;
    el.dataset.nonAis = String(isNonAis(v));
    el.dataset.risk = level;
    el.dataset.watchlist = String(Boolean(v.watchlist));
    el.dataset.monitored = String(Boolean(v.monitored));
    el.title = vesselLabel(v);
    entry.arrow.style.transform = deg === null ? '' : `rotate(${Math.round(deg)}deg)`;
    this.renderTrack(entry);
    if (!entry.crossing) {
      entry.marker.setTooltipContent(
        `${vesselLabel(v)} · ${num(v.speed_kn, 1, ' kn')} · ${num(v.course_deg, 0, '°')} · ${level}`,
      );
    }
  }

  renderTrack(entry) {
    const v = entry.data;
    const points = Array.isArray(v.predicted_track) ? v.predicted_track : [];
    if (entry.track) { this.tracks.removeLayer(entry.track); entry.track = null; }
    if (v.monitored && points.length) {
      const line = [[v.lat, v.lon], ...points.filter((p) => Number.isFinite(p.lat)).map((p) => [p.lat, p.lon])];
      entry.track = L.polyline(line, {
        className: `predicted-track risk-${normLevel(v.risk_level)}`, interactive: false, weight: 2,
      }).addTo(this.tracks);
    }
    const nc = v.next_crossing;
    if (v.monitored && nc) {
      const label = crossingText(nc, this.picture(), this.areaName);
      if (!entry.crossing) {
        entry.crossing = h('span', { testid: 'next-crossing', dataset: { mmsi: String(v.mmsi) } });
        entry.crossingTip = L.tooltip({
          permanent: true, direction: 'right', offset: [14, 0], className: 'crossing-tip', opacity: 1,
        }).setContent(entry.crossing);
        // a marker has one tooltip: the crossing label takes it (the hover text is the title)
        entry.marker.unbindTooltip();
        entry.marker.bindTooltip(entry.crossingTip).openTooltip();
      }
      entry.crossing.textContent = label;
    } else if (entry.crossing) {
      entry.marker.unbindTooltip();
      entry.marker.bindTooltip('', { direction: 'top', offset: [0, -14], className: 'vessel-tip' });
      entry.crossing = null;
      entry.crossingTip = null;
    }
  }

  /** Re-render the time-dependent labels ("in N min"). */
  tick() {
    for (const entry of this.vessels.values()) {
      if (entry.crossing && entry.data.next_crossing) {
        entry.crossing.textContent = crossingText(entry.data.next_crossing, this.picture(), this.areaName);
      }
    }
  }

  summary() {
    let monitored = 0; let watch = 0; let high = 0;
    for (const { data } of this.vessels.values()) {
      if (data.monitored) monitored += 1;
      if (data.watchlist) watch += 1;
      if (levelRank(data.risk_level) >= 3) high += 1;
    }
    return { total: this.vessels.size, monitored, watch, high };
  }

  get(mmsi) {
    const entry = this.vessels.get(String(mmsi));
    return entry ? entry.data : null;
  }

  focus(mmsi) {
    const entry = this.vessels.get(String(mmsi));
    if (!entry) return false;
    this.map.panTo(entry.marker.getLatLng());
    entry.el.classList.add('selected');
    setTimeout(() => entry.el.classList.remove('selected'), 4000);
    return true;
  }

  bounds() {
    const pts = [...this.vessels.values()].map((e) => e.marker.getLatLng());
    return pts.length ? L.latLngBounds(pts) : null;
  }
}

/** "next crossing Estlink 2 in 12 min" (inside now: "inside Estlink 2"). */
export function crossingText(nc, pictureMs, areaName = (id) => id) {
  const name = areaName(nc.area_id) || nc.area_id;
  if (nc.inside_now) return `inside ${name}`;
  const eta = ms(nc.eta);
  const rel = relMinutes(eta - pictureMs);
  const dist = Number.isFinite(nc.distance_m) ? ` · ${(nc.distance_m / 1852).toFixed(1)} nm` : '';
  return `next crossing ${name} ${rel}${dist}`;
}

export { LEVEL_COLOURS };
