/* page_cluster.js — one worker (/clusters/{id}): its details, running jobs
   with Cancel, the live log of its newest running job, its job history, and
   the controls Drain/Resume, Edit, Disconnect and Delete.

   Rules it keeps:
   - h1 is the worker's name, next to its state badge (colour plus word), the
     one place the page shows its state word (tests find it by exact text);
   - live: `worker` events for this id refetch the registration (a `deleted`
     one says so), `job` events of this worker refetch the running jobs and the
     first history page (debounced), `open`/`overflow` refetch everything;
   - the "Live log" region follows the newest running job (logview.js) and
     switches when a newer one starts, or, when it ends, to another running job;
   - every failed request shows the server's message in a toast. */

import { api } from './api.js';
import { h, clear, relTime, fmtTime, confirmDialog, toast, stateBadge } from './dom.js';
import { onEvent } from './events.js';
import { navigate } from './router.js';
import { logView } from './logview.js';
import { debounce, deleteWorker, labelsText, parseRoles, refreshTimes } from './page_clusters.js';

const ID_RE = /^[A-Za-z0-9_.-]{1,64}$/;
const PAGE = 20;

function timeCell(ms) {
  return h('time', { class: 'reltime', 'data-ts': ms ?? '', datetime: ms ? new Date(ms).toISOString() : null, title: fmtTime(ms) }, relTime(ms));
}

function duration(job) {
  if (!job.started_ms) return '—';
  const end = job.finished_ms || Date.now();
  const s = Math.max(0, (end - job.started_ms) / 1000);
  if (s < 60) return s.toFixed(s < 10 ? 1 : 0) + ' s';
  if (s < 3600) return Math.floor(s / 60) + ' min ' + Math.floor(s % 60) + ' s';
  return Math.floor(s / 3600) + ' h ' + Math.floor((s % 3600) / 60) + ' min';
}

/** "a=1, b=2" or lines -> labels object; throws Error naming a bad entry. */
function parseLabels(text) {
  const out = {};
  for (const raw of String(text).split(/[,\n]/)) {
    const item = raw.trim();
    if (!item) continue;
    const i = item.indexOf('=');
    if (i <= 0) throw new Error('Labels are key=value: "' + item + '" is not.');
    const k = item.slice(0, i).trim();
    const v = item.slice(i + 1).trim();
    if (!ID_RE.test(k)) throw new Error('Not a label key: "' + k + '" (letters, digits, _ . - only).');
    out[k] = v;
  }
  return out;
}

