// page_roles.js — the Roles page: /roles (the list) and /roles/:name (the list
// plus one role's details: editor, trigger webhook, curl command, "Run now").
//
// Rules kept: DOM built with h()/textContent only; every control has a label
// (the names the browser tests use: "New role", "Name", "Command", "Shell",
// "Timeout", "Max attempts", "Backoff", "Concurrency", "Environment",
// "Enabled", "Labels", "Permissions", "Save", "Run now", "Payload", "Run");
// no other accessible name repeats those words, so getByLabel stays unique;
// field names and types are those of docs/openapi.yaml (RoleFields); a PATCH
// sends only the fields that changed; the curl command carries the
// placeholder $POPEBOT_KEY, never a key; failed requests show the server's
// message; the list follows `role` events. Triggers (schedules, file
// watches) live in triggers.js: its fieldset in the form, its live table in
// the details; trigger_status is never sent back.

import { api, errText } from './api.js';
import { h, clear, toast, confirmDialog, copyButton } from './dom.js';
import { navigate } from './router.js';
import { onEvent } from './events.js';
import { triggerEditor, triggerStatus, triggerSummary, sameTriggers } from './triggers.js';

const U32_MAX = 4294967295;

// ---- command text <-> argv --------------------------------------------------

// Splits a command line into arguments the way a POSIX shell would for
// quoting: '...' literal, "..." with \" \\ \$ \` escapes, \ outside quotes.
export function splitArgs(text) {
  const args = [];
  let cur = '';
  let has = false;
  let i = 0;
  const s = String(text);
  while (i < s.length) {
    const c = s[i];
    if (c === "'") {
      const j = s.indexOf("'", i + 1);
      if (j < 0) throw new Error('a single quote is not closed');
      cur += s.slice(i + 1, j);
      has = true;
      i = j + 1;
    } else if (c === '"') {
      i += 1;
      let closed = false;
      while (i < s.length) {
        if (s[i] === '"') {
          closed = true;
          i += 1;
          break;
        }
        if (s[i] === '\\' && i + 1 < s.length && '"\\$`'.includes(s[i + 1])) {
          cur += s[i + 1];
          i += 2;
        } else {
          cur += s[i];
          i += 1;
        }
      }
      if (!closed) throw new Error('a double quote is not closed');
      has = true;
    } else if (c === '\\' && i + 1 < s.length) {
      cur += s[i + 1];
      has = true;
      i += 2;
    } else if (/\s/.test(c)) {
      if (has) args.push(cur);
      cur = '';
      has = false;
      i += 1;
    } else {
      cur += c;
      has = true;
      i += 1;
    }
  }
  if (has) args.push(cur);
  return args;
}

