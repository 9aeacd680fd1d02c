/**
 * `pipeline deadletter replay`: re-runs dead-lettered raw records through the current spec,
 * with the same batch processor as `pipeline run`, exactly once.
 *
 * The replay is a stream of its own (appId `<pipeline>/deadletter-replay`, checkpoint under
 * `<checkpointPath>/deadletter-replay/`). Each replay batch first records its selection (the
 * raw records) next to its checkpoint, then runs through the processor (tables marked with the
 * replay stream's txn), then appends one row per record to `<output>/_deadletter_replays`
 * under the same txn. A record is due while the dead-letter table holds more rows for its
 * coordinates than the newest mark counted. A record that fails again gets a new dead-letter
 * row (stream {@link REPLAY_STREAM}) that its mark counts too: it is not due again until
 * something dead-letters it anew or `--retry-failed` asks for it (after a further fix).
 * `--reason`/`--stage`/`--table` match any of a record's dead-letter rows. An interrupted replay is finished from its
 * recorded selection before anything new is selected, so a crash anywhere replays nothing twice.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Lake } from '../lake/index.js';
import { joinLocation } from '../lake/storage/location.js';
import type { Plan } from './plan.js';
import type { Logger } from './logger.js';
import { StreamCheckpoint, type OffsetsEntry } from './stream-checkpoint.js';
import { createDecoder } from './decode-pool.js';
import { BatchProcessor } from './batch-processor.js';
import { TableLockClient } from './table-locks.js';
import { splitReason, type DeadLetterFilter } from './dead-letter-summary.js';
import { writeFileAtomic } from './atomic-file.js';
import { failpoint } from './failpoints.js';
import { decodeHeaders } from '../operators/sink-dead-letter.js';
import type { DeadLetterCount } from './stream-protocol.js';
import { sourceName } from '../spec/index.js';
import { batchOf, type SourceRecord } from './record-chunk.js';

/** The `stream` of the dead-letter and `_events` rows a replay writes. */
export const REPLAY_STREAM = -1;

/** The table of replay marks, under the output path. */
export const REPLAYS_TABLE = '_deadletter_replays';

const REPLAY_COLUMNS: Record<string, string> = {
  topic: 'VARCHAR',
  partition: 'INTEGER',
  offset: 'BIGINT',
  dead_letter_rows: 'BIGINT',
  replay_batch: 'BIGINT',
  failed_again: 'BOOLEAN',
  replayed_at: 'TIMESTAMPTZ',
};

/** Filters of `deadletter replay`: those of `show`, plus the table a record was routed to. */
export interface ReplayFilter extends DeadLetterFilter {
  table?: string;
  /** Also take the records whose last replay failed again (after a further fix). */
  retryFailed?: boolean;
}

/** One record chosen for replay: its raw bytes and how many dead-letter rows it had. */
export interface ReplayRecord {
  partition: number;
  offset: number;
  timestamp: number;
  key: string | null;
  keyEncoding: string | null;
  value: string | null;
  valueEncoding: string | null;
  /** The record's Kafka headers as the dead-letter table keeps them (JSON), or null. */
  headers?: string | null;
  deadLetterRows: number;
}

/** What a replay did. */
export interface ReplayReport {
  /** Records replayed (including an interrupted replay finished first). */
  replayed: number;
  /** Records of an interrupted replay that this one finished (their batch, or only their marks). */
  recovered: number;
  /** Rows written to tables (records that landed). */
  landed: number;
  dropped: number;
  /** Records that failed again, now in the dead-letter table with their new reason. */
  failedAgain: number;
  failures: DeadLetterCount[];
  /** Matching dead-letter records of another topic, which the current source cannot decode as its own. */
  otherTopic: number;
}

const coord = (p: unknown, o: unknown) => `${Number(p)}@${Number(o)}`;

function instant(v: unknown): number | undefined {
  if (v === null || v === undefined) return undefined;
  const ms = v instanceof Date ? v.getTime() : Date.parse(String(v));
  return Number.isNaN(ms) ? undefined : ms;
}

/**
 * The records due for replay, in (partition, offset) order: coordinates of `topic` with more
 * dead-letter rows than their newest mark counted, and at least one row matching `filter`.
 */
