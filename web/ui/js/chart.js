/* chart.js — the throughput chart: jobs finished per second and queue depth over
   the last ten minutes, drawn on a <canvas> by our own code.

   Rules it keeps:
   - two series on two axes (jobs/s left, queue depth right), axis labels, a
     legend in HTML, and the queue drawn dashed so the series differ by more
     than colour;
   - every colour comes from CSS custom properties (--chart-*), read at each
     draw, so the dark scheme and a scheme switch need no code;
   - sharp at any devicePixelRatio; redrawn on resize and on each update;
   - aria-label "Throughput chart" (role img) plus a text summary for screen readers. */

import { h } from './dom.js';

const WINDOW_MS = 10 * 60 * 1000;
const GAP_MS = 5000; /* samples further apart than this are not joined */

/* An axis for values up to v: a round step (1, 2, 2.5 or 5 times a power of
   ten, at least minStep) and 2 to 4 intervals of it. */
function axis(v, minStep) {
  const raw = Math.max(v / 4, minStep);
  const p = Math.pow(10, Math.floor(Math.log10(raw)));
  let step = 10 * p;
  for (const m of [1, 2, 2.5, 5, 10]) if (raw <= m * p + 1e-9) { step = m * p; break; }
  const n = Math.max(2, Math.ceil(v / step - 1e-9));
  return { top: n * step, n };
}

function fmtNum(v) {
  if (v >= 1000) return (v / 1000).toFixed(v >= 10000 ? 0 : 1) + 'k';
  if (v >= 10 || Number.isInteger(v)) return String(Math.round(v));
  return String(Number(v.toFixed(2)));
}

function cssVar(el, name, fallback) {
  const v = getComputedStyle(el).getPropertyValue(name).trim();
  return v || fallback;
}

