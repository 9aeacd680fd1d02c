/**
 * sink-dead-letter: every record that cannot reach its gold table lands here, raw, with its
 * Kafka coordinates and the reason, so nothing is ever silently lost and a fixed pipeline can
 * replay it. Values are stored as text when they are valid UTF-8, otherwise as base64
 * (`value_encoding` says which); keys likewise (`key_encoding`). Kafka headers are kept as one
 * JSON object (`headers`), so a replayed record carries them again.
 *
 * Spec field it owns: `deadLetter` (the table, and the limits past which a run stops).
 */
import { isUtf8 } from 'node:buffer';
import type { FailureStage, OperatorDefinition, TableWriter } from './api.js';
import type { TxnMark, WriteResult } from '../lake/types.js';
import type { DeadLetterSpec } from '../spec/index.js';
import { field, objectOf, ref } from './schema-builder.js';

/** Column types of the dead-letter table (declared so an all-null batch still types well). */
export const DEAD_LETTER_COLUMNS: Record<string, string> = {
  topic: 'VARCHAR',
  partition: 'INTEGER',
  offset: 'BIGINT',
  timestamp: 'TIMESTAMPTZ',
  key: 'VARCHAR',
  key_encoding: 'VARCHAR',
  value: 'VARCHAR',
  value_encoding: 'VARCHAR',
  headers: 'VARCHAR',
  stage: 'VARCHAR',
  error: 'VARCHAR',
  pipeline: 'VARCHAR',
  stream: 'INTEGER',
  batch_id: 'BIGINT',
};

/** A consumed record's coordinates and raw bytes. */
export interface RawRecord {
  partition: number;
  offset: number;
  /** Milliseconds since the epoch (Kafka record timestamp). */
  timestamp: number;
  key: Buffer | null;
  value: Buffer | null;
  /** Kafka headers as the consumer gives them (a list where a name repeats). */
  headers?: RecordHeaders;
}

/** Kafka headers of a record: name -> value, or a list of values when the name repeats. */
export type RecordHeaders = Record<string, Buffer | string | (Buffer | string | null | undefined)[] | null | undefined>;

/** One header value in the `headers` column: UTF-8 text, `{"base64": …}` for other bytes, or null. */
type StoredHeader = string | { base64: string } | null;

function storeHeader(v: Buffer | string | null | undefined): StoredHeader {
  if (v === null || v === undefined) return null;
  if (typeof v === 'string') return v;
  return isUtf8(v) ? v.toString('utf8') : { base64: v.toString('base64') };
}

/**
 * The `headers` column of a record: a JSON object name -> value (a list where the name
 * repeats), byte-exact; null when the record has no headers.
 */
export function encodeHeaders(headers: RecordHeaders | undefined): string | null {
  const entries = Object.entries(headers ?? {});
  if (entries.length === 0) return null;
  return JSON.stringify(Object.fromEntries(entries.map(([name, v]) => [name, Array.isArray(v) ? v.map(storeHeader) : storeHeader(v)])));
}

/** The headers a `headers` column holds, as the consumer would have given them (empty for null). */
export function decodeHeaders(text: string | null | undefined): Record<string, Buffer | (Buffer | null)[] | null> {
  if (text === null || text === undefined || text === '') return {};
  const load = (v: StoredHeader): Buffer | null => (v === null ? null : typeof v === 'string' ? Buffer.from(v, 'utf8') : Buffer.from(v.base64, 'base64'));
  const stored = JSON.parse(text) as Record<string, StoredHeader | StoredHeader[]>;
  return Object.fromEntries(Object.entries(stored).map(([name, v]) => [name, Array.isArray(v) ? v.map(load) : load(v)]));
}

/** Where the failure happened: which pipeline, stream and batch. */
export interface DeadLetterContext {
  topic: string;
  pipeline: string;
  stream: number;
  batchId: number;
}

/** One dead-letter row as written. */
export type DeadLetterRow = Record<string, string | number | null>;

function encodeBytes(bytes: Buffer | null): [string | null, string | null] {
  if (bytes === null) return [null, null];
  return isUtf8(bytes) ? [bytes.toString('utf8'), 'utf8'] : [bytes.toString('base64'), 'base64'];
}

/** Builds the dead-letter row of one failed record. */
export function deadLetterRow(record: RawRecord, stage: FailureStage, error: string, ctx: DeadLetterContext): DeadLetterRow {
  const [key, keyEncoding] = encodeBytes(record.key);
  const [value, valueEncoding] = encodeBytes(record.value);
  const headers = encodeHeaders(record.headers);
  return {
    topic: ctx.topic,
    partition: record.partition,
    offset: record.offset,
    timestamp: Number.isFinite(record.timestamp) && record.timestamp >= 0 ? new Date(record.timestamp).toISOString() : null,
    key,
    key_encoding: keyEncoding,
    value,
    value_encoding: valueEncoding,
    // Only when there are headers: the declared column holds NULL for the others.
    ...(headers !== null ? { headers } : {}),
    stage,
    error,
    pipeline: ctx.pipeline,
    stream: ctx.stream,
    batch_id: ctx.batchId,
  };
}

/** Appends a batch's dead-letter rows, marked with the batch's txn (a table replay's carry none: it checks which rows the table holds). */
export function writeDeadLetters(lake: TableWriter, path: string, rows: DeadLetterRow[], txn?: TxnMark): Promise<WriteResult> {
  return lake.write(path, { kind: 'rows', rows }, {
    mode: 'append',
    columns: DEAD_LETTER_COLUMNS,
    measureQuality: false,
    ...(txn ? { txn } : {}),
    operationParameters: txn ? { appId: txn.appId, batchId: txn.version, deadLetter: true } : { deadLetter: true },
  });
}

/** `deadLetter`: the table, and the limits past which a run stops. */
const deadLetter = objectOf<DeadLetterSpec>(
  {
    description: 'The table receiving records that cannot reach their table (undecodable, unrouted, invalid, or a value that does not convert), and the limits past which a run stops.',
    default: { table: '_dead_letter', maxRatio: 0.5 },
    examples: [{ table: '_dead_letter', maxRatio: 0.01, maxRecords: 10000 }],
  },
  {
    table: ref('TableName', { description: 'Dead-letter table name under `output.path`; it must not collide with a gold table.', default: '_dead_letter', examples: ['_dead_letter'] }),
    maxRatio: field(
      {
        description: 'Stop the run (exit 1, PIPE_RUN_DEAD_LETTER_LIMIT) once more than this share of the records it consumed went to the dead-letter table; checked after every batch once the run has consumed 100 records, and at its end. In `mode: staged`, bronze and gold are each judged on what they read (see the staged-mode guide). 1 never stops.',
        default: 0.5,
        examples: [0.01, 0.5, 1],
      },
      { type: 'number', minimum: 0, maximum: 1 },
    ),
    maxRecords: field(
      { description: 'Stop the run (exit 1, PIPE_RUN_DEAD_LETTER_LIMIT) once more than this many of its records went to the dead-letter table (in `mode: staged`, per bronze and gold job).', examples: [10000] },
      { type: 'integer', minimum: 0 },
    ),
  },
);

/** The dead-letter table: every record that cannot reach its table, raw, with coordinates and reason. */
export const sinkDeadLetter: OperatorDefinition = {
  kind: 'sink-dead-letter',
  role: 'dead-letter',
  summary: 'Appends the raw bytes, Kafka coordinates, stage and reason of every record that cannot reach its table.',
  spec: { fields: { root: { deadLetter } } },
  ports: {},
  terminal: 'dead-letter',
};
