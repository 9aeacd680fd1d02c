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
import type { KafkaMessage } from 'kafkajs';
import { SchemaMismatchError } from '../errors.js';
import type { Plan } from '../planner/plan.js';
import type { RecordFailure, TableRules, TableWriter } from '../operators/api.js';
import { knownColumns, writeDeltaSink } from '../operators/sink-delta.js';
import { deadLetterRow, writeDeadLetters, type RawRecord } from '../operators/sink-dead-letter.js';
import type { CollectedBatch } from './batch-collector.js';
import type { OffsetsEntry, StreamCheckpoint } from './checkpoint.js';
import type { Decoder } from './decode-pool.js';
import { packValues } from './batch-transform.js';
import { failpoint } from './failpoints.js';
import type { Logger } from './logger.js';
import type { BatchStats, TableBatchStats } from './stream-protocol.js';
import type { TableLockClient } from './table-locks.js';

export interface BatchProcessorOptions {
  plan: Plan;
  streamIndex: number;
  appId: string;
  lake: TableWriter;
  checkpoint: StreamCheckpoint;
  decoder: Decoder;
  locks: TableLockClient;
  logger: Logger;
}

/** Runs batches for one stream. */
export class BatchProcessor {
  private readonly sinks;

  constructor(private readonly opts: BatchProcessorOptions) {
    this.sinks = new Map(opts.plan.sinks.map((s) => [s.table, s]));
  }

  /** Plans a new batch: snapshots validation columns and writes `offsets/<batchId>`. */
  async plan(batchId: number, batch: CollectedBatch<KafkaMessage>): Promise<OffsetsEntry> {
    const schema: Record<string, Record<string, string>> = {};
    for (const sink of this.opts.plan.sinks) schema[sink.table] = await knownColumns(this.opts.lake, sink);
    const entry: OffsetsEntry = {
      batchId,
      appId: this.opts.appId,
      topic: this.opts.plan.source.kafka.topic,
      ranges: batch.ranges,
      schema,
      createdAt: new Date().toISOString(),
    };
    this.opts.checkpoint.writeOffsets(entry);
    return entry;
  }

  /** Runs a planned batch to its checkpoint commit. */
  async run(entry: OffsetsEntry, batch: CollectedBatch<KafkaMessage>, replay: boolean): Promise<BatchStats> {
    const { plan, checkpoint, appId, lake, locks } = this.opts;
    const started = performance.now();
    const batchId = entry.batchId;
    const log = this.opts.logger.child({ batchId });
    failpoint('batch.after-offsets');

    const records: RawRecord[] = [];
    const values: (Buffer | null)[] = [];
    for (const [partition, messages] of batch.messages) {
      for (const m of messages) {
        records.push({ partition, offset: Number(m.offset), timestamp: Number(m.timestamp), key: m.key, value: m.value });
        values.push(m.value);
      }
    }

    const stagingDir = join(checkpoint.dir, 'staging', String(batchId));
    const tables: Record<string, TableRules> = {};
    for (const sink of plan.sinks) {
      tables[sink.table] = { table: sink.table, mode: sink.mode, mergeKeys: sink.mergeKeys, sequenceBy: sink.sequenceBy, columns: entry.schema[sink.table] ?? {} };
    }
    const decodeStart = performance.now();
    const routed = await this.opts.decoder.transform(packValues(values), { routing: plan.routing, tables, outDir: stagingDir });
    const decodeMs = performance.now() - decodeStart;

    const failures: RecordFailure[] = routed.failures;
    const diverted = replay ? checkpoint.readDecisions(batchId) : {};
    const tableStats: Record<string, TableBatchStats> = {};
    const versions: Record<string, number> = {};
    const commitStart = performance.now();
    const txn = { appId, version: batchId };
    const ordered = [...routed.tables].sort((a, b) => a.table.localeCompare(b.table));
    for (const part of ordered) {
      const sink = this.sinks.get(part.table)!;
      const divertedError = diverted[part.table];
      if (divertedError === undefined) {
        try {
          const result = await locks.withLock(sink.path, () => writeDeltaSink(lake, sink, { kind: 'ndjson', path: part.path, rowCount: part.count }, txn));
          tableStats[part.table] = { status: result.status, rowsIn: result.rowsIn, inserted: result.rowsInserted, updated: result.rowsUpdated, deleted: result.rowsDeleted };
          versions[part.table] = result.version;
          log.debug({ table: part.table, status: result.status, rows: part.count, version: result.version }, 'table committed');
          failpoint('batch.after-table-commit');
          continue;
        } catch (err) {
          if (!(err instanceof SchemaMismatchError)) throw err;
          diverted[part.table] = err.message;
          // Recorded before the dead-letter commit so a replay diverts the same records.
          checkpoint.writeDecisions(batchId, diverted);
          log.warn({ table: part.table, err: err.message, rows: part.count }, 'table refused the batch; its records go to the dead-letter table');
        }
      }
      tableStats[part.table] = { status: 'diverted', rowsIn: 0, inserted: 0, updated: 0, deleted: 0 };
      for (const index of part.indices) failures.push({ index, stage: 'sink', error: `table '${part.table}': ${diverted[part.table]}` });
    }

    if (failures.length > 0) {
      failures.sort((a, b) => a.index - b.index);
      const ctx = { topic: entry.topic, pipeline: plan.pipeline, stream: this.opts.streamIndex, batchId };
      const rows = failures.map((f) => deadLetterRow(records[f.index]!, f.stage, f.error, ctx));
      const result = await locks.withLock(plan.deadLetter.path, () => writeDeadLetters(lake, plan.deadLetter.path, rows, txn));
      tableStats[plan.deadLetter.table] = { status: result.status, rowsIn: result.rowsIn, inserted: result.rowsInserted, updated: 0, deleted: 0 };
      versions[plan.deadLetter.table] = result.version;
      failpoint('batch.after-table-commit');
    }
    const commitMs = performance.now() - commitStart;

    failpoint('batch.before-checkpoint-commit');
    checkpoint.writeCommit({
      batchId,
      committedAt: new Date().toISOString(),
      records: records.length,
      tables: Object.fromEntries(Object.entries(tableStats).map(([t, s]) => [t, { status: s.status, version: versions[t] ?? -1 }])),
    });
    rmSync(stagingDir, { recursive: true, force: true });
    checkpoint.prune(batchId);

    const stats: BatchStats = {
      stream: this.opts.streamIndex,
      batchId,
      replay,
      records: records.length,
      deadLettered: failures.length,
      dropped: routed.dropped,
      tables: tableStats,
      durationMs: performance.now() - started,
      decodeMs,
      commitMs,
    };
    log.info({ records: stats.records, deadLettered: stats.deadLettered, dropped: stats.dropped, replay, ms: Math.round(stats.durationMs) }, 'batch committed');
    return stats;
  }
}
