/**
 * Loading a batch into DuckDB with types that never depend on where batches were cut.
 *
 * The batch arrives as NDJSON (raw record values, or rows serialised here) together with
 * the JSON kinds each key held ({@link BatchInput}). Each column's type is decided before
 * DuckDB reads a byte: the table's type joined with the batch's kinds through the lattice
 * (type-lattice.ts), or the declared type. DuckDB then reads every key once with that type
 * (`read_json(columns=…)`, no detection), so a load cannot fail on a value: inferred
 * columns hold every kind they were widened for, and a value that does not convert to a
 * fixed (declared) type fails its own row only — the row is reported in `rejected`, or its
 * value goes to the rescued-data column.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { LakeError } from '../errors.js';
import type { Conn } from './duck.js';
import type { TypedColumn } from './files.js';
import { duplicateNameReason, duplicateTopLevelName, kindOfJsonValue, parseExactJson } from './json-values.js';
import { normalizeDuckType, parseDuckType, quoteIdent, quoteLiteral, renderDuckType, type DuckType } from './schema.js';
import {
  Kind, canonicalTextSql, declaredWidening, fixedConversionSql, kindOfValue, kindsOfType, latticeTypeOf, typeOfKinds, type LatticeType,
} from './type-lattice.js';
import { attachRelation, attachedFile } from './attached.js';
import type { AttachedColumns, BatchInput, DerivedColumn, Expectation, ExpectationCount, RejectedRow, SourcePositions } from './types.js';
import { deriveRelation } from './derive.js';
import { takeRejected } from './batch-rejects.js';

/** A batch loaded into a temp table. Row order is the input order (`rowid` = input row). */
export interface LoadedBatch {
  table: string;
  rowCount: number;
  /** Every column of the table after this batch, typed as it will be written. */
  columns: TypedColumn[];
  /** Columns the table does not have yet (nullable additions). */
  newColumns: TypedColumn[];
  /** Existing columns whose type widens with this batch (to a lattice type, or to a widening declaration): the table's files must be rewritten. */
  widened: { name: string; from: string; to: string }[];
  /** Input rows left out of the temp table: a value did not convert to its column's fixed type, `where`, expectations. */
  rejected: RejectedRow[];
  /** Per expectation: rows evaluated and failed. */
  expectations: ExpectationCount[];
  /**
   * Inferred BIGINT columns that received an integer beyond ±2^53 in this batch. The table
   * remembers it (a record that loses its merge leaves no such value behind, yet it counts:
   * a later fraction must make the column VARCHAR, not DOUBLE, whatever the batch cuts).
   */
  unsafeIntegers: string[];
  /**
   * Columns the table needs (partition columns) that have held only NULLs so far: VARCHAR
   * placeholders whose type the first value decides, as if the column had not existed.
   */
  untyped: string[];
}

/** What the loader must know about the destination. */
export interface LoadContext {
  tableName: string;
  /** Table columns (empty when the table is created by this write). */
  known: TypedColumn[];
  /** Declared DuckDB types from the write options. */
  declared: Record<string, string>;
  /** Name of the temp table to create. */
  into: string;
  /**
   * Columns the write needs even while only nulls arrived (partition columns): created as
   * VARCHAR placeholders (see LoadedBatch.untyped) when no value has arrived.
   */
  required?: string[];
  /** Lower-case names of the table's placeholder columns (only NULLs so far). */
  untyped?: ReadonlySet<string>;
  /** The sequence column: its inferred type stays numeric (never widens to VARCHAR). */
  sequenceBy?: string;
  /** When set, values that do not convert go to this column as JSON instead of failing their row. */
  rescuedDataColumn?: string;
  /** Computed columns and the row filter of the write (derive.ts). */
  derive?: DerivedColumn[];
  where?: string;
  expectations?: Expectation[];
  /** Columns every row must hold (merge keys, sequence): a NULL derived one fails its row. */
  keyColumns?: string[];
  /** Whether an existing BIGINT column has received integers beyond ±2^53 (asked only when it may widen to DOUBLE). */
  holdsUnsafeIntegers(column: string): Promise<boolean>;
}

