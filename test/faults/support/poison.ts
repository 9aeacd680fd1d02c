/**
 * The poison-pill set: records that must each land in the dead-letter table with an exact,
 * user-readable reason while the clean records around them flow into their tables.
 *
 * The large record is sized to what the test broker can hold: librdkafka's producer in the
 * launcher refuses values over 1,000,000 bytes (`message.max.bytes`), and the mock keeps only
 * ~5 MiB per partition, so a 10 MiB record is deleted by retention the moment it is written
 * (verified: kafkajs can produce it, but the partition's log start moves past it at once).
 * The largest record that survives is produced with kafkajs to a partition of its own:
 * {@link LARGE_RECORD_BYTES}.
 */
import type { GeneratedEvent } from '../../../src/dev-broker/events.js';

/** Size of the large poison record (see the module comment for why not 10 MiB). */
export const LARGE_RECORD_BYTES = 4 * 1024 * 1024;
/** Nesting depth of the deeply nested records. */
export const NESTING_DEPTH = 10_000;

/** One poison record and the dead-letter row it must produce. */
export interface PoisonRecord {
  kind: string;
  key: string;
  value: Buffer;
  stage: 'decode' | 'route' | 'validate';
  error: string;
}

/**
 * The poison kinds, each as a function of a serial number `n` so a large set has distinct
 * keys. Reasons are the literal messages users read in the dead-letter table's `error`.
 */
export function poisonRecord(kind: PoisonKind, n: number): PoisonRecord {
  const id = `poison-${kind}-${n}`;
  switch (kind) {
    case 'truncated': {
      const text = `{"event_type":"orders","id":"${id}","seq":1,"status":"crea`;
      return { kind, key: id, value: Buffer.from(text), stage: 'decode', error: `invalid JSON: Unterminated string in JSON at position ${text.length}` };
    }
    case 'invalid-utf8':
      return {
        kind,
        key: id,
        value: Buffer.concat([Buffer.from(`{"event_type":"orders","id":"${id}","seq":1,"note":"`), Buffer.from([0xc3, 0x28, 0xff, 0xfe]), Buffer.from('"}')]),
        stage: 'decode',
        error: 'value is not valid UTF-8',
      };
    case 'deep-array':
      // A valid JSON document 10,000 arrays deep: not an object, so it cannot be routed.
      return { kind, key: id, value: Buffer.from(`${'['.repeat(NESTING_DEPTH)}${']'.repeat(NESTING_DEPTH)}`), stage: 'decode', error: 'value must be a JSON object (got array)' };
    case 'deep-field':
      // A routable record whose payload nests 10,000 objects deep: no table can type it.
      return {
        kind,
        key: id,
        value: Buffer.from(`{"event_type":"orders","id":"${id}","seq":1,"payload":${'{"a":'.repeat(NESTING_DEPTH)}1${'}'.repeat(NESTING_DEPTH)}}`),
        stage: 'decode',
        error: `value nests deeper than 64 levels`,
      };
    case 'routing-type':
      return { kind, key: id, value: Buffer.from(`{"event_type":42,"id":"${id}","seq":1}`), stage: 'route', error: "routing field 'event_type' must be a string (got number)" };
    case 'merge-key-object':
      return { kind, key: id, value: Buffer.from(`{"event_type":"orders","id":{"order":"${id}"},"seq":1}`), stage: 'validate', error: "merge key 'id' must be a scalar (got object)" };
    case 'large': {
      const text = `{"event_type":"analytics","id":"${id}","blob":"${'x'.repeat(LARGE_RECORD_BYTES)}`;
      return { kind, key: id, value: Buffer.from(text), stage: 'decode', error: `invalid JSON: Unterminated string in JSON at position ${text.length}` };
    }
  }
}

/** Every poison kind; `large` is produced separately (kafkajs, its own partition). */
export const POISON_KINDS = ['truncated', 'invalid-utf8', 'deep-array', 'deep-field', 'routing-type', 'merge-key-object', 'large'] as const;
export type PoisonKind = (typeof POISON_KINDS)[number];

/** Mixes `poison` into `clean` at evenly spread positions (deterministic). */
export function mixIn(clean: GeneratedEvent[], poison: PoisonRecord[]): GeneratedEvent[] {
  const out: GeneratedEvent[] = [];
  const every = Math.max(1, Math.floor(clean.length / Math.max(1, poison.length)));
  let p = 0;
  clean.forEach((event, i) => {
    out.push(event);
    if (i % every === every - 1 && p < poison.length) {
      const record = poison[p++]!;
      out.push({ key: record.key, value: record.value, timestamp: event.timestamp });
    }
  });
  for (; p < poison.length; p++) out.push({ key: poison[p]!.key, value: poison[p]!.value, timestamp: Date.UTC(2026, 0, 2) });
  return out;
}
