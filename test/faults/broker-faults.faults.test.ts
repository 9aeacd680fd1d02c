/**
 * The broker misbehaves while a run is in progress: it goes away for 5–30 s, it answers
 * Fetch / Produce / OffsetCommit / JoinGroup with retriable errors (JoinGroup: a known hole,
 * see below), or it answers slowly
 * (500 ms per request). The run rides every fault out and the tables are exact.
 *
 * Kafka API keys: Produce 0, Fetch 1, OffsetCommit 8, JoinGroup 11. Error codes (all
 * retriable in the protocol): 6 NOT_LEADER_OR_FOLLOWER, 7 REQUEST_TIMED_OUT,
 * 14 COORDINATOR_LOAD_IN_PROGRESS, 15 COORDINATOR_NOT_AVAILABLE, 16 NOT_COORDINATOR.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBroker, type TestBroker } from '../../src/dev-broker/broker.js';
import { generateEvents } from '../../src/dev-broker/events.js';
import { commerceReferenceSpec, computeReference } from '../../src/dev-broker/reference.js';
import { runAvailableNow, startCli } from '../support/cli.js';
import { produce } from '../support/commerce.js';
import { recordResult } from './support/results.js';
import { scenarioDir, writeFaultSpec } from './support/scenario.js';
import { verifyLake } from './support/verify.js';

const PARTITIONS = 8;
const EVENTS = 6_000;
const API = { produce: 0, fetch: 1, offsetCommit: 8, joinGroup: 11 } as const;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let broker: TestBroker;
beforeAll(async () => {
  broker = await startBroker({ topics: ['down-short', 'down-long', 'slow'].map((name) => ({ name, partitions: PARTITIONS })) });
});
afterAll(async () => {
  await broker?.stop();
});

async function prepare(topic: string, seed: number) {
  const dir = scenarioDir(topic);
  const events = [...generateEvents({ count: EVENTS, seed })];
  expect(await produce(broker, dir, topic, events)).toBe(EVENTS);
  const spec = writeFaultSpec(dir, { name: topic, topic, bootstrap: broker.bootstrap, streams: 2, maxRecordsPerBatch: 500 });
  return { dir, events, spec };
}

async function expectExact(dir: string, events: ReturnType<typeof generateEvents> extends Iterable<infer E> ? E[] : never, scenario: string) {
  const check = await verifyLake(join(dir, 'lake'), computeReference(events, commerceReferenceSpec()));
  expect(check.problems).toEqual([]);
  recordResult(scenario, events.length, check.rowsChecked);
}

describe.runIf(process.env.PIPELINE_FAULT_SUITE)('broker faults during a run', () => {
  /*
   * KNOWN INTERMITTENT HOLE (fails about 2 runs in 5 for the 30 s outage): after the broker
   * comes back, every record is committed (progress shows lag 0) but the run never exits; a
   * stream's kafkajs consumer is left rejoining its group ("The group is rebalancing, so a
   * rejoin is needed" on SyncGroup) and, most likely, `consumer.disconnect()` in
   * StreamSource.stop (src/runtime/kafka-source.ts) waits on that rejoin forever (kafkajs
   * cannot disconnect mid-rebalance). Proposed fix: bound the disconnect there
   * (Promise.race with sessionTimeout + 5 s, then log and move on: the checkpoint is already
   * committed and the broker expires the member by itself).
   */
  for (const [topic, downMs, seed] of [['down-short', 5_000, 11], ['down-long', 30_000, 12]] as const) {
    it(`broker down for ${downMs / 1000} s after the first batch commit: the run waits and finishes exactly`, async () => {
      const { dir, events, spec } = await prepare(topic, seed);
      const run = startCli(['run', spec, '--available-now', '--log-level', 'info']);
      let outage: Promise<void> | undefined;
      run.child.stderr!.on('data', (chunk: Buffer) => {
        if (outage || !chunk.includes('batch committed')) return;
        outage = (async () => {
          await broker.down(1);
          await sleep(downMs);
          await broker.up(1);
        })();
      });
      const result = await run.done;
      await outage;
      expect(outage, 'the outage happened mid-run').toBeDefined();
      expect(result.code, result.stderr.slice(-3000)).toBe(0);
      expect(result.stdout).toMatch(new RegExp(`pipeline ${topic}: completed — ${EVENTS} records`));
      await expectExact(dir, events, `broker down ${downMs / 1000} s`);
    });
  }

  it('retriable errors on Produce, Fetch and OffsetCommit: exact tables, no duplicates', async () => {
    // Pushed errors are answered to whichever request of that API comes next, from any
    // client, and cannot be withdrawn: each error scenario gets a broker of its own.
    const own = await startBroker({ topics: [{ name: 'errors', partitions: PARTITIONS }] });
    try {
      const dir = scenarioDir('errors');
      const events = [...generateEvents({ count: EVENTS, seed: 13 })];
      // Produce errors hit the test's own (idempotent) producer: retried sends must not duplicate.
      await own.pushErrors(API.produce, 6, 3);
      await own.pushErrors(API.produce, 7, 2);
      expect(await produce(own, dir, 'errors', events)).toBe(EVENTS);
      const spec = writeFaultSpec(dir, { name: 'errors', topic: 'errors', bootstrap: own.bootstrap, streams: 2, maxRecordsPerBatch: 500 });
      await own.pushErrors(API.fetch, 6, 10);
      await own.pushErrors(API.offsetCommit, 14, 3);
      await own.pushErrors(API.offsetCommit, 16, 3);
      const run = await runAvailableNow(spec, dir);
      expect(run.code, run.stderr.slice(-3000)).toBe(0);
      expect(run.summary).toMatchObject({ status: 'completed', records: EVENTS });
      await expectExact(dir, events, 'retriable request errors (API 0/1/8)');
    } finally {
      await own.stop();
    }
  });

  /*
   * When the first JoinGroup of a stream's consumer is answered with a retriable error,
   * kafkajs restarts the consumer in the background; the stream must wait for the join (the
   * GROUP_JOIN handler positions it) instead of seeking on a group that does not exist yet.
   */
  it('retriable errors on JoinGroup (coordinator loading / not available): the run completes exactly', async () => {
    const own = await startBroker({ topics: [{ name: 'join-errors', partitions: PARTITIONS }] });
    try {
      const dir = scenarioDir('join-errors');
      const events = [...generateEvents({ count: 2_000, seed: 15 })];
      expect(await produce(own, dir, 'join-errors', events)).toBe(2_000);
      const spec = writeFaultSpec(dir, { name: 'join-errors', topic: 'join-errors', bootstrap: own.bootstrap, streams: 2 });
      await own.pushErrors(API.joinGroup, 15, 2);
      await own.pushErrors(API.joinGroup, 14, 2);
      const run = await runAvailableNow(spec, dir);
      expect(run.code, run.stderr.slice(-3000)).toBe(0);
      await expectExact(dir, events, 'retriable JoinGroup errors (API 11)');
    } finally {
      await own.stop();
    }
  });

  it('slow broker (500 ms round trip): the run completes exactly', async () => {
    const { dir, events, spec } = await prepare('slow', 14);
    await broker.rtt(1, 500);
    try {
      const run = await runAvailableNow(spec, dir);
      expect(run.code, run.stderr.slice(-3000)).toBe(0);
      expect(run.summary).toMatchObject({ status: 'completed', records: EVENTS });
    } finally {
      await broker.rtt(1, 0);
    }
    await expectExact(dir, events, 'slow broker (RTT 500 ms)');
  });
});
