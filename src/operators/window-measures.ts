/**
 * Window measures: the DuckDB aggregates a window may compute, in a form whose partial
 * results merge exactly, whatever the batch cuts or the number of streams contributing:
 * counts and sums add, minima and maxima combine, an average is its sum over its count.
 * Values are aggregated like SQL does: nulls (and values of the wrong kind) are skipped.
 *
 * Sums are exact: floating-point addition rounds, so adding the same values in another order
 * (another batch cut, another stream) could give another last digit. A sum's partial is the
 * exact value of the numbers added (every double is an integer times a power of two: `m·2^e`,
 * written `"<m>p<e>"`), rounded to the nearest double only for display.
 */

/** The aggregate functions a measure may use. */
export type MeasureFunction = 'count' | 'sum' | 'min' | 'max' | 'avg';

/** A parsed measure: `fn(column)`, or `count(*)` (column undefined). */
export interface Measure {
  name: string;
  fn: MeasureFunction;
  column?: string;
}

/**
 * A measure's partial result: count a number; min/max a value (null: nothing yet); sum its
 * exact value (`"<m>p<e>"`; null: nothing yet); avg `[exact sum, count]`. A number where an
 * exact sum is expected (state written before sums were exact) is taken as that double.
 */
export type Partial = number | string | null | [number | string, number];

/** An exact binary number: `m·2^e`. */
interface Exact {
  m: bigint;
  e: number;
}

const F64 = new DataView(new ArrayBuffer(8));

/** The exact value of a finite double. */
function exactOfDouble(x: number): Exact {
  F64.setFloat64(0, x);
  const hi = F64.getUint32(0);
  const lo = F64.getUint32(4);
  const biased = (hi >>> 20) & 0x7ff;
  let m = (BigInt(hi & 0xfffff) << 32n) | BigInt(lo);
  if (biased !== 0) m |= 1n << 52n;
  const e = (biased === 0 ? 1 : biased) - 1075;
  return { m: hi >>> 31 ? -m : m, e };
}

/** The exact value of a partial (or of a number added to one). */
function exactOf(v: number | string | bigint): Exact {
  if (typeof v === 'bigint') return { m: v, e: 0 };
  if (typeof v === 'number') return exactOfDouble(v);
  const at = v.indexOf('p');
  return { m: BigInt(v.slice(0, at)), e: Number(v.slice(at + 1)) };
}

/** The canonical text of an exact value (no trailing zero bits in `m`; zero is `0p0`). */
function exactText({ m, e }: Exact): string {
  if (m === 0n) return '0p0';
  while ((m & 1n) === 0n) {
    m >>= 1n;
    e++;
  }
  return `${m}p${e}`;
}

/** A sum's partial as its canonical exact text (a double from an older run's state included). */
export function exactSumText(v: number | string): string {
  return typeof v === 'string' ? v : exactText(exactOfDouble(v));
}

/** The exact sum of two exact values, as text. */
function addExact(a: number | string | bigint, b: number | string | bigint): string {
  const x = exactOf(a);
  const y = exactOf(b);
  const e = Math.min(x.e, y.e);
  return exactText({ m: (x.m << BigInt(x.e - e)) + (y.m << BigInt(y.e - e)), e });
}

/** The double nearest an exact value (ties to even). */
export function exactToNumber(v: number | string): number {
  if (typeof v === 'number') return v;
  let { m, e } = exactOf(v);
  const negative = m < 0n;
  if (negative) m = -m;
  // Keep 64 significant bits and a sticky bit for what is cut: Number() then rounds once, right.
  const bits = m.toString(2).length;
  if (bits > 64) {
    const cut = bits - 64;
    const kept = m >> BigInt(cut);
    m = (m & ((1n << BigInt(cut)) - 1n)) === 0n ? kept : kept | 1n;
    e += cut;
  }
  let n = Number(m);
  // Scaling by a power of two is exact; in two steps so neither factor overflows.
  const half = Math.trunc(e / 2);
  n = n * 2 ** half * 2 ** (e - half);
  return negative ? -n : n;
}

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

/**
 * A number from a decoded value (lossless-json numbers and bigints included, integers beyond
 * 2^53 as their nearest double), or undefined.
 */
export function numeric(value: unknown): number | undefined {
  const v = exactNumeric(value);
  return typeof v === 'bigint' ? Number(v) : v;
}

/** A decoded number as a double, or as a bigint when it is an integer a double cannot hold. */
function exactNumeric(value: unknown): number | bigint | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value === 'bigint') return value;
  if (typeof value === 'object' && value !== null) {
    // A lossless-json number: a big integer is a bigint, anything else a number.
    let v: unknown;
    try {
      v = (value as { valueOf(): unknown }).valueOf();
    } catch {
      return undefined;
    }
    if (typeof v === 'bigint') return v;
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
    const n = exactNumeric(value);
    if (n === undefined) return partial;
    if (m.fn === 'avg') {
      const [s, c] = partial as [number | string, number];
      return [addExact(s, n), c + 1];
    }
    return partial === null ? exactText(exactOf(n)) : addExact(partial as number | string, n);
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
    const [s1, c1] = a as [number | string, number];
    const [s2, c2] = b as [number | string, number];
    return [addExact(s1, s2), c1 + c2];
  }
  if (a === null) return b;
  if (b === null) return a;
  if (m.fn === 'sum') return addExact(a as number | string, b as number | string);
  const x = a as number | string;
  const y = b as number | string;
  return (m.fn === 'min' ? less(y, x) : less(x, y)) ? y : x;
}

/** The measure's value as the output table shows it (avg of nothing is null). */
export function finish(m: Measure, partial: Partial): number | string | null {
  if (m.fn === 'avg') {
    const [s, c] = partial as [number | string, number];
    return c === 0 ? null : exactToNumber(s) / c;
  }
  if (m.fn === 'sum') return partial === null ? null : exactToNumber(partial as number | string);
  return partial as number | string | null;
}

/** Output columns of an avg measure that keep its sum and count, so later partials merge exactly. */
export function avgColumns(m: Measure): { sum: string; count: string } {
  return { sum: `__${m.name}_sum`, count: `__${m.name}_count` };
}

/** Output column keeping a sum's (or an avg's sum's) exact value, so later partials add exactly. */
export function exactColumn(m: Measure): string {
  return `__${m.name}_exact`;
}
