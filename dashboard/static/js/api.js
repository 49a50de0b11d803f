// The public JSON API, with the session's key in the X-API-Key header (never in a URL).

const KEY = 'shinshu.apiKey';
const PREFIX = '/api/v1';

/** An answer other than 2xx, with the API's `detail` (a text, or a 422's list of problems). */
export class ApiError extends Error {
  constructor(status, detail) {
    super(typeof detail === 'string' && detail ? detail : `HTTP ${status}`);
    this.status = status;
    this.detail = detail;
  }

  /** A 422's problems as [{field, en, ja}]; `field` is the last name in `loc` ('' if none). */
  fieldErrors() {
    if (!Array.isArray(this.detail)) return [];
    return this.detail.map((d) => {
      const names = (d.loc || []).filter((part) => typeof part === 'string' && part !== 'body');
      return { field: names[names.length - 1] || '', en: d.msg || '', ja: d.msg_ja || d.msg || '' };
    });
  }
}

/** Optional API areas this server has, as told by the page shell. */
export const features = (() => {
  const meta = document.querySelector('meta[name="shinshu-features"]');
  try { return new Set(JSON.parse(meta?.content || '[]')); } catch { return new Set(); }
})();

// The key lives in sessionStorage only: it is gone when the tab closes.
export const session = {
  get key() { return sessionStorage.getItem(KEY); },
  set key(value) {
    if (value) sessionStorage.setItem(KEY, value); else sessionStorage.removeItem(KEY);
  },
  me: null,
};

/** Forget the key and who it belongs to. */
export function signOut() {
  session.key = null;
  session.me = null;
}

function url(path, params) {
  const out = new URL(PREFIX + path, location.origin);
  for (const [name, value] of Object.entries(params || {})) {
    if (value === null || value === undefined || value === '') continue;
    for (const v of Array.isArray(value) ? value : [value]) out.searchParams.append(name, v);
  }
  return out;
}

const MAX_RETRY_WAIT_S = 5;
const sleep = (ms) => new Promise((resolve) => { setTimeout(resolve, ms); });

/** Call the API with an optional JSON `body`; JSON answer by default (null for an empty one),
 * the raw Response with `raw: true`. */
export async function api(path, { method = 'GET', params, body, raw = false, signal } = {}) {
  const headers = { Accept: raw ? '*/*' : 'application/json' };
  if (session.key) headers['X-API-Key'] = session.key;
  const init = { method, headers, signal, cache: 'no-store' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const call = () => fetch(url(path, params), init);
  let response = await call();
  // Several tabs on one key can spend its rate budget: wait as told, once, then give up.
  const wait = Number(response.headers.get('Retry-After'));
  if (response.status === 429 && wait <= MAX_RETRY_WAIT_S) {
    await sleep(Math.max(wait, 0.2) * 1000);
    response = await call();
  }
  if (!response.ok) {
    let detail = '';
    try { detail = (await response.json()).detail; } catch { /* not JSON */ }
    if (response.status === 401) {
      signOut();
      window.dispatchEvent(new CustomEvent('shinshu:signedout'));
    }
    throw new ApiError(response.status, detail);
  }
  if (raw) return response;
  if (response.status === 204) return null;
  const text = await response.text();
  return text ? JSON.parse(text) : null;
}

/** One path segment: ids may hold any character but `/`, `+`, `#` and controls. */
export const seg = (value) => encodeURIComponent(value);

/** Path of a tenant route, with the signed-in key's tenant. */
export function tenantPath(rest) {
  return `/tenants/${encodeURIComponent(session.me.tenant)}${rest}`;
}

/** Whether the signed-in role may acknowledge alerts. */
export function canAcknowledge() {
  return ['operator', 'admin'].includes(session.me?.role) && features.has('acknowledge');
}

/** Whether the signed-in role may change the asset registry and enter work records. */
export function canManageAssets() {
  return ['operator', 'admin'].includes(session.me?.role) && features.has('registry');
}

/** Where a signed-in key starts: researchers can only export. */
export function homeFor(me) {
  return me?.role === 'researcher' ? '#/export' : '#/';
}
