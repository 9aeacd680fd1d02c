/**
 * A run that cannot talk to its broker must end: one error line with a stable code, exit 1,
 * within a bounded time — never a process that prints its error and then hangs.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCli } from '../support/cli.js';
import { startScenario, writeScenarioSpec, type Scenario } from './support/scenario.js';

let scenario: Scenario;
beforeAll(async () => {
  if (!process.env.PIPELINE_FAULT_SUITE) return;
  scenario = await startScenario('connection', { partitions: 2, streams: 1, events: 100, seed: 4 });
}, 120_000);
afterAll(async () => {
  await scenario?.close();
});

describe.runIf(process.env.PIPELINE_FAULT_SUITE)('connection failures', () => {
  /*
   * SASL configured against a broker without SASL: the handshake fails; the run must print one
   * coded line and exit even though kafkajs still holds sockets and retry timers (the CLI
   * exits explicitly once a command returns).
   */
  it('SASL against a broker without SASL: exit 1 with a PIPE_ code within 30 s', async () => {
    const spec = writeScenarioSpec(scenario, {
      name: 'sasl-fail',
      kafkaExtra: ['sasl:', '  mechanism: plain', '  username: pipeline', '  password: ${PIPELINE_TEST_SASL_PASSWORD}'],
    }, 'sasl.yaml');
    const run = startCli(['run', spec, '--available-now', '--log-level', 'warn'], { PIPELINE_TEST_SASL_PASSWORD: 'not-a-real-password' }, 30_000);
    const result = await run.done;
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^pipeline run: error PIPE_SOURCE_\w+ /m);
  });
});
