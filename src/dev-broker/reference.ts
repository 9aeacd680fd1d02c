/**
 * The reference model of what a pipeline must write for a given input: the expected final
 * rows of every routed table plus the dead-letter counts. Tests and the benchmark compare
 * the gold tables against it.
 *
 * Semantics (the contract the runtime is held to):
 * - Decoding: a value is malformed when it is not valid UTF-8, not valid JSON, not a JSON
 *   object, or nests objects/arrays deeper than 64 levels. Malformed records go to the dead-letter table.
 * - Routing: the record's top-level `routing.field` value (a string) selects a table through
 *   `routing.routes`. A missing field or an unknown value is unmatched: dead-lettered when
 *   `routing.unmatched` is `dead_letter`, dropped when it is `drop`.
 * - Upsert tables (`mergeKeys` set): per merge key, the record with the greatest `sequenceBy`
 *   wins. An equal sequence never replaces, so the first record in delivery order wins a tie.
 *   A record whose sequence is null or missing only fills an absent key. Numbers compare
 *   numerically, anything else as strings.
 * - Append tables: every routed record, in delivery order.
 * - Stored values: objects and arrays are stored as their JSON text (no type is declared
 *   for them); every other value as it is.
 *
 * "Delivery order" is the order of `events`. When the Kafka key carries the merge key (as
 * `generateEvents` does), all versions of a key share a partition, so this order equals
 * the partition/offset order any consumer sees for that key, and the result is the same
 * however partitions interleave. `deleteWhen` (a SQL predicate) and `scd2` tables are
 * outside this model and rejected.
 */
import type { PipelineSpec, RoutingSpec, TableSpec } from '../spec/index.js';

/** The part of a spec the reference needs. */
export type ReferenceSpec = { routing: RoutingSpec; tables: Record<string, Pick<TableSpec, 'mode' | 'mergeKeys' | 'sequenceBy' | 'deleteWhen'>> } | Pick<PipelineSpec, 'routing' | 'tables'>;

/** An input record: only the value matters to the model. */
export interface ReferenceInput {
  value: Buffer | string;
}

/** Expected rows of one table. Upsert rows are sorted by merge key; append rows keep delivery order. */
export interface ExpectedTable {
  mode: 'upsert' | 'append';
  mergeKeys: string[];
  rows: Record<string, unknown>[];
  /** Records routed to the table, before deduplication. */
  routed: number;
}

/** What a run over `events` must produce. */
export interface ReferenceResult {
  tables: Record<string, ExpectedTable>;
  /** Records that failed to decode (invalid UTF-8, invalid JSON, non-object). */
  malformed: number;
  /** Decoded objects whose routing field matched no route (missing, unknown, not a string). */
  unmatched: number;
  /** Rows the dead-letter table must hold: malformed plus unmatched unless unmatched is dropped. */
  deadLetter: number;
  total: number;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Decodes one value the way the pipeline's JSON decoder must: an object, or undefined. */
export function decodeJsonObject(value: Buffer | string): Record<string, unknown> | undefined {
  try {
    const text = typeof value === 'string' ? value : utf8.decode(value);
    const parsed: unknown = JSON.parse(text);
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return undefined;
    return nestsDeeperThan(parsed, 64) ? undefined : (parsed as Record<string, unknown>);
  } catch {
    return undefined;
  }
}

/** Whether objects/arrays nest more than `max` levels (such values are malformed). */
function nestsDeeperThan(value: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (depth > max) return true;
    for (const child of Object.values(v as object)) if (child !== null && typeof child === 'object') stack.push([child, depth + 1]);
  }
  return false;
}

/** True when sequence `a` should replace sequence `b` (strictly greater; null never wins). */
function isNewer(a: unknown, b: unknown): boolean {
  if (a === null || a === undefined) return false;
  if (b === null || b === undefined) return true;
  if (typeof a === 'number' && typeof b === 'number') return a > b;
  return String(a) > String(b);
}

function compareKeys(a: unknown[], b: unknown[]): number {
  for (let i = 0; i < a.length; i++) {
    const x = a[i], y = b[i];
    if (x === y) continue;
    if (typeof x === 'number' && typeof y === 'number') return x - y;
    return String(x) < String(y) ? -1 : 1;
  }
  return 0;
}

/** A record as its table stores it: objects and arrays as JSON text. */
function storedRow(record: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(record)) out[k] = v !== null && typeof v === 'object' ? JSON.stringify(v) : v;
  return out;
}

/** Computes the expected tables and dead-letter counts for `events` under `spec`. */
export function computeReference(events: Iterable<ReferenceInput>, spec: ReferenceSpec): ReferenceResult {
  const { routing, tables } = spec;
  const upserts = new Map<string, Map<string, { key: unknown[]; row: Record<string, unknown> }>>();
  const result: ReferenceResult = { tables: {}, malformed: 0, unmatched: 0, deadLetter: 0, total: 0 };
  for (const [name, table] of Object.entries(tables)) {
    if (table.mode === 'scd2' || table.deleteWhen) throw new Error(`reference model: table '${name}' uses scd2/deleteWhen, which it does not model`);
    const mergeKeys = table.mergeKeys ?? [];
    const mode = table.mode === 'append' || mergeKeys.length === 0 ? 'append' : 'upsert';
    if (mode === 'upsert' && !table.sequenceBy) throw new Error(`reference model: upsert table '${name}' needs sequenceBy`);
    result.tables[name] = { mode, mergeKeys, rows: [], routed: 0 };
    if (mode === 'upsert') upserts.set(name, new Map());
  }

  for (const event of events) {
    result.total++;
    const record = decodeJsonObject(event.value);
    if (!record) {
      result.malformed++;
      continue;
    }
    const route = record[routing.field];
    const tableName = typeof route === 'string' && Object.hasOwn(routing.routes, route) ? routing.routes[route]! : undefined;
    const table = tableName === undefined ? undefined : result.tables[tableName];
    if (!table) {
      result.unmatched++;
      continue;
    }
    table.routed++;
    const stored = storedRow(record);
    if (table.mode === 'append') {
      table.rows.push(stored);
      continue;
    }
    const sequenceBy = tables[tableName!]!.sequenceBy!;
    const key = table.mergeKeys.map((k) => record[k] ?? null);
    const keyText = JSON.stringify(key);
    const current = upserts.get(tableName!)!.get(keyText);
    if (!current || isNewer(record[sequenceBy], current.row[sequenceBy])) {
      upserts.get(tableName!)!.set(keyText, { key, row: stored });
    }
  }

  for (const [name, byKey] of upserts) {
    result.tables[name]!.rows = [...byKey.values()].sort((a, b) => compareKeys(a.key, b.key)).map((e) => e.row);
  }
  result.deadLetter = result.malformed + (routing.unmatched === 'drop' ? 0 : result.unmatched);
  return result;
}

/** A routing spec for the generated commerce events: one table per type, analytics appended. */
export function commerceReferenceSpec(unmatched: RoutingSpec['unmatched'] = 'dead_letter'): ReferenceSpec {
  const types = ['orders', 'users', 'payments', 'inventory', 'products', 'shipments', 'refunds', 'reviews', 'analytics'];
  return {
    routing: { field: 'event_type', routes: Object.fromEntries(types.map((t) => [t, t])), unmatched },
    tables: Object.fromEntries(
      types.map((t) => [t, t === 'analytics' ? { mode: 'append' as const } : { mode: 'upsert' as const, mergeKeys: ['id'], sequenceBy: 'seq' }]),
    ),
  };
}
