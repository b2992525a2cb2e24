/* page_login.js — the login page (/login).

   Rules it keeps:
   - labelled inputs "User" and "Password", a "Log in" button; an error is
     written into a role="alert" element (401: wrong user or password; 429:
     wait the Retry-After seconds; anything else: the server's message);
   - on success it announces the session with a "popebot:login" window event
     ({user, csrf_token, next}); main.js sets up the rest and goes to `next`
     (the page that was asked for, or /clusters). */

import { api } from './api.js';
import { h } from './dom.js';

function render(params, view, query) {
  const next = query.get('next') || '';
  const user = h('input', { id: 'login-user', name: 'user', type: 'text', autocomplete: 'username', required: true, maxlength: 64, autocapitalize: 'none', spellcheck: 'false' });
  const pass = h('input', { id: 'login-password', name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const alertEl = h('p', { class: 'form-error', role: 'alert' });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary', text: 'Log in' });
  const form = h('form', { class: 'login-form', novalidate: true },
    h('div', { class: 'field' }, h('label', { for: 'login-user' }, 'User'), user),
    h('div', { class: 'field' }, h('label', { for: 'login-password' }, 'Password'), pass),
    alertEl,
    h('div', { class: 'form-actions' }, submit));

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    alertEl.textContent = '';
    if (!user.value.trim() || !pass.value) {
      alertEl.textContent = 'Enter your user name and password.';
      (user.value.trim() ? pass : user).focus();
      return;
    }
    submit.disabled = true;
    submit.textContent = 'Logging in…';
    try {
      const s = await api('POST', '/api/login', { user: user.value.trim(), password: pass.value });
      window.dispatchEvent(new CustomEvent('popebot:login', { detail: { user: s.user, csrf_token: s.csrf_token, next } }));
    } catch (e) {
      if (e.status === 401) {
        alertEl.textContent = 'Wrong user or password.';
      } else if (e.status === 429) {
        const wait = Number(e.retryAfter) > 0 ? Math.ceil(Number(e.retryAfter)) : 60;
        alertEl.textContent = 'Too many failed logins. Wait ' + wait + ' s before trying again.';
      } else {
        alertEl.textContent = e.message || 'Could not log in.';
      }
      pass.select();
      pass.focus();
    } finally {
      submit.disabled = false;
      submit.textContent = 'Log in';
    }
  });

  view.appendChild(h('div', { class: 'login-page' },
    h('div', { class: 'login-card' },
      h('div', { class: 'login-brand' }, h('img', { src: '/ui/favicon.svg', alt: '', width: 40, height: 40 }), h('span', null, 'popebot-', h('b', null, 'node'))),
      h('h1', null, 'Log in'),
      query.get('expired') ? h('p', { class: 'note' }, 'Your session has ended. Log in again.') : null,
      form)));
  setTimeout(() => user.focus(), 0);
}

export function register(route) {
  route('/login', render);
}
