/**
 * Types on both sides of the lake: DuckDB type names (what SQL sees) and Delta schema
 * types (what `metaData.schemaString` stores), the mapping between them, and the rule
 * that decides whether a batch's column type may be written into a table column.
 */
import type { ColumnDef, DeltaField } from './types.js';

/** A parsed DuckDB type. Fixed-size ARRAYs are treated as lists. */
export type DuckType =
  | { kind: 'primitive'; name: string }
  | { kind: 'decimal'; precision: number; scale: number }
  | { kind: 'struct'; fields: { name: string; type: DuckType }[] }
  | { kind: 'list'; element: DuckType }
  | { kind: 'map'; key: DuckType; value: DuckType };

const ALIASES: Record<string, string> = {
  INT: 'INTEGER', INT4: 'INTEGER', INT8: 'BIGINT', LONG: 'BIGINT', INT2: 'SMALLINT', SHORT: 'SMALLINT',
  INT1: 'TINYINT', BOOL: 'BOOLEAN', LOGICAL: 'BOOLEAN', FLOAT4: 'FLOAT', REAL: 'FLOAT', FLOAT8: 'DOUBLE',
  STRING: 'VARCHAR', TEXT: 'VARCHAR', CHAR: 'VARCHAR', BPCHAR: 'VARCHAR', BYTEA: 'BLOB', BINARY: 'BLOB',
  VARBINARY: 'BLOB', 'TIMESTAMP WITH TIME ZONE': 'TIMESTAMPTZ', DATETIME: 'TIMESTAMP', NUMERIC: 'DECIMAL',
};

/** Parses a DuckDB type name such as `STRUCT("a b" BIGINT, c VARCHAR[])` or `DECIMAL(10,2)`. */
export function parseDuckType(text: string): DuckType {
  const p = new TypeParser(text);
  const t = p.type();
  p.end();
  return t;
}

class TypeParser {
  private i = 0;
  constructor(private readonly s: string) {}

  end(): void {
    this.ws();
    if (this.i !== this.s.length) throw new Error(`unexpected "${this.s.slice(this.i)}" in type ${this.s}`);
  }

  type(): DuckType {
    this.ws();
    const word = this.word();
    let t: DuckType;
    const upper = word.toUpperCase();
    if (upper === 'STRUCT' || upper === 'ROW') {
      this.expect('(');
      const fields: { name: string; type: DuckType }[] = [];
      while (true) {
        this.ws();
        const name = this.s[this.i] === '"' ? this.quoted() : this.word();
        fields.push({ name, type: this.type() });
        this.ws();
        if (this.s[this.i] === ',') { this.i++; continue; }
        this.expect(')');
        break;
      }
      t = { kind: 'struct', fields };
    } else if (upper === 'MAP') {
      this.expect('(');
      const key = this.type();
      this.expect(',');
      const value = this.type();
      this.expect(')');
      t = { kind: 'map', key, value };
    } else if (upper === 'DECIMAL' || upper === 'NUMERIC') {
      this.ws();
      let precision = 18;
      let scale = 3;
      if (this.s[this.i] === '(') {
        this.i++;
        precision = Number(this.word());
        this.ws();
        scale = 0;
        if (this.s[this.i] === ',') { this.i++; scale = Number(this.word()); }
        this.expect(')');
      }
      t = { kind: 'decimal', precision, scale };
    } else {
      let name = upper;
      // Multi-word names: TIMESTAMP WITH TIME ZONE, DOUBLE PRECISION.
      const rest = this.s.slice(this.i).toUpperCase();
      for (const suffix of [' WITH TIME ZONE', ' PRECISION']) {
        if (rest.startsWith(suffix)) { name += suffix; this.i += suffix.length; }
      }
      if (name === 'DOUBLE PRECISION') name = 'DOUBLE';
      this.ws();
      if (this.s[this.i] === '(' && (name === 'VARCHAR' || name === 'CHAR')) {
        while (this.s[this.i] !== ')') this.i++;
        this.i++;
      }
      t = { kind: 'primitive', name: ALIASES[name] ?? name };
    }
    // Postfix list markers: `T[]` or fixed-size `T[3]`.
    while (true) {
      this.ws();
      if (this.s[this.i] !== '[') break;
      while (this.s[this.i] !== ']') this.i++;
      this.i++;
      t = { kind: 'list', element: t };
    }
    return t;
  }

