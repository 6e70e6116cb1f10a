// One group: summary, per-topic and per-partition tables (from the group's JSON), charts of
// the recent history and the incident timeline (from its /history JSON), kept live.
import {
  el, getJSON, reasonList, statusBadge, numCell, live,
  fmtCount, fmtRate, fmtDuration, fmtEta, ratioCell, fmtTime, fmtAgo, fmtSpark,
} from './common.js';
import { lineChart, DURATION_STEPS } from './chart.js';

const $ = (id) => document.getElementById(id);
const parts = location.pathname.split('/');
const cluster = decodeURIComponent(parts[2] || '');
const group = decodeURIComponent(parts[3] || '');
const api = `/api/v1/clusters/${encodeURIComponent(cluster)}/groups/${encodeURIComponent(group)}`;

const compact = new Intl.NumberFormat('en-US', { notation: 'compact', maximumFractionDigits: 1 });

document.title = `lagwatch — ${group} (${cluster})`;
$('title').replaceChildren(el('span', { class: 'sub' }, `${cluster} / `), group);
$('json-link').setAttribute('href', api);

async function refresh() {
  let g;
  let h;
  try {
    [g, h] = await Promise.all([getJSON(api), getJSON(`${api}/history`)]);
  } catch (e) {
    $('error').hidden = false;
    $('error').textContent = e.message;
    return;
  }
  $('error').hidden = true;
  const headroom = Object.fromEntries(h.thresholds.map((t) => [t.topic, t.headroom]));
  renderSummary(g);
  renderTopics(g.group, headroom);
  renderCharts(h);
  renderTimeline(h);
  renderPartitions(g.group);
}

function renderSummary(doc) {
  const g = doc.group;
  const item = (term, ...value) => [el('dt', {}, term), el('dd', {}, ...value)];
  $('summary').replaceChildren(
    ...item('Status', statusBadge(g.status)),
    ...item('Why', reasonList(g.reasons)),
    ...item('Lag', g.lag === null
      ? el('span', { 'data-col': 'lag', 'data-value': '' }, 'unknown (no position read yet)')
      : el('span', { 'data-col': 'lag', 'data-value': String(g.lag) }, `${fmtCount(g.lag)} messages`)),
    ...(g.error ? item('Unreadable', g.error) : []),
    ...(g.spark ? sparkItems(g, item) : []),
    ...item('Time lag', fmtDuration(g.max_lag_seconds)),
    ...item('State', g.state),
    ...item('Members', g.members === null ? '—' : String(g.members)),
    ...item('Cluster', doc.up ? cluster : `${cluster} (down: showing its last poll)`),
  );
  $('summary').setAttribute('data-status', g.status);
}

// A Spark query's micro-batches; each value carries its API field and number for tests.
function sparkItems(g, item) {
  const s = g.spark;
  const t = fmtSpark(s, g.reasons);
  const val = (col, text) => el('span', {
    'data-col': col, 'data-value': s[col] === null ? '' : String(s[col]),
  }, text);
  return [
    ...item('Batch duration', val('batch_duration_seconds', t.duration)),
    ...item('Records per batch', val('records_per_batch', t.records)),
    ...item('Batch in flight', val('inflight_batch_age_seconds', t.inflight)),
    ...(t.cap === null ? [] : item('Trigger cap', val('trigger_cap', t.cap))),
  ];
}

function renderTopics(g, headroom) {
  $('topics').tBodies[0].replaceChildren(...g.topics.map((t) => el('tr', {
    'data-topic': t.topic, 'data-status': t.status, 'data-reasons': t.reasons.join(','),
  },
  el('th', { scope: 'row' }, t.topic),
  el('td', {}, statusBadge(t.status)),
  el('td', {}, reasonList(t.reasons)),
  numCell('lag', t.lag, fmtCount(t.lag)),
  numCell('max_lag_seconds', t.max_lag_seconds, fmtDuration(t.max_lag_seconds)),
  numCell('produce_rate', t.produce_rate, fmtRate(t.produce_rate)),
  numCell('consume_rate', t.consume_rate, fmtRate(t.consume_rate)),
  ratioCell(t.throughput_ratio, t.reasons, headroom[t.topic] ?? 1.2),
  numCell('drain_eta_seconds', t.drain_eta_seconds, fmtEta(t.drain_eta_seconds)))));
}

