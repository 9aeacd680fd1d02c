/**
 * The batch protocol's table-side decisions, with a scripted table writer: a table the lake
 * refuses (SchemaMismatchError) is diverted to the dead-letter table, the decision is recorded
 * before the dead-letter commit, and a replay of the batch diverts the same records even when
 * the table would now accept them. Each batch's offsets entry records every table's own
 * columns as they stood after the batch before it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { SchemaMismatchError } from '../../src/errors.js';
import type { BatchInput, ColumnDef, RejectedRow, WriteOptions, WriteResult } from '../../src/lake/types.js';
import type { TableWriter } from '../../src/operators/api.js';
import type { Plan } from '../../src/runtime/plan.js';
import { StreamCheckpoint } from '../../src/runtime/stream-checkpoint.js';
import { createDecoder } from '../../src/runtime/decode-pool.js';
import { BatchProcessor } from '../../src/runtime/batch-processor.js';
import { TableLockClient } from '../../src/runtime/table-locks.js';
import { batchOf, type SourceRecord } from '../../src/runtime/record-chunk.js';
import { graphOf } from './graph-fixture.js';

/**
 * Records every write; refuses `refuse` tables with a schema mismatch; rejects the rows
 * listed in `reject`; answers already-committed for tables in `committed`.
 */
class ScriptedWriter implements TableWriter {
  writes: { path: string; batch: BatchInput; opts: WriteOptions }[] = [];
  refuse = new Set<string>();
  reject = new Map<string, RejectedRow[]>();
  committed = new Set<string>();
  exists() {
    return false;
  }
  columns(_path: string): ColumnDef[] {
    return [];
  }
  async write(path: string, batch: BatchInput, opts: WriteOptions): Promise<WriteResult> {
    if ([...this.refuse].some((t) => path.endsWith(`/${t}`))) throw new SchemaMismatchError('PIPE_LAKE_MISSING_COLUMN', "column 'qty' is BIGINT and cannot hold VARCHAR");
    const table = path.split('/').pop()!;
    const rows = batch.kind === 'rows' ? batch.rows.length : (batch.rowCount ?? 0);
    const base = { rowsIn: rows, rowsInserted: rows, rowsUpdated: 0, rowsDeleted: 0, filesAdded: 1, filesRemoved: 0, bytesAdded: 1, conflictsRetried: 0, widened: [] };
    if (this.committed.has(table)) return { ...base, status: 'already-committed', version: 1, rejected: [] };
    const rejected = this.reject.get(table) ?? [];
    await opts.beforeCommit?.(rejected);
    this.writes.push({ path, batch, opts });
    return { ...base, status: 'committed', version: this.writes.length, rejected };
  }
}

/** A writer whose tables exist with their own columns (a test grows them by replacing `tables` entries). */
class SchemaWriter extends ScriptedWriter {
  tables: Record<string, ColumnDef[]> = {
    a: [{ name: 'id', type: 'BIGINT', nullable: true }, { name: 'qty', type: 'BIGINT', nullable: true }],
    b: [{ name: 'id', type: 'BIGINT', nullable: true }, { name: 'note', type: 'VARCHAR', nullable: true }],
  };
  override exists() {
    return true;
  }
  override columns(path: string): ColumnDef[] {
    return this.tables[path.split('/').pop()!] ?? [];
  }
}

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'batch-processor-'));
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
    outputPath: dir,
    ...graphOf(
      { field: 'type', routes: { a: 'a', b: 'b' }, unmatched: 'dead_letter' },
      Object.fromEntries(['a', 'b'].map((t) => [t, { table: t, mode: 'upsert' as const, mergeKeys: ['id'], sequenceBy: 'seq', columns: {} }])),
    ),
  } as unknown as Plan;
}

const message = (offset: number, value: string): SourceRecord => ({ offset: String(offset), key: Buffer.from(`k${offset}`), value: Buffer.from(value), timestamp: '1700000000000' });

