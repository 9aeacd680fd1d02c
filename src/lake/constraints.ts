/**
 * Writer-version-2 duties: rows written must satisfy the schema's non-nullable columns and
 * every `delta.invariants` column expression. Checked on the rows about to be written,
 * before any file exists, so a violating batch leaves no trace.
 */
import { LakeError } from '../errors.js';
import type { Conn } from './duck.js';
import { quoteIdent } from './schema.js';
import type { DeltaField } from './types.js';

/** The invariant SQL of a field, if its metadata declares one. */
export function invariantOf(field: DeltaField): string | undefined {
  const raw = field.metadata?.['delta.invariants'];
  if (typeof raw !== 'string') return undefined;
  try {
    const parsed = JSON.parse(raw) as { expression?: { expression?: string } };
    return parsed.expression?.expression;
  } catch {
    throw new LakeError('PIPE_LAKE_SCHEMA_CORRUPT', `column ${field.name} has an unreadable delta.invariants value`);
  }
}

/** Fails with PIPE_LAKE_CONSTRAINT when a row of `relation` breaks a NOT NULL column or an invariant. */
export async function checkConstraints(c: Conn, tablePath: string, relation: string, schema: DeltaField[]): Promise<void> {
  const checks: { what: string; sql: string }[] = [];
  for (const f of schema) {
    if (f.nullable === false) checks.push({ what: `column ${f.name} is NOT NULL`, sql: `${quoteIdent(f.name)} IS NULL` });
    const inv = invariantOf(f);
    // Spark treats a NULL result as a violation too.
    if (inv) checks.push({ what: `invariant ${inv} of column ${f.name}`, sql: `NOT coalesce((${inv}), false)` });
  }
  if (checks.length === 0) return;
  const select = checks.map((ch, i) => `count(*) FILTER (WHERE ${ch.sql}) AS v${i}`).join(', ');
  const [counts] = await c.json(`SELECT ${select} FROM ${relation}`);
  checks.forEach((ch, i) => {
    const n = Number(counts![`v${i}`]);
    if (n > 0) {
      throw new LakeError('PIPE_LAKE_CONSTRAINT', `table ${tablePath}: ${n} row(s) break ${ch.what}`, {
        hint: 'fix or filter the records upstream (expectations), or relax the table schema',
        details: { table: tablePath, rows: n },
      });
    }
  });
}
