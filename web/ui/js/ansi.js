// ansi.js — turns terminal output with ANSI escape sequences into DOM nodes.
//
// SGR sequences (ESC [ ... m) become <span> elements with classes
// (ansi-fg-N / ansi-bg-N for the 16 basic colours, ansi-bold, ansi-dim,
// ansi-italic, ansi-underline, ansi-strike, ansi-inverse); 256-colour and
// true-colour values outside the basic 16 are set through the CSSOM
// (el.style.color), which the Content-Security-Policy allows. Every other
// escape (cursor moves, erase, OSC titles and links, DCS, charset switches)
// and every control character except tab and newline is dropped.
//
// Rules kept: text only ever reaches the DOM through text nodes (never
// innerHTML); the style carries across calls in `state`, and a sequence cut
// between two chunks is kept in `state.pending` until the rest arrives.

const ESC = '\x1b';
const MAX_PENDING = 4096; // an unfinished sequence longer than this is dropped

// A fresh style state; pass the same object to every ansiToNodes call of a stream.
export function newAnsiState() {
  return {
    fg: null, // number 0-15 (class) or "rgb(...)" string (CSSOM)
    bg: null,
    bold: false,
    dim: false,
    italic: false,
    underline: false,
    strike: false,
    inverse: false,
    pending: '',
  };
}

function resetStyle(s) {
  s.fg = null;
  s.bg = null;
  s.bold = s.dim = s.italic = s.underline = s.strike = s.inverse = false;
}

// The colour of 256-colour index n: 0-15 stay palette indices (classes).
function colour256(n) {
  if (!Number.isInteger(n) || n < 0 || n > 255) return undefined;
  if (n < 16) return n;
  if (n >= 232) {
    const g = 8 + (n - 232) * 10;
    return `rgb(${g}, ${g}, ${g})`;
  }
  const c = n - 16;
  const lvl = (v) => (v === 0 ? 0 : 55 + v * 40);
  return `rgb(${lvl(Math.floor(c / 36))}, ${lvl(Math.floor(c / 6) % 6)}, ${lvl(c % 6)})`;
}

function byte(v) {
  return Number.isInteger(v) && v >= 0 && v <= 255;
}

// Reads an extended colour (38/48) starting at params[i]; returns [colour|undefined, next index].
function extColour(params, i) {
  const mode = params[i + 1];
  if (mode === 5) return [colour256(params[i + 2]), i + 3];
  if (mode === 2) {
    const [r, g, b] = [params[i + 2], params[i + 3], params[i + 4]];
    const ok = byte(r) && byte(g) && byte(b);
    return [ok ? `rgb(${r}, ${g}, ${b})` : undefined, i + 5];
  }
  return [undefined, params.length]; // unknown form: ignore the rest
}

// Applies one SGR parameter string ("1;31", "38:5:208", "") to the state.
function applySgr(s, paramText) {
  // Colon sub-parameters (38:2::r:g:b, 38:5:n) are read like the ; forms.
  let raw = paramText.replace(/:/g, ';');
  if (/^(38|48);2;;/.test(raw)) raw = raw.replace(/^(38|48);2;;/, '$1;2;'); // colour-space id left empty
  const params = raw === '' ? [0] : raw.split(';').map((p) => (p === '' ? 0 : Number(p)));
  for (let i = 0; i < params.length; ) {
    const p = params[i];
    if (p === 38 || p === 48) {
      const [c, next] = extColour(params, i);
      if (c !== undefined) {
        if (p === 38) s.fg = c;
        else s.bg = c;
      }
      i = next;
      continue;
    }
    i += 1;
    if (p === 0) resetStyle(s);
    else if (p === 1) s.bold = true;
    else if (p === 2) s.dim = true;
    else if (p === 3) s.italic = true;
    else if (p === 4) s.underline = true;
    else if (p === 7) s.inverse = true;
    else if (p === 9) s.strike = true;
    else if (p === 21 || p === 22) s.bold = s.dim = false;
    else if (p === 23) s.italic = false;
    else if (p === 24) s.underline = false;
    else if (p === 27) s.inverse = false;
    else if (p === 29) s.strike = false;
    else if (p >= 30 && p <= 37) s.fg = p - 30;
    else if (p === 39) s.fg = null;
    else if (p >= 40 && p <= 47) s.bg = p - 40;
    else if (p === 49) s.bg = null;
    else if (p >= 90 && p <= 97) s.fg = p - 90 + 8;
    else if (p >= 100 && p <= 107) s.bg = p - 100 + 8;
    // anything else (blink, fonts, overline...) is ignored
  }
}

