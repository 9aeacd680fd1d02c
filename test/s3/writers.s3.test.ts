/**
 * Writer processes on one table in a bucket: two committing at once (every record
 * accounted for, every version won by exactly one writer, conflicts observed), and a writer
 * killed between uploading its data files and committing (the table stays readable, and
 * vacuum removes only the files no commit references).
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { Lake } from '../../src/lake/index.js';
import { type NodeChild, spawnNode } from '../support/cli.js';
import { startMinio, useMinio, type Minio } from '../../src/dev-broker/object-store.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
const writer = path.join(here, 's3-writer.mjs');
const cli = path.join(root, 'bin', 'pipeline.js');

let minio: Minio;
let lake: Lake;
beforeAll(async () => {
  if (!fs.existsSync(path.join(root, 'dist/src/lake/storage/s3.js'))) throw new Error('run `npm run build` first: the writers import dist/');
  minio = await startMinio(['lake']);
  useMinio(minio);
  lake = await Lake.create({ threads: 1 });
});
afterAll(async () => {
  lake?.close();
  await minio?.dispose();
});

/** A writer process with its own (empty) cache, so it reads the bucket, not our files. */
function run(args: string[], env: Record<string, string> = {}): NodeChild {
  const cache = fs.mkdtempSync(path.join(path.dirname(process.env.PIPELINE_OBJECT_CACHE!), 'writer-cache-'));
  return spawnNode(writer, args, root, { PIPELINE_OBJECT_CACHE: cache, ...env });
}

test('two processes committing to one table in the bucket: nothing lost, no version won twice, conflicts retried', async () => {
  const t = 's3://lake/concurrent/orders';
  const batches = 12;
  // Writer A owns keys 0..29 with even sequences, writer B keys 15..44 with odd ones: 15 keys overlap.
  const [ra, rb] = await Promise.all([run([t, 'A', '0', '30', String(batches), '0']).done, run([t, 'B', '15', '30', String(batches), '1']).done]);
  expect(ra.code, ra.stderr).toBe(0);
  expect(rb.code, rb.stderr).toBe(0);
  const a = JSON.parse(ra.stdout) as { conflicts: number; committed: number[] };
  const b = JSON.parse(rb.stdout) as { conflicts: number; committed: number[] };
  // Every version 0..23 was won by exactly one writer: the store refused every second writer.
  expect([...a.committed, ...b.committed].sort((x, y) => x - y)).toEqual(Array.from({ length: 2 * batches }, (_, i) => i));
  expect(a.committed).toHaveLength(batches);
  expect(b.committed).toHaveLength(batches);
  const conflicts = a.conflicts + b.conflicts;
  console.log(`conditional-write conflicts retried: A ${a.conflicts}, B ${b.conflicts}`);
  expect(conflicts).toBeGreaterThan(0);
  const keys = await minio.keys('lake', 'concurrent/orders/_delta_log/');
  expect(keys.filter((k) => k.endsWith('.json'))).toHaveLength(2 * batches);

  const rows = await lake.scan(t, { orderBy: 'id' });
  expect(rows.map((r) => r.id)).toEqual(Array.from({ length: 45 }, (_, i) => i));
  for (const r of rows) {
    const expectedWriter = (r.id as number) >= 15 ? 'B' : 'A';
    expect(r).toMatchObject({ writer: expectedWriter, batch: batches - 1, seq: (batches - 1) * 2 + (expectedWriter === 'B' ? 1 : 0) });
  }
  expect((await lake.snapshot(t)).txns).toEqual({ 'writer-A': batches - 1, 'writer-B': batches - 1 });
});

test('a writer killed between upload and commit leaves unreferenced files that vacuum removes', async () => {
  const t = 's3://lake/crash/orders';
  const first = await run([t, 'A', '0', '5', '1', '0']).done;
  expect(first.code, first.stderr).toBe(0);
  const liveBefore = (await lake.snapshot(t)).files.map((f) => f.path);
  const crashing = run([t, 'A', '100', '5', '2', '0'], { PIPELINE_FAILPOINT: 'lake.before-commit' });
  await crashing.stderrHas('failpoint lake.before-commit reached');
  crashing.kill();
  await crashing.done;

  const objects = (await minio.keys('lake', 'crash/orders/')).filter((k) => k.endsWith('.parquet'));
  const stray = objects.map((k) => k.slice('crash/orders/'.length)).filter((k) => !liveBefore.includes(k));
  expect(stray.length).toBeGreaterThan(0); // the data files were uploaded
  const snap = await lake.snapshot(t);
  expect(snap.version).toBe(0);
  expect((await lake.scan(t)).map((r) => r.id).sort()).toEqual([0, 1, 2, 3, 4]);

  const vacuum = spawnSync(process.execPath, [cli, 'table', 'vacuum', t, '--retain', '0s', '--force'], { cwd: root, env: process.env, encoding: 'utf8' });
  expect(vacuum.status, vacuum.stderr).toBe(0);
  expect(vacuum.stdout).toContain(`Deleted ${stray.length} files`);
  const after = (await minio.keys('lake', 'crash/orders/')).filter((k) => k.endsWith('.parquet')).map((k) => k.slice('crash/orders/'.length));
  expect(after.sort()).toEqual([...liveBefore].sort());
  expect((await lake.scan(t)).map((r) => r.id).sort()).toEqual([0, 1, 2, 3, 4]);
});
