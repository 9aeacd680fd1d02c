/**
 * Tables in a bucket of a real MinIO server: a write/scan round trip that reads back through
 * an empty cache, checkpoints stored and read from the bucket (never from a stale cache),
 * multipart uploads, the conditional-write commit, and a server outage of 10 s in the middle
 * of a write.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { DeleteObjectCommand, HeadObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { Lake } from '../../src/lake/index.js';
import { putIfAbsent } from '../../src/lake/log.js';
import { storageFor, storageRetryCount, watchStorageRetries, type StorageRetry } from '../../src/lake/storage/index.js';
import { startMinio, useMinio, type Minio } from '../../src/dev-broker/object-store.js';

let minio: Minio;
let lake: Lake;
beforeAll(async () => {
  minio = await startMinio(['lake']);
  useMinio(minio);
  process.env.PIPELINE_STORAGE_RETRY_SECONDS = '60';
  lake = await Lake.create({ threads: 1 });
});
afterAll(async () => {
  lake?.close();
  await minio?.dispose();
});

const rows = (from: number, n: number, seq: number) => Array.from({ length: n }, (_, i) => ({ id: from + i, seq, name: `n${from + i}-${seq}`, region: (from + i) % 2 ? 'eu' : 'us' }));

function clearCache(): void {
  fs.rmSync(process.env.PIPELINE_OBJECT_CACHE!, { recursive: true, force: true });
}

test('appends and upserts round-trip through the bucket, read back through an empty cache', async () => {
  const t = 's3://lake/warehouse/orders';
  const opts = { mode: 'upsert' as const, mergeKeys: ['id'], sequenceBy: 'seq', partitionBy: ['region'], configuration: { 'delta.checkpointInterval': '3' } };
  for (let b = 0; b < 5; b++) {
    const r = await lake.write(t, { kind: 'rows', rows: rows(b * 10, 20, b) }, { ...opts, txn: { appId: 'w', version: b } });
    expect(r.status).toBe('committed');
  }
  const keys = await minio.keys('lake', 'warehouse/orders/');
  expect(keys).toContain('warehouse/orders/_delta_log/00000000000000000000.json');
  expect(keys).toContain('warehouse/orders/_delta_log/00000000000000000003.checkpoint.parquet');
  expect(keys).toContain('warehouse/orders/_delta_log/_last_checkpoint');
  expect(keys.some((k) => /^warehouse\/orders\/region=eu\/part-.*\.parquet$/.test(k))).toBe(true);
  expect(keys.some((k) => k.includes('conditional-write-probe'))).toBe(false);

  // Files the merges rewrote were dropped from the cache: it holds live files only.
  const live = new Set((await lake.snapshot(t)).files.map((f) => f.path));
  const cached = (fs.readdirSync(path.join(process.env.PIPELINE_OBJECT_CACHE!, 'lake', 'warehouse', 'orders'), { recursive: true }) as string[])
    .filter((f) => f.endsWith('.parquet') && !f.startsWith('_delta_log'));
  expect(cached.length).toBeGreaterThan(0);
  expect(cached.filter((f) => !live.has(f))).toEqual([]);
  expect(keys.filter((k) => k.endsWith('.parquet') && !k.includes('_delta_log')).length).toBeGreaterThan(live.size);

  // A fresh Lake with an empty cache knows only the bucket: checkpoint and data are downloaded.
  clearCache();
  const reader = await Lake.create({ threads: 1 });
  try {
    const snap = await reader.snapshot(t);
    expect(snap.version).toBe(4);
    expect(snap.txns).toEqual({ w: 4 });
    const got = await reader.scan(t, { orderBy: 'id' });
    expect(got.map((r) => r.id)).toEqual(Array.from({ length: 60 }, (_, i) => i));
    // Key k was last written by batch floor(k/10) (or floor(k/10) - 1 for its second half).
    for (const r of got) expect(r.seq).toBe(Math.min(4, Math.floor((r.id as number) / 10)));
    const history = await reader.history(t, { limit: 2 });
    expect(history.map((h) => h.version)).toEqual([4, 3]);
  } finally {
    reader.close();
  }
});

test('a table deleted and created again at the same location is read from the bucket, not from stale cached copies', async () => {
  const t = 's3://lake/recreate/t';
  const write = async (lk: Lake, tag: string) => {
    for (let b = 0; b < 2; b++) await lk.write(t, { kind: 'rows', rows: [{ id: b, tag }] }, { mode: 'append', configuration: { 'delta.checkpointInterval': '1' } });
  };
  await write(lake, 'old');
  expect((await lake.scan(t, { orderBy: 'id' })).map((r) => r.tag)).toEqual(['old', 'old']);
  for (const key of await minio.keys('lake', 'recreate/')) await minio.client.send(new DeleteObjectCommand({ Bucket: 'lake', Key: key }));
  // Another machine (its own cache) creates the table again.
  const ownCache = process.env.PIPELINE_OBJECT_CACHE!;
  process.env.PIPELINE_OBJECT_CACHE = `${ownCache}-other`;
  const other = await Lake.create({ threads: 1 });
  try {
    await write(other, 'new');
  } finally {
    other.close();
    process.env.PIPELINE_OBJECT_CACHE = ownCache;
  }
  // Same names for the log and the checkpoint of version 1; this process cached the old ones.
  const reader = await Lake.create({ threads: 1 });
  try {
    expect((await reader.scan(t, { orderBy: 'id' })).map((r) => r.tag)).toEqual(['new', 'new']);
  } finally {
    reader.close();
  }
});

test('a data file above the part size is uploaded in parts and fetched back whole', async () => {
  const store = storageFor('s3://lake/big/t');
  const bytes = randomBytes(40 * 1024 * 1024);
  fs.mkdirSync(path.dirname(store.localPath('part-big.parquet')), { recursive: true });
  fs.writeFileSync(store.localPath('part-big.parquet'), bytes);
  await store.upload(['part-big.parquet']);
  const head = await minio.client.send(new HeadObjectCommand({ Bucket: 'lake', Key: 'big/t/part-big.parquet' }));
  expect(head.ContentLength).toBe(bytes.length);
  expect(head.ETag).toMatch(/-3"$/); // a multipart ETag names its part count (16 + 16 + 8 MiB)
  fs.rmSync(store.localPath('part-big.parquet'));
  await store.fetch(['part-big.parquet']);
  expect(fs.readFileSync(store.localPath('part-big.parquet')).equals(bytes)).toBe(true);
});

test('a version already in the bucket is never overwritten: the second put-if-absent loses', async () => {
  const t = 's3://lake/cas/t';
  const commit = (who: string) => [{ commitInfo: { timestamp: 1, operation: who } }];
  expect(await putIfAbsent(t, 0, commit('first'))).toMatch(/^[0-9a-f]{40}$/);
  expect(await putIfAbsent(t, 0, commit('second'))).toBeUndefined();
  const got = await lake.history(t);
  expect(got.map((h) => h.operation)).toEqual(['first']);
});

test('the server stopped for 10 s in the middle of a write: requests retry, then the write commits', async () => {
  const t = 's3://lake/outage/t';
  await lake.write(t, { kind: 'rows', rows: rows(0, 10, 0) }, { mode: 'append' });
  const seen: StorageRetry[] = [];
  const unwatch = watchStorageRetries((r) => seen.push(r));
  const before = storageRetryCount();
  await minio.stop();
  const write = lake.write(t, { kind: 'rows', rows: rows(10, 10, 1) }, { mode: 'append', txn: { appId: 'w', version: 1 } });
  const settled = { done: false };
  void write.finally(() => (settled.done = true)).catch(() => undefined);
  await new Promise((r) => setTimeout(r, 10_000));
  expect(settled.done).toBe(false);
  await minio.restart();
  const r = await write;
  unwatch();
  expect(r.status).toBe('committed');
  expect(storageRetryCount() - before).toBeGreaterThan(0);
  expect(seen.length).toBeGreaterThan(0);
  expect(seen[0]!.reason).toMatch(/ECONNREFUSED|socket|connect/i);
  const got = await lake.scan(t, { orderBy: 'id' });
  expect(got.map((x) => x.id)).toEqual(Array.from({ length: 20 }, (_, i) => i));
  expect((await lake.snapshot(t)).version).toBe(1);
}, 120_000);
