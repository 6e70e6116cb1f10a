// Shared by the browser tests: the scenario's addresses (from tests/web_page.rs), Chromium
// with the flags a closed network needs, and helpers that read the page and the API.
import { chromium } from 'playwright-core';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

function need(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run these through \`cargo test --test web_page\``);
  return v;
}

export const BASE = need('LAGWATCH_URL');
export const USER = need('LAGWATCH_USER');
export const PASS = need('LAGWATCH_PASS');
export const CLUSTER = need('LAGWATCH_CLUSTER');
export const POLL_MS = Number(need('LAGWATCH_POLL_SECONDS')) * 1000;
export const SEED = need('LAGWATCH_SEED_GROUP');
export const CATCHUP = need('LAGWATCH_CATCHUP_GROUP');
export const CATCHUP_SIGNAL = need('LAGWATCH_CATCHUP_SIGNAL');
export const HOSTILE = need('LAGWATCH_HOSTILE_GROUP');
export const SPARK = need('LAGWATCH_SPARK_GROUP');

// Without these, Chromium on a closed network waits on updates, sync and QUIC probes.
const FLAGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

/** Chromium (Debian's), with a fresh profile per launch (playwright's temporary one). */
export function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: FLAGS,
  });
}

/**
 * A new page (logged in unless `auth: false`), collecting anything that went wrong in it:
 * script errors, console errors, dialogs (an injected `alert`) and CSP violations.
 */
export async function newPage(browser, { auth = true } = {}) {
  const context = await browser.newContext(
    auth ? { httpCredentials: { username: USER, password: PASS } } : {},
  );
  await context.addInitScript(() => {
    window.__csp = [];
    document.addEventListener('securitypolicyviolation', (e) => {
      window.__csp.push(`${e.violatedDirective} ${e.blockedURI}`);
    });
  });
  if (process.env.LAGWATCH_ASSETS_DIR) await serveAssetsFrom(context, process.env.LAGWATCH_ASSETS_DIR);
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()}`); });
  page.on('dialog', (d) => { problems.push(`dialog: ${d.message()}`); d.dismiss().catch(() => {}); });
  return { context, page, problems };
}

export function groupPath(group, cluster = CLUSTER) {
  return `/groups/${encodeURIComponent(cluster)}/${encodeURIComponent(group)}`;
}

export function groupApi(group, cluster = CLUSTER) {
  return `/api/v1/clusters/${encodeURIComponent(cluster)}/groups/${encodeURIComponent(group)}`;
}

/** GET a JSON document from lagwatch with the test's credentials. */
export async function api(path) {
  const auth = Buffer.from(`${USER}:${PASS}`).toString('base64');
  const r = await fetch(BASE + path, { headers: { authorization: `Basic ${auth}` } });
  if (!r.ok) throw new Error(`${path}: HTTP ${r.status}`);
  return r.json();
}

/** Polls `fn` until it returns a truthy value; throws with `what` after `ms`. */
export async function until(what, fn, ms = 15000, every = 100) {
  const deadline = Date.now() + ms;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${ms} ms waiting for ${what}${last ? `: ${last.message}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, every));
  }
}

/**
 * The page's own formatting of API values, run in the page (same engine, same module as
 * the page uses): `calls` is a list of [function name, ...args].
 */
export function formatInPage(page, calls) {
  return page.evaluate(async (cs) => {
    const m = await import('/assets/common.js');
    return cs.map(([f, ...args]) => m[f](...args));
  }, calls);
}

/** The raw JSON value as the page writes it into data-value. */
export function raw(v) {
  return v === null || v === undefined ? '' : String(v);
}

/**
 * For work on the page without rebuilding lagwatch: LAGWATCH_ASSETS_DIR=../../src/page/assets
 * serves the HTML and assets from disk (with lagwatch's real headers); the JSON still comes
 * from lagwatch. Never set by tests/web_page.rs.
 */
async function serveAssetsFrom(context, dir) {
  const types = { js: 'text/javascript', css: 'text/css', svg: 'image/svg+xml', html: 'text/html' };
  await context.route(`${BASE}/**`, async (route) => {
    const path = new URL(route.request().url()).pathname;
    const file = path === '/' ? 'index.html'
      : path.startsWith('/groups/') ? 'group.html'
        : path.startsWith('/assets/') ? path.slice('/assets/'.length) : null;
    if (!file) return route.continue();
    const real = await route.fetch();
    if (real.status() !== 200) return route.fulfill({ response: real });
    return route.fulfill({
      response: real,
      headers: { ...real.headers(), 'content-type': `${types[file.split('.').pop()]}; charset=utf-8` },
      body: readFileSync(join(dir, file)),
    });
  });
}
