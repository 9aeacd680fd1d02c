/**
 * `pipeline verify`: an audit of what a pipeline left behind, read-only. For every stream it
 * reads the checkpoint's write-ahead log; for every table the Delta log. It checks that
 *
 * - the committed offset ranges of each partition follow each other with no gap or overlap;
 * - every batch a table committed is in that table's log with the stream's txn
 *   (appId `<pipeline>/<stream>`, version = batch id), and the last committed batch of each
 *   stream is recorded in every table it touched (the checkpoint is not ahead of a table);
 * - every table's log has no missing commit and every live data file exists;
 * - where the event log holds a batch's counts: records in = rows written + dead-lettered + dropped.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { auditTable, commitTxns, type Lake, type TableAudit } from '../lake/index.js';
import type { Plan } from './plan.js';
import { StreamCheckpoint, type OffsetsEntry } from './stream-checkpoint.js';
import { kafkaReplayAppId, kafkaReplayStartAppId } from './replay-kafka.js';
import { readEventLog, type BatchEvent } from './event-log.js';
import { readCommittedPositions } from './checkpoint-positions.js';
import type { TopicOffsets } from './kafka-client.js';

/** One thing that is not as it should be. */
export interface Discrepancy {
  kind: 'offsets-gap' | 'offsets-overlap' | 'beyond-end' | 'retention-lost' | 'batch-missing' | 'txn-missing' | 'checkpoint-ahead' | 'commit-missing' | 'file-missing' | 'log-unreadable' | 'count-mismatch';
  stream?: number;
  table?: string;
  batchId?: number;
  partition?: number;
  offsets?: [number, number];
  message: string;
}

/** A stream's line of the report. */
export interface StreamVerdict {
  stream: number;
  appId: string;
  /** Committed batch ids kept in the checkpoint (older ones are pruned). */
  firstBatch?: number;
  lastCommitted?: number;
  /** Next offset per partition after the last committed batch. */
  positions: Record<string, number>;
  batchesCounted: number;
  ok: boolean;
}

/** A table's line of the report. */
export interface TableVerdict {
  table: string;
  path: string;
  exists: boolean;
  version: number;
  files: number;
  /** Newest txn per stream appId. */
  txns: Record<string, number>;
  ok: boolean;
}

/** The whole audit. */
export interface VerifyReport {
  pipeline: string;
  /** Whether the broker's offsets were read; when not, why. */
  broker: { reachable: boolean; reason?: string };
  streams: StreamVerdict[];
  tables: TableVerdict[];
  discrepancies: Discrepancy[];
}

const WRITTEN = new Set(['committed', 'already-committed']);

/** Offsets continuity of one stream's kept batches; returns the positions after the last. */
function checkRanges(stream: number, entries: OffsetsEntry[], out: Discrepancy[]): Record<string, number> {
  const next: Record<string, number> = {};
  let previous: number | undefined;
  for (const e of entries) {
    if (previous !== undefined && e.batchId !== previous + 1) {
      out.push({ kind: 'batch-missing', stream, batchId: previous + 1, message: `stream ${stream}: offsets of batches ${previous + 1}..${e.batchId - 1} are missing from the checkpoint` });
    }
    previous = e.batchId;
    for (const [p, [from, until]] of Object.entries(e.ranges)) {
      const expected = next[p];
      if (expected !== undefined && from > expected) {
        out.push({ kind: 'offsets-gap', stream, batchId: e.batchId, partition: Number(p), offsets: [expected, from], message: `stream ${stream} batch ${e.batchId}: partition ${p} starts at ${from}, but the previous batch ended at ${expected}: offsets [${expected}, ${from}) were never read` });
      } else if (expected !== undefined && from < expected) {
        out.push({ kind: 'offsets-overlap', stream, batchId: e.batchId, partition: Number(p), offsets: [from, expected], message: `stream ${stream} batch ${e.batchId}: partition ${p} starts at ${from}, but the previous batch ended at ${expected}: offsets [${from}, ${expected}) were read twice` });
      }
      next[p] = until;
    }
  }
  return next;
}

/** Records in = rows written + dead-lettered + dropped, for each counted batch of the stream. */
function checkCounts(stream: number, events: BatchEvent[], deadLetter: string, out: Discrepancy[]): number {
  let counted = 0;
  for (const e of events) {
    // A replay finds tables already committed and reports no rows for them: nothing to add up.
    if (e.stream !== stream || e.replay || Object.values(e.tables).some((t) => t.status === 'already-committed')) continue;
    counted++;
    const written = Object.entries(e.tables).reduce((n, [t, s]) => n + (t === deadLetter ? 0 : s.rows), 0);
    if (written + e.deadLettered + e.dropped !== e.records) {
      out.push({ kind: 'count-mismatch', stream, batchId: e.batchId, message: `stream ${stream} batch ${e.batchId}: ${e.records} records in, but ${written} rows written + ${e.deadLettered} dead-lettered + ${e.dropped} dropped = ${written + e.deadLettered + e.dropped}` });
    }
  }
  return counted;
}

/** Committed positions against the topic: never past its end, never before what retention kept. */
function checkAgainstTopic(stream: number, positions: Map<number, number>, topic: TopicOffsets, out: Discrepancy[]): void {
  for (const [p, pos] of positions) {
    const high = topic.high.get(p);
    const low = topic.low.get(p);
    if (high === undefined) {
      out.push({ kind: 'beyond-end', stream, partition: p, message: `stream ${stream}: partition ${p} is in the checkpoint but not in the topic (${topic.partitions} partitions)` });
    } else if (pos > high) {
      out.push({ kind: 'beyond-end', stream, partition: p, offsets: [high, pos], message: `stream ${stream}: partition ${p} was read up to ${pos}, but the topic ends at ${high}: the checkpoint belongs to another topic or the topic was recreated` });
    } else if (low !== undefined && pos < low) {
      out.push({ kind: 'retention-lost', stream, partition: p, offsets: [pos, low], message: `stream ${stream}: partition ${p} offsets [${pos}, ${low}) were deleted by retention before the pipeline read them` });
    }
  }
}

