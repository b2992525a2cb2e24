// triggers.js — a role's triggers (cron schedules and file watches): the
// editor part of the role form, the "Triggers" status table of the role's
// detail view, and the one-line summary of the Roles list.
//
// Rules kept: DOM built with h()/textContent only (no innerHTML); every
// control has a <label for>; within one trigger's fieldset (legend
// "Schedule N" / "File watch N") the labels are unique: "Schedule",
// "Time zone", "Missed runs", "Payload" / "Paths", "Debounce (ms)",
// "Payload", and a "Remove" button; field names and defaults are those of
// the roles API (type, schedule, timezone, missed, paths, debounce_ms,
// payload); trigger_status is read-only and never collected for sending;
// local checks only for what is obvious (JSON object, absolute paths, whole
// numbers): cron syntax is the server's to judge (its 422 message is shown);
// a state is never told by colour alone (an error says "Error:").

import { api } from './api.js';
import { h, clear, fmtTime, relTime } from './dom.js';
import { onEvent } from './events.js';

export const MAX_TRIGGERS = 16;
const MAX_PATHS = 16;
const MAX_DEBOUNCE = 3600000;
const SCHEDULE_HINT =
  'Five fields: minute hour day-of-month month day-of-week. Each is *, a number, a list (1,15), ' +
  'a range (1-5) or a step (*/10, 8-18/2); months and days may be names (jan, mon-fri). ' +
  'Or @hourly, @daily, @weekly, @monthly, @yearly. Examples: */5 * * * * every 5 minutes; ' +
  '0 9 * * mon-fri 09:00 on weekdays; 30 2 1 * * 02:30 on the 1st of each month.';

let seqNo = 0;

// ---- small helpers -----------------------------------------------------------

function browserZone() {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
  } catch (e) {
    return 'UTC';
  }
}

function zoneList() {
  let zones = [];
  try {
    if (typeof Intl.supportedValuesOf === 'function') zones = Intl.supportedValuesOf('timeZone');
  } catch (e) {
    zones = [];
  }
  if (!zones.length)
    zones = ['Europe/London', 'Europe/Berlin', 'Europe/Paris', 'America/New_York', 'America/Chicago',
      'America/Los_Angeles', 'Asia/Tokyo', 'Asia/Kolkata', 'Asia/Shanghai', 'Australia/Sydney'];
  const set = new Set(['UTC', browserZone(), ...zones]);
  return Array.from(set);
}

/** JSON text with object keys sorted, so two triggers compare by content. */
function canon(v) {
  if (Array.isArray(v)) return '[' + v.map(canon).join(',') + ']';
  if (v && typeof v === 'object')
    return '{' + Object.keys(v).sort().map((k) => JSON.stringify(k) + ':' + canon(v[k])).join(',') + '}';
  return JSON.stringify(v === undefined ? null : v);
}

/** True when the two trigger arrays say the same (key order ignored). */
export function sameTriggers(a, b) {
  return canon(a || []) === canon(b || []);
}

/** "2 schedules, 1 watch" or "—". */
export function triggerSummary(triggers) {
  const list = Array.isArray(triggers) ? triggers : [];
  const cron = list.filter((t) => t && t.type === 'cron').length;
  const watch = list.filter((t) => t && t.type === 'watch').length;
  const parts = [];
  if (cron) parts.push(`${cron} schedule${cron === 1 ? '' : 's'}`);
  if (watch) parts.push(`${watch} watch${watch === 1 ? '' : 'es'}`);
  return parts.length ? parts.join(', ') : '—';
}

const kindName = (t) => (t && t.type === 'watch' ? 'File watch' : 'Schedule');
const missedText = (m) => (m === 'once' ? 'run once' : 'skip');

// ---- the editor ----------------------------------------------------------------

/**
 * The "Triggers" fieldset of the role form.
 * triggers: the role's triggers (or [] for a new role); readonly: all disabled.
 * Returns {el, collect(), explain(message)}: collect() -> the triggers array
 * to send, or throws an Error whose message names the group and the field;
 * explain() puts the group's legend before a server message about triggers[i]
 * (the server counts from 0, the legends from 1).
 */
