/**
 * decode → route → shape over a whole batch, writing each table's values to an NDJSON file
 * for the lake to load, with the JSON kinds of every column (the lake types columns from
 * them, never by guessing). Pure CPU plus one file write per table, so it can run inline or
 * on the stream's piscina pool (see decode-pool.ts): its inputs and outputs are plain,
 * transferable values.
 *
 * Raw values are copied byte for byte into the files (no re-serialisation, so every number
 * keeps its digits). Line breaks of pretty-printed values become spaces (JSON strings cannot
 * hold a raw line break, so this changes no value). Only a record whose keys are spelled
 * differently from its table's columns is re-serialised, exactly (json-values.ts).
 */
import { isUtf8 } from 'node:buffer';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeJsonValue } from '../operators/decode-json.js';
import { routeRecord } from '../operators/route.js';
import { DEFAULT_MAX_COLUMNS, TableShaper } from '../operators/table-shape.js';
import { stringifyExactJson } from '../lake/json-values.js';
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
const SPACE = 32;

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

/** Decodes, routes and shapes every value; writes one NDJSON file per routed table. */
export function transformBatch(packed: PackedValues, ctx: TransformContext): RoutedBatch {
  const data = Buffer.from(packed.data.buffer, packed.data.byteOffset, packed.data.byteLength);
  const { starts, nulls } = packed;
  const count = starts.length - 1;
  const failures: RecordFailure[] = [];
  let dropped = 0;
  const lists = new Map<string, number[]>();
  const rewritten = new Map<number, Buffer>();
  // One native check over the whole batch spares the per-record scan for U+FFFD.
  const batchIsUtf8 = isUtf8(data);
  const shapers = new Map<string, TableShaper>();
  for (const [table, rules] of Object.entries(ctx.tables)) shapers.set(table, new TableShaper(rules, rules.maxColumns ?? DEFAULT_MAX_COLUMNS));

  for (let i = 0; i < count; i++) {
    if (nulls[i] === 1) {
      failures.push({ index: i, stage: 'decode', error: 'value is null (tombstone)' });
      continue;
    }
    const decoded = decodeJsonValue(data, starts[i]!, starts[i + 1]!, batchIsUtf8);
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
    const shaper = shapers.get(route.table);
    if (!shaper) {
      failures.push({ index: i, stage: 'route', error: `route target table '${route.table}' is not declared` });
      continue;
    }
    const shaped = shaper.shape(decoded.value);
    if (!shaped.ok) {
      failures.push({ index: i, stage: 'validate', error: shaped.error, table: route.table });
      continue;
    }
    if (shaped.renamed) rewritten.set(i, Buffer.from(stringifyExactJson(shaped.record, decoded.lossless)));
    let list = lists.get(route.table);
    if (!list) lists.set(route.table, (list = []));
    list.push(i);
  }

  const tables: RoutedTable[] = [];
  const hasBreaks = data.includes(NEWLINE) || data.includes(CARRIAGE_RETURN);
  if (lists.size > 0) mkdirSync(ctx.outDir, { recursive: true });
  for (const [table, list] of lists) {
    let size = 0;
    for (const i of list) size += (rewritten.get(i)?.length ?? starts[i + 1]! - starts[i]!) + 1;
    const out = Buffer.allocUnsafe(size);
    let at = 0;
    for (const i of list) {
      const own = rewritten.get(i);
      const from = at;
      at += own ? own.copy(out, at) : data.copy(out, at, starts[i]!, starts[i + 1]!);
      if (hasBreaks) blankLineBreaks(out.subarray(from, at));
      out[at++] = NEWLINE;
    }
    const path = join(ctx.outDir, `${table.replace(/[^A-Za-z0-9_.-]/g, '_')}.ndjson`);
    writeFileSync(path, out);
    tables.push({ table, path, count: list.length, indices: Int32Array.from(list), kinds: shapers.get(table)!.kinds });
  }
  return { tables, failures, dropped };
}

/** Turns the CR and LF bytes of one value into spaces (one JSON value per NDJSON line). */
function blankLineBreaks(value: Buffer): void {
  for (const byte of [NEWLINE, CARRIAGE_RETURN]) {
    for (let at = value.indexOf(byte); at !== -1; at = value.indexOf(byte, at + 1)) value[at] = SPACE;
  }
}
