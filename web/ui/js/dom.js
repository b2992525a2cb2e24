/* dom.js — small DOM helpers every page uses.

   Rules it keeps:
   - DOM is built with createElement/textContent only: data never goes through
     innerHTML, so nothing needs escaping by hand (no XSS);
   - no inline style attributes (the CSP forbids them): a `style` object in h()
     is applied through the CSSOM (el.style.x = ...), which the CSP allows;
   - dialogs are real <dialog> elements (focus trap and Esc for free);
   - a state is always shown as colour plus its word (stateBadge). */

const SVG_NS = 'http://www.w3.org/2000/svg';
const SVG_TAGS = new Set(['svg', 'path', 'g', 'line', 'polyline', 'rect', 'circle']);

/**
 * h(tag, attrs, ...children) -> Element.
 * attrs: class (string or array), text (textContent), on: {event: fn},
 * style: {prop: value} (CSSOM; a style string is ignored), onclick: fn (as a listener;
 * a string is ignored), any other attribute (aria-*, data-*, for, ...);
 * true sets an empty attribute, false/null/undefined skips it.
 * For form controls `value`, `checked` and `selected` are set as properties too.
 * children: nodes, strings/numbers, arrays of them; null/undefined/false skipped.
 */
export function h(tag, attrs, ...children) {
  const el = SVG_TAGS.has(tag) ? document.createElementNS(SVG_NS, tag) : document.createElement(tag);
  let value = null;
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v === null || v === undefined || v === false) continue;
      if (k === 'class') {
        const c = Array.isArray(v) ? v.filter(Boolean).join(' ') : String(v);
        if (c) el.setAttribute('class', c);
      } else if (k === 'text') {
        el.textContent = String(v);
      } else if (k === 'on') {
        for (const [ev, fn] of Object.entries(v)) if (fn) el.addEventListener(ev, fn);
      } else if (k === 'style') {
        if (typeof v === 'object') for (const [p, sv] of Object.entries(v)) el.style[p] = sv;
      } else if (k === 'value' && (tag === 'input' || tag === 'select' || tag === 'textarea')) {
        value = String(v); /* set after the children, so a <select> has its options */
      } else if ((k === 'checked' || k === 'selected') && k in el) {
        el[k] = !!v;
        if (v) el.setAttribute(k, '');
      } else if (/^on/i.test(k)) {
        /* a function becomes a listener; a string would be an inline handler,
           which the CSP refuses, so it is never written */
        if (typeof v === 'function') el.addEventListener(k.slice(2).toLowerCase(), v);
      } else if ((k === 'href' || k === 'src' || k === 'action') && /^\s*(javascript|vbscript|data):/i.test(String(v)) && !/^data:image\//i.test(String(v))) {
        /* a script URL is never written, whatever the data says */
      } else {
        el.setAttribute(k, v === true ? '' : String(v));
      }
    }
  }
  append(el, children);
  if (value !== null) {
    if (tag === 'input') el.setAttribute('value', value);
    el.value = value;
  }
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
}

/** Remove every child of el; returns el. */
export function clear(el) {
  while (el && el.firstChild) el.removeChild(el.firstChild);
  return el;
}

/** "3 s ago", "5 min ago", "2 h ago", "4 d ago", "in 10 s"; "never" for null. */
export function relTime(ms) {
  if (ms === null || ms === undefined || ms === '' || !Number.isFinite(Number(ms))) return 'never';
  const d = Date.now() - Number(ms);
  const a = Math.abs(d);
  let s;
  if (a < 60e3) s = Math.max(0, Math.round(a / 1e3)) + ' s';
  else if (a < 3600e3) s = Math.floor(a / 60e3) + ' min';
  else if (a < 86400e3) s = Math.floor(a / 3600e3) + ' h';
  else s = Math.floor(a / 86400e3) + ' d';
  return d >= -1000 ? s + ' ago' : 'in ' + s;
}

const pad = (n, w = 2) => String(n).padStart(w, '0');

/** Local date and time "2026-11-30 10:04:05"; "—" for null. */
export function fmtTime(ms) {
  if (ms === null || ms === undefined || ms === '' || !Number.isFinite(Number(ms))) return '—';
  const d = new Date(Number(ms));
  return d.getFullYear() + '-' + pad(d.getMonth() + 1) + '-' + pad(d.getDate()) + ' ' +
    pad(d.getHours()) + ':' + pad(d.getMinutes()) + ':' + pad(d.getSeconds());
}

/* The fallback when the clipboard API is refused: select the text so the user
   can press Ctrl+C. A sibling marked data-copy-source is used when there is one. */
