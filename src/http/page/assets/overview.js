// The overview: every cluster and group of /api/v1/status, most severe first, refreshed
// on every published poll. Numbers are the API's, formatted; the raw value is in data-value.
import {
  el, getJSON, groupHref, reasonList, statusBadge, numCell, live, STATUS_RANK,
  fmtCount, fmtRate, fmtDuration, fmtEta, ratioCell, fmtTime, fmtAgo,
} from './common.js';

let doc = null;
let headroom = 1.2;
// True with coordination.shard_clusters: this replica serves only the clusters it owns.
let ownedOnly = false;
let failed = null;

const $ = (id) => document.getElementById(id);

async function refresh() {
  try {
    doc = await getJSON('/api/v1/status');
    failed = null;
  } catch (e) {
    failed = e.message;
  }
  render();
}

function render() {
  renderClusters();
  renderGroups();
}

function renderClusters() {
  const owned = $('owned');
  owned.hidden = !ownedOnly;
  if (ownedOnly) {
    const names = doc ? doc.clusters.map((c) => c.cluster) : [];
    owned.textContent = 'Several replicas share the clusters (coordination.shard_clusters): '
      + (names.length ? `this replica owns ${names.join(', ')}` : 'this replica owns no cluster yet')
      + '; the other clusters are on the other replicas\' pages.';
  }
  const body = $('clusters').tBodies[0];
  const rows = [];
  if (failed) rows.push(el('tr', {}, el('td', { colspan: 6, class: 'error' }, `Cannot read /api/v1/status: ${failed}`)));
  for (const c of doc ? doc.clusters : []) {
    rows.push(el('tr', {
      'data-cluster': c.cluster,
      'data-up': String(c.up),
      'data-partial': String(c.partial),
      'data-taken-at': c.taken_at === null ? '' : String(c.taken_at),
    },
    el('th', { scope: 'row' }, c.cluster),
    el('td', {}, el('span', { class: `badge ${c.up ? 'ok' : 'critical'}` }, c.up ? 'up' : 'down')),
    el('td', {}, c.partial ? el('span', { class: 'badge warning' }, 'partial') : 'complete'),
    el('td', { title: c.taken_at ? new Date(c.taken_at * 1000).toISOString() : '' },
      c.taken_at ? `${fmtTime(c.taken_at)} (${fmtAgo(c.taken_at)})` : 'not yet polled'),
    el('td', { class: 'num' }, String(c.groups.length)),
    el('td', {}, c.error || '')));
  }
  body.replaceChildren(...rows);
}

/** Every group with its cluster, most severe first, then the largest lag, then by name. */
function allGroups() {
  const out = [];
  for (const c of doc ? doc.clusters : []) {
    for (const g of c.groups) out.push({ cluster: c.cluster, g });
  }
  out.sort((a, b) => (STATUS_RANK[b.g.status] - STATUS_RANK[a.g.status])
    || (b.g.lag - a.g.lag)
    || a.cluster.localeCompare(b.cluster) || a.g.group.localeCompare(b.g.group));
  return out;
}

function matches({ cluster, g }, q, status) {
  if (status === 'not-ok' ? g.status === 'ok' : status && g.status !== status) return false;
  if (!q) return true;
  const hay = [cluster, g.group, g.state, ...g.reasons, ...g.topics.map((t) => t.topic)];
  return hay.some((s) => s && s.toLowerCase().includes(q));
}

/** The rate, ratio and ETA cells of one group×topic. */
function topicCells(t) {
  return [
    numCell('produce_rate', t.produce_rate, fmtRate(t.produce_rate)),
    numCell('consume_rate', t.consume_rate, fmtRate(t.consume_rate)),
    ratioCell(t.throughput_ratio, t.reasons, headroom),
    numCell('drain_eta_seconds', t.drain_eta_seconds, fmtEta(t.drain_eta_seconds)),
  ];
}

function groupBody({ cluster, g }) {
  const one = g.topics.length === 1 ? g.topics[0] : null;
  const perTopic = one ? topicCells(one) : [el('td', { class: 'muted', colspan: 4 },
    g.topics.length ? 'per topic, below' : 'no committed topic')];
  const row = el('tr', {
    class: `group ${g.status}`,
    'data-cluster': cluster,
    'data-group': g.group,
    'data-status': g.status,
    'data-reasons': g.reasons.join(','),
    'data-topic': one ? one.topic : '',
  },
  el('td', {}, statusBadge(g.status)),
  el('th', { scope: 'row' }, el('a', { href: groupHref(cluster, g.group) }, g.group),
    one ? el('span', { class: 'sub' }, one.topic) : null),
  el('td', { class: 'col-cluster' }, cluster),
  el('td', { class: 'why' }, reasonList(g.reasons)),
  numCell('lag', g.lag, fmtCount(g.lag)),
  numCell('max_lag_seconds', g.max_lag_seconds, fmtDuration(g.max_lag_seconds)),
  ...perTopic,
  numCell('members', g.members, g.members === null ? '—' : String(g.members)),
  el('td', { 'data-col': 'state' }, g.state));
  const rows = [row];
  if (!one) {
    for (const t of g.topics) {
      rows.push(el('tr', { class: 'topic', 'data-topic': t.topic, 'data-status': t.status },
        el('td', {}, statusBadge(t.status)),
        el('th', { scope: 'row', class: 'indent' }, t.topic),
        el('td', { class: 'col-cluster' }, ''),
        el('td', { class: 'why' }, reasonList(t.reasons)),
        numCell('lag', t.lag, fmtCount(t.lag)),
        numCell('max_lag_seconds', t.max_lag_seconds, fmtDuration(t.max_lag_seconds)),
        ...topicCells(t),
        el('td', {}, ''), el('td', {}, '')));
    }
  }
  return el('tbody', { class: 'group-body' }, rows);
}

function renderGroups() {
  const table = $('groups');
  const q = $('q').value.trim().toLowerCase();
  const status = $('status').value;
  const all = allGroups();
  const shown = all.filter((x) => matches(x, q, status));
  // One cluster: its name on every row says nothing.
  table.classList.toggle('one-cluster', !doc || doc.clusters.length <= 1);
  for (const b of [...table.tBodies]) b.remove();
  table.append(...shown.map(groupBody));
  const counts = { critical: 0, warning: 0, ok: 0 };
  for (const { g } of all) counts[g.status]++;
  $('count').textContent = `showing ${shown.length} of ${all.length} groups · `
    + `${counts.critical} critical, ${counts.warning} warning, ${counts.ok} ok`;
  $('empty').hidden = shown.length > 0 || !doc;
}

$('filters').addEventListener('submit', (e) => e.preventDefault());
$('q').addEventListener('input', renderGroups);
$('status').addEventListener('change', renderGroups);
// Ages ("12 s ago") move on between polls.
setInterval(renderClusters, 5000);
live(refresh, (hello) => {
  headroom = hello.headroom;
  ownedOnly = hello.owned_only === true;
  renderClusters();
  $('rule').textContent = `Ratio: consume ÷ produce. The rule: a backlogged consumer must consume at least ${headroom} × the produce rate; below 1.0 × its lag grows without end.`;
  if (doc) renderGroups();
});
refresh();