export function selectForReplay(deadLetters: Record<string, unknown>[], marks: Record<string, unknown>[], topic: string, filter: ReplayFilter): { due: ReplayRecord[]; otherTopic: number } {
  const counted = new Map<string, number>();
  const failedAgain = new Set<string>();
  for (const m of marks) {
    if (m.topic !== topic) continue;
    const k = coord(m.partition, m.offset);
    const n = Number(m.dead_letter_rows);
    if (n < (counted.get(k) ?? 0)) continue;
    counted.set(k, n);
    if (m.failed_again === true) failedAgain.add(k);
    else failedAgain.delete(k);
  }
  const byCoord = new Map<string, { rows: Record<string, unknown>[]; matches: boolean }>();
  const needle = filter.reason?.toLowerCase();
  let otherTopic = 0;
  for (const r of deadLetters) {
    const { table, reason } = splitReason(String(r.error ?? ''));
    const ts = instant(r.timestamp);
    const matches = (filter.stage === undefined || r.stage === filter.stage)
      && (needle === undefined || reason.toLowerCase().includes(needle))
      && (filter.table === undefined || table === filter.table)
      && (filter.sinceMs === undefined || (ts !== undefined && ts >= filter.sinceMs));
    if (r.topic !== topic) {
      if (matches) otherTopic++;
      continue;
    }
    const k = coord(r.partition, r.offset);
    const g = byCoord.get(k) ?? { rows: [], matches: false };
    g.rows.push(r);
    g.matches ||= matches;
    byCoord.set(k, g);
  }
  const due: ReplayRecord[] = [];
  for (const [k, g] of byCoord) {
    const again = filter.retryFailed === true && failedAgain.has(k) && g.rows.length === counted.get(k);
    if (!g.matches || (g.rows.length <= (counted.get(k) ?? 0) && !again)) continue;
    const r = g.rows[0]!;
    due.push({
      partition: Number(r.partition), offset: Number(r.offset), timestamp: instant(r.timestamp) ?? -1,
      key: (r.key as string | null) ?? null, keyEncoding: (r.key_encoding as string | null) ?? null,
      value: (r.value as string | null) ?? null, valueEncoding: (r.value_encoding as string | null) ?? null,
      headers: (r.headers as string | null | undefined) ?? null,
      deadLetterRows: g.rows.length,
    });
  }
  return { due: due.sort((a, b) => a.partition - b.partition || a.offset - b.offset), otherTopic };
}

function bytes(text: string | null, encoding: string | null): Buffer | null {
  if (text === null) return null;
  return Buffer.from(text, encoding === 'base64' ? 'base64' : 'utf8');
}

/** The batch a selection makes: messages per partition and each partition's offset span. */
function asBatch(records: ReplayRecord[]) {
  const messages = new Map<number, SourceRecord[]>();
  const ranges: Record<string, [number, number]> = {};
  for (const r of records) {
    const m: SourceRecord = { offset: String(r.offset), key: bytes(r.key, r.keyEncoding), value: bytes(r.value, r.valueEncoding), timestamp: String(r.timestamp), headers: decodeHeaders(r.headers) };
    messages.set(r.partition, [...(messages.get(r.partition) ?? []), m]);
    const span = ranges[r.partition];
    ranges[r.partition] = [Math.min(span?.[0] ?? r.offset, r.offset), Math.max(span?.[1] ?? 0, r.offset + 1)];
  }
  return batchOf(ranges, messages);
}

