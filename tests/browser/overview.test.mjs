// The overview against /api/v1/status: every group, its status, reasons and numbers, the
// severity order and the filters.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  BASE, CLUSTER, SEED, CATCHUP, launch, newPage, api, until, formatInPage, groupPath, groupApi, raw,
} from './lib.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

/** Everything the overview shows, read in one go. */
function readOverview(page) {
  return page.evaluate(() => {
    const cells = (tr) => Object.fromEntries([...tr.querySelectorAll('td[data-col]')]
      .map((td) => [td.dataset.col, { value: td.dataset.value, text: td.textContent }]));
    return {
      clusters: [...document.querySelectorAll('#clusters tr[data-cluster]')].map((tr) => ({
        cluster: tr.dataset.cluster, up: tr.dataset.up, takenAt: tr.dataset.takenAt,
      })),
      groups: [...document.querySelectorAll('#groups tr.group')].map((tr) => ({
        cluster: tr.dataset.cluster,
        group: tr.dataset.group,
        status: tr.dataset.status,
        reasons: tr.dataset.reasons,
        topic: tr.dataset.topic,
        badge: tr.querySelector('.badge').textContent,
        link: tr.querySelector('a').textContent,
        href: tr.querySelector('a').getAttribute('href'),
        why: tr.children[3].textContent,
        cells: cells(tr),
      })),
    };
  });
}

test('the overview lists every group with the status, reasons and numbers of /api/v1/status', async () => {
  const { page, problems } = await newPage(browser);
  await page.goto(`${BASE}/`);
  await page.waitForSelector('#groups tr.group');
  // The page and the API are read one after the other and a poll may land in between:
  // compare the first pair that shows the same poll (the cluster's taken_at).
  const { dom, doc } = await until('the page and the API on the same poll', async () => {
    const d = await api('/api/v1/status');
    const o = await readOverview(page);
    const taken = d.clusters.find((c) => c.cluster === CLUSTER).taken_at;
    return o.clusters.find((c) => c.cluster === CLUSTER)?.takenAt === String(taken) ? { dom: o, doc: d } : null;
  }, 20000, 200);

  const apiGroups = doc.clusters.flatMap((c) => c.groups.map((g) => ({ cluster: c.cluster, g })));
  assert.equal(dom.groups.length, apiGroups.length, 'one row per group');
  assert.ok(apiGroups.length >= 4, 'the scenario has four groups');
  const [reasonWords] = await page.evaluate(async () => [(await import('/assets/common.js')).REASONS]);
  for (const { cluster, g } of apiGroups) {
    const row = dom.groups.find((r) => r.cluster === cluster && r.group === g.group);
    assert.ok(row, `row for ${g.group}`);
    assert.equal(row.link, g.group, 'the name as text');
    assert.equal(row.href, groupPath(g.group, cluster));
    assert.equal(row.status, g.status, g.group);
    assert.equal(row.badge, g.status, g.group);
    assert.equal(row.reasons, g.reasons.join(','), g.group);
    for (const r of g.reasons) assert.ok(row.why.includes(reasonWords[r]), `${g.group}: ${r} in words`);
    assert.equal(g.topics.length, 1, 'each scenario group reads one topic');
    const t = g.topics[0];
    const { thresholds } = await api(`${groupApi(g.group, cluster)}/history`);
    const headroom = thresholds[0].headroom;
    const want = {
      lag: [g.lag, ['fmtCount', g.lag]],
      max_lag_seconds: [g.max_lag_seconds, ['fmtDuration', g.max_lag_seconds]],
      produce_rate: [t.produce_rate, ['fmtRate', t.produce_rate]],
      consume_rate: [t.consume_rate, ['fmtRate', t.consume_rate]],
      throughput_ratio: [t.throughput_ratio, ['fmtRatio', t.throughput_ratio, t.reasons, headroom]],
      drain_eta_seconds: [t.drain_eta_seconds, ['fmtEta', t.drain_eta_seconds]],
      members: [g.members, null],
    };
    const texts = await formatInPage(page, Object.values(want).map(([, c]) => c).filter(Boolean));
    let i = 0;
    for (const [col, [value, call]] of Object.entries(want)) {
      assert.equal(row.cells[col]?.value, raw(value), `${g.group} ${col} value`);
      if (call) assert.equal(row.cells[col].text, texts[i++], `${g.group} ${col} text`);
    }
    assert.equal(row.cells.state.text, g.state, `${g.group} state`);
    // Lag is shown exactly: the text is the number with separators.
    assert.equal(row.cells.lag.text.replaceAll(',', ''), String(g.lag));
  }
  const rank = { critical: 2, warning: 1, ok: 0 };
  const ranks = dom.groups.map((r) => rank[r.status]);
  assert.deepEqual(ranks, [...ranks].sort((a, b) => b - a), 'most severe first');
  assert.equal(dom.groups.find((r) => r.group === SEED).status, 'critical', 'the seed incident is critical');
  assert.equal(dom.clusters[0].up, 'true');
  assert.deepEqual(problems, []);
});

test('the filters narrow the list by text and by status', async () => {
  const { page, problems } = await newPage(browser);
  await page.goto(`${BASE}/`);
  await page.waitForSelector('#groups tr.group');
  const shown = () => page.$$eval('#groups tr.group', (rows) => rows.map((r) => [r.dataset.group, r.dataset.status]));
  const total = (await shown()).length;

  await page.fill('#q', CATCHUP.slice(0, 5));
  await until('text filter applied', async () => {
    const rows = await shown();
    return rows.length >= 1 && rows.length < total && rows.every(([g]) => g.includes(CATCHUP.slice(0, 5)));
  });
  assert.match(await page.textContent('#count'), new RegExp(`of ${total} groups`));

  await page.fill('#q', '');
  await page.selectOption('#status', 'critical');
  await until('status filter applied', async () => {
    const rows = await shown();
    return rows.length >= 1 && rows.every(([, s]) => s === 'critical');
  });
  await page.selectOption('#status', 'ok');
  await until('ok filter applied', async () => {
    const rows = await shown();
    return rows.length >= 1 && rows.every(([, s]) => s === 'ok');
  });
  assert.deepEqual(problems, []);
});
