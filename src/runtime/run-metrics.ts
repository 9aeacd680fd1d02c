/**
 * The Prometheus registry of a run, built from {@link METRICS} with prom-client and fed from
 * what the main thread already receives: each committed batch's `BatchStats`, the lag
 * tracker's snapshots and the streams' states. Nothing here runs on a stream thread.
 */
import client from 'prom-client';
import { DEFAULT_METRIC_PREFIX, METRICS, STREAM_STATES, type MetricDefinition, type MetricName } from './metric-definitions.js';
import type { LagSnapshot } from './lag-tracker.js';
import type { LatencySample } from './latency.js';
import type { BatchStats } from './stream-protocol.js';

type Metric = client.Counter | client.Gauge | client.Histogram | WeightedHistogram;

/**
 * Upper bound of a latency sample bucket in seconds (see latency.ts: bucket b ≥ 1 is
 * [1.05^(b-1), 1.05^b) ms). Records are counted at that bound, so `le` buckets and the sum
 * are exact to the sample's 5% resolution.
 */
const sampleBucketSeconds = (b: number) => (b === 0 ? 1 : 1.05 ** b) / 1000;

/**
 * A histogram fed with weighted observations: a batch's latency arrives as a few hundred
 * `[bucket, count]` pairs covering up to a whole batch of records, which prom-client's
 * one-value `observe` would turn into one call per record on the main thread.
 */
class WeightedHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly series = new Map<string, { labels: Record<string, string>; counts: number[]; sum: number; count: number }>();

  constructor(readonly name: string, readonly help: string, private readonly bounds: readonly number[]) {}

  observeMany(labels: Record<string, string>, sample: LatencySample): void {
    const key = JSON.stringify(labels);
    let s = this.series.get(key);
    if (!s) this.series.set(key, (s = { labels, counts: this.bounds.map(() => 0), sum: 0, count: 0 }));
    for (const [b, n] of sample.buckets) {
      const seconds = sampleBucketSeconds(b);
      const i = this.bounds.findIndex((bound) => seconds <= bound);
      if (i >= 0) s.counts[i]! += n;
      s.sum += seconds * n;
      s.count += n;
    }
  }

  get(): { name: string; help: string; type: string; aggregator: string; values: { labels: Record<string, string | number>; value: number; metricName: string }[] } {
    const values: { labels: Record<string, string | number>; value: number; metricName: string }[] = [];
    for (const s of this.series.values()) {
      let cumulative = 0;
      this.bounds.forEach((bound, i) => {
        cumulative += s.counts[i]!;
        values.push({ labels: { ...s.labels, le: bound }, value: cumulative, metricName: `${this.name}_bucket` });
      });
      values.push({ labels: { ...s.labels, le: '+Inf' }, value: s.count, metricName: `${this.name}_bucket` });
      values.push({ labels: s.labels, value: s.sum, metricName: `${this.name}_sum` });
      values.push({ labels: s.labels, value: s.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  reset(): void {
    this.series.clear();
  }
}

function build(def: MetricDefinition, registry: client.Registry): Metric {
  const common = { name: def.name, help: def.help, labelNames: [...def.labels], registers: [registry] };
  if (def.name === 'pipeline_end_to_end_latency_seconds') {
    const h = new WeightedHistogram(def.name, def.help, def.buckets!);
    registry.registerMetric(h as unknown as client.Metric);
    return h;
  }
  if (def.type === 'counter') return new client.Counter(common);
  if (def.type === 'gauge') return new client.Gauge(common);
  return new client.Histogram({ ...common, buckets: [...def.buckets!] });
}

/** The registry of one run plus the updates the runner calls. */
export class RunMetrics {
  readonly registry = new client.Registry();
  private readonly metrics = new Map<string, Metric>();

  constructor(opts: { processMetrics?: boolean } = {}) {
    for (const def of METRICS) this.metrics.set(def.name, build(def, this.registry));
    if (opts.processMetrics !== false) client.collectDefaultMetrics({ register: this.registry, prefix: DEFAULT_METRIC_PREFIX });
  }

  private counter(name: MetricName): client.Counter {
    return this.metrics.get(name) as client.Counter;
  }

  private gauge(name: MetricName): client.Gauge {
    return this.metrics.get(name) as client.Gauge;
  }

  private histogram(name: MetricName): client.Histogram {
    return this.metrics.get(name) as client.Histogram;
  }

  /** Counts one committed batch. */
  onBatch(stats: BatchStats, committedAtMs = Date.now()): void {
    const stream = String(stats.stream);
    this.counter('pipeline_records_consumed_total').inc({ stream }, stats.records);
    this.counter('pipeline_records_dead_lettered_total').inc({ stream }, stats.deadLettered);
    this.counter('pipeline_records_dropped_total').inc({ stream }, stats.dropped);
    if (stats.late !== undefined) this.counter('pipeline_records_late_total').inc({ stream }, stats.late);
    if (stats.watermarkMs !== undefined) this.gauge('pipeline_stream_watermark_timestamp_seconds').set({ stream }, stats.watermarkMs / 1000);
    this.counter('pipeline_batches_committed_total').inc({ stream });
    this.counter('pipeline_commit_retries_total').inc({ stream }, stats.commitRetries ?? 0);
    this.counter('pipeline_commit_conflicts_total').inc({ stream }, stats.commitConflicts ?? 0);
    this.histogram('pipeline_batch_duration_seconds').observe({ stream }, stats.durationMs / 1000);
    const phases = stats.phasesMs ?? { decode: stats.decodeMs, commit: stats.commitMs };
    for (const [phase, ms] of Object.entries(phases)) this.histogram('pipeline_batch_phase_duration_seconds').observe({ stream, phase }, ms / 1000);
    if (stats.latency) (this.metrics.get('pipeline_end_to_end_latency_seconds') as WeightedHistogram).observeMany({ stream }, stats.latency);
    this.gauge('pipeline_last_batch_timestamp_seconds').set({ stream }, committedAtMs / 1000);
    this.onOperators(stats);
    for (const [table, t] of Object.entries(stats.tables)) {
      this.counter('pipeline_table_commits_total').inc({ table, status: t.status });
      if (t.status !== 'committed') continue;
      for (const e of t.expectations ?? []) {
        const labels = { table, expectation: e.name, action: e.action };
        this.counter('pipeline_expectation_records_total').inc({ ...labels, outcome: 'passed' }, e.evaluated - e.failed);
        this.counter('pipeline_expectation_records_total').inc({ ...labels, outcome: 'failed' }, e.failed);
      }
      this.counter('pipeline_table_rows_written_total').inc({ table }, t.rowsIn);
      this.counter('pipeline_table_rows_changed_total').inc({ table, change: 'inserted' }, t.inserted);
      this.counter('pipeline_table_rows_changed_total').inc({ table, change: 'updated' }, t.updated);
      this.counter('pipeline_table_rows_changed_total').inc({ table, change: 'deleted' }, t.deleted);
    }
  }

  /** Counts the load-time operators' records of one committed batch (tables a replay found committed report none). */
  private onOperators(stats: BatchStats): void {
    for (const o of stats.operators ?? []) {
      if (stats.tables[o.table]?.status !== 'committed') continue;
      const labels = { node: o.node, kind: o.kind };
      const c = this.counter('pipeline_operator_records_total');
      c.inc({ ...labels, outcome: 'in' }, o.in);
      c.inc({ ...labels, outcome: 'out' }, o.out);
      c.inc({ ...labels, outcome: 'dropped' }, o.dropped);
      c.inc({ ...labels, outcome: 'dead_lettered' }, o.deadLettered);
    }
  }

  /** Records skipped because retention deleted them. */
  onLost(stream: number, records: number): void {
    this.counter('pipeline_records_lost_total').inc({ stream: String(stream) }, records);
  }

  /** Sets the one state gauge of a stream that is 1. */
  onStreamState(stream: number, state: string): void {
    for (const s of STREAM_STATES) this.gauge('pipeline_stream_up').set({ stream: String(stream), state: s }, s === state ? 1 : 0);
  }

  /** Replaces the lag gauges with a new snapshot. */
  onLag(snapshot: LagSnapshot): void {
    for (const s of snapshot.streams) {
      const stream = String(s.stream);
      this.gauge('pipeline_stream_lag_records').set({ stream }, s.lag);
      for (const p of s.partitions) {
        const partition = String(p.partition);
        this.gauge('pipeline_partition_lag_records').set({ stream, partition }, p.lag);
        this.gauge('pipeline_partition_committed_offset').set({ stream, partition }, p.position);
        if (p.end !== undefined) this.gauge('pipeline_partition_end_offset').set({ partition }, p.end);
      }
    }
    this.gauge('pipeline_lag_records').set(snapshot.total);
    if (snapshot.refreshedAtMs !== undefined) this.gauge('pipeline_lag_refreshed_timestamp_seconds').set(snapshot.refreshedAtMs / 1000);
  }

  /** The Prometheus text exposition. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
