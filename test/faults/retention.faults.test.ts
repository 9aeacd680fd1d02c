/**
 * Retention overtakes a stopped pipeline: after a completed run, far more than the broker
 * keeps per partition (~5 MiB on the test broker) is produced, so the offsets right after the
 * checkpoint no longer exist. The next run stops with PIPE_SOURCE_DATA_LOSS and touches no
 * table; with `source.kafka.failOnDataLoss: false` it skips to the oldest offset still there,
 * says so, and the tables hold exactly the first events plus the records retention kept. A
 * `pipeline replay` of the deleted range stops with PIPE_REPLAY_RANGE_GONE, writing nothing.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBroker, type TestBroker } from '../../src/dev-broker/broker.js';
import { generateEvents, type GeneratedEvent } from '../../src/dev-broker/events.js';
import { commerceReferenceSpec, computeReference } from '../../src/dev-broker/reference.js';
import { kafkaClient } from '../dev-broker/kafka-helpers.js';
import { runAvailableNow, runCli } from '../support/cli.js';
import { produce } from '../support/commerce.js';
import { recordResult } from './support/results.js';
import { scenarioDir, writeFaultSpec } from './support/scenario.js';
import { verifyLake } from './support/verify.js';

const PARTITIONS = 2;
/** 1 KiB analytics events with null keys (round-robin), 16 MiB per partition: 3x retention. */
const FILLERS = 32_000;

let broker: TestBroker;
beforeAll(async () => {
  broker = await startBroker({ topics: [{ name: 'retention', partitions: PARTITIONS }] });
});
afterAll(async () => {
  await broker?.stop();
});

function filler(i: number): GeneratedEvent {
  const value = `{"event_type":"analytics","id":"fill-${i}","seq":1,"page":"/","pad":"${'p'.repeat(960)}"}`;
  return { key: null, value: Buffer.from(value), timestamp: Date.UTC(2026, 2, 1) + i };
}

async function watermarks(topic: string): Promise<{ low: number[]; high: number[] }> {
  const admin = kafkaClient(broker.bootstrap).admin();
  await admin.connect();
  try {
    const offsets = (await admin.fetchTopicOffsets(topic)).sort((a, b) => a.partition - b.partition);
    return { low: offsets.map((o) => Number(o.low)), high: offsets.map((o) => Number(o.high)) };
  } finally {
    await admin.disconnect();
  }
}

describe.runIf(process.env.PIPELINE_FAULT_SUITE)('retention overtakes a stopped pipeline', () => {
  let dir: string;
  let spec: string;
  let first: GeneratedEvent[];
  let skipRun: Awaited<ReturnType<typeof runAvailableNow>> | undefined;
  let survivors: GeneratedEvent[] = [];

  it('stops with a clear data-loss error; with failOnDataLoss: false skips ahead and the tables are exact', async () => {
    dir = scenarioDir('retention');
    first = [...generateEvents({ count: 2_000, seed: 31 })];
    expect(await produce(broker, dir, 'retention', first)).toBe(2_000);
    spec = writeFaultSpec(dir, { name: 'retention', topic: 'retention', bootstrap: broker.bootstrap, streams: 2, maxRecordsPerBatch: 5_000 });
    const run1 = await runAvailableNow(spec, dir);
    expect(run1.code, run1.stderr.slice(-2000)).toBe(0);
    const before = await watermarks('retention');

    // While the pipeline is stopped, retention deletes everything after its checkpoint.
    const fillers = Array.from({ length: FILLERS }, (_, i) => filler(i));
    expect(await produce(broker, dir, 'retention', fillers, 'fillers')).toBe(FILLERS);
    const after = await watermarks('retention');
    for (let p = 0; p < PARTITIONS; p++) expect(after.low[p]).toBeGreaterThan(before.high[p]!);

    const refused = await runAvailableNow(spec, dir);
    expect(refused.code).toBe(1);
    const lost = (p: number) => `offsets ${before.high[p]}..${after.low[p]! - 1} of partition ${p} were deleted by retention before they were read`;
    const errorLine = refused.stderr.split('\n').find((l) => l.startsWith('pipeline run: error'));
    // Stream p owns partition p; whichever stream starts first reports.
    const hint = '(set source.kafka.failOnDataLoss: false to skip ahead, or reset the checkpoint and tables)';
    expect([0, 1].map((p) => `pipeline run: error PIPE_SOURCE_DATA_LOSS stream ${p}: ${lost(p)} ${hint}`), refused.stderr.slice(-1500)).toContain(errorLine);
    // Nothing was written: the tables still hold exactly the first events.
    let check = await verifyLake(join(dir, 'lake'), computeReference(first, commerceReferenceSpec()));
    expect(check.problems).toEqual([]);

    // A replay of a range retention deleted says so before writing anything.
    const offsetsFile = join(dir, 'replay-offsets.json');
    writeFileSync(offsetsFile, JSON.stringify({ 1: 0 }));
    const gone = await runCli(['replay', spec, '--table', 'orders', '--from-offsets', offsetsFile]);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toContain(`PIPE_REPLAY_RANGE_GONE partition 1: the replay starts at offset 0, but retention deleted offsets 0..${after.low[1]! - 1}`);
    check = await verifyLake(join(dir, 'lake'), computeReference(first, commerceReferenceSpec()));
    expect(check.problems).toEqual([]);

    skipRun = await runAvailableNow(spec, dir, {}, ['--set', 'source.kafka.failOnDataLoss=false', '--log-level', 'warn']);
    expect(skipRun.code, skipRun.stderr.slice(-2000)).toBe(0);
    for (let p = 0; p < PARTITIONS; p++) expect(skipRun.stderr).toContain(`${lost(p)}; skipping ahead (failOnDataLoss: false)`);
    // Null keys went round-robin from partition 0, so filler i sits at partition i % 2.
    survivors = fillers.filter((_, i) => before.high[i % PARTITIONS]! + Math.floor(i / PARTITIONS) >= after.low[i % PARTITIONS]!);
    expect(skipRun.summary?.records).toBe(survivors.length);
    check = await verifyLake(join(dir, 'lake'), computeReference([...first, ...survivors], commerceReferenceSpec()));
    expect(check.problems).toEqual([]);
    recordResult('retention overtakes a stopped pipeline', first.length + FILLERS, check.rowsChecked);
  });

  /* Skipping ahead is never silent: the summary counts what retention took. */
  it('the summary counts the records skipped because retention deleted them', () => {
    expect(skipRun).toBeDefined();
    const skipped = FILLERS - survivors.length;
    expect(skipRun!.summary?.metrics?.pipeline_records_lost_total).toBe(skipped);
  });
});
