/**
 * sink-delta: checks each record against its table's rules before the batch is merged, then
 * writes the table's share of a batch with the batch's `txn` mark so a replay is a no-op.
 *
 * Validation exists so that one bad record goes to the dead-letter table with a reason
 * instead of failing the whole batch inside DuckDB.
 */
import { jsonTypeOf } from './decode-json.js';
import type { DeltaSinkConfig, TableRules, TableWriter } from './api.js';
import type { BatchInput, TxnMark, WriteResult } from '../lake/types.js';

const INTEGER = /^(TINYINT|SMALLINT|INTEGER|INT|INT1|INT2|INT4|INT8|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|UHUGEINT|LONG|SHORT)$/;
const FLOATING = /^(FLOAT|FLOAT4|FLOAT8|REAL|DOUBLE|DECIMAL|NUMERIC)(\(.*\))?$/;
const TEXT = /^(VARCHAR|TEXT|STRING|CHAR|BPCHAR|UUID)(\(.*\))?$/;
const TEMPORAL = /^(DATE|TIME|TIMESTAMP|TIMESTAMPTZ|DATETIME|TIMESTAMP WITH TIME ZONE|TIMESTAMP_MS|TIMESTAMP_NS|TIMESTAMP_S|INTERVAL)$/;

/**
 * Whether a JSON value can be stored in a column of DuckDB type `type` without the lake
 * having to change the column. Unknown type names accept anything (the lake decides).
 */
export function columnAccepts(type: string, value: unknown): boolean {
  if (value === null || value === undefined) return true;
  return validateCompiled({ v: value }, { mergeKeys: [], checks: [{ name: 'v', type, accepts: acceptsOf(type) }] }) === undefined;
}

/** What a column accepts, decided once per batch instead of per record. */
type Accepts = 'number' | 'string' | 'boolean' | 'array' | 'object' | 'any';

function acceptsOf(type: string): Accepts {
  const t = type.trim().toUpperCase();
  if (t === 'JSON') return 'any';
  if (t.endsWith('[]') || t.startsWith('LIST')) return 'array';
  if (t.startsWith('STRUCT') || t.startsWith('MAP')) return 'object';
  if (INTEGER.test(t) || FLOATING.test(t)) return 'number';
  if (t === 'BOOLEAN' || t === 'BOOL') return 'boolean';
  if (TEXT.test(t) || TEMPORAL.test(t)) return 'string';
  return 'any';
}

/** A table's rules compiled for the per-record check. */
export interface CompiledRules {
  mergeKeys: string[];
  sequenceBy?: string;
  checks: { name: string; type: string; accepts: Accepts }[];
}

/** Compiles rules once per batch (type names are classified here, not per record). */
export function compileRules(rules: TableRules): CompiledRules {
  const checks = Object.entries(rules.columns)
    .map(([name, type]) => ({ name, type, accepts: acceptsOf(type) }))
    .filter((c) => c.accepts !== 'any');
  return { mergeKeys: rules.mergeKeys, sequenceBy: rules.sequenceBy, checks };
}

/** Why `record` may not go into the table, or undefined when it may. */
export function validateCompiled(record: Record<string, unknown>, rules: CompiledRules): string | undefined {
  for (const key of rules.mergeKeys) {
    const value = record[key];
    if (value === undefined || value === null) return `merge key '${key}' is missing`;
    if (typeof value === 'object') return `merge key '${key}' must be a scalar (got ${jsonTypeOf(value)})`;
  }
  if (rules.sequenceBy !== undefined) {
    const value = record[rules.sequenceBy];
    if (value === undefined || value === null) return `sequenceBy field '${rules.sequenceBy}' is missing`;
    if (typeof value !== 'number' && typeof value !== 'string') {
      return `sequenceBy field '${rules.sequenceBy}' must be a number or a string (got ${jsonTypeOf(value)})`;
    }
  }
  for (const check of rules.checks) {
    const value = record[check.name];
    if (value === undefined || value === null) continue;
    let ok: boolean;
    switch (check.accepts) {
      case 'array':
        ok = Array.isArray(value);
        break;
      case 'object':
        ok = typeof value === 'object' && !Array.isArray(value);
        break;
      default:
        ok = typeof value === check.accepts;
    }
    if (!ok) return `field '${check.name}' is a JSON ${jsonTypeOf(value)} but column '${check.name}' has type ${check.type}`;
  }
  return undefined;
}

/** Why `record` may not go into the table, or undefined when it may (compiles the rules). */
export function validateForTable(record: Record<string, unknown>, rules: TableRules): string | undefined {
  return validateCompiled(record, compileRules(rules));
}

/** The table's known column types: current lake columns, then the spec's declared ones. */
export async function knownColumns(lake: TableWriter, sink: DeltaSinkConfig): Promise<Record<string, string>> {
  const columns: Record<string, string> = {};
  if (await lake.exists(sink.path)) {
    for (const c of await lake.columns(sink.path)) columns[c.name] = c.type;
  }
  for (const [name, type] of Object.entries(sink.columns ?? {})) if (!(name in columns)) columns[name] = type;
  return columns;
}

/** Merges (or appends) one batch into the sink's table, marked with the batch's txn. */
export function writeDeltaSink(lake: TableWriter, sink: DeltaSinkConfig, input: BatchInput, txn: TxnMark): Promise<WriteResult> {
  return lake.write(sink.path, input, {
    mode: sink.mode,
    mergeKeys: sink.mergeKeys.length > 0 ? sink.mergeKeys : undefined,
    sequenceBy: sink.sequenceBy,
    deleteWhen: sink.deleteWhen,
    partitionBy: sink.partitionBy,
    columns: sink.columns,
    txn,
    operationParameters: { appId: txn.appId, batchId: txn.version },
  });
}
