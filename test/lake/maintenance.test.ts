/**
 * Housekeeping while writing. Expired log cleanup: behind a checkpoint, commits older than
 * `delta.logRetentionDuration` are deleted when the table sets `delta.enableExpiredLogCleanup`
 * (or the write asks for it); the table still opens (from the checkpoint) with every row, and
 * newer commits and the checkpoint itself stay. Auto-compaction: at a checkpoint, piled-up
 * small files and deletion vectors are compacted.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { Lake } from '../../src/lake/index.js';
import { cleanupExpiredLog } from '../../src/lake/log-cleanup.js';
import { tempDir } from './helpers.js';

let lake: Lake;
beforeAll(async () => {
  lake = await Lake.create({ threads: 1 });
});
afterAll(() => lake.close());

const logNames = (t: string) => fs.readdirSync(path.join(t, '_delta_log')).filter((n) => /^\d{20}\.(json|checkpoint\.parquet)$/.test(n)).sort();
const ageLog = (t: string, days: number) => {
  const when = new Date(Date.now() - days * 864e5);
  for (const n of logNames(t)) fs.utimesSync(path.join(t, '_delta_log', n), when, when);
};

test('after a checkpoint, expired commits below it are deleted; the table opens with every row', async () => {
  const t = tempDir();
  const configuration = { 'delta.enableExpiredLogCleanup': 'true', 'delta.logRetentionDuration': 'interval 1 days' };
  const upsert = { mode: 'upsert' as const, mergeKeys: ['id'], sequenceBy: 'seq', configuration };
  for (let v = 0; v < 10; v++) await lake.write(t, { kind: 'rows', rows: [{ id: v % 4, seq: v }] }, upsert);
  // Nothing is old enough yet, and there is no checkpoint below which to delete.
  expect(logNames(t)).toHaveLength(10);
  ageLog(t, 2);
  await lake.write(t, { kind: 'rows', rows: [{ id: 9, seq: 10 }] }, upsert); // version 10: checkpoint, then cleanup
  expect(logNames(t)).toEqual(['00000000000000000010.checkpoint.parquet', '00000000000000000010.json']);
  const fresh = await Lake.create({ threads: 1 });
  try {
    expect((await fresh.snapshot(t)).version).toBe(10);
    expect((await fresh.scan(t, { orderBy: 'id' })).map((r) => [r.id, r.seq])).toEqual([[0, 8], [1, 9], [2, 6], [3, 7], [9, 10]]);
  } finally {
    fresh.close();
  }
});

test('young commits stay, and a table without the property keeps its whole log', async () => {
  const t = tempDir();
  for (let v = 0; v < 11; v++) await lake.write(t, { kind: 'rows', rows: [{ id: v }] }, { mode: 'append' });
  expect(logNames(t)).toHaveLength(12);
  expect((await cleanupExpiredLog(t, {})).deleted).toEqual([]);
  ageLog(t, 40);
  const { deleted } = await cleanupExpiredLog(t, {});
  expect(deleted).toHaveLength(10);
  expect(await lake.scan(t)).toHaveLength(11);
});

test('maintenance: at a checkpoint, piled-up small files and deletion vectors are compacted; rows unchanged', async () => {
  const t = tempDir();
  const opts = { mode: 'upsert' as const, mergeKeys: ['id'], sequenceBy: 'seq', writeMode: 'merge-on-read' as const, maintenance: { compactSmallFiles: true } };
  for (let v = 0; v < 10; v++) await lake.write(t, { kind: 'rows', rows: [{ id: v % 3, seq: v }, { id: 10 + v, seq: v }] }, opts);
  const before = await lake.snapshot(t);
  expect(before.files.length).toBeGreaterThanOrEqual(10);
  expect(before.files.some((f) => f.deletedRows)).toBe(true);
  await lake.write(t, { kind: 'rows', rows: [{ id: 0, seq: 10 }] }, opts); // version 10: checkpoint, then compaction (version 11)
  const after = await lake.snapshot(t);
  expect(after.version).toBe(11);
  expect(after.files).toHaveLength(1);
  expect(after.files[0]!.deletedRows).toBeUndefined();
  expect((await lake.scan(t, { orderBy: 'id' })).map((r) => [r.id, r.seq])).toEqual([[0, 10], [1, 7], [2, 8], ...Array.from({ length: 10 }, (_, v) => [10 + v, v])]);
});
