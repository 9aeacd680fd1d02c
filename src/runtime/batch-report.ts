/**
 * What a batch reports beside its tables: the watermark state's late count and stream
 * watermark, its dead letters counted by table, stage and reason, and the coded error of a
 * record failing a `fail` expectation.
 */
import { PipelineError, type ExpectationFailedError } from '../errors.js';
import type { RecordFailure, RoutedTable } from '../operators/api.js';
import type { PreparedBatch } from './batch-processor.js';
import type { WatermarkState } from '../operators/watermark.js';
import type { Plan } from './plan.js';
import type { DeadLetterCount } from './stream-protocol.js';

/** The late and no-event-time counts and the stream watermark a batch's watermark state reports. */
export function eventTimeOf(plan: Plan, state: Record<string, unknown>): { late?: number; noEventTime?: number; watermarkMs?: number } {
  const node = plan.nodes.find((n) => n.kind === 'watermark');
  const wm = node ? (state[node.id] as WatermarkState | undefined) : undefined;
  if (!wm) return {};
  return { late: wm.batchLate ?? 0, noEventTime: wm.batchUnreadable ?? 0, ...(typeof wm.watermarkMs === 'number' ? { watermarkMs: wm.watermarkMs } : {}) };
}

/** Distinct dead-letter reasons a batch reports; the rest are counted under one line. */
const MAX_REASONS_PER_BATCH = 20;

/** Dead-lettered records of a batch by table, stage and reason, most frequent first. */
export function countDeadLetters(failures: RecordFailure[]): DeadLetterCount[] {
  const counts = new Map<string, DeadLetterCount>();
  for (const f of failures) {
    const table = f.table ?? '';
    const key = `${table}\u0000${f.stage}\u0000${f.error}`;
    const c = counts.get(key);
    if (c) c.count++;
    else counts.set(key, { table, stage: f.stage, reason: f.error, count: 1 });
  }
  const sorted = [...counts.values()].sort((a, b) => b.count - a.count || a.reason.localeCompare(b.reason));
  if (sorted.length <= MAX_REASONS_PER_BATCH) return sorted;
  const rest = sorted.slice(MAX_REASONS_PER_BATCH - 1);
  return [...sorted.slice(0, MAX_REASONS_PER_BATCH - 1), { table: '', stage: 'various', reason: '(other reasons)', count: rest.reduce((n, c) => n + c.count, 0) }];
}

/** The run's coded error for a record failing a `fail` expectation, with its Kafka coordinates. */
export function expectationFailed(err: ExpectationFailedError, part: RoutedTable, prepared: Pick<PreparedBatch, 'partitions' | 'records' | 'entry'>): PipelineError {
  const d = err.details as { table: string; expectation: string; sql: string; row: number; values: Record<string, unknown> };
  const index = part.indices[d.row]!;
  const partition = prepared.partitions[index]!;
  const offset = String(prepared.records.offsets[index]!);
  const values = Object.entries(d.values).map(([k, v]) => `${k}=${v === null ? 'NULL' : JSON.stringify(v)}`).join(', ');
  return new PipelineError(
    'PIPE_RUN_EXPECTATION_FAILED',
    `expectation '${d.expectation}' (${d.sql}) failed for table ${part.table} on the record at ${prepared.entry.topic} partition ${partition} offset ${offset}${values ? `: ${values}` : ''}`,
    {
      cause: err,
      hint: 'nothing of this batch was committed; fix the producer or the spec (the expectation, or its action), then run again: the batch is replayed exactly',
      details: { table: part.table, expectation: d.expectation, partition, offset, values: d.values },
    },
  );
}
