// tests/web/roles.test.js — the Roles page: the editor makes a real role, and
// "Run now" runs it on a real worker while the job page streams its log.
// The role is a shell line that prints ANSI-coloured lines until the test
// lets it finish (a file appears), so the log is seen streaming while the job
// is still running; the colour must arrive as a class or style, never as raw
// escape codes.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { useWeb, visible, expectText, eventually, shownText } from './harness.js';

const ROLE = 'colors';
const web = useWeb('roles', { workers: [{ name: 'w1', roles: `echo,sleep,${ROLE}`, slots: 2, labels: 'zone=a' }] });

/** The shell line: green ticks until STOP exists (at most ~60 s), then the payload and a last line. */
function command(stop) {
  return `i=0; while [ ! -e ${stop} ] && [ $i -lt 600 ]; do printf '\\033[32mtick %s\\033[0m\\n' $i; ` +
         `i=$((i+1)); sleep 0.1; done; printf 'payload=%s\\n' "$POPEBOT_JOB_PAYLOAD"; echo "greeting=$GREETING"; echo all-done`;
}

web.test('create a role in the editor; Run now streams its coloured log to the end', async (ui) => {
  const { page, mesh } = ui;
  const stop = path.join(mesh.tmp, 'stop-colors');
  await ui.login();
  await page.getByRole('link', { name: 'Roles', exact: true }).click();
  await visible(page.getByRole('heading', { level: 1, name: 'Roles', exact: true }));
  const table = page.getByRole('table', { name: 'Roles', exact: true });
  // Built-in roles are listed too.
  await visible(table.getByRole('row').filter({ hasText: 'echo' }));
  await visible(table.getByRole('row').filter({ hasText: 'sleep' }));
  await ui.shot('roles');

  await page.getByRole('button', { name: 'New role', exact: true }).click();
  const form = page.locator('form').filter({ has: page.getByLabel('Command', { exact: true }) });
  await visible(form);
  for (const label of ['Name', 'Command', 'Shell', 'Timeout', 'Max attempts', 'Backoff', 'Concurrency',
                       'Environment', 'Enabled', 'Labels', 'Permissions']) {
    assert.ok(await form.getByLabel(label, { exact: true }).count() > 0, `the editor has no field labelled ${label}`);
  }
  await form.getByLabel('Name', { exact: true }).fill(ROLE);
  await form.getByLabel('Command', { exact: true }).fill(command(stop));
  await form.getByLabel('Shell', { exact: true }).check();
  await form.getByLabel('Environment', { exact: true }).fill('GREETING=hello from env');
  await form.getByLabel('Labels', { exact: true }).fill('zone=a');   // only w1 carries it
  await ui.shot('role-editor');
  await form.getByRole('button', { name: 'Save', exact: true }).click();

  // Saved: the server has it as typed, and the list shows it.
  const role = await eventually(async () => {
    const r = await mesh.api('GET', `/api/roles/${ROLE}`);
    return r.status === 200 ? r.body : null;
  }, { desc: 'the role to exist' });
  assert.equal(role.shell, true);
  assert.equal(typeof role.command === 'string' ? role.command : role.command[0], command(stop));
  assert.deepEqual(role.env, { GREETING: 'hello from env' });
  assert.deepEqual(role.where, { zone: 'a' });
  if (!(await table.isVisible())) await page.getByRole('link', { name: 'Roles', exact: true }).click();
  const row = await visible(table.getByRole('row').filter({ hasText: ROLE }));
  await ui.shot('roles-with-new-role');

  // Its trigger webhook URL and curl command, each with a copy button.
  let where = row;
  if ((await row.getByRole('button', { name: 'Run now', exact: true }).count()) === 0) {
    await row.getByRole('link', { name: ROLE, exact: true }).click();
    where = page.locator('main');
    await visible(where.getByRole('button', { name: 'Run now', exact: true }));
  }
  const shown = await shownText(page.locator('body'));
  assert.ok(shown.includes(`${mesh.url}${role.webhook_path}`), `the webhook URL ${role.webhook_path} is not shown`);
  assert.match(shown, /curl [^\n]*\/webhook/, 'no curl command shown');
  assert.ok(await page.getByRole('button', { name: /Copy/ }).count() >= 2, 'no copy buttons');

  await where.getByRole('button', { name: 'Run now', exact: true }).click();
  const dialog = await visible(page.getByRole('dialog'));
  await dialog.getByLabel('Payload', { exact: true }).fill('{"n": 7}');
  await ui.shot('run-now');
  await dialog.getByRole('button', { name: 'Run', exact: true }).click();

  // The job page of the new job.
  await eventually(() => /^\/jobs\/[0-9a-f]{16}$/.test(new URL(page.url()).pathname),
                   { desc: 'the UI to go to the job page' });
  const id = new URL(page.url()).pathname.split('/').pop();
  await visible(page.getByRole('heading', { level: 1, name: new RegExp(id) }));
  const log = page.getByRole('log', { name: 'Job log' });
  await expectText(log, /tick 0[^]*tick 1/, { desc: 'the first lines in the Job log' });
  // Still running: the lines arrived live, not at the end.
  assert.equal((await mesh.job(id)).state, 'running');
  await visible(page.getByText('running', { exact: true }));
  await ui.shot('job-streaming');
  // More lines keep coming without a reload.
  const n0 = ((await shownText(log)).match(/tick \d+/g) || []).length;
  await eventually(async () => ((await shownText(log)).match(/tick \d+/g) || []).length > n0 + 2,
                   { desc: 'more lines to stream in' });

  // The colour is markup, not escape codes.
  const colour = await log.evaluate((el) => {
    const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      if (!n.data.includes('tick 0')) continue;
      const span = n.parentElement;
      return { raw: el.textContent.includes('\u001b') || /\[32m|\[0m/.test(el.textContent),
               styled: span !== el && (span.className !== '' || span.style.color !== ''),
               colour: getComputedStyle(span).color, plain: getComputedStyle(el).color };
    }
    return null;
  });
  assert.ok(colour, 'tick 0 not found in the log');
  assert.equal(colour.raw, false, 'raw escape codes in the log');
  assert.ok(colour.styled, 'the coloured text has no class or style');
  assert.notEqual(colour.colour, colour.plain, 'the coloured text has the log\'s plain colour');

  fs.writeFileSync(stop, '');
  await expectText(log, /all-done/, { desc: 'the last line' });
  const text = await shownText(log);
  assert.match(text, /payload=\{\s*"n"\s*:\s*7\s*\}/);
  assert.match(text, /greeting=hello from env/);
  await visible(page.getByText('succeeded', { exact: true }));
  const job = await mesh.waitJob(id);
  assert.equal(job.state, 'succeeded');
  assert.deepEqual(job.payload, { n: 7 });
  await ui.shot('job-succeeded');
});
