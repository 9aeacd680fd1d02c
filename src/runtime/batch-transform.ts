/**
 * decode → route → validate over a whole batch, writing each table's raw values to an NDJSON
 * file for the lake to load. Pure CPU plus one file write per table, so it can run inline or
 * on the stream's piscina pool (see decode-pool.ts): its inputs and outputs are plain,
 * transferable values.
 *
 * Raw values are copied byte for byte into the files (no re-serialisation); only a value that
 * holds a line break (pretty-printed JSON) is re-serialised, because NDJSON needs one object
 * per line.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeJsonValue } from '../operators/decode-json.js';
import { routeRecord } from '../operators/route.js';
import { compileRules, validateCompiled, type CompiledRules } from '../operators/sink-delta.js';
import type { PackedValues, RecordFailure, RoutedBatch, RoutedTable, RoutingRules, TableRules } from '../operators/api.js';

/** What the transform needs besides the values. */
export interface TransformContext {
  routing: RoutingRules;
  /** Rules per gold table name. */
  tables: Record<string, TableRules>;
  /** Directory for the per-table NDJSON files (created when missing). */
  outDir: string;
}

const NEWLINE = 10;
const CARRIAGE_RETURN = 13;

/** Sorted positions of `byte` in `data` — one linear scan instead of a search per record. */
function positionsOf(data: Buffer, byte: number): number[] {
  const out: number[] = [];
  for (let at = data.indexOf(byte); at !== -1; at = data.indexOf(byte, at + 1)) out.push(at);
  return out;
}

/** Packs raw values into one buffer (see {@link PackedValues}). */
export function packValues(values: (Buffer | null)[]): PackedValues {
  let total = 0;
  for (const v of values) if (v) total += v.length;
  const data = new Uint8Array(total);
  const starts = new Int32Array(values.length + 1);
  const nulls = new Uint8Array(values.length);
  let at = 0;
  for (let i = 0; i < values.length; i++) {
    starts[i] = at;
    const v = values[i];
    if (v === null || v === undefined) nulls[i] = 1;
    else {
      data.set(v, at);
      at += v.length;
    }
  }
  starts[values.length] = at;
  return { data, starts, nulls };
}

/** Decodes, routes and validates every value; writes one NDJSON file per routed table. */
export function transformBatch(packed: PackedValues, ctx: TransformContext): RoutedBatch {
  const data = Buffer.from(packed.data.buffer, packed.data.byteOffset, packed.data.byteLength);
  const { starts, nulls } = packed;
  const count = starts.length - 1;
  const failures: RecordFailure[] = [];
  let dropped = 0;
  const lists = new Map<string, number[]>();
  const rewritten = new Map<number, Buffer>();
  const breaks = [...positionsOf(data, NEWLINE), ...positionsOf(data, CARRIAGE_RETURN)].sort((a, b) => a - b);
  let nextBreak = 0;
  const compiled = new Map<string, CompiledRules>();
  for (const [table, rules] of Object.entries(ctx.tables)) compiled.set(table, compileRules(rules));

  for (let i = 0; i < count; i++) {
    const start = starts[i]!;
    const end = starts[i + 1]!;
    while (nextBreak < breaks.length && breaks[nextBreak]! < start) nextBreak++;
    if (nulls[i] === 1) {
      failures.push({ index: i, stage: 'decode', error: 'value is null (tombstone)' });
      continue;
    }
    const decoded = decodeJsonValue(data, start, end);
    if (!decoded.ok) {
      failures.push({ index: i, stage: 'decode', error: decoded.error });
      continue;
    }
    const route = routeRecord(decoded.value, ctx.routing);
    if (route.kind === 'drop') {
      dropped++;
      continue;
    }
    if (route.kind === 'failure') {
      failures.push({ index: i, stage: 'route', error: route.error });
      continue;
    }
    const rules = compiled.get(route.table);
    if (!rules) {
      failures.push({ index: i, stage: 'route', error: `route target table '${route.table}' is not declared` });
      continue;
    }
    const invalid = validateCompiled(decoded.value, rules);
    if (invalid !== undefined) {
      failures.push({ index: i, stage: 'validate', error: invalid });
      continue;
    }
    if (nextBreak < breaks.length && breaks[nextBreak]! < end) {
      rewritten.set(i, Buffer.from(JSON.stringify(decoded.value)));
    }
    let list = lists.get(route.table);
    if (!list) lists.set(route.table, (list = []));
    list.push(i);
  }

  const tables: RoutedTable[] = [];
  if (lists.size > 0) mkdirSync(ctx.outDir, { recursive: true });
  for (const [table, list] of lists) {
    let size = 0;
    for (const i of list) size += (rewritten.get(i)?.length ?? starts[i + 1]! - starts[i]!) + 1;
    const out = Buffer.allocUnsafe(size);
    let at = 0;
    for (const i of list) {
      const own = rewritten.get(i);
      at += own ? own.copy(out, at) : data.copy(out, at, starts[i]!, starts[i + 1]!);
      out[at++] = NEWLINE;
    }
    const path = join(ctx.outDir, `${table.replace(/[^A-Za-z0-9_.-]/g, '_')}.ndjson`);
    writeFileSync(path, out);
    tables.push({ table, path, count: list.length, indices: Int32Array.from(list) });
  }
  return { tables, failures, dropped };
}
