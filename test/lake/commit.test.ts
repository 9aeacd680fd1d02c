/**
 * Conflict rules and file pruning, deterministically: which winning commits force a re-plan,
 * which only move the commit to the next version, and which files can hold a batch's keys.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { judgeWinners, overlappingAdds, type PlannedCommit } from '../../src/lake/commit.js';
import type { Action, AddAction } from '../../src/lake/log.js';
import { Duck } from '../../src/lake/duck.js';
import { truncateStringStat } from '../../src/lake/files.js';
import { DEFAULT_TARGET_FILE_SIZE, Lake, microsToIso } from '../../src/lake/index.js';
import { targetFileSize } from '../../src/lake/write.js';
import { fileHoldsKeys, mayHoldKeys, type KeyFilter } from '../../src/lake/prune.js';
import { tempDir } from '../support/temp-dirs.js';
import { toDataFile } from '../../src/lake/snapshot.js';

function add(path: string, min: unknown, max: unknown, partitionValues: Record<string, string | null> = {}): AddAction {
  return {
    path, partitionValues, size: 1, modificationTime: 0, dataChange: true,
    stats: JSON.stringify({ numRecords: 1, minValues: { id: min }, maxValues: { id: max }, nullCount: { id: 0 } }),
  };
}
const live = (a: AddAction) => ({ add: a, file: toDataFile(a) });

const intKeys: KeyFilter = { partitionColumns: [], keys: [{ name: 'id', kind: 'int', sorted: [5n, 10n] }] };

function plan(overrides: Partial<PlannedCommit> = {}): PlannedCommit {
  return {
    readVersion: 3, operation: 'MERGE', operationParameters: {}, operationMetrics: {}, isBlindAppend: false,
    adds: [], removes: [], readFiles: new Set(['a.parquet']), keyFilter: intKeys, txn: { appId: 'app', version: 9 }, ...overrides,
  };
}
const winner = (...actions: Action[]) => [{ version: 4, actions }];

describe('judgeWinners', () => {
  test('a blind append only conflicts with metadata changes', () => {
    const append = plan({ operation: 'WRITE', isBlindAppend: true, readFiles: new Set(), keyFilter: undefined });
    expect(judgeWinners(append, winner({ add: add('x.parquet', 5, 5) }, { remove: { path: 'a.parquet', dataChange: true } })).kind).toBe('retry');
    expect(judgeWinners(append, winner({ metaData: { id: 'x', format: { provider: 'parquet', options: {} }, schemaString: '{}', partitionColumns: [], configuration: {} } })).kind).toBe('replan');
  });

  test('a merge re-plans when a file it rewrites was removed or a file holding its keys was added', () => {
    expect(judgeWinners(plan(), winner({ remove: { path: 'a.parquet', dataChange: true } })).kind).toBe('replan');
    expect(judgeWinners(plan(), winner({ remove: { path: 'other.parquet', dataChange: true } })).kind).toBe('retry');
    expect(judgeWinners(plan(), winner({ add: add('n.parquet', 8, 12) })).kind).toBe('replan');
    expect(judgeWinners(plan(), winner({ add: add('n.parquet', 11, 20) })).kind).toBe('retry');
    // A range that overlaps but whose file holds none of the keys (checked by reading it) is no conflict.
    expect(judgeWinners(plan(), winner({ add: add('n.parquet', 8, 12) }), () => false).kind).toBe('retry');
    expect(overlappingAdds(plan(), winner({ add: add('n.parquet', 8, 12) })).map((f) => f.add.path)).toEqual(['n.parquet']);
  });

  test('a winner holding our appId at our version or later means the batch is already committed', () => {
    expect(judgeWinners(plan(), winner({ txn: { appId: 'app', version: 9 } }))).toEqual({ kind: 'already-committed', version: 4 });
    expect(judgeWinners(plan(), winner({ txn: { appId: 'app', version: 8 } })).kind).toBe('retry');
    expect(judgeWinners(plan(), winner({ txn: { appId: 'other', version: 99 } })).kind).toBe('retry');
  });
});

describe('mayHoldKeys', () => {
  test('integer ranges, missing stats and imprecise bounds', () => {
    expect(mayHoldKeys(live(add('f', 0, 4)), intKeys)).toBe(false);
    expect(mayHoldKeys(live(add('f', 6, 9)), intKeys)).toBe(false);
    expect(mayHoldKeys(live(add('f', 6, 10)), intKeys)).toBe(true);
    expect(mayHoldKeys(live({ ...add('f', 0, 0), stats: null }), intKeys)).toBe(true);
    expect(mayHoldKeys(live(add('f', 2 ** 60, 2 ** 61)), intKeys)).toBe(true);
  });

  test('strings compare as UTF-8 bytes; a possibly truncated max is no bound', () => {
    const keys: KeyFilter = { partitionColumns: [], keys: [{ name: 'id', kind: 'string', sorted: ['m'] }] };
    expect(mayHoldKeys(live(add('f', 'a', 'l')), keys)).toBe(false);
    expect(mayHoldKeys(live(add('f', 'a', 'mz')), keys)).toBe(true);
    expect(mayHoldKeys(live(add('f', 'a', 'l'.repeat(32))), keys)).toBe(true);
    // A cut maximum with the tie-breaker is still a bound.
    expect(mayHoldKeys(live(add('f', 'a', truncateStringStat('l'.repeat(40), true))), keys)).toBe(false);
    expect(mayHoldKeys(live(add('f', 'a', truncateStringStat('m'.repeat(40), true))), keys)).toBe(true);
    expect(truncateStringStat('x'.repeat(40), false)).toBe('x'.repeat(32));
  });

  test('timestamp maxima are widened by a millisecond', () => {
    const micros = BigInt(Date.parse('2024-01-01T00:00:00.000Z')) * 1000n + 500n;
    const keys: KeyFilter = { partitionColumns: [], keys: [{ name: 'id', kind: 'timestamp', sorted: [micros] }] };
    expect(mayHoldKeys(live(add('f', '2023-12-31T00:00:00.000Z', '2024-01-01T00:00:00.000Z')), keys)).toBe(true);
    expect(mayHoldKeys(live(add('f', '2023-12-31T00:00:00.000Z', '2023-12-31T23:59:59.998Z')), keys)).toBe(false);
  });

  test('composite keys: every key column must have a batch value inside its range', () => {
    const file = live({
      path: 'f', partitionValues: {}, size: 1, modificationTime: 0, dataChange: true,
      stats: JSON.stringify({ numRecords: 2, minValues: { region: 'a', id: 0 }, maxValues: { region: 'b', id: 100 } }),
    });
    const filter = (region: string, id: bigint): KeyFilter => ({
      partitionColumns: [],
      keys: [{ name: 'region', kind: 'string', sorted: [region] }, { name: 'id', kind: 'int', sorted: [id] }],
    });
    expect(mayHoldKeys(file, filter('a', 5n))).toBe(true);
    expect(mayHoldKeys(file, filter('c', 5n))).toBe(false);
    expect(mayHoldKeys(file, filter('a', 500n))).toBe(false);
  });

  test('text keys compare in code point order (Parquet stats order), not UTF-16 order', () => {
    const file = live({
      path: 'f', partitionValues: {}, size: 1, modificationTime: 0, dataChange: true,
      stats: JSON.stringify({ numRecords: 2, minValues: { id: '\uE000' }, maxValues: { id: '\u{10000}' } }),
    });
    const filter = (id: string): KeyFilter => ({ partitionColumns: [], keys: [{ name: 'id', kind: 'string', sorted: [id] }] });
    expect(mayHoldKeys(file, filter('\uFFFF'))).toBe(true);
    expect(mayHoldKeys(file, filter('\u{10001}'))).toBe(false);
    expect(mayHoldKeys(file, filter('a'))).toBe(false);
  });

  test('partition tuples prune when every partition column is a key', () => {
    const keys: KeyFilter = { partitionColumns: ['region'], partitions: new Set([JSON.stringify(['eu'])]), keys: [] };
    expect(mayHoldKeys(live(add('f', 0, 0, { region: 'eu' })), keys)).toBe(true);
    expect(mayHoldKeys(live(add('f', 0, 0, { region: 'us' })), keys)).toBe(false);
    expect(mayHoldKeys(live(add('f', 0, 0, { region: null })), keys)).toBe(false);
  });
});

describe('fileHoldsKeys', () => {
  test('reads the key column of a real data file', async () => {
    const t = tempDir();
    const lake = await Lake.create({ threads: 1 });
    const duck = await Duck.create({ threads: 1 });
    try {
      await lake.write(t, { kind: 'rows', rows: [{ id: 1 }, { id: 3 }, { id: 5 }] }, { mode: 'append' });
      const snap = await lake.snapshot(t);
      const add = { ...snap.files[0]!, stats: JSON.stringify(snap.files[0]!.stats) } as AddAction;
      const keys = (values: bigint[]): KeyFilter => ({ partitionColumns: [], keys: [{ name: 'id', kind: 'int', sorted: values }] });
      await duck.with(async (c) => {
        expect(await fileHoldsKeys(c, t, live(add), keys([2n, 4n]))).toBe(false);
        expect(await fileHoldsKeys(c, t, live(add), keys([2n, 3n]))).toBe(true);
        expect(await fileHoldsKeys(c, t, live(add), keys([7n]))).toBe(false);
      });
    } finally {
      lake.close();
      duck.close();
    }
  });
});

describe('table configuration', () => {
  test('delta.targetFileSize accepts bytes or a unit; delta.checkpointInterval sets the checkpoint cadence', async () => {
    expect(targetFileSize({ 'delta.targetFileSize': '1048576' })).toBe(1048576);
    expect(targetFileSize({ 'delta.targetFileSize': '32mb' })).toBe(32 * 1024 * 1024);
    expect(targetFileSize({ 'delta.targetFileSize': 'lots' })).toBe(DEFAULT_TARGET_FILE_SIZE);
    expect(targetFileSize({})).toBe(DEFAULT_TARGET_FILE_SIZE);
    const t = tempDir();
    const lake = await Lake.create({ threads: 1 });
    try {
      await lake.createTable(t, [{ name: 'id', type: 'BIGINT', nullable: true }], { configuration: { 'delta.checkpointInterval': '3' } });
      for (let i = 0; i < 3; i++) await lake.write(t, { kind: 'rows', rows: [{ id: i }] }, { mode: 'append' });
      expect(fs.readdirSync(path.join(t, '_delta_log')).filter((n) => n.endsWith('.checkpoint.parquet'))).toEqual(['00000000000000000003.checkpoint.parquet']);
      const created = tempDir();
      await lake.write(created, { kind: 'rows', rows: [{ id: 1 }] }, { mode: 'append', configuration: { 'delta.targetFileSize': '8mb' } });
      expect((await lake.snapshot(created)).configuration).toEqual({ 'delta.targetFileSize': '8mb' });
    } finally {
      lake.close();
    }
  });
});

describe('microsToIso', () => {
  test('milliseconds by default, microseconds when present, pre-1970 values', () => {
    expect(microsToIso(0n)).toBe('1970-01-01T00:00:00.000Z');
    expect(microsToIso(1_500n)).toBe('1970-01-01T00:00:00.001500Z');
    expect(microsToIso(-1n)).toBe('1969-12-31T23:59:59.999999Z');
    expect(microsToIso(-31_536_000_000_000n)).toBe('1969-01-01T00:00:00.000Z');
  });
});
