/**
 * Merge-on-read: upsert and scd2 batches write only their new rows and mark replaced rows
 * with deletion vectors. The table must hold exactly what copy-on-write gives for any
 * sequence of batches (property), read back through checkpoints, and compaction must fold
 * the DVs away without changing a row.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { compactTable } from '../../src/lake/compact.js';
import { Lake } from '../../src/lake/index.js';
import type { WriteOptions } from '../../src/lake/types.js';
import { readLogEntry, tempDir } from './helpers.js';

interface Rec { id: number; seq: number | null; val: string; op: 'u' | 'd' }
const recArb: fc.Arbitrary<Rec> = fc.record({
  id: fc.integer({ min: 0, max: 30 }),
  seq: fc.option(fc.integer({ min: 0, max: 6 }), { freq: 8 }),
  val: fc.constantFrom('a', 'b', 'c'),
  op: fc.constantFrom<'u' | 'd'>('u', 'u', 'u', 'd'),
});
const COLUMNS = { id: 'BIGINT', seq: 'BIGINT', val: 'VARCHAR', op: 'VARCHAR' };
const MOR = { writeMode: 'merge-on-read' } as const;

let lake: Lake;
beforeAll(async () => {
  lake = await Lake.create({ threads: 1 });
});
afterAll(() => lake.close());

const rowsOf = async (t: string) => ((await lake.exists(t)) ? (await lake.scan(t)).map((r) => JSON.stringify(Object.entries(r).sort())).sort() : []);

describe('merge-on-read', () => {
  test('an update marks the old row with a DV instead of rewriting its file', async () => {
    const t = tempDir();
    const opts: WriteOptions = { mode: 'upsert', mergeKeys: ['id'], sequenceBy: 'seq', ...MOR };
    await lake.write(t, { kind: 'rows', rows: Array.from({ length: 100 }, (_, id) => ({ id, seq: 1, v: 'old' })) }, opts);
    const snap0 = await lake.snapshot(t);
    expect(snap0).toMatchObject({ minReaderVersion: 3, minWriterVersion: 7 });
    expect(snap0.configuration['delta.enableDeletionVectors']).toBe('true');
    const r = await lake.write(t, { kind: 'rows', rows: [{ id: 5, seq: 2, v: 'new' }, { id: 50, seq: 2, v: 'new' }, { id: 200, seq: 1, v: 'ins' }] }, opts);
    expect(r).toMatchObject({ rowsUpdated: 2, rowsInserted: 1 });
    const log = readLogEntry(t, 1);
    const protocol = readLogEntry(t, 0).find((a) => a.protocol)!.protocol;
    expect(protocol).toEqual({ minReaderVersion: 3, minWriterVersion: 7, readerFeatures: ['deletionVectors'], writerFeatures: ['deletionVectors'] });
    const dvAdd = log.find((a) => a.add?.deletionVector)!.add;
    expect(dvAdd.path).toBe(snap0.files[0]!.path);
    expect(dvAdd.deletionVector).toMatchObject({ storageType: 'u', offset: 1, cardinality: 2 });
    expect(JSON.parse(dvAdd.stats)).toMatchObject({ numRecords: 100, tightBounds: false });
    // The same path is removed with the DV it had (none) in the same commit.
    expect(log.filter((a) => a.remove).map((a) => [a.remove.path, a.remove.deletionVector ?? null])).toEqual([[dvAdd.path, null]]);
    const rows = await lake.scan(t, { orderBy: 'id' });
    expect(rows).toHaveLength(101);
    expect(rows.filter((x) => x.v !== 'old').map((x) => [x.id, x.v])).toEqual([[5, 'new'], [50, 'new'], [200, 'ins']]);
    // A second update of the same file: the new DV holds the old rows plus the new one.
    await lake.write(t, { kind: 'rows', rows: [{ id: 6, seq: 2, v: 'new' }] }, opts);
    const live = (await lake.snapshot(t)).files.find((f) => f.path === dvAdd.path)!;
    expect(live.deletedRows).toBe(3);
    expect(await lake.scan(t)).toHaveLength(101);
  });

  test('deleting every row of a file removes it; an existing (1,2) table is upgraded keeping its implied features', async () => {
    const t = tempDir();
    const cow: WriteOptions = { mode: 'upsert', mergeKeys: ['id'], deleteWhen: `op = 'd'` };
    await lake.write(t, { kind: 'rows', rows: [{ id: 1, op: 'u' }, { id: 2, op: 'u' }] }, cow);
    expect((await lake.snapshot(t)).minReaderVersion).toBe(1);
    await lake.write(t, { kind: 'rows', rows: [{ id: 1, op: 'd' }, { id: 2, op: 'd' }, { id: 3, op: 'u' }] }, { ...cow, ...MOR });
    const protocol = readLogEntry(t, 1).find((a) => a.protocol)!.protocol;
    expect(protocol.writerFeatures.sort()).toEqual(['appendOnly', 'deletionVectors', 'invariants']);
    const snap = await lake.snapshot(t);
    expect(snap.files).toHaveLength(1);
    expect(snap.files[0]!.deletedRows).toBeUndefined();
    expect(await lake.scan(t)).toEqual([{ id: 3, op: 'u' }]);
  });

  test('compaction folds DVs back into files; rows unchanged; checkpoints keep DVs', async () => {
    const t = tempDir();
    const opts: WriteOptions = { mode: 'upsert', mergeKeys: ['id'], sequenceBy: 'seq', ...MOR };
    for (let b = 0; b < 12; b++) {
      await lake.write(t, { kind: 'rows', rows: Array.from({ length: 20 }, (_, i) => ({ id: (i * 7 + b) % 40, seq: b, v: `b${b}` })) }, opts);
    }
    const before = await rowsOf(t);
    expect((await lake.snapshot(t)).files.some((f) => f.deletedRows)).toBe(true);
    // Read again from the checkpoint at version 10 by a fresh lake.
    const other = await Lake.create({ threads: 1 });
    try {
      expect((await other.scan(t)).length).toBe(before.length);
    } finally {
      other.close();
    }
    const result = await compactTable(t);
    expect(result.status).toBe('committed');
    const after = await lake.snapshot(t);
    expect(after.files.filter((f) => f.deletedRows)).toHaveLength(0);
    expect(await rowsOf(t)).toEqual(before);
  });

  test('property: merge-on-read and copy-on-write give the same tables (upsert with tombstones, scd2)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.array(recArb, { maxLength: 12 }), { minLength: 1, maxLength: 6 }), fc.constantFrom('upsert', 'scd2'), async (batches, mode) => {
        const base: WriteOptions = { mode: mode as 'upsert' | 'scd2', mergeKeys: ['id'], sequenceBy: 'seq', deleteWhen: `op = 'd'`, columns: COLUMNS };
        const cow = tempDir('lake-cow-');
        const mor = tempDir('lake-mor-');
        for (const batch of batches) {
          const input = { kind: 'rows' as const, rows: batch as unknown as Record<string, unknown>[] };
          await lake.write(cow, input, base);
          await lake.write(mor, input, { ...base, ...MOR });
        }
        expect(await rowsOf(mor)).toEqual(await rowsOf(cow));
      }),
      { numRuns: Number(process.env.PROPERTY_RUNS ?? 25) },
    );
  }, 300_000);
});
