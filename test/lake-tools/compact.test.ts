/**
 * Small-file compaction against real DuckDB and real Parquet files: rows identical before
 * and after (also read by plain DuckDB over the live files), the OPTIMIZE log entry, merge
 * key clustering, later upserts, and concurrent writers that rewrite a compacted file.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lake } from '../../src/lake/index.js';
import { compactTable } from '../../src/lake/compact.js';
import { dataFilesOnDisk, readLogEntry } from '../support/files.js';
import { canonical, pathList, plainDuck } from '../support/tables.js';
import { tempDir } from '../support/temp-dirs.js';

let lake: Lake;
beforeAll(async () => {
  lake = await Lake.create({ threads: 1 });
});
afterAll(() => lake.close());

const MB = 1024 * 1024;

describe('compactTable', () => {
  it('packs small appends per partition into one file each, rows unchanged, one OPTIMIZE entry', async () => {
    const t = path.join(tempDir(), 'events');
    for (let i = 0; i < 10; i++) {
      const rows = [{ id: 2 * i, region: 'eu', note: `a${i}` }, { id: 2 * i + 1, region: 'us', note: `b${i}` }];
      await lake.write(t, { kind: 'rows', rows }, { mode: 'append', partitionBy: ['region'] });
    }
    const before = await lake.snapshot(t);
    const rowsBefore = await lake.scan(t);
    expect(before.files).toHaveLength(20);

    const diskBefore = dataFilesOnDisk(t);
    const dry = await compactTable(t, { targetSize: MB, dryRun: true });
    expect(dry).toMatchObject({ status: 'dry-run', version: before.version, filesRemoved: 20, filesAdded: 0 });
    expect(dry.bins.map((b) => [b.partitionValues.region, b.files.length]).sort()).toEqual([['eu', 10], ['us', 10]]);
    expect(dataFilesOnDisk(t)).toEqual(diskBefore);
    expect((await lake.snapshot(t)).version).toBe(before.version);

    const r = await compactTable(t, { targetSize: MB });
    expect(r).toMatchObject({ status: 'committed', readVersion: before.version, version: before.version + 1, filesRemoved: 20, filesAdded: 2, sortBy: [], attempts: 1 });
    const after = await lake.snapshot(t);
    expect(after.version).toBe(r.version);
    expect(after.files).toHaveLength(2);
    expect(canonical(await lake.scan(t))).toEqual(canonical(rowsBefore));

    const entry = readLogEntry(t, r.version);
    const info = entry.find((a) => a.commitInfo)!.commitInfo;
    expect(info).toMatchObject({ operation: 'OPTIMIZE', isBlindAppend: false, readVersion: before.version });
    expect(info.operationMetrics).toMatchObject({ numRemovedFiles: 20, numAddedFiles: 2, numRemovedBytes: r.bytesRemoved, numAddedBytes: r.bytesAdded });
    const removes = entry.filter((a) => a.remove).map((a) => a.remove);
    const adds = entry.filter((a) => a.add).map((a) => a.add);
    expect(entry.some((a) => a.txn || a.metaData || a.protocol)).toBe(false);
    expect(removes.map((x) => x.path).sort()).toEqual(before.files.map((f) => f.path).sort());
    expect(removes.every((x) => x.dataChange === false && typeof x.deletionTimestamp === 'number')).toBe(true);
    expect(adds.map((x) => x.path).sort()).toEqual(after.files.map((f) => f.path).sort());
    expect(adds.every((x) => x.dataChange === false)).toBe(true);
    expect(adds.reduce((s, x) => s + JSON.parse(x.stats).numRecords, 0)).toBe(20);

    // Plain DuckDB over the live files (partition values come from the log, as for any reader).
    const byFile = new Map(after.files.map((f) => [path.join(t, decodeURIComponent(f.path)), f.partitionValues.region]));
    const plain = await plainDuck(`SELECT id, note, filename FROM read_parquet(${pathList([...byFile.keys()])}, filename=true)`);
    const plainRows = plain.map((row) => ({ id: Number(row.id), region: byFile.get(String(row.filename)), note: row.note }));
    expect(canonical(plainRows)).toEqual(canonical(rowsBefore));
    // Without merge keys the rows keep their file order: the eu file holds 0, 2, 4 ... in commit order.
    const eu = plain.filter((row) => byFile.get(String(row.filename)) === 'eu').map((row) => Number(row.id));
    expect(eu).toEqual([0, 2, 4, 6, 8, 10, 12, 14, 16, 18]);

    // Version 10 is a checkpoint version: a reader starting from it sees the compacted files.
    expect(r.version).toBe(10);
    expect(fs.existsSync(path.join(t, '_delta_log', '00000000000000000010.checkpoint.parquet'))).toBe(true);
    const fresh = await Lake.create({ threads: 1 });
    try {
      expect((await fresh.snapshot(t)).files.map((f) => f.path).sort()).toEqual(after.files.map((f) => f.path).sort());
      expect(canonical(await fresh.scan(t))).toEqual(canonical(rowsBefore));
    } finally {
      fresh.close();
    }

    const again = await compactTable(t, { targetSize: MB });
    expect(again).toMatchObject({ status: 'nothing-to-do', version: r.version, bins: [] });
  });

  it('sorts by the merge keys, keeps txn marks, and a later upsert still merges correctly', async () => {
    const t = path.join(tempDir(), 'users');
    const model = new Map<number, { id: number; name: string; seq: number }>();
    for (let k = 0; k < 6; k++) {
      // Interleaved keys: concatenating the files in commit order is not sorted.
      const rows = [0, 1, 2, 3].map((j) => ({ id: k + 6 * j, name: `u${k + 6 * j}`, seq: 1 }));
      for (const row of rows) model.set(row.id, row);
      await lake.write(t, { kind: 'rows', rows }, { mode: 'upsert', mergeKeys: ['id'], sequenceBy: 'seq', txn: { appId: 'users/0', version: k } });
    }
    expect((await lake.snapshot(t)).files).toHaveLength(6);

    const r = await compactTable(t, { targetSize: MB });
    expect(r).toMatchObject({ status: 'committed', filesRemoved: 6, filesAdded: 1, sortBy: ['id'] });
    expect(readLogEntry(t, r.version).find((a) => a.commitInfo)!.commitInfo.operationParameters.sortBy).toEqual(['id']);
    const snap = await lake.snapshot(t);
    expect(snap.txns).toEqual({ 'users/0': 5 });
    const file = snap.files[0]!;
    expect(file.stats).toMatchObject({ numRecords: 24, minValues: { id: 0 }, maxValues: { id: 23 } });
    const ids = (await plainDuck(`SELECT id FROM read_parquet('${path.join(t, decodeURIComponent(file.path))}')`)).map((row) => Number(row.id));
    expect(ids).toEqual([...model.keys()].sort((a, b) => a - b));

    // The batch already committed stays skipped; a new one updates and inserts.
    const replay = await lake.write(t, { kind: 'rows', rows: [{ id: 1, name: 'stale', seq: 9 }] }, { mode: 'upsert', mergeKeys: ['id'], sequenceBy: 'seq', txn: { appId: 'users/0', version: 5 } });
    expect(replay.status).toBe('already-committed');
    const batch = [{ id: 7, name: 'seven', seq: 2 }, { id: 100, name: 'new', seq: 1 }, { id: 8, name: 'older', seq: 0 }];
    const w = await lake.write(t, { kind: 'rows', rows: batch }, { mode: 'upsert', mergeKeys: ['id'], sequenceBy: 'seq', txn: { appId: 'users/0', version: 6 } });
    expect(w).toMatchObject({ status: 'committed', rowsInserted: 1, rowsUpdated: 1 });
    model.set(7, batch[0]!);
    model.set(100, batch[1]!);
    expect(canonical(await lake.scan(t))).toEqual(canonical([...model.values()]));
  });

  it.each(['copy-on-write', 'merge-on-read'] as const)('keeps tombstones as rows (%s): a stale record still loses to the delete after compaction', async (writeMode) => {
    const t = path.join(tempDir(), 'accounts');
    const opts = { mode: 'upsert' as const, mergeKeys: ['id'], sequenceBy: 'seq', deleteWhen: "op = 'd'", writeMode };
    // One file per key, so there is something to pack whatever the write mode.
    for (const id of [1, 2, 3]) await lake.write(t, { kind: 'rows', rows: [{ id, op: 'u', seq: 1 }] }, opts);
    await lake.write(t, { kind: 'rows', rows: [{ id: 2, op: 'd', seq: 5 }] }, opts);
    await lake.write(t, { kind: 'rows', rows: [{ id: 3, op: 'u', seq: 2 }] }, opts);
    const rows = await lake.scan(t);
    expect(rows.filter((r) => r.__is_deleted === true).map((r) => r.id)).toEqual([2]);
    const before = canonical(rows);

    const r = await compactTable(t, { targetSize: MB });
    expect(r).toMatchObject({ status: 'committed', filesAdded: 1 });
    const snap = await lake.snapshot(t);
    expect(snap.files.map((f) => f.deletedRows ?? 0)).toEqual([0]);
    expect(snap.files[0]!.stats).toMatchObject({ numRecords: 3 });
    expect(canonical(await lake.scan(t))).toEqual(before);

    // The tombstone still outranks an older version of its key.
    await lake.write(t, { kind: 'rows', rows: [{ id: 2, op: 'u', seq: 4 }] }, opts);
    expect(canonical(await lake.scan(t))).toEqual(before);
  });

  it('re-plans when a concurrent upsert rewrites a file being compacted, or gives up leaving the table unchanged', async () => {
    const t = path.join(tempDir(), 'race');
    for (let k = 0; k < 4; k++) {
      await lake.write(t, { kind: 'rows', rows: [{ id: k, v: 0 }] }, { mode: 'upsert', mergeKeys: ['id'], sequenceBy: 'v' });
    }
    const upsert = (id: number, v: number) => lake.write(t, { kind: 'rows', rows: [{ id, v }] }, { mode: 'upsert', mergeKeys: ['id'], sequenceBy: 'v' });

    // One attempt: the upsert removes a file this compaction rewrote, so it gives up.
    const diskBefore = new Set(dataFilesOnDisk(t));
    const failing = compactTable(t, { targetSize: MB, maxAttempts: 1, beforeCommit: async () => void (await upsert(1, 5)) });
    await expect(failing).rejects.toMatchObject({ code: 'PIPE_LAKE_COMPACT_CONFLICT', retriable: true });
    await expect(failing).rejects.toThrow(/removed .*which this write rewrites.*the table is unchanged/);
    const snap = await lake.snapshot(t);
    expect(snap.files).toHaveLength(4); // the upsert's rewrite, nothing from the compaction
    const live = new Set(snap.files.map((f) => decodeURIComponent(f.path)));
    expect(dataFilesOnDisk(t).filter((f) => !diskBefore.has(f) && !live.has(f))).toEqual([]);

    // Default attempts: the second plan starts from the upsert's version and commits.
    let raced = false;
    const r = await compactTable(t, {
      targetSize: MB,
      beforeCommit: async () => {
        if (raced) return;
        raced = true;
        await upsert(2, 7);
      },
    });
    expect(r).toMatchObject({ status: 'committed', attempts: 2, filesRemoved: 4, filesAdded: 1 });
    const rows = await lake.scan(t, { orderBy: 'id' });
    expect(rows).toEqual([{ id: 0, v: 0 }, { id: 1, v: 5 }, { id: 2, v: 7 }, { id: 3, v: 0 }]);
  });
});
