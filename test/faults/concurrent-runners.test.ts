/**
 * Two runners started at the same moment on the same checkpoint (slim, part of `npm test`):
 * exactly one runs, the other refuses with PIPE_CHECKPOINT_LOCKED and writes nothing, and
 * the tables are exactly the reference — no batch was run twice.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCli } from '../support/cli.js';
import { startScenario, type Scenario } from './support/scenario.js';
import { verifyLake } from './support/verify.js';

let scenario: Scenario;
beforeAll(async () => {
  scenario = await startScenario('two-runners', { partitions: 4, streams: 2, events: 3_000, seed: 9, maxRecordsPerBatch: 500 });
}, 120_000);
afterAll(async () => {
  await scenario?.close();
});

describe('two runners on one checkpoint', () => {
  it('the second refuses; the first completes exactly', async () => {
    const args = ['run', scenario.spec, '--available-now', '--log-level', 'warn'];
    const [a, b] = await Promise.all([startCli(args).done, startCli(args).done]);
    const results = [a, b].sort((x, y) => (x.code ?? 9) - (y.code ?? 9));
    expect(results.map((r) => r.code)).toEqual([0, 1]);
    const [winner, loser] = results as [typeof a, typeof a];
    expect(winner.stdout).toMatch(/pipeline faults: completed — 3000 records/);
    expect(loser.stderr).toMatch(/^pipeline run: error PIPE_CHECKPOINT_LOCKED checkpoint of stream \d .* is in use by pid \d+/m);
    expect(loser.stdout).toBe('');
    const check = await verifyLake(scenario.lakePath, scenario.reference);
    expect(check.problems).toEqual([]);
  });
});
