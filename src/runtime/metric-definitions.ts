/**
 * Every metric `pipeline run --metrics-port` exports, with its help text: one list that the
 * registry is built from, the dashboards are checked against and reference docs can be
 * generated from. Names follow `pipeline_<name>_<unit>`. Process CPU, memory, event-loop
 * and GC metrics come from prom-client's defaults and are listed by {@link DEFAULT_METRIC_PREFIX}.
 */

/** The Prometheus type of a metric. */
export type MetricType = 'counter' | 'gauge' | 'histogram';

/** One exported metric. */
export interface MetricDefinition {
  name: string;
  type: MetricType;
  help: string;
  labels: readonly string[];
  /** Histogram bucket upper bounds (in the metric's unit). */
  buckets?: readonly number[];
}

/** Batch and phase durations: 10 ms to 5 min. */
const DURATION_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300] as const;
/** Record timestamp → visible in its table: 50 ms to 1 h. */
const LATENCY_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600] as const;

/** prom-client's default process metrics are exported under this prefix (`pipeline_process_cpu_seconds_total` …). */
export const DEFAULT_METRIC_PREFIX = 'pipeline_';

/** The runner's own metrics. */
export const METRICS = [
  { name: 'pipeline_records_consumed_total', type: 'counter', labels: ['stream'], help: 'Records read from Kafka and committed in a batch (replayed batches count once more).' },
  { name: 'pipeline_records_dead_lettered_total', type: 'counter', labels: ['stream'], help: 'Records written to the dead-letter table (decode failures, unmatched routes, refused rows).' },
  { name: 'pipeline_records_dropped_total', type: 'counter', labels: ['stream'], help: 'Records dropped on purpose (unmatched: drop, expectations that drop).' },
  { name: 'pipeline_records_late_total', type: 'counter', labels: ['stream'], help: 'Records behind their partition\'s event-time watermark (dropped, dead-lettered or kept per watermark.lateData).' },
  { name: 'pipeline_stream_watermark_timestamp_seconds', type: 'gauge', labels: ['stream'], help: 'The stream\'s event-time watermark (unix seconds): the least partition watermark, idle partitions left out.' },
  { name: 'pipeline_records_lost_total', type: 'counter', labels: ['stream'], help: 'Records retention deleted before they were read, skipped under failOnDataLoss: false.' },
  { name: 'pipeline_table_rows_written_total', type: 'counter', labels: ['table'], help: 'Rows handed to a table in committed batches (after routing and validation).' },
  { name: 'pipeline_table_rows_changed_total', type: 'counter', labels: ['table', 'change'], help: 'Rows a table commit inserted, updated or deleted (change = inserted|updated|deleted).' },
  { name: 'pipeline_table_commits_total', type: 'counter', labels: ['table', 'status'], help: 'Table outcomes per batch: committed, already-committed (replay), empty, diverted (to dead letter).' },
  { name: 'pipeline_expectation_records_total', type: 'counter', labels: ['table', 'expectation', 'action', 'outcome'], help: 'Records an expectation was checked on in committed batches, by outcome (passed|failed) and the action a failure takes (warn|drop|quarantine|fail).' },
  { name: 'pipeline_operator_records_total', type: 'counter', labels: ['node', 'kind', 'outcome'], help: 'Records through a load-time operator (derive, filter, expect) in committed batches: outcome = in|out|dropped|dead_lettered.' },
  { name: 'pipeline_batches_committed_total', type: 'counter', labels: ['stream'], help: 'Batches whose checkpoint commit was written.' },
  { name: 'pipeline_batch_duration_seconds', type: 'histogram', labels: ['stream'], buckets: DURATION_BUCKETS, help: 'Time from cutting a batch to its checkpoint commit.' },
  { name: 'pipeline_batch_phase_duration_seconds', type: 'histogram', labels: ['stream', 'phase'], buckets: DURATION_BUCKETS, help: 'Time a batch spent in one phase: wait, queue, decode, commit, checkpoint; inside commit, summed over tables, lockWait, load, merge, files, log, deltaCheckpoint, windows, deadLetter, quality.' },
  { name: 'pipeline_end_to_end_latency_seconds', type: 'histogram', labels: ['stream'], buckets: LATENCY_BUCKETS, help: 'Per record: Kafka timestamp to the Delta commit that made it visible in its table (the dead-letter table for a failed record; first runs of a batch only).' },
  { name: 'pipeline_commit_retries_total', type: 'counter', labels: ['stream'], help: 'Table commits retried after another writer committed the same version first.' },
  { name: 'pipeline_commit_conflicts_total', type: 'counter', labels: ['stream'], help: 'Table commits that conflicted with another writer and had to be re-planned.' },
  { name: 'pipeline_partition_lag_records', type: 'gauge', labels: ['stream', 'partition'], help: 'Records in the partition not yet committed by its stream: broker end offset minus checkpoint position.' },
  { name: 'pipeline_partition_end_offset', type: 'gauge', labels: ['partition'], help: 'The partition end offset (high watermark) at the last lag refresh.' },
  { name: 'pipeline_partition_committed_offset', type: 'gauge', labels: ['stream', 'partition'], help: 'The next offset the stream reads, as committed in its checkpoint.' },
  { name: 'pipeline_stream_lag_records', type: 'gauge', labels: ['stream'], help: 'Sum of the partition lags of a stream.' },
  { name: 'pipeline_lag_records', type: 'gauge', labels: [], help: 'Total lag of the streams this process runs.' },
  { name: 'pipeline_lag_refreshed_timestamp_seconds', type: 'gauge', labels: [], help: 'When the end offsets were last read from the broker (unix seconds); stale while the broker is unreachable.' },
  { name: 'pipeline_last_batch_timestamp_seconds', type: 'gauge', labels: ['stream'], help: 'When the stream last committed a batch (unix seconds).' },
  { name: 'pipeline_stream_up', type: 'gauge', labels: ['stream', 'state'], help: '1 for the state a stream is in (starting, running, caught-up, stopped, idle, failed), 0 otherwise.' },
] as const satisfies readonly MetricDefinition[];

/** Names of the runner's own metrics. */
export type MetricName = (typeof METRICS)[number]['name'];

/** States {@link METRICS}' `pipeline_stream_up` reports. */
export const STREAM_STATES = ['starting', 'running', 'caught-up', 'stopped', 'idle', 'failed'] as const;

/** The metrics as a Markdown table (`docs/reference/metrics.md` holds this, kept in sync by a test). */
export function metricsMarkdown(): string {
  const rows = METRICS.map((m: MetricDefinition) => `| \`${m.name}\` | ${m.type} | ${m.labels.map((l) => `\`${l}\``).join(', ') || '—'} | ${m.help.replace(/\|/g, '\\|')} |`);
  return ['| metric | type | labels | meaning |', '|---|---|---|---|', ...rows].join('\n');
}
