/* api.js — the one way the UI talks to the coordinator's JSON API.

   Rules it keeps:
   - same-origin only, cookies sent (credentials: "same-origin"), never another host;
   - every non-GET request carries the session's CSRF token as X-CSRF-Token;
   - a failed request always throws an ApiError {status, code, message} with the
     server's own message (network failures become status 0, code "network");
   - a 401 (except from the login and session routes themselves) also calls the
     handler set with onUnauthorized(), which main.js uses to show the login page.
   It never shows anything itself: callers decide (toast, inline alert). */

let csrfToken = null;
let unauthorizedHandler = null;

/** An error answer of the API, or a request that did not reach it. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
  }
}

/** The CSRF token of the current session (null when logged out). */
export function setCsrf(token) {
  csrfToken = token || null;
}

/** fn(error) is called on every 401 of an authenticated route. */
export function onUnauthorized(fn) {
  unauthorizedHandler = fn;
}

const SESSION_ROUTES = ['/api/login', '/api/logout', '/api/session'];

/** method, path ("/api/..."), optional body (sent as JSON) -> parsed JSON, or null for 204. */
export async function api(method, path, body) {
  method = String(method || 'GET').toUpperCase();
  const headers = { Accept: 'application/json' };
  const init = { method, headers, credentials: 'same-origin', cache: 'no-store' };
  if (method !== 'GET' && method !== 'HEAD' && csrfToken) headers['X-CSRF-Token'] = csrfToken;
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch (e) {
    throw new ApiError(0, 'network', 'Cannot reach the coordinator (' + (e && e.message ? e.message : 'network error') + ')');
  }
  if (res.status === 204 || res.status === 205) return null;
  const text = await res.text().catch(() => '');
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch (e) {
      data = undefined;
    }
  }
  if (!res.ok) {
    const err = data && data.error ? data.error : null;
    const message = err && err.message ? err.message : res.status + ' ' + (res.statusText || 'error');
    const error = new ApiError(res.status, err && err.code ? err.code : 'http-' + res.status, message);
    const ra = res.headers.get('Retry-After');
    if (ra) error.retryAfter = Number(ra);
    if (res.status === 401 && !SESSION_ROUTES.includes(path.split('?')[0]) && unauthorizedHandler) {
      try { unauthorizedHandler(error); } catch (e) { /* the handler's own trouble is not the caller's */ }
    }
    throw error;
  }
  if (data === undefined) throw new ApiError(res.status, 'bad-answer', 'The coordinator answered something that is not JSON');
  return data;
}

// The text to show for a failed request (the server's message when it sent one).
export function errText(e) {
  return e && e.message ? e.message : String(e);
}
