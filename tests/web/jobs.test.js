// tests/web/jobs.test.js — jobs from the UI: cancel a running job (from its
// page and from the worker's Running jobs table), retry a failed one, filter
// the list by state, and watch the health strip count slots and queue depth.
// Jobs are submitted through the HTTP API (the UI's own submit is in
// roles.test.js); what is checked is what the UI shows and does.
import assert from 'node:assert/strict';
import path from 'node:path';
import { useWeb, visible, hidden, eventually, expectText } from './harness.js';

// flaky: fails the first time (leaving a mark), succeeds when retried.
const web = useWeb('jobs', {
  workers: [{ name: 'w1', roles: 'echo,sleep,flaky', slots: 2 }],
  setup: async (mesh) => {
    const mark = path.join(mesh.tmp, 'flaky-ran');
    await mesh.apiOk('POST', '/api/roles', {
      name: 'flaky', shell: true, max_attempts: 1,
      command: `if [ -e ${mark} ]; then echo second-time-lucky; else touch ${mark}; echo first-try-fails; exit 3; fi`,
    });
  },
});

const LONG = { ms: 120000 };

/** Click a button; when the UI asks to confirm in a dialog, confirm with the
 *  dialog's button. done(): true once the click had its effect without a dialog. */
async function clickMaybeConfirm(page, button, confirmName, done) {
  await button.click();
  const dialog = page.getByRole('dialog');
  const asked = await eventually(async () => ((await dialog.isVisible()) && 'dialog') || ((await done()) && 'done'),
                                 { desc: 'the click to act or ask' });
  if (asked === 'dialog') await dialog.getByRole('button', { name: confirmName, exact: true }).last().click();
}

web.test('cancel a running job from its page', async (ui) => {
  const { page, mesh } = ui;
  await ui.login();
  const id = await mesh.submit('sleep', LONG);
  await mesh.waitJob(id, 'running');
  await ui.goto(`/jobs/${id}`, { heading: new RegExp(id) });
  await visible(page.getByText('running', { exact: true }));
  assert.equal(await page.getByRole('button', { name: 'Retry', exact: true }).count(), 0,
               'Retry is offered for a running job');
  await ui.shot('job-running');
  const cancelled = page.getByText('cancelled', { exact: true });
  await clickMaybeConfirm(page, page.getByRole('button', { name: 'Cancel', exact: true }).first(),
                          'Cancel job', () => cancelled.first().isVisible());
  await visible(cancelled);
  assert.equal((await mesh.waitJob(id)).state, 'cancelled');
  await hidden(page.getByRole('button', { name: 'Cancel', exact: true }));
  await ui.shot('job-cancelled');
});

web.test('cancel a running job from the worker\'s Running jobs table', async (ui) => {
  const { page, mesh } = ui;
  await ui.login();
  const id = await mesh.submit('sleep', LONG);
  await mesh.waitJob(id, 'running');
  await ui.goto('/clusters/w1', { heading: 'w1' });
  const table = page.getByRole('table', { name: 'Running jobs', exact: true });
  const row = await visible(table.getByRole('row').filter({ hasText: id }));
  await ui.shot('running-jobs');
  // The contract names the button "Cancel"; the UI labels it "Cancel job ID" (unique per row): either will do.
  await clickMaybeConfirm(page, row.getByRole('button', { name: /^Cancel( job [0-9a-f]+)?$/ }), 'Cancel job',
                          async () => (await mesh.job(id)).state === 'cancelled');
  assert.equal((await mesh.waitJob(id)).state, 'cancelled');
  await hidden(table.getByRole('row').filter({ hasText: id }));
  await ui.shot('running-jobs-after-cancel');
});

web.test('retry a failed job', async (ui) => {
  const { page, mesh } = ui;
  await ui.login();
  const id = await mesh.submit('flaky', {});
  assert.equal((await mesh.waitJob(id)).state, 'failed');
  await ui.goto(`/jobs/${id}`, { heading: new RegExp(id) });
  await visible(page.getByText('failed', { exact: true }));
  await expectText(page.getByRole('log', { name: 'Job log' }), /first-try-fails/);
  assert.equal(await page.getByRole('button', { name: 'Cancel', exact: true }).count(), 0,
               'Cancel is offered for a finished job');
  await ui.shot('job-failed');
  await page.getByRole('button', { name: 'Retry', exact: true }).click();
  await visible(page.getByText('succeeded', { exact: true }), 20000);
  await expectText(page.getByRole('log', { name: 'Job log' }), /second-time-lucky/);
  const job = await mesh.waitJob(id);
  assert.equal(job.state, 'succeeded');
  assert.equal(job.attempts, 2);
  await ui.shot('job-retried');
});

