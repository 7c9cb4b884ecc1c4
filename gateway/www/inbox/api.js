// api.js - every request the page makes: JSON in and out, the session
// cookie (sent by the browser) with the CSRF token on every change, and one
// error path that carries the server's error.message.

let csrf = null;
let onUnauthorized = () => {};

export function setCsrf(t) { csrf = t; }
export function setUnauthorizedHandler(fn) { onUnauthorized = fn; }

export class ApiError extends Error {
  constructor(status, code, message, retryAfter) {
    super(message || `request failed (${status})`);
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }
}

export async function api(method, path, body, opts = {}) {
  const headers = { Accept: 'application/json' };
  // a FormData body (an upload) goes as multipart/form-data, its boundary
  // set by the browser
  const form = typeof FormData !== 'undefined' && body instanceof FormData;
  if (body !== undefined && !form) headers['Content-Type'] = 'application/json';
  if (method !== 'GET' && method !== 'HEAD' && csrf) headers['X-CSRF-Token'] = csrf;
  let res;
  try {
    res = await fetch('/api/v1' + path, {
      method,
      headers,
      credentials: 'same-origin',
      body: body === undefined ? undefined : form ? body : JSON.stringify(body),
    });
  } catch (_) {
    throw new ApiError(0, 'network', 'omnigate cannot be reached; check the connection');
  }
  let data = null;
  try { data = await res.json(); } catch (_) { /* empty or not JSON */ }
  if (!res.ok) {
    const err = (data && data.error) || {};
    const e = new ApiError(res.status, err.code, err.message, Number(res.headers.get('Retry-After')) || 0);
    if (res.status === 401 && !opts.quiet401) onUnauthorized(e);
    throw e;
  }
  return data;
}

// A query string from an object, leaving out empty values.
export function qs(params) {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') p.set(k, v);
  const s = p.toString();
  return s ? '?' + s : '';
}
