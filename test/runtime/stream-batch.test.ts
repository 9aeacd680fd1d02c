/**
 * The batch protocol's table-side decisions, with a scripted table writer: a table the lake
 * refuses (SchemaMismatchError) is diverted to the dead-letter table, the decision is recorded
 * before the dead-letter commit, and a replay of the batch diverts the same records even when
 * the table would now accept them.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import type { KafkaMessage } from 'kafkajs';
import { SchemaMismatchError } from '../../src/errors.js';
import type { BatchInput, ColumnDef, WriteOptions, WriteResult } from '../../src/lake/types.js';
import type { TableWriter } from '../../src/operators/api.js';
import type { Plan } from '../../src/planner/plan.js';
import { StreamCheckpoint } from '../../src/runtime/checkpoint.js';
import { createDecoder } from '../../src/runtime/decode-pool.js';
import { BatchProcessor } from '../../src/runtime/stream-batch.js';
import { TableLockClient } from '../../src/runtime/table-locks.js';

/** Records every write; refuses `refuse` tables with a schema mismatch. */
class ScriptedWriter implements TableWriter {
  writes: { path: string; batch: BatchInput; opts: WriteOptions }[] = [];
  refuse = new Set<string>();
  exists() {
    return false;
  }
  columns(): ColumnDef[] {
    return [];
  }
  async write(path: string, batch: BatchInput, opts: WriteOptions): Promise<WriteResult> {
    if ([...this.refuse].some((t) => path.endsWith(`/${t}`))) throw new SchemaMismatchError('PIPE_LAKE_SCHEMA', "column 'qty' is BIGINT and cannot hold VARCHAR");
    this.writes.push({ path, batch, opts });
    const rows = batch.kind === 'rows' ? batch.rows.length : (batch.rowCount ?? 0);
    return { status: 'committed', version: this.writes.length, rowsIn: rows, rowsInserted: rows, rowsUpdated: 0, rowsDeleted: 0, filesAdded: 1, filesRemoved: 0, bytesAdded: 1, conflictsRetried: 0 };
  }
}

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'stream-batch-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function plan(): Plan {
  const sink = (table: string) => ({ id: `sink.${table}`, table, path: join(dir, table), mode: 'upsert' as const, mergeKeys: ['id'], sequenceBy: 'seq', partitionBy: [] });
  return {
    pipeline: 'p',
    source: { id: 'source', kafka: { brokers: [], topic: 't', startingOffsets: 'earliest', failOnDataLoss: true }, format: 'json' },
    streams: [{ index: 0, appId: 'p/0', groupId: 'g' }],
    trigger: { intervalMs: 1000, maxRecordsPerBatch: 100 },
    routing: { field: 'type', routes: { a: 'a', b: 'b' }, unmatched: 'dead_letter' },
    sinks: [sink('a'), sink('b')],
    deadLetter: { id: 'sink._dl', table: '_dl', path: join(dir, '_dl') },
    checkpointPath: join(dir, 'cp'),
  } as unknown as Plan;
}

const message = (offset: number, value: string): KafkaMessage =>
  ({ offset: String(offset), key: Buffer.from(`k${offset}`), value: Buffer.from(value), timestamp: '1700000000000', attributes: 0, headers: {} }) as KafkaMessage;

describe('batch processor', () => {
  it('diverts a refused table to the dead-letter table, and a replay decides alike', async () => {
    const writer = new ScriptedWriter();
    writer.refuse.add('b');
    const checkpoint = new StreamCheckpoint(join(dir, 'cp'), 0);
    const processor = new BatchProcessor({
      plan: plan(), streamIndex: 0, appId: 'p/0', lake: writer, checkpoint, decoder: createDecoder(0),
      locks: new TableLockClient(undefined), logger: pino({ level: 'silent' }), tableConcurrency: 2,
    });
    const batch = {
      ranges: { '0': [0, 4] as [number, number] },
      messages: new Map([[0, [message(0, '{"type":"a","id":1,"seq":1}'), message(1, '{"type":"b","id":2,"seq":1}'), message(2, '{"type":"c"}'), message(3, '{"type":"b","id":3,"seq":1}')]]]),
      count: 4,
    };
    const stats = await processor.commit(await processor.prepare(0, batch));
    expect(stats.tables.b).toMatchObject({ status: 'diverted' });
    expect(checkpoint.readDecisions(0)).toEqual({ b: "column 'qty' is BIGINT and cannot hold VARCHAR" });
    const dl = writer.writes.find((w) => w.path.endsWith('/_dl'))!;
    expect(dl.opts.txn).toEqual({ appId: 'p/0', version: 0 });
    const rows = (dl.batch as { rows: Record<string, unknown>[] }).rows;
    expect(rows.map((r) => [r.offset, r.stage])).toEqual([[1, 'sink'], [2, 'route'], [3, 'sink']]);
    expect(rows[0]!.error).toBe("table 'b': column 'qty' is BIGINT and cannot hold VARCHAR");
    expect(checkpoint.recover().nextBatchId).toBe(1);

    // Replay of the same batch (as after a crash before commits/0): b would accept now, but the
    // recorded decision sends the same records to the dead-letter table again.
    writer.refuse.clear();
    writer.writes = [];
    const entry = checkpoint.readOffsets(0)!;
    await processor.commit(await processor.prepare(0, batch, entry));
    expect(writer.writes.map((w) => w.path.split('/').pop()).sort()).toEqual(['_dl', 'a']);
  });
});
