/**
 * `pipeline run` of a pipeline whose source is a Delta table (`source.delta`): one stream
 * reads the rows each new version of the table added (the source-delta operator, rule in
 * src/lake/changes.ts) and runs them through the same BatchProcessor as Kafka records —
 * derive, where, expectations, routing, tables, windows, dead-letter table.
 *
 * Exactly once, as for a topic: the stream's write-ahead log records each batch's version
 * range `[from, until)` under pseudo-partition 0 before any table is written, every table
 * commit carries txn(`<pipeline>/0`, batchId), and a batch found planned but not committed
 * after a crash re-reads exactly its versions. A row's coordinates are partition 0 and
 * offset `version * 10^9 + row index within the version`: the same whatever the batch cuts,
 * so upsert ties break the same way on every run.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { PipelineError } from '../errors.js';
import { Lake } from '../lake/index.js';
import type { DeltaSourceProps, VersionRead } from '../operators/source-delta.js';
import { sourceName } from '../spec/index.js';
import type { Plan } from './plan.js';
import { acquireLock } from './checkpoint-lock.js';
import { checkLayout, readCheckpointMetadata } from './checkpoint-layout.js';
import { createDecoder } from './decode-pool.js';
import { createLogger } from './logger.js';
import { BatchProcessor } from './batch-processor.js';
import { deadLetterLimitBreach, startEmitter, type RunOptions } from './runner.js';
import { MAX_VERSIONS_PER_BATCH } from './staged-plan.js';
import { versionLoop } from './staged-jobs.js';
import { StreamCheckpoint } from './stream-checkpoint.js';
import { batchOf, type SourceRecord } from './record-chunk.js';
import { resolveRuntimeSettings } from './settings.js';
import { SummaryBuilder, type RunSummary } from './summary.js';
import { guardTables } from './table-guards.js';
import { TableLockClient } from './table-locks.js';
import { appendWindows, emitFailed } from './window-emitter.js';

/** Rows one version may hold before two versions' offsets could overlap. */
export const ROWS_PER_VERSION = 1_000_000_000;

