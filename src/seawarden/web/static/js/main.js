// The console's entry point: login, role, and wiring of map, feed, dossier and live stream.

import { authFetch, getJSON, getToken, probe, setToken, setUnauthorizedHandler } from './api.js';
import { AlertFeed, alertState } from './alerts.js';
import { $, toast } from './dom.js';
import { Dossier } from './dossier.js';
import { hhmm, normLevel, stamp } from './format.js';
import { VesselLayer, createMap, drawAreas, drawLegend, shortName } from './map.js';
import { openStream } from './sse.js';

const MESSAGE_KEY = 'seawarden.loginMessage';
const VESSEL_REFRESH_MS = 30000;

function signOut(message = '') {
  setToken('');
  if (message) sessionStorage.setItem(MESSAGE_KEY, message);
  window.location.reload();
}

function showLogin() {
  $('app').hidden = true;
  $('login').hidden = false;
  const msg = sessionStorage.getItem(MESSAGE_KEY);
  sessionStorage.removeItem(MESSAGE_KEY);
  $('login-error').textContent = msg || '';
  $('login-token').focus();
  $('login-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const token = $('login-token').value.trim();
    if (!token) return;
    $('login-submit').disabled = true;
    $('login-error').textContent = '';
    setToken(token);
    const check = await probe('/api/alerts?limit=1');
    if (check.status === 200) { window.location.reload(); return; }
    setToken('');
    $('login-submit').disabled = false;
    $('login-error').textContent = check.status === 401
      ? 'Token refused: check it and try again.'
      : `The server answered ${check.status || 'nothing'}; try again.`;
  });
}

/** Who the token is (GET /api/me): role, and for an ally its nation. */
async function whoAmI() {
  const r = await probe('/api/me');
  if (r.status === 200 && r.body && typeof r.body === 'object') return r.body;
  return { role: 'ally', nation: null }; // least privilege if the answer is unreadable
}

async function loadConfig() {
  try {
    const r = await fetch('/console/config.json', { credentials: 'omit' });
    return r.ok ? await r.json() : {};
  } catch {
    return {};
  }
}

