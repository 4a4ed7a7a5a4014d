// The API client: the bearer token (session storage only), JSON calls, downloads.

const TOKEN_KEY = 'seawarden.token';

let onUnauthorized = () => {};

export function getToken() {
  return sessionStorage.getItem(TOKEN_KEY) || '';
}

export function setToken(token) {
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  else sessionStorage.removeItem(TOKEN_KEY);
}

/** Called (once per 401) when the server refuses the token: the app goes back to login. */
export function setUnauthorizedHandler(fn) {
  onUnauthorized = fn;
}

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message || `HTTP ${status}`);
    this.status = status;
    this.code = code;
    this.unauthorized = status === 401;
  }
}

/** fetch() with the Authorization header; a 401 signs the user out. */
export async function authFetch(path, init = {}) {
  const headers = new Headers(init.headers || {});
  headers.set('Authorization', `Bearer ${getToken()}`);
  const response = await fetch(path, { ...init, headers, credentials: 'omit', cache: 'no-store' });
  if (response.status === 401) {
    onUnauthorized();
    throw new ApiError(401, 'unauthorized', 'the token was refused; sign in again');
  }
  return response;
}

async function errorOf(response) {
  let code = 'error';
  let message = `HTTP ${response.status}`;
  try {
    const body = await response.json();
    code = body.error || code;
    message = body.message || message;
  } catch { /* not JSON */ }
  return new ApiError(response.status, code, message);
}

export async function getJSON(path, params = null) {
  const query = params ? `?${new URLSearchParams(clean(params))}` : '';
  const response = await authFetch(path + query, { headers: { Accept: 'application/json' } });
  if (!response.ok) throw await errorOf(response);
  return response.json();
}

export async function postJSON(path, body = undefined) {
  const init = { method: 'POST', headers: { Accept: 'application/json' } };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const response = await authFetch(path, init);
  if (!response.ok) throw await errorOf(response);
  return response.status === 204 ? null : response.json();
}

/** Status of a GET without throwing (for probing what a role may do). */
export async function probe(path) {
  try {
    const response = await authFetch(path, { headers: { Accept: 'application/json' } });
    return { status: response.status, body: response.ok ? await response.json() : null };
  } catch (err) {
    return { status: err.status || 0, body: null };
  }
}

/** Fetch with the token and save the body as a file (the header cannot go in a link). */
export async function download(path, filename) {
  const response = await authFetch(path);
  if (!response.ok) throw await errorOf(response);
  const blob = await response.blob();
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  a.dataset.testid = 'download-link';
  a.hidden = true;
  document.body.appendChild(a);
  a.click();
  setTimeout(() => { URL.revokeObjectURL(url); a.remove(); }, 60000);
  return blob.size;
}

function clean(params) {
  const out = {};
  for (const [k, v] of Object.entries(params)) if (v !== null && v !== undefined && v !== '') out[k] = v;
  return out;
}
