// tests/web/restart.test.js — the page across a coordinator restart.
// Sessions live in DIR/auth (docs/DECISIONS.md), so a restart does not end
// them: the open page must ride it out by itself — its event stream
// reconnects, the session still holds — and be live again without a reload
// or a new login, with the worker that reconnected by itself shown online.
// Only network-level failures are tolerated while the coordinator is away.
import assert from 'node:assert/strict';
import { useWeb, visible, eventually } from './harness.js';

const web = useWeb('restart', { workers: [{ name: 'w1', roles: 'echo,sleep', slots: 2 }] });

web.test('the open page rides out a coordinator restart: same session, live again', async (ui) => {
  const { page, mesh } = ui;
  await ui.login();
  await page.getByRole('link', { name: 'Jobs', exact: true }).click();
  await visible(page.getByRole('heading', { level: 1, name: 'Jobs', exact: true }));
  await ui.markDocument();
  await ui.shot('before-restart');
  await ui.duringOutage(async () => {
    await mesh.restartCoordinator();
    await mesh.waitWorker('w1', 'online');
    // live again: a job submitted after the restart shows without a reload
    const id = await mesh.submit('echo', { after: 'restart' });
    await visible(page.getByRole('table', { name: 'Jobs', exact: true }).getByRole('row')
      .filter({ hasText: id }), 15000);
  });
  assert.equal(new URL(page.url()).pathname, '/jobs', 'the page left /jobs (a login?)');
  assert.ok(await ui.stillSameDocument(), 'the page was reloaded');
  await ui.shot('live-again');
  // the same session still makes changes (its CSRF token holds too)
  await page.getByRole('link', { name: 'Clusters', exact: true }).click();
  await visible(ui.workerRow('w1').getByText('online', { exact: true }));
  await ui.workerRow('w1').getByRole('link', { name: 'w1', exact: true }).click();
  await page.getByRole('button', { name: 'Drain', exact: true }).click();
  await eventually(async () => (await mesh.apiOk('GET', '/api/clusters/w1')).state === 'draining',
    { desc: 'w1 to be draining after a change made with the old session' });
});
