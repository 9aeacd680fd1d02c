/**
 * Property tests: random sequences of upsert / scd2 batches (duplicate keys, out-of-order
 * and equal sequences, deletes, late replays) give the same table as a plain TypeScript
 * reference model of the documented rules.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { Lake } from '../../src/lake/index.js';
import { sortBy, tempDir } from './helpers.js';

interface Rec { id: number; seq: number | null; val: string; op: 'u' | 'd' }

const recArb: fc.Arbitrary<Rec> = fc.record({
  id: fc.integer({ min: 0, max: 4 }),
  seq: fc.option(fc.integer({ min: 0, max: 6 }), { freq: 8 }),
  val: fc.constantFrom('a', 'b', 'c'),
  op: fc.constantFrom<'u' | 'd'>('u', 'u', 'u', 'd'),
});
const batchesArb = fc.array(fc.array(recArb, { maxLength: 8 }), { minLength: 1, maxLength: 5 });

const COLUMNS = { id: 'BIGINT', seq: 'BIGINT', val: 'VARCHAR', op: 'VARCHAR' };
let lake: Lake;
beforeAll(async () => {
  lake = await Lake.create({ threads: 1 });
});
afterAll(() => lake.close());

/** Reference upsert: greatest sequence per key wins (first among equals), NULL never replaces, deletes leave no trace. */
function upsertModel(batches: Rec[][]): Rec[] {
  const table = new Map<number, Rec>();
  const gt = (a: number | null, b: number | null) => a !== null && (b === null || a > b);
  for (const batch of batches) {
    const winners = new Map<number, Rec>();
    for (const r of batch) {
      const w = winners.get(r.id);
      if (!w || gt(r.seq, w.seq)) winners.set(r.id, r);
    }
    for (const r of winners.values()) {
      const stored = table.get(r.id);
      if (stored && !gt(r.seq, stored.seq)) continue;
      if (r.op === 'd') table.delete(r.id);
      else table.set(r.id, r);
    }
  }
  return sortBy([...table.values()], 'id');
}

interface Version { id: number; seq: number; val: string; op: string; __start_at: number; __end_at: number | null; __is_current: boolean }

/** Reference SCD2: each key's history rebuilt from stored versions, implied deletes and the batch, ordered by sequence. */
function scd2Model(batches: Rec[][]): Version[] {
  const history = new Map<number, Version[]>();
  for (const batch of batches) {
    const incoming = new Map<number, { seq: number; del: boolean; val: string; op: string }[]>();
    for (const r of batch) {
      if (r.seq === null) continue;
      const list = incoming.get(r.id) ?? [];
      if (!list.some((e) => e.seq === r.seq)) list.push({ seq: r.seq, del: r.op === 'd', val: r.val, op: r.op });
      incoming.set(r.id, list);
    }
    for (const [id, news] of incoming) {
      const old = history.get(id) ?? [];
      const events: { seq: number; del: boolean; val: string; op: string }[] = [];
      for (const v of old) events.push({ seq: v.__start_at, del: false, val: v.val, op: v.op });
      for (const v of old) {
        if (v.__end_at !== null && !old.some((w) => w.__start_at === v.__end_at)) events.push({ seq: v.__end_at, del: true, val: '', op: '' });
      }
      for (const e of news) if (!events.some((x) => x.seq === e.seq)) events.push(e);
      events.sort((a, b) => a.seq - b.seq);
      const kept: typeof events = [];
      let prev: (typeof events)[number] | undefined;
      for (const e of events) {
        const keep = e.del ? prev !== undefined && !prev.del : prev === undefined || prev.del || prev.val !== e.val || prev.op !== e.op;
        if (keep) kept.push(e);
        prev = e;
      }
      const versions: Version[] = [];
      kept.forEach((e, i) => {
        if (e.del) return;
        const end = kept[i + 1]?.seq ?? null;
        versions.push({ id, seq: e.seq, val: e.val, op: e.op, __start_at: e.seq, __end_at: end, __is_current: end === null });
      });
      history.set(id, versions);
    }
  }
  return sortBy([...history.values()].flat(), 'id', '__start_at');
}

test('upsert batches match the reference model', async () => {
  await fc.assert(
    fc.asyncProperty(batchesArb, async (batches) => {
      const t = tempDir('lake-prop-');
      for (const batch of batches) {
        await lake.write(t, { kind: 'rows', rows: batch as unknown as Record<string, unknown>[] }, {
          mode: 'upsert', mergeKeys: ['id'], sequenceBy: 'seq', deleteWhen: `op = 'd'`, columns: COLUMNS,
        });
      }
      const expected = upsertModel(batches);
      const actual = (await lake.exists(t)) ? await lake.scan(t, { orderBy: 'id', columns: ['id', 'seq', 'val', 'op'] }) : [];
      expect(actual).toEqual(expected.map((r) => ({ id: r.id, seq: r.seq, val: r.val, op: r.op })));
    }),
    { numRuns: 30 },
  );
});

test('scd2 batches match the reference model', async () => {
  await fc.assert(
    fc.asyncProperty(batchesArb, async (batches) => {
      const t = tempDir('lake-prop-');
      for (const batch of batches) {
        await lake.write(t, { kind: 'rows', rows: batch as unknown as Record<string, unknown>[] }, {
          mode: 'scd2', mergeKeys: ['id'], sequenceBy: 'seq', deleteWhen: `op = 'd'`, columns: COLUMNS,
        });
      }
      const expected = scd2Model(batches);
      const actual = (await lake.exists(t))
        ? await lake.scan(t, { orderBy: 'id, __start_at', columns: ['id', 'seq', 'val', 'op', '__start_at', '__end_at', '__is_current'] })
        : [];
      expect(actual).toEqual(expected);
    }),
    { numRuns: 30 },
  );
});
