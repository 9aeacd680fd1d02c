/**
 * sink-dead-letter: every record that cannot reach its gold table lands here, raw, with its
 * Kafka coordinates and the reason, so nothing is ever silently lost and a fixed pipeline can
 * replay it. Values are stored as text when they are valid UTF-8, otherwise as base64
 * (`value_encoding` says which); keys likewise (`key_encoding`).
 */
import { isUtf8 } from 'node:buffer';
import type { FailureStage, OperatorDefinition, TableWriter } from './api.js';
import type { TxnMark, WriteResult } from '../lake/types.js';

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
  return {
    topic: ctx.topic,
    partition: record.partition,
    offset: record.offset,
    timestamp: Number.isFinite(record.timestamp) && record.timestamp >= 0 ? new Date(record.timestamp).toISOString() : null,
    key,
    key_encoding: keyEncoding,
    value,
    value_encoding: valueEncoding,
    stage,
    error,
    pipeline: ctx.pipeline,
    stream: ctx.stream,
    batch_id: ctx.batchId,
  };
}

/** Appends a batch's dead-letter rows, marked with the batch's txn. */
export function writeDeadLetters(lake: TableWriter, path: string, rows: DeadLetterRow[], txn: TxnMark): Promise<WriteResult> {
  return lake.write(path, { kind: 'rows', rows }, {
    mode: 'append',
    columns: DEAD_LETTER_COLUMNS,
    txn,
    operationParameters: { appId: txn.appId, batchId: txn.version, deadLetter: true },
  });
}

/** The dead-letter table: every record that cannot reach its table, raw, with coordinates and reason. */
export const sinkDeadLetter: OperatorDefinition = {
  kind: 'sink-dead-letter',
  role: 'dead-letter',
  summary: 'Appends the raw bytes, Kafka coordinates, stage and reason of every record that cannot reach its table.',
  ports: {},
  terminal: 'dead-letter',
};
