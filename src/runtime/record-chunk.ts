/**
 * Consumed records held compactly between the fetch and the batch's commit.
 *
 * A kafkajs message is an object of strings and Buffer slices, and each slice keeps its
 * whole fetch response alive: holding a batch's messages for its life (collector, decode,
 * commit, up to three batches per stream) held hundreds of MB of objects and fetch buffers.
 * A chunk copies one partition's run of records into a few typed arrays (offsets,
 * timestamps, key and value bytes with start indices) and keeps headers only where a record
 * has some, so the fetch response is free as soon as the chunk is built.
 */
import type { PackedValues } from '../operators/api.js';
import type { RecordHeaders } from '../operators/sink-dead-letter.js';
import type { PartitionRanges } from './stream-checkpoint.js';

/** Kafka headers of a record, as the consumer gives them (a list where a name repeats). */
export type SourceHeaders = RecordHeaders;

/** A consumed record as a source hands it over (a kafkajs `KafkaMessage` is one). */
export interface SourceRecord {
  offset: string;
  timestamp: string;
  key?: Buffer | null;
  value: Buffer | null;
  headers?: SourceHeaders;
}

const KEY_NULL = 1;
const VALUE_NULL = 2;

const copyHeaders = (headers: SourceHeaders): SourceHeaders => {
  const out: SourceHeaders = {};
  // Copies, as a header's bytes are a slice of the fetch response too.
  const copy = <T>(v: Buffer | T): Buffer | T => (Buffer.isBuffer(v) ? Buffer.from(v) : v);
  for (const [name, v] of Object.entries(headers)) out[name] = Array.isArray(v) ? v.map(copy) : copy(v);
  return out;
};

/** The stored arrays of a chunk; views of it share them. */
interface ChunkData {
  offsets: Float64Array;
  timestamps: Float64Array;
  /** All keys, then all values: record i's key is `bytes[keyStarts[i], keyStarts[i+1])`. */
  bytes: Buffer;
  keyStarts: Int32Array;
  valueStarts: Int32Array;
  flags: Uint8Array;
  /** Record index -> headers, for the records that carry any. */
  headers?: Map<number, SourceHeaders>;
}

/** One partition's run of records in offset order (or a view of part of one). */
export class RecordChunk {
  private constructor(
    private readonly data: ChunkData,
    private readonly from: number,
    /** Records in this chunk (or view). */
    readonly length: number,
  ) {}

  /** Copies `records[from, to)` into a chunk; nothing of the records is referenced afterwards. */
  static pack(records: readonly SourceRecord[], from = 0, to = records.length): RecordChunk {
    const n = to - from;
    let keyBytes = 0;
    let valueBytes = 0;
    for (let i = from; i < to; i++) {
      const r = records[i]!;
      if (r.key) keyBytes += r.key.length;
      if (r.value) valueBytes += r.value.length;
    }
    const data: ChunkData = {
      offsets: new Float64Array(n),
      timestamps: new Float64Array(n),
      bytes: Buffer.allocUnsafeSlow(keyBytes + valueBytes),
      keyStarts: new Int32Array(n + 1),
      valueStarts: new Int32Array(n + 1),
      flags: new Uint8Array(n),
    };
    let keyAt = 0;
    let valueAt = keyBytes;
    for (let j = 0; j < n; j++) {
      const r = records[from + j]!;
      data.offsets[j] = Number(r.offset);
      data.timestamps[j] = Number(r.timestamp);
      data.keyStarts[j] = keyAt;
      data.valueStarts[j] = valueAt;
      if (r.key === null || r.key === undefined) data.flags[j]! |= KEY_NULL;
      else keyAt += r.key.copy(data.bytes, keyAt);
      if (r.value === null || r.value === undefined) data.flags[j]! |= VALUE_NULL;
      else valueAt += r.value.copy(data.bytes, valueAt);
      if (r.headers && Object.keys(r.headers).length > 0) (data.headers ??= new Map()).set(j, copyHeaders(r.headers));
    }
    data.keyStarts[n] = keyAt;
    data.valueStarts[n] = valueAt;
    return new RecordChunk(data, 0, n);
  }

  /** Records `[start, end)` of this chunk, sharing its storage. */
  slice(start: number, end = this.length): RecordChunk {
    return new RecordChunk(this.data, this.from + start, Math.max(0, Math.min(end, this.length) - start));
  }

  offset(i: number): number {
    return this.data.offsets[this.from + i]!;
  }

  /** Kafka timestamp in ms. */
  timestamp(i: number): number {
    return this.data.timestamps[this.from + i]!;
  }

  /** The key's bytes (a view of the chunk's storage), or null. */
  key(i: number): Buffer | null {
    const j = this.from + i;
    const d = this.data;
    return d.flags[j]! & KEY_NULL ? null : d.bytes.subarray(d.keyStarts[j], d.keyStarts[j + 1]);
  }

