/**
 * Delta deletion vectors (PROTOCOL "Deletion Vectors"): the descriptor carried by `add` and
 * `remove`, z85 text, the portable 64-bit RoaringBitmap with Delta's magic, and the `.bin`
 * file that stores one or more of them. A DV names the 0-based row positions of a Parquet
 * file that are deleted; readers skip them, writers mark replaced rows with them instead
 * of rewriting the file.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import { crc32 } from 'node:zlib';
import { LakeError } from '../errors.js';
import { storageFor } from './storage/index.js';

/** The `deletionVector` field of `add`/`remove`. */
export interface DeletionVectorDescriptor {
  storageType: 'u' | 'i' | 'p' | string;
  pathOrInlineDv: string;
  offset?: number | null;
  sizeInBytes: number;
  cardinality: number;
  maxRowIndex?: number | null;
}

/** Magic of the portable RoaringBitmap layout (the only one the protocol describes). */
const PORTABLE_MAGIC = 1681511377;
const Z85 = '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#';
const Z85_VALUE = new Map([...Z85].map((ch, i) => [ch, i]));

/** The identity of a DV within a logical file key `(path, dvId)`; undefined without a DV. */
export function dvId(dv: DeletionVectorDescriptor | null | undefined): string | undefined {
  if (!dv) return undefined;
  return `${dv.storageType}${dv.pathOrInlineDv}${dv.offset !== undefined && dv.offset !== null ? `@${dv.offset}` : ''}`;
}

/** z85 text to bytes (big-endian 32-bit words, 5 characters each). */
export function z85Decode(text: string): Buffer {
  if (text.length % 5 !== 0) throw new LakeError('PIPE_LAKE_DV_CORRUPT', `z85 text of length ${text.length} is not a multiple of 5`);
  const out = Buffer.alloc((text.length / 5) * 4);
  for (let i = 0; i < text.length; i += 5) {
    let v = 0;
    for (let j = 0; j < 5; j++) {
      const d = Z85_VALUE.get(text[i + j]!);
      if (d === undefined) throw new LakeError('PIPE_LAKE_DV_CORRUPT', `character ${JSON.stringify(text[i + j])} is not z85`);
      v = v * 85 + d;
    }
    out.writeUInt32BE(v >>> 0, (i / 5) * 4);
  }
  return out;
}

/** Bytes (zero-padded to 4-byte words) to z85 text. */
export function z85Encode(bytes: Buffer): string {
  const padded = Buffer.alloc(Math.ceil(bytes.length / 4) * 4);
  bytes.copy(padded);
  let out = '';
  for (let i = 0; i < padded.length; i += 4) {
    let v = padded.readUInt32BE(i);
    const chars = new Array<string>(5);
    for (let j = 4; j >= 0; j--) {
      chars[j] = Z85[v % 85]!;
      v = Math.floor(v / 85);
    }
    out += chars.join('');
  }
  return out;
}

