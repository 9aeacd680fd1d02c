/**
 * The topic changes under the pipeline: it disappears, it is deleted and recreated, or it
 * gains partitions.
 *
 * What the test broker allows: librdkafka 2.0.2's mock cluster has no API to delete a topic or
 * change its partition count (rdkafka_mock.h offers topic_create and topic_set_error only; the
 * launcher exposes neither DeleteTopics nor CreatePartitions, and the mock does not implement
 * those Kafka APIs). So these scenarios change the topic *between* runs by swapping brokers
 * behind one fixed bootstrap port: the new broker holds the changed topic. A change *while*
 * a run is in progress cannot be produced here (see the Guarantees section).
 */
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startBroker, type TestBroker } from '../../src/dev-broker/broker.js';
import { generateEvents, type GeneratedEvent } from '../../src/dev-broker/events.js';
import { commerceReferenceSpec, computeReference } from '../../src/dev-broker/reference.js';
import { runAvailableNow } from '../support/cli.js';
import { produce } from '../support/commerce.js';
import { recordResult } from './support/results.js';
import { scenarioDir, writeFaultSpec } from './support/scenario.js';
import { verifyLake } from './support/verify.js';

const running: TestBroker[] = [];
afterEach(async () => {
  for (const b of running.splice(0)) await b.stop();
});

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function broker(port: number, partitions: number, topic = 'topic'): Promise<TestBroker> {
  const b = await startBroker({ topics: [{ name: topic, partitions }], port });
  running.push(b);
  return b;
}

async function swap(old: TestBroker, port: number, partitions: number, topic?: string): Promise<TestBroker> {
  await old.stop();
  running.splice(running.indexOf(old), 1);
  return broker(port, partitions, topic);
}

/** Events with null keys (round-robin partitions) and ids prefixed so sets never collide. */
function events(count: number, seed: number, prefix: string): GeneratedEvent[] {
  return [...generateEvents({ count, seed })].map((e) => ({
    key: null,
    value: Buffer.from(e.value.toString('latin1').replace(/"id":"/, `"id":"${prefix}`), 'latin1'),
    timestamp: e.timestamp,
  }));
}

describe.runIf(process.env.PIPELINE_FAULT_SUITE)('topic changes between runs', () => {
  /*
   * The mock creates any topic a Metadata request names, even when the request says
   * allow_auto_topic_creation=false (kafkajs' admin does), so a deleted topic comes back empty
   * with the mock's default partition count — as on a real cluster with
   * auto.create.topics.enable=true. The runner's own "topic does not exist" error
   * (PIPE_SOURCE_TOPIC) cannot be reached on this broker.
   */
  it('a topic deleted while the pipeline is stopped: a clear data-loss error, tables untouched', async () => {
    const port = await freePort();
    let b = await broker(port, 2);
    const dir = scenarioDir('deleted');
    const first = events(1_000, 40, 'a-');
    expect(await produce(b, dir, 'topic', first)).toBe(1_000);
    const spec = writeFaultSpec(dir, { name: 'deleted', topic: 'topic', bootstrap: b.bootstrap, streams: 1 });
    expect((await runAvailableNow(spec, dir)).code).toBe(0);

    b = await swap(b, port, 2, 'other');
    const run = await runAvailableNow(spec, dir);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^pipeline run: error PIPE_SOURCE_DATA_LOSS stream 0: partition [01] ends at 0 but the checkpoint is at 500 \(was the topic recreated\?\)/m);
    const check = await verifyLake(join(dir, 'lake'), computeReference(first, commerceReferenceSpec()));
    expect(check.problems).toEqual([]);
  });

  it('a topic deleted and recreated (offsets start over): a clear data-loss error', async () => {
    const port = await freePort();
    let b = await broker(port, 2);
    const dir = scenarioDir('recreated');
    const first = events(1_000, 41, 'a-');
    expect(await produce(b, dir, 'topic', first)).toBe(1_000);
    const spec = writeFaultSpec(dir, { name: 'recreated', topic: 'topic', bootstrap: b.bootstrap, streams: 1 });
    expect((await runAvailableNow(spec, dir)).code).toBe(0);

    b = await swap(b, port, 2);
    expect(await produce(b, dir, 'topic', events(100, 42, 'b-'), 'recreated')).toBe(100);
    const run = await runAvailableNow(spec, dir);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^pipeline run: error PIPE_SOURCE_DATA_LOSS stream 0: partition [01] ends at 50 but the checkpoint is at 500 \(was the topic recreated\?\)/m);
    const check = await verifyLake(join(dir, 'lake'), computeReference(first, commerceReferenceSpec()));
    expect(check.problems).toEqual([]);
  });

  it('partitions added: each new partition is read by its owning stream, tables exact', async () => {
    const port = await freePort();
    let b = await broker(port, 4);
    const dir = scenarioDir('grown');
    const first = events(2_000, 43, 'a-');
    expect(await produce(b, dir, 'topic', first)).toBe(2_000);
    const spec = writeFaultSpec(dir, { name: 'grown', topic: 'topic', bootstrap: b.bootstrap, streams: 2 });
    expect((await runAvailableNow(spec, dir)).code).toBe(0);

    // The grown topic: partitions 0-3 hold exactly what they held (round-robin over 4 put
    // event i at partition i % 4), partitions 4-5 are new. Round-robin over 6 takes the file in
    // rounds of six slots: four old events, then two new ones.
    b = await swap(b, port, 6);
    const added = events(1_000, 44, 'n-');
    const layout: GeneratedEvent[] = [];
    for (let round = 0; round < first.length / 4; round++) layout.push(...first.slice(round * 4, round * 4 + 4), ...added.slice(round * 2, round * 2 + 2));
    expect(await produce(b, dir, 'topic', layout, 'regrown')).toBe(3_000);
    const later = events(1_200, 45, 'm-');
    expect(await produce(b, dir, 'topic', later, 'later')).toBe(1_200);

    const run = await runAvailableNow(spec, dir);
    expect(run.code, run.stderr.slice(-2000)).toBe(0);
    expect(run.summary?.records).toBe(added.length + later.length);
    expect(run.summary?.streams.map((s: { partitions: number[] }) => s.partitions)).toEqual([[0, 2, 4], [1, 3, 5]]);
    const check = await verifyLake(join(dir, 'lake'), computeReference([...first, ...added, ...later], commerceReferenceSpec()));
    expect(check.problems).toEqual([]);
    recordResult('partitions added between runs', first.length + added.length + later.length, check.rowsChecked);
  });
});
