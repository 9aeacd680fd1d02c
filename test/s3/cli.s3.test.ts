/**
 * `pipeline table show|history|head|compact|vacuum` on an `s3://` table, and a wrong
 * secret: one coded line, exit 1, and no secret in any output.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { Lake } from '../../src/lake/index.js';
import { startMinio, useMinio, type Minio } from '../../src/dev-broker/object-store.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const cli = path.join(root, 'bin', 'pipeline.js');
const table = 's3://lake/cli/events';

let minio: Minio;
beforeAll(async () => {
  if (!fs.existsSync(path.join(root, 'dist/src/lake/storage/s3.js'))) throw new Error('run `npm run build` first: the CLI runs from dist/');
  minio = await startMinio(['lake']);
  useMinio(minio);
  const lake = await Lake.create({ threads: 1 });
  try {
    for (let b = 0; b < 4; b++) {
      const rows = Array.from({ length: 5 }, (_, i) => ({ id: b * 5 + i, kind: b % 2 ? 'click' : 'view' }));
      await lake.write(table, { kind: 'rows', rows }, { mode: 'append', txn: { appId: 'cli-test', version: b } });
    }
  } finally {
    lake.close();
  }
});
afterAll(async () => {
  await minio?.dispose();
});

function pipeline(args: string[], env: Record<string, string> = {}) {
  const cache = fs.mkdtempSync(path.join(path.dirname(process.env.PIPELINE_OBJECT_CACHE!), 'cli-cache-'));
  const r = spawnSync(process.execPath, [cli, ...args], { cwd: root, env: { ...process.env, PIPELINE_OBJECT_CACHE: cache, ...env }, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('show, history and head read the table from the bucket', () => {
  const show = pipeline(['table', 'show', table, '--format', 'json']);
  expect(show.code, show.stderr).toBe(0);
  expect(JSON.parse(show.stdout)).toMatchObject({ version: 3, numFiles: 4, numRecords: 20, txns: { 'cli-test': 3 } });
  const history = pipeline(['table', 'history', table, '--format', 'json', '--limit', '2']);
  expect(history.code, history.stderr).toBe(0);
  expect((JSON.parse(history.stdout) as { version: number }[]).map((h) => h.version)).toEqual([3, 2]);
  const head = pipeline(['table', 'head', table, '-n', '3']);
  expect(head.code, head.stderr).toBe(0);
  expect(head.stdout.trim().split('\n').length).toBeGreaterThanOrEqual(4); // header, rule or rows
  expect(head.stdout).toMatch(/\bid\b/);
  expect(head.stderr).toBe('');
});

test('compact rewrites the small files in the bucket, then vacuum deletes the removed ones', async () => {
  const before = (await minio.keys('lake', 'cli/events/')).filter((k) => k.endsWith('.parquet'));
  expect(before).toHaveLength(4);
  const compact = pipeline(['table', 'compact', table]);
  expect(compact.code, compact.stderr).toBe(0);
  const show = JSON.parse(pipeline(['table', 'show', table, '--format', 'json']).stdout) as { version: number; numFiles: number; numRecords: number };
  expect(show).toMatchObject({ version: 4, numFiles: 1, numRecords: 20 });
  expect((await minio.keys('lake', 'cli/events/')).filter((k) => k.endsWith('.parquet'))).toHaveLength(5);
  const vacuum = pipeline(['table', 'vacuum', table, '--retain', '0s', '--force']);
  expect(vacuum.code, vacuum.stderr).toBe(0);
  expect(vacuum.stdout).toContain('Deleted 4 files');
  const after = (await minio.keys('lake', 'cli/events/')).filter((k) => k.endsWith('.parquet'));
  expect(after).toHaveLength(1);
  expect(before).not.toContain(after[0]);
  const head = pipeline(['table', 'show', table, '--format', 'json']);
  expect(JSON.parse(head.stdout)).toMatchObject({ numRecords: 20 });
});

test('a missing table or bucket is one coded line and exit 1', () => {
  const noTable = pipeline(['table', 'show', 's3://lake/cli/nothing-here']);
  expect(noTable.code).toBe(1);
  expect(noTable.stderr.trim().split('\n')).toHaveLength(1);
  expect(noTable.stderr).toMatch(/PIPE_LAKE_NO_TABLE/);
  const noBucket = pipeline(['table', 'history', 's3://no-such-bucket/t']);
  expect(noBucket.code).toBe(1);
  expect(noBucket.stderr.trim().split('\n')).toHaveLength(1);
  expect(noBucket.stderr).toMatch(/PIPE_LAKE_STORAGE_NO_BUCKET/);
});

test('a wrong secret is one coded line, exit 1, and no secret is printed', () => {
  const wrong = 'wrong-Secret-7f3a9c1e5b';
  for (const args of [['table', 'show', table], ['table', 'history', table], ['table', 'vacuum', table, '--dry-run']]) {
    const r = pipeline(args, { AWS_SECRET_ACCESS_KEY: wrong });
    expect(r.code).toBe(1);
    const lines = r.stderr.trim().split('\n');
    expect(lines, r.stderr).toHaveLength(1);
    expect(lines[0]).toMatch(/PIPE_LAKE_STORAGE_AUTH .*SignatureDoesNotMatch/);
    for (const out of [r.stdout, r.stderr]) {
      expect(out).not.toContain(wrong);
      expect(out).not.toContain(minio.secretKey);
    }
  }
});
