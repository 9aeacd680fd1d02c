/**
 * `mode: staged` end to end against the test broker and real DuckDB: raw lands every record
 * as bytes, bronze and gold catch up by Delta version, and the gold tables equal a fused run's
 * over the same events; a bronze that fails (an expectation set to `fail` on a record in the
 * topic) does not stop raw, and once fixed catches up to the fused result.
 */
import { readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { generateEvents } from '../../src/dev-broker/events.js';
import { useTestBroker } from '../support/broker.js';
import { E2E_TIMEOUT, runAvailableNow, runCli, startCli } from '../support/cli.js';
import { produce, writeCommerceSpec } from '../support/commerce.js';
import { readGold, readTable } from '../support/tables.js';
import { tempDirs } from '../support/temp-dirs.js';

const broker = useTestBroker([{ name: 'same', partitions: 4 }, { name: 'broken', partitions: 3 }, { name: 'live', partitions: 2 }, { name: 'dirty', partitions: 1 }, { name: 'dirty-gold', partitions: 1 }]);
const tempDir = tempDirs('staged-e2e-');

/** Turns a commerce spec into a staged one (and applies `edit` to its text). */
function staged(spec: string, extra = '', edit: (text: string) => string = (t) => t, raw = ''): string {
  writeFileSync(spec, edit(readFileSync(spec, 'utf8')) + `mode: staged\nstages:\n  raw: { streams: 2, trigger: { maxRecordsPerBatch: 700 }${raw} }\n  bronze: { trigger: { interval: 1s } }\n  gold: { trigger: { interval: 15m } }\n${extra}`);
  return spec;
}

/** Every file under `dir` with its size and modification time. */
function listing(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => {
      const p = join(e.parentPath, e.name);
      const st = statSync(p);
      return `${p}:${st.size}:${st.mtimeMs}`;
    })
    .sort();
}

/** Gold tables without the dead-letter table's run-specific columns. */
async function gold(dir: string) {
  const { tables, deadLetter } = await readGold(dir);
  const dead = deadLetter.map((r) => `${r.partition}:${r.offset}:${r.stage}:${r.error}`).sort();
  return { tables, dead };
}

