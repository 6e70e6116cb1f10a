// Shared by both pages. Data from Kafka (group, topic and cluster names, errors) only ever
// reaches the page as text nodes or attribute values: never as markup.

/** Creates an element; string children become text nodes, attributes are set verbatim. */
export function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined) continue;
    e.append(typeof c === 'string' ? document.createTextNode(c) : c);
  }
  return e;
}

/** GET a JSON document of lagwatch; rejects with the API's error text on a non-2xx. */
export async function getJSON(path) {
  const r = await fetch(path, { cache: 'no-store', credentials: 'same-origin' });
  const body = await r.json().catch(() => ({}));
  if (!r.ok) {
    const e = new Error(body.error || `${path}: HTTP ${r.status}`);
    e.status = r.status;
    throw e;
  }
  return body;
}

/** The page of one group; names are path segments, so they are encoded, never pasted. */
export function groupHref(cluster, group) {
  return `/groups/${encodeURIComponent(cluster)}/${encodeURIComponent(group)}`;
}

export const REASONS = {
  lag_critical: 'lag at or above the critical threshold',
  lag_warning: 'lag at or above the warning threshold',
  falling_behind: 'consumes slower than the producers: the lag grows without end',
  low_headroom: 'backlogged and consuming below the headroom rule',
  stalled: 'lag, and the committed offset has not moved for a whole rate window',
  stopped: 'lag, and no sign of a consumer for too long',
  rewind: 'a committed offset went backwards (reset or replay)',
  data_loss: 'retention deleted messages the group never read',
  backlog_replay: 'replaying a large backlog from near the log start',
  no_commit: 'some partitions have no committed offset',
  source_error: 'its source (a Spark checkpoint) cannot be read',
  retention_risk: 'retention will delete messages the group has not read',
  spark_trigger_capped: 'every Spark batch reads the same count (maxOffsetsPerTrigger) while a backlog waits',
  spark_batch_slow: 'the Spark batch in flight runs far longer than the usual batch',
};

export const STATUS_RANK = { critical: 2, warning: 1, ok: 0 };

/** A list of reasons in words, each with its identifier (as in metrics and alerts). */
export function reasonList(reasons) {
  if (!reasons || reasons.length === 0) return el('span', { class: 'muted' }, '—');
  return el('ul', { class: 'reasons' }, reasons.map((r) =>
    el('li', {}, REASONS[r] || r, ' ', el('code', {}, r))));
}

export function statusBadge(status) {
  return el('span', { class: `badge ${status}` }, status);
}

const int = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

/** Messages: exact, with thousands separators. */
export function fmtCount(n) {
  return n === null || n === undefined ? '—' : int.format(n);
}

/** A rate in messages/s with the digits that matter. */
export function fmtRate(x) {
  if (x === null || x === undefined) return '—';
  const a = Math.abs(x);
  const digits = a >= 100 ? 0 : a >= 10 ? 1 : 2;
  return `${x.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })} msg/s`;
}

/** Seconds as the two largest units: "42 s", "55 min 10 s", "2 h 5 min", "3 d 4 h". */
export function fmtDuration(s) {
  if (s === null || s === undefined) return '—';
  if (s === 'inf' || s === Infinity) return 'never';
  const t = Math.round(s);
  if (t < 60) return `${t} s`;
  const units = [[86400, 'd'], [3600, 'h'], [60, 'min'], [1, 's']];
  const i = units.findIndex(([u]) => t >= u);
  const [u1, n1] = units[i];
  const [u2, n2] = units[i + 1];
  const a = Math.floor(t / u1);
  const b = Math.floor((t - a * u1) / u2);
  return b ? `${a} ${n1} ${b} ${n2}` : `${a} ${n1}`;
}

/** A Spark query's batches in words, the same as `check` and the notifications say them:
 *  { duration, records, inflight, cap } (cap null when no cap is inferred). The in-flight
 *  batch is held against the median when it is slow; the cap says what it limits the
 *  query to and what to do when it caps a backlog. */
