/**
 * The load-time operators (derive, filter, expect) through the real batch processor and the
 * real lake, under different batch cuts: each record ends where a reference model written from
 * the documented semantics says — a derive expression that errors on it dead-letters it (stage
 * `derive`, the column and DuckDB's error), a user's `TRY_CAST` gives NULL and keeps it, `where`
 * drops, a `quarantine` expectation dead-letters, a `warn` one only counts — and each node's
 * counters (in, out, dropped, dead-lettered), summed over the batches, are the model's whatever
 * the cuts. The table itself (columns, types, rows) is the same for every cut: a refused record's
 * kinds count even in a batch that stores nothing.
 */
import { join } from 'node:path';
import fc from 'fast-check';
import { expect, test } from 'vitest';
import { compilePlan } from '../../src/planner/compile.js';
import { loadSpecText } from '../../src/spec/index.js';
import { RunMetrics } from '../../src/runtime/run-metrics.js';
import type { BatchStats } from '../../src/runtime/stream-protocol.js';
import { driveProcessors } from '../support/processors.js';
import { useLake } from '../support/tables.js';
import { tempDirs } from '../support/temp-dirs.js';

const SPEC = `apiVersion: pipeline/v1
name: ops
source:
  kafka: { brokers: [localhost:9092], topic: orders }
routing: { field: kind, routes: { order: orders } }
tables:
  orders:
    mode: append
    derive:
      units: "CAST(qty AS INTEGER)"
      code: "TRY_CAST(ref AS INTEGER)"
    where: "amount <> 0"
    expectations:
      - { name: positive, expr: "amount > 0", action: quarantine }
      - { name: small, expr: "units < 100", action: warn }
deadLetter: { table: _dead_letter, maxRatio: 1 }
output: { path: ./lake }
`;

interface Gen {
  qty: number | string;
  ref: string;
  amount: number;
}

const genArb: fc.Arbitrary<Gen> = fc.record({
  // Integers (some beyond INTEGER's range), numeric text, and text that is no number.
  qty: fc.oneof(fc.integer({ min: -5, max: 300 }), fc.constantFrom(3_000_000_000, '7', 'many', 'x1')),
  ref: fc.constantFrom('12', 'abc', '0'),
  amount: fc.constantFrom(-2, 0, 1, 5),
});

/** What the docs promise for one record. */
function model(g: Gen): { outcome: 'derive' | 'dropped' | 'quarantined' | 'landed'; units?: number; code?: number | null } {
  const units = typeof g.qty === 'number' ? g.qty : /^-?\d+$/.test(g.qty) ? Number(g.qty) : undefined;
  if (units === undefined || units > 2 ** 31 - 1 || units < -(2 ** 31)) return { outcome: 'derive' };
  if (g.amount === 0) return { outcome: 'dropped' };
  if (!(g.amount > 0)) return { outcome: 'quarantined' };
  return { outcome: 'landed', units, code: /^\d+$/.test(g.ref) ? Number(g.ref) : null };
}

const lake = useLake();
const tempDir = tempDirs('load-ops-');

async function run(gens: Gen[], cuts: () => number) {
  const dir = tempDir();
  const loaded = loadSpecText(SPEC, 'spec.yaml');
  expect(loaded.diagnostics).toEqual([]);
  const plan = compilePlan(loaded.spec!, { cwd: dir });
  const stats: BatchStats[] = [];
  const records = gens.map((g, i) => ({ partition: 0, value: JSON.stringify({ kind: 'order', id: i, ...g }) }));
  await driveProcessors(records, { plan, dir, lake, streams: 1, appId: 'ops', cuts, pick: () => 0, onBatch: (s) => stats.push(s) });
  const rows = (await lake.exists(join(dir, 'lake', 'orders'))) ? await lake.scan(join(dir, 'lake', 'orders')) : [];
  const dead = (await lake.exists(join(dir, 'lake', '_dead_letter'))) ? await lake.scan(join(dir, 'lake', '_dead_letter')) : [];
  const totals = new Map<string, { in: number; out: number; dropped: number; deadLettered: number }>();
  for (const s of stats) {
    for (const o of s.operators ?? []) {
      const t = totals.get(o.node) ?? { in: 0, out: 0, dropped: 0, deadLettered: 0 };
      totals.set(o.node, { in: t.in + o.in, out: t.out + o.out, dropped: t.dropped + o.dropped, deadLettered: t.deadLettered + o.deadLettered });
    }
  }
  const columns = (await lake.exists(join(dir, 'lake', 'orders'))) ? await lake.columns(join(dir, 'lake', 'orders')) : [];
  return {
    // The whole table, columns and types included: refused records count for them whatever the cuts.
    table: { columns, rows: rows.map((r) => JSON.stringify(r, (_k, v) => (typeof v === 'bigint' ? v.toString() : v))).sort() },
    landed: rows.map((r) => [Number(r.id), Number(r.units), r.code === null ? null : Number(r.code)]).sort((a, b) => Number(a[0]) - Number(b[0])),
    dead: dead.map((r) => [Number(r.offset), String(r.stage), String(r.error)]).sort((a, b) => Number(a[0]) - Number(b[0])),
    totals: Object.fromEntries(totals),
    stats,
  };
}

