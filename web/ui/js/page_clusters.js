/* page_clusters.js — the Clusters page (/ and /clusters): every worker
   registration, live.

   Rules it keeps:
   - one row per registration in the table "Workers": name (link to
     /clusters/{id}), state as colour plus word, roles, labels, slots
     used/total, running jobs, last heartbeat as relative time (refreshed every
     few seconds), version, address, and a Delete behind a confirmation;
   - the filter "Filter workers" matches name, id, roles and labels (substring);
   - live: `worker`, `job`, `hello`/`open` and `overflow` events refetch the
     list (debounced), so new workers appear without a reload;
   - "Register worker" creates the registration and a join token and shows the
     join command, the webhook URL and the worker token (once) with copy buttons;
   - every failed request shows the server's message in a toast. */

import { api } from './api.js';
import { h, clear, relTime, fmtTime, copyButton, confirmDialog, toast, stateBadge } from './dom.js';
import { onEvent } from './events.js';

const ID_RE = /^[A-Za-z0-9_.-]{1,64}$/;

/** Quote a word for a POSIX shell when it needs it. */
export function shellWord(s) {
  s = String(s);
  return /^[A-Za-z0-9_.,:=@%+\/-]+$/.test(s) ? s : "'" + s.replace(/'/g, "'\\''") + "'";
}

/** "a=1, b=2" from a labels object. */
export function labelsText(labels) {
  return Object.entries(labels || {}).map(([k, v]) => k + '=' + v).join(', ');
}

/** The roles list from "echo, build sleep" (commas or spaces). */
export function parseRoles(text) {
  const out = [];
  for (const r of String(text).split(/[\s,]+/)) if (r && !out.includes(r)) out.push(r);
  return out;
}

/** A debounced caller: fn runs `ms` after the last call (and at most every maxMs). */
export function debounce(fn, ms, maxMs = ms * 5) {
  let t = null;
  let first = 0;
  const run = () => { t = null; first = 0; fn(); };
  const call = () => {
    const now = Date.now();
    if (!first) first = now;
    clearTimeout(t);
    t = setTimeout(run, now - first >= maxMs ? 0 : ms);
  };
  call.cancel = () => { clearTimeout(t); t = null; };
  return call;
}

function labelChips(labels) {
  const e = Object.entries(labels || {});
  if (!e.length) return h('span', { class: 'muted' }, '—');
  return h('ul', { class: 'chips' }, e.map(([k, v]) => h('li', { class: 'chip' }, k + '=' + v)));
}

function roleChips(roles) {
  if (!roles || !roles.length) return h('span', { class: 'muted' }, 'none');
  return h('ul', { class: 'chips' }, roles.map((r) => h('li', { class: 'chip chip-role' }, r)));
}

function timeCell(ms) {
  return h('time', { class: 'reltime', 'data-ts': ms ?? '', datetime: ms ? new Date(ms).toISOString() : null, title: fmtTime(ms) }, relTime(ms));
}

/** Update every relative time under root. */
export function refreshTimes(root) {
  for (const t of root.querySelectorAll('time.reltime')) {
    const ms = t.getAttribute('data-ts');
    t.textContent = relTime(ms === '' ? null : Number(ms));
  }
}

function matches(c, q) {
  if (!q) return true;
  const hay = [c.name, c.id, ...(c.roles || []), labelsText(c.labels)].join(' ').toLowerCase();
  return hay.includes(q.toLowerCase());
}

/** Ask to delete one registration; resolves true once it is gone. */
export async function deleteWorker(c) {
  const ok = await confirmDialog('Delete worker ' + c.name + '?',
    'This removes the registration "' + c.id + '": its tokens are revoked, the jobs it runs are requeued, and a connected worker is told to go. Its id can be registered again later.',
    'Delete');
  if (!ok) return false;
  try {
    await api('DELETE', '/api/clusters/' + encodeURIComponent(c.id));
    toast('Deleted ' + c.name, 'ok');
    return true;
  } catch (e) {
    toast(e.message, 'error');
    return false;
  }
}

function registerDialog(onDone) {
  const titleId = 'register-title';
  const name = h('input', { id: 'reg-name', type: 'text', required: true, maxlength: 127, autocomplete: 'off', spellcheck: 'false' });
  const roles = h('input', { id: 'reg-roles', type: 'text', autocomplete: 'off', spellcheck: 'false', placeholder: 'echo, sleep', 'aria-describedby': 'reg-roles-hint' });
  const slots = h('input', { id: 'reg-slots', type: 'number', min: 1, max: 100000, step: 1, required: true, value: 4, inputmode: 'numeric' });
  const err = h('p', { class: 'form-error', role: 'alert' });
  const create = h('button', { type: 'submit', class: 'btn btn-primary', text: 'Create' });
  const cancel = h('button', { type: 'button', class: 'btn', text: 'Cancel' });
  const form = h('form', { class: 'dialog-form', novalidate: true },
    h('div', { class: 'field' }, h('label', { for: 'reg-name' }, 'Name'), name),
    h('div', { class: 'field' }, h('label', { for: 'reg-roles' }, 'Roles'), roles,
      h('p', { id: 'reg-roles-hint', class: 'hint' }, 'Role names, separated by commas. The worker may run only these.')),
    h('div', { class: 'field' }, h('label', { for: 'reg-slots' }, 'Slots'), slots),
    err,
    h('div', { class: 'dialog-actions' }, cancel, create));
  const body = h('div', { class: 'dialog-body' }, form);
  const dlg = h('dialog', { class: 'dialog dialog-wide', 'aria-labelledby': titleId },
    h('h2', { id: titleId }, 'Register worker'), body);
  let created = false;
  cancel.addEventListener('click', () => dlg.close());
  dlg.addEventListener('close', () => { dlg.remove(); if (created) onDone(); });

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    err.textContent = '';
    const n = name.value.trim();
    const r = parseRoles(roles.value);
    const s = Number(slots.value);
    if (!n) { err.textContent = 'Enter a name.'; name.focus(); return; }
    if (!Number.isInteger(s) || s < 1 || s > 100000) { err.textContent = 'Slots must be a whole number from 1 to 100000.'; slots.focus(); return; }
    const bad = r.find((x) => !ID_RE.test(x));
    if (bad) { err.textContent = 'Not a role name: ' + bad + ' (letters, digits, _ . - only).'; roles.focus(); return; }
    const req = { name: n, roles: r, slots: s };
    /* A ZeroMQ worker's id is its --name unless --id is given: when the name is
       a valid id, register under it so the join command needs no --id. */
    if (ID_RE.test(n)) req.id = n;
    create.disabled = true;
    create.textContent = 'Creating…';
    let reg;
    try {
      reg = await api('POST', '/api/clusters', req);
    } catch (e) {
      toast(e.message, 'error');
      err.textContent = e.status === 409 ? 'A worker with the id "' + (req.id || n) + '" exists already.' : e.message;
      create.disabled = false;
      create.textContent = 'Create';
      return;
    }
    created = true;
    let join = null;
    let joinErr = null;
    try {
      join = await api('POST', '/api/join-tokens', {});
    } catch (e) {
      joinErr = e.message;
      toast('Join token: ' + e.message, 'error');
    }
    showResult(reg, join, joinErr);
  });

  function block(label, text, copyLabel, extraClass) {
    return h('div', { class: 'copy-block ' + (extraClass || '') },
      h('h3', null, label),
      h('div', { class: 'copy-row' }, h('pre', { class: 'copy-text', 'data-copy-source': '', tabindex: 0 }, text), copyButton(text, copyLabel)));
  }

  function showResult(reg, join, joinErr) {
    clear(body);
    let cmd = null;
    if (join) {
      cmd = 'POPEBOT_JOIN=' + "'" + String(join.token).replace(/'/g, "'\\''") + "'" +
        ' popebot-node --role=worker --coordinator=' + shellWord(join.coordinator) +
        ' --name=' + shellWord(reg.name);
      if (reg.id !== reg.name) cmd += ' --id=' + shellWord(reg.id);
      if (reg.roles && reg.roles.length) cmd += ' --roles=' + shellWord(reg.roles.join(','));
      cmd += ' --slots=' + reg.slots;
    }
    const close = h('button', { type: 'button', class: 'btn btn-primary', text: 'Close' });
    close.addEventListener('click', () => dlg.close());
    body.append(...[
      h('p', { class: 'note-ok' }, 'Registered ', h('strong', null, reg.name), ' (id ', h('code', null, reg.id), '). It shows as offline until the worker connects.'),
      cmd
        ? block('Join command (ZeroMQ worker)', cmd, 'Copy join command')
        : h('p', { class: 'form-error' }, 'No join token could be made: ' + (joinErr || 'unknown error') + '.'),
      join ? h('p', { class: 'hint' }, 'The join token is secret: it goes in the environment, never on a command line. It ' +
        (join.uses === 0 ? 'enrolls any number of workers' : join.uses > 1 ? 'enrolls ' + join.uses + ' workers' : 'enrolls one worker') +
        (join.expires ? ' and expires ' + fmtTime(join.expires) : '') + '.') : null,
      block('Webhook URL (HTTP-only worker)', reg.webhook_url, 'Copy webhook URL'),
      h('div', { class: 'once' },
        h('p', { class: 'warning' }, h('strong', null, 'Shown once: '), 'copy the worker token now. It is stored hashed and cannot be shown again. The HTTP-only worker sends it as x-api-key.'),
        block('Worker token', reg.token, 'Copy worker token', 'token-block')),
      h('div', { class: 'dialog-actions' }, close)].filter(Boolean));
    close.focus();
  }

  document.body.appendChild(dlg);
  dlg.showModal();
  name.focus();
}

