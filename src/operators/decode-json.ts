/**
 * decode-json: a record value must be UTF-8 JSON text holding one object. The reasons are
 * user-facing (they land in the dead-letter table's `error` column), so they say what was
 * wrong with the bytes, not where the parser gave up internally.
 *
 * Spec fields it owns: `source.format: json` and, with the other decoders,
 * `source.schema.file` (a JSON Schema the records must match).
 */
import { isUtf8 } from 'node:buffer';
import { isJsonNumber, parseExactJson } from '../lake/json-values.js';
import type { DecodedRecord, OperatorDefinition, RawValue } from './api.js';
import { jsonSchemaValidator, schemaViolation } from './json-schema.js';
import { schemaFileField } from './schema-files.js';

/** A decoded record, or why it could not be decoded. */
export type DecodeResult = { ok: true; value: Record<string, unknown>; /** Numbers are lossless-json values (big integers kept exact). */ lossless: boolean } | { ok: false; error: string };

/**
 * Decodes `buf[start, end)` as a JSON object. Cheap on the common path: the UTF-8 check runs
 * only when the decoded text holds U+FFFD (which invalid bytes turn into), and not at all
 * when the caller knows the bytes are valid UTF-8 (`knownUtf8`, e.g. checked once per batch).
 */
export function decodeJsonValue(buf: Buffer, start = 0, end = buf.length, knownUtf8 = false): DecodeResult {
  if (end <= start) return { ok: false, error: 'empty value' };
  const text = buf.toString('utf8', start, end);
  if (!knownUtf8 && text.includes('\uFFFD') && !isUtf8(buf.subarray(start, end))) {
    return { ok: false, error: 'value is not valid UTF-8' };
  }
  let value: unknown;
  let lossless: boolean;
  try {
    ({ value, lossless } = parseExactJson(text));
  } catch (err) {
    // NaN and ±Infinity as bare tokens (Python's json module writes them): no JSON number can hold them.
    const token = NON_FINITE_TOKEN.exec(text)?.[1];
    if (token !== undefined) return { ok: false, error: `invalid JSON: it holds ${token}, which JSON cannot spell and no table column can store` };
    // The parser quotes the text it read; the dead-letter row holds the bytes already, and
    // without the quote equal faults share one reason.
    return { ok: false, error: `invalid JSON: ${(err as Error).message.replace(/, ".*" is not valid JSON$/s, '')}` };
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return { ok: false, error: `value must be a JSON object (got ${jsonTypeOf(value)})` };
  }
  // Deep values overflow recursive code downstream (type inference, DuckDB's JSON reader) and
  // would fail the batch on every replay; only text with enough brackets can be that deep.
  if (countOpeners(text, MAX_DEPTH + 1) > MAX_DEPTH && depthExceeds(value, MAX_DEPTH)) {
    return { ok: false, error: `value nests deeper than ${MAX_DEPTH} levels` };
  }
  // Only text with a `\u` escape needs either look below (most records have none: one scan).
  if (text.includes('\\u')) {
    // JSON lets a `\u` escape spell half of a UTF-16 surrogate pair; no text column can hold
    // that (DuckDB refuses the whole batch file on it), so the record fails here, alone.
    if (SURROGATE_ESCAPE.test(text)) {
      const where = unpairedSurrogate(value as Record<string, unknown>);
      if (where !== undefined) return { ok: false, error: `${where} holds an unpaired UTF-16 surrogate (a \\uD800-\\uDFFF escape without its pair), which is not text` };
    }
    // A NUL in a field's name ends DuckDB's quoted identifier (the table's whole load failed);
    // JSON text can only spell it as an escape.
    if (text.includes('\\u0000')) {
      for (const key in value) {
        if (key.includes('\0')) return { ok: false, error: `field '${key.replace(/\0/g, '\\u0000')}' has a NUL character (U+0000) in its name, which a column name cannot hold` };
      }
    }
  }
  return { ok: true, value: value as Record<string, unknown>, lossless };
}

/** A bare NaN or ±Infinity where a JSON value may stand (after `:`, `[` or `,`). */
const NON_FINITE_TOKEN = /[:[,]\s*(NaN|-?Infinity)\s*[,}\]]/;

