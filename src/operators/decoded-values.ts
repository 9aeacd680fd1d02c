/**
 * Binary decoders (Avro, Protobuf) hand back JavaScript values; a table file holds JSON.
 * This turns a decoded record into values JSON can carry exactly, or says why it cannot:
 *
 * - 64-bit integers stay exact: a bigint within ±2^53 becomes a number, a larger one stays a
 *   bigint (serialised as its digits);
 * - bytes become base64 text (a `BLOB` column decodes it back);
 * - NaN and ±Infinity fail the record (JSON has no such numbers, and no column would
 *   silently turn them into null);
 * - nesting deeper than {@link MAX_DEPTH} fails the record, like the JSON decoder;
 * - strings holding U+FFFD that the bytes do not hold came from invalid UTF-8 (the binary
 *   decoders replace bad bytes silently), so the record fails.
 */
import { MAX_DEPTH } from './decode-json.js';

/** A record ready for serialisation, or why it is not. */
export type ReadyResult = { ok: true; fields: Record<string, unknown>; /** Holds bigints (serialise with lossless-json). */ lossless: boolean } | { ok: false; error: string };

const SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const REPLACEMENT = '\uFFFD';
const REPLACEMENT_BYTES = Buffer.from(REPLACEMENT, 'utf8');

class NotRepresentable extends Error {}

/** Walk state: what the record held that needs a second look. */
interface Walk {
  bigints: boolean;
  replacements: number;
}

/**
 * Converts a decoded record (see the module comment). `raw` is the record's bytes, used only
 * when a decoded string holds U+FFFD.
 */
export function jsonReady(record: Record<string, unknown>, raw: Buffer): ReadyResult {
  const walk: Walk = { bigints: false, replacements: 0 };
  let fields: Record<string, unknown>;
  try {
    fields = convert(record, '', 1, walk) as Record<string, unknown>;
  } catch (err) {
    if (err instanceof NotRepresentable) return { ok: false, error: err.message };
    throw err;
  }
  if (walk.replacements > 0 && walk.replacements > countOccurrences(raw, REPLACEMENT_BYTES)) {
    return { ok: false, error: 'a string field is not valid UTF-8' };
  }
  return { ok: true, fields, lossless: walk.bigints };
}

function convert(value: unknown, path: string, depth: number, walk: Walk): unknown {
  switch (typeof value) {
    case 'number':
      if (!Number.isFinite(value)) throw new NotRepresentable(`field '${path}' holds ${value}, which a table cannot store (JSON has no such number)`);
      return value;
    case 'bigint':
      if (value >= -SAFE && value <= SAFE) return Number(value);
      walk.bigints = true;
      return value;
    case 'string':
      if (value.includes(REPLACEMENT)) walk.replacements += value.split(REPLACEMENT).length - 1;
      return value;
    case 'boolean':
      return value;
    case 'undefined':
      return null;
  }
  if (value === null) return null;
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64');
  if (depth > MAX_DEPTH) throw new NotRepresentable(`value nests deeper than ${MAX_DEPTH} levels`);
  if (Array.isArray(value)) return value.map((v, i) => convert(v, `${path}[${i}]`, depth + 1, walk));
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value as object)) {
    const v = (value as Record<string, unknown>)[key];
    if (v === undefined) continue;
    out[key] = convert(v, path ? `${path}.${key}` : key, depth + 1, walk);
  }
  return out;
}

function countOccurrences(buf: Buffer, needle: Buffer): number {
  let n = 0;
  for (let at = buf.indexOf(needle); at !== -1; at = buf.indexOf(needle, at + needle.length)) n++;
  return n;
}
