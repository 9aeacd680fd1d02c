/**
 * Property tests: random sequences of upsert / scd2 batches (duplicate keys, out-of-order
 * and equal sequences, deletes, late replays) give the same table as a plain TypeScript
 * reference model of the documented rules.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { Lake } from '../../src/lake/index.js';
import { sortBy } from '../support/tables.js';
import { tempDir } from '../support/temp-dirs.js';

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

/**
 * Reference upsert, from the README: per key the record with the greatest sequence wins over
 * every record the key ever received (NULL lowest, the first among equals); a winning delete
 * stays as a tombstone row (`__is_deleted` true), so the table does not depend on batching.
 */
function upsertModel(batches: Rec[][]): (Rec & { __is_deleted: boolean })[] {
  const table = new Map<number, Rec>();
  const gt = (a: number | null, b: number | null) => a !== null && (b === null || a > b);
  for (const r of batches.flat()) {
    const w = table.get(r.id);
    if (!w || gt(r.seq, w.seq)) table.set(r.id, r);
  }
  return sortBy([...table.values()].map((r) => ({ ...r, __is_deleted: r.op === 'd' })), 'id');
}

interface Version { id: number; seq: number; val: string; op: string; __start_at: number; __end_at: number | null; __is_current: boolean }

/**
 * Reference SCD2, from the README's semantics: a key's history is a function of every record
 * it has received (the first record per sequence value wins), whatever the batches were.
 * In sequence order, a record opens a version when a tracked column differs from the event
 * before it or the key was deleted; a delete closes the open version.
 */
function scd2Model(batches: (Rec & { partition?: number; offset?: number })[][]): Version[] {
  type Event = { seq: number; del: boolean; val: string; op: string; partition?: number; offset?: number };
  const events = new Map<number, Event[]>();
  // Among records with one sequence value the first read wins, or with Kafka positions the lowest partition, then offset.
  const before = (a: Event, b: Event) => a.partition !== undefined && b.partition !== undefined && (a.partition < b.partition || (a.partition === b.partition && a.offset! < b.offset!));
  for (const r of batches.flat()) {
    if (r.seq === null) continue;
    const list = events.get(r.id) ?? [];
    const e: Event = { seq: r.seq, del: r.op === 'd', val: r.val, op: r.op, partition: r.partition, offset: r.offset };
    const at = list.findIndex((x) => x.seq === r.seq);
    if (at < 0) list.push(e);
    else if (before(e, list[at]!)) list[at] = e;
    events.set(r.id, list);
  }
  const out: Version[] = [];
  for (const [id, list] of events) {
    list.sort((a, b) => a.seq - b.seq);
    const kept: typeof list = [];
    let prev: (typeof list)[number] | undefined;
    for (const e of list) {
      const keep = e.del ? prev !== undefined && !prev.del : prev === undefined || prev.del || prev.val !== e.val || prev.op !== e.op;
      if (keep) kept.push(e);
      prev = e;
    }
    kept.forEach((e, i) => {
      if (e.del) return;
      const end = kept[i + 1]?.seq ?? null;
      out.push({ id, seq: e.seq, val: e.val, op: e.op, __start_at: e.seq, __end_at: end, __is_current: end === null });
    });
  }
  return sortBy(out, 'id', '__start_at');
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
      const actual = (await lake.exists(t)) ? await lake.scan(t, { orderBy: 'id', columns: ['id', 'seq', 'val', 'op', '__is_deleted'] }) : [];
      expect(actual).toEqual(expected.map((r) => ({ id: r.id, seq: r.seq, val: r.val, op: r.op, __is_deleted: r.__is_deleted })));
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
        ? await lake.scan(t, { where: '__start_at IS NOT NULL', orderBy: 'id, __start_at', columns: ['id', 'seq', 'val', 'op', '__start_at', '__end_at', '__is_current'] })
        : [];
      expect(actual).toEqual(expected);
    }),
    { numRuns: 30 },
  );
});

/** One event list cut into batches at random points (late versions and deletes land in later batches). */
const cutArb = fc
  .array(
    fc.record({
      id: fc.integer({ min: 0, max: 2 }),
      seq: fc.integer({ min: 0, max: 12 }).map((n): number | null => n),
      val: fc.constantFrom('a', 'b'),
      op: fc.constantFrom<'u' | 'd'>('u', 'u', 'd'),
    }),
    { minLength: 1, maxLength: 14 },
  )
  .chain((events) => fc.tuple(fc.constant(events), fc.uniqueArray(fc.integer({ min: 1, max: Math.max(1, events.length - 1) }), { maxLength: 5 })));

test('scd2 history is the same for any batch cut of the same records', async () => {
  await fc.assert(
    fc.asyncProperty(cutArb, async ([events, cuts]) => {
      const bounds = [0, ...[...cuts].sort((a, b) => a - b), events.length];
      const batches = bounds.slice(1).map((end, i) => events.slice(bounds[i], end)).filter((b) => b.length > 0);
      const t = tempDir('lake-prop-cut-');
      for (const batch of batches) {
        await lake.write(t, { kind: 'rows', rows: batch as unknown as Record<string, unknown>[] }, {
          mode: 'scd2', mergeKeys: ['id'], sequenceBy: 'seq', deleteWhen: `op = 'd'`, columns: COLUMNS,
        });
      }
      const actual = await lake.scan(t, { where: '__start_at IS NOT NULL', orderBy: 'id, __start_at', columns: ['id', 'seq', 'val', 'op', '__start_at', '__end_at', '__is_current'] });
      expect(actual).toEqual(scd2Model([events]));
    }),
    { numRuns: 60 },
  );
});

