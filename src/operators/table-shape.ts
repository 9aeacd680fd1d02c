/**
 * Shaping a decoded record for its table, one record at a time, so that one record's
 * spelling or values never affect another's:
 *
 * - keys are matched case-insensitively (Delta's rule) to the table's spelling; a record
 *   spelling a key differently is rewritten to the table's spelling, and a record carrying
 *   two keys that differ only by case fails with both names;
 * - merge keys must be present scalars; an undeclared `sequenceBy` must be a number (one
 *   comparable type per table — a declared type converts or fails in the lake);
 * - each value's JSON kind is noted per column (the lake joins them into column types);
 *   an integer outside the 64-bit range fails the record;
 * - a brand-new column takes the spelling of the first accepted record that brings it (a
 *   record that fails registers nothing). The column limit (`maxColumns`) is checked where the
 *   batch is written, against the table as committed (lake/write.ts).
 */
import { duplicateNameReason, duplicateTopLevelName, isJsonNumber, kindOfJsonValue } from '../lake/json-values.js';
import { Kind } from '../lake/type-lattice.js';
import { reservedColumnReason, systemColumns } from '../lake/system-columns.js';
import { jsonTypeOf } from './decode-json.js';
import type { DecodedRecord, DeltaSinkConfig, RawValue, RecordStage, TableRules } from './api.js';

/** Default `tables.<t>.maxColumns`: columns a table may have (see lake/write.ts). */
export const DEFAULT_MAX_COLUMNS = 1000;


/** Whether a JSON number (plain, or lossless text) is finite as a double. */
function isFiniteNumber(value: unknown): boolean {
  return Number.isFinite(typeof value === 'number' ? value : Number((value as { value?: unknown }).value));
}

/**
 * A table sink's shaping rules, given the table's known columns and the names of the columns
 * the source attaches to every record (`source.metadataColumns`).
 */
export function tableRulesOf(sink: DeltaSinkConfig, columns: Record<string, string>, attached: string[] = []): TableRules {
  return {
    table: sink.table, mode: sink.mode, mergeKeys: sink.mergeKeys, sequenceBy: sink.sequenceBy, deleteWhen: sink.deleteWhen, partitionBy: sink.partitionBy, columns, declared: Object.keys(sink.columns ?? {}),
    // Computed and attached columns: a record's own field of such a name gives way.
    derived: [...(sink.derive ?? []).map((d) => d.column), ...attached],
  };
}

/** A record ready for its table, or why it is not. */
export type ShapeResult = { ok: true; record: Record<string, unknown>; renamed: boolean } | { ok: false; error: string };

/** Shapes the records of one table within one batch and collects their kinds. */
export class TableShaper {
  /** Exact spelling seen -> the table's spelling. */
  private readonly exact = new Map<string, string>();
  /** Lower-case name -> the table's spelling. */
  private readonly byLower = new Map<string, string>();
  /** Kinds per column (table spelling) of the accepted records (no prototype: a field may be named `__proto__`). */
  readonly kinds: Record<string, number> = Object.create(null) as Record<string, number>;
  private readonly mergeKeys: string[];
  private readonly sequenceBy?: string;
  private readonly sequenceDeclared: boolean;
  /** Lower-case names of the columns the lake sets on this table itself -> what they hold. */
  private readonly reserved: ReadonlyMap<string, string>;
  /** Lower-case names of the columns the table computes (`derive`): records' own fields of these names are left out. */
  private readonly derived: Set<string>;
  /** Reused per record: the accepted record's keys and kinds, noted once it is accepted. */
  private readonly scratchKeys: string[] = [];
  private readonly scratchKinds: number[] = [];

  /** Reused per record: its keys new to the table (lower-case -> spelling), registered once it is accepted. */
  private readonly fresh = new Map<string, string>();

  constructor(private readonly rules: TableRules) {
    // The table's columns, then the names the spec uses: a record's spelling never decides these.
    for (const name of [...Object.keys(rules.columns), ...rules.mergeKeys, ...(rules.sequenceBy ? [rules.sequenceBy] : []), ...(rules.partitionBy ?? [])]) this.register(name);
    const spell = (n: string) => this.byLower.get(n.toLowerCase()) ?? n;
    this.derived = new Set((rules.derived ?? []).map((d) => d.toLowerCase()));
    // Derived keys and sequences exist only once the batch loads; the lake checks them there.
    this.mergeKeys = rules.mergeKeys.filter((k) => !this.derived.has(k.toLowerCase())).map(spell);
    if (rules.sequenceBy !== undefined && !this.derived.has(rules.sequenceBy.toLowerCase())) this.sequenceBy = spell(rules.sequenceBy);
    this.reserved = systemColumns(rules);
    this.sequenceDeclared = rules.sequenceBy !== undefined && rules.declared?.some((d) => d.toLowerCase() === rules.sequenceBy!.toLowerCase()) === true;
  }

  /** Makes `key` a column name (its own spelling unless a case variant is one already). */
  private register(key: string): void {
    const lower = key.toLowerCase();
    let name = this.byLower.get(lower);
    if (name === undefined) this.byLower.set(lower, (name = key));
    this.exact.set(key, name);
  }