web.test('the jobs list filters by state', async (ui) => {
  const { page, mesh } = ui;
  const ok = await mesh.submit('echo', { hello: 'list' });
  const gone = await mesh.submit('sleep', LONG);
  await mesh.waitJob(ok, 'succeeded');
  await mesh.waitJob(gone, 'running');
  await mesh.apiOk('POST', `/api/jobs/${gone}/cancel`);
  await mesh.waitJob(gone, 'cancelled');

  await ui.login();
  await page.getByRole('link', { name: 'Jobs', exact: true }).click();
  await visible(page.getByRole('heading', { level: 1, name: 'Jobs', exact: true }));
  const table = page.getByRole('table', { name: 'Jobs', exact: true });
  const rowOf = (id) => table.getByRole('row').filter({ hasText: id });
  await visible(rowOf(ok));
  await visible(rowOf(gone));
  for (const label of ['State', 'Role', 'Worker', 'Search']) {
    await visible(page.getByLabel(label, { exact: true }));
  }
  await ui.shot('jobs');

  await page.getByLabel('State', { exact: true }).selectOption('succeeded');
  await hidden(rowOf(gone));
  await visible(rowOf(ok));
  const states = await table.getByRole('row').filter({ has: page.getByRole('link') }).allInnerTexts();
  assert.ok(states.length > 0);
  for (const r of states) assert.match(r, /succeeded/, `a row that is not succeeded: ${r}`);
  await ui.shot('jobs-succeeded');

  await page.getByLabel('State', { exact: true }).selectOption('cancelled');
  await hidden(rowOf(ok));
  await visible(rowOf(gone));
  await ui.shot('jobs-cancelled');
});

web.test('the health strip counts slots and queue depth as jobs run', async (ui) => {
  const { page, mesh } = ui;
  await mesh.cancelAll();              // whatever an earlier test left running
  await ui.login();
  const strip = await visible(page.getByRole('region', { name: 'Mesh health', exact: true }));
  for (const label of ['Workers online', 'Slots used', 'Queue depth', 'Jobs/s']) {
    await visible(strip.getByLabel(label, { exact: true }));
  }
  await visible(page.getByLabel('Throughput chart', { exact: true }));
  await eventually(async () => (await ui.healthNumber('Slots used')) === 0 &&
                   (await ui.healthNumber('Queue depth')) === 0, { desc: 'an idle mesh in the strip' });
  await ui.markDocument();
  // w1 has 2 slots: 3 long sleeps fill both and queue one.
  const ids = [];
  for (let i = 0; i < 3; i++) ids.push(await mesh.submit('sleep', LONG));
  await eventually(async () => (await ui.healthNumber('Slots used')) === 2, { desc: 'Slots used to be 2' });
  await eventually(async () => (await ui.healthNumber('Queue depth')) === 1, { desc: 'Queue depth to be 1' });
  await ui.shot('health-busy');
  for (const id of ids) await mesh.apiOk('POST', `/api/jobs/${id}/cancel`);
  await eventually(async () => (await ui.healthNumber('Slots used')) === 0 &&
                   (await ui.healthNumber('Queue depth')) === 0, { desc: 'the strip to go back to idle' });
  assert.ok(await ui.stillSameDocument(), 'the page was reloaded');
  await ui.shot('health-idle');
});

web.test('the jobs list searches, and pages through more jobs than fit on one page', async (ui) => {
  const { page, mesh } = ui;
  const needle = await mesh.submit('echo', { needle: 'zebra-42' });
  const ids = [];
  for (let i = 0; i < 55; i++) ids.push(await mesh.submit('echo', { batch: i }));
  await mesh.waitJob(ids[ids.length - 1], 'succeeded');
  await mesh.waitJob(needle, 'succeeded');

  await ui.login();
  await page.getByRole('link', { name: 'Jobs', exact: true }).click();
  const table = page.getByRole('table', { name: 'Jobs', exact: true });
  const jobRows = table.getByRole('row').filter({ has: page.getByRole('link', { name: /^[0-9a-f]{16}$/ }) });
  const shownIds = async () => (await jobRows.allInnerTexts()).map((t) => /[0-9a-f]{16}/.exec(t)[0]);

  await page.getByLabel('Search', { exact: true }).fill('zebra-42');
  await page.getByLabel('Search', { exact: true }).press('Enter');
  await eventually(async () => { const s = await shownIds(); return s.length === 1 && s[0] === needle; },
                   { desc: 'the search to find just the one job' });
  await ui.shot('jobs-search');
  await page.getByLabel('Search', { exact: true }).fill('');
  await page.getByLabel('Search', { exact: true }).press('Enter');

  // Newest first: the last 50 of the batch fill page 1; the rest follow on page 2.
  await eventually(async () => (await shownIds()).includes(ids[54]) && (await jobRows.count()) >= 50,
                   { desc: 'a full first page' });
  const first = await shownIds();
  assert.ok(!first.includes(ids[0]), 'the oldest of the batch is on page 1');
  await page.getByRole('button', { name: 'Next page', exact: true }).click();
  await eventually(async () => (await shownIds()).includes(ids[0]), { desc: 'page 2 to show the oldest of the batch' });
  const second = await shownIds();
  assert.deepEqual(second.filter((id) => first.includes(id)), [], 'pages 1 and 2 overlap');
  await ui.shot('jobs-page-2');
  await page.getByRole('button', { name: 'Previous page', exact: true }).click();
  await eventually(async () => (await shownIds()).includes(ids[54]), { desc: 'page 1 again' });
});
