/**
 * The run summary: totals per table and per stream, printed to stdout at the end and written
 * as JSON with `--summary-json`. Metric names follow `pipeline_<name>_<unit>`.
 */
import { LatencyHistogram } from './latency.js';
import type { BatchStats, DeadLetterCount, TableBatchStats } from './stream-protocol.js';

/** Per-table totals over the run. */
export interface TableTotals {
  /** Rows handed to the table (after routing/validation). */
  rowsIn: number;
  inserted: number;
  updated: number;
  deleted: number;
  commits: number;
  /** Batches the table already held (replays after a crash). */
  alreadyCommitted: number;
  /** Batches whose rows were diverted to the dead-letter table after a schema mismatch. */
  diverted: number;
}

export interface StreamTotals {
  stream: number;
  partitions: number[];
  /** What the stream reads when it owns no Kafka partitions: the path of its Delta source table. */
  reads?: string;
  batches: number;
  records: number;
  replayedBatchId?: number;
  /** `caught-up`, `stopped`, `idle` (owns no partition) or `failed`. */
  state: string;
  /** The stream's event-time watermark (greatest event time seen minus `watermark.delay`), ISO-8601. */
  watermark?: string;
}

export interface RunSummary {
  pipeline: string;
  topic: string;
  status: 'completed' | 'stopped' | 'failed';
  availableNow: boolean;
  error?: string;
  startedAt: string;
  wallTimeMs: number;
  records: number;
  recordsPerSecond: number;
  batches: number;
  deadLettered: number;
  /** Dead-lettered records by table, stage and reason, most frequent first. */
  deadLetters: DeadLetterCount[];
  dropped: number;
  /** Records behind their partition's watermark (already counted in `deadLettered` or `dropped`, or kept), when a watermark is set. */
  late?: number;
  /** Records whose event time was missing or unreadable, when a watermark is set: never late, stored, left out of every window. */
  noEventTime?: number;
  /** The pipeline's watermark: the least stream watermark (ISO-8601), when every stream that owns partitions has one. */
  watermark?: string;
  /** Records retention deleted before they were read, skipped under `failOnDataLoss: false`. */
  lostToRetention: number;
  tables: Record<string, TableTotals>;
  deadLetterTable: string;
  streams: StreamTotals[];
  /** Set when this process ran as one of several instances (`--instance i/K`): which streams it ran. */
  instance?: { index: number; count: number; streams: number[] };
  metrics: Record<string, number>;
  /** One point per second: committed records so far and total lag (records behind the topic's end). */
  timeline: TimelinePoint[];
}

/** A once-a-second sample of the run. `atMs` is wall-clock time (ms since epoch). */
export interface TimelinePoint {
  atMs: number;
  records: number;
  lag: number;
}

/** Distinct dead-letter reasons kept; the rest are counted under one line. */
const MAX_REASONS = 50;
const OTHER_KEY = '\u0000other';

/** Timeline points kept (one per second: the last hour of a long run). */
const TIMELINE_POINTS = 3600;

/** Accumulates batch statistics into a summary. */
export class SummaryBuilder {
  private readonly tables: Record<string, TableTotals> = {};
  private records = 0;
  private batches = 0;
  private deadLettered = 0;
  private readonly deadLetters = new Map<string, DeadLetterCount>();
  private dropped = 0;
  private late?: number;
  private noEventTime?: number;
  private lost = 0;
  private decodeMs = 0;
  private commitMs = 0;
  private readonly latency = new LatencyHistogram();
  private readonly timeline: TimelinePoint[] = [];
  readonly streams = new Map<number, StreamTotals>();

  constructor(private readonly pipeline: string, private readonly topic: string, private readonly deadLetterTable: string, private readonly startedAt = Date.now()) {}

  stream(index: number): StreamTotals {
    let s = this.streams.get(index);
    if (!s) this.streams.set(index, (s = { stream: index, partitions: [], batches: 0, records: 0, state: 'starting' }));
    return s;
  }

