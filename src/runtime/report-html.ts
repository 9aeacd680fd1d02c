/**
 * Renders {@link ReportData} as one self-contained HTML page: inline CSS, inline SVG line
 * charts, no script and nothing fetched, so the file can be mailed, attached to a ticket or
 * opened offline. Every value placed in the page is escaped.
 */
import type { ReportData, Series } from './report-data.js';

/** A table's current state in the lake, next to what the log says was written to it. */
export interface TableFiles {
  files: number;
  bytes: number;
  version: number;
}

const COLORS = ['#2f6fdf', '#e0672b', '#2a9d5c', '#9b4dca', '#c9a227', '#d23f6b', '#3aa6b9', '#7a7a7a'];
const W = 760;
const H = 220;
const M = { top: 16, right: 16, bottom: 28, left: 64 };

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const num = (n: number) => (Math.abs(n) >= 100 || Number.isInteger(n) ? Math.round(n).toLocaleString('en-US') : n.toPrecision(3));

/** A round step for about `ticks` divisions of [0, max]. */
function niceStep(max: number, ticks = 4): number {
  const raw = max / ticks;
  const mag = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 2.5, 5, 10].map((f) => f * mag).find((s) => s >= raw) ?? raw;
}

const clock = (ms: number) => new Date(ms).toISOString().slice(11, 19);

/** Axis labels stay short: 1.5k, 30M. */
function compact(v: number): string {
  for (const [div, suffix] of [[1e9, 'G'], [1e6, 'M'], [1e3, 'k']] as const) if (Math.abs(v) >= div) return `${Number((v / div).toPrecision(3))}${suffix}`;
  return Number(v.toPrecision(3)).toString();
}

