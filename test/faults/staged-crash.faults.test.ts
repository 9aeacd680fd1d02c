/**
 * Staged mode survives a SIGKILL in every job at the point that hurts most — after some of a
 * batch's tables committed, before its checkpoint commit — and the gold tables still equal a
 * fused run's over the same events (no record lost, none merged or appended twice).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { generateEvents } from '../../src/dev-broker/events.js';
import { useTestBroker } from '../support/broker.js';
import { E2E_TIMEOUT, runAvailableNow, runCli } from '../support/cli.js';
import { produce, writeCommerceSpec } from '../support/commerce.js';
import { readGold, readTable } from '../support/tables.js';
import { tempDirs } from '../support/temp-dirs.js';

const broker = useTestBroker([{ name: 'crash', partitions: 3 }]);
const tempDir = tempDirs('staged-crash-');

describe('staged jobs after SIGKILL', () => {
  it('resume each job mid-batch without losing or repeating a record', async () => {
    const dir = tempDir();
    await produce(broker, dir, 'crash', [...generateEvents({ count: 2_000, seed: 21, malformedRate: 0.01 })]);
    const spec = writeCommerceSpec(dir, { topic: 'crash', bootstrap: broker.bootstrap, streams: 1, maxRecordsPerBatch: 300 });
    writeFileSync(spec, `${readFileSync(spec, 'utf8')}mode: staged\nstages:\n  raw: { streams: 2 }\n`);
    const job = (name: string, env: Record<string, string> = {}) => runCli(['run', spec, '--job', name, '--available-now', '--log-level', 'warn'], env);

    for (const [name, point] of [['raw', 'batch.after-table-commit:2'], ['bronze', 'batch.after-table-commit:3'], ['gold', 'batch.after-table-commit:4']] as const) {
      const killed = await job(name, { PIPELINE_FAILPOINT: point });
      expect(killed.signal, `${name}: ${killed.stdout}${killed.stderr.slice(-1500)}`).toBe('SIGKILL');
      const resumed = await job(name);
      expect(resumed.code, `${name}: ${resumed.stdout}${resumed.stderr.slice(-1500)}`).toBe(0);
    }
    const raw = await readTable(join(dir, 'lake/_raw/e2e'));
    expect(raw).toHaveLength(2_000);
    expect(new Set(raw.map((r) => `${r.partition}:${r.offset}`)).size).toBe(2_000);

    const fusedDir = tempDir();
    const fused = await runAvailableNow(writeCommerceSpec(fusedDir, { topic: 'crash', bootstrap: broker.bootstrap, streams: 2 }), fusedDir);
    expect(fused.code).toBe(0);
    const expected = await readGold(fusedDir);
    const actual = await readGold(dir);
    expect(actual.tables).toEqual(expected.tables);
    const coords = (rows: Record<string, unknown>[]) => rows.map((r) => `${r.partition}:${r.offset}:${r.stage}`).sort();
    expect(coords(actual.deadLetter)).toEqual(coords(expected.deadLetter));
  }, E2E_TIMEOUT);
});