/** A `\u` escape of a surrogate code unit (U+D800–U+DFFF). */
const SURROGATE_ESCAPE = /\\u[dD][89a-fA-F]/;
/** A surrogate code unit that is not part of a pair. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * Where a decoded record holds an unpaired surrogate, in its names or its text values: `field
 * 'name'` for a top-level field (its value or a name inside it), `a field name` when the
 * top-level name itself holds one (quoting it would put the surrogate in the reason).
 */
function unpairedSurrogate(record: Record<string, unknown>): string | undefined {
  for (const [key, top] of Object.entries(record)) {
    if (LONE_SURROGATE.test(key)) return 'a field name';
    if (holdsLoneSurrogate(top)) return `field '${key}'`;
  }
  return undefined;
}

/** True when a parsed JSON value holds an unpaired surrogate in a string or a name, at any depth. */
function holdsLoneSurrogate(value: unknown): boolean {
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const v = stack.pop();
    if (typeof v === 'string') {
      if (LONE_SURROGATE.test(v)) return true;
    } else if (v !== null && typeof v === 'object' && !isJsonNumber(v)) {
      for (const [name, child] of Object.entries(v)) {
        if (LONE_SURROGATE.test(name)) return true;
        stack.push(child);
      }
    }
  }
  return false;
}

/**
 * True when JSON `text`, parsed as `value`, spells half a surrogate pair with a `\u` escape
 * (JSON.parse takes it; DuckDB's JSON type refuses it). Only text with such an escape is walked.
 */
export function spellsLoneSurrogate(text: string, value: unknown): boolean {
  return text.includes('\\u') && SURROGATE_ESCAPE.test(text) && holdsLoneSurrogate(value);
}

/** Deepest nesting of objects/arrays a record may have. */
export const MAX_DEPTH = 64;

/** Counts `{` and `[` in `text`, stopping at `limit` (a cheap upper bound on the depth). */
function countOpeners(text: string, limit: number): number {
  let n = 0;
  for (const ch of ['{', '[']) {
    for (let i = text.indexOf(ch); i !== -1 && n < limit; i = text.indexOf(ch, i + 1)) n++;
  }
  return n;
}

/** True when `value` nests objects/arrays more than `max` levels deep (iterative: no recursion). */
function depthExceeds(value: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (depth > max) return true;
    for (const child of Object.values(v as object)) {
      if (child !== null && typeof child === 'object' && !isJsonNumber(child)) stack.push([child, depth + 1]);
    }
  }
  return false;
}

/** The JSON type name of a parsed value, for messages: `string`, `number`, `array`, `null`... */
export function jsonTypeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

/** The JSON decoder: UTF-8 JSON text holding one object per record value. */
export const decodeJson: OperatorDefinition = {
  kind: 'decode-json',
  role: 'transform',
  summary: 'Parses each record value as UTF-8 JSON holding one object (integers beyond 2^53 kept exact), optionally validated against a JSON Schema file.',
  spec: { format: 'json', fields: { 'source.schema': { file: schemaFileField } } },
  ports: { out: 'the decoded record', error: 'null, non-UTF-8, invalid JSON, not an object, nested deeper than 64 levels, text holding half a surrogate pair (a lone \\uD800-\\uDFFF escape), a field name holding NUL, not matching the JSON Schema' },
  failureStage: 'decode',
  recordStage(node) {
    const schemaFile = node.props.schemaFile;
    const validate = typeof schemaFile === 'string' ? jsonSchemaValidator(schemaFile) : undefined;
    return {
      process(input) {
        const raw = input as RawValue;
        if (raw.isNull) return { port: 'error', error: 'value is null (tombstone)' };
        const decoded = decodeJsonValue(raw.data, raw.start, raw.end, raw.utf8);
        if (!decoded.ok) return { port: 'error', error: decoded.error };
        // Exact numbers are objects to a validator; it sees the plain parse (same types, same structure).
        if (validate && !validate(decoded.lossless ? JSON.parse(raw.data.toString('utf8', raw.start, raw.end)) : decoded.value)) {
          return { port: 'error', error: schemaViolation(validate) };
        }
        const record: DecodedRecord = { fields: decoded.value, lossless: decoded.lossless, source: raw };
        return { port: 'out', value: record };
      },
    };
  },
};
