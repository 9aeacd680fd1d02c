/**
 * The bronze and gold jobs of a staged pipeline: each reads a Delta table by version (the
 * source-delta operator), keeps its position in its own write-ahead log (`offsets/<id>` holds
 * the version range `[from, until)` under pseudo-partition 0, written before any table), and
 * marks every table it writes with its txn, so a batch replayed after a crash reads the same
 * versions and writes nothing twice.
 *
 * bronze: raw rows become the records the fused graph sees (same bytes, same Kafka partition
 * and offset, key and headers), run through decode → route → table shaping; each gold table's
 * share lands in its bronze table as the exact NDJSON line the fused run would merge, with its
 * coordinates (and its Kafka metadata column values, when the spec asks for them).
 * gold: each bronze table's new lines are merged into its gold table with those coordinates,
 * so ties break as in the fused run and the gold tables come out the same.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { CheckpointError, PipelineError } from '../errors.js';
import type { Lake } from '../lake/index.js';
import type { Plan } from './plan.js';
import { MAX_VERSIONS_PER_BATCH, type StagedJobs } from './staged-plan.js';
import type { TableWriter } from '../operators/api.js';
import { writeDeltaSink } from '../operators/sink-delta.js';
import { deadLetterRow, writeDeadLetters } from '../operators/sink-dead-letter.js';
import { decodeHeaders } from '../operators/sink-raw.js';
import { capRows, type DeltaSourceProps, type VersionRead } from '../operators/source-delta.js';
import type { AttachedColumns, BatchInput, WriteOptions } from '../lake/types.js';
import { metadataColumnTypes } from './metadata-columns.js';
import { StreamCheckpoint, type OffsetsEntry } from './stream-checkpoint.js';
import { createDecoder } from './decode-pool.js';
import { failpoint } from './failpoints.js';
import type { Logger } from './logger.js';
import { BatchProcessor, committedState } from './batch-processor.js';
import { WindowEmitter } from './window-emitter.js';
import { TableLockClient } from './table-locks.js';
import { rejectedStage, tablePrograms, type TableProgram } from './table-program.js';
import { sourceName } from '../spec/index.js';
import { batchOf, type SourceRecord } from './record-chunk.js';
import { deadLetterLimitPassed } from './runner.js';

/** Columns of a bronze table: a routed, validated record as its exact JSON line, with its Kafka coordinates. */
export const BRONZE_COLUMNS: Record<string, string> = { partition: 'INTEGER', offset: 'BIGINT', timestamp: 'TIMESTAMPTZ', record: 'VARCHAR' };

/**
 * With `source.metadataColumns`, a bronze row also keeps the record's metadata column values
 * (`{"values": [...], "reject": "<why a value cannot be read>"}` in the columns' order), so
 * gold attaches them with the types a fused run gives them.
 */
export const BRONZE_METADATA = 'metadata';

/** The metadata columns gold attaches to its rows, from the bronze rows' {@link BRONZE_METADATA}. */
function bronzeMetadata(plan: Plan, rows: Record<string, unknown>[]): AttachedColumns | undefined {
  const wanted = plan.source.metadataColumns;
  if (!wanted || wanted.length === 0) return undefined;
  const values: unknown[][] = [];
  const rejects: (string | undefined)[] = [];
  for (const r of rows) {
    const stored = typeof r[BRONZE_METADATA] === 'string' ? (JSON.parse(r[BRONZE_METADATA]) as { values: unknown[]; reject?: string }) : undefined;
    values.push(stored?.values ?? wanted.map(() => null));
    // A row bronze wrote before the spec asked for metadata columns has none to give.
    rejects.push(stored ? stored.reject : 'the bronze row was written without its Kafka metadata columns (source.metadataColumns was added since): replay the table from raw (pipeline replay --from-raw)');
  }
  return { columns: metadataColumnTypes(wanted, plan.source.keyFormat ?? 'string'), values, rejects };
}


/** What a job loop needs to know about its run. */
export interface JobRunOptions {
  lake: Lake;
  logger: Logger;
  /** Stop once the source holds nothing new; otherwise poll at the job's interval until `stopped()`. */
  availableNow: boolean;
  stopped: () => boolean;
}

