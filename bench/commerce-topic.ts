/**
 * The set-up the commerce-events scenarios share: a scratch folder and a test broker with one
 * topic holding `events` generated commerce events, and the reference tables for them; both
 * removed once the scenario's body has finished, also when it throws.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBroker, writeRecordFile, type TestBroker } from '../src/dev-broker/broker.js';
import { generateEvents } from '../src/dev-broker/events.js';
import { computeReference, commerceReferenceSpec } from '../src/dev-broker/reference.js';
import { say } from './lib.js';

/** What a scenario's body gets. */
export interface CommerceTopic {
  /** Scratch folder, removed afterwards. */
  work: string;
  broker: TestBroker;
  /** Records the broker accepted. */
  produced: number;
  /** The reference model's tables for the produced events. */
  ref: ReturnType<typeof computeReference>;
}

/** Produces `events` commerce events (from `seed`) on `topic` with `partitions` partitions and runs `body` with them. */
export async function withCommerceTopic<T>(
  name: string,
  o: { topic: string; events: number; partitions: number; seed: number },
  body: (t: CommerceTopic) => Promise<T>,
): Promise<T> {
  const work = mkdtempSync(join(tmpdir(), `bench-${name}-`));
  const broker = await startBroker({ topics: [{ name: o.topic, partitions: o.partitions }] });
  try {
    const file = join(work, 'events.bin');
    await writeRecordFile(file, generateEvents({ count: o.events, seed: o.seed }));
    const ref = computeReference(generateEvents({ count: o.events, seed: o.seed }), commerceReferenceSpec());
    const produced = await broker.produceFile(o.topic, file);
    say(`produced ${produced} records on ${o.partitions} partitions`);
    return await body({ work, broker, produced, ref });
  } finally {
    await broker.stop();
    rmSync(work, { recursive: true, force: true });
  }
}