/** Stream 0's processor of {@link plan}, writing through `writer`, its checkpoint under the file's folder. */
function processorFor(writer: ScriptedWriter): { checkpoint: StreamCheckpoint; processor: BatchProcessor } {
  const checkpoint = new StreamCheckpoint(join(dir, 'cp'), 0);
  const processor = new BatchProcessor({
    plan: plan(), streamIndex: 0, appId: 'p/0', lake: writer, checkpoint, decoder: createDecoder(0),
    locks: new TableLockClient(undefined), logger: pino({ level: 'silent' }), tableConcurrency: 2,
  });
  return { checkpoint, processor };
}

describe('batch processor', () => {
  it('diverts a refused table to the dead-letter table, and a replay decides alike', async () => {
    const writer = new ScriptedWriter();
    writer.refuse.add('b');
    const { checkpoint, processor } = processorFor(writer);
    const batch = batchOf(
      { '0': [0, 4] },
      new Map([[0, [message(0, '{"type":"a","id":1,"seq":1}'), message(1, '{"type":"b","id":2,"seq":1}'), message(2, '{"type":"c"}'), message(3, '{"type":"b","id":3,"seq":1}')]]]),
    );
    const stats = await processor.commit(await processor.prepare(0, batch));
    expect(stats.tables.b).toMatchObject({ status: 'diverted' });
    expect(checkpoint.readDecisions(0)).toEqual({ diverted: { b: "column 'qty' is BIGINT and cannot hold VARCHAR" }, rejected: {} });
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
    // (The quality record goes with the batch's txn too; the real lake skips it when it holds the txn.)
    expect(writer.writes.map((w) => w.path.split('/').pop()).sort()).toEqual(['_dl', '_events', 'a']);
  });

  it("records each table's own columns in the batch's offsets entry, read again after each commit", async () => {
    const writer = new SchemaWriter();
    const { checkpoint, processor } = processorFor(writer);
    const batch = (from: number) => batchOf({ '0': [from, from + 1] }, new Map([[0, [message(from, '{"type":"a","id":1,"seq":1}')]]]));
    const first = await processor.prepare(0, batch(0));
    // Table b gains a column while the batch commits (as another stream's commit would add it).
    writer.tables.b = [...writer.tables.b!, { name: 'at', type: 'TIMESTAMP', nullable: true }];
    await processor.commit(first);
    expect(checkpoint.readOffsets(0)!.schema).toEqual({ a: { id: 'BIGINT', qty: 'BIGINT' }, b: { id: 'BIGINT', note: 'VARCHAR' } });
    await processor.commit(await processor.prepare(1, batch(1)));
    expect(checkpoint.readOffsets(1)!.schema).toEqual({ a: { id: 'BIGINT', qty: 'BIGINT' }, b: { id: 'BIGINT', note: 'VARCHAR', at: 'TIMESTAMP' } });
  });

  it('dead-letters the rows a table rejected, recorded before its commit, also when a replay finds the table committed', async () => {
    const writer = new ScriptedWriter();
    // File row 1 of table a is batch record 2.
    writer.reject.set('a', [{ row: 1, reason: 'value does not convert to the column type: qty (BIGINT)' }]);
    const { checkpoint, processor } = processorFor(writer);
    const batch = batchOf(
      { '0': [0, 3] },
      new Map([[0, [message(0, '{"type":"a","id":1,"seq":1}'), message(1, '{"type":"b","id":2,"seq":1}'), message(2, '{"type":"a","id":3,"seq":1,"qty":"x"}')]]]),
    );
    const prepared = await processor.prepare(0, batch);
    const stats = await processor.commit(prepared);
    expect(stats.deadLettered).toBe(1);
    const dlRows = () => (writer.writes.find((w) => w.path.endsWith('/_dl'))!.batch as { rows: Record<string, unknown>[] }).rows;
    expect(dlRows().map((r) => [r.offset, r.stage, r.error])).toEqual([[2, 'sink', "table 'a': value does not convert to the column type: qty (BIGINT)"]]);
    expect(checkpoint.readDecisions(0).rejected).toEqual({ a: [{ row: 1, reason: 'value does not convert to the column type: qty (BIGINT)' }] });

    // A replay where table a already holds the batch: the lake reports nothing, the decision does.
    writer.writes = [];
    writer.reject.clear();
    writer.committed.add('a');
    await processor.commit(await processor.prepare(0, batch, checkpoint.readOffsets(0)!));
    expect(dlRows().map((r) => r.offset)).toEqual([2]);
  });
});
