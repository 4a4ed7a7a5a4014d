// The alert feed: newest first, filters, operator actions, live updates.

import { download, getJSON, postJSON } from './api.js';
import { $, h, replace, toast } from './dom.js';
import { hhmm, levelRank, ms, normLevel, stamp, vesselLabel } from './format.js';
import { crossingText } from './map.js';

/** What the watch floor has done with an alert, as one word (data-state) and a sentence. */
export function alertState(item) {
  const a = item.alert || {};
  const op = item.operator || {};
  if (String(a.msg_type).toLowerCase() === 'cancel' || a.cancelled || op.cancelled_by) {
    return { state: 'cancelled', text: op.cancelled_by ? `cancelled by ${op.cancelled_by}` : 'cancelled' };
  }
  if (op.closed_by) {
    const why = op.close_reason ? `: ${op.close_reason}` : '';
    return { state: 'closed', text: `closed by ${op.closed_by}${why}` };
  }
  if (op.assigned_to) {
    const ack = op.acknowledged_by ? ` · ack ${op.acknowledged_by}` : '';
    return { state: 'assigned', text: `assigned to ${op.assigned_to}${ack}` };
  }
  if (op.acknowledged_by) {
    return { state: 'acknowledged', text: `acknowledged by ${op.acknowledged_by} ${hhmm(op.acknowledged_at)}` };
  }
  return { state: 'new', text: item.operator === undefined || item.operator === null ? 'issued' : 'new — not acknowledged' };
}

function alertTime(a) {
  const t = ms(a.sent || a.event_time);
  return Number.isFinite(t) ? t : 0;
}

export function reasonsOf(a) {
  const reasons = Array.isArray(a.reasons) ? [...a.reasons] : [];
  reasons.sort((x, y) => (Number(y.weight) || 0) - (Number(x.weight) || 0));
  return reasons;
}

const ACTIONS = {
  assign: {
    title: 'Assign alert', label: 'Assign to (operator or team)', hint: 'letters, digits, . _ -',
    pattern: '^[A-Za-z0-9][A-Za-z0-9_.\\-]{0,63}$', body: (v) => ({ to: v }),
  },
  close: {
    title: 'Close alert', label: 'Reason for closing', hint: 'recorded in the audit log',
    pattern: '.+', body: (v) => ({ reason: v }),
  },
  cancel: {
    title: 'Cancel alert', label: 'Reason for the cancel message', hint: 'a CAP Cancel goes to every recipient',
    pattern: '.+', body: (v) => ({ reason: v }),
  },
};

/** Ask for the assignee / reason in the dialog; resolves to the text, or null. */
function ask(action, alertId) {
  const spec = ACTIONS[action];
  const dialog = $('action-dialog');
  const input = $('action-input');
  dialog.dataset.action = action;
  dialog.dataset.alertId = alertId;
  $('action-title').textContent = `${spec.title} ${alertId}`;
  $('action-label').textContent = spec.label;
  $('action-hint').textContent = spec.hint;
  input.value = '';
  input.pattern = spec.pattern;
  input.required = true;
  return new Promise((resolve) => {
    const done = (value) => {
      dialog.close();
      $('action-form').removeEventListener('submit', submit);
      $('action-cancel').removeEventListener('click', back);
      dialog.removeEventListener('cancel', back);
      resolve(value);
    };
    const submit = (ev) => {
      ev.preventDefault();
      const value = input.value.trim();
      if (!value || !new RegExp(spec.pattern).test(value)) { input.focus(); return; }
      done(value);
    };
    const back = (ev) => { ev.preventDefault(); done(null); };
    $('action-form').addEventListener('submit', submit);
    $('action-cancel').addEventListener('click', back);
    dialog.addEventListener('cancel', back);
    dialog.showModal();
    input.focus();
  });
}

/** Evidence report buttons (HTML and PDF) for one alert. */
export function reportButtons(alertId) {
  const make = (format, label) => h('button', {
    type: 'button', class: 'btn btn-report', testid: 'report-button',
    dataset: { alertId, format },
    title: `Download the incident evidence report (${format.toUpperCase()})`,
    on: {
      click: async (ev) => {
        const btn = ev.currentTarget;
        btn.disabled = true;
        try {
          const path = `/api/alerts/${encodeURIComponent(alertId)}/report.${format}`;
          const size = await download(path, `seawarden-${alertId}.${format}`);
          toast(`Evidence report for ${alertId} downloaded (${Math.round(size / 1024)} KiB)`);
        } catch (err) {
          if (!err.unauthorized) toast(`Report failed: ${err.message}`, 'error');
        } finally {
          btn.disabled = false;
        }
      },
    },
  }, label);
  return [make('html', 'Evidence report'), make('pdf', 'PDF')];
}

