/**
 * The type lattice: how a column's type follows from the JSON values it has received, so
 * that a table's schema never depends on where batches were cut.
 *
 * A batch reports, per column, the set of JSON kinds its values had (bits below). The
 * column's type is the join of every kind it has ever received:
 *
 * | kinds seen (nulls ignored)                    | column type |
 * |-----------------------------------------------|-------------|
 * | only null                                     | no column yet |
 * | booleans                                      | BOOLEAN |
 * | integers within ±2^63                         | BIGINT |
 * | integers within ±2^53 and fractions           | DOUBLE |
 * | integers beyond ±2^53 and fractions           | VARCHAR |
 * | strings, objects, arrays, or any other mix    | VARCHAR |
 *
 * A VARCHAR column stores strings as they are and any other value as its canonical text
 * ({@link canonicalTextSql}): integers as digits, other numbers as DuckDB prints a DOUBLE,
 * booleans as `true`/`false`, objects and arrays as minified JSON. When a column widens
 * (BIGINT → DOUBLE, anything → VARCHAR) the table's files are rewritten with the same
 * conversion, so a value reads the same whether it arrived before or after the widening.
 *
 * Declared column types (and table columns of any other type) are fixed: a value is
 * converted to them or that record alone fails ({@link fixedConversionSql}).
 */
import { quoteIdent, type DuckType } from './schema.js';

/** JSON kinds of a column's values, as bits. */
export const Kind = {
  NULL: 1,
  BOOLEAN: 2,
  /** An integer within ±2^53 (exact as a double). */
  INT: 4,
  /** An integer beyond ±2^53 but within the 64-bit range, written as plain digits. */
  BIGINT: 8,
  /** Any other number. */
  REAL: 16,
  STRING: 32,
  /** An object or an array. */
  NESTED: 64,
} as const;

const SAFE = 2 ** 53;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** The kind of a plain JS value (numbers, bigints, strings, booleans, null, objects, byte arrays). */
export function kindOfValue(value: unknown): number {
  switch (typeof value) {
    case 'number':
      return Number.isInteger(value) && Math.abs(value) <= SAFE ? Kind.INT : Kind.REAL;
    case 'bigint':
      if (value >= -BigInt(SAFE) && value <= BigInt(SAFE)) return Kind.INT;
      return value >= INT64_MIN && value <= INT64_MAX ? Kind.BIGINT : Kind.STRING;
    case 'string':
      return Kind.STRING;
    case 'boolean':
      return Kind.BOOLEAN;
    case 'undefined':
      return Kind.NULL;
  }
  if (value === null) return Kind.NULL;
  if (value instanceof Uint8Array || value instanceof Date) return Kind.STRING;
  return Kind.NESTED;
}

/**
 * The kind of a number written as `text` (exact digits, e.g. from a lossless parse), or
 * undefined when it is an integer outside the 64-bit range (no column type holds it exactly).
 */
export function kindOfNumberText(text: string): number | undefined {
  if (/^-?\d+$/.test(text)) {
    const n = BigInt(text);
    if (n >= -BigInt(SAFE) && n <= BigInt(SAFE)) return Kind.INT;
    return n >= INT64_MIN && n <= INT64_MAX ? Kind.BIGINT : undefined;
  }
  const v = Number(text);
  return Number.isInteger(v) && Math.abs(v) <= SAFE ? Kind.INT : Kind.REAL;
}

/** The lattice types (every other type is fixed). */
export type LatticeType = 'BOOLEAN' | 'BIGINT' | 'DOUBLE' | 'VARCHAR';

/** The type of a column that has received `kinds`, or undefined while only nulls arrived. */
export function typeOfKinds(kinds: number): LatticeType | undefined {
  const k = kinds & ~Kind.NULL;
  if (k === 0) return undefined;
  if (k === Kind.BOOLEAN) return 'BOOLEAN';
  if ((k & ~(Kind.INT | Kind.BIGINT)) === 0) return 'BIGINT';
  if ((k & ~(Kind.INT | Kind.REAL)) === 0) return 'DOUBLE';
  return 'VARCHAR';
}

/** The kinds a column of lattice type `type` may already hold. */
export function kindsOfType(type: LatticeType, holdsUnsafeIntegers: boolean): number {
  switch (type) {
    case 'BOOLEAN': return Kind.BOOLEAN;
    case 'BIGINT': return Kind.INT | (holdsUnsafeIntegers ? Kind.BIGINT : 0);
    case 'DOUBLE': return Kind.REAL;
    case 'VARCHAR': return Kind.STRING;
  }
}

/** The lattice type a DuckDB type is, or undefined when the type is fixed. */
export function latticeTypeOf(type: DuckType): LatticeType | undefined {
  if (type.kind !== 'primitive') return undefined;
  return (['BOOLEAN', 'BIGINT', 'DOUBLE', 'VARCHAR'] as const).find((t) => t === type.name);
}

const MAX_SAFE_SQL = '9007199254740992';

