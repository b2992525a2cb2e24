// tests/web/harness.js — the harness of the browser suite (node --test).
//
// Each test file gets a mesh of its own: a real coordinator (its store in a
// temp dir, a UI login made with `popebot-node passwd`) and real ZeroMQ
// workers enrolled with a join token, all on loopback ports the OS says are
// free; plus one headless Debian Chromium driven by playwright-core. Each
// test gets a fresh browser context (no cookies, no storage) and a page.
//
// Rules it keeps (the same as tests/integration/conftest.py):
// - No fixed sleeps as assertions: every wait polls until a condition holds
//   or a generous deadline passes; the deadline only bounds a failure.
// - A test FAILS on any console message of type error, any uncaught page
//   error, any failed request and any HTTP answer >= 400 that the test did
//   not declare expected (ui.expectHttp), and on any request to a host that
//   is not loopback (such requests are also blocked).
// - A test FAILS when a node log holds a sanitizer report (the suite also
//   runs against the -fsanitize build).
// - Every page a test looks at is saved as a full-page screenshot in
//   $POPEBOT_WEB_ARTIFACTS (default build/web-artifacts), named after the
//   file, the test and the page; a failing test also saves "failure".
// - Every process started is killed on teardown with its whole session (the
//   jobs it forked included), and dies with this process if it is killed
//   (setpriv --pdeathsig); a failing test prints the tails of the node logs.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { test, before, after } from 'node:test';
import { chromium } from 'playwright-core';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const REPO = path.resolve(HERE, '..', '..');
export const CHROMIUM = process.env.POPEBOT_CHROMIUM || '/usr/bin/chromium';
export const ARTIFACTS = path.resolve(process.env.POPEBOT_WEB_ARTIFACTS ||
                                      path.join(REPO, 'build', 'web-artifacts'));
export const USER = 'admin';
export const PASSWORD = 'correct horse battery staple';
export const TERMINAL = ['succeeded', 'failed', 'timed_out', 'cancelled', 'dead'];

// Short heartbeats: a stopped worker shows offline within about a second.
const HEARTBEAT = '200ms';
const LIVENESS = '5';
const SANITIZER_MARKS = ['ERROR: AddressSanitizer', 'ERROR: LeakSanitizer', 'runtime error:'];
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
                       '--disable-background-networking', '--disable-component-update',
                       '--disable-sync'];

function findBin() {
  if (process.env.POPEBOT_BIN) return process.env.POPEBOT_BIN;
  for (const d of ['build', 'build-it']) {
    const p = path.join(REPO, d, 'popebot-node');
    if (fs.existsSync(p)) return p;
  }
  return null;
}
export const BIN = findBin();

// ---- waiting -------------------------------------------------------------------

const delay = (ms) => new Promise((res) => setTimeout(res, ms));
/** A delay that does not keep the process alive (for races with a deadline). */
const unrefDelay = (ms) => new Promise((res) => setTimeout(res, ms).unref());

/** Poll fn() until it returns a truthy value without throwing; return that value.
 *  Fails with desc and the last value or error seen when timeout ms pass. */
export async function eventually(fn, { timeout = 15000, interval = 100, desc = 'condition' } = {}) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    if (Date.now() >= deadline) {
      const what = last instanceof Error ? last.message : JSON.stringify(last);
      throw new Error(`timed out after ${timeout / 1000}s waiting for ${desc}; last: ${what}`);
    }
    await delay(interval);
  }
}

/** Wait until the locator's text (trimmed) satisfies want: a string (equal),
 *  a RegExp, or a predicate; returns the text. */
export async function expectText(locator, want, { timeout = 15000, desc } = {}) {
  const ok = typeof want === 'string' ? (t) => t === want
    : want instanceof RegExp ? (t) => want.test(t) : want;
  return eventually(async () => {
    const t = (await shownText(locator)).trim();
    if (!ok(t)) throw new Error(`text is ${JSON.stringify(t)}`);
    return t || ' ';
  }, { timeout, desc: desc || `text ${want}` });
}