function renderPartitions(g) {
  const tables = g.topics.map((t) => {
    const spark = t.partitions.some((p) => p.inflight_lag !== null);
    const head = ['Partition', 'Committed', 'Log start', 'Log end', 'Lag', 'Time lag', 'Lost']
      .concat(spark ? ['In-flight lag'] : []);
    const rows = t.partitions.map((p) => el('tr', { 'data-partition': String(p.partition) },
      el('th', { scope: 'row', class: 'num' }, String(p.partition)),
      numCell('committed', p.committed, fmtCount(p.committed)),
      numCell('log_start', p.log_start, fmtCount(p.log_start)),
      numCell('log_end', p.log_end, fmtCount(p.log_end)),
      numCell('lag', p.lag, fmtCount(p.lag)),
      numCell('lag_seconds', p.lag_seconds, fmtDuration(p.lag_seconds)
        + (p.lag_seconds_method ? ` (${p.lag_seconds_method.replace('_', ' ')})` : '')),
      numCell('messages_lost', p.messages_lost, fmtCount(p.messages_lost)),
      spark ? numCell('inflight_lag', p.inflight_lag, fmtCount(p.inflight_lag)) : null));
    return el('div', { class: 'scroll', tabindex: 0, role: 'region', 'aria-label': `Partitions of ${t.topic}` },
      el('table', { class: 'partitions', 'data-topic': t.topic },
        el('caption', {}, `Topic ${t.topic}`),
        el('thead', {}, el('tr', {}, head.map((x) => el('th', { scope: 'col', class: x === 'Partition' ? '' : 'num' }, x)))),
        el('tbody', {}, rows)));
  });
  $('partitions').replaceChildren(...(tables.length ? tables : [el('p', { class: 'note' }, 'No committed partition.')]));
}

function renderCharts(h) {
  const s = h.series;
  const w = h.window;
  const n = s.t.length;
  const span = n > 1 ? s.t[n - 1] - s.t[0] : 0;
  $('window').textContent = `Group totals over the last ${n} poll${n === 1 ? '' : 's'} (${fmtDuration(span)}), `
    + `kept in lagwatch's memory: at most ${w.points} polls, about ${fmtDuration(w.seconds)} at one poll every `
    + `${fmtDuration(w.poll_interval_seconds)}; a restart starts afresh. Rates and ETA are summed or worst over topics.`;
  const one = h.thresholds.length === 1 ? h.thresholds[0] : null;
  const lines = one ? [
    { value: one.lag_warning, label: 'warning', cls: 'warn' },
    { value: one.lag_critical, label: 'critical', cls: 'crit' },
  ] : [];
  const never = s.drain_eta_seconds.filter((v) => v === 'inf').length;
  $('charts').replaceChildren(
    lineChart({ id: 'chart-lag', title: 'Lag (messages)', t: s.t, lines,
      series: [{ name: 'lag', values: s.lag, cls: 's-lag' }], format: (v) => compact.format(v) }),
    lineChart({ id: 'chart-rates', title: 'Produce and consume rates (msg/s)', t: s.t,
      series: [
        { name: 'produce', values: s.produce_rate, cls: 's-produce' },
        { name: 'consume', values: s.consume_rate, cls: 's-consume' },
      ], format: (v) => compact.format(v) }),
    lineChart({ id: 'chart-eta', title: 'Drain ETA', t: s.t,
      series: [{ name: 'ETA', values: s.drain_eta_seconds, cls: 's-eta' }], format: fmtDuration, steps: DURATION_STEPS,
      note: never ? `${never} of ${n} polls: never drains at those rates (not drawn).` : '' }),
    lineChart({ id: 'chart-timelag', title: 'Time lag', t: s.t,
      series: [{ name: 'time lag', values: s.max_lag_seconds, cls: 's-timelag' }], format: fmtDuration,
      steps: DURATION_STEPS }),
  );
}

const CHANGES = {
  opened: 'opened', escalated: 'escalated', deescalated: 'de-escalated', reminder: 'reminded',
  resolved: 'resolved', gone: 'gone (group or topic no longer reported)',
  below_min_severity: 'below the notifier\'s minimum severity',
};

function renderTimeline(h) {
  const body = $('timeline').tBodies[0];
  if (h.incidents === null) {
    $('timeline-note').textContent = 'No notifier is configured, so lagwatch tracks no incidents.';
    body.replaceChildren();
    return;
  }
  const rows = h.incidents.flatMap((line) => line.entries.map((e) => ({ topic: line.topic, e })));
  rows.sort((a, b) => b.e.at - a.e.at);
  const dropped = h.incidents.reduce((n, l) => n + l.dropped, 0);
  $('timeline-note').textContent = (rows.length
    ? 'Newest first. Kept in memory since lagwatch started; older entries of long incidents are dropped.'
    : 'No incident of this group since lagwatch started.')
    + (dropped ? ` ${dropped} older entries dropped.` : '');
  body.replaceChildren(...rows.map(({ topic, e }) => el('tr', { 'data-change': e.change, 'data-topic': topic },
    el('td', { title: new Date(e.at * 1000).toISOString() }, `${fmtTime(e.at)} (${fmtAgo(e.at)})`),
    el('td', {}, topic || '(whole group)'),
    el('td', {}, CHANGES[e.change] || e.change, e.repeats ? ` (${e.repeats + 1} times)` : ''),
    el('td', {}, e.previous ? [statusBadge(e.previous), ' → '] : null, statusBadge(e.status)),
    el('td', {}, el('ul', { class: 'deliveries' }, e.deliveries.map((d) => el('li', {
      'data-notifier': d.notifier, 'data-outcome': d.outcome,
    }, `${d.notifier}: ${d.outcome}`, d.at ? ` at ${fmtTime(d.at)}` : '', d.error ? ` — ${d.error}` : '')))))));
}

live(refresh);
refresh();