export function triggerEditor(triggers, { readonly = false } = {}) {
  const seq = `${++seqNo}-${Math.random().toString(36).slice(2, 6)}`;
  const zonesId = `trig-zones-${seq}`;
  const list = h('div', { class: 'trigger-list' });
  const empty = h('p', { class: 'muted trigger-empty', text: 'No schedules or file watches: jobs start only when submitted or through the webhook.' });
  const addCron = h('button', { type: 'button', class: 'btn btn-small', text: 'Add schedule', disabled: readonly });
  const addWatch = h('button', { type: 'button', class: 'btn btn-small', text: 'Add file watch', disabled: readonly });
  const zones = h('datalist', { id: zonesId }, zoneList().map((z) => h('option', { value: z })));
  const el = h(
    'fieldset',
    { class: 'triggers-editor' },
    h('legend', { text: 'Triggers' }),
    h('p', { class: 'hint', text: 'Start jobs of this role on a schedule or when files change on the coordinator’s host. Each job’s payload is the trigger’s payload plus a "trigger" key saying what fired.' }),
    empty,
    list,
    h('div', { class: 'trigger-add' }, addCron, addWatch),
    zones
  );
  const groups = []; // {t: type, box, legend, fields..., read()}

  function changed() {
    // The role form marks itself dirty on input events; adding or removing a group is one.
    el.dispatchEvent(new Event('input', { bubbles: true }));
  }

  function renumber() {
    groups.forEach((g, i) => {
      g.legend.textContent = `${g.type === 'watch' ? 'File watch' : 'Schedule'} ${i + 1}`;
    });
    empty.hidden = groups.length > 0;
    const full = groups.length >= MAX_TRIGGERS;
    addCron.disabled = readonly || full;
    addWatch.disabled = readonly || full;
  }

  function field(gid, n, label, control, hintText, cls) {
    const id = `trig-${gid}-${n}`;
    control.id = id;
    if (hintText) control.setAttribute('aria-describedby', id + '-hint');
    if (readonly) control.disabled = true;
    return h(
      'div',
      { class: ['field', cls] },
      h('label', { for: id, text: label }),
      control,
      hintText ? h('small', { id: id + '-hint', class: 'hint', text: hintText }) : null
    );
  }

  function payloadText(p) {
    return p && typeof p === 'object' && !Array.isArray(p) && Object.keys(p).length ? JSON.stringify(p, null, 2) : '{}';
  }

  function readPayload(ta, where) {
    const text = ta.value.trim() || '{}';
    let v;
    try {
      v = JSON.parse(text);
    } catch (e) {
      throw new Error(`${where}, Payload: not valid JSON (${e.message})`);
    }
    if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error(`${where}, Payload: must be a JSON object, like {"key": "value"}`);
    return v;
  }

  function addGroup(t) {
    const gid = `${seq}-${Math.random().toString(36).slice(2, 8)}`;
    const legend = h('legend');
    const remove = h('button', { type: 'button', class: 'btn btn-small btn-danger-ghost', text: 'Remove', disabled: readonly });
    const g = { type: t.type === 'watch' ? 'watch' : 'cron', legend };
    const ptext = payloadText(t.payload);
    const prows = Math.min(8, Math.max(2, ptext.split('\n').length));
    const payload = h('textarea', { class: 'mono', rows: String(prows), spellcheck: 'false', value: ptext });
    let body;
    if (g.type === 'cron') {
      const schedule = h('input', { type: 'text', class: 'mono', autocomplete: 'off', spellcheck: 'false', value: t.schedule || '' });
      const zone = h('input', { type: 'text', autocomplete: 'off', spellcheck: 'false', list: zonesId, value: t.timezone || browserZone() });
      const missed = h(
        'select',
        { value: t.missed === 'once' ? 'once' : 'skip' },
        h('option', { value: 'skip', text: 'Skip' }),
        h('option', { value: 'once', text: 'Run once' })
      );
      body = [
        field(gid, 'schedule', 'Schedule', schedule, SCHEDULE_HINT, 'wide'),
        field(gid, 'zone', 'Time zone', zone, 'An IANA zone name, e.g. Europe/Berlin; the schedule follows its daylight saving.'),
        field(gid, 'missed', 'Missed runs', missed, 'Runs due while the coordinator was down: skip them, or run one catch-up job at start.'),
        field(gid, 'payload', 'Payload', payload, 'A JSON object; {} when empty.', 'wide'),
      ];
      g.read = (where) => {
        const s = schedule.value.trim();
        if (!s) throw new Error(`${where}, Schedule: required (e.g. */5 * * * *)`);
        return {
          type: 'cron',
          schedule: s,
          timezone: zone.value.trim() || 'UTC',
          missed: missed.value === 'once' ? 'once' : 'skip',
          payload: readPayload(payload, where),
        };
      };
    } else {
      const paths = h('textarea', { class: 'mono', rows: '3', spellcheck: 'false', value: (t.paths || []).join('\n') });
      const debounce = h('input', {
        type: 'number',
        min: '0',
        max: String(MAX_DEBOUNCE),
        step: '1',
        inputmode: 'numeric',
        value: t.debounce_ms === undefined || t.debounce_ms === null ? '1000' : String(t.debounce_ms),
      });
      body = [
        field(gid, 'paths', 'Paths', paths, 'One absolute path per line, on the coordinator’s host (up to 16). A directory watches the files in it (not sub-directories); a file watches that file.', 'wide'),
        field(gid, 'debounce', 'Debounce (ms)', debounce, 'The job starts once no change came for this long (0 to 3600000).'),
        field(gid, 'payload', 'Payload', payload, 'A JSON object; {} when empty.', 'wide'),
      ];
      g.read = (where) => {
        const list = paths.value
          .split(/\r?\n/)
          .map((p) => p.trim())
          .filter(Boolean);
        if (!list.length) throw new Error(`${where}, Paths: at least one absolute path`);
        if (list.length > MAX_PATHS) throw new Error(`${where}, Paths: at most ${MAX_PATHS} (there are ${list.length})`);
        const rel = list.find((p) => !p.startsWith('/'));
        if (rel !== undefined) throw new Error(`${where}, Paths: "${rel}" is not absolute (it must start with /)`);
        const dt = debounce.value.trim();
        let ms = 1000;
        if (dt !== '') {
          ms = Number(dt);
          if (!/^\d+$/.test(dt) || !Number.isSafeInteger(ms) || ms > MAX_DEBOUNCE)
            throw new Error(`${where}, Debounce (ms): a whole number from 0 to ${MAX_DEBOUNCE}`);
        }
        return { type: 'watch', paths: list, debounce_ms: ms, payload: readPayload(payload, where) };
      };
    }
    g.box = h(
      'fieldset',
      { class: ['trigger-group', `trigger-${g.type}`] },
      legend,
      h('div', { class: 'form-grid' }, body),
      h('div', { class: 'trigger-group-actions' }, remove)
    );
    remove.addEventListener('click', () => {
      const i = groups.indexOf(g);
      if (i < 0) return;
      groups.splice(i, 1);
      const next = groups[i] || groups[i - 1];
      g.box.remove();
      renumber();
      changed();
      (next ? next.box.querySelector('input, textarea') : addCron).focus();
    });
    groups.push(g);
    list.append(g.box);
    renumber();
    return g;
  }

  for (const t of Array.isArray(triggers) ? triggers : []) addGroup(t || {});
  renumber();
  addCron.addEventListener('click', () => {
    const g = addGroup({ type: 'cron' });
    changed();
    g.box.querySelector('input').focus();
  });
  addWatch.addEventListener('click', () => {
    const g = addGroup({ type: 'watch' });
    changed();
    g.box.querySelector('textarea').focus();
  });

  function collect() {
    return groups.map((g) => g.read(g.legend.textContent));
  }

  function explain(message) {
    const text = String(message);
    const m = /triggers\[(\d+)\]/.exec(text);
    const g = m ? groups[Number(m[1])] : null;
    return g ? `${g.legend.textContent}: ${text}` : text;
  }

  return { el, collect, explain };
}

