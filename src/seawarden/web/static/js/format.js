// Formatting shared by the map, the feed and the dossier: risk levels, times, units.

export const LEVELS = ['info', 'low', 'medium', 'high', 'critical'];

// Okabe–Ito colours (distinguishable with the common colour-vision deficiencies), ordered
// so that lightness and marker size also rise with the level; the level is always written
// out in text too. Kept in step with the --risk-* variables in app.css.
export const LEVEL_COLOURS = {
  info: '#9aa7b4',
  low: '#56b4e9',
  medium: '#f0e442',
  high: '#e69f00',
  critical: '#d55e00',
};

export function levelRank(level) {
  const i = LEVELS.indexOf(String(level || '').toLowerCase());
  return i < 0 ? 0 : i;
}

export function normLevel(level) {
  return LEVELS[levelRank(level)];
}

/** Parse an ISO time to epoch ms (NaN if missing). */
export function ms(iso) {
  if (!iso) return NaN;
  return Date.parse(iso);
}

const pad = (n) => String(n).padStart(2, '0');

/** "14:03:27Z" for a time today (UTC), "2 Nov 14:03Z" otherwise. */
export function hhmm(iso, reference = Date.now()) {
  const t = typeof iso === 'number' ? iso : ms(iso);
  if (!Number.isFinite(t)) return '—';
  const d = new Date(t);
  const r = new Date(reference);
  const time = `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}Z`;
  if (d.getUTCFullYear() === r.getUTCFullYear() && d.getUTCMonth() === r.getUTCMonth()
      && d.getUTCDate() === r.getUTCDate()) return time;
  const month = d.toLocaleString('en-GB', { month: 'short', timeZone: 'UTC' });
  return `${d.getUTCDate()} ${month} ${d.getUTCFullYear()} ${time}`;
}

/** Full ISO-like UTC stamp for tooltips and tables. */
export function stamp(iso) {
  const t = typeof iso === 'number' ? iso : ms(iso);
  if (!Number.isFinite(t)) return '—';
  return new Date(t).toISOString().replace('.000Z', 'Z').replace('T', ' ');
}

/** "in 12 min", "in 1 h 05 min", "now", "3 min ago". */
export function relMinutes(deltaMs) {
  if (!Number.isFinite(deltaMs)) return '';
  const min = Math.round(deltaMs / 60000);
  if (min === 0) return 'now';
  const abs = Math.abs(min);
  const text = abs < 60 ? `${abs} min` : `${Math.floor(abs / 60)} h ${pad(abs % 60)} min`;
  return min > 0 ? `in ${text}` : `${text} ago`;
}

export function num(value, digits = 1, unit = '') {
  if (value === null || value === undefined || !Number.isFinite(Number(value))) return '—';
  return `${Number(value).toFixed(digits)}${unit}`;
}

export function latlon(lat, lon) {
  if (!Number.isFinite(lat) || !Number.isFinite(lon)) return '—';
  const ns = lat >= 0 ? 'N' : 'S';
  const ew = lon >= 0 ? 'E' : 'W';
  return `${Math.abs(lat).toFixed(4)}°${ns} ${Math.abs(lon).toFixed(4)}°${ew}`;
}

/** A seawarden target id (1e9..2e9-1): a vessel seen only by radar/satellite, no MMSI. */
export function isNonAis(v) {
  const n = Number(v && v.mmsi);
  return Boolean(v && v.non_ais) || (n >= 1e9 && n < 2e9);
}

export function vesselLabel(v) {
  if (isNonAis(v)) return `non-AIS target ${v.mmsi}`;
  const name = (v && (v.name || '').trim()) || '';
  return name ? `${name} (${v.mmsi})` : `MMSI ${v ? v.mmsi : '?'}`;
}

export function text(value) {
  return value === null || value === undefined || value === '' ? '—' : String(value);
}
