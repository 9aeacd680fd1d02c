/**
 * `pipeline diff --lake` and `pipeline plan --lake` on a small real lake (tables written by
 * the lake, a checkpoint written by the checkpoint code): the costs per table and per
 * stream, checked against a golden file.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lake } from '../../src/lake/index.js';
import { StreamCheckpoint } from '../../src/runtime/stream-checkpoint.js';
import { lakeImpact } from '../../src/runtime/lake-impact.js';
import { compilePlan } from '../../src/planner/compile.js';
import { loadSpecFile } from '../../src/spec/index.js';
import { expectGolden } from './golden.js';

const ROOT = join(import.meta.dirname, '..', '..');
const BIN = join(ROOT, 'bin', 'pipeline.js');
let dir: string;

function cli(args: string[]) {
  // A port nothing listens on: the golden output must not depend on a broker being around.
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1', KAFKA_BROKERS: '127.0.0.1:1' };
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: dir, encoding: 'utf8', env });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'diff-lake-'));
  const example = readFileSync(join(ROOT, 'pipelines', 'commerce-events.yaml'), 'utf8');
  writeFileSync(join(dir, 'old.yaml'), example);
  const changed = example
    .replace('orders:    { mergeKeys: [id], sequenceBy: seq }', 'orders:    { mergeKeys: [order_id], sequenceBy: seq }')
    .replace('  reviews:   { mergeKeys: [id], sequenceBy: seq }\n', '')
    .replace('    reviews: reviews\n', '')
    .replace('name: commerce-events', 'name: commerce-events-v2');
  expect(changed).not.toBe(example);
  writeFileSync(join(dir, 'new.yaml'), changed);
  const lake = await Lake.create({ threads: 1 });
  try {
    const upsert = { mode: 'upsert' as const, mergeKeys: ['id'], sequenceBy: 'seq' };
    const rows = (n: number, from = 0) => Array.from({ length: n }, (_, i) => ({ id: from + i, seq: 1, status: 'new' }));
    await lake.write(join(dir, 'lake', 'orders'), { kind: 'rows', rows: rows(5) }, { ...upsert, txn: { appId: 'commerce-events/0', version: 0 } });
    await lake.write(join(dir, 'lake', 'orders'), { kind: 'rows', rows: rows(3, 5) }, { ...upsert, txn: { appId: 'commerce-events/1', version: 0 } });
    await lake.write(join(dir, 'lake', 'reviews'), { kind: 'rows', rows: rows(2) }, { ...upsert, txn: { appId: 'commerce-events/0', version: 0 } });
    await lake.write(join(dir, 'lake', 'analytics'), { kind: 'rows', rows: rows(4) }, { mode: 'append', txn: { appId: 'commerce-events/1', version: 0 } });
  } finally {
    lake.close();
  }
  const layout: [number, Record<string, [number, number]>][] = [[0, { 0: [0, 7], 4: [0, 3] }], [1, { 1: [0, 6] }]];
  for (const [stream, ranges] of layout) {
    const cp = new StreamCheckpoint(join(dir, 'lake', '_checkpoints'), stream);
    cp.writeOffsets({ batchId: 0, appId: `commerce-events/${stream}`, topic: 'events_topic', ranges, schema: {}, createdAt: '2026-01-01T00:00:00Z' });
    cp.writeCommit({ batchId: 0, committedAt: '2026-01-01T00:00:01Z', records: 10, tables: {} });
  }
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('pipeline diff --lake', () => {
  it('prices each change against the live tables and checkpoints (golden)', () => {
    const r = cli(['diff', 'old.yaml', 'new.yaml', '--lake']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(3);
    expectGolden('commerce-events.diff-lake.txt', r.stdout);
    const json = JSON.parse(cli(['diff', 'old.yaml', 'new.yaml', '--lake', '--format', 'json']).stdout);
    const orders = json.lake.tables.find((t: { table: string }) => t.table === 'orders');
    expect(orders).toMatchObject({ exists: true, rows: 8, files: 2, cost: 'rewrite', because: ['tables.orders.mergeKeys'] });
    expect(json.lake.tables.find((t: { table: string }) => t.table === 'reviews')).toMatchObject({ rows: 2, cost: 'orphaned' });
    expect(json.lake.streams).toEqual([
      { stream: 0, positions: { 0: 7, 4: 3 }, consumed: 10, reread: true, from: 'earliest', lost: {}, dataLoss: false },
      { stream: 1, positions: { 1: 6 }, consumed: 6, reread: true, from: 'earliest', lost: {}, dataLoss: false },
      { stream: 2, positions: {}, consumed: 0, reread: false, lost: {}, dataLoss: false },
      { stream: 3, positions: {}, consumed: 0, reread: false, lost: {}, dataLoss: false },
    ]);
    expect(json.lake.retention.checked).toBe(false);
  }, 60_000);

  it('flags data loss when the offsets a change needs are gone from Kafka', async () => {
    const plan = compilePlan(loadSpecFile(join(dir, 'old.yaml')).spec!, { cwd: dir });
    // What ListOffsets answers after retention deleted p0 up to 5 and p1 up to 8 (p1 was read only to 6).
    const topic = { partitions: 8, low: new Map([[0, 5], [1, 8], [4, 0]]), high: new Map([[0, 20], [1, 30], [4, 9]]) };
    const lake = await Lake.create({ threads: 1 });
    try {
      const none = await lakeImpact(lake, plan, [], 'earliest', topic);
      expect(none.streams.map((s) => [s.stream, s.lost, s.dataLoss])).toEqual([[0, {}, false], [1, { 1: [6, 8] }, true], [2, {}, false], [3, {}, false]]);
      const rename = [{ path: 'name', before: 'commerce-events', after: 'x', impact: 'checkpoint' as const, message: '' }];
      const reread = await lakeImpact(lake, plan, rename, 'earliest', topic);
      expect(reread.retention).toEqual({ checked: true });
      expect(reread.streams[0]).toMatchObject({ reread: true, lost: { 0: [0, 5] }, dataLoss: true });
      expect(reread.tables.find((t) => t.table === 'analytics')).toMatchObject({ cost: 'duplicates', because: ['name'] });
    } finally {
      lake.close();
    }
  });

  it('plan --lake shows the live state without costs', () => {
    const r = cli(['plan', 'old.yaml', '--lake']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Live tables (./lake):\n');
    expect(r.stdout).toMatch(/^ {2}orders +version 1, 8 rows in 2 files$/m);
    expect(r.stdout).toMatch(/^ {2}stream 0 {2}p0@7 p4@3$/m);
    expect(cli(['plan', 'old.yaml', '--lake', '--format', 'dot']).code).toBe(2);
  }, 60_000);
});
