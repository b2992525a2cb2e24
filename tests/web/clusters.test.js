// tests/web/clusters.test.js — the Clusters and Cluster pages against real workers.
// A worker shows online; a second one appears, and goes offline when stopped,
// without a reload (the document must survive: a marker set on window stays);
// drain and resume from a worker's page; the Register worker dialog gives a
// join command that really enrolls a worker, and a webhook URL; a registration
// is deleted only behind the confirmation.
import assert from 'node:assert/strict';
import { useWeb, visible, hidden, expectText, eventually } from './harness.js';

const web = useWeb('clusters', { workers: [{ name: 'w1', roles: 'echo,sleep', slots: 2 }] });

const badge = (row, state) => row.getByText(state, { exact: true });

web.test('a real worker shows online', async (ui) => {
  const { page } = ui;
  await ui.login();
  const row = await visible(ui.workerRow('w1'));
  await visible(badge(row, 'online'));
  const link = row.getByRole('link', { name: 'w1', exact: true });
  assert.equal(new URL(await link.getAttribute('href'), ui.mesh.url).pathname, '/clusters/w1');
  await ui.shot('clusters');
  // The filter box hides rows that do not match.
  await page.getByLabel('Filter workers', { exact: true }).fill('no-such-worker');
  await hidden(ui.workerRow('w1'));
  await page.getByLabel('Filter workers', { exact: true }).fill('w1');
  await visible(ui.workerRow('w1'));
});

/** When the API and when the page show worker name in state: the page must
 *  follow within LIVE_MS (the events stream; a page that polls every 10 s
 *  would not). Returns the lag in ms (negative when the page was first). */
const LIVE_MS = 3000;
async function lagBehindApi(ui, name, state) {
  const apiAt = ui.mesh.waitWorker(name, state).then(() => Date.now());
  const pageAt = visible(badge(ui.workerRow(name), state), 30000).then(() => Date.now());
  const [a, p] = await Promise.all([apiAt, pageAt]);
  return p - a;
}

web.test('a second worker appears, and goes offline, without a reload', async (ui) => {
  const { mesh, t } = ui;
  await ui.login();
  await visible(badge(ui.workerRow('w1'), 'online'));
  await ui.markDocument();
  await mesh.startWorker('w2', { wait: false });
  const joined = await lagBehindApi(ui, 'w2', 'online');
  t.diagnostic(`w2 online on the page ${joined} ms after the API`);
  await ui.shot('second-worker-online');
  assert.ok(joined <= LIVE_MS, `the page showed w2 online ${joined} ms after the API`);
  assert.ok(await ui.stillSameDocument(), 'the page was reloaded');

  const stopped = mesh.stopWorker('w2', 'SIGTERM');
  const left = await lagBehindApi(ui, 'w2', 'offline');
  await stopped;
  t.diagnostic(`w2 offline on the page ${left} ms after the API`);
  await ui.shot('second-worker-offline');
  assert.ok(left <= LIVE_MS, `the page showed w2 offline ${left} ms after the API`);
  assert.ok(await ui.stillSameDocument(), 'the page was reloaded');
  // w1 was never touched.
  await visible(badge(ui.workerRow('w1'), 'online'));
});

web.test('drain a worker from its page, then resume it', async (ui) => {
  const { page, mesh } = ui;
  await ui.login();
  await ui.workerRow('w1').getByRole('link', { name: 'w1', exact: true }).click();
  await visible(page.getByRole('heading', { level: 1, name: 'w1', exact: true }));
  assert.equal(new URL(page.url()).pathname, '/clusters/w1');
  for (const name of ['Edit', 'Disconnect', 'Delete']) {
    await visible(page.getByRole('button', { name, exact: true }));
  }
  await visible(page.getByRole('table', { name: 'Running jobs', exact: true }));
  await visible(page.getByRole('region', { name: 'Live log', exact: true }));
  await visible(page.getByRole('table', { name: 'Job history', exact: true }));
  await visible(page.getByText('online', { exact: true }));
  await ui.shot('cluster');

  await page.getByRole('button', { name: 'Drain', exact: true }).click();
  await visible(page.getByText('draining', { exact: true }));
  await visible(page.getByRole('button', { name: 'Resume', exact: true }));
  await eventually(async () => (await mesh.cluster('w1')).state === 'draining', { desc: 'the API to say draining' });
  await ui.shot('cluster-draining');

  await page.getByRole('button', { name: 'Resume', exact: true }).click();
  await visible(page.getByRole('button', { name: 'Drain', exact: true }));
  await visible(page.getByText('online', { exact: true }));
  await eventually(async () => (await mesh.cluster('w1')).state === 'online', { desc: 'the API to say online' });
  await ui.shot('cluster-resumed');
});