  /** The value's bytes (a view of the chunk's storage), or null (a tombstone). */
  value(i: number): Buffer | null {
    const j = this.from + i;
    const d = this.data;
    return d.flags[j]! & VALUE_NULL ? null : d.bytes.subarray(d.valueStarts[j], d.valueStarts[j + 1]);
  }

  /** The record's headers, or undefined when it has none. */
  headers(i: number): SourceHeaders | undefined {
    return this.data.headers?.get(this.from + i);
  }

  /** Bytes of the values of this chunk (or view). */
  valueBytes(): number {
    const d = this.data;
    return d.valueStarts[this.from + this.length]! - d.valueStarts[this.from]!;
  }

  /**
   * Copies the values into `out` at `at` (one copy: a chunk's values are contiguous), their
   * starts into `starts[index..]` and null marks into `nulls[index..]`. Returns the next `at`.
   */
  copyValues(out: Uint8Array, at: number, starts: Int32Array, nulls: Uint8Array, index: number): number {
    const d = this.data;
    const first = d.valueStarts[this.from]!;
    out.set(d.bytes.subarray(first, d.valueStarts[this.from + this.length]), at);
    for (let i = 0; i < this.length; i++) {
      const j = this.from + i;
      starts[index + i] = at + d.valueStarts[j]! - first;
      nulls[index + i] = d.flags[j]! & VALUE_NULL ? 1 : 0;
    }
    return at + this.valueBytes();
  }
}

/** A batch cut from the buffers. */
export interface CollectedBatch {
  ranges: PartitionRanges;
  /** Records per partition, in offset order. */
  chunks: Map<number, RecordChunk[]>;
  count: number;
}

/** Bytes of a batch's record values. */
export function batchValueBytes(batch: CollectedBatch): number {
  let total = 0;
  for (const list of batch.chunks.values()) for (const chunk of list) total += chunk.valueBytes();
  return total;
}

/** A batch of records given per partition (replays, tests): packed as a consumer's would be. */
export function batchOf(ranges: PartitionRanges, records: Map<number, readonly SourceRecord[]>): CollectedBatch {
  const chunks = new Map<number, RecordChunk[]>();
  let count = 0;
  for (const [partition, list] of records) {
    if (list.length === 0) continue;
    chunks.set(partition, [RecordChunk.pack(list)]);
    count += list.length;
  }
  return { ranges, chunks, count };
}

/**
 * A batch's records in input order (partition by partition, as the collector cut them):
 * index `i` is the record index the transform, the tables and the dead-letter rows use.
 */
export class BatchRecords {
  readonly count: number;
  readonly partitions: Int32Array;
  readonly offsets: Float64Array;
  /** Kafka timestamp (ms) of each record. */
  readonly timestamps: Float64Array;
  /** Each chunk in input order, and the index of its first record. */
  private readonly chunks: RecordChunk[] = [];
  private readonly firsts: number[] = [];

  constructor(batch: CollectedBatch) {
    const n = batch.count;
    this.count = n;
    this.partitions = new Int32Array(n);
    this.offsets = new Float64Array(n);
    this.timestamps = new Float64Array(n);
    let at = 0;
    for (const [partition, list] of batch.chunks) {
      for (const chunk of list) {
        this.chunks.push(chunk);
        this.firsts.push(at);
        for (let i = 0; i < chunk.length; i++, at++) {
          this.partitions[at] = partition;
          this.offsets[at] = chunk.offset(i);
          this.timestamps[at] = chunk.timestamp(i);
        }
      }
    }
    if (at !== n) throw new Error(`batch count ${n} does not match its ${at} records`);
  }

  /** The chunk holding record `index` and the record's index in it. */
  private locate(index: number): [RecordChunk, number] {
    let lo = 0;
    let hi = this.firsts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.firsts[mid]! <= index) lo = mid;
      else hi = mid - 1;
    }
    return [this.chunks[lo]!, index - this.firsts[lo]!];
  }

  key(index: number): Buffer | null {
    const [chunk, i] = this.locate(index);
    return chunk.key(i);
  }

  value(index: number): Buffer | null {
    const [chunk, i] = this.locate(index);
    return chunk.value(i);
  }

  headers(index: number): SourceHeaders | undefined {
    const [chunk, i] = this.locate(index);
    return chunk.headers(i);
  }

  /** The values packed for the transform (a copy: the transform may move it to another thread). */
  packValues(): PackedValues {
    let total = 0;
    for (const chunk of this.chunks) total += chunk.valueBytes();
    const data = new Uint8Array(total);
    const starts = new Int32Array(this.count + 1);
    const nulls = new Uint8Array(this.count);
    let at = 0;
    this.chunks.forEach((chunk, c) => (at = chunk.copyValues(data, at, starts, nulls, this.firsts[c]!)));
    starts[this.count] = at;
    return { data, starts, nulls };
  }
}
