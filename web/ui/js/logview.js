// logview.js — the live tail of one job's output.
//
// logView(jobId, opts) -> {el, close()}. Follows GET /api/jobs/{id}/logs?follow=true
// (Server-Sent Events: `state` {state}, `log` {offset, data}, `end` {job}); a
// finished job's log arrives the same way (everything, then `end`). Output is
// rendered through ansi.js into a <pre> inside a role="log" region labelled
// "Job log".
//
// Rules kept: text reaches the DOM only as text nodes (ansi.js); the DOM stays
// bounded (the oldest lines go past MAX_LINES); the view follows the end only
// while the user is at the bottom, and stops when they scroll up; the
// EventSource is closed on `end` (so the browser does not reconnect and replay)
// and on close(). When the stream is refused (503 busy, a restart) it is
// opened again later from the last offset received.
// opts (optional): onState(state), onEnd(job) — the job page uses them to refetch.

import { ansiToNodes, newAnsiState } from './ansi.js';

const MAX_LINES = 5000;
const BOTTOM_SLACK = 24; // px from the bottom that still counts as "at the bottom"
const FLUSH_MS = 40;

export function logView(jobId, opts = {}) {
  const pre = document.createElement('pre');
  pre.className = 'log-pre';
  pre.tabIndex = 0; // scrollable region: reachable by keyboard

  const el = document.createElement('div');
  el.className = 'logview';
  el.setAttribute('role', 'log');
  el.setAttribute('aria-label', 'Job log');
  el.setAttribute('aria-live', 'off'); // a fast log would flood screen readers

  const head = document.createElement('p');
  head.className = 'log-note log-head';
  head.hidden = true;

  const empty = document.createElement('p');
  empty.className = 'log-note log-empty';
  empty.textContent = 'Waiting for output…';

  const tail = document.createElement('p');
  tail.className = 'log-note log-end';
  tail.hidden = true;

  const jump = document.createElement('button');
  jump.type = 'button';
  jump.className = 'btn btn-small log-jump';
  jump.textContent = 'Follow output';
  jump.hidden = true;

  el.append(head, empty, pre, tail, jump);

  const ansi = newAnsiState();
  let line = null; // the unfinished last line (a <span> without its "\n" yet)
  let lines = 0; // line spans in pre
  let droppedLines = 0;
  let droppedBytes = 0;
  const utf8 = new TextEncoder();
  let follow = true;
  let queue = [];
  let flushTimer = null;
  let es = null;
  let retryTimer = null;
  let retryDelay = 1000;
  let nextOffset = 0; // the offset after the last byte shown
  let sawLog = false;
  let ended = false;
  let closed = false;
  let lastState = null;

  const atBottom = () => pre.scrollHeight - pre.scrollTop - pre.clientHeight <= BOTTOM_SLACK;

  pre.addEventListener('scroll', () => {
    follow = atBottom();
    jump.hidden = follow || lines === 0;
  });
  jump.addEventListener('click', () => {
    follow = true;
    pre.scrollTop = pre.scrollHeight;
    jump.hidden = true;
  });

  function newLine() {
    line = document.createElement('span');
    line.className = 'log-line';
    pre.appendChild(line);
    lines += 1;
  }

  function appendText(data) {
    const parts = data.split('\n');
    for (let i = 0; i < parts.length; i++) {
      if (parts[i] !== '' || i < parts.length - 1) {
        if (!line) newLine();
        const nodes = ansiToNodes(parts[i], ansi);
        for (const n of nodes) line.appendChild(n);
      }
      if (i < parts.length - 1) {
        line.appendChild(document.createTextNode('\n'));
        line = null;
      }
    }
  }

  function trim() {
    let extra = lines - MAX_LINES;
    while (extra > 0 && pre.firstChild) {
      if (pre.firstChild === line) break;
      pre.removeChild(pre.firstChild);
      lines -= 1;
      droppedLines += 1;
      extra -= 1;
    }
    updateHead();
  }

  function updateHead() {
    const notes = [];
    if (droppedBytes > 0) notes.push(`the first ${droppedBytes} bytes of output are no longer kept`);
    if (droppedLines > 0) notes.push(`${droppedLines} earlier line${droppedLines === 1 ? '' : 's'} not shown`);
    head.hidden = notes.length === 0;
    head.textContent = notes.length ? `(${notes.join('; ')})` : '';
  }

  function flush() {
    flushTimer = null;
    if (!queue.length) return;
    const stick = follow;
    const data = queue.join('');
    queue = [];
    appendText(data);
    trim();
    empty.hidden = lines > 0;
    if (stick) pre.scrollTop = pre.scrollHeight;
    else jump.hidden = false;
  }

  function push(data) {
    queue.push(data);
    if (!flushTimer) flushTimer = setTimeout(flush, FLUSH_MS);
  }

  function parse(ev) {
    try {
      return ev.data ? JSON.parse(ev.data) : null;
    } catch (e) {
      return null;
    }
  }

  function onLog(ev) {
    const d = parse(ev);
    if (!d || typeof d.data !== 'string') return;
    const off = Number(d.offset);
    if (Number.isFinite(off)) {
      if (sawLog && off < nextOffset) return; // already shown (a replayed stream)
      if (!sawLog && off > 0) droppedBytes = off;
      nextOffset = off + utf8.encode(d.data).length;
    }
    sawLog = true;
    updateHead();
    push(d.data);
  }

  function onState(ev) {
    const d = parse(ev);
    if (!d || !d.state) return;
    lastState = d.state;
    if (opts.onState) opts.onState(d.state);
  }

  function onEnd(ev) {
    const job = parse(ev);
    ended = true;
    stop();
    flush();
    const state = (job && job.state) || lastState || 'finished';
    tail.hidden = false;
    tail.textContent = `(end of output — ${state})`;
    empty.hidden = true;
    if (!sawLog) {
      empty.hidden = false;
      empty.textContent = 'No output.';
    }
    if (follow) pre.scrollTop = pre.scrollHeight;
    if (opts.onEnd) opts.onEnd(job);
  }

  function stop() {
    if (es) {
      es.close();
      es = null;
    }
    clearTimeout(retryTimer);
    retryTimer = null;
  }

  function open() {
    if (closed || ended) return;
    const q = nextOffset > 0 ? `&offset=${nextOffset}` : '';
    const source = new EventSource(`/api/jobs/${encodeURIComponent(jobId)}/logs?follow=true${q}`);
    es = source;
    source.addEventListener('log', onLog);
    source.addEventListener('state', onState);
    source.addEventListener('end', onEnd);
    source.addEventListener('open', () => {
      retryDelay = 1000;
    });
    source.addEventListener('error', () => {
      if (es !== source || source.readyState !== EventSource.CLOSED) return; // the browser retries by itself
      // Refused outright (503 busy, 404, not a stream): try again later from where we are.
      es = null;
      source.close();
      retryTimer = setTimeout(open, retryDelay);
      retryDelay = Math.min(retryDelay * 2, 15000);
    });
  }

  open();

  return {
    el,
    close() {
      closed = true;
      stop();
      clearTimeout(flushTimer);
      flushTimer = null;
    },
  };
}
