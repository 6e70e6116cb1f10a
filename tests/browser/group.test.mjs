// The group page: charts drawn from /history, tables equal to the group's JSON, and the
// incident timeline with each notifier's outcome.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { BASE, SEED, SPARK, launch, newPage, api, until, formatInPage, groupPath, groupApi, raw } from './lib.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

function readGroup(page) {
  return page.evaluate(() => {
    const cells = (tr) => Object.fromEntries([...tr.querySelectorAll('td[data-col]')]
      .map((td) => [td.dataset.col, { value: td.dataset.value, text: td.textContent }]));
    return {
      title: document.querySelector('h1').textContent,
      lag: document.querySelector('#summary [data-col=lag]')?.dataset.value,
      status: document.querySelector('#summary').dataset.status,
      topics: [...document.querySelectorAll('#topics tbody tr')].map((tr) => ({
        topic: tr.dataset.topic, status: tr.dataset.status, reasons: tr.dataset.reasons, cells: cells(tr),
      })),
      partitions: [...document.querySelectorAll('table.partitions')].map((t) => ({
        topic: t.dataset.topic,
        rows: [...t.tBodies[0].rows].map((tr) => ({ partition: tr.dataset.partition, cells: cells(tr) })),
      })),
    };
  });
}

test('the charts draw the history lagwatch keeps', async () => {
  const { page, problems } = await newPage(browser);
  await page.goto(BASE + groupPath(SEED));
  const charts = ['chart-lag', 'chart-rates', 'chart-eta', 'chart-timelag'];
  await until('every chart has at least two points per line', () => page.evaluate((ids) => ids.every((id) => {
    const lines = [...document.querySelectorAll(`#${id} path.line`)];
    return lines.length > 0 && lines.every((p) => Number(p.dataset.points) >= 2 && p.getAttribute('d').includes('L'));
  }), charts), 20000);
  const h = await api(`${groupApi(SEED)}/history`);
  const drawn = await page.$eval('#chart-lag path.line', (p) => Number(p.dataset.points));
  assert.ok(Math.abs(drawn - h.series.lag.filter((v) => v !== null).length) <= 2, 'one point per poll in memory');
  assert.equal(await page.locator('#charts svg[role=img]').count(), 4);
  const note = await page.textContent('#window');
  assert.match(note, new RegExp(`at most ${h.window.points} polls`), 'the page says the window');
  assert.deepEqual(problems, []);
});

test("the group page's tables equal the group's JSON", async () => {
  const { page, problems } = await newPage(browser);
  await page.goto(BASE + groupPath(SEED));
  await page.waitForSelector('table.partitions tbody tr');
  // The seed's lag moves every poll, so equal lags mean the page and the API show one poll.
  const { dom, doc } = await until('the page and the API on the same poll', async () => {
    const d = await api(groupApi(SEED));
    const g = await readGroup(page);
    return g.lag === String(d.group.lag) ? { dom: g, doc: d } : null;
  }, 20000, 200);
  const g = doc.group;
  assert.equal(dom.status, g.status);
  assert.ok(dom.title.includes(g.group));
  assert.equal(dom.topics.length, g.topics.length);
  for (const t of g.topics) {
    const row = dom.topics.find((r) => r.topic === t.topic);
    assert.ok(row, t.topic);
    assert.equal(row.status, t.status);
    assert.equal(row.reasons, t.reasons.join(','));
    for (const col of ['lag', 'max_lag_seconds', 'produce_rate', 'consume_rate', 'throughput_ratio', 'drain_eta_seconds']) {
      assert.equal(row.cells[col].value, raw(t[col]), `${t.topic} ${col}`);
    }
    const [lag, eta] = await formatInPage(page, [['fmtCount', t.lag], ['fmtEta', t.drain_eta_seconds]]);
    assert.equal(row.cells.lag.text, lag);
    assert.equal(row.cells.drain_eta_seconds.text, eta);
    const table = dom.partitions.find((p) => p.topic === t.topic);
    assert.equal(table.rows.length, t.partitions.length, `${t.topic} partitions`);
    for (const p of t.partitions) {
      const r = table.rows.find((x) => x.partition === String(p.partition));
      for (const col of ['committed', 'log_start', 'log_end', 'lag', 'lag_seconds', 'messages_lost']) {
        assert.equal(r.cells[col].value, raw(p[col]), `${t.topic}/${p.partition} ${col}`);
      }
      assert.equal(r.cells.lag.text.replaceAll(',', ''), String(p.lag));
    }
  }
  assert.deepEqual(problems, []);
});