  addBatch(stats: BatchStats): void {
    this.records += stats.records;
    this.batches++;
    this.deadLettered += stats.deadLettered;
    for (const d of stats.deadLetters) {
      const key = `${d.table}\u0000${d.stage}\u0000${d.reason}`;
      const known = this.deadLetters.get(key) ?? (this.deadLetters.size < MAX_REASONS ? undefined : this.deadLetters.get(OTHER_KEY));
      if (known) known.count += d.count;
      else if (this.deadLetters.size < MAX_REASONS) this.deadLetters.set(key, { ...d });
      else this.deadLetters.set(OTHER_KEY, { table: '', stage: 'various', reason: '(other reasons)', count: d.count });
    }
    this.dropped += stats.dropped;
    if (stats.late !== undefined) this.late = (this.late ?? 0) + stats.late;
    if (stats.noEventTime !== undefined) this.noEventTime = (this.noEventTime ?? 0) + stats.noEventTime;
    this.decodeMs += stats.decodeMs;
    this.commitMs += stats.commitMs;
    if (stats.latency) this.latency.add(stats.latency);
    const s = this.stream(stats.stream);
    s.batches++;
    s.records += stats.records;
    for (const [table, t] of Object.entries(stats.tables)) this.addTableWrite(table, t);
  }

  /** Counts one table commit: a batch's, or one made outside batches (the append window emitter). */
  addTableWrite(table: string, t: TableBatchStats): void {
    const total = (this.tables[table] ??= { rowsIn: 0, inserted: 0, updated: 0, deleted: 0, commits: 0, alreadyCommitted: 0, diverted: 0 });
    total.rowsIn += t.rowsIn;
    total.inserted += t.inserted;
    total.updated += t.updated;
    total.deleted += t.deleted;
    if (t.status === 'committed') total.commits++;
    if (t.status === 'already-committed') total.alreadyCommitted++;
    if (t.status === 'diverted') total.diverted++;
  }

  /** Counts records skipped because retention deleted them (`failOnDataLoss: false`). */
  addLost(records: number): void {
    this.lost += records;
  }

  /** Appends a timeline point (called once a second while the run is live). */
  sample(lag: number, atMs = Date.now()): void {
    this.timeline.push({ atMs, records: this.records, lag });
    if (this.timeline.length > TIMELINE_POINTS) this.timeline.shift();
  }

  /** Dead-lettered records by table, stage and reason, most frequent first. */
  deadLetterCounts(): DeadLetterCount[] {
    return [...this.deadLetters.values()].sort((a, b) => b.count - a.count || a.reason.localeCompare(b.reason));
  }

  /** Records and batches so far (for progress lines). */
  totals(): { records: number; batches: number; deadLettered: number; elapsedMs: number } {
    return { records: this.records, batches: this.batches, deadLettered: this.deadLettered, elapsedMs: Date.now() - this.startedAt };
  }

  /** The least watermark over the streams that own partitions (none while one of them has no watermark yet). */
  private pipelineWatermark(): { watermark?: string } {
    const owning = [...this.streams.values()].filter((s) => s.partitions.length > 0);
    if (owning.length === 0 || owning.some((s) => s.watermark === undefined)) return {};
    return { watermark: owning.map((s) => s.watermark!).sort()[0]! };
  }