export class AlertFeed {
  constructor({ el, role, areaName, onSelectVessel, picture }) {
    this.el = el;
    this.role = role;
    this.areaName = areaName;
    this.onSelectVessel = onSelectVessel;
    this.picture = picture;
    this.items = new Map(); // id -> {item, li}
    this.filters = { area: '', severity: '', flag: '', open: false };
    for (const [key, id] of [['area', 'filter-area'], ['severity', 'filter-severity'], ['flag', 'filter-flag']]) {
      $(id).addEventListener('change', (ev) => { this.filters[key] = ev.target.value; this.render(); });
    }
    $('filter-open').addEventListener('change', (ev) => { this.filters.open = ev.target.checked; this.render(); });
  }

  async load() {
    const page = await getJSON('/api/alerts', { limit: 200 });
    for (const item of page.items || []) this.put(item);
    this.render();
  }

  /** An alert from the stream or an action's answer: an AlertItem, an AlertDetail or a bare revision. */
  update(data) {
    if (!data) return;
    if (data.alert) this.put(data);
    else if (Array.isArray(data.revisions)) {
      const latest = data.revisions.reduce((a, b) => (Number(b.revision) > Number(a.revision) ? b : a));
      const old = this.items.get(data.id);
      this.put({
        alert: latest, revisions: data.revisions.length,
        operator: data.operator !== undefined ? data.operator : old && old.item.operator,
      });
    } else if (data.id) {
      const old = this.items.get(data.id);
      this.put({
        alert: data, revisions: data.revision || 1,
        operator: old ? old.item.operator : (this.role === 'ally' ? null : {}),
      });
    }
    this.render();
  }

  put(item) {
    const id = item.alert && item.alert.id;
    if (!id) return;
    const old = this.items.get(id);
    if (old && Number(old.item.alert.revision) > Number(item.alert.revision)) return; // stale
    const li = old ? old.li : h('li', { testid: 'alert-item', class: 'alert-item' });
    this.items.set(id, { item, li, drawn: false });
  }

  matches(item) {
    const a = item.alert;
    const f = this.filters;
    if (f.severity && levelRank(a.severity) < levelRank(f.severity)) return false;
    if (f.area && !(a.area_ids || []).includes(f.area)) return false;
    if (f.flag && String(a.flag || '') !== f.flag) return false;
    if (f.open && ['closed', 'cancelled'].includes(alertState(item).state)) return false;
    return true;
  }

  render() {
    const rows = [...this.items.values()].sort((x, y) => alertTime(y.item.alert) - alertTime(x.item.alert)
      || String(y.item.alert.id).localeCompare(String(x.item.alert.id)));
    const shown = [];
    for (const row of rows) {
      if (!this.matches(row.item)) continue;
      if (!row.drawn) { this.draw(row); row.drawn = true; }
      shown.push(row.li);
    }
    replace(this.el, shown.length ? shown : h('li', { class: 'empty' }, this.items.size ? 'No alert matches the filters.' : 'No alerts.'));
    this.el.dataset.count = String(shown.length);
    $('alert-count').textContent = String(shown.length);
    this.refreshFilterOptions();
  }