/** The text a person sees in the element: its innerText plus the values of
 *  the inputs and text areas in it (a command may sit in a read-only field). */
export async function shownText(locator, timeout = 1000) {
  return locator.first().evaluate((el) => [el.innerText,
    ...[...el.querySelectorAll('input, textarea')].map((i) => i.value)].join('\n'), null, { timeout });
}

/** Wait until the locator matches at least one visible element. */
export async function visible(locator, timeout = 15000) {
  await locator.first().waitFor({ state: 'visible', timeout });
  return locator.first();
}

/** Wait until the locator matches nothing visible. */
export async function hidden(locator, timeout = 15000) {
  await eventually(async () => (await locator.count()) === 0 ||
    !(await locator.first().isVisible()), { timeout, desc: `${locator} to go` });
}

// ---- ports and processes ---------------------------------------------------------

function tryListen(port) {
  return new Promise((res) => {
    const s = net.createServer();
    s.once('error', () => res(false));
    s.listen({ host: '127.0.0.1', port, exclusive: true }, () => s.close(() => res(true)));
  });
}

/** A loopback port the OS says is free, below the ephemeral range (as the
 *  Python harness does) so an outgoing connection cannot take it meanwhile. */
export async function freePort(taken = new Set()) {
  for (let i = 0; i < 200; i++) {
    const port = 20000 + Math.floor(Math.random() * 12000);
    if (!taken.has(port) && await tryListen(port)) return port;
  }
  throw new Error('no free port');
}

/** The environment for a node or the CLI: nothing of ours leaking in. */
function cleanEnv(extra = {}) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('POPEBOT_')) env[k] = v;
  return { ...env, ...extra };
}

/** Processes whose session id is sid (a node and the jobs it forked). */
function sessionPids(sid) {
  const out = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    let stat;
    try { stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8'); } catch { continue; }
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(f[3]) === sid && f[0] !== 'Z' && f[0] !== 'X') out.push(Number(d));
  }
  return out;
}

const ALL = new Set();                 // every Proc still to be killed
function killNow(pid) {
  for (const p of sessionPids(pid)) { try { process.kill(p, 'SIGKILL'); } catch { /* gone */ } }
  try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
}
process.on('exit', () => { for (const p of ALL) killNow(p.pid); });
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.once(sig, () => { for (const p of ALL) killNow(p.pid); process.exit(128 + os.constants.signals[sig]); });
}

/** One popebot-node process, its output in a log file, in a session of its own. */
export class Proc {
  constructor(name, args, logDir, env) {
    if (!BIN || !fs.existsSync(BIN)) throw new Error(`popebot-node binary not found (POPEBOT_BIN=${BIN})`);
    this.name = name;
    this.logPath = path.join(logDir, `${name}.log`);
    const fd = fs.openSync(this.logPath, 'a');
    fs.writeSync(fd, `==== start: ${[BIN, ...args].join(' ')}\n`);
    // setpriv: the node dies with us; detached: setsid, so teardown finds its jobs.
    this.child = spawn('setpriv', ['--pdeathsig', 'KILL', '--', BIN, ...args],
                       { stdio: ['ignore', fd, fd], env: env || cleanEnv(), detached: true });
    fs.closeSync(fd);
    this.pid = this.child.pid;
    this.code = undefined;
    this.exited = new Promise((res) => this.child.once('exit', (code, sig) => {
      this.code = code ?? sig;
      ALL.delete(this);
      res(this.code);
    }));
    ALL.add(this);
  }

  alive() { return this.code === undefined; }

  signal(sig) { if (this.alive()) process.kill(this.pid, sig); }

  /** Its exit code (or signal name); fails when it does not exit in time. */
  async wait(timeout = 30000) {
    let timer;
    const t = new Promise((_, rej) => { timer = setTimeout(() => rej(new Error(`${this.name} (pid ${this.pid}) did not exit within ${timeout / 1000}s`)), timeout); });
    try { return await Promise.race([this.exited, t]); } finally { clearTimeout(timer); }
  }

