// Makes the README's screenshots of the web page: runs `lagwatch demo` (the seed incident on
// the in-process mock cluster, real time) and drives Debian's headless Chromium against it.
//
//   bash .ci/install-browser && node docs/screenshots.mjs
//
// LAGWATCH_BIN: the binary to run (default: `cargo build`, then $CARGO_TARGET_DIR or
// target, /debug/lagwatch). Writes docs/img/overview.png (during the incident) and
// docs/img/group.png (the seed group's page once the incident resolved). Takes ~1.5 min.
import { spawn, execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(join(root, 'tests/browser/package.json'));
const { chromium } = require('playwright-core');

function binary() {
  if (process.env.LAGWATCH_BIN) return process.env.LAGWATCH_BIN;
  execFileSync('cargo', ['build', '--bin', 'lagwatch'], { cwd: root, stdio: 'inherit' });
  return join(process.env.CARGO_TARGET_DIR || join(root, 'target'), 'debug/lagwatch');
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// The demo's stdout, line by line; `waitFor(re)` resolves with the first line matching.
const demo = spawn(binary(), ['demo', '--listen', '127.0.0.1:0', '--duration', '240s'], {
  cwd: root, stdio: ['ignore', 'pipe', 'inherit'],
});
const seen = [];
const waiters = [];
createInterface({ input: demo.stdout }).on('line', (line) => {
  process.stdout.write(`demo| ${line}\n`);
  seen.push(line);
  for (const w of [...waiters]) {
    const m = line.match(w.re);
    if (m) { waiters.splice(waiters.indexOf(w), 1); w.resolve(m); }
  }
});
demo.on('exit', (code) => {
  for (const w of waiters) w.reject(new Error(`demo exited (${code}) before ${w.re}`));
});
function waitFor(re) {
  for (const line of seen) { const m = line.match(re); if (m) return Promise.resolve(m); }
  return new Promise((res, reject) => waiters.push({ re, resolve: res, reject }));
}

const out = join(root, 'docs/img');
mkdirSync(out, { recursive: true });
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  // Without these, Chromium on a closed network waits on updates, sync and QUIC probes.
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
try {
  const [, base] = await waitFor(/lagwatch is watching it: (http:\/\/\S+?)\/ /);
  const group = `${base}/groups/demo/spark-streaming-group`;
  const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });

  await waitFor(/CRITICAL: spark-streaming-group/);
  // A few polls so the incident's numbers (rates, ETA) are all known.
  await sleep(8000);
  await page.goto(`${base}/`);
  await page.waitForSelector('#groups tr.group[data-status=critical]');
  await page.screenshot({ path: join(out, 'overview.png') });
  console.log('wrote docs/img/overview.png');

  await waitFor(/RESOLVED: spark-streaming-group/);
  await sleep(4000);
  await page.goto(group);
  await page.waitForSelector('#timeline tr[data-change=resolved]');
  await page.waitForSelector('#chart-lag path.line');
  await page.screenshot({ path: join(out, 'group.png'), fullPage: true });
  console.log('wrote docs/img/group.png');
} finally {
  await browser.close();
  demo.kill('SIGINT');
}
