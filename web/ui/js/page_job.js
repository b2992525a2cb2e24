// page_job.js — one job (/jobs/:id): its details, progress, payload, result,
// error, the live log, and the Cancel / Retry controls.
//
// Rules kept: h1 holds the job id; the state is a badge (colour plus word);
// Cancel shows only while the job can be cancelled (queued, scheduled,
// running) and Retry only when it can be retried (failed, timed_out,
// cancelled, dead); the progress bar (role="progressbar", aria-valuenow) only
// when the job reported progress; JSON is pretty-printed into <pre> as text;
// the log view (logview.js) stays mounted across refreshes and is closed when
// the page is left; `job` events for this id refresh the page; an unknown job
// shows a plain "No such job" view; failed requests show the server's message.

import { api, errText } from './api.js';
import { h, clear, toast, fmtTime, stateBadge } from './dom.js';
import { onEvent } from './events.js';
import { logView } from './logview.js';
import { ansiToNodes } from './ansi.js';
import { fmtDuration, jobDuration, relTimeEl, refreshRelTimes } from './page_jobs.js';

const CANCELLABLE = new Set(['queued', 'scheduled', 'running']);
const RETRYABLE = new Set(['failed', 'timed_out', 'cancelled', 'dead']);
const FINISHED = new Set(['succeeded', 'failed', 'timed_out', 'cancelled', 'dead']);
const TICK_MS = 2000; // relative times and a running job's duration

function jsonText(v) {
  if (typeof v === 'string') return v;
  try {
    return JSON.stringify(v, null, 2);
  } catch (e) {
    return String(v);
  }
}

export function register(route) {
  route('/jobs/:id', (params, view) => renderJob(view, params.id));
}

function noSuchJob(view, id) {
  clear(view).append(
    h('h1', { text: 'No such job' }),
    h('p', { class: 'notice', text: `There is no job with the id "${id}". It may never have existed, or it finished long enough ago to be deleted by retention.` }),
    h('p', null, h('a', { href: '/jobs', text: 'Back to the job list' }))
  );
}

