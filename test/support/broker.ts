/**
 * The test broker (librdkafka's mock cluster) for a whole test file: started before the
 * file's first test, after checking the CLI is built, and stopped after its last.
 */
import { afterAll, beforeAll } from 'vitest';
import { startBroker, type StartBrokerOptions, type TestBroker } from '../../src/dev-broker/broker.js';
import { requireBuild } from './build.js';

/**
 * Starts a test broker with `topics` for this test file and returns it. The returned object
 * stands for the broker once `beforeAll` has run: use it inside tests and hooks, not at the
 * top level of the file. Call at the top level of a file.
 */
export function useTestBroker(topics: StartBrokerOptions['topics'], options: Omit<StartBrokerOptions, 'topics'> = {}): TestBroker {
  let broker: TestBroker | undefined;
  beforeAll(async () => {
    requireBuild();
    broker = await startBroker({ ...options, topics });
  });
  afterAll(async () => {
    await broker?.stop();
  });
  return new Proxy({} as TestBroker, {
    get(_target, key) {
      if (!broker) throw new Error('the test broker is used before beforeAll started it');
      const value = Reflect.get(broker, key, broker) as unknown;
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(broker) : value;
    },
  });
}
