// tests/web/restart.test.js — the page across a coordinator restart.
// Sessions live in the coordinator's memory (docs/DECISIONS.md), so a restart
// ends them: the open page must notice by itself (its events stream
// reconnects and is refused), go to the login form, and after logging in again
// come back to where it was, live, with the worker that reconnected by itself.
// Only network-level failures are tolerated while the coordinator is away.
import assert from 'node:assert/strict';
import { useWeb, visible, eventually, PASSWORD } from './harness.js';

const web = useWeb('restart', { workers: [{ name: 'w1', roles: 'echo,sleep', slots: 2 }] });

web.test('the open page notices a coordinator restart and comes back after a new login', async (ui) => {
  const { page, mesh } = ui;
  await ui.login();
  await page.getByRole('link', { name: 'Jobs', exact: true }).click();
  await visible(page.getByRole('heading', { level: 1, name: 'Jobs', exact: true }));
  await ui.shot('before-restart');
  // The old session is unknown to the new process: these 401s are the point.
  ui.expectHttp(401, '/api/events', 'GET');
  ui.expectHttp(401, /^\/api\//, 'GET');
  await ui.duringOutage(async () => {
    await mesh.restartCoordinator();
    await visible(page.getByRole('button', { name: 'Log in', exact: true }), 20000);
  });
  await eventually(() => new URL(page.url()).pathname === '/login', { desc: 'the URL to be /login' });
  await ui.shot('after-restart');
  await page.getByLabel('User', { exact: true }).fill('admin');
  await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
  await page.getByRole('button', { name: 'Log in', exact: true }).click();
  // Back where it was (the Jobs page), not just on the start page.
  await visible(page.getByRole('heading', { level: 1, name: 'Jobs', exact: true }));
  await mesh.waitWorker('w1', 'online');
  await page.getByRole('link', { name: 'Clusters', exact: true }).click();
  await visible(ui.workerRow('w1').getByText('online', { exact: true }));
  // Live again: a new job shows without a reload.
  await page.getByRole('link', { name: 'Jobs', exact: true }).click();
  await ui.markDocument();
  const id = await mesh.submit('echo', { after: 'restart' });
  await visible(page.getByRole('table', { name: 'Jobs', exact: true }).getByRole('row').filter({ hasText: id }), 5000);
  assert.ok(await ui.stillSameDocument(), 'the page was reloaded');
  await ui.shot('live-again');
});