// ---- the status table ------------------------------------------------------------

function when(ms, soon) {
  if (ms === null || ms === undefined) return h('span', { class: 'muted', text: soon || '—' });
  return h(
    'span',
    { class: 'trigger-when' },
    h('time', { datetime: new Date(ms).toISOString(), text: fmtTime(ms) }),
    ' ',
    h('span', { class: 'muted rel', 'data-rel-ms': String(ms), text: `(${relTime(ms)})` })
  );
}

function statusCell(t, st, role) {
  // a disabled role's triggers are idle by choice, not in error (the server says why anyway)
  if (!role.enabled) return h('span', { class: 'mark mark-no', text: 'Paused: role disabled' });
  if (st && st.error)
    return h('span', { class: 'trigger-error' }, h('strong', { class: 'trigger-error-label', text: 'Error: ' }), st.error);
  if (t.type === 'watch') {
    if (st && st.watching) return h('span', { class: 'mark mark-yes', text: 'Watching' });
    return h('span', { class: 'muted', text: 'Not watching yet' });
  }
  if (st && st.next_run_ms !== null && st.next_run_ms !== undefined) return h('span', { class: 'mark mark-yes', text: 'Scheduled' });
  return h('span', { class: 'muted', text: 'Not scheduled' });
}

function definition(t) {
  if (t.type === 'watch') {
    const paths = Array.isArray(t.paths) ? t.paths : [];
    return h(
      'div',
      { class: 'trigger-def' },
      h('ul', { class: 'trigger-paths' }, paths.map((p) => h('li', null, h('code', { text: p })))),
      h('span', { class: 'muted', text: `debounce ${t.debounce_ms ?? 1000} ms` })
    );
  }
  return h(
    'div',
    { class: 'trigger-def' },
    h('code', { text: t.schedule || '' }),
    h('span', { class: 'muted', text: ` ${t.timezone || 'UTC'} · missed runs: ${missedText(t.missed)}` })
  );
}

