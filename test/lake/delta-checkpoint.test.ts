/**
 * Checkpoints: every 10 commits a classic Parquet checkpoint and `_last_checkpoint`; the
 * state read from the checkpoint equals a replay of the JSON commits alone.
 */
import fs from 'node:fs';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { Lake } from '../../src/lake/index.js';
import { tempDir } from './helpers.js';

let lake: Lake;
beforeAll(async () => {
  lake = await Lake.create({ threads: 1 });
});
afterAll(() => lake.close());

test('25 commits: checkpoints at 10 and 20, and checkpoint reads equal a JSON replay', async () => {
  const t = tempDir();
  for (let batch = 0; batch < 25; batch++) {
    // Keys overlap between batches, so commits carry removes (tombstones) as well as adds.
    const rows = [0, 1, 2].map((k) => ({ id: (batch + k) % 6, seq: batch, val: `b${batch}` }));
    const r = await lake.write(t, { kind: 'rows', rows }, { mode: 'upsert', mergeKeys: ['id'], sequenceBy: 'seq', txn: { appId: `app-${batch % 2}`, version: batch } });
    expect(r.version).toBe(batch);
  }
  const log = path.join(t, '_delta_log');
  const checkpoints = fs.readdirSync(log).filter((n) => n.endsWith('.checkpoint.parquet')).sort();
  expect(checkpoints).toEqual(['00000000000000000010.checkpoint.parquet', '00000000000000000020.checkpoint.parquet']);
  const last = JSON.parse(fs.readFileSync(path.join(log, '_last_checkpoint'), 'utf8'));
  expect(last.version).toBe(20);
  expect(last.size).toBeGreaterThan(0);

  // Checkpoint structure: the five action columns, exactly one non-null per row, stats as text.
  const duck = await DuckDBInstance.create(':memory:');
  const c = await duck.connect();
  const file = path.join(log, checkpoints[1]!);
  const cols = (await c.runAndReadAll(`DESCRIBE SELECT * FROM read_parquet('${file}')`)).getRowObjectsJson().map((r) => r.column_name);
  expect(cols).toEqual(['txn', 'add', 'remove', 'metaData', 'protocol']);
  const check = (
    await c.runAndReadAll(
      `SELECT count(*) AS n,
              count(*) FILTER (WHERE (txn IS NOT NULL)::INT + ("add" IS NOT NULL)::INT + ("remove" IS NOT NULL)::INT + (metaData IS NOT NULL)::INT + (protocol IS NOT NULL)::INT = 1) AS one,
              count(*) FILTER (WHERE "add" IS NOT NULL AND json_valid("add".stats)) AS adds,
              count(txn) AS txns, count("remove") AS removes
       FROM read_parquet('${file}')`,
    )
  ).getRowObjectsJson()[0]!;
  c.closeSync();
  duck.closeSync();
  expect(check.one).toBe(check.n);
  expect(Number(check.txns)).toBe(2);
  expect(Number(check.removes)).toBeGreaterThan(0);

  // A fresh reader starts from the checkpoint; a copy of the table without checkpoints replays JSON only.
  const jsonOnly = tempDir();
  fs.cpSync(t, jsonOnly, { recursive: true });
  for (const n of fs.readdirSync(path.join(jsonOnly, '_delta_log'))) {
    if (n.includes('checkpoint')) fs.rmSync(path.join(jsonOnly, '_delta_log', n));
  }
  const fresh = await Lake.create({ threads: 1 });
  try {
    const fromCheckpoint = await fresh.snapshot(t);
    const fromJson = await fresh.snapshot(jsonOnly);
    expect(fromCheckpoint.version).toBe(24);
    expect({ ...fromCheckpoint, path: '', files: sortFiles(fromCheckpoint.files).map(({ dataChange: _d, ...f }) => f) }).toEqual({
      ...fromJson,
      path: '',
      files: sortFiles(fromJson.files).map(({ dataChange: _d, ...f }) => f),
    });
    expect(await fresh.scan(t, { orderBy: 'id' })).toEqual(await fresh.scan(jsonOnly, { orderBy: 'id' }));
    expect(fromCheckpoint.txns).toEqual({ 'app-0': 24, 'app-1': 23 });
    // Time travel to a version between checkpoints replays from the older one.
    expect((await fresh.scan(t, { version: 15, orderBy: 'id' })).map((r) => r.val)).toEqual(['b12', 'b13', 'b14', 'b15', 'b15', 'b15']);
  } finally {
    fresh.close();
  }
});

function sortFiles<T extends { path: string }>(files: T[]): T[] {
  return [...files].sort((a, b) => a.path.localeCompare(b.path));
}

test('a partitioned table with NULL partition values round-trips through its checkpoint', async () => {
  const t = tempDir();
  for (let batch = 0; batch <= 10; batch++) {
    const rows = [{ id: batch, region: batch % 3 === 0 ? null : `r${batch % 3}`, day: '2024-01-0' + ((batch % 2) + 1), seq: batch }];
    await lake.write(t, { kind: 'rows', rows }, { mode: 'upsert', mergeKeys: ['id'], sequenceBy: 'seq', partitionBy: ['region', 'day'], columns: { day: 'DATE' } });
  }
  expect(fs.existsSync(path.join(t, '_delta_log', '00000000000000000010.checkpoint.parquet'))).toBe(true);
  expect(fs.existsSync(path.join(t, 'region=__HIVE_DEFAULT_PARTITION__'))).toBe(true);
  const fresh = await Lake.create({ threads: 1 });
  try {
    const snap = await fresh.snapshot(t);
    expect(snap.files.filter((f) => f.partitionValues.region === null)).toHaveLength(4);
    const rows = await fresh.scan(t, { orderBy: 'id' });
    expect(rows).toEqual(
      Array.from({ length: 11 }, (_, b) => ({ id: b, region: b % 3 === 0 ? null : `r${b % 3}`, day: '2024-01-0' + ((b % 2) + 1), seq: b })),
    );
  } finally {
    fresh.close();
  }
});

test('an unreadable checkpoint or a stale _last_checkpoint falls back to the JSON commits', async () => {
  const t = tempDir();
  for (let i = 0; i <= 11; i++) await lake.write(t, { kind: 'rows', rows: [{ id: i }] }, { mode: 'append' });
  const log = path.join(t, '_delta_log');
  fs.writeFileSync(path.join(log, '00000000000000000010.checkpoint.parquet'), 'not parquet');
  fs.writeFileSync(path.join(log, '_last_checkpoint'), JSON.stringify({ version: 40, size: 1 }));
  const fresh = await Lake.create({ threads: 1 });
  try {
    expect((await fresh.snapshot(t)).version).toBe(11);
    expect((await fresh.scan(t, { orderBy: 'id' })).map((r) => r.id)).toEqual(Array.from({ length: 12 }, (_, i) => i));
  } finally {
    fresh.close();
  }
});