  private ws(): void {
    while (this.i < this.s.length && /\s/.test(this.s[this.i]!)) this.i++;
  }
  private word(): string {
    this.ws();
    const m = /^[A-Za-z0-9_]+/.exec(this.s.slice(this.i));
    if (!m) throw new Error(`expected a name at "${this.s.slice(this.i)}" in type ${this.s}`);
    this.i += m[0].length;
    return m[0];
  }
  private quoted(): string {
    let out = '';
    this.i++;
    while (this.i < this.s.length) {
      const c = this.s[this.i++]!;
      if (c === '"') {
        if (this.s[this.i] === '"') { out += '"'; this.i++; continue; }
        return out;
      }
      out += c;
    }
    throw new Error(`unterminated name in type ${this.s}`);
  }
  private expect(c: string): void {
    this.ws();
    if (this.s[this.i] !== c) throw new Error(`expected "${c}" at "${this.s.slice(this.i)}" in type ${this.s}`);
    this.i++;
  }
}

/** Quotes an SQL identifier for DuckDB. */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** Quotes an SQL string literal for DuckDB. */
export function quoteLiteral(value: string): string {
  const text = `'${value.replace(/'/g, "''")}'`;
  // DuckDB's parser ends a literal at a NUL character: spell each one as chr(0).
  return value.includes('\0') ? `(${text.split('\0').join("' || chr(0) || '")})` : text;
}

/** Renders a parsed type back to DuckDB syntax. */
export function renderDuckType(t: DuckType): string {
  switch (t.kind) {
    case 'primitive': return t.name;
    case 'decimal': return `DECIMAL(${t.precision},${t.scale})`;
    case 'list': return `${renderDuckType(t.element)}[]`;
    case 'map': return `MAP(${renderDuckType(t.key)}, ${renderDuckType(t.value)})`;
    case 'struct': return `STRUCT(${t.fields.map((f) => `${quoteIdent(f.name)} ${renderDuckType(f.type)}`).join(', ')})`;
  }
}

/**
 * Maps a DuckDB type onto one a reader-1/writer-2 Delta table can store: plain TIMESTAMP
 * becomes TIMESTAMPTZ (timestamp_ntz needs newer protocol versions), unsigned and huge
 * integers widen, and types Delta lacks become VARCHAR.
 */
export function normalizeDuckType(t: DuckType): DuckType {
  switch (t.kind) {
    case 'decimal': return t.precision > 38 ? { kind: 'decimal', precision: 38, scale: Math.min(t.scale, 38) } : t;
    case 'list': return { kind: 'list', element: normalizeDuckType(t.element) };
    case 'map': return { kind: 'map', key: normalizeDuckType(t.key), value: normalizeDuckType(t.value) };
    case 'struct':
      if (t.fields.length === 0) return { kind: 'primitive', name: 'VARCHAR' };
      return { kind: 'struct', fields: t.fields.map((f) => ({ name: f.name, type: normalizeDuckType(f.type) })) };
    case 'primitive':
      switch (t.name) {
        case 'TIMESTAMP': case 'TIMESTAMP_S': case 'TIMESTAMP_MS': case 'TIMESTAMP_NS': case 'TIMESTAMPTZ':
          return { kind: 'primitive', name: 'TIMESTAMPTZ' };
        case 'HUGEINT': case 'UHUGEINT': return { kind: 'decimal', precision: 38, scale: 0 };
        case 'UBIGINT': return { kind: 'decimal', precision: 20, scale: 0 };
        case 'UINTEGER': return { kind: 'primitive', name: 'BIGINT' };
        case 'USMALLINT': return { kind: 'primitive', name: 'INTEGER' };
        case 'UTINYINT': return { kind: 'primitive', name: 'SMALLINT' };
        case 'BOOLEAN': case 'TINYINT': case 'SMALLINT': case 'INTEGER': case 'BIGINT': case 'FLOAT':
        case 'DOUBLE': case 'VARCHAR': case 'BLOB': case 'DATE':
          return t;
        default: return { kind: 'primitive', name: 'VARCHAR' };
      }
  }
}

