/**
 * Quality figures of a loaded batch, read from its temp table before the merge: NULLs per
 * column, and how many rows share a merge key with an earlier row of the same batch (the
 * merge keeps one of them; a high count usually means a producer resends).
 */
import type { Conn } from './duck.js';
import type { TypedColumn } from './files.js';
import { quoteIdent } from './schema.js';

/** What {@link batchQuality} measures. */
export interface BatchQuality {
  /** Column -> rows holding NULL (columns without NULLs are left out). */
  nulls: Record<string, number>;
  /** Rows whose merge key an earlier row of the batch already had (0 without merge keys). */
  duplicateKeys: number;
}

/** Measures the batch in temp table `table` (one scan). */
export async function batchQuality(c: Conn, table: string, columns: TypedColumn[], mergeKeys: string[]): Promise<BatchQuality> {
  const parts = columns.map((col, i) => `count(*) FILTER (WHERE ${quoteIdent(col.name)} IS NULL) AS n${i}`);
  const keys = mergeKeys.map(quoteIdent).join(', ');
  if (mergeKeys.length > 0) parts.push(`count(*) - count(DISTINCT (${keys})) AS dup`);
  if (parts.length === 0) return { nulls: {}, duplicateKeys: 0 };
  const [row] = await c.json(`SELECT ${parts.join(', ')} FROM ${quoteIdent(table)}`);
  const nulls: Record<string, number> = {};
  columns.forEach((col, i) => {
    const n = Number(row![`n${i}`]);
    if (n > 0) nulls[col.name] = n;
  });
  return { nulls, duplicateKeys: mergeKeys.length > 0 ? Number(row!.dup) : 0 };
}