  /** The table's spelling of `key`; a key new to the table spells itself, or as the record's first spelling of it (`fresh`). */
  private canonical(key: string): string {
    const hit = this.exact.get(key);
    if (hit !== undefined) return hit;
    const lower = key.toLowerCase();
    const name = this.byLower.get(lower) ?? this.fresh.get(lower);
    if (name !== undefined) return name;
    this.fresh.set(lower, key);
    return key;
  }

  /** Why a field may not be named `key`, if it may not. */
  private reservedName(key: string): string | undefined {
    return reservedColumnReason(key.toLowerCase(), this.reserved);
  }

  /**
   * Shapes one record; on success its kinds are noted. `source` is the JSON text it was decoded
   * from: a record rewritten for the table is checked for a name it holds twice (its copy would
   * silently keep the last value; DuckDB refuses the bytes of one that is not rewritten).
   */
  shape(input: Record<string, unknown>, source?: RawValue): ShapeResult {
    let renamed = false;
    let record = input;
    if (this.derived.size > 0) {
      for (const key in input) {
        if (!this.derived.has(key.toLowerCase())) continue;
        // The computed value is the column: the record's own field of that name is left out.
        record = Object.fromEntries(Object.entries(input).filter(([k]) => !this.derived.has(k.toLowerCase())));
        renamed = true;
        break;
      }
    }
    this.fresh.clear();
    // Whether some key is not in `exact` yet (registered, once the record is accepted).
    let unseen = false;
    for (const key in record) {
      if (key === '') return { ok: false, error: 'a field has an empty name; a column needs one' };
      // Reserved names start with two underscores or are `rowid`: only such keys need a lower-case look.
      const c0 = key.charCodeAt(0);
      if ((c0 === 95 && key.charCodeAt(1) === 95) || (key.length === 5 && (c0 | 32) === 114)) {
        const reason = this.reservedName(key);
        if (reason !== undefined) return { ok: false, error: `field '${key}' is reserved: ${reason}` };
      }
      const hit = this.exact.get(key);
      if (hit === undefined) {
        unseen = true;
        if (this.canonical(key) !== key) renamed = true;
      } else if (hit !== key) renamed = true;
    }
    let out = record;
    if (renamed) {
      // No prototype: a field named `__proto__` stays a field.
      out = Object.create(null) as Record<string, unknown>;
      const from = Object.create(null) as Record<string, string>;
      for (const key in record) {
        const name = this.canonical(key);
        if (from[name] !== undefined) return { ok: false, error: `fields '${from[name]}' and '${key}' differ only by case; column names are case-insensitive` };
        from[name] = key;
        out[name] = record[key];
      }
    }
    for (const key of this.mergeKeys) {
      const value = out[key];
      if (value === undefined || value === null) return { ok: false, error: `merge key '${key}' is missing` };
      if (typeof value === 'object' && !isJsonNumber(value)) return { ok: false, error: `merge key '${key}' must be a scalar (got ${jsonTypeOf(value)})` };
    }
    if (this.sequenceBy !== undefined) {
      const value = out[this.sequenceBy];
      if (value === undefined || value === null) return { ok: false, error: `sequenceBy field '${this.sequenceBy}' is missing` };
      if (!this.sequenceDeclared && !isJsonNumber(value)) {
        return { ok: false, error: `sequenceBy field '${this.sequenceBy}' must be a number (got ${jsonTypeOf(value)}); declare its type under columns to sequence by text or time` };
      }
    }
    // Kinds are noted only once the whole record is known to be accepted (one classification per value).
    const keys = this.scratchKeys;
    const kinds = this.scratchKinds;
    keys.length = 0;
    kinds.length = 0;
    for (const key in out) {
      const value = out[key];
      const kind = kindOfJsonValue(value);
      if (kind === undefined) return { ok: false, error: `field '${key}' holds an integer outside the 64-bit range` };
      // A number JSON.parse turns into ±Infinity (1e400): beyond every number type a column can
      // have (DuckDB read NULL into a DOUBLE column, "inf" into a VARCHAR one).
      if (kind === Kind.REAL && !isFiniteNumber(value)) {
        return { ok: false, error: `field '${key}' holds a number beyond the range of DOUBLE (about ±1.8e308)` };
      }
      keys.push(key);
      kinds.push(kind);
    }
    if (renamed && source) {
      const twice = duplicateTopLevelName(source.data.toString('utf8', source.start, source.end));
      if (twice !== undefined) return { ok: false, error: duplicateNameReason(twice) };
    }
    if (unseen) for (const key in record) if (!this.exact.has(key)) this.register(key);
    for (let i = 0; i < keys.length; i++) this.kinds[keys[i]!] = (this.kinds[keys[i]!] ?? 0) | kinds[i]!;
    return { ok: true, record: out, renamed };
  }
}

/**
 * The table sink's record-level piece: shapes each record for its table (a failure leaves by
 * `error` to the dead-letter table); the accepted ones are collected for the batch's write.
 */
export function tableSinkStage(rules: TableRules): RecordStage {
  const shaper = new TableShaper(rules);
  return {
    kinds: shaper.kinds,
    process(input) {
      const record = input as DecodedRecord;
      const shaped = shaper.shape(record.fields, record.source);
      if (!shaped.ok) return { port: 'error', error: shaped.error };
      return { port: 'out', value: { fields: shaped.record, lossless: record.lossless, renamed: shaped.renamed, serialise: record.serialise === true } };
    },
  };
}