const TO_DELTA: Record<string, string> = {
  BOOLEAN: 'boolean', TINYINT: 'byte', SMALLINT: 'short', INTEGER: 'integer', BIGINT: 'long', FLOAT: 'float',
  DOUBLE: 'double', VARCHAR: 'string', BLOB: 'binary', DATE: 'date', TIMESTAMPTZ: 'timestamp', TIMESTAMP: 'timestamp_ntz',
};
const FROM_DELTA: Record<string, string> = Object.fromEntries(Object.entries(TO_DELTA).map(([k, v]) => [v, k]));

/** DuckDB type → Delta schema type (a primitive name or a complex type object). */
export function duckToDelta(t: DuckType): unknown {
  const n = normalizeDuckType(t);
  switch (n.kind) {
    case 'primitive': return TO_DELTA[n.name] ?? 'string';
    case 'decimal': return `decimal(${n.precision},${n.scale})`;
    case 'list': return { type: 'array', elementType: duckToDelta(n.element), containsNull: true };
    case 'map': return { type: 'map', keyType: duckToDelta(n.key), valueType: duckToDelta(n.value), valueContainsNull: true };
    case 'struct':
      return { type: 'struct', fields: n.fields.map((f) => ({ name: f.name, type: duckToDelta(f.type), nullable: true, metadata: {} })) };
  }
}

/** Delta schema type → DuckDB type. */
export function deltaToDuck(t: unknown): DuckType {
  if (typeof t === 'string') {
    const dec = /^decimal\((\d+),\s*(\d+)\)$/.exec(t);
    if (dec) return { kind: 'decimal', precision: Number(dec[1]), scale: Number(dec[2]) };
    if (t === 'decimal') return { kind: 'decimal', precision: 10, scale: 0 };
    const name = FROM_DELTA[t];
    if (!name) throw new Error(`unsupported Delta type ${t}`);
    return { kind: 'primitive', name };
  }
  const o = t as { type: string; [k: string]: unknown };
  if (o.type === 'array') return { kind: 'list', element: deltaToDuck(o.elementType) };
  if (o.type === 'map') return { kind: 'map', key: deltaToDuck(o.keyType), value: deltaToDuck(o.valueType) };
  if (o.type === 'struct') {
    const fields = o.fields as { name: string; type: unknown }[];
    return { kind: 'struct', fields: fields.map((f) => ({ name: f.name, type: deltaToDuck(f.type) })) };
  }
  throw new Error(`unsupported Delta type ${JSON.stringify(t)}`);
}

/** The table schema as DuckDB columns. */
export function fieldsToColumns(fields: DeltaField[]): ColumnDef[] {
  return fields.map((f) => ({ name: f.name, type: renderDuckType(deltaToDuck(f.type)), nullable: f.nullable }));
}

/** DuckDB columns → Delta schema fields (types normalized for the protocol). */
export function columnsToFields(columns: ColumnDef[]): DeltaField[] {
  return columns.map((c) => ({ name: c.name, type: duckToDelta(parseDuckType(c.type)), nullable: c.nullable, metadata: {} }));
}

/** The `schemaString` of a metaData action. */
export function schemaString(fields: DeltaField[]): string {
  return JSON.stringify({ type: 'struct', fields });
}

const INT_RANK: Record<string, number> = { TINYINT: 1, SMALLINT: 2, INTEGER: 3, BIGINT: 4 };
/** Types the JSON reader derives from JSON strings: their text may parse as any temporal/text type. */
const FROM_TEXT = new Set(['VARCHAR', 'DATE', 'TIMESTAMP', 'TIMESTAMPTZ', 'TIME', 'UUID']);

