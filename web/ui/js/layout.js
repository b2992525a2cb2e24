/* layout.js — the frame around every page once logged in: header with the
   navigation (Clusters, Roles, Jobs), the user and "Log out", the connection
   indicator, the "Mesh health" strip and the throughput chart.

   Rules it keeps:
   - the health strip and chart are fed by `stats` events (once a second) and
     seeded from GET /api/stats, again after every reconnect (`open`);
   - the current page's nav link carries aria-current="page";
   - nothing here knows about sessions: main.js gives the logout action. */

import { api } from './api.js';
import { h, clear } from './dom.js';
import { onEvent, connectionState } from './events.js';
import { onNavigate } from './router.js';
import { throughputChart } from './chart.js';

const WINDOW_MS = 10 * 60 * 1000;
const NAV = [['/clusters', 'Clusters'], ['/roles', 'Roles'], ['/jobs', 'Jobs']];

let shell = null;
let userEl = null;
let connEl = null;
let chart = null;
let samples = [];
const values = {};
let seeded = false;

function stat(label, key) {
  values[key] = h('span', { class: 'stat-value' }, '—');
  return h('div', { class: 'stat', role: 'group', 'aria-label': label }, h('span', { class: 'stat-label' }, label), values[key]);
}

function fmtRate(v) {
  const n = Number(v) || 0;
  return n >= 100 ? String(Math.round(n)) : n.toFixed(1);
}

function showStats(s) {
  if (!s) return;
  values.workers.textContent = (s.workers_online ?? 0) + ' / ' + (s.workers_total ?? 0);
  values.slots.textContent = (s.slots_used ?? 0) + ' / ' + (s.slots_total ?? 0);
  values.queue.textContent = String(s.queued ?? 0);
  values.rate.textContent = fmtRate(s.finished_per_s);
  values.rate.title = fmtRate(s.submitted_per_s) + ' submitted per second';
}

function addSample(s) {
  if (!s || !Number.isFinite(Number(s.time))) return;
  if (samples.length && s.time <= samples[samples.length - 1].time) return;
  samples.push(s);
  const cut = s.time - WINDOW_MS - 10000;
  while (samples.length && samples[0].time < cut) samples.shift();
  showStats(s);
  if (chart) chart.update(samples);
}

async function seed() {
  try {
    const r = await api('GET', '/api/stats');
    const list = r && Array.isArray(r.samples) ? r.samples : [];
    /* keep any live sample newer than the history */
    const lastSeeded = list.length ? list[list.length - 1].time : -Infinity;
    samples = list.concat(samples.filter((s) => s.time > lastSeeded));
    seeded = true;
    if (samples.length) showStats(samples[samples.length - 1]);
    if (chart) chart.update(samples);
  } catch (e) {
    /* the strip fills from the live events; a 401 is handled by api.js */
  }
}

function showConnection(state) {
  if (!connEl) return;
  connEl.className = 'conn conn-' + state;
  connEl.textContent = state === 'live' ? 'Live' : state === 'reconnecting' ? 'Reconnecting…' : state === 'connecting' ? 'Connecting…' : 'Offline';
  connEl.title = state === 'live' ? 'Live updates are on' : 'Waiting for the coordinator; the page updates again when it is back';
}

function markNav(path) {
  if (!shell) return;
  for (const a of shell.querySelectorAll('nav a')) {
    const href = a.getAttribute('href');
    const here = path === href || path.startsWith(href + '/') || (path === '/' && href === '/clusters');
    if (here) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
}

/** Build the frame into shellEl; opts.onLogout() is called by "Log out". */
export function initLayout(shellEl, opts = {}) {
  shell = shellEl;
  clear(shell);
  userEl = h('span', { class: 'user', title: 'Logged in user' });
  connEl = h('span', { class: 'conn', role: 'status' });
  const logout = h('button', { type: 'button', class: 'btn btn-ghost', text: 'Log out' });
  logout.addEventListener('click', () => opts.onLogout && opts.onLogout());
  chart = throughputChart();
  const header = h('header', { class: 'app-header' },
    h('a', { class: 'brand', href: '/clusters', 'aria-label': 'popebot-node home' },
      h('img', { src: '/ui/favicon.svg', alt: '', width: 24, height: 24 }), h('span', null, 'popebot-', h('b', null, 'node'))),
    h('nav', { 'aria-label': 'Main' }, h('ul', null, NAV.map(([href, text]) => h('li', null, h('a', { href }, text))))),
    h('div', { class: 'session' }, connEl, userEl, logout));
  const health = h('section', { class: 'health', 'aria-label': 'Mesh health' },
    h('div', { class: 'stats' },
      stat('Workers online', 'workers'),
      stat('Slots used', 'slots'),
      stat('Queue depth', 'queue'),
      stat('Jobs/s', 'rate')),
    chart.el);
  shell.append(header, health);
  showConnection(connectionState());
  onEvent('connection', (d) => showConnection(d.state));
  onEvent('stats', addSample);
  onEvent('open', () => seed());
  onNavigate(markNav);
  markNav(location.pathname);
}

/** Show or hide the frame (hidden on the login page). */
export function showShell(on, user) {
  if (!shell) return;
  shell.hidden = !on;
  if (userEl) userEl.textContent = user || '';
  if (on) {
    if (!seeded) seed();
    requestAnimationFrame(() => chart && chart.draw());
  } else {
    samples = [];
    seeded = false;
  }
}
