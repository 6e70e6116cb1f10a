// axe-core on the rendered pages: no serious or critical accessibility violation.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { BASE, SEED, HOSTILE, launch, newPage, groupPath, until } from './lib.mjs';

const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

async function audit(page) {
  // Evaluated through the DevTools protocol, which the page's CSP does not govern.
  await page.evaluate(axeSource);
  const result = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
  return result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.impact} ${v.id}: ${v.help} — ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
}

for (const [name, path, ready] of [
  ['the overview', '/', '#groups tr.group'],
  ["the seed incident's group page", groupPath(SEED), '#chart-lag path.line'],
  ['a group page with a hostile name', groupPath(HOSTILE), '#topics tbody tr'],
]) {
  test(`axe finds no serious or critical violation on ${name}`, async () => {
    const { page } = await newPage(browser);
    await page.goto(BASE + path);
    await page.waitForSelector(ready);
    await until('the live stream connected', async () => (await page.textContent('#live')) === 'live');
    assert.deepEqual(await audit(page), []);
  });
}
