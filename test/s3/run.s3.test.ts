/**
 * `pipeline run --available-now` with `output.path` in a bucket, end to end against the test
 * broker: a SIGKILL after a table commit and a restart end exact, and so does a run during
 * which the object store is down for 10 s (the run logs its retries).
 */
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startBroker, type TestBroker } from '../../src/dev-broker/broker.js';
import { generateEvents } from '../../src/dev-broker/events.js';
import { commerceReferenceSpec, computeReference } from '../../src/dev-broker/reference.js';
import { ROOT } from '../support/build.js';
import { E2E_TIMEOUT, runAvailableNow, startCli } from '../support/cli.js';
import { produce, writeCommerceSpec } from '../support/commerce.js';
import { normalizeReference, readGold } from '../support/tables.js';
import { startMinio, useMinio, type Minio } from '../../src/dev-broker/object-store.js';

let broker: TestBroker;
let minio: Minio;
const dirs: string[] = [];

beforeAll(async () => {
  if (!existsSync(join(ROOT, 'dist/src/cli/main.js'))) throw new Error('build first: npx tsc -p tsconfig.build.json');
  broker = await startBroker({ topics: [{ name: 'crash', partitions: 4 }, { name: 'outage', partitions: 4 }] });
  minio = await startMinio(['lake']);
  useMinio(minio);
});
afterAll(async () => {
  await broker?.stop();
  await minio?.dispose();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function scenario(topic: string) {
  const dir = mkdtempSync(join(tmpdir(), `s3-e2e-${topic}-`));
  dirs.push(dir);
  const output = `s3://lake/${topic}`;
  return { dir, output, checkpoints: join(dir, 'checkpoints') };
}

test('SIGKILL after a table commit in the bucket, then a restart: the tables equal the reference', async () => {
  const { dir, output, checkpoints } = scenario('crash');
  const events = [...generateEvents({ count: 5_000, seed: 300, malformedRate: 0.01 })];
  await produce(broker, dir, 'crash', events);
  const spec = writeCommerceSpec(dir, { name: 's3-crash', topic: 'crash', bootstrap: broker.bootstrap, streams: 2, maxRecordsPerBatch: 700, outputPath: output, checkpointPath: checkpoints });

  const crashed = await runAvailableNow(spec, dir, { PIPELINE_FAILPOINT: 'batch.after-table-commit:14' });
  expect(crashed.signal, crashed.stderr.slice(-2000)).toBe('SIGKILL');
  const restarted = await runAvailableNow(spec, dir);
  expect(restarted.code, restarted.stderr.slice(-2000)).toBe(0);
  const summary = restarted.summary!;
  const alreadyCommitted = Object.values(summary.tables as Record<string, { alreadyCommitted: number }>).reduce((n, t) => n + t.alreadyCommitted, 0);
  expect(alreadyCommitted).toBeGreaterThan(0);

  const reference = computeReference(events, commerceReferenceSpec());
  const gold = await readGold(dir, output);
  expect(gold.tables).toEqual(normalizeReference(reference.tables));
  expect(gold.deadLetter).toHaveLength(reference.deadLetter);
  expect(new Set(gold.deadLetter.map((r) => `${r.partition}:${r.offset}`)).size).toBe(reference.deadLetter);
  expect((await minio.keys('lake', 'crash/orders/_delta_log/')).length).toBeGreaterThan(1);
}, E2E_TIMEOUT);

test('the object store down for 10 s mid-run: the run retries, logs it, and ends exact', async () => {
  const { dir, output, checkpoints } = scenario('outage');
  const events = [...generateEvents({ count: 8_000, seed: 301 })];
  await produce(broker, dir, 'outage', events);
  const spec = writeCommerceSpec(dir, { name: 's3-outage', topic: 'outage', bootstrap: broker.bootstrap, streams: 2, maxRecordsPerBatch: 400, outputPath: output, checkpointPath: checkpoints });
  const run = startCli(['run', spec, '--available-now', '--log-level', 'warn', '--summary-json', join(dir, 'summary.json')], {}, 200_000);
  const commits = join(checkpoints, '0', 'commits');
  for (let t = 0; t < 600 && !(existsSync(commits) && readdirSync(commits).length > 0); t++) await new Promise((r) => setTimeout(r, 100));
  expect(existsSync(commits)).toBe(true);
  await minio.stop();
  await new Promise((r) => setTimeout(r, 10_000));
  expect(run.child.exitCode).toBe(null); // still waiting on the store, not failed
  await minio.restart();
  const result = await run.done;
  expect(result.code, result.stderr.slice(-2000)).toBe(0);
  expect(result.stderr).toMatch(/object store request failed; retrying/);
  expect(result.stderr).not.toContain(minio.secretKey);
  expect((await readGold(dir, output)).tables).toEqual(normalizeReference(computeReference(events, commerceReferenceSpec()).tables));
}, E2E_TIMEOUT);
