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
import { isUtf8 } from 'node:buffer';
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

// JSON kinds seen per key, as bits, so a batch's key types are known without a second pass.
const KIND_INTEGER = 1;
const KIND_FRACTION = 2;
const KIND_STRING = 4;
const KIND_BOOLEAN = 8;
const KIND_NULL = 16;
const KIND_OBJECT = 32;
const KIND_ARRAY = 64;

/** What a batch's values of one key (or nested field, or list element) looked like. */
export interface ValueShape {
  kinds: number;
  /** Object values: the shape of each field seen. */
  fields?: Map<string, ValueShape>;
  /** Array values: the shape of every element seen. */
  element?: ValueShape;
}

/** Ors the kind of `value` into `shape`, descending into objects and arrays. */
function noteValue(shape: ValueShape, value: unknown): void {
  switch (typeof value) {
    case 'number':
      shape.kinds |= Number.isInteger(value) ? KIND_INTEGER : KIND_FRACTION;
      return;
    case 'string':
      shape.kinds |= KIND_STRING;
      return;
    case 'boolean':
      shape.kinds |= KIND_BOOLEAN;
      return;
  }
  if (value === null || typeof value !== 'object') {
    shape.kinds |= KIND_NULL;
  } else if (Array.isArray(value)) {
    shape.kinds |= KIND_ARRAY;
    const element = (shape.element ??= { kinds: 0 });
    for (const item of value) noteValue(element, item);
  } else {
    shape.kinds |= KIND_OBJECT;
    noteFields((shape.fields ??= new Map()), value as Record<string, unknown>);
  }
}

/** Notes every top-level value of `record` under its key. */
function noteFields(fields: Map<string, ValueShape>, record: Record<string, unknown>): void {
  for (const key in record) {
    let shape = fields.get(key);
    if (shape === undefined) fields.set(key, (shape = { kinds: 0 }));
    noteValue(shape, record[key]);
  }
}

const quoteField = (name: string) => `"${name.replace(/"/g, '""')}"`;

/**
 * The DuckDB type of a shape, as DuckDB's JSON detection would see it: integers only
 * BIGINT, any fraction DOUBLE, objects STRUCT, arrays LIST; only nulls NULL; mixed kinds,
 * empty objects and empty arrays JSON (which the lake inspects itself).
 */
function shapeType(shape: ValueShape): string {
  switch (shape.kinds & ~KIND_NULL) {
    case 0: return 'NULL';
    case KIND_INTEGER: return 'BIGINT';
    case KIND_FRACTION: case KIND_INTEGER | KIND_FRACTION: return 'DOUBLE';
    case KIND_STRING: return 'VARCHAR';
    case KIND_BOOLEAN: return 'BOOLEAN';
    case KIND_OBJECT:
      if (!shape.fields || shape.fields.size === 0) return 'JSON';
      return `STRUCT(${[...shape.fields].map(([name, field]) => `${quoteField(name)} ${shapeType(field)}`).join(', ')})`;
    case KIND_ARRAY: {
      const element = shape.element && shape.element.kinds !== 0 ? shapeType(shape.element) : 'JSON';
      return `${element === 'NULL' ? 'JSON' : element}[]`;
    }
    default: return 'JSON';
  }
}

/** The DuckDB type of every top-level key of a batch's records (see `RoutedTable.columns`). */
export function columnTypesOf(fields: Map<string, ValueShape>): Record<string, string> {
  const types: Record<string, string> = {};
  for (const [key, shape] of fields) types[key] = shapeType(shape);
  return types;
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
  const shapes = new Map<string, Map<string, ValueShape>>();
  const rewritten = new Map<number, Buffer>();
  const breaks = [...positionsOf(data, NEWLINE), ...positionsOf(data, CARRIAGE_RETURN)].sort((a, b) => a - b);
  let nextBreak = 0;
  // One native check over the whole batch spares the per-record scan for U+FFFD.
  const batchIsUtf8 = isUtf8(data);
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
    const decoded = decodeJsonValue(data, start, end, batchIsUtf8);
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
    let fields = shapes.get(route.table);
    if (!list || !fields) {
      lists.set(route.table, (list = []));
      shapes.set(route.table, (fields = new Map()));
    }
    list.push(i);
    noteFields(fields, decoded.value);
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
    tables.push({ table, path, count: list.length, indices: Int32Array.from(list), columns: columnTypesOf(shapes.get(table)!) });
  }
  return { tables, failures, dropped };
}