  logText() {
    try { return fs.readFileSync(this.logPath, 'utf8'); } catch { return ''; }
  }

  /** SIGKILL the node and everything left in its session; reap it. */
  async cleanup() {
    killNow(this.pid);
    if (this.alive()) await Promise.race([this.exited, unrefDelay(10000)]);
    for (const p of sessionPids(this.pid)) { try { process.kill(p, 'SIGKILL'); } catch { /* gone */ } }
  }
}

/** Run the CLI: {rc, out, err}. input: text for its stdin. */
export function runCli(args, { input, timeout = 60000 } = {}) {
  const r = spawnSync(BIN, args, { input: input ?? '', env: cleanEnv(), timeout, encoding: 'utf8' });
  if (r.error) throw new Error(`popebot-node ${args.join(' ')}: ${r.error.message}`);
  return { rc: r.status, out: r.stdout, err: r.stderr };
}

// ---- a mesh ------------------------------------------------------------------------

/** One coordinator, its workers and an admin API key, in a temp dir of its own. */
export class Mesh {
  constructor(label = 'mesh') {
    this.tmp = fs.mkdtempSync(path.join(os.tmpdir(), `popebot-web-${label}-`));
    this.logs = path.join(this.tmp, 'logs');
    this.data = path.join(this.tmp, 'data');
    fs.mkdirSync(this.logs, { recursive: true });
    this.procs = [];
    this.workers = {};
    this.coord = null;
    this.port = null;
    this.httpPort = null;
    this._token = null;
    this._key = null;
    this._reported = new Set();
  }

  get endpoint() { return `tcp://127.0.0.1:${this.port}`; }
  get url() { return `http://127.0.0.1:${this.httpPort}`; }

  /** Start the coordinator, wait for /readyz, set the UI password. */
  async startCoordinator(extra = []) {
    for (let attempt = 0; attempt < 5; attempt++) {
      this.port = await freePort();
      this.httpPort = await freePort(new Set([this.port]));
      const args = ['--role=coordinator', `--bind=${this.endpoint}`, `--http=127.0.0.1:${this.httpPort}`,
                    `--data-dir=${this.data}`, `--heartbeat=${HEARTBEAT}`, `--liveness=${LIVENESS}`,
                    '--log-level=debug', ...extra];
      const p = new Proc(`coordinator${attempt ? attempt + 1 : ''}`, args, this.logs);
      this.procs.push(p);
      this.coord = p;
      const ready = await eventually(async () => {
        if (!p.alive()) {
          const text = p.logText();
          if (/cannot bind|cannot serve HTTP/.test(text)) return 'bind';
          throw new Error(`coordinator exited with ${p.code}:\n${text.slice(-3000)}`);
        }
        const r = await fetch(`${this.url}/readyz`, { signal: AbortSignal.timeout(2000) });
        return r.status === 200 ? 'ready' : false;
      }, { timeout: 30000, desc: 'the coordinator to be ready (/readyz)' });
      if (ready === 'bind') { await p.cleanup(); continue; }
      const r = runCli(['passwd', `--data-dir=${this.data}`, `--user=${USER}`], { input: PASSWORD + '\n' });
      if (r.rc !== 0) throw new Error(`passwd failed: ${r.rc} ${r.err}`);
      return p;
    }
    throw new Error('the coordinator could not bind a free port in 5 tries');
  }

  /** A join token for this mesh (made once; no expiry, any number of uses). */
  joinToken() {
    if (!this._token) {
      const r = runCli(['join-token', `--data-dir=${this.data}`, `--coordinator=${this.endpoint}`, '--ttl=0']);
      if (r.rc !== 0) throw new Error(`join-token failed: ${r.rc} ${r.err}`);
      this._token = r.out.trim().split('\n').pop();
    }
    return this._token;
  }

  /** An admin API key, for the test's own checks and set-up through the HTTP API. */
  apiKey() {
    if (!this._key) {
      const r = runCli(['keys', 'create', `--data-dir=${this.data}`, '--scope=admin', '--name=web-tests']);
      if (r.rc !== 0) throw new Error(`keys create failed: ${r.rc} ${r.err}`);
      this._key = r.out.trim().split('\n').pop();
    }
    return this._key;
  }