/** Serialises rows to NDJSON: bigint as a JSON number, bytes as base64, dates as ISO text. */
export function rowsToNdjson(rows: Record<string, unknown>[]): string {
  const marker = `__lake_bigint_${randomUUID().slice(0, 8)}__`;
  const lines = rows.map((r) =>
    JSON.stringify(r, function replacer(this: unknown, _k: string, v: unknown) {
      if (typeof v === 'bigint') return `${marker}${v}`;
      // JSON has no NaN or ±Infinity (JSON.stringify writes null): DuckDB casts their names.
      if (typeof v === 'number' && !Number.isFinite(v)) return String(v);
      if (v instanceof Uint8Array) return Buffer.from(v).toString('base64');
      if (v && typeof v === 'object' && (v as { type?: string }).type === 'Buffer' && Array.isArray((v as { data?: unknown }).data)) {
        return Buffer.from((v as { data: number[] }).data).toString('base64');
      }
      return v;
    }),
  );
  return lines.join('\n').replace(new RegExp(`"${marker}(-?\\d+)"`, 'g'), '$1') + (lines.length ? '\n' : '');
}

/** Notes the kinds of one record's values under each key, refusing two spellings of one name. */
function noteKinds(kinds: Record<string, number>, spelling: Map<string, string>, record: Record<string, unknown>, kindOf: (v: unknown) => number | undefined): void {
  for (const key of Object.keys(record)) {
    const lower = key.toLowerCase();
    const seen = spelling.get(lower);
    if (seen === undefined) spelling.set(lower, key);
    else if (seen !== key) {
      throw new LakeError('PIPE_LAKE_BAD_BATCH', `batch spells column ${seen} also as ${key}; column names are case-insensitive`);
    }
    const kind = kindOf(record[key]);
    if (kind === undefined) throw new LakeError('PIPE_LAKE_BAD_BATCH', `column ${key}: an integer outside the 64-bit range cannot be stored`);
    kinds[key] = (kinds[key] ?? 0) | kind;
  }
}

/** The kinds of a file's keys, when the producer did not send them (reads the file once). */
async function kindsOfFile(file: string): Promise<Record<string, number>> {
  const kinds = Object.create(null) as Record<string, number>;
  const spelling = new Map<string, string>();
  for (const line of (await fs.readFile(file, 'utf8')).split('\n')) {
    if (line.trim() === '') continue;
    const { value } = parseExactJson(line);
    noteKinds(kinds, spelling, value as Record<string, unknown>, kindOfJsonValue);
  }
  return kinds;
}

/** How one batch key is read and what it becomes. */
interface Reading {
  /** Key spelling in the batch. */
  key: string;
  column: TypedColumn;
  /** Type DuckDB reads the key as. */
  readAs: string;
  /** SQL over the read value `v` giving the column value. */
  value: (v: string) => string;
  /** SQL over `v`: false when the value does not convert (fixed types only). */
  ok?: (v: string) => string;
}

/** Loads the batch into temp table `ctx.into`. */
export async function loadBatch(c: Conn, input: BatchInput, ctx: LoadContext): Promise<LoadedBatch> {
  let file: string;
  let tempFile: string | undefined;
  let kinds: Record<string, number>;
  let readsAs: ReadsAs | undefined;
  if (input.kind === 'rows') {
    kinds = Object.create(null) as Record<string, number>;
    const spelling = new Map<string, string>();
    for (const row of input.rows) noteKinds(kinds, spelling, row, kindOfValue);
    tempFile = path.join(os.tmpdir(), `lake-batch-${randomUUID()}.ndjson`);
    await fs.writeFile(tempFile, rowsToNdjson(input.rows), 'utf8');
    file = tempFile;
    const rows = input.rows;
    readsAs = (key, type) => rows.every((row) => holdsAs(row[key], type));
  } else {
    file = input.path;
    kinds = input.kinds ?? (await kindsOfFile(file));
  }
  const rowCount = input.kind === 'rows' ? input.rows.length : input.rowCount;
  const positions = await positionsFile(input.positions, rowCount);
  const attached = input.attached && input.attached.columns.length > 0 ? { spec: input.attached, file: await attachedFile(input.attached, rowCount) } : undefined;
  try {
    return await loadNdjson(c, file, kinds, ctx, positions, attached, input.positions?.partitions.length, readsAs);
  } finally {
    if (tempFile) await fs.rm(tempFile, { force: true });
    if (positions) await fs.rm(positions, { force: true });
    if (attached) await fs.rm(attached.file, { force: true });
  }
}