function render(params, view, query) {
  const filter = h('input', { id: 'workers-filter', type: 'search', autocomplete: 'off', placeholder: 'name, role or label', value: query.get('q') || '' });
  const regBtn = h('button', { type: 'button', class: 'btn btn-primary', text: 'Register worker' });
  const count = h('p', { class: 'count muted', 'aria-live': 'polite' });
  const tbody = h('tbody', null, h('tr', null, h('td', { colspan: 10, class: 'empty' }, 'Loading…')));
  const table = h('table', { class: 'table', 'aria-label': 'Workers' },
    h('thead', null, h('tr', null,
      ['Name', 'State', 'Roles', 'Labels', 'Slots', 'Running', 'Last heartbeat', 'Version', 'Address'].map((t) => h('th', { scope: 'col' }, t)),
      h('th', { scope: 'col' }, h('span', { class: 'sr-only' }, 'Actions')))),
    tbody);
  view.append(
    h('div', { class: 'page-head' }, h('h1', null, 'Clusters'), regBtn),
    h('div', { class: 'toolbar' },
      h('div', { class: 'field field-inline' }, h('label', { for: 'workers-filter' }, 'Filter workers'), filter),
      count),
    h('div', { class: 'table-wrap' }, table));

  let list = null;
  let alive = true;

  function draw() {
    if (!list) return;
    const q = filter.value.trim();
    const rows = list.filter((c) => matches(c, q));
    const focusKey = document.activeElement && tbody.contains(document.activeElement) ? document.activeElement.getAttribute('data-focus') : null;
    clear(tbody);
    count.textContent = q ? rows.length + ' of ' + list.length + ' workers' : list.length + (list.length === 1 ? ' worker' : ' workers');
    if (!rows.length) {
      tbody.appendChild(h('tr', null, h('td', { colspan: 10, class: 'empty' },
        list.length ? 'No worker matches "' + q + '".' : 'No workers yet. Use "Register worker", or start one with a join token.')));
      return;
    }
    for (const c of rows) {
      const del = h('button', { type: 'button', class: 'btn btn-small btn-danger-ghost', 'aria-label': 'Delete ' + c.name, 'data-focus': 'del:' + c.id, text: 'Delete' });
      del.addEventListener('click', async () => { if (await deleteWorker(c)) load(); });
      tbody.appendChild(h('tr', { 'data-id': c.id },
        h('th', { scope: 'row', class: 'cell-name' },
          h('a', { href: '/clusters/' + encodeURIComponent(c.id), 'data-focus': 'link:' + c.id }, c.name),
          c.id !== c.name ? h('span', { class: 'sub' }, c.id) : null,
          h('span', { class: 'sub kind' }, c.kind === 'http' ? 'HTTP' : 'ZeroMQ')),
        h('td', null, stateBadge(c.state)),
        h('td', null, roleChips(c.roles)),
        h('td', null, labelChips(c.labels)),
        h('td', { class: 'num' }, (c.slots_used ?? 0) + ' / ' + (c.slots ?? 0)),
        h('td', { class: 'num' }, c.running && c.running.length
          ? h('a', { href: '/jobs?worker=' + encodeURIComponent(c.id) + '&state=running', title: 'Its running jobs' }, String(c.running.length))
          : '0'),
        h('td', null, timeCell(c.last_heartbeat)),
        h('td', null, c.version || h('span', { class: 'muted' }, '—')),
        h('td', { class: 'mono' }, c.address || h('span', { class: 'muted' }, '—')),
        h('td', { class: 'actions' }, del)));
    }
    if (focusKey) {
      const again = tbody.querySelector('[data-focus="' + CSS.escape(focusKey) + '"]');
      if (again) again.focus();
    }
  }

  let loading = false;
  let again = false;
  async function load() {
    if (loading) { again = true; return; }
    loading = true;
    try {
      const r = await api('GET', '/api/clusters');
      if (!alive) return;
      list = r.clusters || [];
      draw();
    } catch (e) {
      if (!alive) return;
      if (e.status !== 401) toast('Workers: ' + e.message, 'error');
      if (!list) {
        clear(tbody);
        tbody.appendChild(h('tr', null, h('td', { colspan: 10, class: 'empty' }, 'Could not load the workers: ' + e.message)));
      }
    } finally {
      loading = false;
      if (again && alive) { again = false; load(); }
    }
  }

  const soon = debounce(load, 200, 1000);
  const offs = [onEvent('worker', soon), onEvent('open', soon), onEvent('overflow', soon),
    onEvent('job', (j) => { if (j && (j.worker || j.state === 'running')) soon(); })];
  const tick = setInterval(() => refreshTimes(tbody), 5000);

  filter.addEventListener('input', () => {
    const q = filter.value.trim();
    const u = new URL(location.href);
    if (q) u.searchParams.set('q', q); else u.searchParams.delete('q');
    history.replaceState(null, '', u.pathname + u.search);
    draw();
  });
  regBtn.addEventListener('click', () => registerDialog(load));

  load();
  return () => {
    alive = false;
    soon.cancel();
    offs.forEach((f) => f());
    clearInterval(tick);
  };
}

export function register(route) {
  route('/', render);
  route('/clusters', render);
}
