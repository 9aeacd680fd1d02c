/** `output.path: s3://bucket/prefix`: accepted, planned into per-table bucket locations, checkpoints local. */
import path from 'node:path';
import { expect, test } from 'vitest';
import { compilePlan } from '../../src/planner/compile.js';
import { loadSpecText } from '../../src/spec/index.js';

const spec = (output: string, checkpoint = '') => `apiVersion: pipeline/v1
name: shop
source:
  kafka:
    brokers: [localhost:9092]
    topic: events
routing:
  field: event_type
  routes:
    orders: orders
tables:
  orders: { mergeKeys: [id], sequenceBy: seq }
output:
  path: ${output}
${checkpoint}`;

test('an s3:// output is valid, its tables live in the bucket, its checkpoints in a local folder by default', () => {
  const loaded = loadSpecText(spec('s3://lake/warehouse/'), 'shop.yaml', { env: {} });
  expect(loaded.diagnostics).toEqual([]);
  expect(loaded.spec!.checkpoint.path).toBe('_checkpoints/lake/warehouse');
  const plan = compilePlan(loaded.spec!, { cwd: '/srv/pipelines' });
  expect(plan.outputPath).toBe('s3://lake/warehouse');
  expect(plan.sinks.map((s) => s.path)).toEqual(['s3://lake/warehouse/orders']);
  expect(plan.deadLetter.path).toBe('s3://lake/warehouse/_dead_letter');
  expect(plan.checkpointPath).toBe(path.resolve('/srv/pipelines', '_checkpoints/lake/warehouse'));
});

test('an explicit local checkpoint.path is kept; one in a bucket is refused', () => {
  const local = loadSpecText(spec('s3://lake/w', 'checkpoint:\n  path: /var/lib/pipeline/shop\n'), 'shop.yaml', { env: {} });
  expect(local.diagnostics).toEqual([]);
  expect(local.spec!.checkpoint.path).toBe('/var/lib/pipeline/shop');
  const remote = loadSpecText(spec('s3://lake/w', 'checkpoint:\n  path: s3://lake/checkpoints\n'), 'shop.yaml', { env: {} });
  expect(remote.diagnostics.map((d) => d.code)).toEqual(['PIPE0059']);
});

test('bucket names and prefixes are checked', () => {
  for (const bad of ['s3://Lake/w', 's3://lake/a/../b', 's3:///w', 'https://lake.example/w']) {
    const loaded = loadSpecText(spec(bad), 'shop.yaml', { env: {} });
    expect(loaded.diagnostics.map((d) => d.code), bad).toEqual(['PIPE0058']);
  }
});
