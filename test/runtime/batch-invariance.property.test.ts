/**
 * Batch invariance, as a property: random JSON records (case-variant keys, sparse keys,
 * numbers that widen, nulls, numeric strings, integers beyond 2^53, nested values,
 * pretty-printed text) routed to random tables go through the real batch processor and the
 * real lake (DuckDB, Delta files) under different cuttings — one batch; random batch sizes
 * on one stream; random batch sizes on three streams whose commits interleave at random —
 * and must (a) leave every record in its table or in the dead-letter table, and (b) give
 * identical tables every time, equal to a reference model written from the README's rules.
 * The keyed table takes CDC deletes: a stale record arriving after its key's delete must lose
 * to the delete whether the two share a batch or not (the delete is kept as a tombstone row).
 * The scd2 table keeps every version, with late versions, deletes and equal sequences from
 * different partitions; the partitioned table's partition column is often absent, NULL or empty
 * (a record with an empty partition value is dead-lettered: Delta reads it as NULL); declared
 * columns take their type from the spec, and values the keyed table's f2 (BIGINT) cannot hold go
 * to its rescued-data column.
 */
import { join } from 'node:path';
import fc from 'fast-check';
import { expect, test } from 'vitest';
import { Kind, typeOfKinds } from '../../src/lake/type-lattice.js';
import { compilePlan } from '../../src/planner/compile.js';
import { loadSpecText } from '../../src/spec/index.js';
import { driveProcessors } from '../support/processors.js';
import { useLake } from '../support/tables.js';
import { tempDirs } from '../support/temp-dirs.js';

const PARTITIONS = 4;
const TABLES = ['keyed', 'log', 'hist', 'part'];

/** A generated record: its fields (values already JSON-encodable text pieces) and routing. */
interface Gen {
  table: 'keyed' | 'log' | 'hist' | 'part' | 'nowhere';
  key: number;
  seq: number | string;
  fields: [string, Value][];
  pretty: boolean;
  /** A keyed or hist record that deletes its key (`op: "d"`). */
  del: boolean;
}
type Value = { kind: 'int'; v: number } | { kind: 'big'; v: bigint } | { kind: 'frac'; v: number } | { kind: 'str'; v: string } | { kind: 'bool'; v: boolean } | { kind: 'null' } | { kind: 'obj'; v: Record<string, string | number> };

const valueArb: fc.Arbitrary<Value> = fc.oneof(
  fc.integer({ min: -1000, max: 1000 }).map((v) => ({ kind: 'int' as const, v })),
  fc.bigInt({ min: 2n ** 53n + 1n, max: 2n ** 62n }).map((v) => ({ kind: 'big' as const, v })),
  fc.tuple(fc.integer({ min: 0, max: 999 }), fc.constantFrom(0.25, 0.5, 0.75)).map(([i, f]) => ({ kind: 'frac' as const, v: i + f })),
  fc.constantFrom('a', 'b', 'x y', '12', '').map((v) => ({ kind: 'str' as const, v })),
  fc.boolean().map((v) => ({ kind: 'bool' as const, v })),
  fc.constant({ kind: 'null' as const }),
  fc.record({ c: fc.constantFrom('p', 'q'), n: fc.integer({ min: 0, max: 9 }) }).map((v) => ({ kind: 'obj' as const, v })),
);
// Sparse, case-variant names: `Amount` and `amount` are one column.
const nameArb = fc.constantFrom('amount', 'Amount', 'AMOUNT', 'note', 'Note', 'f1', 'f2', 'f3', 'f4', 'f5', 'f6', 'tag', 'TAG');
const genArb: fc.Arbitrary<Gen> = fc.record({
  table: fc.constantFrom<Gen['table']>('keyed', 'keyed', 'log', 'hist', 'hist', 'part', 'nowhere'),
  key: fc.integer({ min: 0, max: 7 }),
  // Small sequences often: equal sequences of one key (ties) are the point of several rules.
  seq: fc.oneof({ weight: 5, arbitrary: fc.integer({ min: 0, max: 30 }) }, { weight: 4, arbitrary: fc.integer({ min: 0, max: 3 }) }, { weight: 1, arbitrary: fc.constant('3') }),
  fields: fc.array(fc.tuple(nameArb, valueArb), { maxLength: 4 }),
  pretty: fc.boolean(),
  del: fc.boolean().chain((b) => (b ? fc.boolean() : fc.constant(false))),
});

