// Hand-made SVG line charts: a few hundred bytes of code instead of a vendored library,
// drawn as DOM nodes (so tests and screen readers can read them) and styled by CSS classes
// (the Content-Security-Policy allows no inline style).

const NS = 'http://www.w3.org/2000/svg';
const W = 640;
const H = 190;
const M = { left: 72, right: 14, top: 12, bottom: 26 };

function svg(tag, attrs, text) {
  const e = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

/** Steps that read well on a time axis (seconds): 1 s … 30 s, 1 min … 30 min, 1 h … 1 d. */
export const DURATION_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800,
  3600, 7200, 10800, 21600, 43200, 86400];

/** A "nice" step giving about `n` ticks up to `max`: the first of `steps` that is large
 *  enough, else 1, 2 or 5 × 10^k. */
export function niceStep(max, n = 4, steps = null) {
  if (!(max > 0)) return 1;
  const raw = max / n;
  const fit = steps && steps.find((s) => s >= raw);
  if (fit) return fit;
  const p = 10 ** Math.floor(Math.log10(raw));
  const m = raw / p;
  return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
}

/** Path data for one series: segments break at unknown values (null, "inf"). */
export function pathData(xs, ys, x, y) {
  let d = '';
  let pen = false;
  let points = 0;
  for (let i = 0; i < xs.length; i++) {
    const v = ys[i];
    if (typeof v !== 'number' || !Number.isFinite(v)) { pen = false; continue; }
    d += `${pen ? 'L' : 'M'}${x(xs[i]).toFixed(1)} ${y(v).toFixed(1)} `;
    pen = true;
    points++;
  }
  return { d: d.trim(), points };
}

/**
 * A line chart in a <figure>.
 * opts: { id, title, t: [unix s], series: [{ name, values, cls }], format: v => text,
 *         lines: [{ value, label, cls }] (thresholds, shown when near the data),
 *         steps: tick steps to prefer (DURATION_STEPS for times),
 *         note: extra caption text }
 */
export function lineChart(opts) {
  const { id, title, t, series, format } = opts;
  const finite = series.flatMap((s) => s.values.filter((v) => typeof v === 'number' && Number.isFinite(v)));
  const dataMax = Math.max(0, ...finite);
  // A threshold far above the data would flatten it to the axis: show only those near it.
  const lines = (opts.lines || []).filter((l) => l.value <= Math.max(dataMax, 1) * 2.5);
  const top = Math.max(dataMax, ...lines.map((l) => l.value)) * 1.08 || 1;
  const step = niceStep(top, 4, opts.steps);
  const yMax = Math.ceil(top / step) * step;
  const t0 = t.length ? t[0] : 0;
  const t1 = t.length > 1 ? t[t.length - 1] : t0 + 1;
  const x = (v) => M.left + ((v - t0) / (t1 - t0 || 1)) * (W - M.left - M.right);
  const y = (v) => H - M.bottom - (v / yMax) * (H - M.top - M.bottom);

  const titleId = `${id}-title`;
  const root = svg('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-labelledby': titleId, class: 'chart', id });
  root.append(svg('title', { id: titleId }, `${title}: ${summary(series, format)}`));
  for (let v = 0; v <= yMax + step / 2; v += step) {
    root.append(svg('line', { x1: M.left, x2: W - M.right, y1: y(v), y2: y(v), class: 'grid' }));
    root.append(svg('text', { x: M.left - 6, y: y(v) + 4, class: 'tick', 'text-anchor': 'end' }, format(v)));
  }
  if (t.length) {
    const mid = (t0 + t1) / 2;
    for (const [v, anchor] of [[t0, 'start'], [mid, 'middle'], [t1, 'end']]) {
      const label = new Date(v * 1000).toLocaleTimeString('en-GB', { hour12: false });
      root.append(svg('text', { x: x(v), y: H - 6, class: 'tick', 'text-anchor': anchor }, label));
    }
  }
  for (const l of lines) {
    root.append(svg('line', { x1: M.left, x2: W - M.right, y1: y(l.value), y2: y(l.value), class: `threshold ${l.cls}` }));
    root.append(svg('text', { x: W - M.right - 4, y: y(l.value) - 4, class: `tick ${l.cls}`, 'text-anchor': 'end' }, l.label));
  }
  for (const s of series) {
    const { d, points } = pathData(t, s.values, x, y);
    root.append(svg('path', { d, class: `line ${s.cls}`, 'data-series': s.name, 'data-points': points }));
    // A lone point has no segment to draw: mark the newest known point.
    for (let i = s.values.length - 1; i >= 0; i--) {
      const v = s.values[i];
      if (typeof v === 'number' && Number.isFinite(v)) {
        root.append(svg('circle', { cx: x(t[i]), cy: y(v), r: 3, class: `dot ${s.cls}` }));
        break;
      }
    }
  }
  const fig = document.createElement('figure');
  fig.className = 'chart-box';
  const cap = document.createElement('figcaption');
  const h = document.createElement('h3');
  h.textContent = title;
  cap.append(h);
  if (series.length > 1) {
    const legend = document.createElement('ul');
    legend.className = 'legend';
    for (const s of series) {
      const li = document.createElement('li');
      li.className = s.cls;
      li.textContent = s.name;
      legend.append(li);
    }
    cap.append(legend);
  }
  if (opts.note) {
    const p = document.createElement('p');
    p.className = 'note';
    p.textContent = opts.note;
    cap.append(p);
  }
  fig.append(cap, root);
  return fig;
}

/** Newest value and range of each series, for the chart's accessible name. */
function summary(series, format) {
  return series.map((s) => {
    const known = s.values.filter((v) => typeof v === 'number' && Number.isFinite(v));
    if (!known.length) return `${s.name}: no data yet`;
    const now = known[known.length - 1];
    return `${s.name} ${format(now)} now (from ${format(Math.min(...known))} to ${format(Math.max(...known))})`;
  }).join('; ');
}
