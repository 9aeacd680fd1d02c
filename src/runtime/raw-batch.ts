/**
 * The raw job's batch (staged mode): a stream's records land as they came, bytes and
 * coordinates, in the raw table. No decode, no routing: the only failure left is the lake's.
 * The protocol is the fused one: `offsets/<id>` → append with txn(`<pipeline>/raw/<i>`, id)
 * → `commits/<id>`, so a replayed batch finds its txn and writes nothing twice.
 */
import type { KafkaMessage } from 'kafkajs';
import type { TableWriter } from '../operators/api.js';
import { RAW_COLUMNS, rawRow } from '../operators/sink-raw.js';
import type { CollectedBatch } from './batch-collector.js';
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
  rows: Record<string, unknown>[];
  started: number;
}

/** Runs raw batches for one stream (the same two calls as the fused BatchProcessor). */
export class RawBatchProcessor {
  constructor(private readonly opts: RawBatchOptions) {}

  /** Fixes the batch's offsets entry and its rows; writes nothing. */
  async prepare(batchId: number, batch: CollectedBatch<KafkaMessage>, pending?: OffsetsEntry): Promise<PreparedRawBatch> {
    const started = performance.now();
    const entry = pending ?? { batchId, appId: this.opts.appId, topic: this.opts.topic, ranges: batch.ranges, schema: {}, createdAt: new Date().toISOString() };
    const rows: Record<string, unknown>[] = new Array(batch.count);
    let n = 0;
    for (const [partition, list] of batch.messages) for (const m of list) rows[n++] = rawRow(this.opts.topic, partition, m);
    return { entry, replay: pending !== undefined, rows, started };
  }

  /** Appends the batch to the raw table with its txn, then commits the checkpoint. */
  async commit(prepared: PreparedRawBatch): Promise<BatchStats> {
    const { checkpoint, lake, locks, rawPath, appId } = this.opts;
    const { entry, replay, rows } = prepared;
    const batchId = entry.batchId;
    if (!replay) checkpoint.writeOffsets(entry);
    failpoint('batch.after-offsets');
    const commitStart = performance.now();
    const txn = { appId, version: batchId };
    const result = rows.length === 0
      ? undefined
      : await locks.withLock(rawPath, () =>
          lake.write(rawPath, { kind: 'rows', rows }, { mode: 'append', columns: RAW_COLUMNS, txn, operationParameters: { appId, batchId } }),
        );
    failpoint('batch.after-table-commit');
    const commitMs = performance.now() - commitStart;
    failpoint('batch.before-checkpoint-commit');
    checkpoint.writeCommit({
      batchId,
      committedAt: new Date().toISOString(),
      records: rows.length,
      tables: result ? { _raw: { status: result.status, version: result.version } } : {},
    });
    checkpoint.prune(batchId);
    const tables: BatchStats['tables'] = result ? { _raw: { status: result.status, rowsIn: result.rowsIn, inserted: result.rowsInserted, updated: 0, deleted: 0 } } : {};
    this.opts.logger.debug({ batchId, records: rows.length, replay, status: result?.status, commitMs: Math.round(commitMs) }, 'raw batch committed');
    return {
      stream: this.opts.streamIndex, batchId, replay, records: rows.length, deadLettered: 0, deadLetters: [], dropped: 0, tables,
      durationMs: performance.now() - prepared.started, decodeMs: 0, commitMs, phasesMs: { commit: commitMs },
    };
  }
}
