// page_jobs.js — the Jobs page (/jobs): every job, newest first, with filters
// (State, Role, Worker), a search box and cursor pagination.
//
// Rules kept: the filters and the search live in the URL query (replaceState),
// so a reload or a shared link keeps them; pages follow the API's cursor
// (Next page pushes the current cursor on a stack, Previous page pops it);
// `job` events refresh the first page (throttled to 4 a second) and only update, in place,
// the rows already shown on later pages, so the user never loses their place;
// DOM built with h()/textContent; failed requests show the server's message.
// The search is sent as `q=`; a coordinator that does not know `q` (422) gets
// an exact job id lookup instead.

import { api, errText } from './api.js';
import { h, clear, toast, relTime, fmtTime, stateBadge } from './dom.js';
import { onEvent } from './events.js';

const PAGE_SIZE = 50;
const STATES = ['queued', 'scheduled', 'running', 'succeeded', 'failed', 'timed_out', 'cancelled', 'dead'];
const FILTERS = ['state', 'role', 'worker', 'q'];

let searchByQ = true; // false once the coordinator refused `q` (422)

// "850 ms", "4.2 s", "3 min 4 s", "2 h 5 min"
export function fmtDuration(ms) {
  if (ms === null || ms === undefined || !Number.isFinite(ms) || ms < 0) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s < 10 ? s.toFixed(1) : Math.round(s)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${Math.floor(s % 60)} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

export function jobDuration(job, now = Date.now()) {
  if (!job.started_ms) return null;
  const end = job.finished_ms || (job.state === 'running' ? now : null);
  return end ? end - job.started_ms : null;
}

// A relative time that stays fresh: the page re-renders [data-rel-ms] elements.
export function relTimeEl(ms) {
  if (!ms) return h('span', { class: 'muted', text: '—' });
  return h('time', { datetime: new Date(ms).toISOString(), title: fmtTime(ms), 'data-rel-ms': String(ms), text: relTime(ms) });
}

export function refreshRelTimes(root) {
  for (const t of root.querySelectorAll('[data-rel-ms]')) t.textContent = relTime(Number(t.getAttribute('data-rel-ms')));
}

export function register(route) {
  route('/jobs', (params, view, query) => renderJobs(view, query));
}

async function renderJobs(view, query) {
  const filters = {};
  for (const k of FILTERS) filters[k] = (query && query.get(k)) || '';

  // ---- controls
  const sel = (id, label, options, value) => {
    const s = h(
      'select',
      { id, name: id },
      options.map(([v, t]) => h('option', { value: v, text: t }))
    );
    s.value = value;
    return h('div', { class: 'field' }, h('label', { for: id, text: label }), s);
  };
  const stateF = sel('jobs-state', 'State', [['', 'Any state'], ...STATES.map((s) => [s, s])], filters.state);
  const roleF = sel('jobs-role', 'Role', [['', 'Any role']], '');
  const workerF = sel('jobs-worker', 'Worker', [['', 'Any worker']], '');
  const stateSel = stateF.querySelector('select');
  const roleSel = roleF.querySelector('select');
  const workerSel = workerF.querySelector('select');
  // Options that the URL names exist before the lists arrive.
  if (filters.role) roleSel.append(h('option', { value: filters.role, text: filters.role }));
  if (filters.worker) workerSel.append(h('option', { value: filters.worker, text: filters.worker }));
  roleSel.value = filters.role;
  workerSel.value = filters.worker;

  const search = h('input', {
    id: 'jobs-search',
    type: 'search',
    name: 'q',
    value: filters.q,
    placeholder: 'id, role, worker or payload text',
    maxlength: '159',
    autocomplete: 'off',
    spellcheck: 'false',
  });
  const searchForm = h(
    'form',
    { class: 'field search-field', role: 'search' },
    h('label', { for: 'jobs-search', text: 'Search' }),
    search
  );
  const reset = h('button', { type: 'button', class: 'btn', text: 'Reset filters' });

  const body = h('tbody');
  const table = h(
    'table',
    { class: 'table jobs-table', 'aria-label': 'Jobs' },
    h(
      'thead',
      null,
      h('tr', null, ['ID', 'Role', 'State', 'Worker', 'Attempts', 'Created', 'Duration'].map((t) => h('th', { scope: 'col', text: t })))
    ),
    body
  );
  const status = h('p', { class: 'muted jobs-status', 'aria-live': 'polite' });
  const prev = h('button', { type: 'button', class: 'btn', text: 'Previous page', disabled: true });
  const next = h('button', { type: 'button', class: 'btn', text: 'Next page', disabled: true });
  const pageNo = h('span', { class: 'muted page-no' });

  view.append(
    h('div', { class: 'page-head' }, h('h1', { text: 'Jobs' })),
    h('div', { class: 'filters' }, stateF, roleF, workerF, searchForm, h('div', { class: 'field field-button' }, reset)),
    status,
    h('div', { class: 'table-wrap' }, table),
    h('nav', { class: 'pager', 'aria-label': 'Pages' }, prev, pageNo, next)
  );

  let dead = false;
  let cursor = null; // the cursor of the page shown (null = first page)
  const stack = []; // cursors of the pages before it
  let nextCursor = null;
  let loading = false;
  let again = false;
  let liveTimer = null;
  let shown = new Map(); // id -> row parts, for in-place updates
  const workerNames = new Map(); // worker id -> name, for the Worker column
  let reqSeq = 0;

  function syncUrl() {
    const qs = new URLSearchParams();
    for (const k of FILTERS) if (filters[k]) qs.set(k, filters[k]);
    const s = qs.toString();
    const url = '/jobs' + (s ? '?' + s : '');
    if (url !== location.pathname + location.search) history.replaceState(null, '', url);
  }

  function row(job) {
    const badgeCell = h('td', null, stateBadge(job.state));
    const workerCell = h('td');
    const attemptsCell = h('td', { class: 'num' });
    const durCell = h('td', { class: 'num' });
    const parts = { job: { ...job }, badgeCell, workerCell, attemptsCell, durCell };
    fillRow(parts);
    const tr = h(
      'tr',
      null,
      h('td', null, h('a', { class: 'mono', href: `/jobs/${encodeURIComponent(job.id)}`, text: job.id })),
      h('td', { text: job.role }),
      badgeCell,
      workerCell,
      attemptsCell,
      h('td', null, relTimeEl(job.created_ms)),
      durCell
    );
    shown.set(job.id, parts);
    return tr;
  }

  function fillRow(p) {
    const j = p.job;
    clear(p.badgeCell).append(stateBadge(j.state));
    clear(p.workerCell).append(
      j.worker
        ? h('a', { href: `/clusters/${encodeURIComponent(j.worker)}`, title: j.worker, text: workerNames.get(j.worker) || j.worker })
        : h('span', { class: 'muted', text: '—' })
    );
    p.attemptsCell.textContent = j.max_attempts ? `${j.attempts ?? 0} / ${j.max_attempts}` : String(j.attempts ?? 0);
    p.durCell.textContent = fmtDuration(jobDuration(j));
  }

  function show(jobs, note) {
    shown = new Map();
    clear(body);
    if (!jobs.length) body.append(h('tr', null, h('td', { colspan: 7, class: 'muted', text: note || 'No jobs match.' })));
    for (const j of jobs) body.append(row(j));
    prev.disabled = stack.length === 0;
    next.disabled = !nextCursor;
    pageNo.textContent = `Page ${stack.length + 1}`;
  }

  function listUrl() {
    const qs = new URLSearchParams();
    for (const k of ['state', 'role', 'worker']) if (filters[k]) qs.set(k, filters[k]);
    if (filters.q && searchByQ) qs.set('q', filters.q);
    qs.set('limit', String(PAGE_SIZE));
    if (cursor) qs.set('cursor', cursor);
    return '/api/jobs?' + qs.toString();
  }

  // With no `q` on the server: the search can only be an exact job id.
  async function idLookup() {
    nextCursor = null;
    const id = filters.q.trim().toLowerCase();
    if (!/^[0-9a-f]{16}$/.test(id)) {
      show([], 'This coordinator searches by exact job id only (16 hex digits).');
      return;
    }
    try {
      const job = await api('GET', `/api/jobs/${id}`);
      const ok = ['state', 'role', 'worker'].every((k) => !filters[k] || job[k] === filters[k]);
      show(ok ? [job] : []);
    } catch (e) {
      if (e.status === 404) show([], `No job ${id}.`);
      else throw e;
    }
  }

  async function load() {
    if (loading) {
      again = true;
      return;
    }
    loading = true;
    const my = ++reqSeq;
    try {
      if (filters.q && !searchByQ) {
        await idLookup();
        status.textContent = '';
        return;
      }
      let data;
      try {
        data = await api('GET', listUrl());
      } catch (e) {
        if (filters.q && searchByQ && e.status === 422 && /\bq\b/.test(e.message || '')) {
          searchByQ = false;
          await idLookup();
          status.textContent = '';
          return;
        }
        throw e;
      }
      if (dead || my !== reqSeq) return;
      nextCursor = data.next_cursor || null;
      show(Array.isArray(data.jobs) ? data.jobs : []);
      status.textContent = data.truncated
        ? 'The store walk stopped early on this page; Next page goes on from there.'
        : '';
    } catch (e) {
      if (dead) return;
      status.textContent = `Could not load jobs: ${errText(e)}`;
      toast(`Jobs: ${errText(e)}`, 'error');
    } finally {
      loading = false;
      if (again && !dead) {
        again = false;
        load();
      }
    }
  }

  function restart() {
    cursor = null;
    stack.length = 0;
    syncUrl();
    load();
  }

  async function loadChoices() {
    try {
      const [r, c] = await Promise.all([api('GET', '/api/roles'), api('GET', '/api/clusters')]);
      if (dead) return;
      const fillSel = (s, anyText, items, current) => {
        clear(s).append(h('option', { value: '', text: anyText }));
        const seen = new Set();
        for (const [v, t] of items) {
          seen.add(v);
          s.append(h('option', { value: v, text: t }));
        }
        if (current && !seen.has(current)) s.append(h('option', { value: current, text: current }));
        s.value = current;
      };
      fillSel(roleSel, 'Any role', (r.roles || []).map((x) => [x.name, x.name]), filters.role);
      const cl = c.clusters || [];
      workerNames.clear();
      for (const w of cl) if (w.name) workerNames.set(w.id, w.name);
      for (const p of shown.values()) fillRow(p);
      const names = new Map();
      for (const w of cl) names.set(w.name, (names.get(w.name) || 0) + 1);
      fillSel(
        workerSel,
        'Any worker',
        cl.map((w) => [w.id, names.get(w.name) > 1 || !w.name ? `${w.name || w.id} (${w.id})` : w.name]),
        filters.worker
      );
    } catch (e) {
      if (!dead) toast(`Filters: ${errText(e)}`, 'error');
    }
  }

  // ---- wiring
  const onFilter = (key, el) =>
    el.addEventListener('change', () => {
      filters[key] = el.value;
      restart();
    });
  onFilter('state', stateSel);
  onFilter('role', roleSel);
  onFilter('worker', workerSel);

  let typeTimer = null;
  const applySearch = () => {
    clearTimeout(typeTimer);
    const v = search.value.trim();
    if (v === filters.q) return;
    filters.q = v;
    restart();
  };
  search.addEventListener('input', () => {
    clearTimeout(typeTimer);
    typeTimer = setTimeout(applySearch, 400);
  });
  searchForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    applySearch();
  });
  reset.addEventListener('click', () => {
    for (const k of FILTERS) filters[k] = '';
    stateSel.value = roleSel.value = workerSel.value = search.value = '';
    restart();
  });
  next.addEventListener('click', () => {
    if (!nextCursor) return;
    stack.push(cursor);
    cursor = nextCursor;
    load();
    table.scrollIntoView({ block: 'nearest' });
  });
  prev.addEventListener('click', () => {
    if (!stack.length) return;
    cursor = stack.pop();
    load();
  });

  // Live: the first page reloads; later pages update the rows they show.
  function onJob(ev) {
    if (!ev || !ev.id) return;
    const p = shown.get(ev.id);
    if (p) {
      p.job.state = ev.state;
      if ('worker' in ev) p.job.worker = ev.worker;
      if (typeof ev.attempt === 'number') p.job.attempts = Math.max(p.job.attempts || 0, ev.attempt);
      if (ev.state === 'running' && !p.job.started_ms) p.job.started_ms = Date.now();
      fillRow(p);
    }
    if (cursor === null && !liveTimer)
      liveTimer = setTimeout(() => {
        liveTimer = null;
        load();
      }, 250);
  }
  const refetch = () => {
    loadChoices();
    load();
  };
  const offs = [
    onEvent('job', onJob),
    onEvent('open', refetch),
    onEvent('overflow', () => load()),
    onEvent('role', () => loadChoices()),
    onEvent('worker', (ev) => {
      if (ev && ev.state === 'deleted') return;
      if (ev && ![...workerSel.options].some((o) => o.value === ev.id)) loadChoices();
    }),
  ];
  const ticker = setInterval(() => {
    refreshRelTimes(body);
    for (const p of shown.values()) if (p.job.state === 'running') fillRow(p);
  }, 5000);

  syncUrl();
  loadChoices();
  await load();

  return () => {
    dead = true;
    clearTimeout(liveTimer);
    clearTimeout(typeTimer);
    clearInterval(ticker);
    offs.forEach((f) => f());
  };
}