function selectForCopy(button, text) {
  let src = button.parentElement ? button.parentElement.querySelector('[data-copy-source]') : null;
  if (!src) {
    src = button.nextElementSibling && button.nextElementSibling.classList.contains('copy-fallback')
      ? button.nextElementSibling
      : h('input', { class: 'copy-fallback', readonly: true, 'aria-label': 'Text to copy', value: text });
    if (!src.isConnected) button.after(src);
  }
  if (src instanceof HTMLInputElement || src instanceof HTMLTextAreaElement) {
    src.focus();
    src.select();
  } else {
    const range = document.createRange();
    range.selectNodeContents(src);
    const sel = window.getSelection();
    sel.removeAllRanges();
    sel.addRange(range);
  }
  let copied = false;
  try { copied = document.execCommand('copy'); } catch (e) { copied = false; }
  toast(copied ? 'Copied' : 'Selected: press Ctrl+C (⌘C) to copy', 'ok');
}

/** A "Copy" button (aria-label = label, e.g. "Copy join command") that copies text. */
export function copyButton(text, label) {
  const b = h('button', { type: 'button', class: 'btn btn-small copy', 'aria-label': label || 'Copy', text: 'Copy' });
  b.addEventListener('click', async () => {
    const value = typeof text === 'function' ? text() : text;
    try {
      if (!navigator.clipboard || !window.isSecureContext) throw new Error('no clipboard');
      await navigator.clipboard.writeText(value);
      b.textContent = 'Copied';
      setTimeout(() => { b.textContent = 'Copy'; }, 1500);
    } catch (e) {
      selectForCopy(b, value);
    }
  });
  return b;
}

let dialogSeq = 0;

/** A modal yes/no question; resolves true when confirmLabel was pressed. */
export function confirmDialog(title, message, confirmLabel = 'OK') {
  return new Promise((resolve) => {
    const id = 'confirm-title-' + (++dialogSeq);
    let answer = false;
    const yes = h('button', { type: 'button', class: 'btn btn-danger', text: confirmLabel });
    const no = h('button', { type: 'button', class: 'btn', text: 'Cancel' });
    const dlg = h('dialog', { class: 'dialog', 'aria-labelledby': id },
      h('h2', { id, text: title }),
      message ? h('p', { text: message }) : null,
      h('div', { class: 'dialog-actions' }, no, yes));
    yes.addEventListener('click', () => { answer = true; dlg.close(); });
    no.addEventListener('click', () => dlg.close());
    dlg.addEventListener('close', () => { dlg.remove(); resolve(answer); });
    document.body.appendChild(dlg);
    dlg.showModal();
    no.focus();
  });
}

function toastHost(kind) {
  const id = kind === 'error' ? 'toasts-error' : 'toasts';
  let wrap = document.getElementById('toast-area');
  if (!wrap) wrap = h('div', { id: 'toast-area', class: 'toast-area' });
  /* A modal dialog sits in the top layer above everything else: toasts go
     inside the open one (if any) so they are seen, and back to body after. */
  const modals = Array.from(document.querySelectorAll('dialog[open]')).filter((d) => d.matches(':modal'));
  const parent = modals.length ? modals[modals.length - 1] : document.body;
  if (wrap.parentElement !== parent) parent.appendChild(wrap);
  let host = document.getElementById(id);
  if (!host) {
    /* Errors are announced assertively, others politely; neither uses
       role="alert", which belongs to the form errors (login). */
    host = h('div', { id, class: 'toast-list', 'aria-live': kind === 'error' ? 'assertive' : 'polite', 'aria-relevant': 'additions' });
    wrap.appendChild(host);
  }
  return host;
}

/* When a dialog closes, its toasts move back to the page before it is removed
   (a capture listener sees the non-bubbling close event first). */
document.addEventListener('close', (ev) => {
  const wrap = document.getElementById('toast-area');
  if (wrap && ev.target instanceof HTMLDialogElement && ev.target.contains(wrap)) document.body.appendChild(wrap);
}, true);

/** A short message in the corner; kind "ok" (default) or "error". */
export function toast(message, kind = 'ok') {
  const k = kind === 'error' ? 'error' : 'ok';
  const host = toastHost(k);
  const close = h('button', { type: 'button', class: 'toast-close', 'aria-label': 'Dismiss', text: '×' });
  const t = h('div', { class: 'toast toast-' + k }, h('span', { class: 'toast-text', text: String(message) }), close);
  const remove = () => t.remove();
  close.addEventListener('click', remove);
  host.appendChild(t);
  setTimeout(remove, k === 'error' ? 9000 : 4000);
  while (host.children.length > 4) host.firstElementChild.remove();
  return t;
}

/** A state shown as colour plus its word: online, offline, draining, queued, running, ... */
export function stateBadge(state) {
  const s = state === null || state === undefined ? 'unknown' : String(state);
  return h('span', { class: 'badge badge-' + s.replace(/[^a-z_-]/gi, '') }, s);
}
