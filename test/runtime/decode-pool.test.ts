import { graphOf } from './graph-fixture.js';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeThreadsFromEnv, flushBytesFor, resolveRuntimeSettings } from '../../src/runtime/settings.js';
import { packValues } from '../../src/runtime/batch-transform.js';
import type { RoutingRules, TableRules } from '../../src/operators/api.js';
import { ROOT } from '../support/build.js';

const dir = mkdtempSync(join(tmpdir(), 'decode-pool-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('decode threads', () => {
  it('default to one per stream while streams < cores, else inline; PIPELINE_DECODE_THREADS overrides', () => {
    expect(decodeThreadsFromEnv(1, 2, {})).toBe(1);
    expect(decodeThreadsFromEnv(2, 2, {})).toBe(0);
    expect(decodeThreadsFromEnv(8, 2, {})).toBe(0);
    expect(decodeThreadsFromEnv(3, 8, {})).toBe(1);
    expect(decodeThreadsFromEnv(8, 2, { PIPELINE_DECODE_THREADS: '2' })).toBe(2);
    expect(decodeThreadsFromEnv(1, 2, { PIPELINE_DECODE_THREADS: '0' })).toBe(0);
    expect(decodeThreadsFromEnv(1, 2, { PIPELINE_DECODE_THREADS: 'many' })).toBe(1);
  });

  it('resolves every runtime setting once, from the environment or its default', () => {
    const env = { PIPELINE_TABLE_CONCURRENCY: '4', PIPELINE_KAFKA_MAX_WAIT_MS: '50', PIPELINE_DUCKDB_MEMORY: '1GB', PIPELINE_DUCKDB_THREADS: 'x', PIPELINE_DUCKDB_FLUSH_THRESHOLD: '64MB' };
    expect(resolveRuntimeSettings(env, 2, 2)).toEqual({
      decodeThreads: 0,
      tableConcurrency: 4,
      duckdbThreads: 1,
      duckdbMemoryLimit: '1GB',
      duckdbFlushBytes: 64e6,
      source: { sessionTimeoutMs: 10_000, heartbeatIntervalMs: 1_000, maxBytes: 8 << 20, maxBytesPerPartition: 1 << 20, maxWaitTimeInMs: 50 },
      registryRetryMs: 300_000,
    });
    expect(resolveRuntimeSettings({}, 2, 2).duckdbFlushBytes).toBe(16e6);
    expect(resolveRuntimeSettings({ PIPELINE_DUCKDB_FLUSH_THRESHOLD: '1GiB' }, 2, 2).duckdbFlushBytes).toBe(1024 ** 3);
    expect(resolveRuntimeSettings({ PIPELINE_DUCKDB_FLUSH_THRESHOLD: 'lots' }, 2, 2).duckdbFlushBytes).toBe(16e6);
    // A backfill batch (100,000 records of ~250 bytes) flushes; a low-latency one keeps DuckDB's default.
    const defaults = resolveRuntimeSettings({}, 2, 2);
    expect(flushBytesFor(25_000_000, defaults)).toBe(16e6);
    expect(flushBytesFor(16_000_000, defaults)).toBe(16e6);
    expect(flushBytesFor(500_000, defaults)).toBeUndefined();
  });

  it('route, validate and write the same files inline and on a pool thread', async () => {
    // The pool thread loads the compiled task file, so this runs the built module (npm test builds first).
    const built: typeof import('../../src/runtime/decode-pool.js') = await import(join(ROOT, 'dist', 'src', 'runtime', 'decode-pool.js'));
    const routing: RoutingRules = { field: 'type', routes: { a: 'ta' }, unmatched: 'dead_letter' };
    const tables: Record<string, TableRules> = { ta: { table: 'ta', mode: 'upsert', mergeKeys: ['id'], sequenceBy: 'seq', columns: { seq: 'BIGINT' } } };
    const values = ['{"type":"a","id":"1","seq":1}', '{"type":"b","id":"2","seq":1}', 'not json', '{"type":"a","id":"3","seq":"x"}', '{"type":"a","id":"4","seq":2,"n":{"m":1.5}}'];
    const results = [];
    for (const threads of [0, 1]) {
      const decoder = built.createDecoder(threads);
      try {
        const outDir = join(dir, `t${threads}`);
        const routed = await decoder.transform(packValues(values.map((v) => Buffer.from(v))), { graph: graphOf(routing, tables), tables, outDir });
        results.push({ ...routed, tables: routed.tables.map((t) => ({ ...t, path: undefined, indices: [...t.indices], text: readFileSync(t.path, 'utf8') })) });
      } finally {
        await decoder.close();
      }
    }
    expect(results[1]).toEqual(results[0]);
    expect(results[0]!.tables).toEqual([
      expect.objectContaining({ table: 'ta', count: 2, indices: [0, 4], text: `${values[0]}\n${values[4]}\n` }),
    ]);
    expect(results[0]!.failures.map((f) => [f.index, f.stage])).toEqual([[1, 'route'], [2, 'decode'], [3, 'validate']]);
  });
});