/**
 * Can a batch column of type `from` be written into a table column of type `to`? Allowed:
 * same type, integer → wider integer / float / double / decimal, float → double, JSON's
 * BIGINT/DOUBLE into narrower integer/float columns (JSON has no widths), text the
 * JSON reader recognised (strings, dates, timestamps) into text-like and temporal columns,
 * untyped JSON (all-null or mixed) into anything (the load itself then decides), structs
 * whose common fields are compatible. The table type never changes.
 */
export function canWriteInto(from: DuckType, to: DuckType): boolean {
  if (from.kind === 'primitive' && (from.name === 'JSON' || from.name === 'NULL' || from.name === '"NULL"')) return true;
  if (to.kind === 'primitive' && to.name === 'VARCHAR') return from.kind === 'primitive' && FROM_TEXT.has(from.name);
  if (to.kind === 'decimal') {
    return from.kind === 'decimal' || (from.kind === 'primitive' && (from.name in INT_RANK || from.name === 'DOUBLE' || from.name === 'FLOAT' || from.name === 'VARCHAR'));
  }
  if (to.kind === 'list') return from.kind === 'list' && canWriteInto(from.element, to.element);
  if (to.kind === 'map') {
    if (from.kind === 'map') return canWriteInto(from.value, to.value);
    return from.kind === 'struct' && from.fields.every((f) => canWriteInto(f.type, to.value));
  }
  if (to.kind === 'struct') {
    if (from.kind !== 'struct') return false;
    return from.fields.every((f) => {
      const target = to.fields.find((g) => g.name.toLowerCase() === f.name.toLowerCase());
      return !target || canWriteInto(f.type, target.type);
    });
  }
  if (from.kind !== 'primitive') return false;
  const a = from.name;
  const b = to.name;
  if (a === b) return true;
  // JSON numbers are detected as BIGINT whatever their size: they may go into any integer
  // column (an out-of-range value then fails the load, naming the table).
  if (a in INT_RANK && b in INT_RANK) return INT_RANK[a]! <= INT_RANK[b]! || a === 'BIGINT';
  if (a in INT_RANK && (b === 'DOUBLE' || b === 'FLOAT')) return true;
  if ((a === 'FLOAT' && b === 'DOUBLE') || (a === 'DOUBLE' && b === 'FLOAT')) return true;
  if (b === 'TIMESTAMPTZ' || b === 'TIMESTAMP') return FROM_TEXT.has(a);
  if (b === 'DATE' || b === 'BLOB') return a === 'VARCHAR' || (b === 'DATE' && a === 'DATE');
  return false;
}

/**
 * An SQL expression rendering a partition column as its Delta partition-value string:
 * timestamps as ISO-8601 UTC with microseconds, everything else DuckDB's text cast
 * (which keeps decimal scale and prints booleans as true/false).
 */
export function partitionValueSql(column: string, type: DuckType): string {
  const c = quoteIdent(column);
  if (type.kind === 'primitive' && type.name === 'TIMESTAMPTZ') return `strftime(timezone('UTC', ${c}), '%Y-%m-%dT%H:%M:%S.%fZ')`;
  return `CAST(${c} AS VARCHAR)`;
}

/** SQL turning a partition-value string literal (or NULL) back into its typed value. */
export function partitionValueToSql(value: string | null, type: DuckType): string {
  const t = renderDuckType(type);
  if (value === null) return `CAST(NULL AS ${t})`;
  if (type.kind === 'primitive' && type.name === 'VARCHAR') return quoteLiteral(value);
  if (type.kind === 'primitive' && type.name === 'BLOB') return `encode(${quoteLiteral(value)})`;
  // Partition timestamps without a zone are UTC: connections run with TimeZone=UTC.
  return `CAST(${quoteLiteral(value)} AS ${t})`;
}
