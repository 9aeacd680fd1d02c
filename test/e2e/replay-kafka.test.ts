/**
 * `pipeline replay --from-offsets / --from-timestamp` end to end on the test broker: a deleted
 * gold table (append, then upsert) is re-derived from the topic and comes back identical to the
 * fused run's; a second replay writes nothing; other tables, the dead-letter table and the
 * checkpoints are untouched; a replay killed half-way resumes; an append table still holding
 * the pipeline's records is refused; records a tightened spec refuses go to the dead-letter
 * table once; `verify` accepts a table rebuilt whole and reports one rebuilt in part.
 */
import { readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { generateEvents } from '../../src/dev-broker/events.js';
import { E2E_ON_KAFKA, useE2eBroker } from '../support/broker.js';
import { E2E_TIMEOUT, runAvailableNow, runCli } from '../support/cli.js';
import { produce, writeCommerceSpec } from '../support/commerce.js';
import { readGold, readVersioned } from '../support/tables.js';
import { tempDirs } from '../support/temp-dirs.js';

// Also on Apache Kafka (npm run test:kafka), whose time index --from-timestamp needs.
const broker = useE2eBroker([{ name: 'replayed', partitions: 3 }, { name: 'tightened', partitions: 1 }]);
const tempDir = tempDirs('replay-kafka-e2e-');

/** Every file under `dir` (except `skip`) with its size and modification time. */
function listing(dir: string, skip: string[] = []): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && !skip.some((s) => join(e.parentPath, e.name).startsWith(join(dir, s))))
    .map((e) => {
      const p = join(e.parentPath, e.name);
      const st = statSync(p);
      return `${p}:${st.size}:${st.mtimeMs}`;
    })
    .sort();
}

