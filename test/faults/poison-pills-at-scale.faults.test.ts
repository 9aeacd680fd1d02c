/**
 * Poison pills at scale: 1 % bad records mixed into 200K events. The run keeps its
 * throughput within 2x of a clean run over the same clean events, and every bad record is in
 * the dead-letter table with its exact reason.
 *
 * Also here, alone: the deeply nested *field* (a routable record whose payload nests 10,000
 * objects deep), dead-lettered by the decoder instead of failing the stream.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBroker, type TestBroker } from '../../src/dev-broker/broker.js';
import { generateEvents, type GeneratedEvent } from '../../src/dev-broker/events.js';
import { commerceReferenceSpec, computeReference } from '../../src/dev-broker/reference.js';
import { runAvailableNow } from '../support/cli.js';
import { produce } from '../support/commerce.js';
import { mixIn, poisonRecord, type PoisonKind, type PoisonRecord } from './support/poison.js';
import { recordResult } from './support/results.js';
import { scenarioDir, writeFaultSpec } from './support/scenario.js';
import { readRows, verifyLake } from './support/verify.js';

const PARTITIONS = 16;
const CLEAN = 200_000;
/** 1 % of the clean count, spread over the kinds that fit the broker many times over. */
const POISON = CLEAN / 100;
const SCALE_KINDS: PoisonKind[] = ['truncated', 'invalid-utf8', 'deep-array', 'routing-type', 'merge-key-object'];

let broker: TestBroker;
const dirs: string[] = [];
beforeAll(async () => {
  broker = await startBroker({ topics: [{ name: 'clean', partitions: PARTITIONS }, { name: 'poisoned', partitions: PARTITIONS }, { name: 'deep', partitions: 2 }] });
});
afterAll(async () => {
  await broker?.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function spec(dir: string, topic: string): string {
  return writeFaultSpec(dir, { name: `scale-${topic}`, topic, bootstrap: broker.bootstrap, streams: 2, interval: '1s', maxRecordsPerBatch: 25_000 });
}

describe.runIf(process.env.PIPELINE_FAULT_SUITE)('poison pills at scale', () => {
  it('1 % poison in 200K records: throughput within 2x of a clean run, every pill dead-lettered with its reason', async () => {
    const clean = [...generateEvents({ count: CLEAN, seed: 2024, malformedRate: 0, unknownRate: 0 })];
    const poison: PoisonRecord[] = Array.from({ length: POISON }, (_, i) => poisonRecord(SCALE_KINDS[i % SCALE_KINDS.length]!, i));
    const poisoned: GeneratedEvent[] = mixIn(clean, poison);

    const cleanDir = scenarioDir('scale-clean');
    const dir = scenarioDir('scale-poisoned');
    dirs.push(cleanDir, dir);
    expect(await produce(broker, cleanDir, 'clean', clean)).toBe(CLEAN);
    const cleanRun = await runAvailableNow(spec(cleanDir, 'clean'), cleanDir);
    expect(cleanRun.code, cleanRun.stderr.slice(-2000)).toBe(0);

    expect(await produce(broker, dir, 'poisoned', poisoned)).toBe(CLEAN + POISON);
    const run = await runAvailableNow(spec(dir, 'poisoned'), dir);
    expect(run.code, run.stderr.slice(-2000)).toBe(0);
    expect(run.summary).toMatchObject({ status: 'completed', records: CLEAN + POISON, deadLettered: POISON });

    const cleanRate = cleanRun.summary!.recordsPerSecond as number;
    const poisonedRate = run.summary!.recordsPerSecond as number;
    console.log(`poison at scale: clean ${CLEAN} records at ${cleanRate} records/s (${cleanRun.summary!.wallTimeMs} ms); ` +
      `with ${POISON} pills ${CLEAN + POISON} records at ${poisonedRate} records/s (${run.summary!.wallTimeMs} ms); ratio ${(cleanRate / poisonedRate).toFixed(2)}`);
    expect(cleanRate / poisonedRate).toBeLessThanOrEqual(2);

    // Every pill once, with its exact stage and reason.
    const dead = await readRows(join(dir, 'lake', '_dead_letter'));
    expect(dead).toHaveLength(POISON);
    const byKey = new Map(dead.map((r) => [String(r.key), r]));
    const wrong = poison.filter((p) => byKey.get(p.key)?.error !== p.error || byKey.get(p.key)?.stage !== p.stage);
    expect(wrong.map((p) => ({ key: p.key, want: p.error, got: byKey.get(p.key)?.error }))).toEqual([]);
    const check = await verifyLake(join(dir, 'lake'), { ...computeReference(clean, commerceReferenceSpec()), deadLetter: POISON });
    expect(check.problems).toEqual([]);
    recordResult('poison pills at scale (200K, 1 %)', CLEAN + POISON, check.rowsChecked);
  });

  /*
   * A routable record with a field nested 10,000 objects deep used to pass decode and then
   * overflow the stack in type inference, failing the stream on every replay. The decoder now
   * dead-letters values nesting deeper than 64 levels.
   */
  it('a record whose field nests 10,000 levels deep is dead-lettered, not fatal', async () => {
    const dir = scenarioDir('deep-field');
    dirs.push(dir);
    const clean = [...generateEvents({ count: 500, seed: 5, malformedRate: 0, unknownRate: 0 })];
    const pill = poisonRecord('deep-field', 1);
    expect(await produce(broker, dir, 'deep', mixIn(clean, [pill]))).toBe(501);
    const run = await runAvailableNow(spec(dir, 'deep'), dir);
    expect(run.stderr).not.toMatch(/Maximum call stack size exceeded/);
    expect(run.code).toBe(0);
    const dead = await readRows(join(dir, 'lake', '_dead_letter'));
    expect(dead.map((r) => ({ key: r.key, stage: r.stage, error: r.error }))).toEqual([{ key: pill.key, stage: pill.stage, error: pill.error }]);
  });
});
