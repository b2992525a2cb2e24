/* router.js — client-side routing on location.pathname (History API).

   Rules it keeps:
   - route(pattern, render): patterns are literal segments and ":name"
     parameters ("/clusters/:id"); parameters arrive URI-decoded;
   - render(params, viewEl, query) gets an emptied view element and the
     URLSearchParams of the URL; it may return (or resolve to) a cleanup
     function, which is called when the page is left;
   - clicks on same-origin <a href> whose path matches a route are taken over
     (pushState) unless a modifier key, another button, target or download is used;
   - a guard (setGuard) may send a path elsewhere first (main.js: the login). */

const routes = [];
let viewEl = null;
let cleanup = null;
let guard = null;
let seq = 0;
const listeners = new Set();

function compile(pattern) {
  const names = [];
  const parts = pattern.split('/').filter(Boolean).map((seg) => {
    if (seg.startsWith(':')) {
      names.push(seg.slice(1));
      return '([^/]+)';
    }
    return seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  });
  return { re: new RegExp('^/' + parts.join('/') + '/?$'), names };
}

/** Register render for pattern, e.g. route("/clusters/:id", render). */
export function route(pattern, render) {
  const { re, names } = compile(pattern);
  routes.push({ pattern, re, names, render });
}

/** guard(path, query) -> null to go on, or another path (with query) to go to instead. */
export function setGuard(fn) {
  guard = fn;
}

/** fn(path) after each page change (the layout marks the current nav link). */
export function onNavigate(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

function match(path) {
  for (const r of routes) {
    const m = r.re.exec(path);
    if (!m) continue;
    const params = {};
    r.names.forEach((n, i) => {
      try { params[n] = decodeURIComponent(m[i + 1]); } catch (e) { params[n] = m[i + 1]; }
    });
    return { r, params };
  }
  return null;
}

/** True when a path (without query) is one of the UI's pages. */
export function isRoute(path) {
  return match(path) !== null;
}

function runCleanup() {
  const c = cleanup;
  cleanup = null;
  if (typeof c === 'function') {
    try { c(); } catch (e) { console.warn('page cleanup failed', e); }
  }
}

function notFound(view, path) {
  const h1 = document.createElement('h1');
  h1.textContent = 'Page not found';
  const p = document.createElement('p');
  p.textContent = 'Nothing lives at ' + path + '. ';
  const a = document.createElement('a');
  a.href = '/clusters';
  a.textContent = 'Go to Clusters';
  p.appendChild(a);
  view.append(h1, p);
}

async function render() {
  if (!viewEl) return;
  const my = ++seq;
  let path = location.pathname;
  const query = new URLSearchParams(location.search);
  if (guard) {
    const to = guard(path, query);
    if (to && to !== path + location.search) {
      history.replaceState(null, '', to);
      return render();
    }
  }
  runCleanup();
  while (viewEl.firstChild) viewEl.removeChild(viewEl.firstChild);
  const m = match(path);
  if (!m) {
    notFound(viewEl, path);
  } else {
    try {
      let c = m.r.render(m.params, viewEl, query);
      if (c && typeof c.then === 'function') c = await c;
      if (my !== seq) {
        /* the user went elsewhere while this page was loading */
        if (typeof c === 'function') { try { c(); } catch (e) { /* ignore */ } }
        return;
      }
      cleanup = c;
    } catch (e) {
      if (my !== seq) return;
      console.warn('page failed to render', e);
      const p = document.createElement('p');
      p.className = 'page-error';
      p.textContent = 'This page could not be shown: ' + (e && e.message ? e.message : String(e));
      viewEl.appendChild(p);
    }
  }
  const h1 = viewEl.querySelector('h1');
  document.title = (h1 && h1.textContent ? h1.textContent + ' · ' : '') + 'popebot-node';
  for (const fn of listeners) {
    try { fn(path); } catch (e) { console.warn(e); }
  }
}

/** Go to path ("/jobs?state=running"); {replace: true} replaces the history entry. */
export function navigate(path, opts = {}) {
  if (opts.replace) history.replaceState(null, '', path);
  else history.pushState(null, '', path);
  window.scrollTo(0, 0);
  return render();
}

/** Render the current page again (e.g. after logging in). */
export function refresh() {
  return render();
}

function onClick(ev) {
  if (ev.defaultPrevented || ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) return;
  const a = ev.target.closest ? ev.target.closest('a[href]') : null;
  if (!a || a.target || a.hasAttribute('download')) return;
  const url = new URL(a.href, location.href);
  if (url.origin !== location.origin || !isRoute(url.pathname)) return;
  if (url.hash && url.pathname === location.pathname && url.search === location.search) return; /* in-page anchor */
  ev.preventDefault();
  if (url.pathname + url.search === location.pathname + location.search) return;
  navigate(url.pathname + url.search);
}

/** Start routing into view (once). */
export function startRouter(view) {
  viewEl = view;
  document.addEventListener('click', onClick);
  window.addEventListener('popstate', () => render());
  return render();
}
