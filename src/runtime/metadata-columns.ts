/**
 * `source.metadataColumns`: the Kafka coordinates of each record as table columns, attached
 * to each table's share of a batch by position (the lake joins them while loading, with fixed
 * types, so every batch gives the same columns). The key is read per `source.keyFormat`; a
 * key or header that cannot be read that way fails its record alone, with the reason.
 */
import { isUtf8 } from 'node:buffer';
import { spellsLoneSurrogate } from '../operators/decode-json.js';
import type { AttachedColumns } from '../lake/types.js';
import type { KeyFormat, MetadataColumn } from '../spec/index.js';
import type { BatchRecords, SourceHeaders } from './record-chunk.js';

/** Column name of each metadata column. */
export const METADATA_COLUMN_NAMES: Record<MetadataColumn, string> = {
  key: '_kafka_key',
  headers: '_kafka_headers',
  partition: '_kafka_partition',
  offset: '_kafka_offset',
  timestamp: '_kafka_timestamp',
  topic: '_kafka_topic',
};

const KEY_TYPES: Record<KeyFormat, 'VARCHAR' | 'JSON' | 'BLOB'> = { string: 'VARCHAR', json: 'JSON', bytes: 'BLOB' };

const TYPES: Record<Exclude<MetadataColumn, 'key'>, AttachedColumns['columns'][number]['type']> = {
  headers: 'JSON',
  partition: 'INTEGER',
  offset: 'BIGINT',
  timestamp: 'TIMESTAMPTZ',
  topic: 'VARCHAR',
};

/** A key's value as its column takes it, or the reason it cannot be read. */
function keyValue(key: Buffer | null, format: KeyFormat): { value: unknown } | { error: string } {
  if (key === null) return { value: null };
  if (format === 'bytes') return { value: key.toString('base64') };
  if (!isUtf8(key)) return { error: `key is not valid UTF-8 (keyFormat: ${format})` };
  const text = key.toString('utf8');
  if (format === 'json') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      return { error: `key is not valid JSON (keyFormat: json): ${(err as Error).message}` };
    }
    // The key column's JSON type refuses it, and with it the whole batch.
    if (spellsLoneSurrogate(text, parsed)) return { error: 'key holds an unpaired UTF-16 surrogate (a \\uD800-\\uDFFF escape without its pair), which is not text (keyFormat: json)' };
  }
  return { value: text };
}

/** Headers as one JSON object: name -> UTF-8 text (a list when a name repeats); or why not. */
function headersValue(headers: SourceHeaders | undefined): { value: unknown } | { error: string } {
  const out: Record<string, string | null | (string | null)[]> = {};
  for (const [name, raw] of Object.entries(headers ?? {})) {
    const list = Array.isArray(raw) ? raw : [raw];
    const texts: (string | null)[] = [];
    for (const v of list) {
      if (v === undefined || v === null) texts.push(null);
      else if (typeof v === 'string') texts.push(v);
      else if (!isUtf8(v)) return { error: `header '${name}' is not valid UTF-8` };
      else texts.push(v.toString('utf8'));
    }
    out[name] = Array.isArray(raw) ? texts : texts[0]!;
  }
  return { value: JSON.stringify(out) };
}

/** The attached columns' names and types, in `wanted` order. */
export function metadataColumnTypes(wanted: MetadataColumn[], keyFormat: KeyFormat): AttachedColumns['columns'] {
  return wanted.map((m) => ({ name: METADATA_COLUMN_NAMES[m], type: m === 'key' ? KEY_TYPES[keyFormat] : TYPES[m] }));
}

/** What the metadata columns are read from: a batch's records (or a raw table's rows shaped alike). */
export type MetadataSource = Pick<BatchRecords, 'partitions' | 'offsets' | 'timestamps' | 'key' | 'headers'>;

/** The attached columns of the records at `indices` of a batch. */
export function metadataColumns(
  wanted: MetadataColumn[],
  keyFormat: KeyFormat,
  topic: string,
  records: MetadataSource,
  indices: ArrayLike<number>,
): AttachedColumns {
  const columns = metadataColumnTypes(wanted, keyFormat);
  const values: unknown[][] = new Array(indices.length);
  const rejects: (string | undefined)[] = new Array(indices.length);
  for (let r = 0; r < indices.length; r++) {
    const i = indices[r]!;
    const row: unknown[] = [];
    for (const w of wanted) {
      let v: { value: unknown } | { error: string };
      switch (w) {
        case 'key': v = keyValue(records.key(i), keyFormat); break;
        case 'headers': v = headersValue(records.headers(i)); break;
        case 'partition': v = { value: records.partitions[i] }; break;
        case 'offset': v = { value: records.offsets[i] }; break;
        case 'timestamp': v = { value: records.timestamps[i] }; break;
        case 'topic': v = { value: topic }; break;
      }
      if ('error' in v) {
        rejects[r] ??= v.error;
        row.push(null);
      } else row.push(v.value);
    }
    values[r] = row;
  }
  return { columns, values, rejects };
}