/** Whether every value of a batch key is already of a fixed column type (rows built in code). */
type ReadsAs = (key: string, type: DuckType) => boolean;

const INT32 = 2 ** 31;
const INT64_MAX = 2n ** 63n - 1n;
/** UTC ISO-8601 text, as `Date#toISOString` writes it (and DuckDB reads it as TIMESTAMPTZ). */
const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$/;

/**
 * Whether DuckDB reads `v` (as rowsToNdjson writes it) straight into `type` with the value
 * the checked conversion would give: then the key needs neither conversion nor a per-row check.
 */
function holdsAs(v: unknown, type: DuckType): boolean {
  if (v === null || v === undefined) return true;
  if (type.kind !== 'primitive') return false;
  switch (type.name) {
    case 'VARCHAR':
      return typeof v === 'string';
    case 'BOOLEAN':
      return typeof v === 'boolean';
    case 'INTEGER':
      return typeof v === 'number' && Number.isInteger(v) && v >= -INT32 && v < INT32;
    case 'BIGINT':
      return (typeof v === 'number' && Number.isSafeInteger(v)) || (typeof v === 'bigint' && v >= -INT64_MAX - 1n && v <= INT64_MAX);
    case 'DOUBLE':
      return typeof v === 'number' && Number.isFinite(v);
    case 'TIMESTAMPTZ':
      return (typeof v === 'string' && ISO_UTC.test(v)) || (v instanceof Date && ISO_UTC.test(v.toJSON() ?? ''));
    default:
      return false;
  }
}

