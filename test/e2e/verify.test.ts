/**
 * `pipeline verify` after a real run against the test broker: a consistent lake passes, and
 * each tampering a user could meet after an incident is caught and named — a deleted commit
 * file, a missing data file, a checkpoint ahead of a table, an offsets gap.
 */
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateEvents } from '../../src/dev-broker/events.js';
import { Lake } from '../../src/lake/index.js';
import { E2E_TIMEOUT, runAvailableNow, runCli } from '../support/cli.js';
import { produce, writeCommerceSpec } from '../support/commerce.js';
import { useTestBroker } from '../support/broker.js';

let dir: string;
let spec: string;

const broker = useTestBroker([{ name: 'audit', partitions: 4 }]);
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'verify-e2e-'));
  await produce(broker, dir, 'audit', [...generateEvents({ count: 2_000, seed: 11, malformedRate: 0.02 })]);
  spec = writeCommerceSpec(dir, { topic: 'audit', bootstrap: broker.bootstrap, streams: 2, maxRecordsPerBatch: 300 });
  const run = await runAvailableNow(spec, dir);
  expect(run.code).toBe(0);
}, E2E_TIMEOUT);

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** A copy of the run's lake and checkpoints, and `verify` pointed at the copy. */
function copy(name: string) {
  const target = join(dir, name);
  cpSync(join(dir, 'lake'), target, { recursive: true });
  const verify = async () => {
    const r = await runCli(['verify', spec, '--set', `output.path=${target}`, '--set', `checkpoint.path=${join(target, '_checkpoints')}`]);
    return { ...r, json: undefined };
  };
  return { lake: target, cp: join(target, '_checkpoints'), verify };
}

const commits = (table: string) => readdirSync(join(table, '_delta_log')).filter((n) => /^\d{20}\.json$/.test(n)).sort();

describe('pipeline verify', () => {
  it('finds a fresh run consistent: one line per stream and table, every batch counted (exit 0)', async () => {
    const r = await runCli(['verify', spec]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^stream 0 +ok {4}batches 0\.\.\d+ committed, next p0@\d+ p2@\d+, \d+ counted$/m);
    expect(r.stdout).toMatch(/^stream 1 +ok {4}batches 0\.\.\d+ committed, next p1@\d+ p3@\d+, \d+ counted$/m);
    expect(r.stdout).toMatch(/^table orders +ok {4}version \d+, \d+ files, txn e2e\/0=\d+ e2e\/1=\d+$/m);
    expect(r.stdout).toMatch(/^table _dead_letter +ok/m);
    expect(r.stdout).toContain('\nbroker: committed positions checked against the topic\n');
    expect(r.stdout.trim().endsWith('consistent')).toBe(true);
    const json = JSON.parse((await runCli(['verify', spec, '--format', 'json'])).stdout);
    expect(json.consistent).toBe(true);
    const counted = json.streams.reduce((n: number, s: { batchesCounted: number }) => n + s.batchesCounted, 0);
    expect(counted).toBeGreaterThan(4);
  }, E2E_TIMEOUT);

  it('catches a deleted commit file', async () => {
    const c = copy('deleted-commit');
    const orders = join(c.lake, 'orders');
    unlinkSync(join(orders, '_delta_log', commits(orders)[1]!));
    const r = await c.verify();
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^table orders +FAIL/m);
    expect(r.stdout).toContain('commit-missing: table orders: commit 1 is missing');
  }, E2E_TIMEOUT);

  it('catches a missing data file', async () => {
    const c = copy('missing-file');
    const lake = await Lake.create({ threads: 1 });
    const files = (await lake.snapshot(join(c.lake, 'users'))).files;
    lake.close();
    unlinkSync(join(c.lake, 'users', files[0]!.path));
    const r = await c.verify();
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(`file-missing: table users: data file ${files[0]!.path} is in the log`);
  }, E2E_TIMEOUT);

  it('catches a checkpoint ahead of its tables, and an offsets gap', async () => {
    const c = copy('ahead');
    const stream = join(c.cp, '0');
    const last = Math.max(...readdirSync(join(stream, 'commits')).map(Number));
    // Batch last+1 claims to be committed, but no table holds it.
    const offsets = JSON.parse(readFileSync(join(stream, 'offsets', String(last)), 'utf8'));
    const ranges = Object.fromEntries(Object.entries(offsets.ranges as Record<string, [number, number]>).map(([p, [, u]]) => [p, [u + 5, u + 9]]));
    writeFileSync(join(stream, 'offsets', String(last + 1)), JSON.stringify({ ...offsets, batchId: last + 1, ranges }));
    writeFileSync(join(stream, 'commits', String(last + 1)), readFileSync(join(stream, 'commits', String(last))));
    const r = await c.verify();
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^stream 0 +FAIL/m);
    expect(r.stdout).toMatch(new RegExp(`checkpoint-ahead: table \\w+: stream 0 committed batch ${last + 1} \\(p0 \\[\\d+, \\d+\\)`));
    expect(r.stdout).toMatch(new RegExp(`offsets-gap: stream 0 batch ${last + 1}: partition 0 starts at \\d+, but the previous batch ended at \\d+`));
    // The fabricated batch also claims offsets the topic does not have yet.
    expect(r.stdout).toMatch(/beyond-end: stream 0: partition 0 was read up to \d+, but the topic ends at \d+/);
  }, E2E_TIMEOUT);
});
