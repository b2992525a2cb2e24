// tests/web/pages.test.js — every page, at desktop (1280x800) and phone
// (390x844) size, in the light and the dark colour scheme: each is loaded
// fresh, screenshotted, and must show no console error, no failed request and
// no request to another host (the harness blocks and records those). Also:
// no page scrolls sideways as a whole at phone width (tables scroll in their
// own box or reflow), and the dark scheme really is dark.
import assert from 'node:assert/strict';
import { useWeb, visible, expectText } from './harness.js';

let jobId;
const web = useWeb('pages', {
  workers: [{ name: 'w1', roles: 'echo,sleep,report', slots: 2 }],
  setup: async (mesh) => {
    await mesh.apiOk('POST', '/api/roles', {
      name: 'report', shell: true, max_attempts: 1,
      command: 'printf \'\\033[1;34mbuilding\\033[0m report\\n\'; printf \'\\033[31mwarning:\\033[0m none\\n\'; ' +
               'echo \'{"pages": 3, "ok": true}\' > "$POPEBOT_JOB_RESULT"',
    });
    jobId = await mesh.submit('report', { title: 'pages' });
    await mesh.waitJob(jobId, 'succeeded');
    await mesh.waitJob(await mesh.submit('echo', { n: 1 }), 'succeeded');
  },
});

/** Relative luminance (0 black .. 1 white) of a CSS rgb()/rgba() colour. */
function luminance(css) {
  const [r, g, b] = css.match(/[\d.]+/g).slice(0, 3).map(Number)
    .map((c) => { c /= 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

/** The colour actually behind the page: the first non-transparent of body, html. */
async function background(page) {
  return page.evaluate(() => {
    for (const el of [document.body, document.documentElement]) {
      const c = getComputedStyle(el).backgroundColor;
      if (!/rgba\(.*,\s*0\)$/.test(c) && c !== 'transparent') return c;
    }
    return 'rgb(255, 255, 255)';
  });
}

const SIZES = [['desktop', { width: 1280, height: 800 }], ['phone', { width: 390, height: 844 }]];
const SCHEMES = ['light', 'dark'];

for (const [size, viewport] of SIZES) {
  for (const scheme of SCHEMES) {
    web.test(`every page at ${size} size, ${scheme} scheme`, async (ui) => {
      const { page } = ui;
      const defects = [];              // every page is visited; what is wrong is told at the end
      const checkPage = async (name) => {
        const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
        if (overflow > 1) defects.push(`${name}: the whole page scrolls sideways by ${overflow}px at ${viewport.width}px`);
        const lum = luminance(await background(page));
        if (scheme === 'dark' && lum >= 0.2) defects.push(`${name}: light background (luminance ${lum.toFixed(2)}) in the dark scheme`);
        if (scheme === 'light' && lum <= 0.5) defects.push(`${name}: dark background (luminance ${lum.toFixed(2)}) in the light scheme`);
        await ui.shot(name);
      };

      await page.goto(ui.mesh.url + '/login');
      await visible(page.getByRole('button', { name: 'Log in', exact: true }));
      await checkPage('login');
      await ui.login();

      await ui.goto('/clusters', { heading: 'Clusters' });
      await visible(ui.workerRow('w1').getByText('online', { exact: true }));
      await checkPage('clusters');

      await ui.goto('/clusters/w1', { heading: 'w1' });
      await visible(page.getByRole('table', { name: 'Job history', exact: true }));
      await checkPage('cluster');

      await ui.goto('/roles', { heading: 'Roles' });
      await visible(page.getByRole('table', { name: 'Roles', exact: true }).getByRole('row').filter({ hasText: 'report' }));
      await checkPage('roles');

      await ui.goto('/roles/report', { heading: 'Roles' });
      await visible(page.getByRole('heading', { name: 'report', exact: true }));
      await visible(page.getByRole('button', { name: 'Run now', exact: true }));
      await checkPage('role');

      await ui.goto('/jobs', { heading: 'Jobs' });
      await visible(page.getByRole('table', { name: 'Jobs', exact: true }).getByRole('row').filter({ hasText: jobId }));
      await checkPage('jobs');

      await ui.goto(`/jobs/${jobId}`, { heading: new RegExp(jobId) });
      await expectText(page.getByRole('log', { name: 'Job log' }), /building report[^]*warning: none/);
      await visible(page.getByText('succeeded', { exact: true }));
      await visible(page.getByText(/"pages"/).first());
      await checkPage('job');
      assert.deepEqual(defects, [], `pages with defects:\n  ${defects.join('\n  ')}`);
    }, { context: { viewport, colorScheme: scheme } });
  }
}
