/**
 * The spec checks beyond the loader's. SQL (needs DuckDB): every SQL fragment (`deleteWhen` today; expectations and
 * measures later) must parse as one predicate and bind against the table's declared columns
 * (columns it names that are not declared bind as text, since their type is inferred at run
 * time). `validate`, `plan` and `run` all run these after the loader's checks, so a spec that
 * validates never fails on its SQL at run time.
 */
import { Duck } from '../lake/duck.js';
import { operatorFor } from '../operators/index.js';
import { checkSchemaFiles } from './check-schemas.js';
import { checkMeasures } from './check-measures.js';
import { quoteIdent } from '../lake/schema.js';
import { parseSqlExpression } from '../lake/sql-refs.js';
import { diagnostic, hasErrors, sortDiagnostics, type Diagnostic, type LoadedSpec } from '../spec/index.js';

/** One SQL fragment of a spec and the columns it may name. */
interface Fragment {
  path: string;
  sql: string;
  declared: Record<string, string>;
}

/** The fragments of the spec data (read defensively: the data may have failed other checks). */
function fragmentsOf(loaded: LoadedSpec): Fragment[] {
  const out: Fragment[] = [];
  const tables = (loaded.data as { tables?: unknown } | undefined)?.tables;
  if (!tables || typeof tables !== 'object') return out;
  for (const [name, table] of Object.entries(tables as Record<string, unknown>)) {
    const t = table as { deleteWhen?: unknown; columns?: unknown } | null;
    if (typeof t?.deleteWhen !== 'string') continue;
    const declared = t.columns && typeof t.columns === 'object' ? Object.fromEntries(Object.entries(t.columns).filter(([, v]) => typeof v === 'string')) : {};
    out.push({ path: `tables.${name}.deleteWhen`, sql: t.deleteWhen, declared: declared as Record<string, string> });
  }
  return out;
}

/** Diagnostics for the spec's SQL fragments (empty when there are none or all are fine). */
export async function checkSqlFragments(loaded: LoadedSpec): Promise<Diagnostic[]> {
  const fragments = fragmentsOf(loaded);
  if (fragments.length === 0) return [];
  const duck = await Duck.create({ threads: 1 });
  try {
    return await duck.with(async (c) => {
      const out: Diagnostic[] = [];
      for (const f of fragments) {
        const at = loaded.valuePositions?.get(f.path) ?? loaded.positions.get(f.path) ?? { line: 1, col: 1 };
        const report = (detail: string, offset = 0) =>
          out.push(diagnostic('PIPE0056', { file: loaded.file, line: at.line, col: at.col + offset, path: f.path }, { path: f.path, detail }, 'write one boolean expression over the record\'s columns, e.g. `op = \'d\'`'));
        const parsed = await parseSqlExpression(c, f.sql);
        if (!parsed.ok) {
          report(parsed.message, parsed.offset ?? 0);
          continue;
        }
        const declared = new Map(Object.entries(f.declared).map(([k, v]) => [k.toLowerCase(), [k, v] as const]));
        const columns = new Map<string, string>();
        for (const [k, v] of declared.values()) columns.set(k, v);
        for (const ref of parsed.columns) if (!declared.has(ref.toLowerCase())) columns.set(ref, 'VARCHAR');
        const relation = [...columns].map(([k, v]) => `CAST(NULL AS ${v}) AS ${quoteIdent(k)}`).join(', ') || '1 AS __none';
        try {
          await c.run(`SELECT CAST((${f.sql}) AS BOOLEAN) FROM (SELECT ${relation}) AS t`);
        } catch (err) {
          report(firstLine((err as Error).message));
        }
      }
      return out;
    });
  } finally {
    duck.close();
  }
}

function firstLine(text: string): string {
  return text.split('\n')[0]!.trim();
}

/**
 * Capability: a node kind this version cannot run (e.g. an avro decoder) plans fine but
 * `run` refuses it; `validate` says so up front (PIPE0057, a warning).
 */
export function checkCapabilities(loaded: LoadedSpec): Diagnostic[] {
  const format = (loaded.data as { source?: { format?: unknown } } | undefined)?.source?.format;
  if (typeof format !== 'string') return [];
  let reason: string | undefined;
  try {
    reason = operatorFor(`decode-${format}`).notRunnable;
  } catch {
    return []; // an unknown format is the schema's error
  }
  if (!reason) return [];
  const at = loaded.valuePositions?.get('source.format') ?? loaded.positions.get('source.format') ?? { line: 1, col: 1 };
  return [diagnostic('PIPE0057', { file: loaded.file, ...at, path: 'source.format' }, { detail: reason }, '`pipeline run` refuses this spec; `plan` and `diff` work')];
}

/** `loaded` with the SQL and capability checks' diagnostics added (and no spec when one is an error). */
export async function withSqlChecks(loaded: LoadedSpec): Promise<LoadedSpec> {
  const extra = [...(await checkSqlFragments(loaded)), ...(await checkMeasures(loaded)), ...checkCapabilities(loaded), ...checkSchemaFiles(loaded)];
  if (extra.length === 0) return loaded;
  const diagnostics = sortDiagnostics([...loaded.diagnostics, ...extra]);
  const { spec, ...rest } = loaded;
  return hasErrors(diagnostics) ? { ...rest, diagnostics } : { ...rest, diagnostics, ...(spec ? { spec } : {}) };
}
