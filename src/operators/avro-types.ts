/**
 * How Avro values become table values (README "Avro and Protobuf"): longs exact (bigints
 * beyond 2^53), bytes/fixed as base64 text, and logical types as exact text the matching
 * column type casts without loss: decimal as `-12.30`, timestamp-millis/-micros as ISO-8601
 * UTC (`…T12:00:00.123Z` / `….123456Z`), local timestamps without the zone, date as
 * `YYYY-MM-DD`, time as `HH:MM:SS.fff[fff]`, uuid as its text. {@link logicalColumnTypes}
 * gives those column types (DECIMAL(p,s), TIMESTAMPTZ, TIMESTAMP, DATE, TIME, UUID), which the
 * planner declares when the table shape is fixed by a schema file.
 */
import avro from 'avsc';

const { LogicalType } = avro.types;

/**
 * Longs exact: a number within ±2^48 (the common case, read without allocating), else a
 * bigint. avsc's default long refuses values beyond 2^53. With `noUnpack`, avsc hands over
 * the raw zigzag varint bytes.
 */
const longType = avro.types.LongType.__with(
  {
    fromBuffer: (buf: Buffer): number | bigint => {
      if (buf.length <= 7) {
        let raw = 0;
        for (let i = buf.length - 1; i >= 0; i--) raw = raw * 128 + (buf[i]! & 0x7f);
        return raw % 2 === 0 ? raw / 2 : -(raw + 1) / 2;
      }
      let raw = 0n;
      for (let i = buf.length - 1; i >= 0; i--) raw = (raw << 7n) | BigInt(buf[i]! & 0x7f);
      return (raw >> 1n) ^ -(raw & 1n);
    },
    toBuffer: (n: number | bigint): Buffer => {
      const v = BigInt(n);
      let z = v >= 0n ? v << 1n : ((-v) << 1n) - 1n;
      const bytes: number[] = [];
      while (z >= 0x80n) {
        bytes.push(Number(z & 0x7fn) | 0x80);
        z >>= 7n;
      }
      bytes.push(Number(z));
      return Buffer.from(bytes);
    },
    fromJSON: (v: unknown) => BigInt(v as number),
    toJSON: (n: number | bigint) => Number(n),
    isValid: (n: unknown) => typeof n === 'bigint' || (typeof n === 'number' && Number.isInteger(n)),
    compare: (a: number | bigint, b: number | bigint) => (a === b ? 0 : a < b ? -1 : 1),
  },
  true,
);

/** Base of the read-only logical types: values are decoded, never encoded by the runner. */
abstract class ReadOnlyLogical extends LogicalType {
  protected abstract convert(value: unknown): unknown;
  override _fromValue(value: unknown): unknown {
    // A truncated datum hands over what the bytes ran out on; the decode then reports the truncation.
    try {
      return this.convert(value);
    } catch {
      return null;
    }
  }
  override _toValue(value: unknown): unknown {
    return value;
  }
  /** A writer value of the same logical type arrives converted; a plain one is converted here. */
  override _resolve(type: avro.Type): ((v: unknown) => unknown) | undefined {
    if (type instanceof this.constructor) return (v) => v;
    if (type.typeName === this.underlyingType.typeName) return (v) => this.convert(v);
    return undefined;
  }
}

const two = (n: number) => String(n).padStart(2, '0');

/** Days since 1970-01-01 as `YYYY-MM-DD`. */
function isoDate(days: number): string {
  return new Date(days * 86_400_000).toISOString().slice(0, 10);
}

/** Microseconds since the epoch as ISO-8601 with 6 fractional digits (`Z` when zoned). */
function isoMicros(micros: bigint, zoned: boolean): string {
  const secs = micros / 1_000_000n - (micros % 1_000_000n < 0n ? 1n : 0n);
  const frac = micros - secs * 1_000_000n;
  const base = new Date(Number(secs) * 1000).toISOString().slice(0, 19);
  return `${base}.${String(frac).padStart(6, '0')}${zoned ? 'Z' : ''}`;
}

class TimestampMillis extends ReadOnlyLogical {
  protected convert(v: unknown): string {
    const iso = new Date(Number(v)).toISOString();
    return this.zoned ? iso : iso.slice(0, -1);
  }
  protected get zoned(): boolean {
    return true;
  }
}
class LocalTimestampMillis extends TimestampMillis {
  protected override get zoned(): boolean {
    return false;
  }
}
class TimestampMicros extends ReadOnlyLogical {
  protected convert(v: unknown): string {
    return isoMicros(BigInt(v as bigint), true);
  }
}
class LocalTimestampMicros extends ReadOnlyLogical {
  protected convert(v: unknown): string {
    return isoMicros(BigInt(v as bigint), false);
  }
}
class DateType extends ReadOnlyLogical {
  protected convert(v: unknown): string {
    return isoDate(Number(v));
  }
}
class TimeMillis extends ReadOnlyLogical {
  protected convert(v: unknown): string {
    const ms = Number(v);
    return `${two(Math.floor(ms / 3_600_000))}:${two(Math.floor(ms / 60_000) % 60)}:${two(Math.floor(ms / 1000) % 60)}.${String(ms % 1000).padStart(3, '0')}`;
  }
}
class TimeMicros extends ReadOnlyLogical {
  protected convert(v: unknown): string {
    const us = Number(v);
    const secs = Math.floor(us / 1_000_000);
    return `${two(Math.floor(secs / 3600))}:${two(Math.floor(secs / 60) % 60)}:${two(secs % 60)}.${String(us % 1_000_000).padStart(6, '0')}`;
  }
}
class Uuid extends ReadOnlyLogical {
  protected convert(v: unknown): string {
    return String(v);
  }
}