function text(v: Value): string {
  switch (v.kind) {
    case 'null': return 'null';
    case 'big': return v.v.toString();
    case 'obj': return JSON.stringify(v.v);
    default: return JSON.stringify(v.v);
  }
}

/** Tables whose records carry a merge key, a sequence and maybe a delete. */
const keyed = (table: string) => table === 'keyed' || table === 'hist';

/** The raw record text (pretty-printed with line breaks when asked). */
function render(g: Gen): string {
  const parts: [string, string][] = [['type', JSON.stringify(g.table)]];
  if (keyed(g.table)) parts.push(['id', String(g.key)], ['seq', JSON.stringify(g.seq)]);
  else parts.push(['id', String(g.key)]);
  if (keyed(g.table) && g.del) parts.push(['op', '"d"']);
  const seen = new Set(parts.map(([k]) => k));
  for (const [name, v] of g.fields) {
    if (seen.has(name)) continue; // JSON.parse keeps the last of equal keys; keep keys unique
    seen.add(name);
    parts.push([name, text(v)]);
  }
  const sep = g.pretty ? ',\n  ' : ',';
  return `{${g.pretty ? '\n  ' : ''}${parts.map(([k, t]) => `${JSON.stringify(k)}: ${t}`).join(sep)}${g.pretty ? '\n' : ''}}`;
}

// ---------------------------------------------------------------- the reference model
const kindOf = (v: Value): number =>
  ({ int: Kind.INT, big: Kind.BIGINT, frac: Kind.REAL, str: Kind.STRING, bool: Kind.BOOLEAN, null: Kind.NULL, obj: Kind.NESTED })[v.kind];

/** The stored form of a value in a column of `type` (README: canonical text in VARCHAR columns). */
function stored(v: Value, type: string): unknown {
  if (v.kind === 'null') return null;
  if (type === 'VARCHAR') return v.kind === 'str' ? v.v : text(v);
  if (v.kind === 'big') return v.v.toString();
  return (v as { v: unknown }).v;
}

interface ModelTable { types: Record<string, string>; rows: Record<string, unknown>[] }

/**
 * Tables per the README: routing, case-insensitive columns, lattice types, greatest sequence
 * wins (first in partition order among equals); a winning delete leaves its own record as a
 * tombstone row (`__is_deleted` true), every other row has `__is_deleted` false. The scd2
 * table's versions: per key and sequence the record read first counts (lowest partition, then
 * offset); in sequence order a record opens a version when its tracked values differ from the
 * record before it or the key was deleted; a delete closes the open version.
 */
