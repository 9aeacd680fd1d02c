/**
 * Scale-out end to end: `pipeline run --instance i/K` processes of one pipeline (2 instances
 * x 2 streams) against the test broker, sharing one checkpoint directory and one set of Delta
 * tables. Started together they give exactly the reference tables; one SIGKILLed mid-batch
 * and restarted while the other keeps running still gives them; a second copy of a running
 * instance is refused and writes nothing. Instance numbers come from the flag and from both
 * environment forms (`PIPELINE_INSTANCE`, `PIPELINE_INSTANCES` with a StatefulSet HOSTNAME).
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { generateEvents, type GeneratedEvent } from '../../src/dev-broker/events.js';
import { commerceReferenceSpec, computeReference } from '../../src/dev-broker/reference.js';
import { E2E_TIMEOUT, runAvailableNow, runCli, startCli } from '../support/cli.js';
import { produce, writeCommerceSpec } from '../support/commerce.js';
import { readOffsetRanges } from '../support/files.js';
import { normalizeReference, readGold } from '../support/tables.js';
import { useTestBroker } from '../support/broker.js';

const dirs: string[] = [];

const broker = useTestBroker([{ name: 'together', partitions: 4 }, { name: 'killed', partitions: 4 }]);
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tempDir(label: string): string {
  const dir = mkdtempSync(join(tmpdir(), `instances-${label}-`));
  dirs.push(dir);
  return dir;
}

function commits(dir: string, stream: number): number {
  const path = join(dir, 'lake', '_checkpoints', String(stream), 'commits');
  return existsSync(path) ? readdirSync(path).filter((f) => /^\d+$/.test(f)).length : 0;
}

async function until(what: string, ok: () => boolean, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The event with its entity id suffixed, so a second event set shares no key with the first. */
function renamed(event: GeneratedEvent): GeneratedEvent {
  let value: unknown;
  try {
    value = JSON.parse(event.value.toString('utf8'));
  } catch {
    return event;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value) || !('id' in value)) return event;
  const id = `${String(value.id)}-2`;
  return { ...event, key: id, value: Buffer.from(JSON.stringify({ ...value, id })) };
}

async function expectExact(dir: string, events: GeneratedEvent[]): Promise<void> {
  const reference = computeReference(events, commerceReferenceSpec());
  const gold = await readGold(dir);
  expect(gold.tables).toEqual(normalizeReference(reference.tables));
  expect(gold.deadLetter).toHaveLength(reference.deadLetter);
  expect(new Set(gold.deadLetter.map((r) => `${r.partition}:${r.offset}`)).size).toBe(reference.deadLetter);
}

