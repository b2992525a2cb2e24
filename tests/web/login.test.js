// tests/web/login.test.js — logging in and out of the web UI.
// A wrong password shows the alert and lets nobody in; the right one lands on
// Clusters; "Log out" returns to the login form and ends the session; a page
// visited without a session sends the browser to /login.
import assert from 'node:assert/strict';
import { useWeb, visible, eventually, PASSWORD } from './harness.js';

const web = useWeb('login');

web.test('a wrong password shows the alert', async (ui) => {
  const { page } = ui;
  ui.expectHttp(401, '/api/login', 'POST');
  await ui.goto('/login', { shot: 'login' });
  await page.getByLabel('User', { exact: true }).fill('admin');
  await page.getByLabel('Password', { exact: true }).fill('not the password at all');
  await page.getByRole('button', { name: 'Log in', exact: true }).click();
  const alert = await visible(page.getByRole('alert'));
  assert.notEqual((await alert.textContent()).trim(), '', 'the alert says something');
  await ui.shot('login-wrong-password');
  assert.equal(new URL(page.url()).pathname, '/login');
  assert.equal(await page.getByRole('link', { name: 'Jobs', exact: true }).count(), 0,
               'no navigation is shown without a session');
  // The password field is still there to try again (its text need not survive).
  await visible(page.getByLabel('Password', { exact: true }));
});

web.test('the right password lands on Clusters; Log out returns to the login form', async (ui) => {
  const { page } = ui;
  await ui.login({ shot: true });
  assert.match(new URL(page.url()).pathname, /^\/(clusters)?$/);
  for (const name of ['Clusters', 'Roles', 'Jobs']) {
    await visible(page.getByRole('link', { name, exact: true }));
  }
  await ui.shot('clusters');
  await page.getByRole('button', { name: 'Log out', exact: true }).click();
  await visible(page.getByRole('button', { name: 'Log in', exact: true }));
  await eventually(() => new URL(page.url()).pathname === '/login', { desc: 'the URL to be /login' });
  await ui.shot('logged-out');
  // The session is really gone: the server no longer knows the cookie.
  const r = await page.evaluate(async () => (await fetch('/api/session')).status);
  assert.equal(r, 401);
  // And a page asked for now goes to the login form.
  await page.goto(ui.mesh.url + '/jobs');
  await visible(page.getByRole('button', { name: 'Log in', exact: true }));
  await eventually(() => new URL(page.url()).pathname === '/login', { desc: 'the URL to be /login' });
});

web.test('the login form works with the keyboard alone', async (ui) => {
  const { page } = ui;
  await ui.goto('/login');
  await page.getByLabel('User', { exact: true }).focus();
  await page.keyboard.type('admin');
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement?.labels?.[0]?.textContent.trim()), 'Password',
               'Tab from User does not go to Password');
  await page.keyboard.type(PASSWORD);
  await page.keyboard.press('Enter');
  await visible(page.getByRole('heading', { level: 1, name: 'Clusters', exact: true }));
  // Enter on a focused nav link follows it.
  const jobs = page.getByRole('link', { name: 'Jobs', exact: true });
  await jobs.focus();
  await page.keyboard.press('Enter');
  await visible(page.getByRole('heading', { level: 1, name: 'Jobs', exact: true }));
});

web.test('an unauthenticated visit to /jobs goes to /login', async (ui) => {
  const { page } = ui;
  await page.goto(ui.mesh.url + '/jobs');
  await visible(page.getByLabel('User', { exact: true }));
  await eventually(() => new URL(page.url()).pathname === '/login', { desc: 'the URL to be /login' });
  await ui.shot('login-from-jobs');
  assert.equal(await page.getByRole('heading', { level: 1, name: 'Jobs', exact: true }).count(), 0);
  // Logging in from there works too.
  await page.getByLabel('User', { exact: true }).fill('admin');
  await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
  await page.getByRole('button', { name: 'Log in', exact: true }).click();
  await visible(page.getByRole('heading', { level: 1, name: /^(Clusters|Jobs)$/ }));
  await ui.shot('after-login');
});
