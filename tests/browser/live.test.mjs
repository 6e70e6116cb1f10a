// Live updates: a consumer catches up (the test itself tells the scenario to) and both open
// pages follow within two polls of the API, without a reload.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import {
  BASE, CATCHUP, CATCHUP_SIGNAL, POLL_MS, launch, newPage, api, until, groupPath, groupApi,
} from './lib.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

/** What the overview shows for one group: [lag, status]. */
function overviewRow(page, group) {
  return page.evaluate((g) => {
    const tr = [...document.querySelectorAll('#groups tr.group')].find((r) => r.dataset.group === g);
    return tr ? [Number(tr.querySelector('td[data-col=lag]').dataset.value), tr.dataset.status] : null;
  }, group);
}

function groupSummary(page) {
  return page.evaluate(() => [
    Number(document.querySelector('#summary [data-col=lag]')?.dataset.value),
    document.querySelector('#summary')?.dataset.status,
  ]);
}

test('a consumer catching up shows on the open pages within two polls, without a reload', async () => {
  const overview = await newPage(browser);
  const detail = await newPage(browser);
  const loads = { overview: 0, detail: 0 };
  overview.page.on('load', () => { loads.overview++; });
  detail.page.on('load', () => { loads.detail++; });
  await overview.page.goto(`${BASE}/`);
  await detail.page.goto(BASE + groupPath(CATCHUP));
  await overview.page.evaluate(() => { window.__sameDocument = true; });
  await detail.page.evaluate(() => { window.__sameDocument = true; });

  const before = await api(groupApi(CATCHUP));
  assert.ok(before.group.lag >= 1000, `stuck far behind first: ${before.group.lag}`);
  assert.equal(before.group.status, 'critical');
  await until('the pages show it lagging', async () => {
    const [o, d] = [await overviewRow(overview.page, CATCHUP), await groupSummary(detail.page)];
    return o && o[0] >= 1000 && d[0] >= 1000;
  });

  writeFileSync(CATCHUP_SIGNAL, 'catch up\n');
  // The budget starts when the API shows the change, which is when lagwatch published it.
  const caughtUp = (lag) => lag < 100;
  await until('the API shows the catch-up', async () => caughtUp((await api(groupApi(CATCHUP))).group.lag), 20000, 25);
  let t0 = Date.now();
  await until('the overview shows the catch-up', async () => caughtUp((await overviewRow(overview.page, CATCHUP))[0]), 2 * POLL_MS, 25);
  await until('the group page shows the catch-up', async () => caughtUp((await groupSummary(detail.page))[0]), 2 * POLL_MS - (Date.now() - t0), 25);

  // The status turns ok after the rules' for_polls; the page follows the same way.
  await until('the API says ok', async () => (await api(groupApi(CATCHUP))).group.status === 'ok', 20000, 25);
  t0 = Date.now();
  await until('the overview says ok', async () => (await overviewRow(overview.page, CATCHUP))[1] === 'ok', 2 * POLL_MS, 25);
  await until('the group page says ok', async () => (await groupSummary(detail.page))[1] === 'ok', 2 * POLL_MS - (Date.now() - t0), 25);

  assert.deepEqual(loads, { overview: 1, detail: 1 }, 'no reload');
  for (const p of [overview.page, detail.page]) {
    assert.equal(await p.evaluate(() => window.__sameDocument), true, 'the same document');
    assert.equal(await p.textContent('#live'), 'live', 'the event stream is connected');
  }
  assert.deepEqual([...overview.problems, ...detail.problems], []);
});