describe('pipeline run --instance i/K', () => {
  it('two instances of two streams started together write exactly the reference tables', async () => {
    const dir = tempDir('together');
    const events = [...generateEvents({ count: 4_000, seed: 31, malformedRate: 0.01 })];
    await produce(broker, dir, 'together', events);
    const spec = writeCommerceSpec(dir, { name: 'together', topic: 'together', bootstrap: broker.bootstrap, streams: 2, maxRecordsPerBatch: 500 });
    const [a, b] = await Promise.all([
      runAvailableNow(spec, dir, {}, ['--instance', '0/2']),
      // As in a StatefulSet: the ordinal comes from the pod's hostname.
      runAvailableNow(spec, dir, { PIPELINE_INSTANCES: '2', HOSTNAME: 'together-pipeline-1' }),
    ]);
    expect([a.code, b.code, a.stderr + b.stderr]).toEqual([0, 0, expect.not.stringMatching(/"level":50/)]);
    expect(a.summary!.instance).toEqual({ index: 0, count: 2, streams: [0] });
    expect(b.summary!.instance).toEqual({ index: 1, count: 2, streams: [1] });
    expect(a.summary!.streams.map((s: { stream: number; partitions: number[] }) => [s.stream, s.partitions])).toEqual([[0, [0, 2]]]);
    expect(b.summary!.streams.map((s: { stream: number; partitions: number[] }) => [s.stream, s.partitions])).toEqual([[1, [1, 3]]]);
    expect(a.stdout).toContain('instance 0/2: streams 0 (the other streams run in the other instances)');
    expect(a.summary!.records + b.summary!.records).toBe(events.length);
    // Each stream's checkpoint holds only its own partitions, written by its own instance.
    for (const r of readOffsetRanges(dir)) expect(r.partition % 2).toBe(r.stream);
    await expectExact(dir, events);
  }, E2E_TIMEOUT);

  it('an instance SIGKILLed mid-batch and restarted while the other keeps running ends exact; a duplicate is refused', async () => {
    const dir = tempDir('killed');
    const first = [...generateEvents({ count: 5_000, seed: 32, malformedRate: 0.01 })];
    await produce(broker, dir, 'killed', first, 'first');
    const spec = writeCommerceSpec(dir, { name: 'killed', topic: 'killed', bootstrap: broker.bootstrap, streams: 2, interval: '300ms', maxRecordsPerBatch: 400 });
    const runArgs = ['run', spec, '--log-level', 'warn'];

    // Instance 0 runs until stopped; instance 1 kills itself after its 5th table commit,
    // so tables hold a batch its checkpoint does not.
    const zero = startCli([...runArgs, '--instance', '0/2'], {}, 200_000);
    const one = await runCli(runArgs, { PIPELINE_INSTANCE: '1/2', PIPELINE_FAILPOINT: 'batch.after-table-commit:5' });
    expect(one.signal).toBe('SIGKILL');
    const lock1 = JSON.parse(readFileSync(join(dir, 'lake', '_checkpoints', '1', 'lock'), 'utf8'));
    expect(lock1.instance).toBe('1/2');

    // The other instance goes on alone: new records reach its stream.
    await until('instance 0 to commit a batch', () => commits(dir, 0) > 0);
    const second = [...generateEvents({ count: 2_000, seed: 33, malformedRate: 0.01 })].map(renamed);
    const before = commits(dir, 0);
    await produce(broker, dir, 'killed', second, 'second');
    await until('instance 0 to commit the new records', () => commits(dir, 0) > before);

    // A second copy of the running instance 0 is refused before it touches anything.
    const duplicate = await runAvailableNow(spec, dir, { PIPELINE_INSTANCE: '0/2' });
    expect(duplicate.code).toBe(1);
    expect(duplicate.stderr).toMatch(/^pipeline run: error PIPE_INSTANCE_DUPLICATE instance 0\/2 is already running: checkpoint of stream 0 .* is in use by pid \d+/m);
    expect(duplicate.stdout).toBe('');
    expect(JSON.parse(readFileSync(join(dir, 'lake', '_checkpoints', '0', 'lock'), 'utf8')).pid).toBe(zero.child.pid);

    // Instance 1 restarts (its dead predecessor's lock is taken over) and replays its batch.
    const restarted = await runAvailableNow(spec, dir, {}, ['--instance', '1/2']);
    expect(restarted.code).toBe(0);
    expect(restarted.summary!.streams[0].replayedBatchId).toBeDefined();
    const held = Object.values(restarted.summary!.tables as Record<string, { alreadyCommitted: number }>).reduce((n, t) => n + t.alreadyCommitted, 0);
    expect(held).toBeGreaterThan(0);

    zero.child.kill('SIGTERM');
    const stopped = await zero.done;
    expect([stopped.code, stopped.stdout]).toEqual([0, expect.stringContaining('instance 0/2: streams 0')]);
    // Whatever instance 0 had not reached when it stopped, its next run reads.
    expect((await runAvailableNow(spec, dir, {}, ['--instance', '0/2'])).code).toBe(0);
    await expectExact(dir, [...first, ...second]);
  }, E2E_TIMEOUT);

  it('refuses K/K, malformed values, more instances than streams, and --reshard with several instances', async () => {
    const dir = tempDir('refusals');
    // Nothing here may reach the broker: every refusal comes before the first connection.
    const spec = writeCommerceSpec(dir, { topic: 'unused', bootstrap: '127.0.0.1:1', streams: 2 });
    for (const bad of ['2/2', 'one/2', '1']) {
      const r = await runCli(['run', spec, '--instance', bad]);
      expect([r.code, r.stderr.split('\n')[0]]).toEqual([2, expect.stringMatching(/^pipeline run: --instance/)]);
    }
    const env = await runCli(['run', spec], { PIPELINE_INSTANCES: '2', HOSTNAME: 'laptop' });
    expect([env.code, env.stderr]).toEqual([2, expect.stringContaining("HOSTNAME 'laptop' does not end in -<ordinal>")]);
    const tooMany = await runCli(['run', spec, '--instance', '0/3']);
    expect([tooMany.code, tooMany.stderr]).toEqual([1, expect.stringMatching(/^pipeline run: error PIPE_INSTANCE_COUNT --instance 0\/3: 3 instances but the spec has streams: 2/)]);
    const reshard = await runCli(['run', spec, '--instance', '1/2', '--reshard']);
    expect([reshard.code, reshard.stderr]).toEqual([1, expect.stringMatching(/^pipeline run: error PIPE_INSTANCE_RESHARD --reshard cannot be combined with --instance 1\/2.*\(stop every instance/)]);
    expect(existsSync(join(dir, 'lake', '_checkpoints', '1', 'lock'))).toBe(false);
  }, E2E_TIMEOUT);
});
