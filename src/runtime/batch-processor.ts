/**
 * Runs one micro-batch of one stream through the exactly-once protocol:
 *
 *   offsets/<id> (ranges + validation schema)  →  decode/route/validate  →  per table, under
 *   the process-wide table lock: MERGE with txn(appId, id)  →  dead-letter table (same txn)
 *   →  commits/<id>  →  group offsets (lag tools only)
 *
 * A replayed batch reuses its offsets file (same ranges, same schema, same diversions), so
 * every record reaches the same table as the first time, and tables that already hold the
 * batch answer `already-committed`.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { ExpectationFailedError, SchemaMismatchError } from '../errors.js';
import type { Plan, SinkPlan } from './plan.js';
import { operatorCounts, rejectedStage, tablePrograms, type TableProgram } from './table-program.js';
import type { OperatorCount, RecordFailure, RoutedBatch, RoutedTable, TableRules, TableWriter } from '../operators/api.js';
import { timed, type BatchInput, type PhaseTimes, type RejectedRow, type WriteResult } from '../lake/types.js';
import { checkDeltaSink, knownColumns, writeDeltaSink } from '../operators/sink-delta.js';
import { tableRulesOf } from '../operators/table-shape.js';
import { deadLetterRow, writeDeadLetters, type RawRecord } from '../operators/sink-dead-letter.js';
import { writeWindowOutput } from '../operators/window-output.js';
import { sampleVisibility } from './latency.js';
import { BatchRecords, type CollectedBatch } from './record-chunk.js';
import type { OffsetsEntry, StreamCheckpoint } from './stream-checkpoint.js';
import type { Decoder } from './decode-pool.js';
import { prepareBatch } from './batch-transform.js';
import { failpoint } from './failpoints.js';
import { StreamWindows } from './window-batch.js';
import { alignWindowState, type WindowState } from '../operators/window.js';
import { METADATA_COLUMN_NAMES, metadataColumns } from './metadata-columns.js';
import { EVENTS_TABLE, qualityRows, writeQualityEvents } from './quality-events.js';
import { joinLocation } from '../lake/storage/location.js';
import type { Logger } from './logger.js';
import type { BatchStats, TableBatchStats } from './stream-protocol.js';
import { countDeadLetters, eventTimeOf, expectationFailed } from './batch-report.js';
import type { TableLockClient } from './table-locks.js';
import { sourceName } from '../spec/index.js';

export interface BatchProcessorOptions {
  plan: Plan;
  streamIndex: number;
  appId: string;
  lake: TableWriter;
  checkpoint: StreamCheckpoint;
  decoder: Decoder;
  locks: TableLockClient;
  logger: Logger;
  /** Tables of one batch committed concurrently. */
  tableConcurrency: number;
  /** How long operators' `prepare` retries an unreachable service (default 5 min). */
  registryRetryMs?: number;
}

/** A batch whose decode has started but whose sinks have not run. */
export interface PreparedBatch {
  entry: OffsetsEntry;
  replay: boolean;
  /** The batch's records in input order (index = record index of the transform), kept compact. */
  records: BatchRecords;
  /** Partition of each record. */
  partitions: Int32Array;
  /** Kafka timestamp (ms) of each record, for the latency histogram. */
  timestamps: Float64Array;
  routed: Promise<RoutedBatch>;
  stagingDir: string;
  decodeStarted: number;
  /** Set when the decode finished (it may finish long before the batch commits). */
  decodeMs?: number;
  /** Age of the batch's oldest record when the batch was cut (Kafka fetch plus waiting for the trigger). */
  waitMs: number;
  /** When prepare() returned: commit() starts after the previous batch's commit (the queue phase). */
  preparedAt: number;
}

/** Record `index` of a prepared batch with its coordinates and raw bytes (for the dead-letter table). */
function rawRecord(prepared: PreparedBatch, index: number): RawRecord {
  const { records } = prepared;
  return { partition: records.partitions[index]!, offset: records.offsets[index]!, timestamp: records.timestamps[index]!, key: records.key(index), value: records.value(index), headers: records.headers(index) };
}

/**
 * The operator state committed with the stream's newest committed batch (empty on a first
 * run), its append windows' partials in the order of the plan's measures.
 */
