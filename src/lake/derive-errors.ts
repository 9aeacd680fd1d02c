/**
 * The reason a derive expression failed on a row, for the dead-letter table: the column, the
 * expression and DuckDB's own error for that row's values. The load evaluates expressions
 * under `TRY` (one odd value must not fail its batch), which hides the error text, so the
 * expression is evaluated once more, alone, over the failing row's loaded values. Rows whose
 * inputs hold the same values share one evaluation.
 */
import type { Conn } from './duck.js';
import { quoteIdent } from './schema.js';
import { sqlColumnRefs } from './sql-refs.js';
import type { DerivedColumn } from './types.js';

/**
 * Reasons by row for rows whose derive expressions errored. `into` is the quoted temp table;
 * `columns` lists a row's failing derived columns in derive order: the first is reported, the
 * later ones may only have failed because of it.
 */
export async function deriveErrorReasons(c: Conn, into: string, errored: { row: number; columns: string }[], derive: DerivedColumn[]): Promise<Map<number, string>> {
  const reasons = new Map<number, string>();
  const present = new Set((await c.json(`DESCRIBE ${into}`)).map((r) => String(r.column_name).toLowerCase()));
  const refsOf = new Map<string, string[]>();
  const cache = new Map<string, string>();
  for (const { row, columns } of errored) {
    const name = columns.split(', ')[0]!;
    const d = derive.find((x) => x.column.toLowerCase() === name.toLowerCase()) ?? { column: name, sql: '?' };
    let refs = refsOf.get(d.column);
    if (!refs) refsOf.set(d.column, (refs = (await sqlColumnRefs(c, d.sql)).filter((r) => present.has(r.toLowerCase()))));
    const inputs = refs.length > 0 ? (await c.json(`SELECT ${refs.map((r) => `CAST(${quoteIdent(r)} AS VARCHAR) AS ${quoteIdent(r)}`).join(', ')} FROM ${into} WHERE rowid = ${row}`))[0] : {};
    const key = `${d.column}\u0000${JSON.stringify(inputs)}`;
    let error = cache.get(key);
    if (error === undefined) {
      error = await evaluationError(c, into, row, d.sql);
      cache.set(key, error);
    }
    reasons.set(row, `derive ${name} = ${d.sql} failed: ${error}`);
  }
  return reasons;
}

/** DuckDB's error for `sql` over one row of `into`, first line only. */
async function evaluationError(c: Conn, into: string, row: number, sql: string): Promise<string> {
  try {
    await c.json(`SELECT CAST((${sql}) AS VARCHAR) AS v FROM ${into} WHERE rowid = ${row}`);
  } catch (err) {
    const line = String((err as Error).message ?? err).split('\n')[0]!.trim();
    // A binder error means the row's inputs are no longer in the loaded table (a derived
    // column replaced one): DuckDB's text would describe that, not the record.
    if (!/^Binder Error/i.test(line)) return line;
  }
  return 'the expression errors on this record\'s values';
}
