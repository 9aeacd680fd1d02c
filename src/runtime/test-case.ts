/**
 * A `pipeline test` case on disk: `<case>/events.jsonl` (one Kafka record per line) and
 * `<case>/expected/<table>.jsonl` (one expected row per line). Records are turned into the
 * exact bytes and coordinates a broker would hand the runner, so the case runs through the
 * same batch code as `pipeline run`.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { UsageError } from '../errors.js';

/** One fixture record as the runner will consume it. */
export interface TestRecord {
  partition: number;
  offset: number;
  key: Buffer | null;
  value: Buffer | null;
  timestampMs: number;
  headers: Record<string, Buffer>;
}

/** A table row (column -> JSON-friendly value). */
export type Row = Record<string, unknown>;

/** A loaded case. */
export interface TestCase {
  name: string;
  dir: string;
  records: TestRecord[];
  /** Table -> expected rows, for each `expected/<table>.jsonl` present. */
  expected: Record<string, Row[]>;
}

/** Timestamp of records whose line gives none: fixed, so dead-letter rows are reproducible. */
export const DEFAULT_TIMESTAMP = '2026-01-01T00:00:00.000Z';

const KNOWN_FIELDS = new Set(['value', 'key', 'partition', 'offset', 'timestamp', 'headers']);

function caseError(file: string, line: number, message: string): UsageError {
  return new UsageError('PIPE_TEST_CASE', `${file}:${line}: ${message}`, { hint: 'see `pipeline test --help` for the case format' });
}

/** Reads a JSON-lines file: one JSON object per non-blank line. */
export function readJsonLines(file: string): { line: number; value: Row }[] {
  const out: { line: number; value: Row }[] = [];
  readFileSync(file, 'utf8').split('\n').forEach((text, i) => {
    if (text.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      throw caseError(file, i + 1, `not valid JSON (${(err as Error).message})`);
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw caseError(file, i + 1, 'each line must be a JSON object');
    out.push({ line: i + 1, value: value as Row });
  });
  return out;
}

/** The record bytes: a string is the raw text (so malformed input can be written), anything else its JSON. */
function valueBytes(value: unknown): Buffer | null {
  if (value === null) return null;
  return Buffer.from(typeof value === 'string' ? value : JSON.stringify(value));
}

/** Parses `events.jsonl` into records with defaults filled in (partition 0, offsets by position). */
export function parseEvents(file: string): TestRecord[] {
  const next = new Map<number, number>();
  return readJsonLines(file).map(({ line, value: e }) => {
    const unknown = Object.keys(e).filter((k) => !KNOWN_FIELDS.has(k));
    if (unknown.length > 0) throw caseError(file, line, `unknown field '${unknown[0]}' (a record has value, key, partition, offset, timestamp, headers)`);
    if (!('value' in e)) throw caseError(file, line, "missing 'value'");
    const partition = e.partition ?? 0;
    if (!Number.isSafeInteger(partition) || (partition as number) < 0) throw caseError(file, line, `partition must be a non-negative integer, got ${JSON.stringify(e.partition)}`);
    const p = partition as number;
    const expectedNext = next.get(p) ?? 0;
    const offset = e.offset ?? expectedNext;
    if (!Number.isSafeInteger(offset) || (offset as number) < expectedNext) {
      throw caseError(file, line, `offset of partition ${p} must be an integer of at least ${expectedNext} (offsets increase line by line), got ${JSON.stringify(e.offset)}`);
    }
    next.set(p, (offset as number) + 1);
    const stamp = e.timestamp ?? DEFAULT_TIMESTAMP;
    const timestampMs = typeof stamp === 'number' ? stamp : Date.parse(String(stamp));
    if (!Number.isFinite(timestampMs)) throw caseError(file, line, `timestamp must be ISO-8601 or milliseconds, got ${JSON.stringify(e.timestamp)}`);
    if (e.key !== undefined && e.key !== null && typeof e.key !== 'string') throw caseError(file, line, 'key must be a string or null');
    const headers: Record<string, Buffer> = {};
    if (e.headers !== undefined) {
      if (typeof e.headers !== 'object' || e.headers === null || Array.isArray(e.headers)) throw caseError(file, line, 'headers must be an object of strings');
      for (const [k, v] of Object.entries(e.headers)) headers[k] = Buffer.from(String(v));
    }
    return { partition: p, offset: offset as number, key: typeof e.key === 'string' ? Buffer.from(e.key) : null, value: valueBytes(e.value), timestampMs, headers };
  });
}

/** Loads one case directory. */
export function loadCase(dir: string): TestCase {
  const events = join(dir, 'events.jsonl');
  if (!existsSync(events)) throw new UsageError('PIPE_TEST_CASE', `${dir}: no events.jsonl`, { hint: 'a case directory holds events.jsonl and expected/<table>.jsonl' });
  const expected: Record<string, Row[]> = {};
  const expectedDir = join(dir, 'expected');
  if (existsSync(expectedDir)) {
    for (const name of readdirSync(expectedDir).sort()) {
      if (!name.endsWith('.jsonl')) continue;
      expected[name.slice(0, -'.jsonl'.length)] = readJsonLines(join(expectedDir, name)).map((l) => l.value);
    }
  }
  return { name: basename(dir), dir, records: parseEvents(events), expected };
}

/** The case directories under `<specDir>/tests/<specName>/`, sorted by name. */
export function discoverCases(root: string): string[] {
  if (!existsSync(root)) return [];
  return readdirSync(root)
    .map((name) => join(root, name))
    .filter((p) => statSync(p).isDirectory() && existsSync(join(p, 'events.jsonl')))
    .sort();
}
