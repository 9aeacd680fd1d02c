/**
 * Poison pills (slim, part of `npm test`): one record of every bad kind mixed into a clean
 * event set. Each bad record lands in the dead-letter table exactly once with its exact
 * reason, raw bytes and coordinates; the clean records land in their tables as the reference
 * model says; nothing else is dead-lettered.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Kafka, logLevel } from 'kafkajs';
import { join } from 'node:path';
import { generateEvents } from '../../src/dev-broker/events.js';
import { commerceReferenceSpec, computeReference } from '../../src/dev-broker/reference.js';
import { mixIn, poisonRecord, POISON_KINDS, LARGE_RECORD_BYTES, type PoisonRecord } from './support/poison.js';
import { runAvailableNow, startScenario, type Scenario } from './support/scenario.js';
import { readRows, verifyLake } from './support/verify.js';

const PARTITIONS = 4;
let scenario: Scenario;
let poison: PoisonRecord[];

beforeAll(async () => {
  // No generated malformed or unknown events: the dead-letter table must hold exactly the pills.
  scenario = await startScenario('poison', { partitions: PARTITIONS, streams: 2, events: 0, seed: 1 });
  poison = POISON_KINDS.map((kind) => poisonRecord(kind, 1));
  const clean = [...generateEvents({ count: 2_000, seed: 77, malformedRate: 0, unknownRate: 0 })];
  const small = poison.filter((p) => p.kind !== 'large');
  await scenario.produceMore(mixIn(clean, small));
  // The large record goes through kafkajs (the launcher's producer caps values at 1 MB) to a
  // partition of its own share, so retention (~5 MiB per partition) keeps it.
  const large = poison.find((p) => p.kind === 'large')!;
  const kafka = new Kafka({ clientId: 'poison', brokers: [scenario.broker.bootstrap], logLevel: logLevel.NOTHING });
  const producer = kafka.producer();
  await producer.connect();
  await producer.send({ topic: scenario.topic, messages: [{ key: large.key, value: large.value, partition: PARTITIONS - 1 }] });
  await producer.disconnect();
}, 120_000);

afterAll(async () => {
  await scenario?.close();
});

describe('poison pills', () => {
  it('dead-letters every bad record once with its exact reason; clean records are exact', async () => {
    const run = await runAvailableNow(scenario.spec, scenario.dir);
    expect(run.code, run.stderr.slice(-3000)).toBe(0);
    expect(run.summary).toMatchObject({ status: 'completed', records: 2_000 + poison.length, deadLettered: poison.length });

    const dead = await readRows(join(scenario.lakePath, '_dead_letter'));
    const byKey = new Map(dead.map((r) => [String(r.key), r]));
    expect(dead).toHaveLength(poison.length);
    for (const p of poison) {
      const row = byKey.get(p.key);
      expect(row, `${p.kind} is in the dead-letter table`).toBeDefined();
      expect({ kind: p.kind, stage: row!.stage, error: row!.error }).toEqual({ kind: p.kind, stage: p.stage, error: p.error });
      const raw = row!.value_encoding === 'base64' ? Buffer.from(String(row!.value), 'base64') : Buffer.from(String(row!.value), 'utf8');
      expect(raw.equals(p.value), `${p.kind}: raw bytes kept`).toBe(true);
    }
    expect(byKey.get('poison-invalid-utf8-1')!.value_encoding).toBe('base64');
    expect(byKey.get('poison-large-1')!.partition).toBe(PARTITIONS - 1);
    expect(String(byKey.get('poison-large-1')!.value).length).toBeGreaterThan(LARGE_RECORD_BYTES);

    // The clean events, alone, are what the gold tables hold.
    const clean = scenario.events.filter((e) => !String(e.key).startsWith('poison-'));
    const reference = computeReference(clean, commerceReferenceSpec());
    expect(reference.deadLetter).toBe(0);
    const check = await verifyLake(scenario.lakePath, { ...reference, deadLetter: poison.length });
    expect(check.problems).toEqual([]);
  });
});
