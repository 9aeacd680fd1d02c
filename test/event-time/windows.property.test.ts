/**
 * Event time, as a property: out-of-order and late records on four partitions go through
 * the real batch processor and the real lake under different batch cuts and stream counts
 * (streams committing in random order), and the window tables, the late counts and the
 * dead-letter table must equal the reference model (reference.ts) every time: `update`
 * windows converge to the same rows, `append` windows are written once and final, also when
 * two or three streams hold partials of the same window and the checkpoint is re-sharded
 * mid-way (each row in exactly one Delta `add`).
 */
import { join } from 'node:path';
import fc from 'fast-check';
import { expect, test } from 'vitest';
import { compilePlan } from '../../src/planner/compile.js';
import { loadSpecText } from '../../src/spec/index.js';
import { referenceWindows, lateRecords, type RefEvent, type RefRow } from './reference.js';
import { driveProcessors } from '../support/processors.js';
import { reshardCheckpoint } from '../../src/runtime/reshard.js';
import { reshardState } from '../../src/runtime/reshard-state.js';
import { loggedRows, useLake } from '../support/tables.js';
import { tempDirs } from '../support/temp-dirs.js';

const PARTITIONS = [0, 1, 2, 3];
const T0 = Date.parse('2026-01-01T00:00:00Z');
const DELAY = 30_000;

const eventArb: fc.Arbitrary<RefEvent> = fc.record({
  partition: fc.constantFrom(...PARTITIONS),
  ts: fc.integer({ min: 0, max: 400 }).map((s) => T0 + s * 1000),
  table: fc.constantFrom('clicks', 'clicks', 'views', undefined),
  group: fc.constantFrom('a', 'b'),
  // Tenths: their sums round differently in another order, so the sums must be exact.
  value: fc.oneof(fc.integer({ min: -500, max: 500 }).map((k) => k / 10), fc.constant(null)),
  // A value the table's DOUBLE column refuses: the record is dead-lettered and counts in no window.
  bad: fc.constantFrom(false, false, false, false, false, true),
});

/** The record as produced: event time as ISO text or epoch ms (both are documented). */
function render(e: RefEvent, i: number): string {
  const type = e.table === 'clicks' ? 'click' : e.table === 'views' ? 'view' : 'other';
  return JSON.stringify({ type, id: i, ts: i % 3 === 0 ? e.ts : new Date(e.ts).toISOString(), g: e.group, v: e.bad ? `not a number ${e.value}` : e.value });
}

const SPEC = (out: string, streams: number, mode: string, window: string, lateData: string) => `apiVersion: pipeline/v1
name: windows
source: { kafka: { brokers: [localhost:9092], topic: t } }
streams: ${streams}
watermark: { column: ts, delay: 30s, lateData: ${lateData} }
routing: { field: type, routes: { click: clicks, view: views } }
tables:
  clicks: { mode: append, columns: { v: DOUBLE } }
  views: { mode: append, columns: { v: DOUBLE } }
aggregations:
  per_window:
    from: [clicks, views]
    window: ${window}
    groupBy: [g]
    measures: { n: "count(*)", valued: "count(v)", total: "sum(v)", lo: "min(v)", hi: "max(v)", mean: "avg(v)" }
    outputMode: ${mode}
    partitionBy: [window_hour]
deadLetter: { maxRatio: 1 }
output: { path: ${out} }
`;

const lake = useLake();
const tempDir = tempDirs('windows-');

const ms = (v: unknown): number => (v instanceof Date ? v.getTime() : Date.parse(String(v)));
const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

/**
 * Runs the events through `streams` processors; every batch lists all the stream's partitions
 * (as the collector does). With `reshard`, the first `at` events run on `streams` streams, the
 * checkpoint is re-sharded to `reshard.streams` (`--reshard`), and the rest run on those.
 */
async function runOnce(events: RefEvent[], streams: number, mode: string, window: string, lateData: string, cuts: () => number, pick: (n: number) => number, reshard?: { streams: number; at: number }) {
  const dir = tempDir();
  const planFor = (n: number) => {
    const loaded = loadSpecText(SPEC(join(dir, 'lake'), n, mode, window, lateData), 'windows.yaml');
    if (!loaded.spec) throw new Error(JSON.stringify(loaded.diagnostics));
    return compilePlan(loaded.spec, { cwd: dir });
  };
  const records = events.map((e, i) => ({ partition: e.partition, value: render(e, i) }));
  const phases = reshard ? [{ n: streams, part: records.slice(0, reshard.at) }, { n: reshard.streams, part: records.slice(reshard.at) }] : [{ n: streams, part: records }];
  const totals = { late: 0, deadLettered: 0, dropped: 0, offsets: new Map<number, number>() };
  for (const [k, { n, part }] of phases.entries()) {
    const plan = planFor(n);
    if (k > 0) {
      const from = phases[k - 1]!.n;
      const meta = { formatVersion: 1 as const, pipeline: 'windows', topic: 't', streams: from, createdAt: new Date().toISOString() };
      reshardCheckpoint({ root: join(dir, 'cp'), pipeline: 'windows', topic: 't', from, to: n, meta, logger: { info() {} }, carry: (old) => reshardState(plan, old, n, PARTITIONS.length) });
    }
    const run = await driveProcessors(part, { plan, dir, lake, streams: n, appId: 'windows', cuts, pick, partitions: PARTITIONS, startOffsets: totals.offsets });
    Object.assign(totals, { late: totals.late + run.late, deadLettered: totals.deadLettered + run.deadLettered, dropped: totals.dropped + run.dropped, offsets: run.offsets });
  }
  const { late, deadLettered, dropped } = totals;
  let stored = 0;
  for (const table of ['clicks', 'views']) if (await lake.exists(join(dir, 'lake', table))) stored += (await lake.scan(join(dir, 'lake', table))).length;
  const path = join(dir, 'lake', 'per_window');
  const rows: RefRow[] = (await lake.exists(path) ? await lake.scan(path) : []).map((r) => ({
    start: ms(r.window_start), end: ms(r.window_end), group: String(r.g), n: Number(r.n), valued: Number(r.valued),
    total: num(r.total), lo: num(r.lo), hi: num(r.hi), mean: num(r.mean),
  }));
  rows.sort((a, b) => a.start - b.start || a.group.localeCompare(b.group));
  const logged = rows.length > 0 ? loggedRows(path) : { added: 0, removes: 0 };
  return { rows, late, deadLettered, dropped, stored, added: logged.removes === 0 ? logged.added : Number.NaN };
}