test('each record ends where the documented semantics say, and node counters do not depend on batch cuts', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(genArb, { minLength: 1, maxLength: 25 }), fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 1, maxLength: 8 }), async (gens, sizes) => {
      const expected = gens.map(model);
      let k = 0;
      const cut = await run(gens, () => sizes[k++ % sizes.length]!);
      const whole = await run(gens, () => gens.length);
      expect(cut.table).toEqual(whole.table);
      for (const r of [cut, whole]) {
        expect(r.landed).toEqual(expected.flatMap((m, i) => (m.outcome === 'landed' ? [[i, m.units, m.code]] : [])));
        expect(r.dead.map(([o, stage]) => [o, stage])).toEqual(expected.flatMap((m, i) => (m.outcome === 'derive' ? [[i, 'derive']] : m.outcome === 'quarantined' ? [[i, 'expectation']] : [])));
        for (const [offset, stage, error] of r.dead) {
          if (stage === 'derive') expect(error).toMatch(new RegExp(`^table 'orders': derive units = CAST\\(qty AS INTEGER\\) failed: Conversion Error: .*${String(gens[Number(offset)]!.qty)}`));
        }
        const n = (o: string) => expected.filter((m) => m.outcome === o).length;
        const derived = gens.length - n('derive');
        const kept = derived - n('dropped');
        expect(r.totals).toEqual({
          'derive.orders': { in: gens.length, out: derived, dropped: 0, deadLettered: n('derive') },
          'filter.orders': { in: derived, out: kept, dropped: n('dropped'), deadLettered: 0 },
          'expect.orders': { in: kept, out: n('landed'), dropped: 0, deadLettered: n('quarantined') },
        });
      }
    }),
    { numRuns: Number(process.env.PROPERTY_RUNS ?? 12), seed: process.env.PROPERTY_SEED ? Number(process.env.PROPERTY_SEED) : undefined },
  );
}, 240_000);

test('expectation and operator counts reach the Prometheus metrics', async () => {
  const gens: Gen[] = [
    { qty: 5, ref: '1', amount: 1 },
    { qty: 500, ref: '1', amount: 1 },
    { qty: 'many', ref: '1', amount: 1 },
    { qty: 5, ref: '1', amount: 0 },
    { qty: 5, ref: '1', amount: -2 },
  ];
  const { stats } = await run(gens, () => 5);
  const metrics = new RunMetrics({ processMetrics: false });
  for (const s of stats) metrics.onBatch(s);
  const text = await metrics.text();
  const line = (name: string, labels: string) => text.split('\n').find((l) => l.startsWith(`${name}{${labels}}`));
  // `small` (units < 100) is checked on the records that pass `where`: ids 0, 1 and 4 (all rules are counted, whatever decides).
  expect(line('pipeline_expectation_records_total', 'table="orders",expectation="positive",action="quarantine",outcome="failed"')).toMatch(/ 1$/);
  expect(line('pipeline_expectation_records_total', 'table="orders",expectation="positive",action="quarantine",outcome="passed"')).toMatch(/ 2$/);
  expect(line('pipeline_expectation_records_total', 'table="orders",expectation="small",action="warn",outcome="failed"')).toMatch(/ 1$/);
  expect(line('pipeline_operator_records_total', 'node="derive.orders",kind="derive",outcome="dead_lettered"')).toMatch(/ 1$/);
  expect(line('pipeline_operator_records_total', 'node="filter.orders",kind="filter",outcome="dropped"')).toMatch(/ 1$/);
  expect(line('pipeline_operator_records_total', 'node="expect.orders",kind="expect",outcome="out"')).toMatch(/ 2$/);
}, 60_000);