function model(records: { g: Gen; partition: number }[]): { tables: Record<string, ModelTable>; deadLettered: number } {
  let deadLettered = 0;
  const accepted: Record<string, { g: Gen; fields: Map<string, Value>; partition: number }[]> = { keyed: [], log: [], hist: [], part: [] };
  for (const { g, partition } of records) {
    if (g.table === 'nowhere') { deadLettered++; continue; }
    const fields = new Map<string, Value>();
    const names = new Map<string, string>();
    let dup = false;
    for (const [name, v] of g.fields) {
      const lower = name.toLowerCase();
      if (names.has(lower) && names.get(lower) !== name) dup = true;
      if (names.has(lower)) continue;
      names.set(lower, name);
      fields.set(lower, v);
    }
    if (dup || (keyed(g.table) && typeof g.seq !== 'number')) { deadLettered++; continue; }
    accepted[g.table]!.push({ g, fields, partition });
  }
  const tables: Record<string, ModelTable> = {};
  for (const table of TABLES) {
    const list = accepted[table]!;
    if (list.length === 0) continue;
    const kinds: Record<string, number> = { type: Kind.STRING, id: Kind.INT };
    if (keyed(table)) kinds.seq = Kind.INT;
    if (keyed(table) && list.some((e) => e.g.del)) kinds.op = Kind.STRING;
    for (const { fields } of list) for (const [k, v] of fields) kinds[k] = (kinds[k] ?? 0) | kindOf(v);
    const types: Record<string, string> = {};
    for (const [k, bits] of Object.entries(kinds)) {
      const t = typeOfKinds(bits);
      if (t) types[k] = t;
    }
    // The partition column exists from the first commit: VARCHAR while it has held only NULLs.
    if (table === 'part') types.tag ??= 'VARCHAR';
    // Declared columns exist from the first commit with their type: the log's note is text; the
    // keyed table's f2 takes integers only, and any other value goes to its rescued-data column.
    if (table === 'log') types.note = 'VARCHAR';
    if (table === 'keyed') Object.assign(types, { f2: 'BIGINT', _rescued: 'VARCHAR' });
    const row = (e: { g: Gen; fields: Map<string, Value> }) => {
      const r: Record<string, unknown> = { type: table, id: e.g.key };
      if (keyed(table)) r.seq = e.g.seq;
      if (keyed(table) && e.g.del) r.op = 'd';
      if (table === 'keyed') {
        const f2 = e.fields.get('f2');
        const fits = !f2 || f2.kind === 'int' || f2.kind === 'big' || f2.kind === 'null';
        r.f2 = fits ? (f2 ? stored(f2, 'BIGINT') : null) : null;
        r._rescued = fits ? null : `{"f2":${text(f2!)}}`;
      }
      for (const k of Object.keys(types)) if (!(k in r)) r[k] = e.fields.has(k) ? stored(e.fields.get(k)!, types[k]!) : null;
      return r;
    };
    if (table === 'log') tables[table] = { types, rows: list.map(row) };
    else if (table === 'part') {
      // An empty partition value (Delta reads it as NULL) fails its record; its kinds still count.
      const empty = (e: { fields: Map<string, Value> }) => e.fields.get('tag')?.kind === 'str' && (e.fields.get('tag') as { v: string }).v === '';
      deadLettered += list.filter(empty).length;
      tables[table] = { types, rows: list.filter((e) => !empty(e)).map(row) };
    }
    else if (table === 'hist') tables[table] = { types: { ...types, __start_at: 'BIGINT', __end_at: 'BIGINT', __is_current: 'BOOLEAN' }, rows: historyModel(list, row) };
    else {
      const winners = new Map<number, { g: Gen; fields: Map<string, Value> }>();
      for (const e of list) {
        const w = winners.get(e.g.key);
        if (!w || (e.g.seq as number) > (w.g.seq as number)) winners.set(e.g.key, e);
      }
      tables[table] = { types: { ...types, __is_deleted: 'BOOLEAN' }, rows: [...winners.values()].map((e) => ({ ...row(e), __is_deleted: e.g.del })) };
    }
  }
  return { tables, deadLettered };
}

/** The scd2 table's version rows (records in topic order within each partition). */
function historyModel(list: { g: Gen; partition: number }[], row: (e: { g: Gen; fields: Map<string, Value> }) => Record<string, unknown>): Record<string, unknown>[] {
  type Event = (typeof list)[number] & { fields: Map<string, Value> };
  const byKey = new Map<number, Event[]>();
  for (const e of list as Event[]) {
    const events = byKey.get(e.g.key) ?? [];
    byKey.set(e.g.key, events);
    const at = events.findIndex((x) => x.g.seq === e.g.seq);
    // Within a partition the earlier record was read first; across partitions the lower one counts.
    if (at < 0) events.push(e);
    else if (e.partition < events[at]!.partition) events[at] = e;
  }
  const tracked = (e: Event) => JSON.stringify(Object.entries(row(e)).filter(([k]) => k !== 'id' && k !== 'seq'));
  const out: Record<string, unknown>[] = [];
  for (const events of byKey.values()) {
    events.sort((a, b) => (a.g.seq as number) - (b.g.seq as number));
    const kept: Event[] = [];
    events.forEach((e, i) => {
      const prev = events[i - 1];
      if (e.g.del ? prev !== undefined && !prev.g.del : prev === undefined || prev.g.del || tracked(prev) !== tracked(e)) kept.push(e);
    });
    kept.forEach((e, i) => {
      if (e.g.del) return;
      const end = (kept[i + 1]?.g.seq as number | undefined) ?? null;
      out.push({ ...row(e), __start_at: e.g.seq, __end_at: end, __is_current: end === null });
    });
  }
  return out;
}

// ---------------------------------------------------------------- running it for real
const lake = useLake();
const tempDir = tempDirs('prop-');

const SPEC = (out: string, streams: number) => `apiVersion: pipeline/v1
name: prop
source: { kafka: { brokers: [localhost:9092], topic: t } }
streams: ${streams}
routing: { field: type, routes: { keyed: keyed, log: log, hist: hist, part: part } }
tables:
  keyed: { mergeKeys: [id], sequenceBy: seq, deleteWhen: "op = 'd'", columns: { f2: BIGINT }, rescuedDataColumn: _rescued }
  log: { mode: append, columns: { note: VARCHAR } }
  part: { mode: append, partitionBy: [tag] }
  hist: { mode: scd2, mergeKeys: [id], sequenceBy: seq, deleteWhen: "op = 'd'" }
deadLetter: { maxRatio: 1 }
output: { path: ${out} }
`;

