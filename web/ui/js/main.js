/* main.js — boot: find out who is logged in, then start the router, the live
   events and the layout. Registers every page module.

   Rules it keeps:
   - without a session every page path shows /login?next=<the path asked for>;
     after login (the "popebot:login" window event) the UI goes to that path;
   - a 401 anywhere (api.js onUnauthorized, or the event stream refused) ends
     the session here and shows the login page;
   - the live event stream runs only while logged in. */

import { api, setCsrf, onUnauthorized } from './api.js';
import { toast } from './dom.js';
import { route, navigate, setGuard, startRouter, isRoute } from './router.js';
import { onEvent, startEvents, stopEvents } from './events.js';
import { initLayout, showShell } from './layout.js';
import * as pageLogin from './page_login.js';
import * as pageClusters from './page_clusters.js';
import * as pageCluster from './page_cluster.js';
import * as pageRoles from './page_roles.js';
import * as pageJobs from './page_jobs.js';
import * as pageJob from './page_job.js';

const session = { user: null };

/* The session cookie is HttpOnly, so the page cannot see it. A marker in
   localStorage says whether asking GET /api/session is worth it: a browser
   that never logged in goes straight to the login page instead of logging a
   401 in the console. */
const MARK = 'popebot.session';
function mark(on) {
  try {
    if (on) localStorage.setItem(MARK, '1');
    else localStorage.removeItem(MARK);
  } catch (e) { /* storage may be disabled: then we always ask */ }
}
function marked() {
  try { return localStorage.getItem(MARK) !== null; } catch (e) { return true; }
}

for (const page of [pageLogin, pageClusters, pageCluster, pageRoles, pageJobs, pageJob]) page.register(route);

/** A `next` value we are willing to go to: one of our own page paths. */
function safeNext(next) {
  if (typeof next !== 'string' || !next.startsWith('/') || next.startsWith('//')) return '/clusters';
  const path = next.split(/[?#]/)[0];
  if (path === '/login' || !isRoute(path)) return '/clusters';
  return next;
}

function loginUrl(path, search, extra) {
  const here = path + (search || '');
  const q = new URLSearchParams();
  if (path !== '/' && path !== '/login') q.set('next', here);
  if (extra) q.set(extra, '1');
  const s = q.toString();
  return '/login' + (s ? '?' + s : '');
}

setGuard((path, query) => {
  if (!session.user && path !== '/login') return loginUrl(path, location.search);
  if (session.user && path === '/login') return safeNext(query.get('next'));
  return null;
});

function startSession(user, csrf) {
  session.user = user;
  mark(true);
  setCsrf(csrf);
  showShell(true, user);
  startEvents();
}

function endSession() {
  session.user = null;
  mark(false);
  setCsrf(null);
  stopEvents();
  showShell(false);
}

function sessionLost() {
  if (!session.user) return;
  const path = location.pathname;
  const search = location.search;
  endSession();
  navigate(loginUrl(path, search, 'expired'), { replace: true });
}

onUnauthorized(sessionLost);
onEvent('unauthorized', sessionLost);

window.addEventListener('popebot:login', (ev) => {
  const d = ev.detail || {};
  startSession(d.user, d.csrf_token);
  navigate(safeNext(d.next), { replace: true });
});

// Leave the page first (its cleanup stops its timers and refetches, and the
// event stream closes), then end the session on the server: nothing of the
// old page asks the API after its session is gone.
async function logout() {
  stopEvents();
  session.user = null;                 // so the router's guard lets /login through
  navigate('/login', { replace: true });
  try {
    await api('POST', '/api/logout');
  } catch (e) {
    if (e.status !== 401) toast('Logout: ' + e.message, 'error');
  }
  endSession();
}

async function boot() {
  initLayout(document.getElementById('shell'), { onLogout: logout });
  if (marked()) {
    try {
      const s = await api('GET', '/api/session');
      startSession(s.user, s.csrf_token);
    } catch (e) {
      if (e.status === 401) mark(false);
      else toast('Cannot check the session: ' + e.message, 'error');
    }
  }
  if (location.pathname === '/') history.replaceState(null, '', '/clusters' + location.search);
  await startRouter(document.getElementById('main'));
}

boot();