function editDialog(c, onSaved) {
  const titleId = 'edit-title';
  const name = h('input', { id: 'edit-name', type: 'text', required: true, maxlength: 127, value: c.name, autocomplete: 'off' });
  const roles = h('input', { id: 'edit-roles', type: 'text', value: (c.roles || []).join(', '), autocomplete: 'off', spellcheck: 'false', 'aria-describedby': 'edit-roles-hint' });
  const labels = h('textarea', { id: 'edit-labels', rows: 3, spellcheck: 'false', 'aria-describedby': 'edit-labels-hint', value: labelsText(c.labels) });
  const slots = h('input', { id: 'edit-slots', type: 'number', min: 1, max: 100000, step: 1, value: c.slots || 1, inputmode: 'numeric' });
  const err = h('p', { class: 'form-error', role: 'alert' });
  const save = h('button', { type: 'submit', class: 'btn btn-primary', text: 'Save' });
  const cancel = h('button', { type: 'button', class: 'btn', text: 'Cancel' });
  const offered = c.offered
    ? h('p', { class: 'hint' }, 'The worker offers roles ' + ((c.offered.roles || []).join(', ') || 'none') + ' and ' + c.offered.slots + ' slots; it gets those both offered and allowed here.')
    : null;
  const form = h('form', { class: 'dialog-form', novalidate: true },
    h('div', { class: 'field' }, h('label', { for: 'edit-name' }, 'Name'), name),
    h('div', { class: 'field' }, h('label', { for: 'edit-roles' }, 'Roles'), roles,
      h('p', { id: 'edit-roles-hint', class: 'hint' }, 'Role names separated by commas; this replaces the allowed roles.')),
    h('div', { class: 'field' }, h('label', { for: 'edit-labels' }, 'Labels'), labels,
      h('p', { id: 'edit-labels-hint', class: 'hint' }, 'key=value, separated by commas or new lines; this replaces the labels.')),
    h('div', { class: 'field' }, h('label', { for: 'edit-slots' }, 'Slots'), slots),
    offered, err,
    h('div', { class: 'dialog-actions' }, cancel, save));
  const dlg = h('dialog', { class: 'dialog', 'aria-labelledby': titleId }, h('h2', { id: titleId }, 'Edit ' + c.name), form);
  cancel.addEventListener('click', () => dlg.close());
  dlg.addEventListener('close', () => dlg.remove());
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    err.textContent = '';
    const patch = {};
    const n = name.value.trim();
    if (!n) { err.textContent = 'Enter a name.'; name.focus(); return; }
    if (n !== c.name) patch.name = n;
    const r = parseRoles(roles.value);
    const bad = r.find((x) => !ID_RE.test(x));
    if (bad) { err.textContent = 'Not a role name: ' + bad + '.'; roles.focus(); return; }
    if (r.join(',') !== (c.roles || []).join(',')) patch.roles = r;
    let l;
    try { l = parseLabels(labels.value); } catch (e) { err.textContent = e.message; labels.focus(); return; }
    if (labelsText(l) !== labelsText(c.labels)) patch.labels = l;
    const s = Number(slots.value);
    if (!Number.isInteger(s) || s < 1 || s > 100000) { err.textContent = 'Slots must be a whole number from 1 to 100000.'; slots.focus(); return; }
    if (s !== c.slots) patch.slots = s;
    if (!Object.keys(patch).length) { dlg.close(); return; }
    save.disabled = true;
    try {
      const updated = await api('PATCH', '/api/clusters/' + encodeURIComponent(c.id), patch);
      toast('Saved ' + updated.name, 'ok');
      dlg.close();
      onSaved(updated);
    } catch (e) {
      toast(e.message, 'error');
      err.textContent = e.message;
      save.disabled = false;
    }
  });
  document.body.appendChild(dlg);
  dlg.showModal();
  name.focus();
}

