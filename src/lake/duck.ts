/**
 * The lake's DuckDB: one in-memory instance, a fresh connection per operation (temp tables
 * are per connection, so concurrent writes to different tables never see each other's
 * scratch tables), and the conversion of DuckDB values into plain, test-friendly JS values.
 */
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import {
  DuckDBBlobValue, DuckDBDateValue, DuckDBDecimalValue, DuckDBInstance, DuckDBListValue, DuckDBArrayValue,
  DuckDBMapValue, DuckDBStructValue, DuckDBTimestampTZValue, DuckDBTimestampValue, DuckDBTimestampMillisecondsValue,
  DuckDBTimestampSecondsValue, DuckDBTimestampNanosecondsValue, DuckDBUUIDValue,
  type DuckDBConnection, type DuckDBValue,
} from '@duckdb/node-api';
import { LakeError } from '../errors.js';

/** Options for the lake's DuckDB instance. */
export interface DuckOptions {
  threads?: number;
  memoryLimit?: string;
}

/** A DuckDB instance with small helpers; every connection runs in UTC. */
export class Duck {
  /** Bytes of DuckDB's bulk-deallocation flush threshold, or undefined for DuckDB's default. */
  private flushBytes: number | undefined;

  private constructor(private readonly instance: DuckDBInstance) {}

  /** Opens an in-memory instance whose spill files go to the OS temp directory. */
  static async create(opts: DuckOptions = {}): Promise<Duck> {
    // A folder of our own: DuckDB's spill file names are not unique across processes.
    const config: Record<string, string> = { temp_directory: path.join(os.tmpdir(), `pipeline-duckdb-${process.pid}-${randomUUID().slice(0, 8)}`) };
    if (opts.threads) config.threads = String(opts.threads);
    if (opts.memoryLimit) config.memory_limit = opts.memoryLimit;
    const instance = await DuckDBInstance.create(':memory:', config);
    // Every connection runs in UTC: set once for the instance (a per-connection SET is a statement per operation).
    const first = await instance.connect();
    try {
      await first.run(`SET GLOBAL TimeZone='UTC'`);
    } finally {
      first.closeSync();
    }
    return new Duck(instance);
  }

  /**
   * From now on, after freeing more than `bytes` at once, DuckDB's allocator hands its unused
   * memory back to the OS (`allocator_bulk_deallocation_flush_threshold`; undefined: DuckDB's
   * default, 512 MiB). A statement only when it changes; run it between writes, not under one.
   */
  async setAllocatorFlushBytes(bytes: number | undefined): Promise<void> {
    if (bytes === this.flushBytes) return;
    const setting = 'allocator_bulk_deallocation_flush_threshold';
    await this.with((c) => c.run(bytes === undefined ? `RESET GLOBAL ${setting}` : `SET GLOBAL ${setting} = '${Math.round(bytes)}B'`));
    this.flushBytes = bytes;
  }

  /** Runs `fn` on a fresh connection, closed afterwards (dropping its temp tables). */
  async with<T>(fn: (c: Conn) => Promise<T>): Promise<T> {
    const connection = await this.instance.connect();
    try {
      return await fn(new Conn(connection));
    } finally {
      connection.closeSync();
    }
  }

  /** Closes the instance. */
  close(): void {
    this.instance.closeSync();
  }
}

/** One connection: run statements, read rows as DuckDB values or plain JS values. */
export class Conn {
  constructor(readonly raw: DuckDBConnection) {}

  /** Runs a statement and discards its result. */
  async run(sql: string): Promise<void> {
    try {
      await this.raw.run(sql);
    } catch (err) {
      throw wrap(err, sql);
    }
  }

  /** Rows as DuckDB values (exact types preserved). */
  async values(sql: string): Promise<Record<string, DuckDBValue>[]> {
    const reader = await this.read(sql);
    return rowObjects(reader.columnNames(), reader.getRows(), (v) => v);
  }

  /** Rows converted with {@link toPlain}. */
  async rows(sql: string): Promise<Record<string, unknown>[]> {
    const reader = await this.read(sql);
    return rowObjects(reader.columnNames(), reader.getRows(), toPlain);
  }