  /** One HTTP API call with the admin key: {status, body}. */
  async api(method, p, body) {
    const headers = { 'x-api-key': this.apiKey() };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const r = await fetch(this.url + p, { method, headers, signal: AbortSignal.timeout(15000),
                                          body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await r.text();
    let json = null;
    try { json = text ? JSON.parse(text) : null; } catch { json = text; }
    return { status: r.status, body: json };
  }

  /** Like api() but fails unless the status is 2xx; returns the body. */
  async apiOk(method, p, body) {
    const r = await this.api(method, p, body);
    if (r.status < 200 || r.status > 299) throw new Error(`${method} ${p} -> ${r.status} ${JSON.stringify(r.body)}`);
    return r.body;
  }

  /** Start a worker enrolled with the mesh's join token (or opts.token) and,
   *  unless opts.wait is false, wait until the coordinator shows it online. */
  async startWorker(name, { roles = 'echo,sleep', slots = 2, labels, token, coordinator, wait = true, extra = [] } = {}) {
    const work = path.join(this.tmp, `work-${name}`);
    fs.mkdirSync(work, { recursive: true });
    const args = ['--role=worker', `--coordinator=${coordinator || this.endpoint}`, `--roles=${roles}`,
                  `--slots=${slots}`, `--name=${name}`, `--heartbeat=${HEARTBEAT}`, `--liveness=${LIVENESS}`,
                  '--reconnect-min=100ms', '--reconnect-max=1s', '--kill-grace=500ms', '--drain-timeout=5s',
                  '--log-level=debug', `--work-dir=${work}`, `--key-dir=${path.join(this.tmp, 'keys', name)}`,
                  ...(labels ? [`--labels=${labels}`] : []), ...extra];
    const env = cleanEnv({ TMPDIR: this.tmp, POPEBOT_JOIN: token || this.joinToken() });
    const p = new Proc(`worker-${name}`, args, this.logs, env);
    this.procs.push(p);
    this.workers[name] = p;
    if (wait) await this.waitWorker(name, 'online');
    return p;
  }

  /** Stop the coordinator (SIGTERM, a clean exit) and start it again on the
   *  same ports and store; waits for /readyz. */
  async restartCoordinator() {
    const old = this.coord;
    old.signal('SIGTERM');
    await old.wait(30000);
    const args = old.child.spawnargs.slice(old.child.spawnargs.indexOf(BIN) + 1);
    const p = new Proc(`coordinator-restart${this.procs.length}`, args, this.logs);
    this.procs.push(p);
    this.coord = p;
    await eventually(async () => {
      if (!p.alive()) throw new Error(`coordinator exited with ${p.code}:\n${p.logText().slice(-3000)}`);
      return (await fetch(`${this.url}/readyz`, { signal: AbortSignal.timeout(2000) })).status === 200;
    }, { timeout: 30000, desc: 'the restarted coordinator to be ready (/readyz)' });
    return p;
  }

  /** Stop a worker with a signal (SIGTERM: it drains and says goodbye) and wait for it to exit. */
  async stopWorker(name, sig = 'SIGTERM') {
    const p = this.workers[name];
    p.signal(sig);
    return p.wait(30000);
  }

  /** The registration named name (by name or id), or null. */
  async cluster(name) {
    const { clusters } = await this.apiOk('GET', '/api/clusters');
    return clusters.find((c) => c.name === name || c.id === name) || null;
  }

  async waitWorker(name, state = 'online', timeout = 30000) {
    const p = this.workers[name];
    return eventually(async () => {
      if (p && state !== 'offline' && !p.alive()) {
        throw new Error(`worker ${name} exited with ${p.code}:\n${p.logText().slice(-3000)}`);
      }
      const c = await this.cluster(name);
      return c && c.state === state ? c : null;
    }, { timeout, desc: `worker ${name} to be ${state}` });
  }

  async submit(role, payload = {}, extra = {}) {
    return (await this.apiOk('POST', '/api/jobs', { role, payload, ...extra })).id;
  }

  async job(id) { return this.apiOk('GET', `/api/jobs/${id}`); }

  /** Cancel every unfinished job, and wait until none runs: a clean slate for the next test. */
  async cancelAll() {
    const ids = [];
    for (const state of ['queued', 'scheduled', 'running']) {
      const { jobs } = await this.apiOk('GET', `/api/jobs?state=${state}&limit=1000`);
      for (const j of jobs) ids.push(j.id);
    }
    for (const id of ids) await this.api('POST', `/api/jobs/${id}/cancel`);
    for (const id of ids) await this.waitJob(id);
  }

  async waitJob(id, states = TERMINAL, timeout = 30000) {
    if (typeof states === 'string') states = [states];
    return eventually(async () => {
      const j = await this.job(id);
      return states.includes(j.state) ? j : null;
    }, { timeout, interval: 100, desc: `job ${id} to be ${states.join('/')}` });
  }

  /** Lines in the node logs where a sanitizer reported a bug (each once). */
  sanitizerReports() {
    const found = [];
    for (const p of this.procs) {
      for (const line of p.logText().split('\n')) {
        const key = `${p.name}: ${line.trim()}`;
        if (SANITIZER_MARKS.some((m) => line.includes(m)) && !this._reported.has(key)) {
          this._reported.add(key);
          found.push(key);
        }
      }
    }
    return found;
  }

  logReport(tail = 4000) {
    return this.procs.map((p) => `----- ${p.name} (pid ${p.pid}, exit ${p.code ?? 'running'}) -----\n` +
                                 p.logText().slice(-tail)).join('\n');
  }

  /** Kill every node; keep the full logs in dir (when given); remove the temp dir. */
  async close(keepLogsIn) {
    for (const p of this.procs) await p.cleanup();
    if (keepLogsIn) fs.cpSync(this.logs, keepLogsIn, { recursive: true });
    fs.rmSync(this.tmp, { recursive: true, force: true, maxRetries: 3 });
  }
}

// ---- the browser ---------------------------------------------------------------------

function slug(s) {
  return String(s).toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 80);
}

function isLoopback(url) {
  let u;
  try { u = new URL(url); } catch { return false; }
  if (u.protocol === 'data:' || u.protocol === 'blob:' || u.protocol === 'about:') return true;
  return ['127.0.0.1', 'localhost', '[::1]'].includes(u.hostname);
}

/** Launch Debian's Chromium (a fresh temporary profile, made and removed by playwright-core). */
export async function launchBrowser() {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run scripts/bootstrap`);
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS,
                           timeout: 60000 });
}

/** The handle a test body gets: the page plus helpers that know the mesh. */
class Ui {
  constructor(web, t, context, page) {
    this.web = web;
    this.mesh = web.mesh;
    this.t = t;
    this.context = context;
    this.page = page;
    this.problems = [];          // what fails the test when it ends
    this.allowed = [{ status: 401, method: 'GET', match: /\/api\/session$/ }];
    this.shots = 0;
    this.prefix = `${web.label}--${slug(t.name)}`;
  }

  /** Declare an HTTP answer >= 400 this test expects (status, URL RegExp or substring, method). */
  expectHttp(status, match, method) {
    this.allowed.push({ status, match, method });
  }

  isAllowed(status, url, method) {
    const p = new URL(url).pathname + new URL(url).search;
    return this.allowed.some((a) => a.status === status && (!a.method || !method || a.method === method) &&
      (a.match instanceof RegExp ? a.match.test(new URL(url).pathname) : p.includes(a.match)));
  }

  /** Everything the page does that can go wrong, recorded as it happens. */
  watch() {
    const c = this.context;
    this.closing = false;
    const note = (what) => { if (!this.closing) this.problems.push(what); };
    c.on('console', (msg) => {
      if (msg.type() !== 'error') return;
      const text = msg.text();
      const m = /the server responded with a status of (\d+)/.exec(text);
      const url = msg.location()?.url || '';
      if (m && url && this.isAllowed(Number(m[1]), url)) return;
      if (this.outage && /^Failed to load resource: net::ERR_/.test(text)) return;
      note(`console error: ${text}${url ? ` (at ${url})` : ''}`);
    });
    c.on('weberror', (err) => note(`page error: ${err.error().stack || err.error().message}`));
    c.on('response', (r) => {
      const req = r.request();
      if (r.status() >= 400 && !this.isAllowed(r.status(), r.url(), req.method())) {
        note(`HTTP ${r.status()} for ${req.method()} ${r.url()}`);
      }
    });
    c.on('requestfailed', (req) => {
      const err = req.failure()?.errorText || '';
      // A stream or fetch the page itself let go of (navigation, EventSource.close,
      // AbortController, a favicon load cut short by a navigation) is aborted, not failed.
      if (err === 'net::ERR_ABORTED' && ['eventsource', 'fetch', 'xhr', 'other'].includes(req.resourceType())) return;
      if (err.startsWith('net::ERR_BLOCKED_BY_CLIENT') && !isLoopback(req.url())) return;   // noted by the route
      if (this.outage && ['eventsource', 'fetch', 'xhr'].includes(req.resourceType())) return;
      note(`request failed: ${req.method()} ${req.url()} (${req.resourceType()}): ${err}`);
    });
  }

  /** Run fn (which takes the coordinator away) with the page's own requests
   *  allowed to fail at the network level (refused, reset, cut streams);
   *  page errors and every other console error still fail the test. */
  async duringOutage(fn) {
    this.outage = true;
    try { return await fn(); } finally { this.outage = false; }
  }

  /** Full-page screenshot into the artifacts dir, named after the test and page. */
  async shot(name) {
    this.shots++;
    const file = path.join(ARTIFACTS, `${this.prefix}--${String(this.shots).padStart(2, '0')}-${slug(name)}.png`);
    await this.page.screenshot({ path: file, fullPage: true, timeout: 30000 });
    return file;
  }

  /** Load path in the page (a full load) and wait for its h1 and, once
   *  logged in, for the live events stream (/api/events) to be open. */
  async goto(p, { heading, shot } = {}) {
    const events = this.loggedIn ? this.page.waitForResponse(
      (r) => new URL(r.url()).pathname === '/api/events', { timeout: 15000 }) : null;
    await this.page.goto(this.mesh.url + p, { waitUntil: 'load' });
    if (heading) await visible(this.page.getByRole('heading', { level: 1, name: heading }));
    else await visible(this.page.getByRole('heading', { level: 1 }));
    if (events) {
      const r = await events;
      if (r.status() !== 200) throw new Error(`/api/events answered ${r.status()} on ${p}`);
    }
    if (shot) await this.shot(shot);
  }

  /** Log in through the login form; lands on Clusters. */
  async login({ user = USER, password = PASSWORD, shot = false } = {}) {
    const page = this.page;
    await page.goto(this.mesh.url + '/login', { waitUntil: 'load' });
    await page.getByLabel('User', { exact: true }).fill(user);
    await page.getByLabel('Password', { exact: true }).fill(password);
    if (shot) await this.shot('login');
    await page.getByRole('button', { name: 'Log in', exact: true }).click();
    await visible(page.getByRole('heading', { level: 1, name: 'Clusters', exact: true }));
    this.loggedIn = true;
  }

  /** Mark the document; stillSameDocument() then tells whether a full load happened since. */
  async markDocument() {
    this.marker = `m${Math.random().toString(36).slice(2)}`;
    await this.page.evaluate((m) => { window.__popebotMarker = m; }, this.marker);
  }

  async stillSameDocument() {
    return (await this.page.evaluate(() => window.__popebotMarker)) === this.marker;
  }

  /** The state badge text of a worker's row in the Clusters table ("" when none). */
  workerRow(name) {
    return this.page.getByRole('table', { name: 'Workers', exact: true }).getByRole('row')
      .filter({ has: this.page.getByRole('link', { name, exact: true }) });
  }

  /** The health strip item labelled label; its first number. */
  async healthNumber(label) {
    const item = this.page.getByRole('region', { name: 'Mesh health', exact: true })
      .getByLabel(label, { exact: true });
    const text = (await item.first().textContent({ timeout: 2000 })) || '';
    const m = /-?\d+(\.\d+)?/.exec(text);
    if (!m) throw new Error(`no number in ${label}: ${JSON.stringify(text)}`);
    return Number(m[0]);
  }
}

/**
 * Set up a file's mesh and browser: web.mesh, web.browser. opts.workers: the
 * workers to start ([{name, roles, slots}]); opts.setup(mesh): more set-up.
 * web.test(name, fn, {timeout, context}) runs fn(ui) in a fresh browser context.
 */
export function useWeb(label, { workers = [], setup } = {}) {
  const web = { label, mesh: null, browser: null, failed: false };
  before(async () => {
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    for (const f of fs.readdirSync(ARTIFACTS)) {
      if (f.startsWith(`${label}--`)) fs.rmSync(path.join(ARTIFACTS, f), { recursive: true, force: true });
    }
    web.mesh = new Mesh(label);
    try {
      const [browser] = await Promise.all([launchBrowser(), web.mesh.startCoordinator()]);
      web.browser = browser;
      for (const w of workers) await web.mesh.startWorker(w.name, w);
      if (setup) await setup(web.mesh);
    } catch (e) {
      web.failed = true;
      process.stderr.write(`\n==== ${label}: set-up failed; node logs:\n${web.mesh.logReport()}\n`);
      throw e;
    }
  }, { timeout: 120000 });
  after(async () => {
    if (web.browser) await web.browser.close().catch(() => {});
    if (!web.mesh) return;
    const procs = web.mesh.procs;
    for (const p of procs) await p.cleanup();
    const reports = web.mesh.sanitizerReports();
    if (reports.length) {
      process.stderr.write(`\n==== ${label}: node logs:\n${web.mesh.logReport()}\n`);
      web.failed = true;
    }
    // A failed file keeps its nodes' whole logs beside the screenshots.
    await web.mesh.close(web.failed ? path.join(ARTIFACTS, `${label}--logs`) : null);
    if (reports.length) throw new Error(`sanitizer reports in node logs:\n${reports.slice(0, 20).join('\n')}`);
  }, { timeout: 60000 });

  web.test = (name, fn, { timeout = 90000, context = {} } = {}) => test(name, { timeout }, async (t) => {
    const ctx = await web.browser.newContext({ viewport: { width: 1280, height: 800 }, ...context });
    await ctx.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: web.mesh.url });
    const page = await ctx.newPage();
    page.setDefaultTimeout(15000);
    const ui = new Ui(web, t, ctx, page);
    ui.watch();
    // Nothing may be fetched from another host: block it and fail the test.
    await ctx.route((url) => !isLoopback(url.href), (route) => {
      ui.problems.push(`request to another host: ${route.request().method()} ${route.request().url()}`);
      return route.abort('blockedbyclient');
    });
    let failure = null;
    try {
      await fn(ui);
    } catch (e) {
      failure = e;
    }
    ui.closing = true;
    if (failure) await ui.shot('failure').catch(() => {});
    await ctx.close().catch(() => {});
    const problems = [...ui.problems, ...web.mesh.sanitizerReports().map((r) => `sanitizer: ${r}`)];
    if (failure || problems.length) {
      web.failed = true;
      process.stderr.write(`\n==== ${label} / ${name}: node log tails:\n${web.mesh.logReport()}\n`);
    }
    if (failure && problems.length) {
      failure.message += `\nand the page had problems:\n  ${problems.join('\n  ')}`;
    }
    if (failure) throw failure;
    if (problems.length) throw new Error(`the page had problems:\n  ${problems.join('\n  ')}`);
  });
  return web;
}