/** Decides each column's type and how its key is read. */
async function plan(
  kinds: Record<string, number>, ctx: LoadContext, readsAs?: ReadsAs,
): Promise<{ readings: Reading[]; columns: TypedColumn[]; newColumns: TypedColumn[]; widened: LoadedBatch['widened']; unsafeIntegers: string[]; untyped: string[] }> {
  const knownByName = new Map(ctx.known.map((k) => [k.name.toLowerCase(), k]));
  const declared = new Map(Object.entries(ctx.declared).map(([k, v]) => [k.toLowerCase(), { name: k, type: normalizeDuckType(parseDuckType(v)) }]));
  const sequence = ctx.sequenceBy?.toLowerCase();
  const required = new Set((ctx.required ?? []).map((r) => r.toLowerCase()));
  const columns: TypedColumn[] = ctx.known.map((k) => ({ ...k }));
  const newColumns: TypedColumn[] = [];
  const widened: LoadedBatch['widened'] = [];
  const unsafeIntegers: string[] = [];
  const untyped: string[] = [];
  // A derived column takes its type from its expression, never from a placeholder.
  const derivedNames = new Set((ctx.derive ?? []).map((d) => d.column.toLowerCase()));
  const readings: Reading[] = [];
  const latticeJoin = (lower: string, k: number): LatticeType | undefined => {
    const t = typeOfKinds(k);
    // A sequence compares as a number: integers beyond 2^53 and fractions meet in DOUBLE, not text.
    if (t === 'VARCHAR' && lower === sequence && (k & ~(Kind.NULL | Kind.INT | Kind.BIGINT | Kind.REAL)) === 0) return 'DOUBLE';
    return t;
  };
  for (const [key, k] of Object.entries(kinds)) {
    const lower = key.toLowerCase();
    const known = knownByName.get(lower);
    const decl = declared.get(lower);
    let column: TypedColumn;
    let lattice: LatticeType | undefined;
    if (known) {
      const [from, to] = decl ? [renderDuckType(known.type), renderDuckType(decl.type)] : [];
      if (decl && from !== to && (declaredWidening(from!, to!) || ctx.untyped?.has(lower) === true)) {
        // A declaration that widens the stored type exactly, or types a placeholder, applies now (the files are rewritten).
        widened.push({ name: known.name, from: from!, to: to! });
        const i = columns.findIndex((col) => col.name === known.name);
        columns[i] = { name: known.name, type: decl.type };
      }
      const current = decl ? undefined : latticeTypeOf(known.type);
      const placeholder = current !== undefined && ctx.untyped?.has(lower) === true;
      if (placeholder && latticeJoin(lower, k) === undefined) untyped.push(known.name);
      if (current) {
        const unsafe = current === 'BIGINT' && (k & Kind.REAL) !== 0 && (await ctx.holdsUnsafeIntegers(known.name));
        // A placeholder holds no value: the batch's kinds alone decide its type.
        lattice = placeholder ? (latticeJoin(lower, k) ?? current) : latticeJoin(lower, kindsOfType(current, unsafe) | k)!;
        if (lattice !== current) {
          widened.push({ name: known.name, from: current, to: lattice });
          const i = columns.findIndex((col) => col.name === known.name);
          columns[i] = { name: known.name, type: { kind: 'primitive', name: lattice } };
        }
      }
      column = columns.find((col) => col.name === known.name)!;
    } else if (decl) {
      column = { name: decl.name, type: decl.type };
      columns.push(column);
      newColumns.push(column);
    } else {
      lattice = latticeJoin(lower, k);
      if (!lattice && required.has(lower) && !derivedNames.has(lower)) {
        lattice = 'VARCHAR';
        untyped.push(key);
      }
      if (!lattice) continue; // only nulls so far: no column yet
      // A required (partition) column is spelled as the write names it, whatever a record's spelling.
      column = { name: ctx.required?.find((r) => r.toLowerCase() === lower) ?? key, type: { kind: 'primitive', name: lattice } };
      columns.push(column);
      newColumns.push(column);
    }
    readings.push(!lattice && readsAs?.(key, column.type) ? { key, column, readAs: renderDuckType(column.type), value: (v) => v } : reading(key, column, lattice, k));
    if (lattice === 'BIGINT' && (k & Kind.BIGINT) !== 0) unsafeIntegers.push(column.name);
  }
  // Placeholders no record of the batch names stay placeholders.
  const named = new Set(Object.keys(kinds).map((key) => key.toLowerCase()));
  for (const k of ctx.known) if (ctx.untyped?.has(k.name.toLowerCase()) && !named.has(k.name.toLowerCase())) untyped.push(k.name);
  // A required column no record of the batch names (and no derive computes): a placeholder too.
  for (const lower of required) {
    if (knownByName.has(lower) || declared.has(lower) || derivedNames.has(lower) || columns.some((col) => col.name.toLowerCase() === lower)) continue;
    const name = ctx.required!.find((r) => r.toLowerCase() === lower)!;
    const col: TypedColumn = { name, type: { kind: 'primitive', name: 'VARCHAR' } };
    columns.push(col);
    newColumns.push(col);
    untyped.push(name);
  }
  // Declared columns absent from this batch still become (all-NULL) columns of the table.
  for (const [lower, decl] of declared) {
    if (knownByName.has(lower) || columns.some((col) => col.name.toLowerCase() === lower)) continue;
    const col = { name: decl.name, type: decl.type };
    columns.push(col);
    newColumns.push(col);
  }
  const rescued = ctx.rescuedDataColumn;
  if (rescued && !columns.some((col) => col.name.toLowerCase() === rescued.toLowerCase())) {
    const col: TypedColumn = { name: rescued, type: { kind: 'primitive', name: 'VARCHAR' } };
    columns.push(col);
    newColumns.push(col);
  }
  // Delta reads an empty partition value as NULL: a text partition column cannot hold ''.
  // Such a value fails its row (or goes to the rescued-data column), never silently NULL.
  for (const [i, r] of readings.entries()) {
    if (!required.has(r.column.name.toLowerCase()) || renderDuckType(r.column.type) !== 'VARCHAR') continue;
    // Read as JSON, so a rescued value is kept as the JSON it was.
    const { ok } = r;
    const value = r.readAs === 'JSON' ? r.value : canonicalTextSql;
    readings[i] = { ...r, readAs: 'JSON', value: (v) => `NULLIF(${value(v)}, '')`, ok: (v) => `(coalesce((${value(v)}) <> '', true)${ok ? ` AND ${ok(v)}` : ''})` };
  }
  return { readings, columns, newColumns, widened, unsafeIntegers, untyped };
}

