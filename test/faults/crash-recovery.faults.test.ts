/**
 * SIGKILL at random moments: each round produces a seeded event set, then runs
 * `pipeline run --available-now` and kills it — after a seeded random delay (any phase:
 * start-up, fetching, decoding, mid-MERGE, between the table commits and the checkpoint
 * commit) or at a seeded fail point and arrival count — once or twice, restarts until a run
 * completes, and checks the tables against the reference model.
 *
 * Every round prints its seed; `FAULT_SEED=<seed>` runs just that round again.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBroker, type TestBroker } from '../../src/dev-broker/broker.js';
import { createRandom, generateEvents } from '../../src/dev-broker/events.js';
import { commerceReferenceSpec, computeReference } from '../../src/dev-broker/reference.js';
import { FAILPOINTS } from '../../src/runtime/failpoints.js';
import { runAvailableNow, startCli } from '../support/cli.js';
import { produce } from '../support/commerce.js';
import { scenarioDir, writeFaultSpec } from './support/scenario.js';
import { recordResult } from './support/results.js';
import { verifyLake } from './support/verify.js';

const ROUNDS = 20;
const PARTITIONS = 8;
const EVENTS = 3_000;
/** A killed member lingers in its group until its session times out; keep that short. */
const ENV = { PIPELINE_KAFKA_SESSION_TIMEOUT_MS: '3000', PIPELINE_KAFKA_HEARTBEAT_INTERVAL_MS: '500' };
const onlySeed = process.env.FAULT_SEED ? Number(process.env.FAULT_SEED) : undefined;
const seeds = onlySeed !== undefined ? [onlySeed] : Array.from({ length: ROUNDS }, (_, i) => 1000 + i * 7919);

let broker: TestBroker;
beforeAll(async () => {
  broker = await startBroker({ topics: seeds.map((s) => ({ name: `crash-${s}`, partitions: PARTITIONS })) });
});
afterAll(async () => {
  await broker?.stop();
});

/**
 * One kill: `delayMs` after the process started or after its first batch commit, or at the
 * `count`-th arrival at fail point `point`.
 */
type Kill = { kind: 'delay'; from: 'start' | 'first-commit'; delayMs: number } | { kind: 'failpoint'; point: string; count: number };

function planKills(seed: number): Kill[] {
  const random = createRandom(seed);
  const kills: Kill[] = [];
  const howMany = 1 + Math.floor(random() * 2);
  for (let i = 0; i < howMany; i++) {
    const roll = random();
    if (roll < 0.2) kills.push({ kind: 'delay', from: 'start', delayMs: 300 + Math.floor(random() * 4_000) });
    else if (roll < 0.55) kills.push({ kind: 'delay', from: 'first-commit', delayMs: Math.floor(random() * 2_500) });
    else kills.push({ kind: 'failpoint', point: FAILPOINTS[Math.floor(random() * FAILPOINTS.length)]!, count: 1 + Math.floor(random() * 6) });
  }
  return kills;
}

describe.runIf(process.env.PIPELINE_FAULT_SUITE)('SIGKILL at random moments', () => {
  for (const seed of seeds) {
    it(`round with seed ${seed}`, async () => {
      const kills = planKills(seed);
      console.log(`crash round: seed ${seed} (FAULT_SEED=${seed} to reproduce), kills ${JSON.stringify(kills)}`);
      const dir = scenarioDir(`crash-${seed}`);
      const topic = `crash-${seed}`;
      const random = createRandom(seed ^ 0x5bd1e995);
      const events = [...generateEvents({ count: EVENTS, seed, malformedRate: 0.005 })];
      expect(await produce(broker, dir, topic, events)).toBe(EVENTS);
      const streams = 1 + Math.floor(random() * 3);
      const spec = writeFaultSpec(dir, { name: `crash-${seed}`, topic, bootstrap: broker.bootstrap, streams, maxRecordsPerBatch: 300 + Math.floor(random() * 600) });

      const outcomes: string[] = [];
      for (const kill of kills) {
        if (kill.kind === 'delay') {
          const run = startCli(['run', spec, '--available-now', '--log-level', 'info'], ENV);
          let timer: NodeJS.Timeout | undefined;
          const arm = () => (timer ??= setTimeout(() => run.child.kill('SIGKILL'), kill.delayMs));
          if (kill.from === 'start') arm();
          else run.child.stderr!.on('data', (chunk: Buffer) => chunk.includes('batch committed') && arm());
          const result = await run.done;
          clearTimeout(timer);
          const when = `${kill.delayMs} ms after ${kill.from}`;
          outcomes.push(result.signal === 'SIGKILL' ? `killed ${when}` : `finished (code ${result.code}) before ${when}`);
          if (result.signal !== 'SIGKILL') expect(result.code, result.stderr.slice(-2000)).toBe(0);
        } else {
          const result = await runAvailableNow(spec, dir, { ...ENV, PIPELINE_FAILPOINT: `${kill.point}:${kill.count}` });
          outcomes.push(result.signal === 'SIGKILL' ? `killed at ${kill.point}:${kill.count}` : `finished (code ${result.code}) before ${kill.point}:${kill.count}`);
          if (result.signal !== 'SIGKILL') expect(result.code, result.stderr.slice(-2000)).toBe(0);
        }
      }
      // Restart until a run completes; a completed run is never killed again.
      let final = await runAvailableNow(spec, dir, ENV);
      expect(final.code, final.stderr.slice(-3000)).toBe(0);
      expect(final.summary?.status).toBe('completed');
      console.log(`crash round: seed ${seed}: streams ${streams}, ${outcomes.join('; ')}; final run read ${final.summary?.records} records`);

      const reference = computeReference(events, commerceReferenceSpec());
      const check = await verifyLake(`${dir}/lake`, reference);
      expect(check.problems).toEqual([]);
      // Nothing is left to read: a further run is a no-op.
      final = await runAvailableNow(spec, dir, ENV);
      expect(final.summary?.records).toBe(0);
      recordResult('SIGKILL at random moments', EVENTS, check.rowsChecked);
    });
  }
});
