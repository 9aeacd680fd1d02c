/**
 * The one check every fault scenario ends with: the tables equal the reference model exactly.
 * Upsert tables hold one row per key (no duplicates) with the winning version; the append
 * table holds every routed record once; the dead-letter table holds one row per failed
 * record, each at distinct Kafka coordinates. Differences are reported as a short list, not a
 * 10,000-row diff.
 */
import { join } from 'node:path';
import { Lake } from '../../../src/lake/index.js';
import type { ReferenceResult } from '../../../src/dev-broker/reference.js';
import { COMMERCE_TYPES } from '../../support/commerce.js';

/** Drops null-valued fields: a column another record introduced is null here, absent there. */
export function normalizeRow(row: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(row)) {
    if (v === null || v === undefined || k === '__source_partition' || k === '__source_offset') continue;
    out[k] = typeof v === 'object' && !Array.isArray(v) ? normalizeRow(v as Record<string, unknown>) : v;
  }
  return out;
}

/** Every row of a table, or [] when the table does not exist. */
export async function readRows(tablePath: string, orderBy?: string): Promise<Record<string, unknown>[]> {
  const lake = await Lake.create({ threads: 1 });
  try {
    if (!(await lake.exists(tablePath))) return [];
    return await lake.scan(tablePath, orderBy ? { orderBy } : {});
  } finally {
    lake.close();
  }
}

/** What was compared, for the suite's summary. */
export interface Verification {
  /** Rows compared across gold tables plus dead-letter rows. */
  rowsChecked: number;
  problems: string[];
}

function countBy<T>(items: T[], key: (t: T) => string): Map<string, number> {
  const m = new Map<string, number>();
  for (const item of items) {
    const k = key(item);
    m.set(k, (m.get(k) ?? 0) + 1);
  }
  return m;
}

/** Compares the lake at `lakePath` with `reference`; `problems` is empty when they agree. */
export async function verifyLake(lakePath: string, reference: ReferenceResult, deadLetterTable = '_dead_letter'): Promise<Verification> {
  const problems: string[] = [];
  let rowsChecked = 0;
  for (const table of COMMERCE_TYPES) {
    const expected = reference.tables[table]!;
    const actual = (await readRows(join(lakePath, table))).map(normalizeRow);
    rowsChecked += actual.length;
    if (expected.mode === 'upsert') {
      const ids = countBy(actual, (r) => String(r.id));
      const dups = [...ids].filter(([, n]) => n > 1);
      if (dups.length > 0) problems.push(`${table}: ${dups.length} duplicated keys, e.g. ${dups.slice(0, 3).map(([k, n]) => `${k} x${n}`).join(', ')}`);
      const byId = new Map(actual.map((r) => [String(r.id), r]));
      const want = new Map(expected.rows.map((r) => [String(r.id), normalizeRow(r)]));
      const missing = [...want.keys()].filter((k) => !byId.has(k));
      const extra = [...byId.keys()].filter((k) => !want.has(k));
      const wrong = [...want].filter(([k, r]) => byId.has(k) && JSON.stringify(byId.get(k)) !== JSON.stringify(r)).map(([k]) => k);
      if (missing.length) problems.push(`${table}: ${missing.length} keys missing, e.g. ${missing.slice(0, 3).join(', ')}`);
      if (extra.length) problems.push(`${table}: ${extra.length} unexpected keys, e.g. ${extra.slice(0, 3).join(', ')}`);
      if (wrong.length) {
        const k = wrong[0]!;
        problems.push(`${table}: ${wrong.length} keys with the wrong version, e.g. ${k}: got ${JSON.stringify(byId.get(k))} want ${JSON.stringify(want.get(k))}`);
      }
    } else {
      // Append: the multiset of rows must match (no loss, no duplicate).
      const got = countBy(actual, (r) => JSON.stringify(r));
      const want = countBy(expected.rows.map(normalizeRow), (r) => JSON.stringify(r));
      let diff = 0;
      for (const key of new Set([...got.keys(), ...want.keys()])) diff += Math.abs((got.get(key) ?? 0) - (want.get(key) ?? 0));
      if (actual.length !== expected.rows.length || diff > 0) problems.push(`${table}: ${actual.length} rows, want ${expected.rows.length} (${diff} rows differ)`);
    }
  }
  const dead = await readRows(join(lakePath, deadLetterTable));
  rowsChecked += dead.length;
  const coords = countBy(dead, (r) => `${r.partition}:${r.offset}`);
  const dupDead = [...coords].filter(([, n]) => n > 1);
  if (dupDead.length) problems.push(`dead letter: ${dupDead.length} records dead-lettered twice, e.g. ${dupDead.slice(0, 3).map(([k]) => k).join(', ')}`);
  if (dead.length !== reference.deadLetter) problems.push(`dead letter: ${dead.length} rows, want ${reference.deadLetter}`);
  return { rowsChecked, problems };
}
