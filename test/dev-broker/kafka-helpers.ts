/**
 * Small helpers for tests that talk to the test broker with a real kafkajs client.
 */
import { Kafka, logLevel, type Consumer, type ConsumerConfig } from 'kafkajs';

/** A record as a consumer saw it. */
export interface SeenRecord {
  partition: number;
  offset: number;
  key: string | null;
  value: string;
  /** Record timestamp, ms since epoch. */
  timestamp?: number;
}

/** A kafkajs client with quiet logs and short retries, suited to a local broker. */
export function kafkaClient(bootstrap: string, clientId = 'test'): Kafka {
  return new Kafka({
    clientId,
    brokers: bootstrap.split(','),
    logLevel: logLevel.NOTHING,
    retry: { retries: 20, initialRetryTime: 100, maxRetryTime: 1000 },
  });
}

/**
 * Runs `consumer` on `topic` from the beginning until `expected` records arrived (or the
 * timeout passes), then disconnects it and returns what it saw in arrival order.
 */
export async function consumeUntil(
  consumer: Consumer,
  topic: string,
  expected: number,
  timeoutMs = 30_000,
): Promise<SeenRecord[]> {
  const seen: SeenRecord[] = [];
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  let done!: () => void;
  const finished = new Promise<void>((resolve) => (done = resolve));
  await consumer.run({
    eachBatch: async ({ batch }) => {
      for (const m of batch.messages) {
        seen.push({ partition: batch.partition, offset: Number(m.offset), key: m.key?.toString() ?? null, value: m.value!.toString(), timestamp: Number(m.timestamp) });
      }
      if (seen.length >= expected) done();
    },
  });
  const timer = setTimeout(done, timeoutMs);
  await finished;
  clearTimeout(timer);
  await consumer.disconnect();
  return seen;
}

/**
 * Consumer settings that keep group joins short on the test broker: the mock delays a group's
 * first join by 3 s and, after a member leaves, waits `sessionTimeout - 1 s` for the others.
 */
export const fastGroup: Omit<ConsumerConfig, 'groupId'> = {
  sessionTimeout: 4_000,
  heartbeatInterval: 400,
  rebalanceTimeout: 4_000,
  maxWaitTimeInMs: 100,
};
