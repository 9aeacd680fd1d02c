/**
 * `pipeline deadletter replay` end to end on the test broker: records quarantined by an
 * expectation land after the spec is fixed, exactly once (a second replay changes no table
 * and reports 0); a record that fails again is dead-lettered again with its new reason and
 * is taken again only by `--retry-failed` after a further fix.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBroker, writeRecordFile, type TestBroker } from '../../src/dev-broker/broker.js';
import { E2E_TIMEOUT, ROOT, runAvailableNow, runCli } from './harness.js';
import { readVersioned } from '../support/tables.js';

let broker: TestBroker;
let dir: string;

const values = [
  { kind: 'order', id: 1, seq: 1, amount: 5 },
  { kind: 'order', id: 2, seq: 1, amount: -3 },
  { kind: 'refund', id: 3, amount: -4 },
  { kind: 'order', id: 4, seq: 1, amount: -50 },
  { kind: 'refund', id: 5, amount: 7 },
  { kind: 'refund', id: 6, amount: -2 },
];

beforeAll(async () => {
  if (!existsSync(join(ROOT, 'dist/src/cli/main.js'))) throw new Error('build first: npx tsc -p tsconfig.build.json');
  broker = await startBroker({ topics: [{ name: 'fixable', partitions: 1 }] });
  dir = mkdtempSync(join(tmpdir(), 'dl-replay-'));
  const file = join(dir, 'records.bin');
  await writeRecordFile(file, values.map((v, i) => ({ key: `k${v.id}`, value: JSON.stringify(v), timestamp: 1_700_000_000_000 + i })));
  expect(await broker.produceFile('fixable', file)).toBe(values.length);
});
afterAll(async () => {
  await broker?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function writeSpec(minAmount: number, root = dir, name = 'fixable', batch = 100): string {
  const file = join(root, 'spec.yaml');
  writeFileSync(file, `apiVersion: pipeline/v1
name: ${name}
source:
  kafka: { brokers: ["${broker.bootstrap}"], topic: fixable }
streams: 1
trigger: { interval: 200ms, maxRecordsPerBatch: ${batch} }
routing:
  field: kind
  routes: { order: orders, refund: refunds }
tables:
  orders:
    mergeKeys: [id]
    sequenceBy: seq
    expectations:
      - { name: amount_in_range, expr: "amount >= ${minAmount}", action: quarantine }
  refunds:
    mode: append
    expectations:
      - { name: amount_in_range, expr: "amount >= ${minAmount}", action: quarantine }
deadLetter: { table: _dead_letter, maxRatio: 1 }
output: { path: ${join(root, 'lake')} }
`);
  return file;
}

type Rows = Record<string, unknown>[];
const read = (root = dir) => readVersioned(join(root, 'lake'), ['orders', 'refunds', '_dead_letter', '_deadletter_replays']);

async function replay(...args: string[]) {
  return replayIn(dir, ...args);
}

async function replayIn(root: string, ...args: string[]) {
  const r = await runCli(['deadletter', 'replay', join(root, 'spec.yaml'), '--format', 'json', ...args]);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as { replayed: number; recovered: number; landed: number; dropped: number; failedAgain: number; failures: { table: string; stage: string; reason: string; count: number }[] };
}

const ids = (rows: Rows | undefined) => (rows ?? []).map((r) => r.id).sort();

describe('pipeline deadletter replay', () => {
  it('lands fixed records exactly once; failures again are dead-lettered, not lost', async () => {
    const run = await runAvailableNow(writeSpec(0), dir);
    expect(run.code, run.stderr.slice(-2000)).toBe(0);
    const first = await read();
    expect(ids(first.orders?.rows)).toEqual([1]);
    expect(ids(first.refunds?.rows)).toEqual([5]);
    expect(first._dead_letter!.rows).toHaveLength(4);

    // Before a fix, `--table` narrows the selection; nothing is due twice.
    writeSpec(-10);
    const refunds = await replay('--table', 'refunds');
    expect(refunds).toMatchObject({ replayed: 2, landed: 2, failedAgain: 0 });
    expect(ids((await read()).refunds!.rows)).toEqual([3, 5, 6]);

    // Half of them fail again: past a maxRatio of 0.4 the replay reports, then exits 1.
    const limited = await runCli(['deadletter', 'replay', join(dir, 'spec.yaml'), '--format', 'json', '--set', 'deadLetter.maxRatio=0.4']);
    expect(limited.code).toBe(1);
    expect(limited.stderr).toContain('error PIPE_RUN_DEAD_LETTER_LIMIT 1 of 2 replayed records failed again, more than deadLetter.maxRatio (0.4) of 2 records');
    const orders = JSON.parse(limited.stdout) as Awaited<ReturnType<typeof replay>>;
    expect(orders).toMatchObject({ replayed: 2, landed: 1, dropped: 0, failedAgain: 1 });
    expect(orders.failures).toEqual([{ table: 'orders', stage: 'expectation', reason: "table 'orders': expectation 'amount_in_range' failed: amount >= -10", count: 1 }]);
    const after = await read();
    expect(ids(after.orders!.rows)).toEqual([1, 2]);
    expect(ids(after.refunds!.rows)).toEqual([3, 5, 6]);
    // Record id 4 (offset 3) failed again: its new reason is a new dead-letter row, nothing is lost.
    expect(after._dead_letter!.rows.filter((r) => r.offset === 3).map((r) => r.error).sort()).toEqual([
      "table 'orders': expectation 'amount_in_range' failed: amount >= -10",
      "table 'orders': expectation 'amount_in_range' failed: amount >= 0",
    ]);
    expect(after._deadletter_replays!.rows).toHaveLength(4);

    // A second replay is a no-op: every table stays at its version.
    const noop = await replay();
    expect(noop).toMatchObject({ replayed: 0, landed: 0, failedAgain: 0 });
    const still = await read();
    for (const t of ['orders', 'refunds', '_dead_letter', '_deadletter_replays']) expect(still[t]!.version, t).toBe(after[t]!.version);

    // A lost replay checkpoint does not make the next replay reuse batch ids the tables hold.
    rmSync(join(dir, 'lake', '_checkpoints', 'deadletter-replay'), { recursive: true });
    // After a further fix, `--retry-failed` takes the record that failed again, once.
    writeSpec(-100);
    const retried = await replay('--retry-failed');
    expect(retried).toMatchObject({ replayed: 1, landed: 1, failedAgain: 0 });
    expect(ids((await read()).orders!.rows)).toEqual([1, 2, 4]);
    expect(await replay('--retry-failed')).toMatchObject({ replayed: 0 });

    // The pipeline itself goes on from where it was: nothing re-read, nothing doubled.
    const rerun = await runAvailableNow(writeSpec(-100), dir);
    expect(rerun.code, rerun.stderr.slice(-2000)).toBe(0);
    const final = await read();
    expect(ids(final.refunds!.rows)).toEqual([3, 5, 6]);
    expect(ids(final.orders!.rows)).toEqual([1, 2, 4]);
  }, E2E_TIMEOUT);

  // Killed inside a replay batch (2 records per batch): after a table commit of the 2nd batch (the
  // batch is re-run) and before the 1st batch's marks (only the marks are written). The next
  // replay finishes it: each record lands once, the record failing again has one new row.
  const points = ['batch.after-table-commit:2', 'replay.before-marks:1'];
  it.each(points)('a replay killed at %s is finished exactly once by the next', async (point) => {
    const root = mkdtempSync(join(tmpdir(), 'dl-replay-crash-'));
    try {
      const name = `crash-${point.replace(/[^a-z0-9]/g, '-')}`;
      const run = await runAvailableNow(writeSpec(0, root, name, 2), root);
      expect(run.code, run.stderr.slice(-2000)).toBe(0);
      writeSpec(-10, root, name, 2);
      const killed = await runCli(['deadletter', 'replay', join(root, 'spec.yaml'), '--format', 'json'], { PIPELINE_FAILPOINT: point });
      expect(killed.code, killed.stderr).not.toBe(0);
      const finished = await replayIn(root);
      expect(finished.recovered).toBeGreaterThan(0);
      expect(await replayIn(root)).toMatchObject({ replayed: 0 });
      const t = await read(root);
      expect(ids(t.refunds!.rows)).toEqual([3, 5, 6]);
      expect(ids(t.orders!.rows)).toEqual([1, 2]);
      expect(t._dead_letter!.rows.map((r) => r.offset).sort()).toEqual([1, 2, 3, 3, 5]);
      expect(t._deadletter_replays!.rows.map((r) => [r.offset, r.failed_again]).sort()).toEqual([[1, false], [2, false], [3, true], [5, false]]);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  }, E2E_TIMEOUT);
});
