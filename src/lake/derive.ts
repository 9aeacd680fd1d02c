/**
 * Computed columns and row filters applied while a batch loads (`derive` and `where` of a
 * write): DuckDB SQL over the loaded columns, evaluated in the same statement that creates
 * the batch's temp table, so they see exactly the typed values the table will hold.
 *
 * - Each derived column is one SQL expression over the row's columns and the derived
 *   columns before it. An expression that errors on a row's values (a cast that fails) fails
 *   that row alone, flagged in {@link DERIVE_ERROR} with the column's name, so one odd value
 *   never fails its batch and never silently becomes NULL; an expression the user wrote with
 *   `TRY_CAST`/`TRY` does not error, and its NULL is kept. A derived merge key or sequence
 *   column that is NULL fails its row alone (dead letter).
 * - A derived column's type: its declared type when the write declares one (a value that
 *   does not convert fails its row), else the table's type joined with the expression's
 *   through the lattice (BOOLEAN < BIGINT < DOUBLE < VARCHAR), else the expression's own
 *   DuckDB type. Never the batch's luck: the same expression over the same column types
 *   always gives the same type.
 * - `where` keeps the rows for which the predicate is true; the others are counted drops
 *   (false, NULL, or an error on that row all drop it).
 * - A column an expression names that neither the batch nor the table has is NULL.
 */
import { LakeError } from '../errors.js';
import type { Conn } from './duck.js';
import type { TypedColumn } from './files.js';
import { normalizeDuckType, parseDuckType, type DuckType, quoteIdent, quoteLiteral, renderDuckType } from './schema.js';
import { sqlColumnRefs } from './sql-refs.js';
import { kindsOfType, latticeTypeOf, typeOfKinds, type LatticeType } from './type-lattice.js';
import type { DerivedColumn, Expectation } from './types.js';

/** Flag columns the derive layer adds to the loaded rows (dropped before the table sees them). */
export const DERIVE_BAD = '__lake_dbad';
/** Names of the derived columns whose expression errored on the row (comma-separated), or ''. */
export const DERIVE_ERROR = '__lake_derr';
export const WHERE_DROP = '__lake_drop';
/** Column `i` holds whether expectation `i` is true for the row. */
export const expectationColumn = (i: number): string => `__lake_e${i}`;
/** Index of the first failing `drop`/`quarantine`/`fail` expectation of the row, or NULL. */
export const EXPECT_DECIDES = '__lake_expect';

/** What the layer needs to know. */
export interface DeriveOptions {
  table: string;
  derive: DerivedColumn[];
  where?: string;
  /** Declared types (lower-case name -> type). */
  declared: Map<string, { name: string; type: DuckType }>;
  /** Columns the table already has (their types may widen here). */
  known: TypedColumn[];
  /** Columns that must hold a value in every row (merge keys, sequence column). */
  required: string[];
  /** Partition columns: a derived one may not be the empty string (Delta reads it as NULL). */
  partitionColumns?: string[];
  /** Checked in order on each row; see {@link Expectation}. */
  expectations?: Expectation[];
}

/** The relation with derived columns and flags, and the columns' changes. */
export interface DerivedRelation {
  sql: string;
  /** True when some rows may carry a reason in {@link DERIVE_BAD}. */
  mayFail: boolean;
  /** True when {@link DERIVE_ERROR} is present (the write derives columns). */
  mayError: boolean;
  /** True when {@link WHERE_DROP} is present. */
  mayDrop: boolean;
  /** Number of expectation columns ({@link expectationColumn}); {@link EXPECT_DECIDES} is present when > 0. */
  expectations: number;
}

/**
 * Wraps `inner` (a SELECT producing `columns`) with the write's derived columns and `where`.
 * `columns`, `newColumns` and `widened` are updated in place with the derived columns.
 */
