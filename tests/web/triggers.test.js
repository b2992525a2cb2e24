// tests/web/triggers.test.js — a role's triggers in the web UI: the editor
// makes a file watch and a schedule, the server keeps them as typed, the
// Triggers table shows them live; writing two files starts ONE job (the
// debounce merged them) whose payload names both; a bad schedule shows the
// server's message and changes nothing; a watch on a missing path shows its
// error in the table (checked at phone width, where nothing may scroll
// sideways).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { useWeb, visible, expectText, eventually, shownText } from './harness.js';

const ROLE = 'trig';
const BAD = 'trigbad';
const web = useWeb('triggers', { workers: [{ name: 'w1', roles: `echo,sleep,${ROLE},${BAD}`, slots: 2 }] });

const COMMAND = 'printf \'payload=%s\\n\' "$POPEBOT_JOB_PAYLOAD"';

/** The fieldset of one trigger in the editor, found by its legend. */
function group(form, legend) {
  return form.getByRole('group', { name: legend, exact: true });
}

/** The role's jobs started by its file watch (the schedule may fire meanwhile: those are left out). */
async function watchJobs(mesh, role) {
  const r = await mesh.apiOk('GET', `/api/jobs?role=${role}&limit=1000`);
  const out = [];
  for (const j of r.jobs) {
    const full = await mesh.job(j.id);
    if (full.payload && full.payload.trigger && full.payload.trigger.type === 'watch') out.push(full);
  }
  return out;
}