async function renderJob(view, id) {
  let job;
  try {
    job = await api('GET', `/api/jobs/${encodeURIComponent(id)}`);
  } catch (e) {
    if (e.status === 404) {
      noSuchJob(view, id);
      return null;
    }
    view.append(h('h1', { text: `Job ${id}` }), h('p', { class: 'notice', role: 'alert', text: `Could not load the job: ${errText(e)}` }));
    toast(errText(e), 'error');
    return null;
  }

  const head = h('div', { class: 'page-head' });
  const meta = h('div', { class: 'job-meta' });
  const progress = h('div', { class: 'job-progress' });
  const errorBox = h('div');
  const payloadTitle = h('h2', { id: 'job-payload-title', text: 'Payload' });
  const payloadPre = h('pre', { class: 'json', tabindex: '0' });
  const resultTitle = h('h2', { id: 'job-result-title', text: 'Result' });
  const resultBody = h('div');
  const logSection = h('section', { class: 'job-log', 'aria-labelledby': 'job-output-title' }, h('h2', { id: 'job-output-title', text: 'Output' }));
  view.append(
    head,
    meta,
    progress,
    errorBox,
    h('div', { class: 'job-json' },
      h('section', { class: 'card', 'aria-labelledby': 'job-payload-title' }, payloadTitle, payloadPre),
      h('section', { class: 'card', 'aria-labelledby': 'job-result-title' }, resultTitle, resultBody)),
    logSection
  );

  let dead = false;
  let log = null;
  let logEnded = false;
  let fetchTimer = null;
  let fetching = false;
  let again = false;
  let busy = false; // a Cancel/Retry request is on its way
  const last = {}; // part -> key of what it shows, to rebuild only what changed

  function part(name, key, build) {
    const k = JSON.stringify(key);
    if (last[name] === k) return;
    last[name] = k;
    build();
  }

  function startLog() {
    if (log) log.close();
    logEnded = false;
    log = logView(id, {
      onState: () => scheduleFetch(100),
      onEnd: () => {
        logEnded = true;
        scheduleFetch(0);
      },
    });
    const old = logSection.querySelector('.logview');
    if (old) old.replaceWith(log.el);
    else logSection.append(log.el);
  }

  function render() {
    const j = job;
    part('head', [j.id, j.state, busy], () => {
      const actions = [];
      if (CANCELLABLE.has(j.state)) {
        const b = h('button', { type: 'button', class: 'btn btn-danger', text: 'Cancel', disabled: busy });
        b.addEventListener('click', () => act('cancel'));
        actions.push(b);
      }
      if (RETRYABLE.has(j.state)) {
        const b = h('button', { type: 'button', class: 'btn btn-primary', text: 'Retry', disabled: busy });
        b.addEventListener('click', () => act('retry'));
        actions.push(b);
      }
      const focused = head.contains(document.activeElement) ? document.activeElement.textContent : null;
      clear(head).append(
        h('div', { class: 'title-row' }, h('h1', { class: 'job-title' }, 'Job ', h('span', { class: 'mono', text: j.id })), stateBadge(j.state)),
        h('div', { class: 'page-actions' }, actions)
      );
      if (focused) {
        const again = [...head.querySelectorAll('button')].find((b) => b.textContent === focused);
        if (again) again.focus();
      }
      document.title = `Job ${j.id} · popebot-node`;
    });

    part('meta', [j.role, j.worker, j.attempts, j.max_attempts, j.priority, j.exit_code, j.created_ms, j.started_ms, j.finished_ms, j.run_at_ms, j.where, j.state], () => {
      const rows = [];
      const add = (label, value) => rows.push(h('div', { class: 'meta-item' }, h('dt', { text: label }), h('dd', null, value)));
      const when = (ms) => (ms ? [h('span', { text: fmtTime(ms) }), h('span', { class: 'rel muted' }, relTimeEl(ms))] : h('span', { class: 'muted', text: '—' }));
      add('Role', h('a', { href: `/roles/${encodeURIComponent(j.role)}`, text: j.role }));
      add('Worker', j.worker ? h('a', { href: `/clusters/${encodeURIComponent(j.worker)}`, text: j.worker }) : h('span', { class: 'muted', text: 'none yet' }));
      add('Attempts', j.max_attempts ? `${j.attempts} of ${j.max_attempts}` : String(j.attempts));
      add('Priority', String(j.priority ?? 0));
      if (j.exit_code !== null && j.exit_code !== undefined) add('Exit code', String(j.exit_code));
      add('Created', when(j.created_ms));
      add('Started', when(j.started_ms));
      add('Finished', when(j.finished_ms));
      if (j.run_at_ms) add(j.state === 'scheduled' ? 'Runs at' : 'Was due', when(j.run_at_ms));
      const d = jobDuration(j);
      add('Duration', h('span', { class: 'job-duration', text: fmtDuration(d) }));
      const where = Object.entries(j.where || {});
      if (where.length) add('Only on workers with', where.map(([k, v]) => `${k}=${v}`).join(', '));
      clear(meta).append(h('dl', { class: 'meta' }, rows));
    });

    part('progress', j.progress, () => {
      clear(progress);
      const p = j.progress;
      if (!p) return;
      const total = Math.max(0, Number(p.total) || 0);
      const done = Math.max(0, Number(p.done) || 0);
      const pct = total > 0 ? Math.min(100, (done / total) * 100) : 0;
      const bar = h('div', { class: 'bar-fill' });
      bar.style.width = `${pct.toFixed(1)}%`;
      const text = total > 0 ? `${done} of ${total} (${Math.round(pct)}%)` : `${done}`;
      progress.append(
        h('div', { class: 'progress-head' }, h('span', { id: 'job-progress-label', text: 'Progress' }), h('span', { class: 'muted', text: text + (p.message ? ` — ${p.message}` : '') })),
        h(
          'div',
          {
            class: 'progress',
            role: 'progressbar',
            'aria-labelledby': 'job-progress-label',
            'aria-valuemin': '0',
            'aria-valuemax': String(total > 0 ? total : 100),
            'aria-valuenow': String(total > 0 ? Math.min(done, total) : 0),
            'aria-valuetext': text + (p.message ? `, ${p.message}` : ''),
          },
          bar
        )
      );
    });

    part('error', j.error, () => {
      clear(errorBox);
      if (j.error) errorBox.append(h('section', { class: 'card job-error', 'aria-labelledby': 'job-error-title' }, h('h2', { id: 'job-error-title', text: 'Error' }), h('pre', { class: 'error-text', text: j.error })));
    });

    part('payload', [j.payload], () => {
      payloadPre.textContent = jsonText(j.payload === undefined ? {} : j.payload);
    });

    part('result', [j.result, j.state], () => {
      clear(resultBody);
      if (j.result === null || j.result === undefined) resultBody.append(h('p', { class: 'muted', text: FINISHED.has(j.state) ? 'No result.' : 'No result yet.' }));
      else if (typeof j.result === 'string') resultBody.append(h('pre', { class: 'result-text', tabindex: '0' }, ansiToNodes(j.result))); // a command's output: colours kept, on the log's dark panel
      else resultBody.append(h('pre', { class: 'json', tabindex: '0', text: jsonText(j.result) }));
    });
  }

  async function fetchJob() {
    if (fetching) {
      again = true;
      return;
    }
    fetching = true;
    try {
      const j = await api('GET', `/api/jobs/${encodeURIComponent(id)}`);
      if (dead) return;
      const wasFinished = FINISHED.has(job.state);
      job = j;
      render();
      if (logEnded && wasFinished && !FINISHED.has(j.state)) startLog(); // retried: follow the new attempt
    } catch (e) {
      if (dead) return;
      if (e.status === 404) {
        cleanup();
        noSuchJob(view, id);
        return;
      }
      toast(`Job: ${errText(e)}`, 'error');
    } finally {
      fetching = false;
      if (again && !dead) {
        again = false;
        fetchJob();
      }
    }
  }

  function scheduleFetch(ms) {
    if (fetchTimer) return;
    fetchTimer = setTimeout(() => {
      fetchTimer = null;
      fetchJob();
    }, ms);
  }

  async function act(what) {
    busy = true;
    render();
    try {
      const j = await api('POST', `/api/jobs/${encodeURIComponent(id)}/${what}`);
      if (dead) return;
      const wasFinished = FINISHED.has(job.state);
      job = j;
      if (what === 'cancel')
        toast(j.state === 'running' ? 'Cancel requested: the worker is stopping the job' : `Job ${j.state}`, 'ok');
      else toast('Job queued again', 'ok');
      if (what === 'retry' && wasFinished) startLog();
    } catch (e) {
      if (!dead) toast(errText(e), 'error');
    } finally {
      busy = false;
      if (!dead) render();
    }
  }

  render();
  startLog();

  const offs = [
    onEvent('job', (ev) => {
      if (ev && ev.id === id) scheduleFetch(50);
    }),
    onEvent('progress', (ev) => {
      if (!ev || ev.id !== id || !job) return;
      job.progress = { done: ev.done, total: ev.total };
      if (ev.message !== undefined) job.progress.message = ev.message;
      render();
    }),
    onEvent('open', () => scheduleFetch(0)),
  ];
  const poll = setInterval(() => {
    if (document.hidden) return;
    refreshRelTimes(meta);
    if (job && job.state === 'running') {
      const d = meta.querySelector('.job-duration');
      if (d) d.textContent = fmtDuration(jobDuration(job));
    }
  }, TICK_MS);

  function cleanup() {
    if (dead) return;
    dead = true;
    clearTimeout(fetchTimer);
    clearInterval(poll);
    offs.forEach((f) => f());
    if (log) log.close();
  }
  return cleanup;
}