const WINDOWS = { tumbling: { text: '{ type: tumbling, size: 1m }', sizeMs: 60_000, slideMs: 60_000 }, sliding: { text: '{ type: sliding, size: 1m, slide: 30s }', sizeMs: 60_000, slideMs: 30_000 } };

test('window tables equal the reference whatever the batch cuts and stream count', async () => {
  let appendRows = 0;
  await fc.assert(
    fc.asyncProperty(
      fc.array(eventArb, { minLength: 8, maxLength: 60 }),
      fc.constantFrom<keyof typeof WINDOWS>('tumbling', 'sliding'),
      fc.array(fc.integer({ min: 1, max: 9 }), { minLength: 1, maxLength: 8 }),
      fc.array(fc.nat(), { minLength: 1, maxLength: 8 }),
      fc.constantFrom('dead_letter', 'drop', 'keep'),
      fc.integer({ min: 2, max: 3 }),
      fc.integer({ min: 1, max: 3 }),
      fc.double({ min: 0, max: 1, noNaN: true }),
      async (events, windowKind, cutList, picks, lateData, appendStreams, reshardTo, reshardAt) => {
        const w = WINDOWS[windowKind];
        let c = 0;
        let k = 0;
        const cuts = () => cutList[c++ % cutList.length]!;
        const pick = (n: number) => picks[k++ % picks.length]! % n;
        const { late } = lateRecords(events, DELAY);
        const unmatched = events.filter((e, i) => e.table === undefined && !late.has(i)).length;
        const base = { delayMs: DELAY, sizeMs: w.sizeMs, slideMs: w.slideMs, tables: ['clicks', 'views'], partitions: PARTITIONS };
        const update = referenceWindows(events, { ...base, append: false });
        const append = referenceWindows(events, { ...base, append: true });
        const runs = [
          { expected: update, run: await runOnce(events, 1, 'update', w.text, lateData, () => 1000, () => 0) },
          { expected: update, run: await runOnce(events, 3, 'update', w.text, lateData, cuts, pick) },
          { expected: append, run: await runOnce(events, 1, 'append', w.text, lateData, cuts, pick) },
          // Several streams each hold partials of the same windows; each row is still written once, final,
          // also when the checkpoint is re-sharded mid-way (the open windows move with the state).
          { expected: append, run: await runOnce(events, appendStreams, 'append', w.text, lateData, cuts, pick, { streams: reshardTo, at: Math.floor(reshardAt * events.length) }), once: true },
        ];
        appendRows += append.length;
        // Late records land as configured; windows never count them.
        const routedLate = events.filter((e, i) => late.has(i) && e.table !== undefined).length;
        const onTimeRouted = events.filter((e, i) => !late.has(i) && e.table !== undefined).length;
        // Routed records the table refuses (late ones reach the table only under `keep`).
        const refused = events.filter((e, i) => e.bad && e.table !== undefined && (!late.has(i) || lateData === 'keep')).length;
        for (const { run, expected, once } of runs) {
          expect(run.late).toBe(late.size);
          expect(run.deadLettered).toBe(unmatched + refused + (lateData === 'dead_letter' ? late.size : lateData === 'keep' ? late.size - routedLate : 0));
          expect(run.dropped).toBe(lateData === 'drop' ? late.size : 0);
          expect(run.stored).toBe(onTimeRouted + (lateData === 'keep' ? routedLate : 0) - refused);
          expect(run.rows).toEqual(expected);
          if (once) expect(run.added).toEqual(expected.length);
        }
      },
    ),
    { numRuns: Number(process.env.PROPERTY_RUNS ?? 10), seed: process.env.PROPERTY_SEED ? Number(process.env.PROPERTY_SEED) : undefined },
  );
  // The append case must have been exercised, not only its empty answer.
  expect(appendRows).toBeGreaterThan(0);
}, 300_000);