web.test('Register worker gives a join command that enrolls a worker; delete asks first', async (ui) => {
  const { page, mesh } = ui;
  await ui.login();
  await page.getByRole('button', { name: 'Register worker', exact: true }).click();
  const dialog = await visible(page.getByRole('dialog'));
  await dialog.getByLabel('Name', { exact: true }).fill('w9');
  await dialog.getByLabel('Roles', { exact: true }).fill('echo');
  await dialog.getByLabel('Slots', { exact: true }).fill('3');
  await ui.shot('register-dialog');
  await dialog.getByRole('button', { name: 'Create', exact: true }).click();

  // The join command: token in the environment, never as a flag.
  const copyJoin = await visible(dialog.getByRole('button', { name: 'Copy join command', exact: true }));
  await visible(dialog.getByRole('button', { name: 'Copy webhook URL', exact: true }));
  const text = await expectText(dialog, (t) => /POPEBOT_JOIN=/.test(t) && /\/webhook/.test(t),
                                { desc: 'the dialog to show the join command and webhook URL' });
  await ui.shot('register-dialog-created');
  const cmd = /POPEBOT_JOIN='([^']+)'\s+popebot-node\s+(--role=worker[^\n]*?--slots=\d+)/.exec(text);
  assert.ok(cmd, `no join command of the documented form in: ${text}`);
  const flags = Object.fromEntries(cmd[2].split(/\s+/).map((f) => /^--([^=]+)=(.*)$/.exec(f).slice(1)));
  assert.equal(flags.role, 'worker');
  assert.equal(flags.name, 'w9');
  assert.equal(flags.roles, 'echo');
  assert.equal(flags.slots, '3');
  assert.equal(flags.coordinator, mesh.endpoint);
  assert.doesNotMatch(cmd[2], /--join/);
  // The webhook URL of the new registration.
  const hook = new RegExp(`${mesh.url.replace(/[.:/]/g, '\\$&')}/api/cluster/w9/webhook`);
  assert.match(text, hook);

  // The copy button puts the command on the clipboard.
  await copyJoin.click();
  const clip = await eventually(() => page.evaluate(() => navigator.clipboard.readText()),
                                { desc: 'the clipboard to hold the command' });
  assert.match(clip, /^POPEBOT_JOIN='pbj1_[^']+' popebot-node --role=worker /);
  assert.equal(clip.trim(), cmd[0].trim());

  await dialog.getByRole('button', { name: 'Close', exact: true }).click();
  await hidden(page.getByRole('dialog'));
  await visible(badge(ui.workerRow('w9'), 'offline'));

  // Run exactly what the dialog said: the worker enrolls and shows online.
  await mesh.startWorker('w9', { token: cmd[1], coordinator: flags.coordinator,
                                 roles: flags.roles, slots: Number(flags.slots), wait: false });
  await visible(badge(ui.workerRow('w9'), 'online'), 20000);
  await ui.shot('registered-worker-online');

  // Delete: the confirmation comes first, and Cancel keeps the registration.
  await ui.workerRow('w9').getByRole('link', { name: 'w9', exact: true }).click();
  await visible(page.getByRole('heading', { level: 1, name: 'w9', exact: true }));
  await page.getByRole('button', { name: 'Delete', exact: true }).click();
  let confirm = await visible(page.getByRole('dialog'));
  await ui.shot('delete-confirmation');
  await confirm.getByRole('button', { name: 'Cancel', exact: true }).click();
  await hidden(page.getByRole('dialog'));
  assert.ok(await mesh.cluster('w9'), 'Cancel deleted the registration');

  await page.getByRole('button', { name: 'Delete', exact: true }).click();
  confirm = await visible(page.getByRole('dialog'));
  await confirm.getByRole('button', { name: 'Delete', exact: true }).click();
  await eventually(async () => (await mesh.api('GET', '/api/clusters/w9')).status === 404,
                   { desc: 'the registration to be gone' });
  // Back on Clusters (by itself, or by the nav link), w9 is no longer listed.
  if (new URL(page.url()).pathname !== '/clusters' && new URL(page.url()).pathname !== '/') {
    await page.getByRole('link', { name: 'Clusters', exact: true }).click();
  }
  await visible(ui.workerRow('w1'));
  await hidden(ui.workerRow('w9'));
  // The health strip follows: w1 is the only worker online again (w2 is stopped).
  await eventually(async () => (await ui.healthNumber('Workers online')) === 1,
                   { desc: 'Workers online to be 1 again' });
  await ui.shot('after-delete');
});