interface Positioned { id: number; seq: number; val: string; partition: number }

/** Records of three partitions (offsets in partition order), read in a random interleaving and cut into random batches. */
const positionedArb = fc
  .array(fc.record({ id: fc.integer({ min: 0, max: 2 }), seq: fc.integer({ min: 0, max: 2 }), val: fc.constantFrom('a', 'b', 'c'), partition: fc.integer({ min: 0, max: 2 }) }), {
    minLength: 1,
    maxLength: 16,
  })
  .chain((recs) =>
    fc.tuple(fc.constant(recs), fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 48, maxLength: 48 }), fc.uniqueArray(fc.integer({ min: 1, max: 15 }), { maxLength: 5 })),
  );

/**
 * Kafka's view of records of three partitions: offsets numbered within each partition, read in
 * the interleaving `picks` gives (then what is left, partition by partition) and cut into
 * batches at `cuts`.
 */
function readInBatches<R extends { partition: number }>(recs: R[], picks: number[], cuts: number[]): { order: (R & { offset: number })[]; batches: (R & { offset: number })[][] } {
  const queues = [0, 1, 2].map((p) => recs.filter((r) => r.partition === p).map((r, offset) => ({ ...r, offset })));
  const order: (R & { offset: number })[] = [];
  for (const p of picks) if (queues[p]!.length > 0) order.push(queues[p]!.shift()!);
  for (const q of queues) order.push(...q);
  const bounds = [0, ...cuts.filter((c) => c < order.length).sort((a, b) => a - b), order.length];
  const batches = bounds.slice(1).map((end, i) => order.slice(bounds[i], end)).filter((b) => b.length > 0);
  return { order, batches };
}
const positionsOf = (batch: { partition: number; offset: number }[]) => ({ partitions: batch.map((r) => r.partition), offsets: batch.map((r) => r.offset) });

test('upsert ties in sequenceBy: lowest partition, then offset wins, for any interleaving and batch cut', async () => {
  await fc.assert(
    fc.asyncProperty(positionedArb, async ([recs, picks, cuts]) => {
      const { order, batches } = readInBatches(recs, picks, cuts);
      const t = tempDir('lake-prop-tie-');
      for (const batch of batches) {
        await lake.write(t, { kind: 'rows', rows: batch.map(({ id, seq, val }) => ({ id, seq, val })), positions: positionsOf(batch) }, {
          mode: 'upsert', mergeKeys: ['id'], sequenceBy: 'seq', columns: { id: 'BIGINT', seq: 'BIGINT', val: 'VARCHAR' },
        });
      }
      const best = new Map<number, Positioned & { offset: number }>();
      for (const r of order) {
        const b = best.get(r.id);
        if (!b || r.seq > b.seq || (r.seq === b.seq && (r.partition < b.partition || (r.partition === b.partition && r.offset < b.offset)))) best.set(r.id, r);
      }
      const expected = sortBy([...best.values()], 'id').map((r) => ({ id: r.id, seq: r.seq, val: r.val, __source_partition: r.partition, __source_offset: r.offset }));
      expect(await lake.scan(t, { orderBy: 'id' })).toEqual(expected);
    }),
    { numRuns: 60 },
  );
});

/** Records with deletes of three partitions, read in a random interleaving and cut into random batches. */
const positionedScd2Arb = fc
  .array(
    fc.record({ id: fc.integer({ min: 0, max: 1 }), seq: fc.integer({ min: 0, max: 4 }), val: fc.constantFrom('a', 'b'), op: fc.constantFrom<'u' | 'd'>('u', 'u', 'd'), partition: fc.integer({ min: 0, max: 2 }) }),
    { minLength: 1, maxLength: 16 },
  )
  .chain((recs) =>
    fc.tuple(fc.constant(recs), fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 48, maxLength: 48 }), fc.uniqueArray(fc.integer({ min: 1, max: 15 }), { maxLength: 5 })),
  );

test('scd2 ties in sequenceBy: lowest partition, then offset wins, for any interleaving and batch cut, in either write mode', async () => {
  await fc.assert(
    fc.asyncProperty(positionedScd2Arb, fc.constantFrom<'copy-on-write' | 'merge-on-read'>('copy-on-write', 'merge-on-read'), async ([recs, picks, cuts], writeMode) => {
      const { order, batches } = readInBatches(recs, picks, cuts);
      const t = tempDir('lake-prop-scd2-tie-');
      for (const batch of batches) {
        await lake.write(t, { kind: 'rows', rows: batch.map(({ id, seq, val, op }) => ({ id, seq, val, op })), positions: positionsOf(batch) }, {
          mode: 'scd2', mergeKeys: ['id'], sequenceBy: 'seq', deleteWhen: `op = 'd'`, columns: COLUMNS, writeMode,
        });
      }
      const actual = (await lake.exists(t))
        ? await lake.scan(t, { where: '__start_at IS NOT NULL', orderBy: 'id, __start_at', columns: ['id', 'seq', 'val', 'op', '__start_at', '__end_at', '__is_current'] })
        : [];
      expect(actual).toEqual(scd2Model([order]));
    }),
    { numRuns: 80 },
  );
});