function fillTable(box, role) {
  clear(box);
  const list = Array.isArray(role.triggers) ? role.triggers : [];
  const status = Array.isArray(role.trigger_status) ? role.trigger_status : [];
  if (!list.length) {
    box.append(h('p', { class: 'muted', text: role.builtin ? 'No schedules or file watches.' : 'No schedules or file watches (add them in the editor below).' }));
    return;
  }
  const body = h('tbody', { role: 'rowgroup' });
  list.forEach((t, i) => {
    const st = status[i] || {};
    const last = st.last_run_ms !== null && st.last_run_ms !== undefined ? when(st.last_run_ms) : h('span', { class: 'muted', text: 'never' });
    // Explicit roles: the narrow layout shows each row as a card (CSS display
    // changes), which must not take the table semantics away.
    const cell = (label, cls, ...kids) => h('td', { role: 'cell', class: cls, 'data-label': label }, h('div', null, ...kids));
    body.append(
      h(
        'tr',
        { role: 'row', class: st.error ? 'trigger-row-error' : null },
        cell('Type', 'trigger-type', `${kindName(t)} ${i + 1}`),
        cell('Definition', null, definition(t)),
        cell('Next run', null, t.type === 'watch' ? h('span', { class: 'muted', text: 'on change' }) : when(st.next_run_ms)),
        cell(
          'Last run',
          null,
          last,
          st.last_job ? [h('br'), h('a', { href: `/jobs/${encodeURIComponent(st.last_job)}`, text: `job ${st.last_job}` })] : null
        ),
        cell('Status', null, statusCell(t, st, role))
      )
    );
  });
  box.append(
    h(
      'div',
      { class: 'table-wrap' },
      h(
        'table',
        { role: 'table', class: 'table triggers-table', 'aria-label': 'Triggers' },
        h(
          'thead',
          { role: 'rowgroup' },
          h('tr', { role: 'row' }, ['Type', 'Definition', 'Next run', 'Last run', 'Status'].map((c) => h('th', { role: 'columnheader', scope: 'col', text: c })))
        ),
        body
      )
    )
  );
}

/**
 * The "Triggers" table for role (as GET /api/roles/{name} gives it), kept live:
 * it refetches the role on a `role` event for it, on `job` events of its role
 * and on every (re)connect, and refreshes the relative times.
 * Returns {el, update(role), close()}.
 */
export function triggerStatus(role) {
  const box = h('div', { class: 'trigger-status' });
  let current = role;
  let timer = null;
  let dead = false;
  fillTable(box, current);

  async function refetch() {
    timer = null;
    try {
      const r = await api('GET', `/api/roles/${encodeURIComponent(current.name)}`);
      if (!dead && r && r.name === current.name) {
        current = r;
        fillTable(box, current);
      }
    } catch (e) {
      /* deleted or offline: the page says so on its own reload */
    }
  }
  const soon = () => {
    if (!dead && !timer) timer = setTimeout(refetch, 300);
  };
  const offs = [
    onEvent('role', (ev) => {
      if (ev && ev.name === current.name && !ev.deleted) soon();
    }),
    onEvent('job', (ev) => {
      if (ev && ev.role === current.name) soon();
    }),
    onEvent('open', soon),
  ];
  const tick = setInterval(() => {
    for (const t of box.querySelectorAll('[data-rel-ms]')) t.textContent = `(${relTime(Number(t.getAttribute('data-rel-ms')))})`;
    // Ask again when something may have changed without an event: a schedule
    // that fell due (a skipped run), a watch not (yet) watching (the
    // coordinator retries a missing path on its own).
    const st = Array.isArray(current.trigger_status) ? current.trigger_status : [];
    const tr = Array.isArray(current.triggers) ? current.triggers : [];
    const overdue = st.some((s) => s && s.next_run_ms && s.next_run_ms < Date.now() - 2000);
    const waiting = current.enabled && tr.some((t, i) => t && t.type === 'watch' && !(st[i] && st[i].watching));
    if (overdue || waiting) soon();
  }, 5000);
  return {
    el: box,
    update(r) {
      if (r && r.name === current.name) {
        current = r;
        fillTable(box, current);
      }
    },
    close() {
      dead = true;
      clearTimeout(timer);
      clearInterval(tick);
      offs.forEach((f) => f());
    },
  };
}