  build(status: RunSummary['status'], availableNow: boolean, error?: string): RunSummary {
    const wallTimeMs = Date.now() - this.startedAt;
    const recordsPerSecond = wallTimeMs > 0 ? Math.round((this.records / wallTimeMs) * 1000) : 0;
    const metrics: Record<string, number> = {
      pipeline_records_consumed_total: this.records,
      pipeline_records_dead_lettered_total: this.deadLettered,
      pipeline_records_dropped_total: this.dropped,
      ...(this.late !== undefined ? { pipeline_records_late_total: this.late } : {}),
      pipeline_records_lost_total: this.lost,
      pipeline_batches_committed_total: this.batches,
      pipeline_run_duration_seconds: wallTimeMs / 1000,
      pipeline_records_per_second: recordsPerSecond,
      pipeline_decode_duration_seconds: this.decodeMs / 1000,
      pipeline_commit_duration_seconds: this.commitMs / 1000,
      // Records in the topic not yet committed, at the run's last lag reading.
      pipeline_lag_records: this.timeline.at(-1)?.lag ?? 0,
    };
    if (this.latency.count > 0) {
      metrics.pipeline_end_to_end_latency_p50_ms = this.latency.quantile(0.5);
      metrics.pipeline_end_to_end_latency_p99_ms = this.latency.quantile(0.99);
      metrics.pipeline_end_to_end_latency_max_ms = this.latency.max;
    }
    for (const [table, t] of Object.entries(this.tables)) {
      metrics[`pipeline_table_rows_inserted_total{table="${table}"}`] = t.inserted;
      metrics[`pipeline_table_rows_updated_total{table="${table}"}`] = t.updated;
    }
    return {
      pipeline: this.pipeline,
      topic: this.topic,
      status,
      availableNow,
      error,
      startedAt: new Date(this.startedAt).toISOString(),
      wallTimeMs,
      records: this.records,
      recordsPerSecond,
      batches: this.batches,
      deadLettered: this.deadLettered,
      deadLetters: this.deadLetterCounts(),
      dropped: this.dropped,
      ...(this.late !== undefined ? { late: this.late } : {}),
      ...(this.noEventTime !== undefined ? { noEventTime: this.noEventTime } : {}),
      ...this.pipelineWatermark(),
      lostToRetention: this.lost,
      tables: this.tables,
      deadLetterTable: this.deadLetterTable,
      streams: [...this.streams.values()].sort((a, b) => a.stream - b.stream),
      metrics,
      timeline: this.timeline,
    };
  }
}

/** The human summary printed on stdout. */
export function formatSummary(s: RunSummary): string {
  const lines = [
    `pipeline ${s.pipeline}: ${s.status}${s.error ? ` (${s.error})` : ''} — ${s.records} records in ${s.batches} batches, ${(s.wallTimeMs / 1000).toFixed(1)} s, ${s.recordsPerSecond} records/s`,
  ];
  const names = Object.keys(s.tables).sort();
  const width = Math.max(5, ...names.map((n) => n.length));
  if (names.length > 0) lines.push(`  ${'table'.padEnd(width)}  ${'rows in'.padStart(9)}  ${'inserted'.padStart(9)}  ${'updated'.padStart(9)}  ${'deleted'.padStart(8)}  commits`);
  for (const name of names) {
    const t = s.tables[name]!;
    const note = t.alreadyCommitted > 0 ? ` (+${t.alreadyCommitted} already committed)` : t.diverted > 0 ? ` (${t.diverted} batches diverted to dead letter)` : '';
    lines.push(`  ${name.padEnd(width)}  ${String(t.rowsIn).padStart(9)}  ${String(t.inserted).padStart(9)}  ${String(t.updated).padStart(9)}  ${String(t.deleted).padStart(8)}  ${t.commits}${note}`);
  }
  if (s.instance) lines.push(`  instance ${s.instance.index}/${s.instance.count}: streams ${s.instance.streams.join(', ')} (the other streams run in the other instances)`);
  lines.push(`  dead-lettered: ${s.deadLettered} (table ${s.deadLetterTable}), dropped: ${s.dropped}${s.lostToRetention ? `, lost to retention (skipped): ${s.lostToRetention}` : ''}`);
  if (s.late !== undefined) lines.push(`  late (behind the watermark): ${s.late}${s.watermark ? `, pipeline watermark ${s.watermark}` : ''}${s.noEventTime ? `; no readable event time (stored, in no window): ${s.noEventTime}` : ''}`);
  for (const d of s.deadLetters.slice(0, 5)) lines.push(`    ${String(d.count).padStart(7)}  ${describeDeadLetter(d)}`);
  if (s.deadLetters.length > 5) lines.push(`    … ${s.deadLetters.length - 5} more reasons (--summary-json lists them)`);
  for (const st of s.streams) {
    lines.push(`  stream ${st.stream}: ${st.state}, ${st.reads !== undefined ? `reads ${st.reads}` : `${st.partitions.length} partitions`}, ${st.batches} batches, ${st.records} records${st.replayedBatchId !== undefined ? `, replayed batch ${st.replayedBatchId}` : ''}${st.watermark ? `, watermark ${st.watermark}` : ''}`);
  }
  return lines.join('\n');
}

/** `orders / validate: merge key 'id' is missing` (the table is left out before routing). */
export function describeDeadLetter(d: DeadLetterCount): string {
  return `${d.table ? `${d.table} / ` : ''}${d.stage}: ${d.reason}`;
}
