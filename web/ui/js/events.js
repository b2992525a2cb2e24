/* events.js — the one live connection to the mesh: an EventSource on /api/events.

   Rules it keeps:
   - a single EventSource for the whole page, however many subscribers;
   - onEvent(type, fn) -> unsubscribe; fn gets the event's parsed JSON data.
     Types: hello, job, worker, role, stats, overflow (from the server);
     "open" after each hello (every (re)connect: refetch what you show);
     "connection" {state: "connecting" | "live" | "reconnecting" | "stopped"}
     for the indicator (connecting: not yet live since startEvents);
   - the browser reconnects by itself (the server sends retry: 1000); when the
     stream is refused outright (EventSource gives up) we try again with a
     growing delay, and check the session so a 401 leads to the login page. */

import { api } from './api.js';

const SERVER_TYPES = ['hello', 'job', 'worker', 'role', 'stats', 'overflow'];
const subs = new Map();
let es = null;
let wanted = false;
let retryTimer = null;
let retryDelay = 1000;
let connState = 'stopped';

function emit(type, data) {
  const set = subs.get(type);
  if (!set) return;
  for (const fn of Array.from(set)) {
    try { fn(data); } catch (e) { console.warn('event handler for ' + type + ' failed', e); }
  }
}

function setConn(state) {
  if (state === connState) return;
  connState = state;
  emit('connection', { state });
}

/** The connection's state now: "connecting", "live", "reconnecting" or "stopped". */
export function connectionState() {
  return connState;
}

function listen(source, type) {
  source.addEventListener(type, (ev) => {
    let data = null;
    try { data = ev.data ? JSON.parse(ev.data) : null; } catch (e) { return; }
    if (type === 'hello') {
      retryDelay = 1000;
      setConn('live');
      emit('hello', data);
      emit('open', data);
      return;
    }
    emit(type, data);
  });
}

function connect() {
  clearTimeout(retryTimer);
  retryTimer = null;
  if (!wanted || es) return;
  const source = new EventSource('/api/events', { withCredentials: true });
  es = source;
  const known = new Set([...SERVER_TYPES, ...subs.keys()]);
  for (const t of known) if (t !== 'open' && t !== 'connection') listen(source, t);
  source.listenedTypes = known;
  source.addEventListener('error', () => {
    if (es !== source) return;
    if (connState === 'live') setConn('reconnecting');
    if (source.readyState === EventSource.CLOSED) {
      /* refused (401, 503, not a stream): the browser will not retry; we do */
      source.close();
      es = null;
      api('GET', '/api/session').then(
        () => scheduleRetry(),
        (e) => { if (e && e.status === 401 && wanted) { wanted = false; setConn('stopped'); emit('unauthorized', e); } else scheduleRetry(); });
    }
  });
}

function scheduleRetry() {
  if (!wanted || retryTimer) return;
  retryTimer = setTimeout(connect, retryDelay);
  retryDelay = Math.min(retryDelay * 2, 15000);
}

/** Subscribe fn to events of type; returns the function that unsubscribes. */
export function onEvent(type, fn) {
  if (!subs.has(type)) subs.set(type, new Set());
  subs.get(type).add(fn);
  if (es && es.listenedTypes && !es.listenedTypes.has(type) && type !== 'open' && type !== 'connection') {
    es.listenedTypes.add(type);
    listen(es, type);
  }
  return () => {
    const set = subs.get(type);
    if (set) set.delete(fn);
  };
}

/** Open the stream (after login). */
export function startEvents() {
  wanted = true;
  if (!es) {
    setConn('connecting');
    connect();
  }
}

/** Close the stream (at logout). */
export function stopEvents() {
  wanted = false;
  clearTimeout(retryTimer);
  retryTimer = null;
  if (es) es.close();
  es = null;
  setConn('stopped');
}
