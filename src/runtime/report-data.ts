/**
 * The figures of `pipeline report`, computed from the event log: time series (throughput,
 * lag, latency, dead letters, batch phases) on a common time grid, the runs, and per-table
 * totals. Pure functions over events, so the page is the same for the same log.
 */
import type { BatchEvent, RunEvent } from './event-log.js';

/** One line of a chart: `[atMs, value]` points in time order. */
export interface Series {
  name: string;
  points: [number, number][];
}

/** One run as the log shows it. */
export interface RunSpan {
  pid: number;
  startedAtMs: number;
  endedAtMs?: number;
  records: number;
  batches: number;
}

/** Per-table totals over the log. */
export interface TableTotals {
  rows: number;
  inserted: number;
  updated: number;
  deleted: number;
  commits: number;
}

/** Everything the page shows. */
export interface ReportData {
  fromMs: number;
  toMs: number;
  bucketMs: number;
  records: number;
  batches: number;
  deadLettered: number;
  runs: RunSpan[];
  throughput: Series[];
  lag: Series[];
  latency: Series[];
  deadLetters: Series[];
  phases: Series[];
  tables: Record<string, TableTotals>;
}

/**
 * A bucket width that gives about `target` points over the span, rounded to a readable step;
 * at least 5 s, so batches cut every second or two do not draw as a saw of full and empty buckets.
 */
export function bucketFor(spanMs: number, target = 120): number {
  const steps = [5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 43200, 86400].map((s) => s * 1000);
  return steps.find((s) => spanMs / s <= target) ?? steps.at(-1)!;
}

/** Sums `value(batch)` per time bucket and stream; `perSecond` divides by the bucket width. */
function bucketed(batches: BatchEvent[], fromMs: number, bucketMs: number, value: (b: BatchEvent) => number, perSecond: boolean): Map<number, number> {
  const sums = new Map<number, number>();
  for (const b of batches) {
    const at = fromMs + Math.floor((b.atMs - fromMs) / bucketMs) * bucketMs;
    sums.set(at, (sums.get(at) ?? 0) + value(b));
  }
  if (perSecond) for (const [at, v] of sums) sums.set(at, v / (bucketMs / 1000));
  return sums;
}

/** Fills empty buckets with 0 so a quiet minute shows as a dip, not a straight line across. */
function dense(sums: Map<number, number>, fromMs: number, toMs: number, bucketMs: number): [number, number][] {
  const points: [number, number][] = [];
  for (let at = fromMs; at <= toMs; at += bucketMs) points.push([at, sums.get(at) ?? 0]);
  return points;
}

/** Builds the report's figures from the events. */
export function buildReportData(events: RunEvent[]): ReportData {
  const batches = events.filter((e): e is BatchEvent => e.type === 'batch');
  const fromMs = events[0]?.atMs ?? 0;
  const toMs = events.at(-1)?.atMs ?? 0;
  const bucketMs = bucketFor(toMs - fromMs);
  const streams = [...new Set(batches.map((b) => b.stream))].sort((a, b) => a - b);

  const throughput = streams.map((s) => ({
    name: `stream ${s}`,
    points: dense(bucketed(batches.filter((b) => b.stream === s), fromMs, bucketMs, (b) => b.records, true), fromMs, toMs, bucketMs),
  }));
  const lagEvents = events.filter((e): e is Extract<RunEvent, { type: 'lag' }> => e.type === 'lag');
  const lag: Series[] = [{ name: 'total', points: lagEvents.map((e) => [e.atMs, e.total]) }];
  const latency: Series[] = [
    { name: 'p50', points: batches.filter((b) => b.latencyP50Ms !== undefined).map((b) => [b.atMs, b.latencyP50Ms! / 1000]) },
    { name: 'p99', points: batches.filter((b) => b.latencyP99Ms !== undefined).map((b) => [b.atMs, b.latencyP99Ms! / 1000]) },
  ];
  const deadLetters: Series[] = [{ name: 'dead-lettered', points: dense(bucketed(batches, fromMs, bucketMs, (b) => b.deadLettered, false), fromMs, toMs, bucketMs) }];
  const phaseNames = [...new Set(batches.flatMap((b) => Object.keys(b.phasesMs)))];
  const count = bucketed(batches, fromMs, bucketMs, () => 1, false);
  const phases = phaseNames.map((phase) => {
    const sums = bucketed(batches, fromMs, bucketMs, (b) => b.phasesMs[phase] ?? 0, false);
    // Mean per batch in the bucket; buckets without a batch are left out, not drawn as 0 s.
    return { name: phase, points: [...sums].sort((a, b) => a[0] - b[0]).map(([at, v]) => [at, v / count.get(at)! / 1000] as [number, number]) };
  });

  const tables: Record<string, TableTotals> = {};
  for (const b of batches) {
    for (const [name, t] of Object.entries(b.tables)) {
      const total = (tables[name] ??= { rows: 0, inserted: 0, updated: 0, deleted: 0, commits: 0 });
      if (t.status !== 'committed') continue;
      total.rows += t.rows;
      total.inserted += t.inserted;
      total.updated += t.updated;
      total.deleted += t.deleted;
      total.commits++;
    }
  }

  const runs: RunSpan[] = [];
  for (const e of events) {
    if (e.type === 'run-started') runs.push({ pid: e.pid, startedAtMs: e.atMs, records: 0, batches: 0 });
    if (e.type === 'run-ended') {
      const run = runs.findLast((r) => r.pid === e.pid && r.endedAtMs === undefined);
      if (run) Object.assign(run, { endedAtMs: e.atMs, records: e.records, batches: e.batches });
    }
  }
  return {
    fromMs,
    toMs,
    bucketMs,
    records: batches.reduce((n, b) => n + b.records, 0),
    batches: batches.length,
    deadLettered: batches.reduce((n, b) => n + b.deadLettered, 0),
    runs,
    throughput,
    lag,
    latency,
    deadLetters,
    phases,
    tables,
  };
}