/** An SVG line chart of `series` over [fromMs, toMs]; an empty chart says so. */
export function lineChart(title: string, unit: string, series: Series[], fromMs: number, toMs: number): string {
  const all = series.flatMap((s) => s.points);
  const head = `<figure><figcaption>${esc(title)}${unit ? ` <span class="unit">(${esc(unit)})</span>` : ''}</figcaption>`;
  if (all.length === 0) return `${head}<p class="empty">no data in the event log</p></figure>`;
  const span = Math.max(1, toMs - fromMs);
  const maxY = Math.max(...all.map(([, y]) => y));
  const step = maxY > 0 ? niceStep(maxY) : 1;
  const top = maxY > 0 ? Math.ceil(maxY / step) * step : 1;
  const x = (t: number) => M.left + ((t - fromMs) / span) * (W - M.left - M.right);
  const y = (v: number) => H - M.bottom - (v / top) * (H - M.top - M.bottom);
  const parts: string[] = [];
  for (let v = 0; v <= top + step / 2; v += step) {
    parts.push(`<line class="grid" x1="${M.left}" x2="${W - M.right}" y1="${y(v)}" y2="${y(v)}"/><text class="tick" x="${M.left - 6}" y="${y(v) + 4}" text-anchor="end">${esc(compact(v))}</text>`);
  }
  for (let i = 0; i <= 4; i++) {
    const t = fromMs + (span * i) / 4;
    const anchor = i === 0 ? 'start' : i === 4 ? 'end' : 'middle';
    parts.push(`<text class="tick" x="${x(t)}" y="${H - 8}" text-anchor="${anchor}">${clock(t)}</text>`);
  }
  series.forEach((s, i) => {
    if (s.points.length === 0) return;
    const color = COLORS[i % COLORS.length];
    const d = s.points.map(([t, v]) => `${x(t).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
    parts.push(s.points.length === 1 ? `<circle cx="${x(s.points[0]![0])}" cy="${y(s.points[0]![1])}" r="3" fill="${color}"/>` : `<polyline class="line" fill="none" stroke="${color}" points="${d}"/>`);
  });
  const legend = series.map((s, i) => `<span><i style="background:${COLORS[i % COLORS.length]}"></i>${esc(s.name)}</span>`).join('');
  return `${head}<svg viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${esc(title)}">${parts.join('')}</svg><div class="legend">${legend}</div></figure>`;
}

const CSS = `body{font:14px/1.4 system-ui,sans-serif;margin:24px auto;max-width:820px;color:#222}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px}.meta{color:#666}
.totals{display:flex;gap:24px;margin:16px 0}.totals div{background:#f3f5f8;padding:8px 14px;border-radius:6px}
.totals b{display:block;font-size:20px}figure{margin:18px 0}figcaption{font-weight:600;margin-bottom:4px}
.unit{color:#777;font-weight:400}svg{background:#fcfcfd;border:1px solid #e4e7eb;border-radius:4px}
.grid{stroke:#e8eaee}.tick{font-size:11px;fill:#666}.line{stroke-width:1.8}
.legend span{margin-right:14px;font-size:12px}.legend i{display:inline-block;width:10px;height:10px;margin-right:4px;border-radius:2px}
table{border-collapse:collapse;width:100%}th,td{padding:4px 8px;border-bottom:1px solid #eee;text-align:right}
th:first-child,td:first-child{text-align:left}.empty{color:#999}`;

/** The whole page. `tables` adds the lake's current files per table when it could be read. */
export function renderReport(pipeline: string, data: ReportData, tables: Record<string, TableFiles | undefined> = {}): string {
  const { fromMs, toMs } = data;
  const names = [...new Set([...Object.keys(data.tables), ...Object.keys(tables)])].sort();
  const rows = names.map((n) => {
    const t = data.tables[n];
    const f = tables[n];
    const cells = [t?.rows, t?.inserted, t?.updated, t?.deleted, t?.commits, f?.files, f ? (f.bytes / 1e6).toFixed(1) : undefined, f?.version];
    return `<tr><td>${esc(n)}</td>${cells.map((c) => `<td>${c === undefined ? '–' : esc(typeof c === 'number' ? num(c) : c)}</td>`).join('')}</tr>`;
  });
  const runs = data.runs.map((r) => `<li>${esc(new Date(r.startedAtMs).toISOString())} – ${r.endedAtMs ? `${esc(new Date(r.endedAtMs).toISOString())}: ${num(r.records)} records in ${num(r.batches)} batches` : 'did not end cleanly (crash, kill, or still running)'} (pid ${r.pid})</li>`);
  const bucket = data.bucketMs >= 60_000 ? `${data.bucketMs / 60_000} min` : `${data.bucketMs / 1000} s`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>pipeline ${esc(pipeline)} report</title><style>${CSS}</style></head>
<body>
<h1>pipeline ${esc(pipeline)}</h1>
<p class="meta">${data.batches > 0 || data.runs.length > 0 ? `${esc(new Date(fromMs).toISOString())} to ${esc(new Date(toMs).toISOString())}, from the run event log (points every ${bucket})` : 'the event log is empty: run the pipeline first'}</p>
<div class="totals"><div><b>${num(data.records)}</b>records</div><div><b>${num(data.batches)}</b>batches</div><div><b>${num(data.deadLettered)}</b>dead-lettered</div><div><b>${num(data.runs.length)}</b>runs</div></div>
<h2>Over time</h2>
${lineChart('Throughput', 'records/s', data.throughput, fromMs, toMs)}
${lineChart('Lag', 'records behind the topic end', data.lag, fromMs, toMs)}
${lineChart('End-to-end latency', 's, per batch', data.latency, fromMs, toMs)}
${lineChart('Dead letters', `records per ${bucket}`, data.deadLetters, fromMs, toMs)}
${lineChart('Batch phases', 's, mean per batch', data.phases, fromMs, toMs)}
<h2>Tables</h2>
<table><thead><tr><th>table</th><th>rows written</th><th>inserted</th><th>updated</th><th>deleted</th><th>commits</th><th>files now</th><th>MB now</th><th>version</th></tr></thead>
<tbody>${rows.join('\n')}</tbody></table>
<h2>Runs</h2>
<ul>${runs.join('\n')}</ul>
</body></html>
`;
}