/**
 * Runs the records through `streams` batch processors (stream i owns p % streams == i); each
 * stream cuts its records into batches of the sizes `cuts` yields; the streams' batches
 * commit in the order `pick` chooses.
 */
async function runOnce(recs: { g: Gen; partition: number }[], streams: number, cuts: () => number, pick: (n: number) => number) {
  const dir = tempDir();
  const loaded = loadSpecText(SPEC(join(dir, 'lake'), streams), 'prop.yaml');
  if (!loaded.spec) throw new Error(JSON.stringify(loaded.diagnostics));
  const plan = compilePlan(loaded.spec, { cwd: dir });
  const records = recs.map((r) => ({ partition: r.partition, value: render(r.g) }));
  const { deadLettered } = await driveProcessors(records, { plan, dir, lake, streams, appId: 'prop', cuts, pick });
  const tables: Record<string, ModelTable> = {};
  for (const table of TABLES) {
    const path = join(dir, 'lake', table);
    if (!(await lake.exists(path))) continue;
    const types = Object.fromEntries((await lake.columns(path)).map((c) => [c.name.toLowerCase(), c.type]));
    const rows = (await lake.scan(path)).map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k.toLowerCase(), typeof v === 'bigint' ? v.toString() : v])));
    tables[table] = { types, rows };
  }
  const dl = join(dir, 'lake', '_dead_letter');
  const dlRows = (await lake.exists(dl)) ? (await lake.scan(dl)).length : 0;
  return { tables, deadLettered, dlRows };
}

/**
 * Without what the model does not track: Kafka positions, the sequences an scd2 row absorbed,
 * and scd2 tombstone rows (deletes before a key's first version).
 */
const UNMODELLED = new Set(['__source_partition', '__source_offset', '__seen_at', '__source_positions']);
const withoutPositions = (t: Record<string, ModelTable>): Record<string, ModelTable> =>
  Object.fromEntries(Object.entries(t).map(([name, { types, rows }]) => [name, {
    types: Object.fromEntries(Object.entries(types).filter(([k]) => !UNMODELLED.has(k))),
    rows: rows.filter((r) => r.__start_at !== null).map((r) => Object.fromEntries(Object.entries(r).filter(([k]) => !UNMODELLED.has(k)))),
  }]));

const canon = (t: Record<string, ModelTable>) =>
  Object.fromEntries(Object.entries(t).map(([name, { types, rows }]) => [name, { types, rows: rows.map((r) => JSON.stringify(Object.entries(r).sort())).sort() }]));

test('tables are identical whatever the batch cuts and stream count, and equal the reference model', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(genArb, { minLength: 1, maxLength: 40 }),
      fc.array(fc.integer({ min: 1, max: 7 }), { minLength: 1, maxLength: 12 }),
      fc.array(fc.nat(), { minLength: 1, maxLength: 12 }),
      async (gens, cutList, picks) => {
        // The upsert table's versions of a key share a partition (as with Kafka's key partitioning);
        // the scd2 table's are spread over partitions, so equal sequences of a key meet across them.
        const records = gens.map((g) => ({ g, partition: g.table === 'keyed' ? g.key % PARTITIONS : (g.key * 7 + g.fields.length) % PARTITIONS }));
        const expected = model(records);
        let c = 0;
        let k = 0;
        const cuts = () => cutList[c++ % cutList.length]!;
        const pick = (n: number) => picks[k++ % picks.length]! % n;
        const runs = [
          await runOnce(records, 1, () => 1_000_000, () => 0),
          await runOnce(records, 1, cuts, pick),
          await runOnce(records, 3, cuts, pick),
        ];
        for (const run of runs) {
          // (a) every record is in its table or in the dead-letter table.
          expect(run.deadLettered).toBe(expected.deadLettered);
          expect(run.dlRows).toBe(expected.deadLettered);
          // (b) the same tables (positions included), equal to the model.
          expect(canon(run.tables)).toEqual(canon(runs[0]!.tables));
          expect(canon(withoutPositions(run.tables))).toEqual(canon(expected.tables));
        }
      },
    ),
    { numRuns: Number(process.env.PROPERTY_RUNS ?? 12), seed: process.env.PROPERTY_SEED ? Number(process.env.PROPERTY_SEED) : undefined },
  );
}, 300_000);