/** SQL: a DOUBLE as its canonical text (integral values within ±2^53 as digits). */
export function canonicalDoubleTextSql(expr: string): string {
  return `CASE WHEN ${expr} = trunc(${expr}) AND abs(${expr}) <= ${MAX_SAFE_SQL} THEN CAST(CAST(${expr} AS BIGINT) AS VARCHAR) ELSE CAST(${expr} AS VARCHAR) END`;
}

/** SQL: a JSON value's canonical text for a VARCHAR column (see the module comment). */
export function canonicalTextSql(json: string): string {
  return `CASE json_type(${json}) WHEN 'NULL' THEN NULL WHEN 'VARCHAR' THEN ${json} ->> '$' WHEN 'DOUBLE' THEN ${canonicalDoubleTextSql(`CAST(${json} AS DOUBLE)`)} ELSE CAST(${json} AS VARCHAR) END`;
}

/**
 * Field metadata of an inferred BIGINT column that has received an integer beyond ±2^53
 * (see LoadedBatch.unsafeIntegers): with a fraction it widens to VARCHAR, not DOUBLE.
 */
export const UNSAFE_INTEGERS_KEY = 'pipeline.unsafeIntegers';

/**
 * Field metadata of a placeholder column (see LoadedBatch.untyped): a partition column that
 * has held only NULLs, whose type the first value (or a declaration) decides.
 */
export const UNTYPED_KEY = 'pipeline.untyped';

/**
 * Declared types a stored column widens to exactly, each chain narrow to wide (as the table
 * stores them: HUGEINT is DECIMAL(38,0)). A declaration that widens the stored type is applied
 * by the next write that brings the column (its files rewritten with the cast, like a lattice
 * widening); any other declared change is a layout change (layout.ts).
 */
const DECLARED_WIDENINGS = [['TINYINT', 'SMALLINT', 'INTEGER', 'BIGINT', 'DECIMAL(38,0)'], ['FLOAT', 'DOUBLE']];

/** Does a column stored as `stored` widen exactly to the declared (table-normalized) type `declared`? */
export function declaredWidening(stored: string, declared: string): boolean {
  return DECLARED_WIDENINGS.some((chain) => chain.indexOf(stored) >= 0 && chain.indexOf(declared) > chain.indexOf(stored));
}

/** SQL converting a stored column of type `from` to the wider type `to` (a lattice or declared widening). */
export function widenSql(column: string, from: string, to: string): string {
  const c = quoteIdent(column);
  if (to === 'VARCHAR') return from === 'DOUBLE' ? canonicalDoubleTextSql(c) : `CAST(${c} AS VARCHAR)`;
  return `CAST(${c} AS ${to})`;
}

const INTEGER_TYPES = new Set(['TINYINT', 'SMALLINT', 'INTEGER', 'BIGINT', 'HUGEINT', 'UTINYINT', 'USMALLINT', 'UINTEGER', 'UBIGINT', 'UHUGEINT']);

/**
 * SQL converting a JSON value to a fixed type: `value` is the converted value (NULL when it
 * does not convert), `ok` says whether it converted (a JSON null always does). Integers
 * accept only integral numbers, floats only numbers, BOOLEAN only booleans, VARCHAR
 * anything (canonical text), other types a string (or, for nested types, an object or
 * array) that DuckDB casts to them.
 */
export function fixedConversionSql(json: string, type: DuckType, rendered: string): { value: string; ok: string } {
  const t = `json_type(${json})`;
  const isNull = `(${json} IS NULL OR ${t} = 'NULL')`;
  if (type.kind === 'primitive' && type.name === 'VARCHAR') return { value: canonicalTextSql(json), ok: 'true' };
  let value: string;
  if (type.kind === 'primitive' && INTEGER_TYPES.has(type.name)) {
    value = `CASE WHEN ${t} IN ('BIGINT', 'UBIGINT') OR (${t} = 'DOUBLE' AND CAST(${json} AS DOUBLE) = trunc(CAST(${json} AS DOUBLE))) THEN TRY_CAST(${json} AS ${rendered}) END`;
  } else if (type.kind === 'decimal') {
    return decimalConversionSql(json, type, rendered);
  } else if (type.kind === 'primitive' && ['DOUBLE', 'FLOAT'].includes(type.name)) {
    value = `CASE WHEN ${t} IN ('BIGINT', 'UBIGINT', 'DOUBLE') THEN TRY_CAST(${json} AS ${rendered}) WHEN ${t} = 'VARCHAR' THEN TRY_CAST(${json} ->> '$' AS ${rendered}) END`;
  } else if (type.kind === 'primitive' && type.name === 'BOOLEAN') {
    value = `CASE WHEN ${t} = 'BOOLEAN' THEN CAST(${json} AS BOOLEAN) END`;
  } else if (type.kind === 'primitive' && type.name === 'JSON') {
    return { value: json, ok: 'true' };
  } else if (type.kind === 'primitive' && type.name === 'BLOB') {
    value = `CASE WHEN ${t} = 'VARCHAR' THEN TRY(from_base64(${json} ->> '$')) END`;
  } else if (type.kind === 'primitive') {
    value = `CASE WHEN ${t} = 'VARCHAR' THEN TRY_CAST(${json} ->> '$' AS ${rendered}) END`;
  } else {
    // Nested: strictly (a field that does not convert, or is missing, fails the value).
    const structure = jsonStructure(type);
    value = structure === undefined
      ? `CASE WHEN ${t} IN ('OBJECT', 'ARRAY') THEN TRY_CAST(${json} AS ${rendered}) END`
      : `CASE WHEN ${t} IN ('OBJECT', 'ARRAY') THEN CAST(TRY(json_transform_strict(${json}, ${sqlString(JSON.stringify(structure))})) AS ${rendered}) END`;
    // The transform drops an object's fields the STRUCT lacks: such a value does not convert either.
    const exact = structure === undefined ? undefined : noExtraFieldsSql(json, type, 0);
    if (exact !== undefined) return { value, ok: `(${isNull} OR ((${value}) IS NOT NULL AND coalesce(${exact}, true)))` };
  }
  return { value, ok: `(${isNull} OR (${value}) IS NOT NULL)` };
}

