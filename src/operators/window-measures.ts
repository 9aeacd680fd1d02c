/**
 * Window measures: the DuckDB aggregates a window may compute, in a form whose partial
 * results merge exactly, whatever the batch cuts or the number of streams contributing:
 * counts and sums add, minima and maxima combine, an average is its sum over its count.
 * Values are aggregated like SQL does: nulls (and values of the wrong kind) are skipped.
 */

/** The aggregate functions a measure may use. */
export type MeasureFunction = 'count' | 'sum' | 'min' | 'max' | 'avg';

/** A parsed measure: `fn(column)`, or `count(*)` (column undefined). */
export interface Measure {
  name: string;
  fn: MeasureFunction;
  column?: string;
}

/** A measure's partial result: count/sum/min/max a value (null: nothing yet); avg `[sum, count]`. */
export type Partial = number | string | null | [number, number];

const MEASURE = /^\s*(count|sum|min|max|avg)\s*\(\s*(\*|"(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*)\s*\)\s*$/i;

/**
 * Parses `expr` (e.g. `sum(amount)`), or returns why it cannot be merged across batches.
 * Only one function over one column: anything else (`count(DISTINCT x)`, `sum(a*b)`,
 * `median(x)`) has no exact merge of partial results.
 */
export function parseMeasure(name: string, expr: string): Measure | { error: string } {
  const m = MEASURE.exec(expr);
  if (!m) return { error: 'a measure is one of count(*), count(c), sum(c), min(c), max(c), avg(c) over one column c, so partial results merge exactly' };
  const fn = m[1]!.toLowerCase() as MeasureFunction;
  const arg = m[2]!;
  if (arg === '*') return fn === 'count' ? { name, fn } : { error: `${fn}(*) is not an aggregate; name a column` };
  const column = arg.startsWith('"') ? arg.slice(1, -1).replace(/""/g, '"') : arg;
  return { name, fn, column };
}

/** A number from a decoded value (lossless-json numbers and bigints included), or undefined. */
export function numeric(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value === 'bigint') return Number(value);
  if (typeof value === 'object' && value !== null) {
    const v = (value as { valueOf(): unknown }).valueOf();
    if (typeof v === 'number' && Number.isFinite(v)) return v;
  }
  return undefined;
}

/** A comparable scalar for min/max: numbers, else strings; undefined for null and objects. */
function comparable(value: unknown): number | string | undefined {
  const n = numeric(value);
  if (n !== undefined) return n;
  return typeof value === 'string' ? value : typeof value === 'boolean' ? String(value) : undefined;
}

/** min/max over mixed kinds: numbers before strings, then natural order. */
function less(a: number | string, b: number | string): boolean {
  if (typeof a !== typeof b) return typeof a === 'number';
  return a < b;
}

/** The empty partial of a measure. */
export function emptyPartial(m: Measure): Partial {
  return m.fn === 'count' ? 0 : m.fn === 'avg' ? [0, 0] : null;
}

/** Adds one record's value to a partial. */
export function accumulate(m: Measure, partial: Partial, value: unknown): Partial {
  if (m.fn === 'count') return m.column === undefined || (value !== null && value !== undefined) ? (partial as number) + 1 : partial;
  if (m.fn === 'sum' || m.fn === 'avg') {
    const n = numeric(value);
    if (n === undefined) return partial;
    if (m.fn === 'avg') {
      const [s, c] = partial as [number, number];
      return [s + n, c + 1];
    }
    return partial === null ? n : (partial as number) + n;
  }
  const v = comparable(value);
  if (v === undefined) return partial;
  if (partial === null) return v;
  const p = partial as number | string;
  return (m.fn === 'min' ? less(v, p) : less(p, v)) ? v : p;
}

/** Combines two partials of the same measure (order does not matter). */
export function combine(m: Measure, a: Partial, b: Partial): Partial {
  if (m.fn === 'count') return (a as number) + (b as number);
  if (m.fn === 'avg') {
    const [s1, c1] = a as [number, number];
    const [s2, c2] = b as [number, number];
    return [s1 + s2, c1 + c2];
  }
  if (a === null) return b;
  if (b === null) return a;
  if (m.fn === 'sum') return (a as number) + (b as number);
  const x = a as number | string;
  const y = b as number | string;
  return (m.fn === 'min' ? less(y, x) : less(x, y)) ? y : x;
}

/** The measure's value as the output table shows it (avg of nothing is null). */
export function finish(m: Measure, partial: Partial): number | string | null {
  if (m.fn === 'avg') {
    const [s, c] = partial as [number, number];
    return c === 0 ? null : s / c;
  }
  return partial as number | string | null;
}

/** Output columns of an avg measure that keep its sum and count, so later partials merge exactly. */
export function avgColumns(m: Measure): { sum: string; count: string } {
  return { sum: `__${m.name}_sum`, count: `__${m.name}_count` };
}