export async function deriveRelation(
  c: Conn,
  inner: string,
  columns: TypedColumn[],
  newColumns: TypedColumn[],
  widened: { name: string; from: string; to: string }[],
  opts: DeriveOptions,
): Promise<DerivedRelation> {
  const lower = (s: string) => s.toLowerCase();
  const present = new Set(columns.map((col) => lower(col.name)));
  const derivedNames = new Set(opts.derive.map((d) => lower(d.column)));
  // Names an expression uses that no column holds: NULL (VARCHAR) helpers, removed at the end.
  const missing: string[] = [];
  const expectations = opts.expectations ?? [];
  for (const sql of [...opts.derive.map((d) => d.sql), ...(opts.where ? [opts.where] : []), ...expectations.filter((e) => !e.unique).map((e) => e.sql)]) {
    for (const ref of await sqlColumnRefs(c, sql)) {
      const l = lower(ref);
      if (!present.has(l) && !derivedNames.has(l) && !missing.some((m) => lower(m) === l)) missing.push(ref);
    }
  }
  let rel = `SELECT *${missing.map((m) => `, CAST(NULL AS VARCHAR) AS ${quoteIdent(m)}`).join('')} FROM (${inner}) AS t0`;
  const flags: string[] = [];
  const errors: string[] = [];
  const inRelation = new Set([...present, ...missing.map(lower)]);
  for (const [i, d] of opts.derive.entries()) {
    // The expression once, under TRY, wrapped in a struct: the struct is NULL only when the
    // expression errors on the row, never when it returns NULL on purpose (NULL input, the
    // user's own TRY_CAST). One occurrence matters: DuckDB may hoist a subexpression that
    // appears twice in a projection out of its TRY, and the hoisted copy would fail the batch.
    const tried = `__lake_dv_${i}`;
    rel = `SELECT *, TRY({'v': (${d.sql})}) AS ${tried} FROM (${rel}) AS s${i + 1}`;
    errors.push(tried);
    const expr = `${tried}.v`;
    let resultType;
    try {
      const [row] = await c.json(`DESCRIBE SELECT ${expr} AS v FROM (${rel}) AS t`);
      resultType = normalizeDuckType(parseDuckType(String(row!.column_type)));
    } catch (err) {
      // Columns the expression reads whose type comes from the values seen so far: another
      // batch cut could have given them another type, so the cure is to declare them.
      const refs = new Set((await sqlColumnRefs(c, d.sql)).map(lower));
      const inferred = columns.filter((col) => refs.has(lower(col.name)) && !opts.declared.has(lower(col.name)) && !derivedNames.has(lower(col.name)));
      const declare = inferred.length === 0
        ? 'fix the expression in the spec and restart'
        : `${inferred.map((col) => `${col.name} is ${renderDuckType(col.type)} here, inferred from the values seen so far`).join('; ')}: declare the type the expression needs under the table's columns (e.g. ${inferred[0]!.name}: VARCHAR), or fix the expression, and restart`;
      throw new LakeError('PIPE_LAKE_BAD_DERIVE', `table ${opts.table}: derive ${d.column} = ${d.sql} does not bind over the batch: ${firstLine(err)}`, {
        cause: err,
        hint: `${declare}; the batch was not committed and is replayed`,
        details: { table: opts.table, column: d.column },
      });
    }
    const at = columns.findIndex((col) => lower(col.name) === lower(d.column));
    const existing = at >= 0 ? columns[at] : undefined;
    const decl = opts.declared.get(lower(d.column));
    let target = decl?.type ?? existing?.type;
    let fixed = decl !== undefined;
    const resultLattice = latticeTypeOf(resultType);
    if (!decl && existing) {
      const current = latticeTypeOf(existing.type);
      if (current && resultLattice) {
        const joined = typeOfKinds(kindsOfType(current, false) | kindsOfType(resultLattice, false))!;
        target = { kind: 'primitive', name: joined };
        if (joined !== current && opts.known.some((k) => k.name === existing.name)) widened.push({ name: existing.name, from: current, to: joined });
      } else fixed = renderDuckType(existing.type) !== renderDuckType(resultType);
    }
    target ??= resultLattice ? { kind: 'primitive', name: resultLattice } : resultType;
    const column: TypedColumn = { name: existing?.name ?? decl?.name ?? d.column, type: target };
    if (existing) columns[at] = column;
    else {
      columns.push(column);
      newColumns.push(column);
    }
    const rendered = renderDuckType(target);
    const value = fixed ? `TRY_CAST(${expr} AS ${rendered})` : `CAST(${expr} AS ${rendered})`;
    const name = quoteIdent(column.name);
    let flag = fixed ? `, CASE WHEN ${expr} IS NOT NULL AND ${value} IS NULL THEN ${quoteLiteral(`derived column ${column.name} does not convert to ${rendered}`)} END AS __lake_dbad_${i}` : '';
    if (fixed) flags.push(`__lake_dbad_${i}`);
    flag += `, CASE WHEN ${tried} IS NULL THEN ${quoteLiteral(column.name)} END AS __lake_derr_${i}`;
    errors.push(`__lake_derr_${i}`);
    rel = inRelation.has(lower(column.name))
      ? `SELECT * REPLACE (${value} AS ${name})${flag} FROM (${rel}) AS t${i + 1}`
      : `SELECT *, ${value} AS ${name}${flag} FROM (${rel}) AS t${i + 1}`;
    inRelation.add(lower(column.name));
  }
  // A derived key or sequence must hold a value: the row cannot be merged otherwise.
  const reasons = [...flags];
  for (const key of opts.required) {
    if (!derivedNames.has(lower(key))) continue;
    reasons.push(`CASE WHEN ${quoteIdent(key)} IS NULL THEN ${quoteLiteral(`derived column ${key} (merge key or sequence) is NULL`)} END`);
  }
  for (const p of opts.partitionColumns ?? []) {
    if (!derivedNames.has(lower(p))) continue;
    reasons.push(`CASE WHEN TRY(CAST(${quoteIdent(p)} AS VARCHAR)) = '' THEN ${quoteLiteral(`derived partition column ${p} is the empty string, which Delta reads as NULL`)} END`);
  }
  const select = [`* EXCLUDE (${[...missing.map(quoteIdent), ...flags, ...errors, '__lake_none'].join(', ')})`];
  const errorFlags = errors.filter((e) => e.startsWith('__lake_derr_'));
  if (errorFlags.length > 0) select.push(`concat_ws(', ', ${[...errorFlags, 'NULL'].join(', ')}) AS ${DERIVE_ERROR}`);
  if (reasons.length > 0) select.push(`concat_ws(', ', ${[...reasons, 'NULL'].join(', ')}) AS ${DERIVE_BAD}`);
  if (opts.where) select.push(`NOT coalesce(TRY(CAST((${opts.where}) AS BOOLEAN)), false) AS ${WHERE_DROP}`);
  // An expectation holds only when its expression is true (false, NULL or an error fail it).
  // A `unique` one compares rows, so it is decided once the batch is loaded (batch-rejects.ts).
  const holds = (e: Expectation) => (e.unique ? 'true' : `coalesce(TRY(CAST((${e.sql}) AS BOOLEAN)), false)`);
  for (const [i, e] of expectations.entries()) select.push(`${holds(e)} AS ${expectationColumn(i)}`);
  const deciding = expectations.map((e, i) => [e, i] as const).filter(([e]) => e.action !== 'warn');
  if (expectations.length > 0) {
    select.push(deciding.length > 0 ? `CASE ${deciding.map(([e, i]) => `WHEN NOT ${holds(e)} THEN ${i}`).join(' ')} END AS ${EXPECT_DECIDES}` : `CAST(NULL AS INTEGER) AS ${EXPECT_DECIDES}`);
  }
  // `__lake_none` lets EXCLUDE always name something (DuckDB refuses an empty list).
  const sql = `SELECT ${select.join(', ')} FROM (${addNone(rel)}) AS tw`;
  return { sql, mayFail: reasons.length > 0, mayError: errorFlags.length > 0, mayDrop: opts.where !== undefined, expectations: expectations.length };
}

/** Adds the placeholder column `__lake_none` to the outermost SELECT of `rel`. */
function addNone(rel: string): string {
  return `SELECT *, NULL AS __lake_none FROM (${rel}) AS tn`;
}

function firstLine(err: unknown): string {
  return String((err as Error).message ?? err).split('\n')[0]!.trim();
}