/** How a key with kinds `k` is read into `column` (lattice type `lattice`, or fixed when undefined). */
function reading(key: string, column: TypedColumn, lattice: LatticeType | undefined, k: number): Reading {
  if (lattice) {
    // Inferred columns were widened to hold every kind present: DuckDB reads them directly.
    if (lattice !== 'VARCHAR' || (k & ~(Kind.NULL | Kind.STRING)) === 0) return { key, column, readAs: lattice, value: (v) => v };
    return { key, column, readAs: 'JSON', value: canonicalTextSql };
  }
  const rendered = renderDuckType(column.type);
  return {
    key,
    column,
    readAs: 'JSON',
    value: (v) => fixedConversionSql(v, column.type, rendered).value,
    ok: (v) => fixedConversionSql(v, column.type, rendered).ok,
  };
}

/** Columns of the loaded batch holding each row's source position (when the input has them). */
export const POSITION_PARTITION = '__lake_p';
export const POSITION_OFFSET = '__lake_o';

/** Writes the source positions as a CSV file (one `partition,offset` line per input row), read back positionally. */
async function positionsFile(positions: SourcePositions | undefined, rowCount: number | undefined): Promise<string | undefined> {
  if (!positions) return undefined;
  const n = positions.partitions.length;
  if (positions.offsets.length !== n || (rowCount !== undefined && rowCount !== n)) {
    throw new LakeError('PIPE_LAKE_BAD_BATCH', `batch has ${rowCount ?? '?'} rows but ${n} partitions and ${positions.offsets.length} offsets`);
  }
  const file = path.join(os.tmpdir(), `lake-positions-${randomUUID()}.csv`);
  const lines = new Array<string>(n);
  for (let i = 0; i < n; i++) lines[i] = `${positions.partitions[i]},${positions.offsets[i]}`;
  await fs.writeFile(file, lines.join('\n') + '\n', 'utf8');
  return file;
}

/** The positions as a relation with columns __lake_p and __lake_o, in input order. */
const positionsRelation = (file: string) =>
  `read_csv(${quoteLiteral(file)}, header=false, auto_detect=false, columns={'${POSITION_PARTITION}': 'INTEGER', '${POSITION_OFFSET}': 'BIGINT'})`;