/** What one job did. */
export interface JobResult {
  batches: number;
  records: number;
  /** Records (rows) the job wrote to the dead-letter table. */
  deadLettered?: number;
}

/** Records a job read and dead-lettered in this run, judged against the spec's deadLetter limits as a fused run's are. */
interface Tally {
  records: number;
  deadLettered: number;
}

/** The coded error of a job past a deadLetter limit after its batch committed (its writes stay), or undefined. */
function limitError(plan: Plan, job: 'bronze' | 'gold', t: Tally, atEnd: boolean): PipelineError | undefined {
  const what = deadLetterLimitPassed(plan, t, atEnd);
  if (!what) return undefined;
  return new PipelineError('PIPE_RUN_DEAD_LETTER_LIMIT', `${job}: ${t.deadLettered} records went to the dead-letter table, ${what}`, {
    hint: `nothing is lost: read them with \`pipeline table head ${plan.deadLetter.path}\`, fix the spec or the producer, then run again; raise deadLetter.maxRatio / maxRecords to accept this rate`,
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Reads `source` by version in batches, resuming from (or replaying) the checkpoint, and
 * hands each batch to `run`, which must write its checkpoint's offsets and commit entries.
 */
export async function versionLoop(
  source: DeltaSourceProps,
  checkpoint: StreamCheckpoint,
  intervalMs: number,
  run: JobRunOptions,
  batch: (batchId: number, ranges: OffsetsEntry['ranges'], rows: Record<string, unknown>[], pending: OffsetsEntry | undefined, read: VersionRead) => Promise<void>,
): Promise<JobResult> {
  const result: JobResult = { batches: 0, records: 0 };
  const recovered = checkpoint.recover();
  let pending = recovered.pending;
  let batchId = recovered.nextBatchId;
  let next = recovered.positions.get(0) ?? 0;
  let tableId = checkpoint.readSourceTable();
  while (!run.stopped()) {
    const exists = await run.lake.exists(source.path);
    if (exists) {
      // Versions are positions in one table: a table deleted and created again at the same
      // path starts its versions over, and reading on from ours would skip its first ones.
      const id = (await run.lake.snapshot(source.path)).tableId;
      if (tableId !== undefined && id !== tableId) throw sourceReplaced(source.path, checkpoint, next, tableId, id);
      if (tableId === undefined) checkpoint.writeSourceTable((tableId = id));
    }
    let read = !exists
      ? undefined
      : pending
        ? await run.lake.readChanges(source.path, pending.ranges['0']![0] - 1, { removes: source.removes, upTo: pending.ranges['0']![1] - 1 })
        : await run.lake.readChanges(source.path, next - 1, { removes: source.removes, maxVersions: source.maxVersionsPerBatch });
    if (read && !pending && source.maxRowsPerBatch !== undefined) read = capRows(read, source.maxRowsPerBatch);
    if (!read || (!pending && read.changes.upTo < next)) {
      if (run.availableNow) break;
      const until = performance.now() + intervalMs;
      while (!run.stopped() && performance.now() < until) await sleep(Math.min(500, until - performance.now()));
      continue;
    }
    const ranges = pending?.ranges ?? { '0': [next, read.changes.upTo + 1] as [number, number] };
    await batch(pending?.batchId ?? batchId, ranges, read.rows, pending, read);
    result.batches++;
    result.records += read.rows.length;
    batchId = (pending?.batchId ?? batchId) + 1;
    next = ranges['0']![1];
    pending = undefined;
  }
  return result;
}

/** The coded error of a Delta source whose table was replaced by another one at its path. */
function sourceReplaced(path: string, checkpoint: StreamCheckpoint, next: number, was: string, now: string): CheckpointError {
  return new CheckpointError('PIPE_CHECKPOINT_SOURCE_REPLACED', `checkpoint ${checkpoint.dir} read Delta table ${path} (id ${was}) up to version ${next - 1}, but the table there now is another one (id ${now}): it was deleted and created again, and its versions start over`, {
    hint: `to read the new table from its start, delete the checkpoint (${dirname(checkpoint.dir)}) and run with --reset (tables it feeds by append receive its rows again); or restore the old table`,
    details: { table: path, checkpoint: checkpoint.dir, was, now, nextVersion: next },
  });
}

/** Milliseconds since the epoch of a TIMESTAMPTZ value as the lake returns it. */
function epochMs(v: unknown): number {
  if (v instanceof Date) return v.getTime();
  if (typeof v === 'number') return v;
  if (typeof v === 'string') return Date.parse(v);
  return Number.NaN;
}

/** The bronze job's plan: the fused graph whose table sinks write the bronze tables. */
function bronzePlan(plan: Plan, jobs: StagedJobs): Plan {
  const paths = new Map(jobs.bronze.tables.map((t) => [t.table, t.path]));
  return { ...plan, job: 'bronze', trigger: jobs.bronze.trigger, checkpointPath: jobs.bronze.checkpointPath, sinks: plan.sinks.map((s) => ({ ...s, path: paths.get(s.table)! })) };
}

/**
 * The lake as the bronze job's BatchProcessor sees it: a bronze table answers schema questions
 * with its gold table's columns (records are shaped for the gold table, as when fused), and a
 * write to it appends each NDJSON line with its coordinates instead of merging.
 */
function bronzeWriter(lake: Lake, plan: Plan, jobs: StagedJobs, timestamps: Map<string, number>): TableWriter {
  const gold = new Map(jobs.bronze.tables.map((t) => [t.path, plan.sinks.find((s) => s.table === t.table)!.path]));
  return {
    exists: (path) => lake.exists(gold.get(path) ?? path),
    columns: (path) => lake.columns(gold.get(path) ?? path),
    // A `fail` expectation is judged as the gold write will judge it: a failing record stops
    // bronze before anything of its batch lands, and raw and gold go on without it.
    checkExpectations: (path, input, opts) => lake.checkExpectations(gold.get(path) ?? path, input, opts),
    txnVersion: (path, appId) => lake.txnVersion(path, appId),
    async write(path: string, input: BatchInput, opts: WriteOptions) {
      if (!gold.has(path) || input.kind !== 'ndjson') return lake.write(path, input, opts);
      // The gold write's load decisions (values that do not convert, derive, where,
      // expectations), taken here on the gold table as it is, as a fused run takes them: what
      // it leaves out is dead-lettered or counted by bronze with the record's own bytes, and
      // left out of the windows bronze computes; bronze keeps the rest.
      const { txn: _txn, beforeCommit, ...load } = opts;
      const rejected = await lake.loadRejects(gold.get(path)!, input, load);
      const out = new Set(rejected.map((r) => r.row));
      const lines = readFileSync(input.path, 'utf8').split('\n');
      const positions = input.positions!;
      const { attached } = input;
      const rows: Record<string, unknown>[] = [];
      for (let i = 0; i < positions.partitions.length; i++) {
        if (out.has(i)) continue;
        const ms = timestamps.get(`${positions.partitions[i]}:${positions.offsets[i]}`) ?? Number.NaN;
        const row: Record<string, unknown> = { partition: positions.partitions[i], offset: positions.offsets[i], timestamp: Number.isFinite(ms) ? new Date(ms).toISOString() : null, record: lines[i] };
        if (attached) row[BRONZE_METADATA] = JSON.stringify({ values: attached.values[i], ...(attached.rejects?.[i] ? { reject: attached.rejects[i] } : {}) });
        rows.push(row);
      }
      const columns = attached ? { ...BRONZE_COLUMNS, [BRONZE_METADATA]: 'VARCHAR' } : BRONZE_COLUMNS;
      const result = await lake.write(path, { kind: 'rows', rows }, {
        mode: 'append', columns, ...(opts.txn ? { txn: opts.txn } : {}), operationParameters: opts.operationParameters,
        // Recorded before the bronze commit, so a batch replayed after a crash dead-letters the same records.
        beforeCommit: () => beforeCommit?.(rejected),
      });
      return { ...result, rejected };
    },
  };
}

/** Runs the bronze job: the raw table, by version, through the graph into the bronze tables. */
export async function runBronzeJob(plan: Plan, jobs: StagedJobs, run: JobRunOptions): Promise<JobResult> {
  const checkpoint = new StreamCheckpoint(jobs.bronze.checkpointPath, 0);
  rmSync(join(checkpoint.dir, 'staging'), { recursive: true, force: true });
  const timestamps = new Map<string, number>();
  const decoder = createDecoder(0);
  const locks = new TableLockClient(undefined);
  const logger = run.logger.child({ job: 'bronze' });
  const processor = new BatchProcessor({
    plan: bronzePlan(plan, jobs), streamIndex: 0, appId: jobs.bronze.appId, lake: bronzeWriter(run.lake, plan, jobs, timestamps), checkpoint, decoder, locks, logger, tableConcurrency: 2,
  });
  const source: DeltaSourceProps = { path: jobs.raw.path, removes: 'fail', maxVersionsPerBatch: MAX_VERSIONS_PER_BATCH };
  // Bronze is the one stream computing windows: it also writes the append windows it closes.
  const emitter = new WindowEmitter({ plan, lake: run.lake, streams: [0], logger });
  emitter.observe(0, committedState(checkpoint, plan));
  await emitter.emit();
  const tally: Tally = { records: 0, deadLettered: 0 };
  try {
    const result = await versionLoop(source, checkpoint, jobs.bronze.trigger.intervalMs, run, async (batchId, ranges, rows, pending) => {
      const messages = new Map<number, SourceRecord[]>();
      timestamps.clear();
      for (const r of rows) {
        const partition = Number(r.partition);
        const ms = epochMs(r.timestamp);
        timestamps.set(`${partition}:${Number(r.offset)}`, ms);
        let list = messages.get(partition);
        if (!list) messages.set(partition, (list = []));
        list.push({ offset: String(r.offset), timestamp: String(ms), key: (r.key as Buffer | null) ?? null, value: (r.value as Buffer | null) ?? null, headers: decodeHeaders(r.headers as string | null) });
      }
      const prepared = await processor.prepare(batchId, batchOf(ranges, messages), pending);
      // The fused run's deadLetter limits, judged before the batch commits: a batch that would
      // pass one stops bronze with nothing written, and raw and gold go on without it.
      const failures = (await prepared.routed).failures;
      const after = { records: tally.records + rows.length, deadLettered: tally.deadLettered + failures.length };
      const what = failures.length > 0 ? deadLetterLimitPassed(plan, after, false) : undefined;
      if (what) {
        const top = [...new Set(failures.map((f) => f.error))].slice(0, 3).join('; ');
        throw new PipelineError('PIPE_RUN_DEAD_LETTER_LIMIT', `bronze: raw versions ${ranges['0']![0]}..${ranges['0']![1] - 1} hold ${failures.length} records for the dead-letter table, which would make the job's ${after.deadLettered} ${what}; first reasons: ${top}`, {
          hint: 'nothing was written by bronze and raw keeps every record: fix the spec (or raise deadLetter.maxRecords / maxRatio), then run bronze again; it resumes at this batch',
        });
      }
      const stats = await processor.commit(prepared);
      emitter.observe(0, stats.state);
      await emitter.emit();
      logger.info({ batchId, rawVersions: ranges['0'], records: stats.records, deadLettered: stats.deadLettered }, 'bronze batch committed');
      tally.records += rows.length;
      tally.deadLettered += stats.deadLettered;
    });
    // A run too short to judge the ratio mid-way is judged at its end, as when fused.
    const breach = limitError(plan, 'bronze', tally, true);
    if (breach) throw breach;
    return { ...result, deadLettered: tally.deadLettered };
  } finally {
    await decoder.close();
  }
}

/**
 * Runs the gold job: every bronze table, by version, merged into its gold table. Tables run
 * side by side (each its own checkpoint), so a table that fails stops alone and is reported
 * once the others have finished their loop.
 */
export async function runGoldJob(plan: Plan, jobs: StagedJobs, run: JobRunOptions): Promise<JobResult> {
  // One tally for all tables: the job's dead letters against the rows it read.
  const tally: Tally = { records: 0, deadLettered: 0 };
  const settled = await Promise.allSettled(jobs.bronze.tables.map((bronze) => runGoldTable(plan, jobs, tablePrograms(plan).get(bronze.table)!, bronze.path, run, tally)));
  const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
  const breach = limitError(plan, 'gold', tally, true);
  if (breach) throw breach;
  const total: JobResult = { batches: 0, records: 0, deadLettered: tally.deadLettered };
  for (const r of settled) {
    if (r.status !== 'fulfilled') continue;
    total.batches += r.value.batches;
    total.records += r.value.records;
  }
  return total;
}

async function runGoldTable(plan: Plan, jobs: StagedJobs, program: TableProgram, bronzePath: string, run: JobRunOptions, tally: Tally): Promise<JobResult> {
  const sink = program.sink;
  const checkpoint = new StreamCheckpoint(join(jobs.gold.checkpointPath, sink.table), 0);
  const logger = run.logger.child({ job: 'gold', table: sink.table });
  const source: DeltaSourceProps = { path: bronzePath, removes: 'fail', maxVersionsPerBatch: MAX_VERSIONS_PER_BATCH };
  return versionLoop(source, checkpoint, jobs.gold.trigger.intervalMs, run, async (batchId, ranges, rows, pending) => {
    const entry: OffsetsEntry = pending ?? { batchId, appId: jobs.gold.appId, topic: sourceName(plan.source), ranges, schema: {}, createdAt: new Date().toISOString() };
    if (!pending) checkpoint.writeOffsets(entry);
    failpoint('batch.after-offsets');
    const txn = { appId: jobs.gold.appId, version: batchId };
    const decisions = checkpoint.readDecisions(batchId);
    let status = 'empty';
    let version = -1;
    if (rows.length > 0) {
      const staging = join(checkpoint.dir, 'staging');
      mkdirSync(staging, { recursive: true });
      const file = join(staging, `${batchId}.ndjson`);
      writeFileSync(file, rows.map((r) => String(r.record)).join('\n') + '\n');
      const positions = { partitions: rows.map((r) => Number(r.partition)), offsets: rows.map((r) => Number(r.offset)) };
      const attached = bronzeMetadata(plan, rows);
      const result = await writeDeltaSink(run.lake, sink, { kind: 'ndjson', path: file, rowCount: rows.length, positions, ...(attached ? { attached } : {}) }, txn, (rejected) => {
        decisions.rejected[sink.table] = rejected;
        checkpoint.writeDecisions(batchId, decisions);
      });
      failpoint('batch.after-table-commit');
      rmSync(file, { force: true });
      ({ status, version } = result);
      // Values the gold table cannot store go to the dead-letter table, as when fused.
      // Rows a `where` or a `drop` expectation left out are counted drops, as when fused.
      const rejected = (result.status === 'already-committed' ? (decisions.rejected[sink.table] ?? []) : result.rejected).filter((x) => !x.dropped);
      if (rejected.length > 0) {
        const ctx = { topic: sourceName(plan.source), pipeline: plan.pipeline, stream: 0, batchId };
        const dead = rejected.map((x) => {
          const row = rows[x.row]!;
          const value = Buffer.from(String(row.record));
          return deadLetterRow({ partition: Number(row.partition), offset: Number(row.offset), timestamp: epochMs(row.timestamp), key: null, value }, rejectedStage(program, x), `table '${sink.table}': ${x.reason}`, ctx);
        });
        await writeDeadLetters(run.lake, plan.deadLetter.path, dead, { appId: `${jobs.gold.appId}/${sink.table}`, version: batchId });
      }
      tally.deadLettered += rejected.length;
    }
    failpoint('batch.before-checkpoint-commit');
    checkpoint.writeCommit({ batchId, committedAt: new Date().toISOString(), records: rows.length, tables: { [sink.table]: { status, version } } });
    checkpoint.prune(batchId);
    logger.info({ batchId, bronzeVersions: ranges['0'], records: rows.length, status }, 'gold batch committed');
    // Judged after the batch commits, as when fused: the job stops, its writes stay.
    tally.records += rows.length;
    const breach = limitError(plan, 'gold', tally, false);
    if (breach) throw breach;
  });
}