function quoteArg(a) {
  if (/^[A-Za-z0-9_@%+=:,./{}-]+$/.test(a)) return a;
  return "'" + a.replace(/'/g, "'\\''") + "'";
}

function commandText(role) {
  if (role.command === undefined || role.command === null) return '';
  if (typeof role.command === 'string') return role.command;
  if (Array.isArray(role.command)) return role.shell ? role.command.join(' ') : role.command.map(quoteArg).join(' ');
  return '';
}

// ---- label / env / list fields ------------------------------------------------

function kvText(obj, sep) {
  return Object.entries(obj || {})
    .map(([k, v]) => `${k}=${v}`)
    .join(sep);
}

function parseKv(text, what, splitter) {
  const out = {};
  const parts = String(text)
    .split(splitter)
    .map((p) => p.trim())
    .filter(Boolean);
  parts.forEach((p, i) => {
    const eq = p.indexOf('=');
    if (eq <= 0) throw new Error(`${what} entry ${i + 1} ("${p}") must be NAME=value`);
    out[p.slice(0, eq).trim()] = p.slice(eq + 1).trim();
  });
  return out;
}

// ---- the page ------------------------------------------------------------------

export function register(route) {
  route('/roles', (params, view) => renderRoles(view, null));
  route('/roles/:name', (params, view) => renderRoles(view, params.name));
}

async function renderRoles(view, selected) {
  const newBtn = h('button', { type: 'button', class: 'btn btn-primary', text: 'New role' });
  const tableBody = h('tbody');
  const table = h(
    'table',
    { class: 'table roles-table', 'aria-label': 'Roles' },
    h(
      'thead',
      null,
      h('tr', null, ['Name', 'Command', 'Enabled', 'Concurrency', 'Triggers', 'Built-in'].map((t) => h('th', { scope: 'col', text: t })))
    ),
    tableBody
  );
  const detail = h('section', { class: 'role-detail', 'aria-label': 'Role details' });
  view.append(
    h('div', { class: 'page-head' }, h('h1', { text: 'Roles' }), h('div', { class: 'page-actions' }, newBtn)),
    h('div', { class: 'roles-layout' }, h('div', { class: 'table-wrap' }, table), detail)
  );

  let roles = [];
  let info = null;
  let mode = selected ? 'view' : 'none'; // none | view | new
  let dirty = false;
  let dead = false;
  let reloadTimer = null;
  let status = null; // the live Triggers table of the role shown

  async function loadInfo() {
    if (info) return info;
    try {
      info = await api('GET', '/api/info');
    } catch (e) {
      info = null;
    }
    return info;
  }

  function renderTable() {
    clear(tableBody);
    if (!roles.length) {
      tableBody.append(h('tr', null, h('td', { colspan: 6, class: 'muted', text: 'No roles.' })));
      return;
    }
    for (const r of roles) {
      const cmd = r.builtin ? '(runs inside the worker)' : commandText(r);
      tableBody.append(
        h(
          'tr',
          { class: r.name === selected ? 'selected' : null, 'aria-current': r.name === selected ? 'true' : null },
          h('td', null, h('a', { href: `/roles/${encodeURIComponent(r.name)}`, text: r.name })),
          h('td', { class: 'cell-command' }, h('code', { text: cmd, title: cmd })),
          h('td', null, h('span', { class: r.enabled ? 'mark mark-yes' : 'mark mark-no', text: r.enabled ? 'yes' : 'no' })),
          h('td', { text: r.max_concurrency ? String(r.max_concurrency) : 'unlimited' }),
          h('td', { class: 'cell-triggers', text: triggerSummary(r.triggers) }),
          h('td', null, r.builtin ? h('span', { class: 'mark mark-builtin', text: 'built-in' }) : '')
        )
      );
    }
  }

  async function load() {
    try {
      const data = await api('GET', '/api/roles');
      if (dead) return;
      roles = Array.isArray(data.roles) ? data.roles : [];
      renderTable();
      if (mode === 'view' && !dirty) renderDetail();
      else if (mode === 'view' && dirty && !roles.some((r) => r.name === selected)) renderDetail();
    } catch (e) {
      if (dead) return;
      toast(`Roles: ${errText(e)}`, 'error');
    }
  }

  function scheduleReload() {
    clearTimeout(reloadTimer);
    reloadTimer = setTimeout(load, 250);
  }

  function renderDetail() {
    if (status) status.close();
    status = null;
    clear(detail);
    dirty = false;
    if (mode === 'new') {
      detail.append(h('h2', { text: 'New role' }), editorForm(null));
      return;
    }
    if (mode !== 'view') {
      detail.append(
        h('p', { class: 'muted', text: 'Choose a role to see its trigger webhook, run it or change it, or make a new one.' })
      );
      return;
    }
    const role = roles.find((r) => r.name === selected);
    if (!role) {
      detail.append(
        h('h2', { text: selected }),
        h('p', { class: 'notice', text: `There is no role named "${selected}" (it may have been deleted).` }),
        h('p', null, h('a', { href: '/roles', text: 'Back to the list' }))
      );
      return;
    }
    const runBtn = h('button', { type: 'button', class: 'btn btn-primary', text: 'Run now' });
    runBtn.addEventListener('click', () => runDialog(role));
    detail.append(
      h(
        'div',
        { class: 'detail-head' },
        h('h2', { text: role.name }),
        role.builtin ? h('span', { class: 'mark mark-builtin', text: 'built-in' }) : null,
        role.enabled ? null : h('span', { class: 'mark mark-no', text: 'disabled' }),
        h('div', { class: 'page-actions' }, runBtn, h('a', { class: 'btn', href: `/jobs?role=${encodeURIComponent(role.name)}`, text: 'History' }))
      ),
      h('h3', { text: 'Schedules and file watches' }),
      (status = triggerStatus(role)).el,
      triggerSection(role),
      h('h3', { text: role.builtin ? 'Definition (built-in, read-only)' : 'Edit' }),
      editorForm(role)
    );
  }

  function triggerSection(role) {
    const box = h('div', { class: 'trigger' }, h('h3', { text: 'Trigger webhook' }));
    const fill = (clusterId) => {
      const path = role.webhook_path || `/api/cluster/${clusterId}/role/${encodeURIComponent(role.name)}/webhook`;
      const url = location.origin + path;
      const curl =
        `curl -X POST -H "x-api-key: $POPEBOT_KEY" -H 'Content-Type: application/json' ` +
        `-d '{"prompt":"hello"}' '${url}'`;
      box.append(
        h('p', { class: 'muted', text: 'POST a JSON object here to queue a job of this role; the body becomes its payload. Use a key allowed to trigger it (see Permissions).' }),
        h('div', { class: 'copy-row' }, h('code', { class: 'copy-text', 'data-copy-source': '', text: url }), copyButton(url, 'Copy webhook URL')),
        h('div', { class: 'copy-row' }, h('pre', { class: 'copy-text', 'data-copy-source': '' }, h('code', { text: curl })), copyButton(curl, 'Copy curl'))
      );
    };
    if (role.webhook_path) fill(null);
    else
      loadInfo().then((i) => {
        if (i && i.cluster_id) fill(i.cluster_id);
        else box.append(h('p', { class: 'muted', text: 'The cluster id could not be read (GET /api/info).' }));
      });
    return box;
  }

  // The editor: a new role when role is null, else that role (read-only when built in).
  function editorForm(role) {
    const ro = !!(role && role.builtin);
    const seq = Math.random().toString(36).slice(2, 8);
    const id = (n) => `role-${n}-${seq}`;
    const hint = (n, text) => h('small', { id: id(n) + '-hint', class: 'hint', text });
    const field = (n, label, control, hintText, cls) =>
      h('div', { class: ['field', cls] }, h('label', { for: id(n), text: label }), control, hintText ? hint(n, hintText) : null);
    const num = (n, value, min) =>
      h('input', {
        id: id(n),
        type: 'number',
        min: String(min),
        max: String(U32_MAX),
        step: '1',
        inputmode: 'numeric',
        value: value === undefined || value === null ? '' : String(value),
        disabled: ro,
        'aria-describedby': id(n) + '-hint',
      });
    const r = role || {};
    const f = {
      name: h('input', {
        id: id('name'),
        type: 'text',
        required: true,
        pattern: '[A-Za-z0-9_.\\-]{1,64}',
        maxlength: '64',
        autocomplete: 'off',
        spellcheck: 'false',
        value: r.name || '',
        readonly: !!role,
        disabled: ro,
        'aria-describedby': id('name') + '-hint',
      }),
      command: h('input', {
        id: id('command'),
        type: 'text',
        class: 'mono',
        required: !ro,
        autocomplete: 'off',
        spellcheck: 'false',
        value: commandText(r),
        disabled: ro,
        'aria-describedby': id('command') + '-hint',
      }),
      shell: h('input', { id: id('shell'), type: 'checkbox', checked: !!r.shell, disabled: ro, 'aria-describedby': id('shell') + '-hint' }),
      timeout_ms: num('timeout', role ? r.timeout_ms : 0, 0),
      max_attempts: num('attempts', role ? r.max_attempts : 3, 1),
      backoff_base_ms: num('backoff', role ? r.backoff_base_ms : 1000, 0),
      backoff_max_ms: num('backoffmax', role ? r.backoff_max_ms : 60000, 0),
      max_concurrency: num('concurrency', role ? r.max_concurrency : 0, 0),
      env: h('textarea', {
        id: id('env'),
        class: 'mono',
        rows: '3',
        spellcheck: 'false',
        value: kvText(r.env, '\n'),
        disabled: ro,
        'aria-describedby': id('env') + '-hint',
      }),
      enabled: h('input', { id: id('enabled'), type: 'checkbox', checked: role ? !!r.enabled : true, disabled: ro, 'aria-describedby': id('enabled') + '-hint' }),
      labels: h('input', {
        id: id('labels'),
        type: 'text',
        class: 'mono',
        autocomplete: 'off',
        spellcheck: 'false',
        value: kvText(r.where, ', '),
        disabled: ro,
        'aria-describedby': id('labels') + '-hint',
      }),
      permissions: h('input', {
        id: id('permissions'),
        type: 'text',
        class: 'mono',
        autocomplete: 'off',
        spellcheck: 'false',
        value: (r.permissions || []).join(', '),
        disabled: ro,
        'aria-describedby': id('permissions') + '-hint',
      }),
    };
    const trig = triggerEditor(role ? r.triggers : [], { readonly: ro });
    const alert = h('p', { class: 'form-error', role: 'alert' });
    const save = h('button', { type: 'submit', class: 'btn btn-primary', text: 'Save' });
    const del = role && !ro ? h('button', { type: 'button', class: 'btn btn-danger', text: 'Delete' }) : null;
    const form = h(
      'form',
      { class: 'role-form', novalidate: true },
      h(
        'div',
        { class: 'form-grid' },
        field('name', 'Name', f.name, role ? 'A role keeps its name.' : 'Letters, digits, _ . - (up to 64).'),
        field(
          'command',
          'Command',
          f.command,
          'Arguments split as a shell would (quotes kept), or a JSON array; {{PAYLOAD}} expands to the payload. With Shell: one shell line.',
          'wide'
        ),
        h(
          'div',
          { class: 'field check' },
          f.shell,
          h('label', { for: id('shell'), text: 'Shell' }),
          hint('shell', 'Run the command as one /bin/sh line.')
        ),
        h(
          'div',
          { class: 'field check' },
          f.enabled,
          h('label', { for: id('enabled'), text: 'Enabled' }),
          hint('enabled', 'Off: new jobs are refused; queued ones still run.')
        ),
        field('timeout', 'Timeout', f.timeout_ms, 'Milliseconds; 0 = none.'),
        field('attempts', 'Max attempts', f.max_attempts, 'At least 1.'),
        field('backoff', 'Backoff', f.backoff_base_ms, 'Milliseconds before the first retry; doubles each retry.'),
        field('backoffmax', 'Longest retry delay', f.backoff_max_ms, 'Milliseconds; the doubling stops here.'),
        field('concurrency', 'Concurrency', f.max_concurrency, 'Jobs at once across the mesh; 0 = unlimited.'),
        field('env', 'Environment', f.env, 'One NAME=value per line.', 'wide'),
        field(
          'labels',
          'Labels',
          f.labels,
          'Only workers with all these labels run it: key=value, comma-separated.',
          'wide'
        ),
        field(
          'permissions',
          'Permissions',
          f.permissions,
          'Comma-separated scopes whose keys may trigger the webhook (admin, read, submit:ROLE, submit:*, worker:ID); empty = submit:NAME or submit:*.',
          'wide'
        )
      ),
      trig.el,
      alert,
      ro ? h('p', { class: 'muted', text: 'Built-in roles cannot be changed or deleted.' }) : h('div', { class: 'form-actions' }, save, del)
    );
    form.addEventListener('input', () => {
      dirty = true;
    });

    // The role as the form says; throws with a message naming the field.
    function collect() {
      const out = {};
      const name = f.name.value.trim();
      if (!/^[A-Za-z0-9_.-]{1,64}$/.test(name)) throw new Error('Name: 1-64 letters, digits, _ . -');
      out.name = name;
      out.shell = f.shell.checked;
      const ct = f.command.value.trim();
      if (!ct) throw new Error('Command: required');
      if (out.shell) {
        out.command = ct;
      } else if (ct.startsWith('[')) {
        let a;
        try {
          a = JSON.parse(ct);
        } catch (e) {
          throw new Error(`Command: not a JSON array (${e.message})`);
        }
        if (!Array.isArray(a) || !a.length || !a.every((x) => typeof x === 'string'))
          throw new Error('Command: a JSON array of strings, not empty');
        out.command = a;
      } else {
        try {
          out.command = splitArgs(ct);
        } catch (e) {
          throw new Error(`Command: ${e.message}`);
        }
        if (!out.command.length) throw new Error('Command: required');
      }
      const ints = [
        ['timeout_ms', 'Timeout', 0],
        ['max_attempts', 'Max attempts', 1],
        ['backoff_base_ms', 'Backoff', 0],
        ['backoff_max_ms', 'Longest retry delay', 0],
        ['max_concurrency', 'Concurrency', 0],
      ];
      for (const [k, label, min] of ints) {
        const t = f[k].value.trim();
        if (t === '') continue; // the server's default
        const v = Number(t);
        if (!/^\d+$/.test(t) || !Number.isSafeInteger(v) || v < min || v > U32_MAX)
          throw new Error(`${label}: a whole number from ${min} to ${U32_MAX}`);
        out[k] = v;
      }
      try {
        out.env = parseKv(f.env.value, 'Environment', /\r?\n/);
      } catch (e) {
        throw new Error(e.message);
      }
      out.enabled = f.enabled.checked;
      out.where = parseKv(f.labels.value, 'Labels', ',');
      out.permissions = f.permissions.value
        .split(',')
        .map((p) => p.trim())
        .filter(Boolean);
      out.triggers = trig.collect();
      return out;
    }

    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      if (ro) return;
      alert.textContent = '';
      let body;
      try {
        body = collect();
      } catch (e) {
        alert.textContent = e.message;
        return;
      }
      save.disabled = true;
      try {
        if (!role) {
          if (!body.triggers.length) delete body.triggers; // the server's default
          const created = await api('POST', '/api/roles', body);
          toast(`Role ${created.name || body.name} created`, 'ok');
          dirty = false;
          navigate(`/roles/${encodeURIComponent(created.name || body.name)}`);
          return;
        }
        const patch = {};
        for (const [k, v] of Object.entries(body)) {
          if (k === 'name') continue;
          if (k === 'triggers') {
            if (!sameTriggers(v, role.triggers)) patch[k] = v;
            continue;
          }
          if (JSON.stringify(v) !== JSON.stringify(role[k])) patch[k] = v;
        }
        if ('shell' in patch || 'command' in patch) {
          patch.shell = body.shell;
          patch.command = body.command;
        }
        if (!Object.keys(patch).length) {
          toast('Nothing changed', 'ok');
          return;
        }
        const updated = await api('PATCH', `/api/roles/${encodeURIComponent(role.name)}`, patch);
        toast(`Role ${role.name} saved`, 'ok');
        dirty = false;
        const i = roles.findIndex((x) => x.name === role.name);
        if (i >= 0 && updated && updated.name) roles[i] = updated;
        renderTable();
        renderDetail();
      } catch (e) {
        alert.textContent = trig.explain(errText(e));
        toast(trig.explain(errText(e)), 'error');
      } finally {
        save.disabled = false;
      }
    });

    if (del)
      del.addEventListener('click', async () => {
        const ok = await confirmDialog(
          `Delete role ${role.name}?`,
          'New jobs of this role will be refused and its finished jobs cannot be retried. A role with unfinished jobs cannot be deleted.',
          'Delete'
        );
        if (!ok) return;
        try {
          await api('DELETE', `/api/roles/${encodeURIComponent(role.name)}`);
          toast(`Role ${role.name} deleted`, 'ok');
          navigate('/roles');
        } catch (e) {
          toast(errText(e), 'error');
        }
      });
    return form;
  }

  // "Run now": a dialog with a JSON payload, then the new job's page.
  function runDialog(role) {
    const tid = `run-title-${Math.random().toString(36).slice(2, 8)}`;
    const pid = `${tid}-payload`;
    const payload = h('textarea', { id: pid, class: 'mono', rows: '8', spellcheck: 'false', value: '{}', 'aria-describedby': `${pid}-hint` });
    const alert = h('p', { class: 'form-error', role: 'alert' });
    const run = h('button', { type: 'submit', class: 'btn btn-primary', text: 'Run' });
    const cancel = h('button', { type: 'button', class: 'btn', text: 'Cancel' });
    const form = h(
      'form',
      { novalidate: true },
      h('div', { class: 'field' }, h('label', { for: pid, text: 'Payload' }), payload, h('small', { id: `${pid}-hint`, class: 'hint', text: 'Any JSON value; {} when empty.' })),
      alert,
      h('div', { class: 'dialog-actions' }, cancel, run)
    );
    const dlg = h('dialog', { class: 'dialog run-dialog', 'aria-labelledby': tid }, h('h2', { id: tid, text: `Run ${role.name}` }), form);
    cancel.addEventListener('click', () => dlg.close());
    // While the modal is open the panel behind it is out of the accessibility
    // tree too, so "Run" names one button only (not also "Run now").
    detail.setAttribute('aria-hidden', 'true');
    dlg.addEventListener('close', () => {
      detail.removeAttribute('aria-hidden');
      dlg.remove();
    });
    payload.addEventListener('input', () => {
      alert.textContent = '';
    });
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const text = payload.value.trim() || '{}';
      let value;
      try {
        value = JSON.parse(text);
      } catch (e) {
        alert.textContent = `Payload is not valid JSON: ${e.message}`;
        payload.focus();
        return;
      }
      run.disabled = true;
      try {
        const res = await api('POST', '/api/jobs', { role: role.name, payload: value });
        dlg.close();
        toast(`Job ${res.id} queued`, 'ok');
        navigate(`/jobs/${encodeURIComponent(res.id)}`);
      } catch (e) {
        alert.textContent = errText(e);
        toast(errText(e), 'error');
      } finally {
        run.disabled = false;
      }
    });
    document.body.appendChild(dlg);
    dlg.showModal();
    payload.focus();
    payload.select();
  }

  newBtn.addEventListener('click', () => {
    if (selected) history.replaceState(null, '', '/roles');
    selected = null;
    mode = 'new';
    renderTable();
    renderDetail();
    detail.scrollIntoView({ block: 'start' });
    const first = detail.querySelector('input:not([readonly])');
    if (first) first.focus();
  });

  renderDetail();
  await load();
  // On a phone the details sit below the whole list: bring them into view.
  if (selected && !dead && window.matchMedia('(max-width: 760px)').matches) detail.scrollIntoView({ block: 'start' });

  const offs = [
    onEvent('role', scheduleReload),
    onEvent('open', scheduleReload),
    onEvent('overflow', scheduleReload),
  ];
  return () => {
    dead = true;
    clearTimeout(reloadTimer);
    if (status) status.close();
    offs.forEach((f) => f());
    for (const d of document.querySelectorAll('dialog.run-dialog')) d.close();
  };
}