  /** Rows as DuckDB's JSON-friendly form (strings for big numbers, decimals and timestamps). */
  async json(sql: string): Promise<Record<string, unknown>[]> {
    const reader = await this.read(sql);
    return rowObjects(reader.columnNames(), reader.getRowsJson() as unknown[][], (v) => v);
  }

  private async read(sql: string) {
    try {
      return await this.raw.runAndReadAll(sql);
    } catch (err) {
      throw wrap(err, sql);
    }
  }
}

/** Rows as objects keyed by column name; a column named `__proto__` stays a key (an assignment would set the prototype). */
function rowObjects<V, T>(names: string[], rows: V[][], convert: (v: V) => T): Record<string, T>[] {
  const special = names.includes('__proto__');
  return rows.map((row) => {
    const out: Record<string, T> = {};
    for (let i = 0; i < names.length; i++) {
      const value = convert(row[i]!);
      if (special && names[i] === '__proto__') Object.defineProperty(out, '__proto__', { value, enumerable: true, writable: true, configurable: true });
      else out[names[i]!] = value;
    }
    return out;
  });
}

function wrap(err: unknown, sql: string): Error {
  if (!(err instanceof Error)) return new LakeError('PIPE_LAKE_SQL', String(err));
  (err as Error & { sql?: string }).sql = sql;
  return err;
}

/**
 * DuckDB value → plain JS value, the lake's documented result form: integers as `number`
 * when within ±2^53 (otherwise `bigint`), DECIMAL as its exact text (`"234.00000"`),
 * TIMESTAMP/TIMESTAMPTZ as an ISO-8601 UTC string (`2020-01-01T08:09:10.001Z`; six
 * fractional digits only when the value has sub-millisecond precision), DATE as
 * `YYYY-MM-DD`, BLOB as a Buffer, STRUCT as an object, LIST as an array, MAP as an object.
 */
export function toPlain(v: DuckDBValue): unknown {
  if (v === null || v === undefined) return null;
  switch (typeof v) {
    case 'bigint':
      return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
    case 'number': case 'string': case 'boolean':
      return v;
  }
  if (v instanceof DuckDBDecimalValue) return v.toString();
  if (v instanceof DuckDBTimestampTZValue || v instanceof DuckDBTimestampValue) return v.isFinite ? microsToIso(v.micros) : v.toString();
  if (v instanceof DuckDBTimestampMillisecondsValue) return microsToIso(v.millis * 1000n);
  if (v instanceof DuckDBTimestampSecondsValue) return microsToIso(v.seconds * 1_000_000n);
  if (v instanceof DuckDBTimestampNanosecondsValue) return microsToIso(v.nanos / 1000n);
  if (v instanceof DuckDBDateValue) return v.toString();
  if (v instanceof DuckDBBlobValue) return Buffer.from(v.bytes);
  if (v instanceof DuckDBUUIDValue) return v.toString();
  if (v instanceof DuckDBListValue || v instanceof DuckDBArrayValue) return v.items.map(toPlain);
  if (v instanceof DuckDBStructValue) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v.entries)) out[k] = toPlain(x);
    return out;
  }
  if (v instanceof DuckDBMapValue) {
    const out: Record<string, unknown> = {};
    for (const e of v.entries) out[String(toPlain(e.key))] = toPlain(e.value);
    return out;
  }
  return String(v);
}

/** Microseconds since the epoch → ISO-8601 UTC (milliseconds, or microseconds when needed). */
export function microsToIso(micros: bigint): string {
  const ms = micros / 1000n - (micros % 1000n < 0n ? 1n : 0n);
  const sub = Number(micros - ms * 1000n);
  const date = new Date(Number(ms));
  // Outside JavaScript's date range (±275,760 years): DuckDB's own text form.
  if (Number.isNaN(date.getTime())) return `${micros}us`;
  const iso = date.toISOString();
  return sub === 0 ? iso : `${iso.slice(0, -1)}${String(sub).padStart(3, '0')}Z`;
}