async function loadNdjson(
  c: Conn, file: string, kinds: Record<string, number>, ctx: LoadContext, positions?: string, attached?: { spec: AttachedColumns; file: string }, positionCount?: number, readsAs?: ReadsAs,
): Promise<LoadedBatch> {
  try {
    await fs.access(file);
  } catch (err) {
    throw new LakeError('PIPE_LAKE_BAD_BATCH', `batch file ${file} cannot be read`, { cause: err });
  }
  const { readings, columns, newColumns, widened, unsafeIntegers, untyped } = await plan(kinds, ctx, readsAs);
  const into = quoteIdent(ctx.into);
  const pos = positions ? ` POSITIONAL JOIN ${positionsRelation(positions)} AS pos` : '';
  let inner: string;
  let failures: string[] = [];
  let rescued: TypedColumn | undefined;
  if (readings.length === 0) {
    // No key with a value: the rows still count (a record of nulls is still a row).
    const rows = await c.json(`SELECT count(*) AS n FROM read_json_objects(${quoteLiteral(file)}, format='newline_delimited')`);
    const n = Number(rows[0]!.n);
    const cols = columns.map((col) => `CAST(NULL AS ${renderDuckType(col.type)}) AS ${quoteIdent(col.name)}`);
    const posCols = positions ? `, ${POSITION_PARTITION}, ${POSITION_OFFSET}` : '';
    inner = `SELECT ${cols.join(', ') || '1 AS __lake_empty'}${posCols} FROM range(${n})${pos}`;
  } else {
    rescued = ctx.rescuedDataColumn ? columns.find((col) => col.name.toLowerCase() === ctx.rescuedDataColumn!.toLowerCase()) : undefined;
    // A record's own field named like the rescued-data column cannot be stored in it (the
    // column is the table's): it is rescued too, under its own key, as JSON text.
    const ownIndex = rescued ? readings.findIndex((r) => r.column === rescued) : -1;
    const own = ownIndex >= 0 ? { ...readings[ownIndex]!, readAs: 'JSON', ok: undefined } : undefined;
    if (own) readings[ownIndex] = own;
    const byColumn = new Map(readings.map((r) => [r.column.name, r]));
    const spec = readings.map((r) => `${quoteLiteral(r.key)}: ${quoteLiteral(r.readAs)}`).join(', ');
    const src = (r: Reading) => `j.${quoteIdent(r.key)}`;
    const select = columns.map((col) => {
      const r = byColumn.get(col.name);
      if (r) return `${r.value(src(r))} AS ${quoteIdent(col.name)}`;
      return `CAST(NULL AS ${renderDuckType(col.type)}) AS ${quoteIdent(col.name)}`;
    });
    const fixed = readings.filter((r) => r.ok);
    failures = fixed.map((r) => `CASE WHEN NOT ${r.ok!(src(r))} THEN ${quoteLiteral(r.column.name)} END`);
    if (rescued) {
      // Values that do not convert are kept as JSON under their key; the row is stored.
      const parts = fixed.map((r) => `CASE WHEN NOT ${r.ok!(src(r))} THEN ${quoteLiteral(JSON.stringify(r.key))} || ':' || CAST(${src(r)} AS VARCHAR) END`);
      if (own) parts.push(`CASE WHEN CAST(${src(own)} AS VARCHAR) <> 'null' THEN ${quoteLiteral(JSON.stringify(own.key))} || ':' || CAST(${src(own)} AS VARCHAR) END`);
      select[columns.indexOf(rescued)] = `NULLIF('{' || concat_ws(',', ${[...parts, 'NULL'].join(', ')}) || '}', '{}') AS ${quoteIdent(rescued.name)}`;
    } else if (failures.length > 0) {
      select.push(`concat_ws(', ', ${[...failures, 'NULL'].join(', ')}) AS __lake_bad`);
    }
    // Source positions line up with the records by position (both files are in input order).
    if (positions) select.push(`pos.${POSITION_PARTITION}`, `pos.${POSITION_OFFSET}`);
    inner = `SELECT ${select.join(', ')} FROM read_json(${quoteLiteral(file)}, format='newline_delimited', columns={${spec}}) AS j${pos}`;
  }
  if (attached) inner = attachRelation(inner, attached.file, attached.spec, columns, newColumns, ctx.keyColumns ?? []);
  const typeBad = !rescued && failures.length > 0;
  let derived = { sql: inner, mayFail: false, mayError: false, mayDrop: false, expectations: 0 };
  const expectations = ctx.expectations ?? [];
  if ((ctx.derive?.length ?? 0) > 0 || ctx.where !== undefined || expectations.length > 0) {
    const declared = new Map(Object.entries(ctx.declared).map(([k, v]) => [k.toLowerCase(), { name: k, type: normalizeDuckType(parseDuckType(v)) }]));
    derived = await deriveRelation(c, inner, columns, newColumns, widened, {
      table: ctx.tableName, derive: ctx.derive ?? [], ...(ctx.where !== undefined ? { where: ctx.where } : {}), declared, known: ctx.known, required: ctx.keyColumns ?? [], partitionColumns: ctx.required ?? [], expectations,
    });
  }
  let created: Record<string, unknown>[];
  let duplicates: RejectedRow[] = [];
  try {
    created = await c.json(`CREATE TEMP TABLE ${into} AS ${derived.sql}`);
  } catch (err) {
    // DuckDB refuses the whole file for one object holding a name twice: such records fail
    // alone, and the rest load from a copy holding `{}` in their lines.
    if (!/has duplicate key/.test((err as Error).message)) throw err;
    const copy = await withoutDuplicateNames(file);
    if (!copy) throw err;
    duplicates = copy.rejected;
    try {
      created = await c.json(`CREATE TEMP TABLE ${into} AS ${derived.sql.split(quoteLiteral(file)).join(quoteLiteral(copy.file))}`);
    } finally {
      await fs.rm(copy.file, { force: true });
    }
    await c.run(`DELETE FROM ${into} WHERE rowid IN (${duplicates.map((d) => d.row).join(', ')})`);
  }
  const rowCount = Number(created[0]?.Count ?? (await c.json(`SELECT count(*) AS n FROM ${into}`))[0]!.n);
  if (positions && derived.sql === inner && !attached && positionCount !== undefined) {
    // Every input row is in the temp table (nothing filters here): more rows than positions
    // means records without one, without a query to find them.
    if (rowCount > positionCount) throw new LakeError('PIPE_LAKE_BAD_BATCH', `batch has more records than source positions (${rowCount - positionCount} without one)`);
  } else if (positions) {
    const [unplaced] = await c.json(`SELECT count(*) AS n FROM ${into} WHERE ${POSITION_OFFSET} IS NULL`);
    if (Number(unplaced!.n) > 0) throw new LakeError('PIPE_LAKE_BAD_BATCH', `batch has more records than source positions (${unplaced!.n} without one)`);
  }
  const taken = await takeRejected(c, into, columns, { typeBad, partitionColumns: ctx.required ?? [], attachBad: attached !== undefined, deriveError: derived.mayError ? ctx.derive ?? [] : [], deriveBad: derived.mayFail, drop: derived.mayDrop, expectations, table: ctx.tableName });
  const rejected = duplicates.length === 0 ? taken.rejected : [...duplicates, ...taken.rejected].sort((a, b) => a.row - b.row);
  return { table: ctx.into, rowCount: rowCount - rejected.length, columns, newColumns, widened, rejected, expectations: taken.counts, unsafeIntegers, untyped };
}

/**
 * A copy of NDJSON batch `file` with `{}` in place of each record holding a top-level name
 * twice, and those records as rejected rows (undefined when there is none).
 */
async function withoutDuplicateNames(file: string): Promise<{ file: string; rejected: RejectedRow[] } | undefined> {
  const lines = (await fs.readFile(file, 'utf8')).split('\n');
  const rejected: RejectedRow[] = [];
  for (let i = 0; i < lines.length; i++) {
    const name = duplicateTopLevelName(lines[i]!);
    if (name === undefined) continue;
    rejected.push({ row: i, reason: duplicateNameReason(name) });
    lines[i] = '{}';
  }
  if (rejected.length === 0) return undefined;
  const copy = path.join(os.tmpdir(), `lake-batch-${randomUUID()}.ndjson`);
  await fs.writeFile(copy, lines.join('\n'), 'utf8');
  return { file: copy, rejected };
}