describe('pipeline run, mode: staged', () => {
  it('lands raw, then bronze and gold give the gold tables of a fused run over the same events', async () => {
    const events = [...generateEvents({ count: 3_000, seed: 11, malformedRate: 0.01 })];
    const fusedDir = tempDir();
    const stagedDir = tempDir();
    await produce(broker, fusedDir, 'same', events);
    // A derived column that errors on some records: they are dead-lettered under stage
    // `derive` in both modes (staged gold names the operator, as fused does).
    const refused = (t: string) => t.replace('  refunds: { mergeKeys: [id], sequenceBy: seq }', `  refunds: { mergeKeys: [id], sequenceBy: seq, derive: { checked: "CAST(CASE WHEN seq = 2 THEN 'second' ELSE '1' END AS INTEGER)" } }`);
    const fusedSpec = writeCommerceSpec(fusedDir, { topic: 'same', bootstrap: broker.bootstrap, streams: 2, maxRecordsPerBatch: 1000 });
    writeFileSync(fusedSpec, refused(readFileSync(fusedSpec, 'utf8')));
    // The raw table partitioned by ingest date: bronze, gold and replay read it all the same.
    const stagedSpec = staged(writeCommerceSpec(stagedDir, { topic: 'same', bootstrap: broker.bootstrap, streams: 1, maxRecordsPerBatch: 1000 }), '', refused, ', partitionByDate: true');

    const fused = await runAvailableNow(fusedSpec, fusedDir);
    expect(fused.code, fused.stderr.slice(-2000)).toBe(0);
    const run = await runCli(['run', stagedSpec, '--available-now', '--log-level', 'warn']);
    expect(run.code, run.stderr.slice(-2000)).toBe(0);
    expect(run.stdout).toMatch(/raw\s+completed: 3000 records/);

    const raw = await readTable(join(stagedDir, 'lake/_raw/e2e'));
    expect(raw).toHaveLength(3_000);
    expect(new Set(raw.map((r) => `${r.partition}:${r.offset}`)).size).toBe(3_000);
    expect(Buffer.isBuffer(raw[0]!.value)).toBe(true);
    expect(raw.every((r) => r.ingest_date === String(r.timestamp).slice(0, 10))).toBe(true);
    expect(readdirSync(join(stagedDir, 'lake/_raw/e2e')).filter((n) => n.startsWith('ingest_date=')).length).toBeGreaterThan(0);

    const expected = await gold(fusedDir);
    const actual = await gold(stagedDir);
    expect(actual.dead.length).toBeGreaterThan(0);
    expect(actual.dead.filter((d) => d.includes(':derive:')).length).toBeGreaterThan(0);
    expect(actual).toEqual(expected);

    // A second run finds nothing new in any job and changes nothing.
    const again = await runCli(['run', stagedSpec, '--available-now', '--log-level', 'warn']);
    expect(again.code).toBe(0);
    expect(await gold(stagedDir)).toEqual(expected);
    expect(await readTable(join(stagedDir, 'lake/_raw/e2e'))).toHaveLength(3_000);

    // Replay from raw: a deleted table comes back identical, a second replay changes nothing,
    // and no other table or checkpoint is touched. The records refunds' derive refuses are in
    // the dead-letter table already, with the same reason: the replay adds no row for them.
    const checkpoints = listing(join(stagedDir, 'lake/_checkpoints'));
    for (const table of ['orders', 'analytics', 'refunds']) {
      rmSync(join(stagedDir, 'lake', table), { recursive: true, force: true });
      const replay = await runCli(['replay', stagedSpec, '--table', table, '--from-raw']);
      expect(replay.code, replay.stderr.slice(-2000)).toBe(0);
      expect(replay.stdout).toMatch(new RegExp(`replayed ${table}: raw versions 0\\.\\.\\d+; 3000 raw records`));
      if (table === 'refunds') expect(replay.stdout).toMatch(/ [1-9]\d* refused \(in \S+: 0 new rows/);
      expect(await gold(stagedDir)).toEqual(expected);
      const twice = await runCli(['replay', stagedSpec, '--table', table, '--from-raw']);
      expect(twice.code).toBe(0);
      expect(twice.stdout).toMatch(/nothing new in the raw table/);
      expect(await gold(stagedDir)).toEqual(expected);
    }
    expect(listing(join(stagedDir, 'lake/_checkpoints'))).toEqual(checkpoints);
  }, E2E_TIMEOUT);

  it('keeps raw landing and gold at its last good state while bronze fails on a record; fixed, it catches up to the fused result', async () => {
    const clean = [...generateEvents({ count: 1_000, seed: 5, malformedRate: 0 })];
    // One record in the topic that an expectation set to `fail` stops on: the bug in bronze.
    const poison = { key: 'ord-bad', value: Buffer.from('{"event_type":"orders","id":"ord-bad","seq":1,"event_time":"2026-03-01T10:00:00.000Z","total":1}'), timestamp: Date.UTC(2026, 2, 1, 10) };
    const poisoned = [...generateEvents({ count: 1_000, seed: 6, malformedRate: 0 })];
    poisoned.splice(400, 0, poison);
    const more = [...generateEvents({ count: 500, seed: 8, malformedRate: 0 })];
    const dir = tempDir();
    await produce(broker, dir, 'broken', clean);
    const expecting = (action: 'fail' | 'drop') => (t: string) =>
      t.replace('  format: json', `  format: json\n  expectations:\n    - { name: no_bad_order, expr: "id IS DISTINCT FROM 'ord-bad'", action: ${action} }`);
    const spec = staged(writeCommerceSpec(dir, { topic: 'broken', bootstrap: broker.bootstrap, streams: 1, unmatched: 'drop' }), '', expecting('fail'));
    const good = await runCli(['run', spec, '--available-now', '--log-level', 'warn']);
    expect(good.code, good.stdout + good.stderr.slice(-2000)).toBe(0);
    const lastGood = await gold(dir);

    await produce(broker, dir, 'broken', poisoned);
    const failing = await runCli(['run', spec, '--available-now', '--log-level', 'warn']);
    expect(failing.code).toBe(1);
    expect(failing.stdout).toMatch(/bronze failed/);
    expect(failing.stdout).toMatch(/raw\s+completed: 1001 records/);
    expect(failing.stdout).toMatch(/gold\s+completed/);
    expect(failing.stdout).toMatch(/PIPE_RUN_EXPECTATION_FAILED expectation 'no_bad_order'/);
    expect(await gold(dir)).toEqual(lastGood);

    // Raw keeps landing while bronze is broken; bronze stays stopped at the same batch.
    await produce(broker, dir, 'broken', more);
    const rawOnly = await runCli(['run', spec, '--job', 'raw', '--available-now', '--log-level', 'warn']);
    expect(rawOnly.code, rawOnly.stderr.slice(-2000)).toBe(0);
    expect(await readTable(join(dir, 'lake/_raw/e2e'))).toHaveLength(2_501);
    const stillBroken = await runCli(['run', spec, '--job', 'bronze', '--available-now', '--log-level', 'warn']);
    expect(stillBroken.code).toBe(1);
    expect(await gold(dir)).toEqual(lastGood);

    // Fixed (the expectation drops the record instead): bronze and gold catch up to exactly
    // what a fused run of the fixed spec gives.
    const fixed = staged(writeCommerceSpec(dir, { topic: 'broken', bootstrap: broker.bootstrap, streams: 1, unmatched: 'drop' }), '', expecting('drop'));
    const caughtUp = await runCli(['run', fixed, '--available-now', '--log-level', 'warn']);
    expect(caughtUp.code, caughtUp.stdout + caughtUp.stderr.slice(-2000)).toBe(0);

    const fusedDir = tempDir();
    const fusedSpec = writeCommerceSpec(fusedDir, { topic: 'broken', bootstrap: broker.bootstrap, streams: 2, maxRecordsPerBatch: 800, unmatched: 'drop' });
    writeFileSync(fusedSpec, expecting('drop')(readFileSync(fusedSpec, 'utf8')));
    const fused = await runAvailableNow(fusedSpec, fusedDir);
    expect(fused.code).toBe(0);
    const expected = await gold(fusedDir);
    expect(expected.tables.orders!.some((r) => r.id === 'ord-bad')).toBe(false);
    expect(await gold(dir)).toEqual(expected);
  }, E2E_TIMEOUT);

  it('fails the job that dead-letters most of what it read, as a fused run fails (bronze: before its batch commits for records that do not decode, after it for values the gold table refuses)', async () => {
    const order = (i: number, total: unknown) => ({ key: `o${i}`, value: JSON.stringify({ event_type: 'orders', id: `o${i}`, seq: 1, event_time: '2026-03-01T10:00:00.000Z', total_amount: total }) });
    // Bronze: two records in three are not JSON. The batch would pass maxRatio: bronze stops
    // with nothing written; raw keeps every record.
    const dir = tempDir();
    await produce(broker, dir, 'dirty', Array.from({ length: 150 }, (_, i) => (i % 3 === 0 ? order(i, 1) : { key: `x${i}`, value: `not json ${i}` })) as never);
    const spec = staged(writeCommerceSpec(dir, { topic: 'dirty', bootstrap: broker.bootstrap, streams: 1 }));
    const run = await runCli(['run', spec, '--available-now', '--log-level', 'warn']);
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/raw\s+completed: 150 records/);
    expect(run.stdout).toMatch(/bronze failed: PIPE_RUN_DEAD_LETTER_LIMIT bronze: raw versions 0\.\.0 hold 100 records for the dead-letter table, which would make the job's 100 more than deadLetter\.maxRatio \(0\.5\) of 150 records; first reasons: invalid JSON/);
    expect((await gold(dir)).tables.orders ?? []).toHaveLength(0);
    // Values that do not convert to the gold table's declared type: bronze takes the gold
    // write's load decisions, as a fused run takes them, so it dead-letters those records (with
    // their own bytes) and fails once its batch has committed; gold merges the rest.
    const goldDir = tempDir();
    await produce(broker, goldDir, 'dirty-gold', Array.from({ length: 150 }, (_, i) => order(i, i % 3 === 0 ? i : `n/a ${i}`)) as never);
    const declared = (t: string) => t.replace('  orders: { mergeKeys: [id], sequenceBy: seq }', '  orders: { mergeKeys: [id], sequenceBy: seq, columns: { total_amount: BIGINT } }');
    const goldSpec = staged(writeCommerceSpec(goldDir, { topic: 'dirty-gold', bootstrap: broker.bootstrap, streams: 1 }), '', declared);
    const goldRun = await runCli(['run', goldSpec, '--available-now', '--log-level', 'warn']);
    expect(goldRun.code).toBe(1);
    expect(goldRun.stdout).toMatch(/bronze failed: PIPE_RUN_DEAD_LETTER_LIMIT bronze: 100 records went to the dead-letter table, more than deadLetter\.maxRatio \(0\.5\) of 150 records/);
    expect(goldRun.stdout).toMatch(/gold\s+completed: 50 rows in 1 batches\n/);
    const written = await gold(goldDir);
    expect(written.tables.orders).toHaveLength(50);
    expect(written.dead).toHaveLength(100);
    expect(written.dead.every((d) => d.includes(":sink:table 'orders': value does not convert to the column type: total_amount (BIGINT)"))).toBe(true);
  }, E2E_TIMEOUT);

  it('runs the three jobs side by side until SIGTERM, then stops each cleanly', async () => {
    const dir = tempDir();
    const events = [...generateEvents({ count: 800, seed: 9, malformedRate: 0 })];
    await produce(broker, dir, 'live', events);
    const spec = staged(writeCommerceSpec(dir, { topic: 'live', bootstrap: broker.bootstrap, streams: 1, unmatched: 'drop' }), '', (t) => t);
    writeFileSync(spec, readFileSync(spec, 'utf8').replace('gold: { trigger: { interval: 15m } }', 'gold: { trigger: { interval: 1s } }'));
    const { child, done } = startCli(['run', spec, '--log-level', 'warn']);
    const orders = join(dir, 'lake', 'orders');
    const deadline = Date.now() + 90_000;
    while (Date.now() < deadline && (await readTable(orders)).length === 0) await new Promise((r) => setTimeout(r, 500));
    expect((await readTable(orders)).length).toBeGreaterThan(0);
    child.kill('SIGTERM');
    const result = await done;
    expect(result.code, result.stdout + result.stderr.slice(-2000)).toBe(0);
    expect(result.stdout).toMatch(/raw\s+stopped/);
    expect(result.stdout).toMatch(/bronze\s+stopped/);
    expect(result.stdout).toMatch(/gold\s+stopped/);
  }, E2E_TIMEOUT);
});
