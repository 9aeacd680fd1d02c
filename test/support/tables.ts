/**
 * Reading table contents back for comparison: through the lake (as the runner's users would),
 * or with a plain DuckDB that shares no code with it; plus order-independent row forms.
 */
import { DuckDBInstance } from '@duckdb/node-api';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Lake } from '../../src/lake/index.js';
import { COMMERCE_TYPES } from './commerce.js';
import { perFile } from './per-file.js';

/** A lake (one DuckDB thread) for the whole test file, closed after its last test. Call at the top level of a file. */
export function useLake(): Lake {
  return perFile('lake', () => Lake.create({ threads: 1 }), (lake) => lake.close());
}

/** Every row of a table (plain JS values); no rows when there is no table. */
export async function readTable(path: string): Promise<Record<string, unknown>[]> {
  const lake = await Lake.create({ threads: 1 });
  try {
    if (!(await lake.exists(path))) return [];
    return await lake.scan(path);
  } finally {
    lake.close();
  }
}

/** Drops null-valued fields and source positions: a column another record introduced is null here, absent there. */
function normalize(row: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(row)) {
    if (v === null || v === undefined || k === '__source_partition' || k === '__source_offset') continue;
    out[k] = v !== null && typeof v === 'object' && !Array.isArray(v) ? normalize(v as Record<string, unknown>) : v;
  }
  return out;
}

function sortByJson(rows: Record<string, unknown>[]): Record<string, unknown>[] {
  return rows.map((r) => [JSON.stringify(r), r] as const).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).map(([, r]) => r);
}

/** The commerce tables' rows in one order: by id, appended analytics by content. */
function commerceOrder(table: string, rows: Record<string, unknown>[]): Record<string, unknown>[] {
  const normalized = rows.map(normalize);
  return table === 'analytics' ? sortByJson(normalized) : normalized.sort((a, b) => String(a.id).localeCompare(String(b.id)));
}

/** Gold tables and dead-letter rows of `dir/lake` (or of `output`, a bucket location), normalised for comparison with the reference. */
export async function readGold(dir: string, output = join(dir, 'lake')): Promise<{ tables: Record<string, Record<string, unknown>[]>; deadLetter: Record<string, unknown>[] }> {
  const tables: Record<string, Record<string, unknown>[]> = {};
  for (const t of COMMERCE_TYPES) tables[t] = commerceOrder(t, await readTable(`${output}/${t}`));
  return { tables, deadLetter: await readTable(`${output}/_dead_letter`) };
}

/** Reference rows in the same normalised order as {@link readGold}. */
export function normalizeReference(tables: Record<string, { rows: Record<string, unknown>[] }>): Record<string, Record<string, unknown>[]> {
  const out: Record<string, Record<string, unknown>[]> = {};
  for (const t of COMMERCE_TYPES) out[t] = commerceOrder(t, tables[t]?.rows ?? []);
  return out;
}

/** Runs one query on a throwaway DuckDB instance (no lake code involved), rows as JSON values. */
export async function plainDuck(sql: string): Promise<Record<string, unknown>[]> {
  const instance = await DuckDBInstance.create(':memory:', { threads: '1' });
  const c = await instance.connect();
  try {
    return (await c.runAndReadAll(sql)).getRowObjectsJson() as Record<string, unknown>[];
  } finally {
    c.closeSync();
    instance.closeSync();
  }
}

/** A DuckDB list literal of file paths. */
export function pathList(paths: string[]): string {
  return `[${paths.map((p) => `'${p.replace(/'/g, "''")}'`).join(', ')}]`;
}

/** Order-independent comparison form of rows. */
export function canonical(rows: Record<string, unknown>[]): string[] {
  return rows.map((r) => JSON.stringify(Object.keys(r).sort().map((k) => [k, r[k]]), (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))).sort();
}

/** Sorts rows by keys for order-independent comparison (nulls first). */
export function sortBy<T extends object>(rows: T[], ...keys: string[]): T[] {
  return [...rows].sort((a, b) => {
    for (const k of keys) {
      const x = (a as Record<string, any>)[k];
      const y = (b as Record<string, any>)[k];
      if (x === y) continue;
      if (x === null || x === undefined) return -1;
      if (y === null || y === undefined) return 1;
      return x < y ? -1 : 1;
    }
    return 0;
  });
}

/** Rows (big integers as numbers) and version of each named table under `lake` that exists. */
export async function readVersioned(lakeDir: string, tables: string[]): Promise<Record<string, { version: number; rows: Record<string, unknown>[] }>> {
  const lake = await Lake.create({ threads: 1 });
  try {
    const out: Record<string, { version: number; rows: Record<string, unknown>[] }> = {};
    for (const t of tables) {
      const path = join(lakeDir, t);
      if (!(await lake.exists(path))) continue;
      const rows = (await lake.scan(path)).map((r) => JSON.parse(JSON.stringify(r, (_k, v) => (typeof v === 'bigint' ? Number(v) : v))) as Record<string, unknown>);
      out[t] = { version: (await lake.snapshot(path)).version, rows };
    }
    return out;
  } finally {
    lake.close();
  }
}

/**
 * Rows every `add` of a local table's JSON log added (by its stats), and how many `remove`s
 * the log holds: a table written once per row and never rewritten adds each row once, removes none.
 */
export function loggedRows(tablePath: string): { added: number; removes: number } {
  const dir = join(tablePath, '_delta_log');
  let added = 0;
  let removes = 0;
  for (const name of readdirSync(dir).filter((n) => n.endsWith('.json'))) {
    for (const line of readFileSync(join(dir, name), 'utf8').split('\n')) {
      if (!line.trim()) continue;
      const action = JSON.parse(line) as { add?: { stats?: string }; remove?: unknown };
      if (action.remove) removes++;
      if (action.add) added += (JSON.parse(action.add.stats ?? '{}') as { numRecords?: number }).numRecords ?? Number.NaN;
    }
  }
  return { added, removes };
}
