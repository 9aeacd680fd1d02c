/**
 * The Confluent wire format: a record value is magic byte 0, a 4-byte big-endian schema id,
 * then (Protobuf only) the message-index array, then the encoded message. The reasons below
 * land in the dead-letter table, so they name what was wrong with the bytes.
 */

/** Where the payload of a framed value starts, and the schema id it names. */
export type Frame = { ok: true; schemaId: number; offset: number } | { ok: false; error: string };

/** Bytes of the header: magic byte + schema id. */
export const HEADER_BYTES = 5;

/** Reads the 5-byte header of `buf[start, end)`. */
export function readFrame(buf: Buffer, start: number, end: number): Frame {
  if (end - start < HEADER_BYTES) {
    return { ok: false, error: `truncated: the Confluent wire format needs a ${HEADER_BYTES}-byte header, the value has ${end - start} bytes` };
  }
  const magic = buf[start]!;
  if (magic !== 0) return { ok: false, error: `wrong magic byte 0x${magic.toString(16).padStart(2, '0')} (the Confluent wire format starts with 0x00)` };
  return { ok: true, schemaId: buf.readUInt32BE(start + 1), offset: start + HEADER_BYTES };
}

/** The schema ids the framed values of a batch name (values too short or unframed are skipped). */
export function schemaIdsOf(data: Uint8Array, starts: Int32Array, nulls: Uint8Array): number[] {
  const ids = new Set<number>();
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  for (let i = 0; i + 1 < starts.length; i++) {
    const at = starts[i]!;
    if (nulls[i] === 1 || starts[i + 1]! - at < HEADER_BYTES || data[at] !== 0) continue;
    ids.add(view.getUint32(at + 1));
  }
  return [...ids].sort((a, b) => a - b);
}

/** The message-index array of a framed Protobuf value, or why it cannot be read. */
export type MessageIndexes = { ok: true; indexes: number[]; offset: number } | { ok: false; error: string };

/** Most entries a message-index array may have (nesting depth of the named message). */
const MAX_INDEXES = 64;

/**
 * Reads the message-index array at `buf[offset…end)`: a zigzag varint count, then that many
 * zigzag varint indexes; a single 0 byte stands for `[0]` (the file's first message).
 */
export function readMessageIndexes(buf: Buffer, offset: number, end: number): MessageIndexes {
  const count = readZigzagVarint(buf, offset, end);
  if (!count) return { ok: false, error: 'truncated: the message-index array ends early' };
  if (count.value === 0) return { ok: true, indexes: [0], offset: count.offset };
  if (count.value < 0 || count.value > MAX_INDEXES) return { ok: false, error: `invalid message-index array (count ${count.value})` };
  const indexes: number[] = [];
  let at = count.offset;
  for (let i = 0; i < count.value; i++) {
    const index = readZigzagVarint(buf, at, end);
    if (!index) return { ok: false, error: 'truncated: the message-index array ends early' };
    if (index.value < 0) return { ok: false, error: `invalid message index ${index.value}` };
    indexes.push(index.value);
    at = index.offset;
  }
  return { ok: true, indexes, offset: at };
}

/** A zigzag varint of at most 5 bytes (32-bit), or undefined when the bytes end first. */
function readZigzagVarint(buf: Buffer, offset: number, end: number): { value: number; offset: number } | undefined {
  let raw = 0;
  for (let shift = 0, at = offset; at < end && shift < 35; shift += 7, at++) {
    const byte = buf[at]!;
    raw += (byte & 0x7f) * 2 ** shift;
    if ((byte & 0x80) === 0) return { value: raw % 2 === 0 ? raw / 2 : -(raw + 1) / 2, offset: at + 1 };
  }
  return undefined;
}

/** Encodes a message-index array (for producers and tests): `[0]` as the single byte 0. */
export function encodeMessageIndexes(indexes: number[]): Buffer {
  if (indexes.length === 1 && indexes[0] === 0) return Buffer.from([0]);
  const bytes: number[] = [];
  for (const n of [indexes.length, ...indexes]) {
    let z = n >= 0 ? n * 2 : -n * 2 - 1;
    while (z >= 0x80) {
      bytes.push((z & 0x7f) | 0x80);
      z = Math.floor(z / 128);
    }
    bytes.push(z);
  }
  return Buffer.from(bytes);
}

/** Frames `payload` in the Confluent wire format (for producers and tests). */
export function frameValue(schemaId: number, payload: Buffer, indexes?: number[]): Buffer {
  const header = Buffer.alloc(HEADER_BYTES);
  header.writeUInt32BE(schemaId, 1);
  return Buffer.concat([header, ...(indexes ? [encodeMessageIndexes(indexes)] : []), payload]);
}