/** Runs `plan` (a Delta source) until caught up (`availableNow`) or stopped by SIGINT/SIGTERM. */
export async function runDeltaSource(plan: Plan, opts: RunOptions): Promise<RunSummary> {
  const delta = plan.source.delta;
  if (!delta) throw new PipelineError('PIPE_RUN_JOB', `pipeline ${plan.pipeline} has no Delta source`);
  const logger = createLogger(opts.logLevel, plan.pipeline, { format: opts.logFormat }).child({ stream: 0 });
  const root = plan.checkpointPath;
  mkdirSync(join(root, '0'), { recursive: true });
  const lock = acquireLock(join(root, '0'), `checkpoint of stream 0 (${root})`);
  let stopped = false;
  const onSignal = () => {
    stopped = true;
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const settings = resolveRuntimeSettings(process.env, 1, availableParallelism());
  const lake = await Lake.create({ threads: 2, memoryLimit: settings.duckdbMemoryLimit });
  const decoder = createDecoder(0);
  const summary = new SummaryBuilder(plan.pipeline, sourceName(plan.source), plan.deadLetter.table);
  const totals = summary.stream(0);
  totals.state = 'running';
  totals.reads = delta.path;
  let windows: Awaited<ReturnType<typeof startEmitter>> | undefined;
  try {
    // The checkpoint names its source: positions of another table or a topic mean nothing here.
    checkLayout({ root, pipeline: plan.pipeline, topic: sourceName(plan.source), streams: 1 }, readCheckpointMetadata(root));
    await guardTables(plan, [0], { allowLayoutChange: opts.allowLayoutChange ?? false, reset: opts.reset ?? false }, logger);
    const checkpoint = new StreamCheckpoint(root, 0);
    await writeStartingVersion(lake, plan, checkpoint);
    const processor = new BatchProcessor({
      plan, streamIndex: 0, appId: plan.streams[0]!.appId, lake, checkpoint, decoder, locks: new TableLockClient(undefined), logger, tableConcurrency: 2,
    });
    const source: DeltaSourceProps = { path: delta.path, removes: delta.removes, maxVersionsPerBatch: MAX_VERSIONS_PER_BATCH, maxRowsPerBatch: plan.trigger.maxRecordsPerBatch };
    // Append windows: written by the run's emitter once the stream's watermark closes them, as
    // for a topic (the one stream owns pseudo-partition 0).
    if (appendWindows(plan).length > 0) windows = await startEmitter(plan, [0], [0], settings.duckdbMemoryLimit, logger, (table, stats) => summary.addTableWrite(table, stats));
    const emitWindows = async () => {
      try {
        await windows?.emit();
      } catch (err) {
        throw emitFailed(err);
      }
    };
    await emitWindows();
    const run = { lake, logger, availableNow: opts.availableNow, stopped: () => stopped };
    await versionLoop(source, checkpoint, plan.trigger.intervalMs, run, async (batchId, ranges, _rows, pending, read) => {
      const messages = toMessages(read);
      const prepared = await processor.prepare(batchId, batchOf(ranges, new Map([[0, messages]])), pending);
      const stats = await processor.commit(prepared);
      windows?.observe(0, stats.state);
      await emitWindows();
      summary.addBatch(stats);
      if (stats.watermarkMs !== undefined) totals.watermark = new Date(stats.watermarkMs).toISOString();
      logger.info({ batchId, versions: ranges['0'], records: stats.records, deadLettered: stats.deadLettered }, 'batch committed');
      const breach = deadLetterLimitBreach(plan, summary, false);
      if (breach) throw breach;
    });
    const breach = deadLetterLimitBreach(plan, summary, true);
    if (breach) throw breach;
    totals.state = 'stopped';
    return summary.build(stopped ? 'stopped' : 'completed', opts.availableNow);
  } catch (err) {
    if (err instanceof PipelineError) Object.assign(err, { summary: summary.build('failed', opts.availableNow, err.message) });
    throw err;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await decoder.close();
    await windows?.close();
    lake.close();
    lock.release();
  }
}

/**
 * The first run's position: version 0 (`earliest`), the given version, or the one after the
 * table's current version (`latest`). Kept in the checkpoint's start file, so a restart before
 * the first batch does not move it.
 */
async function writeStartingVersion(lake: Lake, plan: Plan, checkpoint: StreamCheckpoint): Promise<void> {
  if (!checkpoint.recover().fresh) return;
  const starting = plan.source.delta!.startingVersion;
  let version = 0;
  if (typeof starting === 'number') version = starting;
  else if (starting === 'latest' && (await lake.exists(plan.source.delta!.path))) version = (await lake.snapshot(plan.source.delta!.path)).version + 1;
  checkpoint.writeStart(new Map([[0, version]]));
}

/**
 * The rows of a read as the records the BatchProcessor takes: each row's JSON as the value,
 * at partition 0, offset `version * ROWS_PER_VERSION + row index within its version`.
 */
export function toMessages(read: VersionRead): SourceRecord[] {
  const messages: SourceRecord[] = [];
  const readAt = String(Date.now());
  let row = 0;
  let version = -1;
  let inVersion = 0;
  for (const [i, f] of read.changes.files.entries()) {
    if (f.version !== version) {
      version = f.version;
      inVersion = 0;
    }
    for (let n = 0; n < read.fileRows[i]!; n++, row++, inVersion++) {
      if (inVersion >= ROWS_PER_VERSION) {
        throw new PipelineError('PIPE_RUN_JOB', `version ${version} of ${read.changes.files[i]!.file.add.path} adds more than ${ROWS_PER_VERSION} rows, more than a Delta source numbers per version`);
      }
      const value = Buffer.from(rowJson(read.rows[row]!));
      messages.push({ offset: String(version * ROWS_PER_VERSION + inVersion), timestamp: readAt, key: null, value });
    }
  }
  return messages;
}

/** Marks a NaN or ±Infinity in the JSON text until it is spelled as a bare token (below); random, so no value of a row can spell it. */
const NON_FINITE = `__pipeline_non_finite_${randomUUID().slice(0, 8)}__`;
const NON_FINITE_MARKED = new RegExp(`"${NON_FINITE}(NaN|-?Infinity)"`, 'g');

/**
 * A row as JSON text (see {@link jsonValue}). NaN and ±Infinity, which JSON cannot hold, are
 * written as the bare tokens `NaN`, `Infinity`, `-Infinity` (what Python's json module writes):
 * the record then fails to decode and goes to the dead-letter table with a reason naming them,
 * instead of being stored with NULL in their place.
 */
function rowJson(row: Record<string, unknown>): string {
  const text = JSON.stringify(row, jsonValue);
  return text.includes(NON_FINITE) ? text.replace(NON_FINITE_MARKED, '$1') : text;
}

/**
 * Typed values as JSON the decoder reads back to the same values: integers beyond 2^53 and
 * decimals as text (no precision lost), timestamps and dates as ISO text, bytes as base64.
 */
function jsonValue(this: unknown, key: string, v: unknown): unknown {
  // JSON.stringify calls toJSON (Date, Buffer) before the replacer: look at the holder's value.
  const raw = (this as Record<string, unknown>)[key];
  if (typeof raw === 'bigint') return Number.isSafeInteger(Number(raw)) ? Number(raw) : raw.toString();
  if (raw instanceof Date) return Number.isNaN(raw.getTime()) ? null : raw.toISOString();
  if (raw instanceof Uint8Array) return Buffer.from(raw).toString('base64');
  if (typeof raw === 'number' && !Number.isFinite(raw)) return `${NON_FINITE}${raw}`;
  return v;
}

/** What `pipeline status` shows for a Delta source. */
export interface DeltaSourceStatus {
  pipeline: string;
  source: string;
  /** The table's newest version (absent while the table does not exist). */
  tableVersion?: number;
  /** The first version the next batch reads. */
  nextVersion: number;
  /** Versions committed to the table that the pipeline has not processed. */
  versionsBehind: number;
  /** The newest committed batch and when it was committed. */
  lastBatch?: { batchId: number; committedAt: string; records: number };
  neverRun: boolean;
}

/** Reads the checkpoint of a Delta-source pipeline against its table's current version. */
export async function deltaSourceStatus(plan: Plan): Promise<DeltaSourceStatus> {
  const delta = plan.source.delta!;
  const checkpoint = new StreamCheckpoint(plan.checkpointPath, 0);
  const recovered = checkpoint.recover();
  const nextVersion = recovered.pending ? recovered.pending.ranges['0']?.[0] ?? 0 : (recovered.positions.get(0) ?? 0);
  const lake = await Lake.create({ threads: 1 });
  try {
    const tableVersion = (await lake.exists(delta.path)) ? (await lake.snapshot(delta.path)).version : undefined;
    const last = recovered.nextBatchId - 1;
    const commit = last >= 0 ? checkpoint.readCommit(last) : undefined;
    return {
      pipeline: plan.pipeline,
      source: delta.specPath,
      ...(tableVersion !== undefined ? { tableVersion } : {}),
      nextVersion,
      versionsBehind: tableVersion === undefined ? 0 : Math.max(0, tableVersion + 1 - nextVersion),
      ...(commit ? { lastBatch: { batchId: commit.batchId, committedAt: commit.committedAt, records: commit.records } } : {}),
      neverRun: recovered.fresh,
    };
  } finally {
    lake.close();
  }
}

/** The status as lines for a terminal. */
export function formatDeltaSourceStatus(s: DeltaSourceStatus): string {
  const table = s.tableVersion === undefined ? 'the table does not exist yet' : `the table is at version ${s.tableVersion}`;
  const lines = [`pipeline ${s.pipeline}: delta table ${s.source}`, `  next version to read: ${s.nextVersion}; ${table}; ${s.versionsBehind} version(s) behind`];
  lines.push(s.lastBatch ? `  last batch ${s.lastBatch.batchId}: ${s.lastBatch.records} rows, committed ${s.lastBatch.committedAt}` : `  no batch committed yet${s.neverRun ? ' (never run)' : ''}`);
  return lines.join('\n');
}