/** -> {el, update(samples)}; samples: stats objects, oldest first. */
export function throughputChart() {
  const summaryId = 'chart-summary-' + Math.random().toString(36).slice(2, 8);
  const canvas = h('canvas', { class: 'chart-canvas', role: 'img', 'aria-label': 'Throughput chart', 'aria-describedby': summaryId });
  const summary = h('p', { id: summaryId, class: 'sr-only' }, 'No samples yet.');
  const legend = h('ul', { class: 'chart-legend' },
    h('li', { class: 'legend-jobs' }, h('span', { class: 'swatch swatch-jobs', 'aria-hidden': 'true' }), 'Jobs finished per second'),
    h('li', { class: 'legend-queue' }, h('span', { class: 'swatch swatch-queue', 'aria-hidden': 'true' }), 'Jobs waiting in queue'));
  const el = h('figure', { class: 'chart' }, canvas, h('figcaption', null, legend, summary));
  let samples = [];

  function draw() {
    const cssW = canvas.clientWidth;
    const cssH = canvas.clientHeight;
    if (!cssW || !cssH) return;
    const dpr = window.devicePixelRatio || 1;
    if (canvas.width !== Math.round(cssW * dpr) || canvas.height !== Math.round(cssH * dpr)) {
      canvas.width = Math.round(cssW * dpr);
      canvas.height = Math.round(cssH * dpr);
    }
    const ctx = canvas.getContext('2d');
    if (!ctx) return;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, cssW, cssH);

    const cJobs = cssVar(canvas, '--chart-jobs', '#2456c8');
    const cQueue = cssVar(canvas, '--chart-queue', '#c8641e');
    const cGrid = cssVar(canvas, '--chart-grid', 'rgba(128,128,128,.25)');
    const cText = cssVar(canvas, '--chart-text', '#666');
    const font = '11px ' + (cssVar(document.body, 'font-family', 'sans-serif'));

    const L = 34, R = 34, T = 18, B = 18;
    const w = Math.max(10, cssW - L - R);
    const hgt = Math.max(10, cssH - T - B);
    const end = samples.length ? Math.max(samples[samples.length - 1].time, Date.now() - 2000) : Date.now();
    const start = end - WINDOW_MS;
    const shown = samples.filter((s) => s.time >= start - GAP_MS);
    const aJobs = axis(Math.max(0, ...shown.map((s) => Number(s.finished_per_s) || 0)), 0.5);
    const aQueue = axis(Math.max(0, ...shown.map((s) => Number(s.queued) || 0)), 1);
    const maxJobs = aJobs.top;
    const maxQueue = aQueue.top;
    const x = (t) => L + ((t - start) / WINDOW_MS) * w;
    const yJ = (v) => T + hgt - (v / maxJobs) * hgt;
    const yQ = (v) => T + hgt - (v / maxQueue) * hgt;

    /* grid and axis labels */
    ctx.font = font;
    ctx.lineWidth = 1;
    ctx.strokeStyle = cGrid;
    ctx.textBaseline = 'middle';
    /* grid lines and labels of the jobs axis (left); the queue axis has its own labels (right) */
    for (let i = 0; i <= aJobs.n; i++) {
      const yy = Math.round(T + (hgt * i) / aJobs.n) + 0.5;
      ctx.beginPath();
      ctx.moveTo(L, yy);
      ctx.lineTo(L + w, yy);
      ctx.stroke();
      ctx.fillStyle = cJobs;
      ctx.textAlign = 'right';
      ctx.fillText(fmtNum(maxJobs * (1 - i / aJobs.n)), L - 4, yy);
    }
    for (let i = 0; i <= aQueue.n; i++) {
      const yy = Math.round(T + (hgt * i) / aQueue.n) + 0.5;
      ctx.fillStyle = cQueue;
      ctx.textAlign = 'left';
      ctx.fillText(fmtNum(maxQueue * (1 - i / aQueue.n)), L + w + 4, yy);
    }
    /* axis titles above the two scales */
    ctx.textBaseline = 'top';
    ctx.fillStyle = cJobs;
    ctx.textAlign = 'left';
    ctx.fillText('jobs/s', 2, 0);
    ctx.fillStyle = cQueue;
    ctx.textAlign = 'right';
    ctx.fillText('queued', cssW - 2, 0);
    ctx.fillStyle = cText;
    const ticks = [[start, '−10 min'], [start + WINDOW_MS / 2, '−5 min'], [end, 'now']];
    ticks.forEach(([t, label], i) => {
      ctx.textAlign = i === 0 ? 'left' : i === 2 ? 'right' : 'center';
      ctx.fillText(label, x(t), T + hgt + 4);
    });

    /* the series */
    ctx.save();
    ctx.beginPath();
    ctx.rect(L, T - 1, w, hgt + 2);
    ctx.clip();
    const trace = (run, y, key) => {
      ctx.beginPath();
      run.forEach((s, i) => {
        const px = x(s.time), py = y(Number(s[key]) || 0);
        if (i === 0) ctx.moveTo(px, py);
        else ctx.lineTo(px, py);
      });
      if (run.length === 1) ctx.lineTo(x(run[0].time) + 2, y(Number(run[0][key]) || 0));
    };
    const line = (y, key, colour, dash, fill) => {
      const runs = [];
      let run = [];
      for (const s of shown) {
        if (run.length && s.time - run[run.length - 1].time > GAP_MS) {
          runs.push(run);
          run = [];
        }
        run.push(s);
      }
      if (run.length) runs.push(run);
      ctx.strokeStyle = colour;
      ctx.fillStyle = colour;
      ctx.lineWidth = 2;
      ctx.lineJoin = 'round';
      for (const r of runs) {
        if (fill) {
          trace(r, y, key);
          ctx.lineTo(x(r[r.length - 1].time) + (r.length === 1 ? 2 : 0), T + hgt);
          ctx.lineTo(x(r[0].time), T + hgt);
          ctx.closePath();
          ctx.globalAlpha = 0.14;
          ctx.fill();
          ctx.globalAlpha = 1;
        }
        ctx.setLineDash(dash);
        trace(r, y, key);
        ctx.stroke();
        ctx.setLineDash([]);
      }
    };
    line(yJ, 'finished_per_s', cJobs, [], true);
    line(yQ, 'queued', cQueue, [5, 4], false);
    ctx.restore();
  }

  function update(list) {
    samples = Array.isArray(list) ? list.filter((s) => s && Number.isFinite(Number(s.time))) : [];
    const last = samples[samples.length - 1];
    summary.textContent = last
      ? 'Last 10 minutes. Now: ' + fmtNum(Number(last.finished_per_s) || 0) + ' jobs finished per second, ' + (Number(last.queued) || 0) + ' waiting.'
      : 'No samples yet.';
    draw();
  }

  if (typeof ResizeObserver === 'function') new ResizeObserver(() => draw()).observe(canvas);
  const mq = window.matchMedia ? window.matchMedia('(prefers-color-scheme: dark)') : null;
  if (mq && mq.addEventListener) mq.addEventListener('change', () => draw());
  return { el, update, draw };
}
