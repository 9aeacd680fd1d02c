/**
 * Two processes writing one table at once, and a writer killed between writing data files
 * and committing: nothing lost, nothing duplicated, the table always readable.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { Lake } from '../../src/lake/index.js';
import { type NodeChild, spawnNode } from '../support/cli.js';
import { tempDir } from '../support/temp-dirs.js';
import { ensureFreshBuild } from '../support/build.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
const child = path.join(here, 'child-writer.mjs');

let lake: Lake;
beforeAll(async () => {
  // The children import the built lake (`npm test` has just built it).
  ensureFreshBuild();
  lake = await Lake.create({ threads: 1 });
});
afterAll(() => lake.close());


function run(args: string[], env: Record<string, string> = {}): NodeChild {
  return spawnNode(child, args, root, env);
}

test.each(['copy-on-write', 'merge-on-read'])('two processes upserting (%s) and appending into the same tables lose nothing', async (writeMode) => {
  const t = tempDir();
  const a = tempDir();
  const batches = 8;
  const env = { WRITE_MODE: writeMode };
  // A first version holding every key: both writers then replace rows of the same file (with
  // merge-on-read, both mark rows of it in deletion vectors at once).
  const base = Array.from({ length: 45 }, (_, id) => ({ id, seq: -1, writer: 'base', batch: -1 }));
  await lake.write(t, { kind: 'rows', rows: base }, { mode: 'upsert', mergeKeys: ['id'], sequenceBy: 'seq', writeMode: writeMode as 'merge-on-read' });
  // Writer A owns keys 0..29 with even sequences, writer B keys 15..44 with odd ones: 15 keys overlap.
  const [ra, rb] = await Promise.all([run([t, a, 'A', '0', '30', String(batches), '0'], env).done, run([t, a, 'B', '15', '30', String(batches), '1'], env).done]);
  expect(ra.code, ra.stderr).toBe(0);
  expect(rb.code, rb.stderr).toBe(0);
  const rows = await lake.scan(t, { orderBy: 'id' });
  expect(rows.map((r) => r.id)).toEqual(Array.from({ length: 45 }, (_, i) => i));
  for (const r of rows) {
    // The last batch of whichever writer owns the key; B's odd sequence wins on the overlap.
    const expectedWriter = (r.id as number) >= 15 ? 'B' : 'A';
    expect(r).toMatchObject({ writer: expectedWriter, batch: batches - 1, seq: (batches - 1) * 2 + (expectedWriter === 'B' ? 1 : 0) });
  }
  const snap = await lake.snapshot(t);
  expect(snap.txns).toEqual({ 'writer-A': batches - 1, 'writer-B': batches - 1 });
  expect(snap.version).toBe(2 * batches);
  if (writeMode === 'merge-on-read') {
    // Replaced rows were marked, not rewritten: commits added deletion vectors.
    expect(snap.minReaderVersion).toBe(3);
    const log = path.join(t, '_delta_log');
    const commits = fs.readdirSync(log).filter((n) => n.endsWith('.json')).map((n) => fs.readFileSync(path.join(log, n), 'utf8'));
    expect(commits.some((c) => c.split('\n').some((l) => l.startsWith('{"add"') && l.includes('"deletionVector":{')))).toBe(true);
  }
  const appended = await lake.scan(a, { columns: ['uid'] });
  expect(appended).toHaveLength(2 * batches * 30);
  expect(new Set(appended.map((r) => r.uid)).size).toBe(2 * batches * 30);
}, 120_000);

test('a writer killed between writing files and committing leaves the previous version readable', async () => {
  const t = tempDir();
  const first = await run([t, '-', 'A', '0', '5', '1', '0']).done;
  expect(first.code, first.stderr).toBe(0);
  const before = await lake.scan(t, { orderBy: 'id' });
  const crashing = run([t, '-', 'B', '3', '5', '1', '1'], { PIPELINE_FAILPOINT: 'lake.before-commit' });
  await crashing.stderrHas('failpoint lake.before-commit reached');
  crashing.kill();
  await crashing.done;
  // The crashed writer's data files exist on disk, but the log still ends at version 0.
  const parquetOnDisk = fs.readdirSync(t).filter((n) => n.endsWith('.parquet'));
  expect(parquetOnDisk.length).toBeGreaterThan(1);
  const fresh = await Lake.create({ threads: 1 });
  try {
    expect((await fresh.snapshot(t)).version).toBe(0);
    expect(await fresh.scan(t, { orderBy: 'id' })).toEqual(before);
    const r = await fresh.write(t, { kind: 'rows', rows: [{ id: 9, seq: 1, writer: 'C', batch: 0 }] }, { mode: 'upsert', mergeKeys: ['id'], sequenceBy: 'seq' });
    expect(r).toMatchObject({ status: 'committed', version: 1 });
    expect((await fresh.scan(t, { orderBy: 'id' })).map((x) => x.id)).toEqual([0, 1, 2, 3, 4, 9]);
  } finally {
    fresh.close();
  }
}, 60_000);
