/**
 * The records a table replay (`pipeline replay`) refuses go to the dead-letter table, as a
 * run's would: a replay under a changed spec (a new expectation, a declared type) must not
 * leave a record out of its table without a row saying why. The dead-letter table often holds
 * the record already, with the same stage and reason (the original run, or an earlier replay,
 * refused it alike): such a record gets no second row, so a replay repeated, or resumed after
 * a crash, adds nothing.
 */
import type { Lake } from '../lake/index.js';
import type { RejectedRow } from '../lake/types.js';
import type { FailureStage, RecordFailure } from '../operators/api.js';
import { deadLetterRow, writeDeadLetters, type DeadLetterRow, type RawRecord } from '../operators/sink-dead-letter.js';
import { REPLAY_STREAM } from './dead-letter-replay.js';
import type { Plan } from './plan.js';
import { rejectedStage, type TableProgram } from './table-program.js';

/** A record a replay refused: where it came from, the stage and the reason, as a run words them. */
export interface RefusedRecord {
  topic: string;
  record: RawRecord;
  stage: FailureStage;
  error: string;
}

/** The refusals of a batch's records for `table`: the graph's (decode to expectations), then the lake's. */
export function refusalsOf(
  table: string, program: TableProgram, failures: RecordFailure[], rejected: RejectedRow[], recordAt: (index: number) => { topic: string; record: RawRecord }, indexOfRow: (row: number) => number,
): RefusedRecord[] {
  return [
    ...failures.filter((f) => f.table === table).map((f) => ({ ...recordAt(f.index), stage: f.stage, error: f.error })),
    ...rejected.filter((r) => !r.dropped).map((r) => ({ ...recordAt(indexOfRow(r.row)), stage: rejectedStage(program, r), error: `table '${table}': ${r.reason}` })),
  ];
}

const identity = (topic: unknown, partition: unknown, offset: unknown, stage: unknown, error: unknown) => JSON.stringify([String(topic), Number(partition), Number(offset), String(stage), String(error)]);

/**
 * Appends a dead-letter row for each refused record the table does not already hold with the
 * same stage and reason. Returns how many rows were written.
 */
export async function deadLetterRefused(lake: Lake, plan: Plan, batchId: number, refused: RefusedRecord[]): Promise<number> {
  if (refused.length === 0) return 0;
  const path = plan.deadLetter.path;
  const held = new Set<string>();
  if (await lake.exists(path)) {
    const spans = new Map<string, [string, number, number, number]>();
    for (const { topic, record: r } of refused) {
      const k = JSON.stringify([topic, r.partition]);
      const s = spans.get(k);
      spans.set(k, s ? [topic, r.partition, Math.min(s[2], r.offset), Math.max(s[3], r.offset)] : [topic, r.partition, r.offset, r.offset]);
    }
    const where = [...spans.values()].map(([t, p, lo, hi]) => `(topic = '${t.replaceAll("'", "''")}' AND "partition" = ${p} AND "offset" BETWEEN ${lo} AND ${hi})`).join(' OR ');
    for (const r of await lake.scan(path, { columns: ['topic', 'partition', 'offset', 'stage', 'error'], where })) held.add(identity(r.topic, r.partition, r.offset, r.stage, r.error));
  }
  const fresh: DeadLetterRow[] = [];
  for (const f of refused) {
    const id = identity(f.topic, f.record.partition, f.record.offset, f.stage, f.error);
    if (held.has(id)) continue;
    held.add(id);
    fresh.push(deadLetterRow(f.record, f.stage, f.error, { topic: f.topic, pipeline: plan.pipeline, stream: REPLAY_STREAM, batchId }));
  }
  if (fresh.length > 0) await writeDeadLetters(lake, path, fresh);
  return fresh.length;
}