web.test('a file watch and a schedule made in the editor; two writes start one job; a bad schedule is refused', async (ui) => {
  const { page, mesh } = ui;
  const inbox = path.join(mesh.tmp, 'inbox');
  fs.mkdirSync(inbox);
  await ui.login();
  await ui.goto('/roles', { heading: 'Roles' });
  await page.getByRole('button', { name: 'New role', exact: true }).click();
  const form = page.locator('form').filter({ has: page.getByLabel('Command', { exact: true }) });
  await visible(form);
  await form.getByLabel('Name', { exact: true }).fill(ROLE);
  await form.getByLabel('Command', { exact: true }).fill(COMMAND);
  await form.getByLabel('Shell', { exact: true }).check();
  await form.getByLabel('Max attempts', { exact: true }).fill('1');

  const triggers = form.getByRole('group', { name: 'Triggers', exact: true });
  await triggers.getByRole('button', { name: 'Add file watch', exact: true }).click();
  const watch = await visible(group(form, 'File watch 1'));
  await watch.getByLabel('Paths', { exact: true }).fill(inbox);
  await watch.getByLabel('Debounce (ms)', { exact: true }).fill('300');
  await watch.getByLabel('Payload', { exact: true }).fill('{"source": "inbox"}');
  await triggers.getByRole('button', { name: 'Add schedule', exact: true }).click();
  const cron = await visible(group(form, 'Schedule 2'));
  // A new schedule starts in the browser's own zone.
  const zone = await page.evaluate(() => Intl.DateTimeFormat().resolvedOptions().timeZone);
  assert.equal(await cron.getByLabel('Time zone', { exact: true }).inputValue(), zone);
  await cron.getByLabel('Schedule', { exact: true }).fill('*/5 * * * *');
  await cron.getByLabel('Time zone', { exact: true }).fill('Europe/Berlin');
  await cron.getByLabel('Missed runs', { exact: true }).selectOption({ label: 'Run once' });

  // Local checks: a payload that is no object, a relative path.
  await cron.getByLabel('Payload', { exact: true }).fill('[1, 2]');
  await form.getByRole('button', { name: 'Save', exact: true }).click();
  await expectText(form.getByRole('alert'), /Schedule 2, Payload: must be a JSON object/);
  await cron.getByLabel('Payload', { exact: true }).fill('');
  await watch.getByLabel('Paths', { exact: true }).fill('inbox');
  await form.getByRole('button', { name: 'Save', exact: true }).click();
  await expectText(form.getByRole('alert'), /File watch 1, Paths: "inbox" is not absolute/);
  assert.equal((await mesh.api('GET', `/api/roles/${ROLE}`)).status, 404, 'a form that failed its checks was sent');
  await watch.getByLabel('Paths', { exact: true }).fill(inbox);
  await ui.shot('editor-with-triggers');
  await form.getByRole('button', { name: 'Save', exact: true }).click();

  // The server has both exactly as typed (defaults filled in).
  const role = await eventually(async () => {
    const r = await mesh.api('GET', `/api/roles/${ROLE}`);
    return r.status === 200 ? r.body : null;
  }, { desc: 'the role to exist' });
  assert.deepEqual(role.triggers, [
    { type: 'watch', paths: [inbox], debounce_ms: 300, payload: { source: 'inbox' } },
    { type: 'cron', schedule: '*/5 * * * *', timezone: 'Europe/Berlin', missed: 'once', payload: {} },
  ]);

  // The details: the Triggers table says Watching and when the schedule runs next.
  await eventually(() => new URL(page.url()).pathname === `/roles/${ROLE}`, { desc: 'the role page' });
  const table = page.getByRole('table', { name: 'Triggers', exact: true });
  const watchRow = table.getByRole('row').filter({ hasText: 'File watch 1' });
  const cronRow = table.getByRole('row').filter({ hasText: 'Schedule 2' });
  await expectText(watchRow, /Watching/, { desc: 'the watch row to say Watching' });
  await expectText(cronRow, /\*\/5 \* \* \* \*[^]*Europe\/Berlin[^]*run once[^]*\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \(/,
                   { desc: 'the schedule row with its next run' });
  const roles = page.getByRole('table', { name: 'Roles', exact: true });
  await expectText(roles.getByRole('row').filter({ has: page.getByRole('link', { name: ROLE, exact: true }) }), /1 schedule, 1 watch/);
  await ui.shot('triggers-table');

  // Two files within the debounce: ONE job, whose payload names both.
  assert.equal((await watchJobs(mesh, ROLE)).length, 0);
  const a = path.join(inbox, 'a.txt');
  const b = path.join(inbox, 'b.txt');
  fs.writeFileSync(a, 'one\n');
  fs.writeFileSync(b, 'two\n');
  const jobs = await eventually(async () => {
    const js = await watchJobs(mesh, ROLE);
    return js.length ? js : null;
  }, { timeout: 10000, desc: 'a job of the watched role' });
  const job = await mesh.waitJob(jobs[0].id, 'succeeded');
  assert.equal(job.payload.source, 'inbox');
  assert.equal(job.payload.trigger.type, 'watch');
  assert.deepEqual([...job.payload.trigger.paths].sort(), [a, b]);
  // The debounce had merged them: no second job comes.
  await new Promise((res) => setTimeout(res, 1500));
  assert.equal((await watchJobs(mesh, ROLE)).length, 1, 'the two writes started more than one job');
  // The table shows the last run, linked to the job (it updated live).
  const link = watchRow.getByRole('link', { name: new RegExp(job.id) });
  await visible(link);
  await link.click();
  await visible(page.getByRole('heading', { level: 1, name: new RegExp(job.id) }));
  const log = page.getByRole('log', { name: 'Job log' });
  await expectText(log, (t) => t.includes(a) && t.includes(b), { desc: 'both paths in the job log' });
  await ui.shot('watch-job');

  // A schedule the server refuses: its message is shown, nothing changes.
  await ui.goto(`/roles/${ROLE}`, { heading: 'Roles' });
  const edit = page.locator('form').filter({ has: page.getByLabel('Command', { exact: true }) });
  await visible(group(edit, 'Schedule 2'));
  await group(edit, 'Schedule 2').getByLabel('Schedule', { exact: true }).fill('61 * * * *');
  ui.expectHttp(422, `/api/roles/${ROLE}`, 'PATCH');
  await edit.getByRole('button', { name: 'Save', exact: true }).click();
  const err = await expectText(edit.getByRole('alert'), /minute/i, { desc: 'the server\'s cron error' });
  assert.match(err, /61/);
  await ui.shot('cron-error');
  assert.deepEqual((await mesh.apiOk('GET', `/api/roles/${ROLE}`)).triggers, role.triggers, 'a refused save changed the role');
  // Fixed, and the watch removed.
  await group(edit, 'Schedule 2').getByLabel('Schedule', { exact: true }).fill('0 9 * * mon-fri');
  await group(edit, 'File watch 1').getByRole('button', { name: 'Remove', exact: true }).click();
  const renamed = await visible(group(edit, 'Schedule 1'));   // renumbered
  assert.equal(await renamed.getByLabel('Schedule', { exact: true }).inputValue(), '0 9 * * mon-fri');
  await edit.getByRole('button', { name: 'Save', exact: true }).click();
  const after = await eventually(async () => {
    const r = await mesh.apiOk('GET', `/api/roles/${ROLE}`);
    return r.triggers.length === 1 ? r : null;
  }, { desc: 'the role to have one trigger' });
  assert.deepEqual(after.triggers, [
    { type: 'cron', schedule: '0 9 * * mon-fri', timezone: 'Europe/Berlin', missed: 'once', payload: {} },
  ]);
  await expectText(page.getByRole('table', { name: 'Triggers', exact: true }), (t) => t.includes('0 9 * * mon-fri') && !t.includes('File watch'));
  await expectText(roles.getByRole('row').filter({ has: page.getByRole('link', { name: ROLE, exact: true }) }), /1 schedule(?!,)/);
});

web.test('a watch on a missing path shows its error in the Triggers table (phone width)', async (ui) => {
  const { page, mesh } = ui;
  // A missing file in an existing directory is simply waited for (its
  // directory is watched); a missing directory above it is an error.
  const missing = path.join(mesh.tmp, 'no-such-dir', 'inbox');
  await mesh.apiOk('POST', '/api/roles', { name: BAD, shell: true, command: COMMAND,
                                          triggers: [{ type: 'watch', paths: [missing] }] });
  await ui.login();
  await ui.goto(`/roles/${BAD}`, { heading: 'Roles' });
  const table = page.getByRole('table', { name: 'Triggers', exact: true });
  const row = table.getByRole('row').filter({ hasText: 'File watch 1' });
  const text = await expectText(row, /Error:[^]*no-such-dir[^]*No such file/, { desc: 'the watch error in the table' });
  assert.ok(!/Watching/.test(text));
  // The error is marked by more than colour: its word "Error:" is in the text (checked above).
  // A role without triggers says so in one line.
  await ui.goto('/roles/echo', { heading: 'Roles' });
  await visible(page.getByText(/No schedules or file watches/).first());
  assert.equal(await page.getByRole('table', { name: 'Triggers', exact: true }).count(), 0);
  // At phone width the page does not scroll sideways with the error shown.
  await ui.goto(`/roles/${BAD}`, { heading: 'Roles' });
  await expectText(row, /No such file/);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 1, `the role page scrolls sideways by ${overflow}px at 390px`);
  await row.scrollIntoViewIfNeeded();
  await ui.shot('watch-error-phone');
  // The file appears: the coordinator retries and the table turns to Watching live.
  fs.mkdirSync(missing, { recursive: true });
  await expectText(row, /Watching/, { timeout: 25000, desc: 'the watch to start once the directory exists' });
}, { context: { viewport: { width: 390, height: 844 } } });