export function fmtSpark(s, reasons) {
  const rs = reasons || [];
  const d = s.batch_duration_seconds;
  const age = s.inflight_batch_age_seconds;
  const slow = rs.includes('spark_batch_slow') && age !== null && d;
  let cap = null;
  if (s.trigger_cap !== null) {
    cap = `≈${fmtCount(s.trigger_cap)} per batch (maxOffsetsPerTrigger)`;
    if (rs.includes('spark_trigger_capped')) {
      const ceiling = d ? `: at ~${fmtDuration(d)} per batch the query reads at most ~${fmtRate(s.trigger_cap / d)}` : '';
      cap += `${ceiling}. Raise maxOffsetsPerTrigger, or process the backlog in batch `
        + '(spark.read with startingOffsets=earliest, endingOffsets=latest) and restart the stream from latest.';
    }
  }
  return {
    duration: d === null ? 'unknown (fewer than two batches)' : `~${fmtDuration(d)} (median of the recent batches)`,
    records: s.records_per_batch === null ? 'unknown' : fmtCount(s.records_per_batch),
    inflight: age === null ? 'none (every batch committed)'
      : `running for ${fmtDuration(age)}${slow ? `, ${(age / d).toFixed(1)}× the median batch (~${fmtDuration(d)})` : ''}`,
    cap,
  };
}

/** A drain ETA: unknown, already drained, never at current rates, or a duration. */
export function fmtEta(v) {
  if (v === null || v === undefined) return '—';
  if (v === 'inf') return 'never at current rates';
  if (v === 0) return 'drained';
  return fmtDuration(v);
}

/** consume ÷ produce and what the rule says about it, as [ratio, verdict]. The reasons
 *  carry the verdict: only a backlogged consumer is judged, with its group's headroom. */
export function ratioParts(ratio, reasons, headroom) {
  if (ratio === null || ratio === undefined) return ['—', ''];
  const x = `${ratio.toFixed(ratio >= 10 ? 1 : 2)}×`;
  const rs = reasons || [];
  if (rs.includes('falling_behind')) return [x, 'below 1×: falling behind'];
  if (rs.includes('low_headroom')) return [x, `below the ${headroom}× rule`];
  if (ratio >= headroom) return [x, `meets the ${headroom}× rule`];
  return [x, 'not backlogged: rule not applied'];
}

export function fmtRatio(ratio, reasons, headroom) {
  return ratioParts(ratio, reasons, headroom).filter(Boolean).join(' ');
}

/** The ratio cell: the number, its verdict on a second line. */
export function ratioCell(ratio, reasons, headroom) {
  const [x, verdict] = ratioParts(ratio, reasons, headroom);
  return el('td', { class: 'num', 'data-col': 'throughput_ratio', 'data-value': ratio === null || ratio === undefined ? '' : String(ratio) },
    x, verdict ? ' ' : null, verdict ? el('span', { class: 'sub' }, verdict) : null);
}

/** Local wall-clock time of a Unix timestamp. */
export function fmtTime(t) {
  if (t === null || t === undefined) return '—';
  return new Date(t * 1000).toLocaleTimeString('en-GB', { hour12: false });
}

export function fmtAgo(t, now = Date.now() / 1000) {
  if (t === null || t === undefined) return 'never';
  return `${fmtDuration(Math.max(0, now - t))} ago`;
}

/** A numeric cell: formatted text, the API's raw value in data-value (for tests, and for
 *  anyone who copies it). */
export function numCell(col, raw, text) {
  return el('td', {
    class: 'num',
    'data-col': col,
    'data-value': raw === null || raw === undefined ? '' : String(raw),
  }, text);
}

/**
 * Calls `refresh` after every published poll (Server-Sent Events), coalescing bursts; when
 * no event came for two poll intervals (stream down, cluster down), it refreshes anyway.
 * Shows the connection state in `#live`.
 */
export function live(refresh, onHello) {
  const badge = document.getElementById('live');
  let pollMs = 15000;
  let timer = null;
  let last = Date.now();
  const kick = () => {
    last = Date.now();
    if (timer) return;
    timer = setTimeout(() => { timer = null; refresh(); }, 100);
  };
  const es = new EventSource('/api/v1/events');
  es.addEventListener('hello', (e) => {
    const h = JSON.parse(e.data);
    pollMs = h.window.poll_interval_seconds * 1000;
    if (onHello) onHello(h);
    badge.textContent = 'live';
    badge.className = 'live on';
  });
  es.addEventListener('poll', kick);
  es.addEventListener('error', () => {
    badge.textContent = 'reconnecting…';
    badge.className = 'live off';
  });
  setInterval(() => { if (Date.now() - last > 2 * pollMs) kick(); }, 1000);
  return es;
}
