/**
 * `unique` expectations against a reference model written from their documented semantics: in
 * input order, the first row of each key among those no earlier drop/quarantine expectation
 * leaves out holds; later ones fail; a NULL key never does; the first failing drop/quarantine
 * expectation in list order decides a row. Random batches, a real DuckDB and Delta table.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lake } from '../../src/lake/index.js';
import type { Expectation, ExpectationAction } from '../../src/lake/types.js';
import { tempDir } from '../support/temp-dirs.js';

let lake: Lake;
beforeAll(async () => {
  lake = await Lake.create({ threads: 1 });
});
afterAll(() => lake.close());

type Row = { id: number; k: string | null; amount: number | null };

function random(seed: number): () => number {
  let s = seed;
  return () => ((s = (s * 1_103_515_245 + 12_345) % 2_147_483_648) / 2_147_483_648);
}

/** What the documented semantics say happens to each row: kept ids, and the deciding expectation of the others. */
function reference(rows: Row[], expectations: Expectation[]): { kept: number[]; decided: Record<number, string>; failed: Record<string, number> } {
  const decided: Record<number, string> = {};
  const failed: Record<string, number> = Object.fromEntries(expectations.map((e) => [e.name, 0]));
  const seen = expectations.map(() => new Set<string>());
  const holds = rows.map(() => expectations.map(() => true));
  // Expectation by expectation, so a unique one sees which rows earlier ones already decided.
  for (const [i, e] of expectations.entries()) {
    for (const [r, row] of rows.entries()) {
      if (e.unique) {
        // A NULL key never repeats; a row an earlier rule left out is neither the first nor compared.
        if (row.k === null || decided[row.id] !== undefined) continue;
        if (seen[i]!.has(row.k)) holds[r]![i] = false;
        else seen[i]!.add(row.k);
      } else holds[r]![i] = row.amount !== null && (e.name === 'non_negative' ? row.amount >= 0 : row.amount < 100);
      if (!holds[r]![i]) failed[e.name]!++;
      if (!holds[r]![i] && e.action !== 'warn' && decided[row.id] === undefined) decided[row.id] = e.name;
    }
  }
  return { kept: rows.filter((r) => decided[r.id] === undefined).map((r) => r.id), decided, failed };
}

describe('unique expectations', () => {
  for (const action of ['drop', 'quarantine', 'warn'] as ExpectationAction[]) {
    it(`${action}: matches the reference on random batches`, async () => {
      const next = random(action.length * 7919);
      for (let trial = 0; trial < 8; trial++) {
        const rows: Row[] = Array.from({ length: 5 + Math.floor(next() * 40) }, (_, id) => ({
          id,
          k: next() < 0.15 ? null : `k${Math.floor(next() * 8)}`,
          amount: next() < 0.1 ? null : Math.floor(next() * 140) - 20,
        }));
        const expectations: Expectation[] = [
          { name: 'non_negative', sql: 'amount >= 0', action: 'quarantine' },
          { name: 'one_per_k', sql: 'unique (k)', unique: ['k'], action },
          { name: 'small', sql: 'amount < 100', action: 'drop' },
        ];
        const path = `${tempDir('unique-')}/t`;
        let rejected: { row: number; expectation?: string }[] = [];
        const result = await lake.write(path, { kind: 'rows', rows }, {
          mode: 'append', expectations, columns: { id: 'BIGINT', k: 'VARCHAR', amount: 'BIGINT' },
          beforeCommit: (r) => {
            rejected = r;
          },
        });
        const want = reference(rows, expectations);
        const kept = (await lake.scan(path)).map((r) => Number(r.id)).sort((a, b) => a - b);
        expect(kept, `trial ${trial}`).toEqual(want.kept);
        expect(Object.fromEntries(rejected.map((r) => [rows[r.row]!.id, r.expectation]))).toEqual(want.decided);
        expect(Object.fromEntries((result.expectations ?? []).map((c) => [c.name, c.failed]))).toEqual(want.failed);
      }
    });
  }
});
