/**
 * Interoperability: tables written by `src/lake` are read by delta-rs, Polars and DuckDB's
 * `delta` extension (Python, `.cache/venv`, see setup.sh), and each must return exactly the
 * rows and columns our reader returns. The reverse too: tables delta-rs wrote are appended to
 * and upserted by `src/lake`, then read back by delta-rs; and both write one table in turn.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lake, type WriteOptions } from '../../src/lake/index.js';
import { compactTable } from '../../src/lake/compact.js';
import { vacuumTable } from '../../src/lake/vacuum.js';
import { expectReadersAgree, python, type Row } from './readers.js';

let lake: Lake;
let root: string;
beforeAll(async () => {
  lake = await Lake.create({ threads: 1 });
  root = mkdtempSync(join(tmpdir(), 'interop-'));
});
afterAll(() => {
  lake.close();
  rmSync(root, { recursive: true, force: true });
});

const table = (name: string) => join(root, name);
const rows = (list: Row[]) => ({ kind: 'rows' as const, rows: list });

describe('tables written by src/lake, read by delta-rs, Polars and DuckDB', () => {
  it('append, upsert, scd2, deletes, partitions, schema evolution, decimals, timestamps, nested values', async () => {
    const append: WriteOptions = { mode: 'append' };
    await lake.write(table('append'), rows([{ id: 1, name: 'a', score: 1.5, ok: true }, { id: 2, name: 'b', score: -2.25, ok: false }]), append);
    await lake.write(table('append'), rows([{ id: 3, name: null, score: 0, ok: null }]), append);

    const upsert: WriteOptions = { mode: 'upsert', mergeKeys: ['id'], sequenceBy: 'seq' };
    await lake.write(table('upsert'), rows([{ id: 'k1', v: 1, seq: 1 }, { id: 'k2', v: 2, seq: 1 }]), upsert);
    await lake.write(table('upsert'), rows([{ id: 'k1', v: 10, seq: 2 }, { id: 'k3', v: 3, seq: 1 }]), upsert);

    const scd2: WriteOptions = { mode: 'scd2', mergeKeys: ['id'], sequenceBy: 'seq' };
    await lake.write(table('scd2'), rows([{ id: 1, status: 'new', seq: 1 }]), scd2);
    await lake.write(table('scd2'), rows([{ id: 1, status: 'paid', seq: 2 }, { id: 2, status: 'new', seq: 1 }]), scd2);

    const deletes: WriteOptions = { mode: 'upsert', mergeKeys: ['id'], sequenceBy: 'seq', deleteWhen: "op = 'd'" };
    await lake.write(table('deletes'), rows([{ id: 1, op: 'u', seq: 1 }, { id: 2, op: 'u', seq: 1 }, { id: 3, op: 'u', seq: 1 }]), deletes);
    await lake.write(table('deletes'), rows([{ id: 2, op: 'd', seq: 2 }]), deletes);

    const partitioned: WriteOptions = { mode: 'append', partitionBy: ['region', 'day'] };
    await lake.write(table('partitioned'), rows([
      { id: 1, region: 'eu west', day: '2026-01-01' },
      { id: 2, region: 'us/east=1', day: '2026-01-02' },
      { id: 3, region: null, day: '2026-01-02' },
      { id: 4, region: 'ünï%code', day: '2026-01-03' },
    ]), partitioned);

    await lake.write(table('evolved'), rows([{ id: 1, a: 'x' }]), append);
    await lake.write(table('evolved'), rows([{ id: 2, a: 'y', b: 2.5, c: true }]), append);

    const typed: WriteOptions = { mode: 'append', columns: { amount: 'DECIMAL(18,2)', at: 'TIMESTAMP', at_tz: 'TIMESTAMPTZ', day: 'DATE' } };
    await lake.write(table('typed'), rows([
      { id: 1, amount: '12.34', at: '2026-01-01T10:00:00.123456', at_tz: '2026-01-01T10:00:00.5Z', day: '2026-01-01' },
      { id: 2, amount: '-0.01', at: '1999-12-31T23:59:59', at_tz: '2000-01-01T00:00:00Z', day: '1999-12-31' },
    ]), typed);

    await lake.write(table('nested'), rows([
      { id: 1, customer: { name: 'a', address: { city: 'x' } }, tags: ['p', 'q'], lines: [{ sku: 's1', qty: 2 }] },
      { id: 2, customer: { name: 'b', address: { city: 'y' } }, tags: [], lines: [] },
    ]), append);

    await expectReadersAgree(['append', 'upsert', 'scd2', 'deletes', 'partitioned', 'evolved', 'typed', 'nested'].map(table));
    // Types, not only values: decimals stay exact, timestamps are UTC instants in microseconds.
    const typedColumns = ((await python(['read', table('typed')])) as Record<string, Record<string, { columns: { name: string; type: string }[] }>>)[table('typed')]!['delta-rs']!.columns;
    expect(Object.fromEntries(typedColumns.map((c) => [c.name, c.type]))).toMatchObject({
      amount: 'decimal128(18, 2)', at: 'timestamp[us, tz=UTC]', at_tz: 'timestamp[us, tz=UTC]', day: 'date32[day]',
    });
  });

  it('checkpointed (> 10 commits), compacted and vacuumed tables', async () => {
    const upsert: WriteOptions = { mode: 'upsert', mergeKeys: ['id'], sequenceBy: 'seq' };
    for (let i = 0; i < 13; i++) {
      await lake.write(table('checkpointed'), rows([{ id: i % 5, v: `v${i}`, seq: i }, { id: 100 + i, v: 'new', seq: i }]), upsert);
    }
    for (let i = 0; i < 6; i++) await lake.write(table('compacted'), rows([{ id: i, v: i * 2 }]), { mode: 'append' });
    await compactTable(table('compacted'));
    for (let i = 0; i < 4; i++) await lake.write(table('vacuumed'), rows([{ id: i, v: i * 3 }]), { mode: 'append' });
    await compactTable(table('vacuumed'));
    await vacuumTable(table('vacuumed'), { retentionMs: 0, force: true, now: Date.now() + 1_000 });
    expect(existsSync(join(table('checkpointed'), '_delta_log', '00000000000000000010.checkpoint.parquet'))).toBe(true);
    expect(readdirSync(table('vacuumed')).filter((f) => f.endsWith('.parquet'))).toHaveLength((await lake.snapshot(table('vacuumed'))).files.length);
    await expectReadersAgree(['checkpointed', 'compacted', 'vacuumed'].map(table));
  });

  it('merge-on-read tables: deletion vectors, across a checkpoint, and after compaction folds them', async () => {
    const mor: WriteOptions = { mode: 'upsert', mergeKeys: ['id'], sequenceBy: 'seq', deleteWhen: "op = 'd'", writeMode: 'merge-on-read' };
    for (const name of ['dv', 'dv-compacted']) {
      for (let i = 0; i < 12; i++) {
        await lake.write(table(name), rows([{ id: i % 5, v: `v${i}`, op: i % 4 === 3 ? 'd' : 'u', seq: i }, { id: 100 + i, v: 'new', op: 'u', seq: i }]), mor);
      }
    }
    expect((await lake.snapshot(table('dv'))).files.some((f) => (f.deletedRows ?? 0) > 0)).toBe(true);
    expect(existsSync(join(table('dv'), '_delta_log', '00000000000000000010.checkpoint.parquet'))).toBe(true);
    await compactTable(table('dv-compacted'));
    // delta-rs (deltalake 1.6) refuses reader feature deletionVectors outright; the others must read the DVs.
    await expectReadersAgree([table('dv')], { 'delta-rs': /deletionVectors.*not yet supported/ });
    await expectReadersAgree([table('dv-compacted')], { 'delta-rs': /deletionVectors.*not yet supported/ });
  });
});

describe('tables written by delta-rs, continued by src/lake', () => {
  it('appends and upserts to delta-rs tables (plain, partitioned, checkpointed, merged), read back by both', async () => {
    const plainT = table('rs-plain');
    await python(['write', JSON.stringify({ path: plainT, mode: 'append', rows: [{ id: 1, v: 'a' }, { id: 2, v: 'b' }] })]);
    await python(['write', JSON.stringify({ path: plainT, mode: 'overwrite', rows: [{ id: 1, v: 'a2' }, { id: 3, v: 'c' }] })]);
    await python(['write', JSON.stringify({ path: plainT, mode: 'merge', key: 'id', rows: [{ id: 3, v: 'c2' }, { id: 4, v: 'd' }], checkpoint: true })]);
    await lake.write(plainT, rows([{ id: 5, v: 'e' }]), { mode: 'append' });
    await lake.write(plainT, rows([{ id: 1, v: 'a3' }, { id: 6, v: 'f' }]), { mode: 'upsert', mergeKeys: ['id'] });

    const partT = table('rs-partitioned');
    await python(['write', JSON.stringify({ path: partT, mode: 'append', partitionBy: ['region'], rows: [{ id: 1, region: 'eu' }, { id: 2, region: 'us east' }] })]);
    await lake.write(partT, rows([{ id: 3, region: 'eu' }, { id: 4, region: 'apac' }]), { mode: 'append' });

    const ours = (await lake.scan(plainT)).map((r) => `${r.id}:${r.v}`).sort();
    expect(ours).toEqual(['1:a3', '3:c2', '4:d', '5:e', '6:f']);
    expect((await lake.scan(partT)).map((r) => `${r.id}:${r.region}`).sort()).toEqual(['1:eu', '2:us east', '3:eu', '4:apac']);
    await expectReadersAgree([plainT, partT]);
  });

  it('appends and upserts to Spark tables (append, overwrite, MERGE, partitioned, checkpointed), read back by all', async () => {
    const [plainT, partT, ckptT] = ['sp-plain', 'sp-partitioned', 'sp-checkpointed'].map(table);
    await python(['spark-write', JSON.stringify([
      { path: plainT, mode: 'append', rows: [{ id: 1, v: 'a' }, { id: 2, v: 'b' }] },
      { path: plainT, mode: 'overwrite', rows: [{ id: 1, v: 'a2' }, { id: 3, v: 'c' }] },
      { path: plainT, mode: 'merge', key: 'id', rows: [{ id: 3, v: 'c2' }, { id: 4, v: 'd' }] },
      { path: partT, mode: 'append', partitionBy: ['region'], rows: [{ id: 1, region: 'eu' }, { id: 2, region: 'us east' }] },
      ...Array.from({ length: 12 }, (_, i) => ({ path: ckptT, mode: 'append', rows: [{ id: i, v: `v${i}` }] })),
    ])]);
    expect(existsSync(join(ckptT!, '_delta_log', '00000000000000000010.checkpoint.parquet'))).toBe(true);
    await lake.write(plainT!, rows([{ id: 5, v: 'e' }]), { mode: 'append' });
    await lake.write(plainT!, rows([{ id: 1, v: 'a3' }, { id: 6, v: 'f' }]), { mode: 'upsert', mergeKeys: ['id'] });
    await lake.write(partT!, rows([{ id: 3, region: 'eu' }, { id: 4, region: 'apac' }]), { mode: 'append' });
    await lake.write(ckptT!, rows([{ id: 3, v: 'x' }, { id: 99, v: 'y' }]), { mode: 'upsert', mergeKeys: ['id'] });
    expect((await lake.scan(plainT!)).map((r) => `${r.id}:${r.v}`).sort()).toEqual(['1:a3', '3:c2', '4:d', '5:e', '6:f']);
    expect((await lake.scan(ckptT!))).toHaveLength(13);
    await expectReadersAgree([plainT!, partT!, ckptT!]);
  });

  it('interleaved writers on one table lose nothing', async () => {
    const t = table('interleaved');
    const expected: string[] = [];
    for (let i = 0; i < 6; i++) {
      if (i % 2 === 0) await lake.write(t, rows([{ id: i, who: 'lake' }]), { mode: 'append' });
      else await python(['write', JSON.stringify({ path: t, mode: 'append', rows: [{ id: i, who: 'delta-rs' }] })]);
      expected.push(`${i}:${i % 2 === 0 ? 'lake' : 'delta-rs'}`);
    }
    expect((await lake.scan(t)).map((r) => `${r.id}:${r.who}`).sort()).toEqual(expected.sort());
    await expectReadersAgree([t]);
  });
});