describe('pipeline replay from Kafka', () => {
  it('rebuilds a deleted table from offsets or a timestamp, identical, idempotent, touching nothing else', async () => {
    const dir = tempDir();
    // Record timestamps start at a known time, so --from-timestamp can name the first one.
    const events = [...generateEvents({ count: 2_500, seed: 17, malformedRate: 0.01 })];
    const first = new Date(Math.min(...events.map((e) => e.timestamp))).toISOString();
    await produce(broker, dir, 'replayed', events);
    const spec = writeCommerceSpec(dir, { topic: 'replayed', bootstrap: broker.bootstrap, streams: 2, maxRecordsPerBatch: 700 });
    const run = await runAvailableNow(spec, dir);
    expect(run.code, run.stderr.slice(-2000)).toBe(0);
    const expected = await readGold(dir);
    expect(expected.deadLetter.length).toBeGreaterThan(0);
    const lake = join(dir, 'lake');
    const offsetsFile = join(dir, 'offsets.json');
    writeFileSync(offsetsFile, JSON.stringify({ 0: 0, 1: 0, 2: [0, 1_000_000] }));

    // An append table that still holds the pipeline's records would get them twice: refused.
    const held = await runCli(['replay', spec, '--table', 'analytics', '--from-offsets', offsetsFile]);
    expect(held.code).toBe(1);
    expect(held.stderr).toMatch(/PIPE_REPLAY_APPEND_HELD/);

    // The test broker keeps no time index: --from-timestamp says so, and the upsert table is
    // replayed from offsets there instead.
    if (!E2E_ON_KAFKA) {
      const blind = await runCli(['replay', spec, '--table', 'orders', '--from-timestamp', first]);
      expect(blind.code).toBe(1);
      expect(blind.stderr).toMatch(/PIPE_REPLAY_NO_TIME_INDEX/);
    }
    const ordersFrom = E2E_ON_KAFKA ? ['--from-timestamp', first] : ['--from-offsets', offsetsFile];
    for (const [table, from] of [['analytics', ['--from-offsets', offsetsFile]], ['orders', ordersFrom]] as const) {
      const untouched = listing(lake, [table]);
      rmSync(join(lake, table), { recursive: true, force: true });
      const replay = await runCli(['replay', spec, '--table', table, ...from]);
      expect(replay.code, replay.stderr.slice(-2000)).toBe(0);
      expect(replay.stdout).toMatch(new RegExp(`replayed ${table} from topic replayed .*; 2500 records read, [1-9]\\d* written`));
      expect(await readGold(dir)).toEqual(expected);
      expect(listing(lake, [table])).toEqual(untouched);

      const twice = await runCli(['replay', spec, '--table', table, ...from]);
      expect(twice.code, twice.stderr.slice(-2000)).toBe(0);
      expect(twice.stdout).toMatch(/0 written/);
      expect(await readGold(dir)).toEqual(expected);
    }

    // Killed after its second commit, a replay resumes where it stopped: nothing twice.
    rmSync(join(lake, 'analytics'), { recursive: true, force: true });
    const crashing = await runCli(['replay', spec, '--table', 'analytics', '--from-offsets', offsetsFile], { PIPELINE_FAILPOINT: 'batch.after-table-commit:2' });
    expect(crashing.signal).toBe('SIGKILL');
    const resumed = await runCli(['replay', spec, '--table', 'analytics', '--from-offsets', offsetsFile]);
    expect(resumed.code, resumed.stderr.slice(-2000)).toBe(0);
    expect(await readGold(dir)).toEqual(expected);

    // verify takes a table rebuilt by replay for what it is: every batch is under the replay's txns.
    const verified = await runCli(['verify', spec]);
    expect(verified.code, verified.stdout).toBe(0);
    // A rebuild that left records out (partition 0 replayed from offset 10) is reported.
    rmSync(join(lake, 'orders'), { recursive: true, force: true });
    writeFileSync(offsetsFile, JSON.stringify({ 0: 10, 1: 0, 2: 0 }));
    expect((await runCli(['replay', spec, '--table', 'orders', '--from-offsets', offsetsFile])).code).toBe(0);
    const partial = await runCli(['verify', spec]);
    expect(partial.code, partial.stdout).toBe(1);
    // (Which batch first read partition 0 depends on the cuts.)
    expect(partial.stdout).toMatch(/(txn-missing|checkpoint-ahead): table orders: stream 0 committed batch \d+ \(.*p0 \[0, [1-9]\d*\).*\) in its checkpoint, but the table holds no batch of /);
  }, E2E_TIMEOUT);

  it('dead-letters the records a tightened spec refuses, once: never a record left out of its table without a row', async () => {
    const dir = tempDir();
    const values = [
      { kind: 'order', id: 1, seq: 1, amount: 5, qty: 1 },
      { kind: 'order', id: 2, seq: 1, amount: -3, qty: 2 }, // lands, then fails `amount >= 0`
      { kind: 'order', id: 3, seq: 1, amount: 4, qty: 'x' }, // refused by both specs alike
      { kind: 'order', id: 4, seq: 1, amount: -50, qty: 3 }, // refused by both, for two reasons
    ];
    await produce(broker, dir, 'tightened', values.map((v, i) => ({ key: `k${v.id}`, value: Buffer.from(JSON.stringify(v)), timestamp: 1_700_000_000_000 + i })) as never);
    const spec = join(dir, 'spec.yaml');
    const writeSpec = (min: number) => writeFileSync(spec, `apiVersion: pipeline/v1
name: tightened
source:
  kafka: { brokers: ["${broker.bootstrap}"], topic: tightened }
routing:
  field: kind
  routes: { order: orders }
tables:
  orders:
    mergeKeys: [id]
    sequenceBy: seq
    columns: { qty: INTEGER }
    expectations:
      - { name: amount_in_range, expr: "amount >= ${min}", action: quarantine }
deadLetter: { table: _dead_letter, maxRatio: 1 }
output: { path: ${join(dir, 'lake')} }
`);
    writeSpec(-10);
    const run = await runAvailableNow(spec, dir);
    expect(run.code, run.stderr.slice(-2000)).toBe(0);
    const dead = async () => (await readVersioned(join(dir, 'lake'), ['_dead_letter']))._dead_letter!.rows.map((r) => [r.offset, r.stage, r.stream, r.error]).sort();
    const original = await dead();
    expect(original.map(([offset, stage]) => [offset, stage])).toEqual([[2, 'sink'], [3, 'expectation']]);

    writeSpec(0);
    const offsets = join(dir, 'offsets.json');
    writeFileSync(offsets, '{"0": 0}');
    for (const round of [1, 2]) {
      rmSync(join(dir, 'lake', 'orders'), { recursive: true, force: true });
      const replay = await runCli(['replay', spec, '--table', 'orders', '--from-offsets', offsets]);
      expect(replay.code, replay.stderr.slice(-2000)).toBe(0);
      expect(replay.stdout).toContain(`4 records read, 1 written to orders, 3 refused (in _dead_letter: ${round === 1 ? '2 new rows, 1' : '0 new rows, 3'} already there with the same reason)`);
      const orders = (await readVersioned(join(dir, 'lake'), ['orders'])).orders!.rows;
      expect(orders.map((r) => r.id)).toEqual([1]);
      // id 2 and id 4's new reason are added once; id 3's reason was already there.
      expect(await dead()).toEqual([
        ...original,
        [1, 'expectation', -1, "table 'orders': expectation 'amount_in_range' failed: amount >= 0"],
        [3, 'expectation', -1, "table 'orders': expectation 'amount_in_range' failed: amount >= 0"],
      ].sort());
    }
  }, E2E_TIMEOUT);

  it('refuses a spec whose source is not Kafka, a malformed offsets file and a time without a zone', async () => {
    const dir = tempDir();
    const spec = writeCommerceSpec(dir, { topic: 'replayed', bootstrap: broker.bootstrap, streams: 1 });
    const file = join(dir, 'bad.json');
    writeFileSync(file, '{"zero": 1}');
    const bad = await runCli(['replay', spec, '--table', 'orders', '--from-offsets', file]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/PIPE_REPLAY_OFFSETS_FILE.*'zero' is not a partition number/);
    const naive = await runCli(['replay', spec, '--table', 'orders', '--from-timestamp', '2026-03-01T00:00:00']);
    expect(naive.code).toBe(2);
    expect(naive.stderr).toMatch(/with a zone/);
    const both = await runCli(['replay', spec, '--table', 'orders', '--from-raw', '--from-timestamp', '2026-03-01T00:00:00Z']);
    expect(both.code).toBe(2);
    writeFileSync(file, '{"0": 0}');
    const table = await runCli(['replay', 'pipelines/gold-rollup.yaml', '--table', 'sessions', '--from-offsets', file]);
    expect(table.code).toBe(1);
    expect(table.stderr).toMatch(/PIPE_SOURCE_NOT_KAFKA.*reads the Delta table/);
    writeFileSync(file, '{"7": 0}');
    const missing = await runCli(['replay', spec, '--table', 'orders', '--from-offsets', file]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/PIPE_REPLAY_OFFSETS_FILE.*partition 7 .*not a partition/);
  }, E2E_TIMEOUT);
});
