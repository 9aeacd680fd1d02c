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

beforeAll(async () => {
  if (!existsSync(join(ROOT, 'dist/src/cli/main.js'))) throw new Error('build first: npx tsc -p tsconfig.build.json');
  broker = await startBroker({ topics: [{ name: 'fixable', partitions: 1 }] });
  dir = mkdtempSync(join(tmpdir(), 'dl-replay-'));
});
afterAll(async () => {
  await broker?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function writeSpec(minAmount: number): string {
  const file = join(dir, 'spec.yaml');
  writeFileSync(file, `apiVersion: pipeline/v1
name: fixable
source:
  kafka: { brokers: ["${broker.bootstrap}"], topic: fixable }
streams: 1
trigger: { interval: 200ms, maxRecordsPerBatch: 100 }
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
output: { path: ${join(dir, 'lake')} }
`);
  return file;
}

type Rows = Record<string, unknown>[];
const read = () => readVersioned(join(dir, 'lake'), ['orders', 'refunds', '_dead_letter', '_deadletter_replays']);

async function replay(...args: string[]) {
  const r = await runCli(['deadletter', 'replay', join(dir, 'spec.yaml'), '--format', 'json', ...args]);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as { replayed: number; landed: number; dropped: number; failedAgain: number; failures: { table: string; stage: string; reason: string; count: number }[] };
}

const ids = (rows: Rows | undefined) => (rows ?? []).map((r) => r.id).sort();

describe('pipeline deadletter replay', () => {
  it('lands fixed records exactly once; failures again are dead-lettered, not lost', async () => {
    const values = [
      { kind: 'order', id: 1, seq: 1, amount: 5 },
      { kind: 'order', id: 2, seq: 1, amount: -3 },
      { kind: 'refund', id: 3, amount: -4 },
      { kind: 'order', id: 4, seq: 1, amount: -50 },
      { kind: 'refund', id: 5, amount: 7 },
      { kind: 'refund', id: 6, amount: -2 },
    ];
    const file = join(dir, 'records.bin');
    await writeRecordFile(file, values.map((v, i) => ({ key: `k${v.id}`, value: JSON.stringify(v), timestamp: 1_700_000_000_000 + i })));
    expect(await broker.produceFile('fixable', file)).toBe(values.length);

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

    const orders = await replay();
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
});
