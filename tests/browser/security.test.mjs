// Security in the browser: the CSP header, a hostile group name rendered as text, and basic
// auth on every page, asset and stream.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { BASE, SEED, HOSTILE, launch, newPage, groupPath, groupApi } from './lib.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

function checkCsp(csp) {
  assert.ok(csp, 'Content-Security-Policy header present');
  for (const d of ["default-src 'self'", "script-src 'self'", "style-src 'self'", "object-src 'none'", "frame-ancestors 'none'"]) {
    assert.ok(csp.includes(d), `${d} in ${csp}`);
  }
  assert.ok(!csp.includes('unsafe-inline') && !csp.includes('unsafe-eval'), csp);
}

test('the pages carry a strict CSP and break none of it', async () => {
  const { page, problems } = await newPage(browser);
  for (const path of ['/', groupPath(SEED)]) {
    const r = await page.goto(BASE + path);
    assert.equal(r.status(), 200, path);
    checkCsp(r.headers()['content-security-policy']);
    assert.equal(r.headers()['x-content-type-options'], 'nosniff');
    await page.waitForSelector(path === '/' ? '#groups tr.group' : '#topics tbody tr');
    assert.deepEqual(await page.evaluate(() => window.__csp), [], `${path}: no CSP violation`);
  }
  assert.deepEqual(problems, []);
});

test('a hostile group name renders as text', async () => {
  const { page, problems } = await newPage(browser);
  await page.goto(`${BASE}/`);
  await page.waitForSelector('#groups tr.group');
  const row = await page.evaluate((name) => {
    const tr = [...document.querySelectorAll('#groups tr.group')].find((r) => r.dataset.group === name);
    return tr && { link: tr.querySelector('a').textContent, html: tr.querySelector('a').innerHTML };
  }, HOSTILE);
  assert.ok(row, 'the hostile group is listed');
  assert.equal(row.link, HOSTILE, 'shown as the literal name');
  assert.ok(row.html.includes('&lt;img'), 'escaped in the DOM');
  assert.equal(await page.locator('img').count(), 0, 'no <img> element was created');

  await page.click(`a[href="${groupPath(HOSTILE)}"]`);
  await page.waitForSelector('#topics tbody tr');
  assert.ok((await page.textContent('h1')).includes(HOSTILE));
  assert.equal(await page.locator('img').count(), 0);
  assert.ok((await page.title()).includes(HOSTILE), 'the title is text too');
  // Give a would-be onerror handler time to fire.
  await page.waitForTimeout(500);
  assert.deepEqual(problems, [], 'no dialog, no error');
});

test('basic auth protects every page, asset and stream', async () => {
  const anon = await newPage(browser, { auth: false });
  // Chromium answers a Basic challenge it has no credentials for by failing the navigation.
  const nav = await anon.page.goto(`${BASE}/`).then((r) => r.status(), (e) => e.message);
  assert.ok(nav === 401 || /ERR_INVALID_AUTH_CREDENTIALS/.test(nav), `navigation without credentials: ${nav}`);
  assert.equal(await anon.page.locator('#groups').count(), 0, 'nothing of the page shown');
  const challenge = await anon.context.request.get(`${BASE}/`);
  assert.match(challenge.headers()['www-authenticate'] || '', /^Basic realm="lagwatch"/);
  const paths = ['/', groupPath(SEED), '/assets/overview.js', '/assets/style.css',
    '/api/v1/events', `${groupApi(SEED)}/history`, '/api/v1/status'];
  for (const path of paths) {
    const res = await anon.context.request.get(BASE + path);
    assert.equal(res.status(), 401, path);
  }
  const wrong = await browser.newContext({ httpCredentials: { username: 'viewer', password: 'wrong' } });
  for (const path of ['/', groupPath(SEED)]) {
    assert.equal((await wrong.request.get(BASE + path)).status(), 401, `wrong password: ${path}`);
  }
  const ok = await newPage(browser);
  assert.equal((await ok.page.goto(`${BASE}/`)).status(), 200, 'the right credentials get in');
});
