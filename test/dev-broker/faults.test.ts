/**
 * Fault injection through the launcher, observed by a real kafkajs consumer: a broker taken
 * down stalls the consumer (it retries, nothing is lost), bringing it up lets it continue.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBroker, writeRecordFile, type TestBroker } from '../../src/dev-broker/broker.js';
import { fastGroup, kafkaClient } from './kafka-helpers.js';

const TOPIC = 'faulty';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitFor(condition: () => boolean, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > until) throw new Error(`condition not met within ${timeoutMs} ms`);
    await sleep(50);
  }
}

describe('test broker faults', () => {
  let broker: TestBroker;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'faults-test-'));
    broker = await startBroker({ topics: [{ name: TOPIC, partitions: 2 }] });
  });
  afterAll(async () => {
    await broker?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a consumer stalls while its broker is down and resumes after up, losing nothing', async () => {
    const batch = async (name: string, from: number) => {
      const file = join(dir, `${name}.bin`);
      await writeRecordFile(file, Array.from({ length: 100 }, (_, i) => ({ key: `k${i}`, value: String(from + i) })));
      return broker.produceFile(TOPIC, file);
    };
    const seen: number[] = [];
    const consumer = kafkaClient(broker.bootstrap).consumer({ groupId: 'fault-reader', ...fastGroup });
    let connectionErrors = 0;
    consumer.on(consumer.events.REQUEST_TIMEOUT, () => connectionErrors++);
    consumer.on(consumer.events.CRASH, () => connectionErrors++);
    await consumer.connect();
    await consumer.subscribe({ topic: TOPIC, fromBeginning: true });
    await consumer.run({ eachMessage: async ({ message }) => void seen.push(Number(message.value!.toString())) });
    try {
      await batch('a', 0);
      await waitFor(() => seen.length === 100, 20_000);

      // Queue batch B while the consumer is paused, so the broker holds it when it goes down.
      consumer.pause([{ topic: TOPIC }]);
      await batch('b', 100);
      await broker.down(1);
      consumer.resume([{ topic: TOPIC }]);
      await sleep(2_500);
      expect(seen).toHaveLength(100);

      await broker.up(1);
      await waitFor(() => seen.length >= 200, 30_000);
      expect([...new Set(seen)].sort((a, b) => a - b)).toEqual(Array.from({ length: 200 }, (_, i) => i));
    } finally {
      await consumer.disconnect();
    }
  });

  it('pushed request errors are returned to clients and then cleared', async () => {
    const admin = kafkaClient(broker.bootstrap).admin();
    await admin.connect();
    try {
      // ListOffsets (api key 2) fails twice with NOT_LEADER_OR_FOLLOWER (6), then answers again.
      // kafkajs' admin.fetchTopicOffsets does not retry this error itself.
      await broker.pushErrors(2, 6, 2);
      await expect(admin.fetchTopicOffsets(TOPIC)).rejects.toThrow(/not the leader/i);
      await expect(admin.fetchTopicOffsets(TOPIC)).rejects.toThrow(/not the leader/i);
      const offsets = await admin.fetchTopicOffsets(TOPIC);
      expect(offsets.map((o) => Number(o.high)).reduce((a, b) => a + b, 0)).toBe(200);
    } finally {
      await admin.disconnect();
    }
  });
});
