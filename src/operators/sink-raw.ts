/**
 * sink-raw (staged mode's raw job): every Kafka record lands as it came — coordinates, key,
 * value and headers as bytes — in `<output.path>/_raw/<pipeline>`, appended once per batch
 * with the batch's txn. Nothing is decoded, so nothing but the lake can fail here; bronze
 * decodes later, and any table can be re-derived from this one.
 *
 * Spec field it owns: `stages.raw` (the raw job's trigger, streams and date partitioning).
 */
import type { OperatorDefinition } from './api.js';
import { Kind } from '../lake/type-lattice.js';
import type { RawStageSpec, TriggerSpec } from '../spec/index.js';
import { field, objectOf, ref } from './schema-builder.js';
import type { RecordHeaders } from './sink-dead-letter.js';

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

/** The partition column of a raw table with `stages.raw.partitionByDate`: the UTC date of the Kafka timestamp. */
export const RAW_DATE_COLUMN = 'ingest_date';


/** A run of consumed records of one partition, read by index (the runtime's record chunks are such runs). */
export interface RawRecords {
  readonly length: number;
  offset(i: number): number;
  /** Kafka timestamp in ms. */
  timestamp(i: number): number;
  key(i: number): Buffer | null;
  value(i: number): Buffer | null;
  headers(i: number): RecordHeaders | undefined;
}

/** Headers as JSON text: `[{"key": name, "value": base64 or null}]` in record order (repeated names kept). */
export function encodeHeaders(headers: RecordHeaders | undefined): string | null {
  if (!headers) return null;
  const out: { key: string; value: string | null }[] = [];
  for (const [key, raw] of Object.entries(headers)) {
    for (const v of Array.isArray(raw) ? raw : [raw]) out.push({ key, value: v === undefined || v === null ? null : Buffer.from(v).toString('base64') });
  }
  return out.length === 0 ? null : JSON.stringify(out);
}

/** The headers a raw table's `headers` column holds, as the consumer gave them (a list where a name repeats). */
export function decodeHeaders(text: string | null | undefined): RecordHeaders {
  const out: RecordHeaders = {};
  if (text === null || text === undefined || text === '') return out;
  const seen = new Map<string, (Buffer | null)[]>();
  for (const { key, value } of JSON.parse(text) as { key: string; value: string | null }[]) {
    const list = seen.get(key) ?? [];
    list.push(value === null ? null : Buffer.from(value, 'base64'));
    seen.set(key, list);
  }
  for (const [key, list] of seen) out[key] = list.length === 1 ? list[0]! : list;
  return out;
}

/** The JSON kinds of every raw column (nulls included), so the lake never reads a batch file to learn them. */
export const RAW_KINDS: Record<string, number> = {
  topic: Kind.STRING,
  partition: Kind.INT,
  offset: Kind.INT,
  timestamp: Kind.STRING | Kind.NULL,
  key: Kind.STRING | Kind.NULL,
  value: Kind.STRING | Kind.NULL,
  headers: Kind.STRING | Kind.NULL,
};

const b64 = (bytes: Buffer | null | undefined) => (bytes === null || bytes === undefined ? 'null' : `"${bytes.toString('base64')}"`);

/**
 * A batch's raw rows as NDJSON (bytes as base64, as the lake reads BLOB columns), built as
 * text per record rather than through row objects: the raw job's cost is this loop.
 */
export function rawNdjson(topic: string, records: Map<number, readonly RawRecords[]>, withDate = false): { text: string; count: number } {
  const topicJson = JSON.stringify(topic);
  const lines: string[] = [];
  for (const [partition, runs] of records) {
    for (const run of runs) {
      for (let i = 0; i < run.length; i++) {
        const ms = run.timestamp(i);
        const iso = Number.isFinite(ms) && ms >= 0 ? new Date(ms).toISOString() : undefined;
        const ts = iso ? `"${iso}"` : 'null';
        const headers = encodeHeaders(run.headers(i));
        const date = withDate ? `,"${RAW_DATE_COLUMN}":${iso ? `"${iso.slice(0, 10)}"` : 'null'}` : '';
        lines.push(`{"topic":${topicJson},"partition":${partition},"offset":${run.offset(i)},"timestamp":${ts},"key":${b64(run.key(i))},"value":${b64(run.value(i))},"headers":${headers === null ? 'null' : JSON.stringify(headers)}${date}}`);
      }
    }
  }
  return { text: lines.length > 0 ? `${lines.join('\n')}\n` : '', count: lines.length };
}

/** The raw job's trigger: no defaults here, an absent field keeps the top-level trigger's value. */
const stageTrigger = objectOf<Partial<TriggerSpec>>(
  { description: 'This job\'s trigger; absent fields keep the top-level `trigger` values.', examples: [{ interval: '15m' }] },
  {
    interval: ref('Duration', { description: 'Longest time a batch of this job stays open.', examples: ['15m', '1s'] }),
    maxRecordsPerBatch: field({ description: 'Most records in one batch of this job.', examples: [500000] }, { type: 'integer', minimum: 1 }),
  },
);

/** `stages.raw`: the raw job's overrides. */
const rawStage = objectOf<RawStageSpec>(
  { description: 'The raw job: Kafka to the raw table, no decode.', examples: [{ streams: 4, trigger: { interval: '1s' } }] },
  {
    trigger: stageTrigger,
    streams: field({ description: 'Parallel streams of the raw job (default: top-level `streams`).', examples: [4] }, { type: 'integer', minimum: 1, maximum: 1024 }),
    partitionByDate: field(
      {
        description: 'Partition the raw table by `ingest_date`, the UTC date of each record\'s Kafka timestamp (records without one: a NULL partition), so old days can be read, expired or rebuilt alone. Fixed when the raw table is created. Default false.',
        examples: [true],
      },
      { type: 'boolean' },
    ),
  },
);

/** The raw job's only sink. */
export const sinkRaw: OperatorDefinition = {
  kind: 'sink-raw',
  role: 'sink',
  summary: 'Appends each record as it came (topic, partition, offset, timestamp, key, value, headers) to the raw table, with the batch\'s txn.',
  spec: { fields: { stages: { raw: rawStage } } },
  ports: {},
};