/** Reads a standard 32-bit Roaring bitmap (RoaringFormatSpec) at `pos`; returns the values and the end. */
function readRoaring32(buf: Buffer, pos: number, high: number, out: number[]): number {
  const cookie = buf.readUInt32LE(pos);
  let size: number;
  let runFlags: Buffer | undefined;
  let hasOffsets: boolean;
  if ((cookie & 0xffff) === 12347) {
    size = (cookie >>> 16) + 1;
    pos += 4;
    runFlags = buf.subarray(pos, pos + Math.ceil(size / 8));
    pos += runFlags.length;
    hasOffsets = size >= 4;
  } else if (cookie === 12346) {
    size = buf.readUInt32LE(pos + 4);
    pos += 8;
    hasOffsets = true;
  } else {
    throw new LakeError('PIPE_LAKE_DV_CORRUPT', `unknown Roaring cookie ${cookie}`);
  }
  const headers: { key: number; card: number }[] = [];
  for (let i = 0; i < size; i++, pos += 4) headers.push({ key: buf.readUInt16LE(pos), card: buf.readUInt16LE(pos + 2) + 1 });
  if (hasOffsets) pos += 4 * size;
  for (let i = 0; i < size; i++) {
    const base = high * 2 ** 32 + headers[i]!.key * 65536;
    const isRun = runFlags !== undefined && (runFlags[i >> 3]! & (1 << (i & 7))) !== 0;
    if (isRun) {
      const runs = buf.readUInt16LE(pos);
      pos += 2;
      for (let r = 0; r < runs; r++, pos += 4) {
        const start = buf.readUInt16LE(pos);
        const len = buf.readUInt16LE(pos + 2);
        for (let v = start; v <= start + len; v++) out.push(base + v);
      }
    } else if (headers[i]!.card <= 4096) {
      for (let k = 0; k < headers[i]!.card; k++, pos += 2) out.push(base + buf.readUInt16LE(pos));
    } else {
      for (let w = 0; w < 2048; w++, pos += 4) {
        const word = buf.readUInt32LE(pos);
        if (word === 0) continue;
        for (let b = 0; b < 32; b++) if (word & (1 << b)) out.push(base + w * 32 + b);
      }
    }
  }
  return pos;
}

/** Decodes a DV bitmap (magic + portable 64-bit Roaring) into sorted row indexes. */
export function decodeBitmap(buf: Buffer): number[] {
  if (buf.length < 12 || buf.readUInt32LE(0) !== PORTABLE_MAGIC) {
    throw new LakeError('PIPE_LAKE_DV_CORRUPT', `deletion vector bitmap has magic ${buf.length >= 4 ? buf.readUInt32LE(0) : '(none)'}; only the portable layout (${PORTABLE_MAGIC}) is read`);
  }
  const buckets = Number(buf.readBigUInt64LE(4));
  const out: number[] = [];
  let pos = 12;
  for (let i = 0; i < buckets; i++) {
    const high = buf.readUInt32LE(pos);
    pos = readRoaring32(buf, pos + 4, high, out);
  }
  return out;
}

/** Encodes sorted, distinct row indexes as a DV bitmap (array and bitset containers, no runs). */
export function encodeBitmap(rows: number[]): Buffer {
  const buckets = new Map<number, Map<number, number[]>>();
  for (const r of rows) {
    const high = Math.floor(r / 2 ** 32);
    const low = r % 2 ** 32;
    let b = buckets.get(high);
    if (!b) buckets.set(high, (b = new Map()));
    const key = low >>> 16;
    let c = b.get(key);
    if (!c) b.set(key, (c = []));
    c.push(low & 0xffff);
  }
  const parts: Buffer[] = [];
  const head = Buffer.alloc(12);
  head.writeUInt32LE(PORTABLE_MAGIC, 0);
  head.writeBigUInt64LE(BigInt(buckets.size), 4);
  parts.push(head);
  for (const high of [...buckets.keys()].sort((a, b) => a - b)) {
    const containers = [...buckets.get(high)!.entries()].sort((a, b) => a[0] - b[0]);
    const header = Buffer.alloc(4 + 8 + containers.length * 8);
    header.writeUInt32LE(high, 0);
    header.writeUInt32LE(12346, 4);
    header.writeUInt32LE(containers.length, 8);
    const bodies = containers.map(([, values]) => {
      if (values.length <= 4096) {
        const b = Buffer.alloc(values.length * 2);
        values.forEach((v, i) => b.writeUInt16LE(v, i * 2));
        return b;
      }
      const b = Buffer.alloc(8192);
      for (const v of values) b[v >> 3] |= 1 << (v & 7);
      return b;
    });
    // Offsets count from the start of this 32-bit bitmap (its cookie), as RoaringFormatSpec says.
    let offset = 8 + containers.length * 8;
    containers.forEach(([key, values], i) => {
      header.writeUInt16LE(key, 12 + i * 4);
      header.writeUInt16LE(values.length - 1, 14 + i * 4);
      header.writeUInt32LE(offset, 12 + containers.length * 4 + i * 4);
      offset += bodies[i]!.length;
    });
    parts.push(header, ...bodies);
  }
  return Buffer.concat(parts);
}