async function start(config) {
  let signingOut = false;
  setUnauthorizedHandler(() => {
    if (signingOut) return;
    signingOut = true;
    signOut('Your session was refused by the server (401). Sign in again.');
  });
  const first = await probe('/api/alerts?limit=1');
  if (first.status === 401) return;
  const me = await whoAmI();
  const role = ['admin', 'analyst', 'ally'].includes(me.role) ? me.role : 'ally';
  const staff = role !== 'ally';
  const app = $('app');
  app.dataset.role = role;
  document.body.classList.add(`role-${role}`);
  $('user-role').textContent = role === 'ally' && me.nation ? `ally · ${me.nation}` : role;
  $('login').hidden = true;
  app.hidden = false;
  $('logout').addEventListener('click', () => signOut());

  const map = createMap($('map'), config);
  map.setView([57, 15], 5);
  drawLegend($('map-legend'));

  let areasFC = null;
  let areaLayer = null;
  const areaNames = new Map();
  const areaName = (id) => areaNames.get(id) || id;

  const dossierEl = $('dossier');
  const vessels = new VesselLayer(map, { onSelect: (mmsi) => openDossier(mmsi) });
  vessels.areaName = areaName;
  // the picture time: the newest data time seen (a replay runs behind the wall clock)
  const picture = () => {
    const t = Math.max(...[vessels.pictureMs, feed.latestMs()].filter(Number.isFinite));
    return Number.isFinite(t) ? t : Date.now();
  };
  vessels.picture = picture;

  const feed = new AlertFeed({
    el: $('alert-feed'), role, areaName, picture,
    onSelectVessel: (mmsi, alertId) => openDossier(mmsi, alertId),
  });
  const dossier = new Dossier({
    el: dossierEl, config, areas: () => areasFC, areaName, feed, picture, onClose: () => map.invalidateSize(),
  });

  function openDossier(mmsi, alertId = null) {
    vessels.focus(mmsi);
    let fallback = vessels.get(mmsi);
    if (!fallback && alertId && feed.items.get(alertId)) {
      const a = feed.items.get(alertId).item.alert;
      fallback = { ...a, risk_level: a.severity, risk_score: a.score, contributions: a.reasons };
    }
    dossier.open(mmsi, alertId, fallback);
    setTimeout(() => map.invalidateSize(), 50);
  }

  document.addEventListener('keydown', (ev) => {
    if (ev.key === 'Escape' && !dossierEl.hidden && !$('action-dialog').open) dossier.close();
  });

  function summarise() {
    const s = vessels.summary();
    $('map-summary').textContent = staff
      ? `${s.total} vessels · ${s.high} high/critical · ${s.monitored} monitored · ${s.watch} watchlisted`
      : `${s.total} alerted positions`;
  }

  // An ally may read only alerts: its map shows where the alerts are.
  function alertPositions() {
    if (staff) return;
    const latest = new Map();
    for (const { item } of feed.items.values()) {
      const a = item.alert;
      const old = latest.get(a.mmsi);
      if (!old || String(a.event_time) > String(old.last_seen)) {
        latest.set(a.mmsi, {
          mmsi: a.mmsi, name: a.name, flag: a.flag, lat: a.lat, lon: a.lon, last_seen: a.event_time,
          risk_level: a.severity, risk_score: a.score, watchlist: a.watchlist, monitored: a.monitored,
          next_crossing: a.next_crossing, predicted_track: a.predicted_track || [],
        });
      }
    }
    vessels.setAll([...latest.values()]);
    summarise();
  }

  async function loadVessels(fit = false) {
    if (!staff) return;
    try {
      const page = await getJSON('/api/vessels', { limit: 5000 });
      vessels.setAll(page.items || []);
      summarise();
      if (fit) {
        const b = vessels.bounds();
        if (b && b.isValid()) map.fitBounds(b.pad(0.1), { maxZoom: 10 });
      }
    } catch (err) {
      if (!err.unauthorized) toast(`Vessels: ${err.message}`, 'error');
    }
  }

  if (staff) {
    try {
      areasFC = await getJSON('/api/areas');
      const list = [];
      for (const f of areasFC.features || []) {
        const p = f.properties || {};
        if (p.id) { areaNames.set(p.id, shortName(p.name || p.id)); list.push({ id: p.id, name: shortName(p.name || p.id) }); }
      }
      feed.setAreas(list);
      const layer = drawAreas(map, areasFC);
      areaLayer = layer;
      const b = layer.getBounds();
      if (b.isValid()) map.fitBounds(b.pad(0.05));
    } catch (err) {
      if (!err.unauthorized) toast(`Areas: ${err.message}`, 'error');
    }
  }

  try {
    await feed.load();
  } catch (err) {
    if (!err.unauthorized) toast(`Alerts: ${err.message}`, 'error');
  }
  alertPositions();
  const prioritiseAlertedAreas = () => {
    if (!areaLayer) return;
    areaLayer.priority = new Set([...feed.items.values()]
      .filter(({ item }) => !['closed', 'cancelled'].includes(alertState(item).state))
      .flatMap(({ item }) => item.alert.area_ids || []));
    areaLayer.declutter();
  };
  prioritiseAlertedAreas();
  await loadVessels(!areasFC);
  setInterval(() => loadVessels(false), VESSEL_REFRESH_MS);

  // live stream: positions are batched and drawn twice a second
  const pending = new Map();
  let streamState = 'connecting';
  // while the stream is down, poll so the feed still moves (the stream is the fast path)
  setInterval(() => {
    if (streamState !== 'live') feed.load().then(() => { alertPositions(); prioritiseAlertedAreas(); }).catch(() => {});
  }, 10000);
  openStream('/api/stream', {
    authFetch,
    onState: (state) => {
      streamState = state;
      const el = $('stream-state');
      el.dataset.state = state;
      el.textContent = { connecting: 'connecting…', live: 'live', reconnecting: 'reconnecting…', off: 'offline' }[state] || state;
      // Re-read the feed on every (re)connect, the first included: an alert published
      // between the first feed load and the stream going live would otherwise be missing.
      if (state === 'live') feed.load().then(() => { alertPositions(); prioritiseAlertedAreas(); }).catch(() => {});
    },
    onEvent: (kind, data) => {
      if (kind === 'position' && data && typeof data === 'object') pending.set(String(data.mmsi), data);
      else if (kind === 'alert') {
        feed.update(data);
        alertPositions();
        prioritiseAlertedAreas();
        if (data && data.mmsi !== undefined && vessels.get(data.mmsi) && staff) {
          vessels.upsert({ ...vessels.get(data.mmsi), risk_level: data.severity, risk_score: data.score,
            monitored: data.monitored, next_crossing: data.next_crossing, alert_id: data.id });
          summarise();
        }
        if (data && data.severity && ['high', 'critical'].includes(normLevel(data.severity))
            && data.revision === 1) {
          toast(`New ${normLevel(data.severity)} alert: ${data.name || data.mmsi}`, 'alert');
        }
      } else if (kind === 'heartbeat' && data && data.time) {
        $('stream-state').title = `last heartbeat ${stamp(data.time)}`;
      }
    },
  });
  setInterval(() => {
    if (!pending.size) return;
    for (const p of pending.values()) vessels.position(p);
    pending.clear();
    summarise();
  }, 500);

  setInterval(() => {
    const now = Date.now();
    $('clock').textContent = hhmm(now, now);
    const pic = picture();
    $('picture-time').textContent = hhmm(pic, now);
    $('picture-time').classList.toggle('behind', now - pic > 10 * 60e3);
  }, 1000);
  setInterval(() => { vessels.tick(); feed.tick(); }, 15000);
}

async function boot() {
  const config = await loadConfig();
  if (!getToken()) { showLogin(); return; }
  await start(config);
}

boot();