export function committedState(checkpoint: StreamCheckpoint, plan: Pick<Plan, 'windows'>): Record<string, unknown> {
  const recovered = checkpoint.recover();
  const last = (recovered.pending?.batchId ?? recovered.nextBatchId) - 1;
  const state: Record<string, unknown> = { ...((last >= 0 ? checkpoint.readCommit(last)?.state : undefined) ?? {}) };
  for (const w of plan.windows ?? []) if (state[w.id] !== undefined) state[w.id] = alignWindowState(state[w.id] as WindowState, w.measures);
  return state;
}

/** Runs batches for one stream. */
export class BatchProcessor {
  /** Each table's sink with the load program of its plan nodes. */
  private readonly programs: Map<string, TableProgram>;
  private readonly sinks: Map<string, SinkPlan>;
  /**
   * Known column types per table, refreshed after each of our commits. prepare() reads this
   * copy instead of the lake: the lake answers schema questions only after the table's pending
   * writes, which would serialise batch N+1's decode behind batch N's commit.
   */
  private schema?: Record<string, Record<string, string>>;

  /**
   * Operator state after the newest prepared batch. Each batch's transform starts from its
   * predecessor's state, which is the state committed with the previous batch on a restart.
   */
  private state: Promise<Record<string, unknown>>;

  /** Window state from commit to commit (windows are computed once the tables say which records they stored). */
  private readonly windows: StreamWindows;

  constructor(private readonly opts: BatchProcessorOptions) {
    this.programs = tablePrograms(opts.plan);
    this.sinks = new Map([...this.programs].map(([table, p]) => [table, p.sink]));
    const committed = committedState(opts.checkpoint, opts.plan);
    this.state = Promise.resolve(committed);
    this.windows = new StreamWindows(opts.plan, committed);
  }

  private async readSchema(): Promise<Record<string, Record<string, string>>> {
    // Side by side: each table is brought up to date from its log (the other streams' commits
    // included), ~45 ms for eleven tables one after another with two streams at 10,000 records/s.
    const { lake, plan } = this.opts;
    const columns = await Promise.all(plan.sinks.map((sink) => knownColumns(lake, sink)));
    return Object.fromEntries(plan.sinks.map((sink, i) => [sink.table, columns[i]!]));
  }

  /**
   * Starts a batch: fixes its offsets entry (ranges + the column types validation uses) and
   * starts decoding. Nothing is written yet, so this may overlap the previous batch's commit;
   * a replayed batch reuses its recorded entry.
   */
  async prepare(batchId: number, batch: CollectedBatch, pending?: OffsetsEntry): Promise<PreparedBatch> {
    const { plan, checkpoint } = this.opts;
    let entry = pending;
    if (!entry) {
      this.schema ??= await this.readSchema();
      entry = { batchId, appId: this.opts.appId, topic: sourceName(plan.source), ranges: batch.ranges, schema: this.schema, createdAt: new Date().toISOString() };
    }
    // Typed arrays and packed bytes per record: no object per record (GC pressure, memory).
    const records = new BatchRecords(batch);
    const { partitions, timestamps } = records;
    const cutAt = Date.now();
    let oldest = cutAt;
    for (let i = 0; i < records.count; i++) if (timestamps[i]! < oldest) oldest = timestamps[i]!;
    const tables: Record<string, TableRules> = {};
    for (const sink of this.sinks.values()) {
      tables[sink.table] = tableRulesOf(sink, entry.schema[sink.table] ?? {}, (plan.source.metadataColumns ?? []).map((m) => METADATA_COLUMN_NAMES[m]));
    }
    const stagingDir = join(checkpoint.dir, 'staging', String(entry.batchId));
    const decodeStarted = performance.now();
    const graph = { nodes: plan.nodes, edges: plan.edges };
    const packed = records.packValues();
    // Resolved on this thread before the values move to the decode thread (the transform is synchronous).
    const resolving = prepareBatch(graph, {
      values: packed,
      retryForMs: this.opts.registryRetryMs ?? 300_000,
      warn: (message, fields) => this.opts.logger.warn({ batchId: entry.batchId, ...fields }, message),
    });
    // A replay re-runs with the partitions of its recorded ranges (the same ownership as the first time).
    const owned = Object.keys(entry.ranges).map(Number).sort((a, b) => a - b);
    const routed = Promise.all([this.state, resolving]).then(([state, prepared]) =>
      this.opts.decoder.transform(packed, { graph, tables, outDir: stagingDir, state, prepared, partitions, owned }),
    );
    this.state = routed.then((r) => r.state);
    // A failed batch fails in commit(); the next batch's copy of that failure is never awaited.
    this.state.catch(() => {});
    const prepared: PreparedBatch = {
      entry, replay: pending !== undefined, records, partitions, timestamps, routed, stagingDir, decodeStarted, waitMs: pending ? 0 : cutAt - oldest, preparedAt: performance.now(),
    };
    // Awaited in commit(); a failure must not surface as an unhandled rejection meanwhile.
    routed.then(
      () => (prepared.decodeMs = performance.now() - decodeStarted),
      () => {},
    );
    return prepared;
  }