  draw(row) {
    const { item, li } = row;
    const a = item.alert;
    const level = normLevel(a.severity);
    const { state, text } = alertState(item);
    li.className = `alert-item sev-${level} state-${state}`;
    Object.assign(li.dataset, { alertId: a.id, mmsi: String(a.mmsi), severity: level, state });
    const areas = (a.area_ids || []).map((id) => this.areaName(id) || id);
    const reasons = reasonsOf(a);
    const staff = this.role === 'admin' || this.role === 'analyst';
    const finished = state === 'closed' || state === 'cancelled';
    const nc = a.next_crossing;
    replace(
      li,
      h('div', { class: 'alert-top' },
        h('span', { class: `sev-badge risk-${level}`, testid: 'alert-severity' }, level),
        h('button', {
          type: 'button', class: 'alert-vessel linkish', testid: 'alert-vessel',
          title: 'Open the vessel dossier', on: { click: () => this.onSelectVessel(Number(a.mmsi), a.id) },
        }, vesselLabel(a)),
        a.flag ? h('span', { class: 'flag' }, a.flag) : null,
        a.watchlist ? h('span', { class: 'badge badge-watch', title: 'on the watchlist' }, 'WATCHLIST') : null,
        h('time', { class: 'alert-time', testid: 'alert-time', datetime: a.event_time, title: stamp(a.event_time) },
          hhmm(a.event_time)),
      ),
      h('div', { class: 'alert-areas', testid: 'alert-areas' }, areas.length ? areas.join(' · ') : 'outside the areas'),
      h('ul', { class: 'alert-reasons', testid: 'alert-reasons' },
        reasons.length
          ? reasons.map((r) => h('li', {}, r.text || r.detector))
          : h('li', { class: 'warn' }, `detectors: ${(a.detectors || []).join(', ') || 'none listed'}`)),
      (a.notes || []).length
        ? h('div', { class: 'alert-notes', testid: 'alert-notes' }, ...(a.notes || []).map((n) => h('p', {}, n)))
        : null,
      row.crossing = nc ? h('div', { class: 'alert-crossing' }, this.crossingLine(nc)) : null,
      h('div', { class: 'alert-meta' },
        h('span', { class: `alert-state state-${state}`, testid: 'alert-state', dataset: { state } }, text),
        h('span', { class: 'muted' }, `score ${Math.round(Number(a.score) || 0)} · rev ${a.revision || 1}`
          + (a.status && a.status !== 'Actual' ? ` · ${a.status}` : ''))),
      h('div', { class: 'alert-actions' },
        staff && !finished && state === 'new'
          ? this.button('ack', 'Acknowledge', 'alert-ack', a.id) : null,
        staff && !finished ? this.button('assign', 'Assign', 'alert-assign', a.id) : null,
        staff && !finished ? this.button('close', 'Close', 'alert-close', a.id) : null,
        staff && !finished ? this.button('cancel', 'Cancel', 'alert-cancel', a.id) : null,
        reportButtons(a.id)),
    );
  }

  crossingLine(nc) {
    return crossingText(nc, this.picture(), this.areaName)
      + (nc.eta && !nc.inside_now ? ` (${hhmm(nc.eta, ms(nc.eta))})` : '');
  }

  /** Refresh the "in N min" texts as the picture time moves. */
  tick() {
    for (const row of this.items.values()) {
      if (row.crossing && row.item.alert.next_crossing) row.crossing.textContent = this.crossingLine(row.item.alert.next_crossing);
    }
  }

  /** Event time of the newest alert (ms), NaN if none. */
  latestMs() {
    let best = NaN;
    for (const { item } of this.items.values()) {
      const t = ms(item.alert.event_time);
      if (Number.isFinite(t) && !(t <= best)) best = t;
    }
    return best;
  }

  button(action, label, testid, alertId) {
    return h('button', {
      type: 'button', class: `btn btn-${action}`, testid,
      on: { click: (ev) => this.act(action, alertId, ev.currentTarget) },
    }, label);
  }

  async act(action, alertId, btn) {
    let body;
    if (ACTIONS[action]) {
      const value = await ask(action, alertId);
      if (value === null) return;
      body = ACTIONS[action].body(value);
    }
    btn.disabled = true;
    try {
      const detail = await postJSON(`/api/alerts/${encodeURIComponent(alertId)}/${action}`, body);
      this.update(detail);
      toast(`${alertId}: ${action === 'ack' ? 'acknowledged' : `${action} done`}`);
    } catch (err) {
      btn.disabled = false;
      if (!err.unauthorized) toast(`${action} failed: ${err.message}`, 'error');
    }
  }

  /** Vessel's alerts (for the dossier), newest first. */
  forVessel(mmsi) {
    return [...this.items.values()].map((r) => r.item).filter((i) => Number(i.alert.mmsi) === Number(mmsi))
      .sort((x, y) => alertTime(y.alert) - alertTime(x.alert));
  }

  setAreas(areas) {
    this.areaIds = areas; // [{id, name}]
    this.refreshFilterOptions();
  }

  refreshFilterOptions() {
    const areaIds = new Map((this.areaIds || []).map((a) => [a.id, a.name]));
    const flags = new Set();
    for (const { item } of this.items.values()) {
      for (const id of item.alert.area_ids || []) if (!areaIds.has(id)) areaIds.set(id, this.areaName(id) || id);
      if (item.alert.flag) flags.add(String(item.alert.flag));
    }
    fillSelect($('filter-area'), [...areaIds].sort((x, y) => String(x[1]).localeCompare(String(y[1]))), this.filters.area);
    fillSelect($('filter-flag'), [...flags].sort().map((f) => [f, f]), this.filters.flag);
  }
}

function fillSelect(select, pairs, current) {
  const key = pairs.map((p) => p[0]).join('|');
  if (select.dataset.options === key) return;
  select.dataset.options = key;
  replace(select, h('option', { value: '' }, 'all'), pairs.map(([v, label]) => h('option', { value: v }, label)));
  select.value = current && pairs.some((p) => p[0] === current) ? current : '';
}
