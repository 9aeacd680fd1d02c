/**
 * Deletion vectors: the codecs against fixed vectors (z85, portable Roaring with array,
 * bitset and run containers), and the Spark-written DV tables in ../shared/delta-golden
 * (16–19) read through log replay by logical file `(path, dvId)`.
 */
import { cpSync, readdirSync, renameSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { decodeBitmap, encodeBitmap, z85Decode, z85Encode } from '../../src/lake/deletion-vectors.js';
import { useLake } from '../support/tables.js';
import { tempDirs } from '../support/temp-dirs.js';

const GOLDEN = path.resolve('../shared/delta-golden');
const table = (name: string) => path.join(GOLDEN, name);
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

const lake = useLake();
const tempDir = tempDirs('dv-large-');

describe('codecs', () => {
  test('the inline DV of DELTA-NOTES decodes to rows {3,4,7,11,18,29} and encodes back', () => {
    const text = '^Bg9^0rr910000000000iXQKl0rr91000f55c8Xg0@@D72lkbi5=-{L';
    const bitmap = z85Decode(text).subarray(0, 44);
    expect(decodeBitmap(bitmap)).toEqual([3, 4, 7, 11, 18, 29]);
    expect(encodeBitmap([3, 4, 7, 11, 18, 29])).toEqual(bitmap);
    expect(z85Encode(bitmap).slice(0, 55)).toBe(text);
  });

  test('z85 of a UUID gives the canonical hex (golden table 16)', () => {
    expect(z85Decode('IjB3V2d3#qUP%s94R0WF').toString('hex')).toBe('899cef7806b34c14b02403860e62cd40');
  });

  test('bitset containers and rows beyond 2^32 round-trip', () => {
    const rows = [...range(0, 5000), 70_000, 2 ** 32 + 5, 2 ** 33 + 1];
    expect(decodeBitmap(encodeBitmap(rows))).toEqual(rows);
  });

  test('run containers (written by other engines) decode', () => {
    // magic, 1 bucket (key 0), run cookie with 1 container flagged as a run: {5, 6, 7}.
    const b = Buffer.alloc(4 + 8 + 4 + 4 + 1 + 4 + 2 + 4);
    let o = b.writeUInt32LE(1681511377, 0);
    o = b.writeBigUInt64LE(1n, o);
    o = b.writeUInt32LE(0, o);
    o = b.writeUInt16LE(12347, o);
    o = b.writeUInt16LE(0, o);
    o = b.writeUInt8(1, o);
    o = b.writeUInt16LE(0, o);
    o = b.writeUInt16LE(2, o);
    o = b.writeUInt16LE(1, o);
    o = b.writeUInt16LE(5, o);
    b.writeUInt16LE(2, o);
    expect(decodeBitmap(b)).toEqual([5, 6, 7]);
  });
});

describe('Spark-written DV tables', () => {
  test('basic-dv-no-checkpoint: add with a DV and remove without one in one commit', async () => {
    const snap = await lake.snapshot(table('basic-dv-no-checkpoint'));
    expect(snap.version).toBe(1);
    expect(snap.files).toHaveLength(2);
    const ids = (await lake.scan(table('basic-dv-no-checkpoint'), { orderBy: 'id' })).map((r) => Number(r.id));
    expect(ids).toEqual(range(2, 9));
  });

  test('log-replay-dv-key-cases: one path, a new DV per commit; time travel', async () => {
    const t = table('log-replay-dv-key-cases');
    const snap = await lake.snapshot(t);
    expect(snap.files).toHaveLength(1);
    expect(snap.files[0]!.deletedRows).toBe(3);
    const ids = (await lake.scan(t, { orderBy: 'id' })).map((r) => Number(r.id));
    expect(ids).toEqual(range(0, 49).filter((i) => ![0, 7, 14].includes(i)));
    for (const [v, n] of [[0, 50], [1, 49], [2, 48]] as const) expect(await lake.scan(t, { version: v })).toHaveLength(n);
  });

  test('dv-partitioned-with-checkpoint: DV structs in the checkpoint, whole-file removes', async () => {
    const t = table('dv-partitioned-with-checkpoint');
    const snap = await lake.snapshot(t);
    expect(snap.version).toBe(15);
    expect(snap.files).toHaveLength(15);
    const rows = await lake.scan(t, { orderBy: 'col1' });
    const expected = range(0, 49).filter((x) => !(x % 2 === 0 && x < 30)).map((x) => ({ part: x % 10, col1: x, col2: `foo${x % 5}` }));
    expect(rows).toEqual(expected);
    expect(rows.filter((r) => Number(r.part) >= 7)).toHaveLength(12);
  });

  test('table-with-dv-large: several DVs in one file, at every version', async () => {
    // Spark's test build prefixes DV file names; a scratch copy gives them the protocol's names.
    const dir = tempDir();
    cpSync(table('table-with-dv-large'), dir, { recursive: true });
    for (const f of readdirSync(dir)) if (f.startsWith('test%dv%prefix-')) renameSync(path.join(dir, f), path.join(dir, f.slice('test%dv%prefix-'.length)));
    const all = range(0, 1999);
    const without = (xs: number[], out: number[]) => xs.filter((x) => !out.includes(x));
    const v1 = without(all, [0, 180, 300, 700, 1800]);
    const v2 = [...v1, 300, 700].sort((a, b) => a - b);
    const v3 = without(v2, [250, 300, 350, 900, 1353, 1567, 1800]);
    const v4 = [...v3, 900, 1567].sort((a, b) => a - b);
    for (const [v, want] of [[0, all], [1, v1], [2, v2], [3, v3], [4, v4]] as const) {
      const got = (await lake.scan(dir, { version: v, orderBy: 'value' })).map((r) => Number(r.value));
      expect(got, `version ${v}`).toEqual(want);
    }
  });
});