  /** Runs a prepared batch to its checkpoint commit. The previous batch must be committed. */
  async commit(prepared: PreparedBatch): Promise<BatchStats> {
    const { plan, checkpoint, appId, lake, locks } = this.opts;
    const { entry, replay, records } = prepared;
    const batchId = entry.batchId;
    const log = this.opts.logger.child({ batchId });
    const queueMs = performance.now() - prepared.preparedAt;
    // When each record became visible to readers: its table's commit (0: not yet known).
    const visibleAt = new Float64Array(records.count);
    // Time per phase of the lake writes, summed over the batch's tables (they run side by side).
    const phases: PhaseTimes = {};
    const underLock = <T>(path: string, fn: () => Promise<T>): Promise<T> => {
      const asked = performance.now();
      return locks.withLock(path, () => {
        phases.lockWait = (phases.lockWait ?? 0) + performance.now() - asked;
        return fn();
      });
    };
    if (!replay) checkpoint.writeOffsets(entry);
    failpoint('batch.after-offsets');
    const routed = await prepared.routed;
    const decodeMs = prepared.decodeMs ?? performance.now() - prepared.decodeStarted;

    const failures: RecordFailure[] = routed.failures;
    const decisions = replay ? checkpoint.readDecisions(batchId) : { diverted: {}, rejected: {} };
    const diverted = decisions.diverted;
    const tableStats: Record<string, TableBatchStats> = {};
    const versions: Record<string, number> = {};
    let commitRetries = 0;
    // Rows a table's `where` or `drop` expectations left out (counted drops, like `unmatched: drop`),
    // and each table's NULL and duplicate-key figures, for the batch's quality record.
    const droppedOf: Record<string, number> = {};
    const qualityOf: Record<string, NonNullable<WriteResult['quality']>> = {};
    const operatorCountsOf: Record<string, OperatorCount[]> = {};
    const commitStart = performance.now();
    const txn = { appId, version: batchId };
    // Records the tables refused or dropped: they count in no window.
    const excluded = new Set<number>();

    const inputs = new Map<RoutedTable, BatchInput>();
    const inputOf = (part: RoutedTable): BatchInput => {
      const known = inputs.get(part);
      if (known) return known;
      // Each row's Kafka position: upsert tables break sequenceBy ties with it (never by batch cut).
      const n = part.indices.length;
      const partitions = new Int32Array(n);
      const offsets = new Float64Array(n);
      for (let k = 0; k < n; k++) {
        const i = part.indices[k]!;
        partitions[k] = prepared.partitions[i]!;
        offsets[k] = records.offsets[i]!;
      }
      const meta = plan.source.metadataColumns;
      const attached = meta ? { attached: metadataColumns(meta, plan.source.keyFormat ?? 'string', entry.topic, records, part.indices) } : {};
      const input: BatchInput = { kind: 'ndjson', path: part.path, rowCount: part.count, kinds: part.kinds, positions: { partitions, offsets }, ...attached };
      inputs.set(part, input);
      return input;
    };
    // `fail` expectations are checked on every table before any commits: a failing record
    // leaves every table at its previous version, and a fixed restart replays the batch exactly.
    for (const part of routed.tables) {
      const sink = this.sinks.get(part.table)!;
      if (diverted[part.table] !== undefined) continue;
      try {
        await locks.withLock(sink.path, () => checkDeltaSink(lake, sink, inputOf(part), txn));
      } catch (err) {
        if (err instanceof ExpectationFailedError) throw expectationFailed(err, part, prepared);
        if (!(err instanceof SchemaMismatchError)) throw err;
        // The write below meets the same refusal and diverts the table's records.
      }
    }

    const writeOne = async (part: RoutedTable): Promise<void> => {
      const sink = this.sinks.get(part.table)!;
      if (diverted[part.table] === undefined) {
        try {
          const started = performance.now();
          // Rows the lake leaves out are recorded before its commit, so a replay that finds the
          // table committed dead-letters the same records.
          const record = (rejected: RejectedRow[]) => {
            if (rejected.length === 0 && decisions.rejected[part.table] === undefined) return;
            decisions.rejected[part.table] = rejected;
            checkpoint.writeDecisions(batchId, decisions);
          };
          const input = inputOf(part);
          const result = await underLock(sink.path, () => writeDeltaSink(lake, sink, input, txn, record, phases));
          const rejected = result.status === 'already-committed' ? (decisions.rejected[part.table] ?? []) : result.rejected;
          if (result.quality) qualityOf[part.table] = result.quality;
          const program = this.programs.get(part.table)!;
          for (const r of rejected) {
            excluded.add(part.indices[r.row]!);
            if (r.dropped) droppedOf[part.table] = (droppedOf[part.table] ?? 0) + 1;
            else failures.push({ index: part.indices[r.row]!, stage: rejectedStage(program, r), table: part.table, error: `table '${part.table}': ${r.reason}` });
          }
          if (program.nodes.length > 0) operatorCountsOf[part.table] = operatorCounts(program, part.count, rejected);
          tableStats[part.table] = {
            status: result.status, rowsIn: result.rowsIn, inserted: result.rowsInserted, updated: result.rowsUpdated, deleted: result.rowsDeleted,
            ...(result.expectations && result.expectations.length > 0 ? { expectations: result.expectations } : {}),
          };
          versions[part.table] = result.version;
          commitRetries += result.conflictsRetried;
          const committedAt = Date.now();
          for (const i of part.indices) visibleAt[i] = committedAt;
          log.debug({ table: part.table, status: result.status, rows: part.count, rejected: rejected.length, widened: result.widened, version: result.version, ms: Math.round(performance.now() - started) }, 'table committed');
          failpoint('batch.after-table-commit');
          return;
        } catch (err) {
          if (err instanceof ExpectationFailedError) throw expectationFailed(err, part, prepared);
          if (!(err instanceof SchemaMismatchError)) throw err;
          diverted[part.table] = err.message;
          // Recorded before the dead-letter commit so a replay diverts the same records.
          checkpoint.writeDecisions(batchId, decisions);
          log.warn({ table: part.table, err: err.message, rows: part.count }, 'table refused the batch; its records go to the dead-letter table');
        }
      }
      tableStats[part.table] = { status: 'diverted', rowsIn: 0, inserted: 0, updated: 0, deleted: 0 };
      for (const index of part.indices) excluded.add(index);
      for (const index of part.indices) failures.push({ index, stage: 'sink', table: part.table, error: `table '${part.table}': ${diverted[part.table]}` });
    };
    // Biggest tables first, so the slowest commit starts earliest.
    const queue = [...routed.tables].sort((a, b) => b.count - a.count || a.table.localeCompare(b.table));
    const worker = async () => {
      for (let part = queue.shift(); part; part = queue.shift()) await writeOne(part);
    };
    const results = await Promise.allSettled(Array.from({ length: Math.min(this.opts.tableConcurrency, queue.length) }, worker));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;

    // Update windows merge here; append windows are written by the window emitter.
    const windows = await this.windows.apply(lake, routed, excluded);
    const windowWrites = (plan.windows ?? []).map(async (w) => {
      const cells = windows.cells[w.id];
      if (!cells || cells.length === 0) return;
      const result = await timed(phases, 'windows', () => underLock(w.path, () => writeWindowOutput(lake, w, { mode: 'update', cells }, txn)));
      if (!result) return;
      tableStats[w.name] = { status: result.status, rowsIn: result.rowsIn, inserted: result.rowsInserted, updated: result.rowsUpdated, deleted: 0 };
      versions[w.name] = result.version;
      failpoint('batch.after-table-commit');
    });

    const quality = qualityRows(
      { pipeline: plan.pipeline, stream: this.opts.streamIndex, batchId, replay, committedAt: new Date().toISOString() },
      routed.tables.map((part) => ({ table: part.table, routed: part.count, dropped: droppedOf[part.table] ?? 0, stats: tableStats[part.table]!, quality: qualityOf[part.table] })),
      failures,
      routed.dropped,
    );
    // The window tables, the dead letters and the quality record are independent tables: committed side by side.
    const deadLetters = async () => {
      if (failures.length === 0) return;
      failures.sort((a, b) => a.index - b.index);
      const ctx = { topic: entry.topic, pipeline: plan.pipeline, stream: this.opts.streamIndex, batchId };
      const rows = failures.map((f) => deadLetterRow(rawRecord(prepared, f.index), f.stage, f.error, ctx));
      const result = await timed(phases, 'deadLetter', () => underLock(plan.deadLetter.path, () => writeDeadLetters(lake, plan.deadLetter.path, rows, txn)));
      const committedAt = Date.now();
      for (const f of failures) visibleAt[f.index] = committedAt;
      tableStats[plan.deadLetter.table] = { status: result.status, rowsIn: result.rowsIn, inserted: result.rowsInserted, updated: 0, deleted: 0 };
      versions[plan.deadLetter.table] = result.version;
      failpoint('batch.after-table-commit');
    };
    const events = async () => {
      if (quality.length === 0) return;
      log.info({ quality: quality.map(({ pipeline: _p, stream: _s, batch_id: _b, committed_at: _c, ...row }) => row) }, 'batch quality');
      const eventsPath = joinLocation(plan.outputPath, EVENTS_TABLE);
      await timed(phases, 'quality', () => underLock(eventsPath, () => writeQualityEvents(lake, eventsPath, quality, txn)));
      failpoint('batch.after-table-commit');
    };
    const written = await Promise.allSettled([...windowWrites, deadLetters(), events()]);
    const writeFailed = written.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (writeFailed) throw writeFailed.reason;
    const commitMs = performance.now() - commitStart;

    failpoint('batch.before-checkpoint-commit');
    const state = { ...routed.state, ...windows.state };
    const checkpointStarted = performance.now();
    checkpoint.writeCommit({
      batchId,
      committedAt: new Date().toISOString(),
      records: records.count,
      tables: Object.fromEntries(Object.entries(tableStats).map(([t, s]) => [t, { status: s.status, version: versions[t] ?? -1 }])),
      ...(Object.keys(state).length > 0 ? { state } : {}),
    });
    // Visible in every table from here on; replays carry old timestamps, so they are left out.
    const checkpointedAt = Date.now();
    for (let i = 0; i < visibleAt.length; i++) if (visibleAt[i] === 0) visibleAt[i] = checkpointedAt;
    const latency = replay ? undefined : sampleVisibility(prepared.timestamps, visibleAt);
    rmSync(prepared.stagingDir, { recursive: true, force: true });
    checkpoint.prune(batchId);
    this.schema = await this.readSchema();
    const checkpointMs = performance.now() - checkpointStarted;

    const clock = eventTimeOf(plan, routed.state);
    const stats: BatchStats = {
      ...clock,
      stream: this.opts.streamIndex,
      batchId,
      replay,
      records: records.count,
      deadLettered: failures.length,
      deadLetters: countDeadLetters(failures),
      dropped: routed.dropped + Object.values(droppedOf).reduce((a, b) => a + b, 0),
      tables: tableStats,
      ...(Object.keys(operatorCountsOf).length > 0 ? { operators: Object.keys(operatorCountsOf).sort().flatMap((t) => operatorCountsOf[t]!) } : {}),
      durationMs: performance.now() - prepared.decodeStarted,
      decodeMs,
      commitMs,
      phasesMs: { wait: prepared.waitMs, queue: queueMs, decode: decodeMs, commit: commitMs, ...phases, checkpoint: checkpointMs },
      commitRetries,
      latency,
      ...(Object.keys(state).length > 0 ? { state } : {}),
    };
    log.debug({ records: stats.records, deadLettered: stats.deadLettered, dropped: stats.dropped, replay, decodeMs: Math.round(decodeMs), commitMs: Math.round(commitMs) }, 'batch committed');
    return stats;
  }
}
