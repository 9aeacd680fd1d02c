/**
 * A fault scenario's world: a temp directory, the test broker with one topic, a known event
 * set produced into it, a commerce spec pointing at both, and the reference model of what the
 * tables must hold once every event is consumed. Runs go through the built CLI
 * (`node bin/pipeline.js run …`) exactly as users run it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBroker, type TestBroker } from '../../../src/dev-broker/broker.js';
import { generateEvents, type GeneratedEvent } from '../../../src/dev-broker/events.js';
import { commerceReferenceSpec, computeReference, type ReferenceResult } from '../../../src/dev-broker/reference.js';
import { runAvailableNow, runCli } from '../../support/cli.js';
import { produce, type SpecOptions, writeCommerceSpec } from '../../support/commerce.js';

/** The commerce spec with the fault scenarios' defaults (short interval, small batches, failOnDataLoss). */
export function writeFaultSpec(dir: string, o: SpecOptions, file = 'spec.yaml'): string {
  return writeCommerceSpec(
    dir,
    { ...o, name: o.name ?? 'faults', interval: o.interval ?? '300ms', maxRecordsPerBatch: o.maxRecordsPerBatch ?? 1500, failOnDataLoss: o.failOnDataLoss ?? true },
    file,
  );
}

/** What a scenario starts with. */
export interface ScenarioOptions {
  partitions: number;
  streams: number;
  events: number;
  seed: number;
  /** Share of malformed events (default 0.004, so the dead-letter table is never empty). */
  malformedRate?: number;
  interval?: string;
  maxRecordsPerBatch?: number;
  brokers?: number;
  /** Serve the broker on a fixed local port (needed when a scenario swaps brokers). */
  port?: number;
  outputPath?: string;
  failOnDataLoss?: boolean;
}

/** A running scenario; `close()` stops the broker and removes the directory. */
export interface Scenario {
  dir: string;
  broker: TestBroker;
  topic: string;
  spec: string;
  lakePath: string;
  events: GeneratedEvent[];
  reference: ReferenceResult;
  /** Produces more events and folds them into the reference. */
  produceMore(events: GeneratedEvent[]): Promise<void>;
  close(): Promise<void>;
}

/** Another spec over a scenario's topic and broker (one stream unless `o` says otherwise), written into its directory. */
export function writeScenarioSpec(scenario: Pick<Scenario, 'dir' | 'topic' | 'broker'>, o: Omit<SpecOptions, 'topic' | 'bootstrap' | 'streams'> & { streams?: number }, file: string): string {
  return writeFaultSpec(scenario.dir, { topic: scenario.topic, bootstrap: scenario.broker.bootstrap, streams: 1, ...o }, file);
}

/** Makes a scenario directory under the OS temp dir (or `base`). */
export function scenarioDir(label: string, base = tmpdir()): string {
  return mkdtempSync(join(base, `faults-${label}-`));
}

/** Starts a broker, produces `events` seeded events, writes the spec. */
export async function startScenario(label: string, o: ScenarioOptions): Promise<Scenario> {
  const dir = scenarioDir(label);
  const topic = 'events';
  const broker = await startBroker({ brokers: o.brokers, topics: [{ name: topic, partitions: o.partitions }], port: o.port });
  const events = [...generateEvents({ count: o.events, seed: o.seed, malformedRate: o.malformedRate ?? 0.004 })];
  const all: GeneratedEvent[] = [];
  const lakePath = o.outputPath ?? join(dir, 'lake');
  const spec = writeFaultSpec(dir, {
    topic,
    bootstrap: broker.bootstrap,
    streams: o.streams,
    interval: o.interval,
    maxRecordsPerBatch: o.maxRecordsPerBatch,
    outputPath: lakePath,
    failOnDataLoss: o.failOnDataLoss,
  });
  const scenario: Scenario = {
    dir,
    broker,
    topic,
    spec,
    lakePath,
    events: all,
    reference: computeReference([], commerceReferenceSpec()),
    async produceMore(more) {
      const delivered = await produce(broker, dir, topic, more, `events-${all.length}`);
      if (delivered !== more.length) throw new Error(`produced ${delivered} of ${more.length} events`);
      all.push(...more);
      scenario.reference = computeReference(all, commerceReferenceSpec());
    },
    async close() {
      await broker.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    await scenario.produceMore(events);
  } catch (err) {
    await scenario.close();
    throw err;
  }
  return scenario;
}

export { runAvailableNow, runCli };