/**
 * Whether `pipeline replay` from Kafka read every record of `range` into the table: for each
 * partition, the replays began at or before the range's start and got to its end.
 */
function replayed(plan: Plan, table: string, txns: Record<string, number>, range: Record<string, [number, number]>): boolean {
  const entries = Object.entries(range).filter(([, [from, until]]) => until > from);
  return entries.length > 0 && entries.every(([p, [from, until]]) => {
    const start = txns[kafkaReplayStartAppId(plan, table, Number(p))];
    return start !== undefined && start <= from && (txns[kafkaReplayAppId(plan, table, Number(p))] ?? -1) >= until;
  });
}

/** Audits a pipeline's checkpoints and tables (and, when given, against the topic's offsets). Reads only. */
export async function verifyPipeline(plan: Plan, lake: Lake, topic?: TopicOffsets | { unreachable: string }): Promise<VerifyReport> {
  const discrepancies: Discrepancy[] = [];
  const paths = new Map<string, string>([...plan.sinks.map((s) => [s.table, s.path] as const), [plan.deadLetter.table, plan.deadLetter.path]]);
  const audits = new Map<string, TableAudit>();
  for (const [table, path] of paths) {
    const a = await auditTable(lake, path);
    audits.set(table, a);
    for (const v of a.missingCommits) discrepancies.push({ kind: 'commit-missing', table, message: `table ${table}: commit ${v} is missing from ${path}/_delta_log` });
    for (const f of a.missingFiles) discrepancies.push({ kind: 'file-missing', table, message: `table ${table}: data file ${f} is in the log at version ${a.version} but not in storage` });
    if (a.error) discrepancies.push({ kind: 'log-unreadable', table, message: `table ${table}: ${a.error}` });
  }
  const events = readEventLog(plan.checkpointPath).filter((e): e is BatchEvent => e.type === 'batch');

  const streams: StreamVerdict[] = [];
  for (const { index: stream, appId } of plan.streams) {
    const before = discrepancies.length;
    const verdict: StreamVerdict = { stream, appId, positions: {}, batchesCounted: 0, ok: true };
    streams.push(verdict);
    if (!existsSync(join(plan.checkpointPath, String(stream)))) continue;
    const checkpoint = new StreamCheckpoint(plan.checkpointPath, stream);
    const committed = checkpoint.batchIds('commits');
    const entries = checkpoint.batchIds('offsets').filter((id) => committed.includes(id)).map((id) => checkpoint.readOffsets(id)!).filter(Boolean);
    verdict.firstBatch = committed[0];
    verdict.lastCommitted = committed.at(-1);
    verdict.positions = checkRanges(stream, entries, discrepancies);
    for (const batchId of committed) {
      const commit = checkpoint.readCommit(batchId)!;
      const range = checkpoint.readOffsets(batchId)?.ranges ?? {};
      const span = Object.entries(range).map(([p, [f, u]]) => `p${p} [${f}, ${u})`).join(', ');
      for (const [table, t] of Object.entries(commit.tables)) {
        const audit = audits.get(table);
        if (!audit || !WRITTEN.has(t.status)) continue;
        const holds = audit.txns[appId];
        if (holds === undefined || holds < batchId) {
          // A table rebuilt by `pipeline replay` from Kafka holds the batch's records under the
          // replay's txns (one per partition, the next offset) instead of the stream's.
          if (replayed(plan, table, audit.txns, range)) continue;
          // Otherwise the table is behind the checkpoint: at its last batch (a table restored
          // or rolled back), or further (a table deleted and written again since).
          const last = batchId === verdict.lastCommitted;
          discrepancies.push({ kind: last ? 'checkpoint-ahead' : 'txn-missing', stream, table, batchId, message: `table ${table}: stream ${stream} committed batch ${batchId} (${span}) in its checkpoint, but the table holds ${holds === undefined ? 'no batch' : `batches up to ${holds}`} of ${appId}` });
          continue;
        }
        // A batch written by this commit must be in that log version, with this stream's txn.
        if (t.status !== 'committed' || audit.missingCommits.includes(t.version)) continue;
        const txns = await commitTxns(audit.path, t.version);
        if (txns === undefined) continue; // cleaned up behind a checkpoint
        if (!txns.some((x) => x.appId === appId && Number(x.version) === batchId)) {
          discrepancies.push({ kind: 'txn-missing', stream, table, batchId, message: `table ${table}: version ${t.version} should record batch ${batchId} of ${appId} (${span}) but does not` });
        }
      }
    }
    verdict.batchesCounted = checkCounts(stream, events, plan.deadLetter.table, discrepancies);
    if (topic && !('unreachable' in topic)) checkAgainstTopic(stream, readCommittedPositions(plan.checkpointPath, stream), topic, discrepancies);
    verdict.ok = discrepancies.slice(before).length === 0;
  }
  const tables: TableVerdict[] = [...paths].map(([table, path]) => {
    const a = audits.get(table)!;
    return { table, path, exists: a.exists, version: a.version, files: a.files, txns: a.txns, ok: !discrepancies.some((d) => d.table === table) };
  });
  const broker = !topic ? { reachable: false, reason: 'not asked' } : 'unreachable' in topic ? { reachable: false, reason: topic.unreachable } : { reachable: true };
  return { pipeline: plan.pipeline, broker, streams, tables, discrepancies };
}