/** The DV file of a `u` descriptor, relative to the table root. */
export function dvFilePath(pathOrInlineDv: string): string {
  const prefix = pathOrInlineDv.slice(0, -20);
  const uuid = z85Decode(pathOrInlineDv.slice(-20)).toString('hex');
  const name = `deletion_vector_${uuid.slice(0, 8)}-${uuid.slice(8, 12)}-${uuid.slice(12, 16)}-${uuid.slice(16, 20)}-${uuid.slice(20)}.bin`;
  return prefix ? `${prefix}/${name}` : name;
}

/** Reads the deleted row indexes a descriptor names (sorted). */
export async function readDeletionVector(tablePath: string, dv: DeletionVectorDescriptor): Promise<number[]> {
  let bitmap: Buffer;
  if (dv.storageType === 'i') {
    bitmap = z85Decode(dv.pathOrInlineDv).subarray(0, dv.sizeInBytes);
  } else {
    let rel: string;
    if (dv.storageType === 'u') rel = dvFilePath(dv.pathOrInlineDv);
    else if (dv.storageType === 'p') rel = decodeURIComponent(dv.pathOrInlineDv.replace(/^file:\/\//, ''));
    else throw new LakeError('PIPE_LAKE_DV_CORRUPT', `deletion vector storage type ${JSON.stringify(dv.storageType)} is unknown`);
    const file = dv.storageType === 'p' ? await fs.readFile(rel) : await storageFor(tablePath).read(rel);
    if (!file) throw new LakeError('PIPE_LAKE_DV_CORRUPT', `deletion vector file ${rel} of ${tablePath} is missing`);
    const at = dv.offset ?? 1;
    const n = file.readUInt32BE(at);
    if (n !== dv.sizeInBytes) throw new LakeError('PIPE_LAKE_DV_CORRUPT', `deletion vector in ${rel} at ${at} is ${n} bytes, its descriptor says ${dv.sizeInBytes}`);
    bitmap = file.subarray(at + 4, at + 4 + n);
    if (crc32(bitmap) >>> 0 !== file.readUInt32BE(at + 4 + n)) throw new LakeError('PIPE_LAKE_DV_CORRUPT', `deletion vector in ${rel} at ${at} fails its checksum`);
  }
  const rows = decodeBitmap(bitmap);
  if (rows.length !== dv.cardinality) throw new LakeError('PIPE_LAKE_DV_CORRUPT', `deletion vector of ${tablePath} holds ${rows.length} rows, its descriptor says ${dv.cardinality}`);
  return rows;
}

/**
 * Writes one DV file holding one DV per entry of `sets` (each sorted, distinct) and returns
 * their descriptors, in order. A fresh file per commit: DV files never change once written.
 */
export async function writeDeletionVectors(tablePath: string, sets: number[][]): Promise<DeletionVectorDescriptor[]> {
  const uuid = Buffer.from(randomUUID().replace(/-/g, ''), 'hex');
  const pathOrInlineDv = z85Encode(uuid);
  const parts: Buffer[] = [Buffer.from([1])];
  const descriptors: DeletionVectorDescriptor[] = [];
  let offset = 1;
  for (const rows of sets) {
    const bitmap = encodeBitmap(rows);
    const framed = Buffer.alloc(4 + bitmap.length + 4);
    framed.writeUInt32BE(bitmap.length, 0);
    bitmap.copy(framed, 4);
    framed.writeUInt32BE(crc32(bitmap) >>> 0, 4 + bitmap.length);
    parts.push(framed);
    descriptors.push({ storageType: 'u', pathOrInlineDv, offset, sizeInBytes: bitmap.length, cardinality: rows.length });
    offset += framed.length;
  }
  const store = storageFor(tablePath);
  const rel = dvFilePath(pathOrInlineDv);
  const staged = await store.stagingPath(rel);
  await fs.writeFile(staged, Buffer.concat(parts));
  await store.publish(staged, rel);
  return descriptors;
}