function styled(s) {
  return s.fg !== null || s.bg !== null || s.bold || s.dim || s.italic || s.underline || s.strike || s.inverse;
}

// One node for a run of text in the current style.
function makeNode(s, text) {
  if (!styled(s)) return document.createTextNode(text);
  const span = document.createElement('span');
  const cls = [];
  if (typeof s.fg === 'number') cls.push(`ansi-fg-${s.fg}`);
  else if (s.fg) span.style.color = s.fg;
  if (typeof s.bg === 'number') cls.push(`ansi-bg-${s.bg}`);
  else if (s.bg) span.style.backgroundColor = s.bg;
  if (s.bold) cls.push('ansi-bold');
  if (s.dim) cls.push('ansi-dim');
  if (s.italic) cls.push('ansi-italic');
  if (s.underline) cls.push('ansi-underline');
  if (s.strike) cls.push('ansi-strike');
  if (s.inverse) cls.push('ansi-inverse');
  if (cls.length) span.className = cls.join(' ');
  span.textContent = text;
  return span;
}

// Finds the end of the escape sequence starting at text[i] (an ESC).
// Returns {end, sgr} (end = index after it; sgr = parameter text when it is
// an SGR sequence) or null when the sequence is not finished in this text.
function scanEscape(text, i) {
  const n = text.length;
  if (i + 1 >= n) return null;
  const c = text[i + 1];
  if (c === '[') {
    // CSI: parameter bytes 0x30-0x3F, intermediates 0x20-0x2F, final 0x40-0x7E
    let j = i + 2;
    while (j < n) {
      const code = text.charCodeAt(j);
      if (code >= 0x40 && code <= 0x7e) {
        const body = text.slice(i + 2, j);
        const sgr = text[j] === 'm' && /^[0-9;:]*$/.test(body) ? body : null;
        return { end: j + 1, sgr };
      }
      if (code < 0x20 || code > 0x7e) return { end: j, sgr: null }; // broken: drop the prefix
      j += 1;
    }
    return null;
  }
  if (c === ']' || c === 'P' || c === 'X' || c === '^' || c === '_') {
    // OSC / DCS / SOS / PM / APC: up to BEL or ST (ESC \)
    for (let j = i + 2; j < n; j++) {
      if (text[j] === '\x07') return { end: j + 1, sgr: null };
      if (text[j] === ESC) {
        if (j + 1 >= n) return null;
        if (text[j + 1] === '\\') return { end: j + 2, sgr: null };
      }
    }
    return null;
  }
  // Other escapes: ESC, intermediates 0x20-0x2F, then one final byte.
  let j = i + 1;
  while (j < n && text.charCodeAt(j) >= 0x20 && text.charCodeAt(j) <= 0x2f) j += 1;
  if (j >= n) return null;
  return { end: j + 1, sgr: null };
}

// Control characters dropped from the visible text (tab and newline stay).
const CONTROL = /[\x00-\x08\x0b-\x1f\x7f]/g;

// Converts `text` into an array of DOM nodes, updating `state`.
export function ansiToNodes(text, state) {
  const s = state || newAnsiState();
  const src = s.pending + String(text);
  s.pending = '';
  const out = [];
  let run = '';
  const flush = () => {
    const t = run.replace(CONTROL, '');
    if (t) out.push(makeNode(s, t));
    run = '';
  };
  let i = 0;
  while (i < src.length) {
    const e = src.indexOf(ESC, i);
    if (e < 0) {
      run += src.slice(i);
      break;
    }
    run += src.slice(i, e);
    const seq = scanEscape(src, e);
    if (!seq) {
      const tail = src.slice(e);
      if (tail.length <= MAX_PENDING) s.pending = tail; // finished by a later chunk
      break;
    }
    if (seq.sgr !== null) {
      flush();
      applySgr(s, seq.sgr);
    }
    i = seq.end;
  }
  flush();
  return out;
}
