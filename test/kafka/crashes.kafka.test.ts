/**
 * Crashes on Apache Kafka: the broker killed (SIGKILL) and restarted under a running pipeline,
 * and the pipeline killed mid-run and started again. The tables end exact either way —
 * nothing lost, nothing twice.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startKafka, type KafkaBroker } from '../../src/dev-broker/kafka-broker.js';
import { generateEvents } from '../../src/dev-broker/events.js';
import { commerceReferenceSpec, computeReference } from '../../src/dev-broker/reference.js';
import { runAvailableNow, startCli } from '../support/cli.js';
import { produce, writeCommerceSpec } from '../support/commerce.js';
import { readOffsetRanges } from '../support/files.js';
import { normalizeReference, readGold } from '../support/tables.js';

let kafka: KafkaBroker;
let dir: string;
beforeAll(async () => {
  kafka = await startKafka({ topics: [{ name: 'events', partitions: 4 }, { name: 'crash', partitions: 4 }] });
  dir = mkdtempSync(join(tmpdir(), 'kafka-restart-'));
});
afterAll(async () => {
  await kafka?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** Committed batches of both streams so far. */
function commits(at: string): number {
  return ['0', '1'].reduce((n, s) => n + (existsSync(join(at, 'lake/_checkpoints', s, 'commits')) ? readdirSync(join(at, 'lake/_checkpoints', s, 'commits')).length : 0), 0);
}

async function until(what: string, check: () => Promise<boolean> | boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

it('a broker crash mid-run: the run waits for the restart and the tables are exact', async () => {
  const first = [...generateEvents({ count: 8_000, seed: 21, malformedRate: 0.005 })];
  const second = [...generateEvents({ count: 2_000, seed: 22, malformedRate: 0.005, startTime: Date.UTC(2026, 2, 1) })];
  await produce(kafka, dir, 'events', first, 'first');
  const spec = writeCommerceSpec(dir, { name: 'restart', topic: 'events', bootstrap: kafka.bootstrap, streams: 2, interval: '200ms', maxRecordsPerBatch: 500 });
  const cli = startCli(['run', spec, '--log-level', 'warn'], {}, 240_000);
  let exited = false;
  void cli.done.then((r) => {
    exited = true;
    if (r.code !== 0) console.error(`pipeline run ended early (${r.code}): ${r.stderr.slice(-3000)}`);
  });
  await until('a first committed batch', () => {
    if (exited) throw new Error('pipeline run ended before its first commit (see its stderr above)');
    return commits(dir) > 0;
  }, 120_000);

  await kafka.kill();
  await new Promise((r) => setTimeout(r, 3_000));
  await kafka.restart();
  await produce(kafka, dir, 'events', second, 'second');

  const all = [...first, ...second];
  const reference = computeReference(all, commerceReferenceSpec());
  await until('every record in the tables', async () => {
    const admin = kafka.client('lag').admin();
    await admin.connect();
    try {
      const offsets = await Promise.all([0, 1].map((s) => admin.fetchOffsets({ groupId: `pipeline-restart-${s}`, topics: ['events'] })));
      return offsets.flatMap((o) => o[0]!.partitions).reduce((n, p) => n + Math.max(0, Number(p.offset)), 0) >= all.length;
    } finally {
      await admin.disconnect();
    }
  }, 180_000);
  cli.child.kill('SIGTERM');
  const result = await cli.done;
  expect(result.code, result.stderr.slice(-2000)).toBe(0);
  expect((await readGold(dir)).tables).toEqual(normalizeReference(reference.tables));
});

it('the pipeline SIGKILLed mid-run: the next run replays what was planned and the tables are exact', async () => {
  const at = mkdtempSync(join(tmpdir(), 'kafka-crash-'));
  try {
    const events = [...generateEvents({ count: 20_000, seed: 23, malformedRate: 0.005 })];
    await produce(kafka, at, 'crash', events);
    const spec = writeCommerceSpec(at, { name: 'crash', topic: 'crash', bootstrap: kafka.bootstrap, streams: 2, interval: '100ms', maxRecordsPerBatch: 300 });
    const cli = startCli(['run', spec, '--log-level', 'warn'], {}, 240_000);
    await until('a few committed batches', () => commits(at) >= 4, 120_000);
    cli.child.kill('SIGKILL');
    await cli.done;
    const ranBefore = readOffsetRanges(at).length;
    const rest = await runAvailableNow(spec, at);
    expect(rest.code, rest.stderr.slice(-2000)).toBe(0);
    expect(rest.summary!.records).toBeLessThan(events.length);
    expect(readOffsetRanges(at).length).toBeGreaterThan(ranBefore);
    expect((await readGold(at)).tables).toEqual(normalizeReference(computeReference(events, commerceReferenceSpec()).tables));
  } finally {
    rmSync(at, { recursive: true, force: true });
  }
});