/** Replays the due records of `plan`'s dead-letter table (see the module comment). */
export async function replayDeadLetters(lake: Lake, plan: Plan, filter: ReplayFilter, logger: Logger): Promise<ReplayReport> {
  const topic = sourceName(plan.source);
  const appId = `${plan.pipeline}/deadletter-replay`;
  const checkpoint = new StreamCheckpoint(join(plan.checkpointPath, 'deadletter-replay'), 0);
  const selections = join(checkpoint.dir, 'selections');
  mkdirSync(selections, { recursive: true });
  const marksPath = joinLocation(plan.outputPath, REPLAYS_TABLE);
  const processor = new BatchProcessor({
    plan, streamIndex: REPLAY_STREAM, appId, lake, checkpoint, decoder: createDecoder(0), locks: new TableLockClient(undefined), logger, tableConcurrency: 2,
  });
  const report: ReplayReport = { replayed: 0, recovered: 0, landed: 0, dropped: 0, failedAgain: 0, failures: [], otherTopic: 0 };
  const selectionOf = (id: number) => JSON.parse(readFileSync(join(selections, `${id}.json`), 'utf8')) as ReplayRecord[];

  // A mark counts the record's dead-letter rows including the one its failing again added, so it is due only after that.
  const mark = async (records: ReplayRecord[], batchId: number) => {
    const again = new Map<string, number>();
    if (await lake.exists(plan.deadLetter.path)) {
      for (const r of await lake.scan(plan.deadLetter.path)) {
        if (r.topic !== topic || Number(r.stream) !== REPLAY_STREAM || Number(r.batch_id) !== batchId || r.pipeline !== plan.pipeline) continue;
        again.set(coord(r.partition, r.offset), (again.get(coord(r.partition, r.offset)) ?? 0) + 1);
      }
    }
    const at = new Date().toISOString();
    const rows = records.map((r) => {
      const added = again.get(coord(r.partition, r.offset)) ?? 0;
      return { topic, partition: r.partition, offset: r.offset, dead_letter_rows: r.deadLetterRows + added, replay_batch: batchId, failed_again: added > 0, replayed_at: at };
    });
    await lake.write(marksPath, { kind: 'rows', rows }, { mode: 'append', columns: REPLAY_COLUMNS, txn: { appId, version: batchId } });
  };
  const run = async (records: ReplayRecord[], batchId: number, pending?: OffsetsEntry) => {
    const stats = await processor.commit(await processor.prepare(batchId, asBatch(records), pending));
    failpoint('replay.before-marks');
    await mark(records, batchId);
    report.replayed += stats.records;
    report.dropped += stats.dropped;
    report.failedAgain += stats.deadLettered;
    report.landed += stats.records - stats.deadLettered - stats.dropped;
    for (const d of stats.deadLetters) {
      const same = report.failures.find((f) => f.table === d.table && f.stage === d.stage && f.reason === d.reason);
      if (same) same.count += d.count;
      else report.failures.push({ ...d });
    }
  };

  // An interrupted replay first: its batch again (tables that hold it answer already-committed), or only its marks.
  const recovered = checkpoint.recover();
  if (recovered.pending) {
    const records = selectionOf(recovered.pending.batchId);
    await run(records, recovered.pending.batchId, recovered.pending);
    report.recovered = records.length;
  } else if (recovered.nextBatchId > 0 && ((await lake.txnVersion(marksPath, appId)) ?? -1) < recovered.nextBatchId - 1) {
    const records = selectionOf(recovered.nextBatchId - 1);
    await mark(records, recovered.nextBatchId - 1);
    report.recovered = records.length;
  }

  const deadLetters = (await lake.exists(plan.deadLetter.path)) ? await lake.scan(plan.deadLetter.path) : [];
  const marks = (await lake.exists(marksPath)) ? await lake.scan(marksPath) : [];
  const { due, otherTopic } = selectForReplay(deadLetters, marks, topic, filter);
  report.otherTopic = otherTopic;
  // Above every batch a table already holds from this appId: a deleted replay checkpoint must
  // not restart at a batch id the tables would answer `already-committed` for.
  let batchId = checkpoint.recover().nextBatchId;
  for (const path of [marksPath, plan.deadLetter.path, ...plan.sinks.map((x) => x.path)]) {
    if (await lake.exists(path)) batchId = Math.max(batchId, ((await lake.txnVersion(path, appId)) ?? -1) + 1);
  }
  const size = Math.max(1, plan.trigger.maxRecordsPerBatch);
  for (let i = 0; i < due.length; i += size, batchId++) {
    const records = due.slice(i, i + size);
    // The selection is on disk before the batch's offsets, so a restart finishes this very batch.
    writeFileAtomic(join(selections, `${batchId}.json`), JSON.stringify(records));
    await run(records, batchId);
  }
  return report;
}
