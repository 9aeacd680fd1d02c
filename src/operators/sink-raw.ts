/**
 * sink-raw (staged mode's raw job): every Kafka record lands as it came — coordinates, key,
 * value and headers as bytes — in `<output.path>/_raw/<pipeline>`, appended once per batch
 * with the batch's txn. Nothing is decoded, so nothing but the lake can fail here; bronze
 * decodes later, and any table can be re-derived from this one.
 */
import type { OperatorDefinition } from './api.js';

/** Column types of the raw table (declared, so every batch types alike). */
export const RAW_COLUMNS: Record<string, string> = {
  topic: 'VARCHAR',
  partition: 'INTEGER',
  offset: 'BIGINT',
  timestamp: 'TIMESTAMPTZ',
  key: 'BLOB',
  value: 'BLOB',
  headers: 'VARCHAR',
};

/** The fields of a consumed record the raw table keeps. */
export interface RawMessage {
  offset: string;
  timestamp: string;
  key?: Buffer | null;
  value: Buffer | null;
  headers?: Record<string, Buffer | string | (Buffer | string)[] | undefined>;
}

/** Headers as JSON text: `[{"key": name, "value": base64 or null}]` in record order (repeated names kept). */
export function encodeHeaders(headers: RawMessage['headers']): string | null {
  if (!headers) return null;
  const out: { key: string; value: string | null }[] = [];
  for (const [key, raw] of Object.entries(headers)) {
    for (const v of Array.isArray(raw) ? raw : [raw]) out.push({ key, value: v === undefined ? null : Buffer.from(v).toString('base64') });
  }
  return out.length === 0 ? null : JSON.stringify(out);
}

/** The raw-table row of one record. */
export function rawRow(topic: string, partition: number, m: RawMessage): Record<string, unknown> {
  const ms = Number(m.timestamp);
  return {
    topic,
    partition,
    offset: Number(m.offset),
    timestamp: Number.isFinite(ms) && ms >= 0 ? new Date(ms).toISOString() : null,
    key: m.key ?? null,
    value: m.value,
    headers: encodeHeaders(m.headers),
  };
}

/** The raw job's only sink. */
export const sinkRaw: OperatorDefinition = {
  kind: 'sink-raw',
  role: 'sink',
  summary: 'Appends each record as it came (topic, partition, offset, timestamp, key, value, headers) to the raw table, with the batch\'s txn.',
  ports: {},
};
