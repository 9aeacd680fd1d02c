/**
 * The raw job's batch (staged mode): a stream's records land as they came, bytes and
 * coordinates, in the raw table. No decode, no routing: the only failure left is the lake's.
 * The protocol is the fused one: `offsets/<id>` → append with txn(`<pipeline>/raw/<i>`, id)
 * → `commits/<id>`, so a replayed batch finds its txn and writes nothing twice.
 */
import type { TableWriter } from '../operators/api.js';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { RAW_COLUMNS, RAW_DATE_COLUMN, RAW_KINDS, rawNdjson } from '../operators/sink-raw.js';
import { Kind } from '../lake/type-lattice.js';
import { LakeError } from '../errors.js';
import type { CollectedBatch } from './record-chunk.js';
import type { OffsetsEntry, StreamCheckpoint } from './stream-checkpoint.js';
import { failpoint } from './failpoints.js';
import type { Logger } from './logger.js';
import type { BatchStats } from './stream-protocol.js';
import type { TableLockClient } from './table-locks.js';

/** What the raw batch needs from its stream. */
export interface RawBatchOptions {
  topic: string;
  pipeline: string;
  /** Absolute location of the raw table. */
  rawPath: string;
  /** Partition the raw table by `ingest_date` (`stages.raw.partitionByDate`). */
  partitionByDate?: boolean;
  streamIndex: number;
  appId: string;
  lake: TableWriter;
  checkpoint: StreamCheckpoint;
  locks: TableLockClient;
  logger: Logger;
}

/** A raw batch between its cut and its commit. */
export interface PreparedRawBatch {
  entry: OffsetsEntry;
  replay: boolean;
  /** NDJSON of the batch's rows, and how many. */
  text: string;
  count: number;
  started: number;
}

/** Runs raw batches for one stream (the same two calls as the fused BatchProcessor). */
export class RawBatchProcessor {
  constructor(private readonly opts: RawBatchOptions) {}

  /** Fixes the batch's offsets entry and its rows; writes nothing. */
  async prepare(batchId: number, batch: CollectedBatch, pending?: OffsetsEntry): Promise<PreparedRawBatch> {
    const started = performance.now();
    const entry = pending ?? { batchId, appId: this.opts.appId, topic: this.opts.topic, ranges: batch.ranges, schema: {}, createdAt: new Date().toISOString() };
    const { text, count } = rawNdjson(this.opts.topic, batch.chunks, this.opts.partitionByDate);
    return { entry, replay: pending !== undefined, text, count, started };
  }

  /** Appends the batch to the raw table with its txn, then commits the checkpoint. */
  async commit(prepared: PreparedRawBatch): Promise<BatchStats> {
    const { checkpoint, lake, locks, rawPath, appId } = this.opts;
    const { entry, replay, text, count } = prepared;
    const batchId = entry.batchId;
    if (!replay) checkpoint.writeOffsets(entry);
    failpoint('batch.after-offsets');
    const commitStart = performance.now();
    const txn = { appId, version: batchId };
    let result;
    if (count > 0) {
      const staging = join(checkpoint.dir, 'staging');
      mkdirSync(staging, { recursive: true });
      const file = join(staging, `${batchId}.raw.ndjson`);
      writeFileSync(file, text);
      const byDate = this.opts.partitionByDate === true;
      const input = { kind: 'ndjson' as const, path: file, rowCount: count, kinds: byDate ? { ...RAW_KINDS, [RAW_DATE_COLUMN]: Kind.STRING | Kind.NULL } : RAW_KINDS };
      const layout = { columns: byDate ? { ...RAW_COLUMNS, [RAW_DATE_COLUMN]: 'DATE' } : RAW_COLUMNS, partitionBy: byDate ? [RAW_DATE_COLUMN] : [], pinLayout: true };
      result = await locks.withLock(rawPath, () => lake.write(rawPath, input, { mode: 'append', ...layout, txn, operationParameters: { appId, batchId } })).catch((err: unknown) => {
        if (err instanceof LakeError && err.code === 'PIPE_LAKE_LAYOUT_CHANGED') {
          throw new LakeError('PIPE_LAKE_LAYOUT_CHANGED', `${err.message} (stages.raw.partitionByDate is ${byDate})`, {
            details: err.details,
            hint: 'the raw table keeps the partitioning it was created with: set stages.raw.partitionByDate back, or move the raw table aside and let raw start a new one',
          });
        }
        throw err;
      });
      rmSync(file, { force: true });
    }
    failpoint('batch.after-table-commit');
    const commitMs = performance.now() - commitStart;
    failpoint('batch.before-checkpoint-commit');
    checkpoint.writeCommit({
      batchId,
      committedAt: new Date().toISOString(),
      records: count,
      tables: result ? { _raw: { status: result.status, version: result.version } } : {},
    });
    checkpoint.prune(batchId);
    const tables: BatchStats['tables'] = result ? { _raw: { status: result.status, rowsIn: result.rowsIn, inserted: result.rowsInserted, updated: 0, deleted: 0 } } : {};
    this.opts.logger.debug({ batchId, records: count, replay, status: result?.status, commitMs: Math.round(commitMs) }, 'raw batch committed');
    return {
      stream: this.opts.streamIndex, batchId, replay, records: count, deadLettered: 0, deadLetters: [], dropped: 0, tables,
      durationMs: performance.now() - prepared.started, decodeMs: 0, commitMs, phasesMs: { commit: commitMs },
    };
  }
}
