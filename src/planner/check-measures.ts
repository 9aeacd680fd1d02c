/**
 * Checks aggregation measures: each must be one of the aggregates whose partial results
 * merge exactly (window-measures.ts), and must bind in DuckDB as an aggregate over its
 * column, so a spec that validates never fails on a measure at run time (PIPE0063).
 */
import { Duck } from '../lake/duck.js';
import { quoteIdent } from '../lake/schema.js';
import { parseMeasure } from '../operators/window-measures.js';
import { diagnostic, type Diagnostic, type LoadedSpec } from '../spec/index.js';

/** Diagnostics for the spec's measures (empty when there are none or all are fine). */
export async function checkMeasures(loaded: LoadedSpec): Promise<Diagnostic[]> {
  const aggregations = (loaded.data as { aggregations?: unknown } | undefined)?.aggregations;
  if (!aggregations || typeof aggregations !== 'object') return [];
  const measures: { path: string; name: string; expr: string }[] = [];
  for (const [name, agg] of Object.entries(aggregations as Record<string, { measures?: unknown } | null>)) {
    const m = agg?.measures;
    if (!m || typeof m !== 'object') continue;
    for (const [measure, expr] of Object.entries(m)) if (typeof expr === 'string') measures.push({ path: `aggregations.${name}.measures.${measure}`, name: measure, expr });
  }
  if (measures.length === 0) return [];
  const out: Diagnostic[] = [];
  const duck = await Duck.create({ threads: 1 });
  try {
    await duck.with(async (c) => {
      for (const { path, name, expr } of measures) {
        const at = loaded.valuePositions?.get(path) ?? loaded.positions.get(path) ?? { line: 1, col: 1 };
        const report = (detail: string) =>
          out.push(diagnostic('PIPE0063', { file: loaded.file, ...at, path }, { path, detail }, 'write e.g. `count(*)`, `sum(amount)`, `max(amount)` or `avg(amount)`'));
        const parsed = parseMeasure(name, expr);
        if ('error' in parsed) {
          report(parsed.error);
          continue;
        }
        const column = parsed.column === undefined ? '1 AS __none' : `CAST(NULL AS DOUBLE) AS ${quoteIdent(parsed.column)}`;
        try {
          await c.run(`SELECT ${expr} FROM (SELECT ${column}) AS t`);
        } catch (err) {
          report((err as Error).message.split('\n')[0]!.trim());
        }
      }
    });
  } finally {
    duck.close();
  }
  return out;
}
