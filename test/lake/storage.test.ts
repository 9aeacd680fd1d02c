/** Table locations and the local storage: the contract the lake relies on, on a real folder. */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { expect, test, vi } from 'vitest';
import { Lake } from '../../src/lake/index.js';
import { joinLocation, resolveLocation, storageFor, tableRoot } from '../../src/lake/storage/index.js';
import { parseS3Url } from '../../src/lake/storage/location.js';
import { tempDir } from '../support/temp-dirs.js';

test('locations: bucket URLs keep one spelling, local paths resolve', () => {
  expect(tableRoot('s3://lake/a//b/')).toBe('s3://lake/a/b');
  expect(tableRoot('s3a://lake')).toBe('s3://lake');
  expect(parseS3Url('s3://lake/a/b')).toEqual({ bucket: 'lake', prefix: 'a/b' });
  expect(() => parseS3Url('s3://lake/a/../b')).toThrow(/PIPE_LAKE_BAD_LOCATION|not allowed/);
  expect(joinLocation('s3://lake/w/', 'orders')).toBe('s3://lake/w/orders');
  expect(joinLocation('/srv/lake', 'orders')).toBe('/srv/lake/orders');
  expect(resolveLocation('/srv', 'lake')).toBe('/srv/lake');
  expect(resolveLocation('/srv', 's3://lake/w')).toBe('s3://lake/w');
  expect(tableRoot('lake/t')).toBe(path.resolve('lake/t'));
});

test('local storage: put-if-absent never overwrites, listings, deletes of missing files', async () => {
  const root = tempDir();
  const store = storageFor(root);
  expect(storageFor(`${root}/`)).toBe(store);
  expect(await store.list('_delta_log')).toEqual([]);
  expect(await store.read('_delta_log/x.json')).toBeUndefined();
  expect(await store.putIfAbsent('_delta_log/0.json', 'first\n')).toBe(true);
  expect(await store.putIfAbsent('_delta_log/0.json', 'second\n')).toBe(false);
  expect((await store.read('_delta_log/0.json'))!.toString()).toBe('first\n');
  // No temp file is left beside the commit.
  expect(fs.readdirSync(path.join(root, '_delta_log'))).toEqual(['0.json']);
  await store.put('_delta_log/_last_checkpoint', '{"version":0}');
  expect((await store.list('_delta_log')).sort()).toEqual(['0.json', '_last_checkpoint']);
  fs.mkdirSync(path.join(root, 'p=1'));
  fs.writeFileSync(path.join(root, 'p=1', 'part-a.parquet'), 'x');
  const all = (await store.listAll((rel) => rel === '_delta_log')).map((f) => f.path);
  expect(all).toEqual(['p=1/part-a.parquet']);
  await store.delete('p=1/part-a.parquet');
  await store.delete('p=1/part-a.parquet');
  expect(await store.exists('p=1/part-a.parquet')).toBe(false);
});

test('local tables: a commit is durable before it is visible — data files and the folders naming them fsynced, then the log entry and its folder', async () => {
  const root = path.join(tempDir(), 'orders');
  // Every fsync, and when the log entry appeared relative to them (fs/promises is one shared module object).
  const synced: string[] = [];
  const open = fsp.open;
  const spy = vi.spyOn(fsp, 'open').mockImplementation(async (...args: Parameters<typeof fsp.open>) => {
    const handle = await open(...args);
    const sync = handle.sync.bind(handle);
    handle.sync = async () => {
      await sync();
      synced.push(path.relative(path.dirname(root), String(args[0])) || '.');
    };
    return handle;
  });
  const lake = await Lake.create({ threads: 1 });
  try {
    await lake.write(root, { kind: 'rows', rows: [{ id: 1, day: 'a' }, { id: 2, day: 'b' }] }, { mode: 'append', partitionBy: ['day'] });
  } finally {
    spy.mockRestore();
    lake.close();
  }
  const data = (await lake.snapshot(root)).files.map((f) => path.join('orders', f.path));
  expect(data).toHaveLength(2);
  const at = (p: string) => synced.indexOf(p);
  // Each data file, its partition folder, the table folder and the folder holding it, before the log entry is written.
  const entry = synced.findIndex((p) => p.startsWith('orders/_delta_log/.00000000000000000000.json.'));
  expect(entry).toBeGreaterThan(-1);
  for (const p of [...data, 'orders/day=a', 'orders/day=b', 'orders', '.']) {
    expect(at(p), p).toBeGreaterThan(-1);
    expect(at(p), p).toBeLessThan(entry);
  }
  // The entry's folder once it holds the entry.
  expect(synced.lastIndexOf('orders/_delta_log')).toBeGreaterThan(entry);
});