/** Significant digits a JSON number may have for a DECIMAL column: every double up to this many round-trips. */
export const DECIMAL_EXACT_DIGITS = 15;

/**
 * A JSON number or numeric string to DECIMAL(p,s), exactly or not at all: the value is cast
 * from its text (never through a double), and it converts only when that loses nothing: no
 * nonzero digit past the scale (no rounding), and, for a JSON number, at most
 * {@link DECIMAL_EXACT_DIGITS} significant digits (DuckDB reads a JSON number with a fraction
 * as a double, which may have changed a longer one already; a string keeps every digit).
 */
function decimalConversionSql(json: string, type: { precision: number; scale: number }, rendered: string): { value: string; ok: string } {
  const t = `json_type(${json})`;
  const isNull = `(${json} IS NULL OR ${t} = 'NULL')`;
  const text = `trim(CASE WHEN ${t} = 'VARCHAR' THEN ${json} ->> '$' WHEN ${t} IN ('BIGINT', 'UBIGINT', 'DOUBLE') THEN CAST(${json} AS VARCHAR) END)`;
  // Plain notation: exact when every digit past the scale is 0. Exponent notation: when the
  // stored value is the same double (a value rounded at the scale is not).
  const scaleDigits = type.scale === 0 ? '' : `[0-9]{0,${type.scale}}`;
  const exact = `CASE WHEN regexp_full_match(${text}, '[+-]?([0-9]+[.]?[0-9]*|[.][0-9]+)') `
    + `THEN regexp_full_match(${text}, '[+-]?[0-9]*([.]${scaleDigits}0*)?') `
    + `ELSE TRY_CAST(${text} AS DOUBLE) = CAST(TRY_CAST(${text} AS ${rendered}) AS DOUBLE) END`;
  const digits = `length(trim(regexp_replace(regexp_extract(${text}, '^[+-]?([0-9.]*)', 1), '[.]', '', 'g'), '0'))`;
  const short = `(${t} <> 'DOUBLE' OR ${digits} <= ${DECIMAL_EXACT_DIGITS})`;
  const value = `CASE WHEN ${short} AND ${exact} THEN TRY_CAST(${text} AS ${rendered}) END`;
  return { value, ok: `(${isNull} OR (${value}) IS NOT NULL)` };
}

/**
 * SQL over JSON `json`, true when no object in it holds a field that `type`'s STRUCTs lack
 * (undefined when `type` has no STRUCT). Names match exactly, as json_transform's do.
 */
function noExtraFieldsSql(json: string, type: DuckType, depth: number): string | undefined {
  if (type.kind === 'struct') {
    const names = type.fields.map((f) => sqlString(f.name)).join(', ');
    const checks = [`list_has_all([${names}], json_keys(${json}))`];
    for (const f of type.fields) {
      const pointer = sqlString(`/${f.name.replace(/~/g, '~0').replace(/\//g, '~1')}`);
      const sub = noExtraFieldsSql(`json_extract(${json}, ${pointer})`, f.type, depth);
      if (sub !== undefined) checks.push(`coalesce(${sub}, true)`);
    }
    return `(${checks.join(' AND ')})`;
  }
  if (type.kind === 'list') {
    const x = `__lake_x${depth}`;
    const sub = noExtraFieldsSql(x, type.element, depth + 1);
    return sub === undefined ? undefined : `coalesce(list_bool_and(list_transform(CAST(${json} AS JSON[]), ${x} -> ${sub})), true)`;
  }
  return undefined;
}

const sqlString = (text: string) => `'${text.replace(/'/g, "''")}'`;

/** The `json_transform` structure of a nested type, or undefined when it holds a MAP. */
function jsonStructure(type: DuckType): unknown {
  switch (type.kind) {
    case 'struct': {
      const out: Record<string, unknown> = {};
      for (const f of type.fields) {
        const sub = jsonStructure(f.type);
        if (sub === undefined) return undefined;
        out[f.name] = sub;
      }
      return out;
    }
    case 'list': {
      const sub = jsonStructure(type.element);
      return sub === undefined ? undefined : [sub];
    }
    case 'map':
      return undefined;
    case 'decimal':
      return `DECIMAL(${type.precision},${type.scale})`;
    default:
      return type.name;
  }
}
