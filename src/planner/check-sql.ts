/**
 * The spec checks beyond the loader's. SQL (needs DuckDB): every SQL fragment (`deleteWhen`,
 * `where`, `derive` and expectations of the source and each table) must parse as one expression (a predicate
 * where one is expected) and bind against the table's declared columns
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
  /** `predicate`: must be a boolean (deleteWhen, where); `expression`: any value (derive). */
  kind: 'predicate' | 'expression';
  /** Lower-case names whose type does not depend on the records seen: metadata and derived columns. */
  typed: Set<string>;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const stringEntries = (v: unknown): [string, string][] => (isObj(v) ? Object.entries(v).filter((e): e is [string, string] => typeof e[1] === 'string') : []);

/** The fragments of the spec data (read defensively: the data may have failed other checks). */
function fragmentsOf(loaded: LoadedSpec): Fragment[] {
  const out: Fragment[] = [];
  const data = loaded.data as { tables?: unknown; source?: unknown } | undefined;
  const source = isObj(data?.source) ? data.source : {};
  // Metadata columns have fixed types; derived ones the type of their expression.
  const metadata = Array.isArray(source.metadataColumns) ? source.metadataColumns.filter((m): m is string => typeof m === 'string').map((m) => `_kafka_${m}`) : [];
  const derivedNames = (owner: Obj) => stringEntries(owner.derive).map(([column]) => column.toLowerCase());
  const sourceTyped = new Set([...metadata, ...derivedNames(source)]);
  const addDerive = (base: string, owner: Obj, declared: Record<string, string>, typed: Set<string>) => {
    for (const [column, sql] of stringEntries(owner.derive)) out.push({ path: `${base}.derive.${column}`, sql, declared, kind: 'expression', typed });
    if (typeof owner.where === 'string') out.push({ path: `${base}.where`, sql: owner.where, declared, kind: 'predicate', typed });
    if (Array.isArray(owner.expectations)) {
      for (const [i, e] of owner.expectations.entries()) {
        if (isObj(e) && typeof e.expr === 'string') out.push({ path: `${base}.expectations.${i}.expr`, sql: e.expr, declared, kind: 'predicate', typed });
      }
    }
  };
  const tables = isObj(data?.tables) ? Object.entries(data.tables).filter((e): e is [string, Obj] => isObj(e[1])) : [];
  // The source's fragments run on every table's records: a column is fixed there when every table declares it.
  const everywhere = tables.length === 0 ? {} : Object.fromEntries(stringEntries(tables[0]![1].columns).filter(([k]) => tables.every(([, t]) => stringEntries(t.columns).some(([n]) => n.toLowerCase() === k.toLowerCase()))));
  addDerive('source', source, {}, new Set([...sourceTyped, ...Object.keys(everywhere).map((k) => k.toLowerCase())]));
  for (const [name, table] of tables) {
    const declared = Object.fromEntries(stringEntries(table.columns));
    const typed = new Set([...sourceTyped, ...derivedNames(table)]);
    if (typeof table.deleteWhen === 'string') out.push({ path: `tables.${name}.deleteWhen`, sql: table.deleteWhen, declared, kind: 'predicate', typed });
    addDerive(`tables.${name}`, table, declared, typed);
  }
  return out;
}

/**
 * Types an undeclared column may turn out to have at run time: an expression is refused only
 * when it binds with none of them (e.g. an unknown function), never for guessing one wrong.
 */
const UNDECLARED_TYPES = ['VARCHAR', 'BIGINT', 'DOUBLE', 'BOOLEAN', 'TIMESTAMP', 'JSON'];

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
          out.push(
            f.kind === 'predicate'
              ? diagnostic('PIPE0056', { file: loaded.file, line: at.line, col: at.col + offset, path: f.path }, { path: f.path, detail }, 'write one boolean expression over the record\'s columns, e.g. `op = \'d\'`')
              : diagnostic('PIPE0067', { file: loaded.file, line: at.line, col: at.col + offset, path: f.path }, { path: f.path, detail }, 'write one DuckDB expression over the record\'s columns, e.g. `CAST(event_time AS DATE)`'),
          );
        const parsed = await parseSqlExpression(c, f.sql);
        if (!parsed.ok) {
          report(parsed.message, parsed.offset ?? 0);
          continue;
        }
        const declared = new Map(Object.entries(f.declared).map(([k, v]) => [k.toLowerCase(), [k, v] as const]));
        const undeclared = parsed.columns.filter((ref) => !declared.has(ref.toLowerCase()));
        const select = f.kind === 'predicate' ? `CAST((${f.sql}) AS BOOLEAN)` : `(${f.sql})`;
        let firstError: string | undefined;
        for (const guess of undeclared.length > 0 ? UNDECLARED_TYPES : ['VARCHAR']) {
          const columns = new Map<string, string>();
          for (const [k, v] of declared.values()) columns.set(k, v);
          for (const ref of undeclared) columns.set(ref, guess);
          const relation = [...columns].map(([k, v]) => `CAST(NULL AS ${v}) AS ${quoteIdent(k)}`).join(', ') || '1 AS __none';
          try {
            // As the load runs it: under TRY (a record whose value errors fails alone), which
            // refuses volatile functions (random(), uuid(), error()) — a record's value must be
            // the same on every replay. Then without: TRY would hide a constant that never converts.
            await c.run(`SELECT TRY({'v': ${select}}) FROM (SELECT ${relation}) AS t`);
            await c.run(`SELECT ${select} FROM (SELECT ${relation}) AS t`);
            firstError = undefined;
            break;
          } catch (err) {
            const message = firstLine((err as Error).message);
            firstError ??= /volatile function/i.test(message)
              ? 'uses a volatile function (random(), uuid(), error(), …): a record must get the same value on every replay'
              : message;
          }
        }
        if (firstError !== undefined) report(firstError);
        else {
          const clock = clockFunction(f.sql);
          if (clock) {
            out.push(diagnostic('PIPE0091', { file: loaded.file, line: at.line, col: at.col, path: f.path }, { path: f.path, fn: clock }, 'for a value a replay repeats, use the record\'s own time or its Kafka timestamp (`source.metadataColumns: [timestamp]`)'));
          }
          const inferred = [...new Set(undeclared.filter((ref) => !f.typed.has(ref.toLowerCase())))];
          if (inferred.length > 0) {
            const table = f.path.startsWith('tables.') ? f.path.split('.')[1]! : '<table>';
            out.push(diagnostic('PIPE0081', { file: loaded.file, line: at.line, col: at.col, path: f.path }, { path: f.path, columns: inferred.map((c) => `\`${c}\``).join(', ') },
              `declare ${inferred.length > 1 ? 'them' : 'it'} under tables.${table}.columns (e.g. \`columns: { ${inferred[0]}: VARCHAR }\`), so every batch reads ${inferred.length > 1 ? 'them' : 'it'} with one type`));
          }
        }
      }
      return out;
    });
  } finally {
    duck.close();
  }
}

/** Functions that read the clock: a fragment using one gives a replayed record another value. */
const CLOCK = /\b(now|current_timestamp|current_date|current_time|get_current_timestamp|get_current_time|transaction_timestamp|localtimestamp|localtime|today)\b/i;

/** The clock function a fragment calls, outside its string literals and quoted names. */
export function clockFunction(sql: string): string | undefined {
  const code = sql.replace(/'(?:[^']|'')*'|"(?:[^"]|"")*"/g, ' ');
  return CLOCK.exec(code)?.[1]?.toLowerCase();
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