function render(params, view) {
  const id = params.id;
  const path = '/api/clusters/' + encodeURIComponent(id);
  let c = null;
  let alive = true;
  let deleted = false;

  /* the static frame; sections fill in as data arrives */
  const h1 = h('h1', null, id);
  const badgeSlot = h('span', { class: 'badge-slot' });
  const drainBtn = h('button', { type: 'button', class: 'btn', text: 'Drain' });
  const editBtn = h('button', { type: 'button', class: 'btn', text: 'Edit' });
  const discBtn = h('button', { type: 'button', class: 'btn', text: 'Disconnect', title: 'End its session; it reconnects after its backoff' });
  const delBtn = h('button', { type: 'button', class: 'btn btn-danger', text: 'Delete' });
  const controls = h('div', { class: 'controls', role: 'group', 'aria-label': 'Worker controls' }, drainBtn, editBtn, discBtn, delBtn);
  const banner = h('p', { class: 'banner', hidden: true });
  const details = h('dl', { class: 'details' });
  const runBody = h('tbody');
  const runTable = h('table', { class: 'table', 'aria-label': 'Running jobs' },
    h('thead', null, h('tr', null, ['Job', 'Role', 'State', 'Attempt', 'Started', 'Running for'].map((t) => h('th', { scope: 'col' }, t)),
      h('th', { scope: 'col' }, h('span', { class: 'sr-only' }, 'Actions')))),
    runBody);
  const logCaption = h('p', { class: 'log-caption muted' }, 'No job is running on this worker now; the next one\'s output shows here.');
  const logSlot = h('div', { class: 'log-slot' });
  const histBody = h('tbody');
  const histTable = h('table', { class: 'table', 'aria-label': 'Job history' },
    h('thead', null, h('tr', null, ['Job', 'Role', 'State', 'Attempts', 'Created', 'Duration', 'Exit code'].map((t) => h('th', { scope: 'col' }, t)))),
    histBody);
  const prevBtn = h('button', { type: 'button', class: 'btn btn-small', text: 'Previous page', disabled: true });
  const nextBtn = h('button', { type: 'button', class: 'btn btn-small', text: 'Next page', disabled: true });
  const pageInfo = h('span', { class: 'muted' });

  view.append(
    h('p', { class: 'crumbs' }, h('a', { href: '/clusters' }, 'All workers')),
    h('div', { class: 'page-head' }, h('div', { class: 'title-row' }, h1, badgeSlot), controls),
    banner,
    h('section', { class: 'card', 'aria-labelledby': 'sec-details' }, h('h2', { id: 'sec-details' }, 'Details'), details),
    h('section', { class: 'card', 'aria-labelledby': 'sec-running' }, h('h2', { id: 'sec-running' }, 'Running jobs'), h('div', { class: 'table-wrap' }, runTable)),
    h('section', { class: 'card live-log', 'aria-label': 'Live log' }, h('h2', null, 'Live log'), logCaption, logSlot),
    h('section', { class: 'card', 'aria-labelledby': 'sec-history' }, h('h2', { id: 'sec-history' }, 'Job history'),
      h('div', { class: 'table-wrap' }, histTable),
      h('div', { class: 'pager' }, prevBtn, pageInfo, nextBtn)));

  function detail(term, value) {
    return [h('dt', null, term), h('dd', null, value === null || value === undefined || value === '' ? h('span', { class: 'muted' }, '—') : value)];
  }

  function drawWorker() {
    if (!c) return;
    h1.textContent = c.name;
    document.title = c.name + ' · popebot-node';
    clear(badgeSlot).appendChild(stateBadge(c.state));
    drainBtn.textContent = c.state === 'draining' ? 'Resume' : 'Drain';
    discBtn.disabled = deleted || c.state === 'offline';
    discBtn.title = c.state === 'offline' ? 'It is not connected' : 'End its session; it reconnects after its backoff';
    drainBtn.title = c.state === 'draining' ? 'Let it take new jobs again' : 'Stop giving it new jobs; running ones finish';
    clear(details).append(...[
      detail('ID', h('code', null, c.id)),
      detail('Name', c.name),
      detail('Kind', c.kind === 'http' ? 'HTTP-only' : 'ZeroMQ'),
      detail('Roles', (c.roles || []).join(', ') || 'none'),
      detail('Labels', labelsText(c.labels)),
      detail('Slots', (c.slots_used ?? 0) + ' used of ' + (c.slots ?? 0)),
      detail('Running jobs', String((c.running || []).length)),
      detail('Last heartbeat', c.last_heartbeat ? [timeCell(c.last_heartbeat), ' (' + fmtTime(c.last_heartbeat) + ')'] : 'never'),
      detail('First seen', c.first_seen ? fmtTime(c.first_seen) : 'never'),
      detail('Version', c.version),
      detail('Address', c.address ? h('code', null, c.address) : null),
      detail('Offered', c.offered
        ? 'roles ' + ((c.offered.roles || []).join(', ') || 'none') + '; labels ' + (labelsText(c.offered.labels) || 'none') + '; ' + c.offered.slots + ' slots'
        : 'nothing (HTTP-only)'),
    ].flat());
  }

  function showGone() {
    deleted = true;
    banner.hidden = false;
    banner.textContent = 'This worker\'s registration was deleted.';
    for (const b of [drainBtn, editBtn, discBtn, delBtn]) b.disabled = true;
  }

  async function loadWorker() {
    try {
      const r = await api('GET', path);
      if (!alive) return;
      c = r;
      deleted = false;
      banner.hidden = true;
      for (const b of [drainBtn, editBtn, delBtn]) b.disabled = false;
      discBtn.disabled = c.state === 'offline';
      drawWorker();
    } catch (e) {
      if (!alive) return;
      if (e.status === 404) {
        if (!c) {
          h1.textContent = 'Worker not found';
          controls.hidden = true;
          banner.hidden = false;
          banner.textContent = 'No worker registration has the id "' + id + '".';
        } else showGone();
      } else if (e.status !== 401) toast('Worker: ' + e.message, 'error');
    }
  }

  /* running jobs and the live log */
  let running = [];
  let follow = null; /* {id, view} */

  function followJob(jobId) {
    if (follow && follow.id === jobId) return;
    if (follow) follow.view.close();
    clear(logSlot);
    follow = null;
    if (!jobId) return;
    const v = logView(jobId);
    follow = { id: jobId, view: v };
    logSlot.appendChild(v.el);
  }

  function pickLog() {
    const newest = running.slice().sort((a, b) => (b.started_ms || 0) - (a.started_ms || 0) || (a.id < b.id ? 1 : -1))[0];
    if (newest) {
      followJob(newest.id);
      clear(logCaption).append('Following job ', h('a', { href: '/jobs/' + newest.id }, newest.id), ' (' + newest.role + '), its newest running job.');
    } else if (follow) {
      clear(logCaption).append('Job ', h('a', { href: '/jobs/' + follow.id }, follow.id), ' has ended; the next job\'s output shows here.');
    }
  }

  function drawRunning() {
    clear(runBody);
    if (!running.length) {
      runBody.appendChild(h('tr', null, h('td', { colspan: 7, class: 'empty' }, 'No job running.')));
      return;
    }
    for (const j of running) {
      const cancel = h('button', { type: 'button', class: 'btn btn-small btn-danger-ghost', text: 'Cancel', 'aria-label': 'Cancel job ' + j.id });
      cancel.addEventListener('click', async () => {
        cancel.disabled = true;
        try {
          await api('POST', '/api/jobs/' + encodeURIComponent(j.id) + '/cancel');
          toast('Cancelling job ' + j.id, 'ok');
        } catch (e) {
          toast(e.message, 'error');
          cancel.disabled = false;
        }
      });
      runBody.appendChild(h('tr', null,
        h('td', null, h('a', { href: '/jobs/' + j.id, class: 'mono' }, j.id)),
        h('td', null, j.role),
        h('td', null, stateBadge(j.state)),
        h('td', { class: 'num' }, String(j.attempts ?? '')),
        h('td', null, timeCell(j.started_ms)),
        h('td', { class: 'num' }, duration(j)),
        h('td', { class: 'actions' }, cancel)));
    }
  }

  async function loadRunning() {
    try {
      const r = await api('GET', '/api/jobs?worker=' + encodeURIComponent(id) + '&state=running&limit=1000');
      if (!alive) return;
      running = r.jobs || [];
      drawRunning();
      pickLog();
    } catch (e) {
      if (alive && e.status !== 401) toast('Running jobs: ' + e.message, 'error');
    }
  }

  /* history, paged with cursors (a stack of the cursors of earlier pages) */
  let cursors = [null];
  let nextCursor = null;

  async function loadHistory() {
    const cur = cursors[cursors.length - 1];
    const q = new URLSearchParams({ worker: id, limit: String(PAGE) });
    if (cur) q.set('cursor', cur);
    try {
      const r = await api('GET', '/api/jobs?' + q.toString());
      if (!alive) return;
      nextCursor = r.next_cursor || null;
      clear(histBody);
      const jobs = r.jobs || [];
      if (!jobs.length) {
        histBody.appendChild(h('tr', null, h('td', { colspan: 7, class: 'empty' }, cursors.length > 1 ? 'No more jobs.' : 'This worker has run no job yet.')));
      }
      for (const j of jobs) {
        histBody.appendChild(h('tr', null,
          h('td', null, h('a', { href: '/jobs/' + j.id, class: 'mono' }, j.id)),
          h('td', null, j.role),
          h('td', null, stateBadge(j.state)),
          h('td', { class: 'num' }, (j.attempts ?? 0) + ' / ' + (j.max_attempts ?? 0)),
          h('td', null, timeCell(j.created_ms)),
          h('td', { class: 'num' }, duration(j)),
          h('td', { class: 'num' }, j.exit_code === null || j.exit_code === undefined ? '—' : String(j.exit_code))));
      }
      prevBtn.disabled = cursors.length <= 1;
      nextBtn.disabled = !nextCursor;
      pageInfo.textContent = 'Page ' + cursors.length;
    } catch (e) {
      if (alive && e.status !== 401) toast('Job history: ' + e.message, 'error');
    }
  }

  nextBtn.addEventListener('click', () => { if (nextCursor) { cursors.push(nextCursor); loadHistory(); } });
  prevBtn.addEventListener('click', () => { if (cursors.length > 1) { cursors.pop(); loadHistory(); } });

  drainBtn.addEventListener('click', async () => {
    if (!c) return;
    const to = c.state === 'draining' ? 'online' : 'draining';
    drainBtn.disabled = true;
    try {
      c = await api('PATCH', path, { state: to });
      drawWorker();
      toast(to === 'draining' ? 'Draining ' + c.name + ': running jobs finish, no new ones start' : 'Resumed ' + c.name, 'ok');
    } catch (e) {
      toast(e.message, 'error');
    } finally {
      drainBtn.disabled = deleted;
    }
  });
  discBtn.addEventListener('click', async () => {
    if (!c) return;
    const ok = await confirmDialog('Disconnect ' + c.name + '?',
      'Its session ends and the jobs it runs are requeued (the attempt does not count). The registration stays, and a live worker reconnects after its backoff: drain it first to keep it idle, or delete it to keep it out.',
      'Disconnect');
    if (!ok) return;
    discBtn.disabled = true;
    try {
      await api('POST', path + '/disconnect');
      toast('Disconnected ' + c.name, 'ok');
      refreshWorker();
      refreshJobs();
    } catch (e) {
      toast(e.message, 'error');
      discBtn.disabled = deleted || (c && c.state === 'offline');
    }
  });
  editBtn.addEventListener('click', () => { if (c) editDialog(c, (u) => { c = u; drawWorker(); }); });
  delBtn.addEventListener('click', async () => {
    if (c && (await deleteWorker(c))) navigate('/clusters');
  });

  const refreshWorker = debounce(loadWorker, 200, 1000);
  const refreshJobs = debounce(() => { loadRunning(); if (cursors.length === 1) loadHistory(); }, 200, 1000);
  const offs = [
    onEvent('worker', (ev) => {
      if (!ev || ev.id !== id) return;
      if (ev.state === 'deleted') { showGone(); return; }
      refreshWorker();
    }),
    onEvent('job', (ev) => {
      if (!ev) return;
      if (ev.worker === id || running.some((j) => j.id === ev.id) || (follow && follow.id === ev.id)) {
        refreshJobs();
        refreshWorker();
      }
    }),
    onEvent('open', () => { refreshWorker(); refreshJobs(); }),
    onEvent('overflow', () => { refreshWorker(); refreshJobs(); }),
  ];
  const tick = setInterval(() => {
    refreshTimes(view);
    for (const tr of runBody.rows) { /* keep "Running for" moving */
      const j = running[tr.sectionRowIndex];
      if (j && tr.cells[5]) tr.cells[5].textContent = duration(j);
    }
  }, 3000);

  loadWorker();
  loadRunning();
  loadHistory();
  return () => {
    alive = false;
    refreshWorker.cancel();
    refreshJobs.cancel();
    offs.forEach((f) => f());
    clearInterval(tick);
    if (follow) follow.view.close();
  };
}

export function register(route) {
  route('/clusters/:id', render);
}