/** decimal(precision, scale) over bytes or fixed: big-endian two's complement unscaled value. */
class Decimal extends ReadOnlyLogical {
  private readonly scale: number;
  constructor(schema: avro.Schema, opts?: unknown) {
    super(schema, opts as never);
    this.scale = (schema as { scale?: number }).scale ?? 0;
  }
  protected convert(v: unknown): string {
    const buf = v as Buffer;
    let n: number | bigint;
    if (buf.length === 0) n = 0;
    else if (buf.length <= 6) n = buf.readIntBE(0, buf.length); // exact as a double, no bigint
    else {
      n = 0n;
      for (const byte of buf) n = (n << 8n) | BigInt(byte);
      if ((buf[0]! & 0x80) !== 0) n -= 1n << BigInt(buf.length * 8);
    }
    const negative = n < 0;
    const digits = (negative ? -n : n).toString().padStart(this.scale + 1, '0');
    const text = this.scale === 0 ? digits : `${digits.slice(0, -this.scale)}.${digits.slice(-this.scale)}`;
    return negative ? `-${text}` : text;
  }
  override _resolve(type: avro.Type): ((v: unknown) => unknown) | undefined {
    if (type instanceof Decimal) return type.scale === this.scale ? (v) => v : undefined;
    return super._resolve(type);
  }
}

const logicalTypes = {
  decimal: Decimal,
  'timestamp-millis': TimestampMillis,
  'timestamp-micros': TimestampMicros,
  'local-timestamp-millis': LocalTimestampMillis,
  'local-timestamp-micros': LocalTimestampMicros,
  date: DateType,
  'time-millis': TimeMillis,
  'time-micros': TimeMicros,
  uuid: Uuid,
} as unknown as Record<string, new (schema: unknown, opts?: unknown) => avro.types.LogicalType>;

/**
 * Parses an Avro schema (JSON text or an object) into a type that decodes with the
 * mapping above. Throws with avsc's message when the schema is invalid.
 */
export function parseAvroSchema(schema: string | object): avro.Type {
  const parsed = typeof schema === 'string' ? (JSON.parse(schema) as object) : schema;
  // Every long becomes the bigint long, including the one under a logical type: avsc asks the
  // hook twice for a logical type's schema (the logical type, then its underlying type).
  const outer = new WeakSet<object>();
  const typeHook = (s: unknown) => {
    if (typeof s !== 'object' || s === null || (s as { type?: unknown }).type !== 'long') return undefined;
    const logical = (s as { logicalType?: unknown }).logicalType;
    if (typeof logical === 'string' && logical in logicalTypes && !outer.has(s)) {
      outer.add(s);
      return undefined;
    }
    return longType;
  };
  return avro.Type.forSchema(parsed as avro.Schema, { logicalTypes, typeHook } as never);
}

/** Why a top-level schema cannot describe a table row, or undefined when it can. */
export function notARecord(type: avro.Type): string | undefined {
  return type.typeName === 'record' ? undefined : `the schema's top level is ${type.typeName}, not a record`;
}

/** Column types of Avro logical types (the table column a declared type would give). */
const LOGICAL_COLUMNS: Record<string, (schema: { precision?: number; scale?: number }) => string> = {
  decimal: (t) => `DECIMAL(${t.precision ?? 18},${t.scale ?? 0})`,
  'timestamp-millis': () => 'TIMESTAMPTZ',
  'timestamp-micros': () => 'TIMESTAMPTZ',
  'local-timestamp-millis': () => 'TIMESTAMP',
  'local-timestamp-micros': () => 'TIMESTAMP',
  date: () => 'DATE',
  'time-millis': () => 'TIME',
  'time-micros': () => 'TIME',
  uuid: () => 'UUID',
};

/**
 * The column types a record schema's top-level logical-typed fields map to (nullable unions
 * included), e.g. `{ amount: 'DECIMAL(12,2)', placed_at: 'TIMESTAMPTZ' }`. DuckDB's DECIMAL
 * holds at most 38 digits: wider decimals stay text.
 */
export function logicalColumnTypes(schema: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  const fields = (schema as { fields?: unknown })?.fields;
  if (!Array.isArray(fields)) return out;
  for (const f of fields as { name?: unknown; type?: unknown }[]) {
    if (typeof f.name !== 'string') continue;
    const branches = Array.isArray(f.type) ? f.type.filter((b) => b !== 'null') : [f.type];
    const t = branches.length === 1 ? (branches[0] as { logicalType?: unknown; precision?: number; scale?: number }) : undefined;
    const map = typeof t?.logicalType === 'string' ? LOGICAL_COLUMNS[t.logicalType] : undefined;
    if (!map || (t!.logicalType === 'decimal' && (t!.precision ?? 0) > 38)) continue;
    out[f.name] = map(t!);
  }
  return out;
}