test('the incident timeline shows the opening and what each notifier did', async () => {
  const { page, problems } = await newPage(browser);
  await page.goto(BASE + groupPath(SEED));
  const h = await until('an incident with a sent message', async () => {
    const x = await api(`${groupApi(SEED)}/history`);
    const sent = x.incidents?.some((l) => l.entries.some((e) => e.change === 'opened'
      && e.deliveries.some((d) => d.notifier === 'console' && d.outcome === 'sent')));
    return sent ? x : null;
  }, 20000);
  const opened = h.incidents.flatMap((l) => l.entries).find((e) => e.change === 'opened');
  assert.equal(opened.status, 'critical');
  await until('the page shows it', () => page.evaluate(() => {
    const row = document.querySelector('#timeline tr[data-change=opened]');
    return row?.querySelector('li[data-notifier=console]')?.dataset.outcome === 'sent';
  }), 5000);
  const text = await page.textContent('#timeline tr[data-change=opened]');
  assert.match(text, /opened/);
  assert.match(text, /console: sent/);
  assert.deepEqual(problems, []);
});

test("a Spark query's page shows its batches, the inferred cap and the slow batch", async () => {
  const { page, problems } = await newPage(browser);
  await page.goto(BASE + groupPath(SPARK));
  await page.waitForSelector('#summary [data-col=trigger_cap]');
  const read = () => page.evaluate(() => Object.fromEntries([...document.querySelectorAll('#summary [data-col]')]
    .map((e) => [e.dataset.col, { value: e.dataset.value, text: e.textContent }])));
  // The in-flight age moves every poll, so an equal age means the page and the API show one poll.
  const { dom, doc } = await until('the page and the API on the same poll', async () => {
    const d = await api(groupApi(SPARK));
    const r = await read();
    return r.inflight_batch_age_seconds?.value === String(d.group.spark.inflight_batch_age_seconds)
      ? { dom: r, doc: d } : null;
  }, 20000, 200);
  const g = doc.group;
  assert.deepEqual([...g.reasons].filter((r) => r.startsWith('spark_')).sort(),
    ['spark_batch_slow', 'spark_trigger_capped'], 'the scenario is capped and slow');
  for (const col of ['batch_duration_seconds', 'records_per_batch', 'inflight_batch_age_seconds', 'trigger_cap']) {
    assert.equal(dom[col].value, raw(g.spark[col]), col);
  }
  const [want] = await formatInPage(page, [['fmtSpark', g.spark, g.reasons]]);
  assert.equal(dom.batch_duration_seconds.text, want.duration);
  assert.equal(dom.records_per_batch.text, want.records);
  assert.equal(dom.inflight_batch_age_seconds.text, want.inflight);
  assert.equal(dom.trigger_cap.text, want.cap);
  // The scenario's numbers, in words: 1,000 per 10 s batch, batch 5 in flight for 100 s and more.
  assert.equal(g.spark.trigger_cap, 1000);
  assert.match(dom.trigger_cap.text, /^\u22481,000 per batch \(maxOffsetsPerTrigger\): at ~10 s per batch the query reads at most ~100 msg\/s\. Raise maxOffsetsPerTrigger, or process the backlog in batch/);
  assert.match(dom.inflight_batch_age_seconds.text, /^running for \d+ min( \d+ s)?, \d+\.\d\u00d7 the median batch \(~10 s\)$/);
  assert.equal(dom.records_per_batch.text, '1,000');
  assert.deepEqual(problems, []);
});
