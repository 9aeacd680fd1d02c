import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { loadSpecFile } from '../../src/spec/load.js';
import { compilePlan } from '../../src/planner/compile.js';
import { diffSpecs } from '../../src/planner/diff.js';
import { PLAN_FORMAT_EXTENSIONS, PLAN_FORMATS, renderPlan } from '../../src/planner/render.js';
import { withSqlChecks } from '../../src/planner/check-sql.js';
import { expectGolden } from './golden.js';

const EXAMPLE = join(import.meta.dirname, '..', '..', 'pipelines', 'commerce-events.yaml');

function loadExample() {
  const loaded = loadSpecFile(EXAMPLE, { env: {} });
  expect(loaded.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
  return loaded.spec!;
}

describe('golden plans of pipelines/commerce-events.yaml', () => {
  const spec = loadExample();
  for (const format of PLAN_FORMATS) {
    const ext = PLAN_FORMAT_EXTENSIONS[format];
    it(`renders ${format}`, () => {
      expectGolden(`commerce-events.plan.${ext}`, renderPlan(compilePlan(spec), format));
    });
    it(`renders ${format} with --partitions 12`, () => {
      expectGolden(`commerce-events-p12.plan.${ext}`, renderPlan(compilePlan(spec, { partitions: 12 }), format));
    });
  }

  it('has the routing shape the example promises, and no change against itself', () => {
    const plan = compilePlan(spec, { partitions: 12 });
    expect(plan.streams.map((s) => s.partitions)).toEqual([[0, 4, 8], [1, 5, 9], [2, 6, 10], [3, 7, 11]]);
    // Nine routes, unmatched and error.
    expect(plan.edges.filter((e) => e.from === 'route').map((e) => e.port)).toHaveLength(11);
    expect(plan.sinks.filter((s) => s.mode === 'upsert')).toHaveLength(8);
    expect(diffSpecs(spec, loadExample())).toEqual([]);
  });
});

describe('pipelines/orders-avro.yaml (Avro behind a schema registry)', () => {
  const file = join(import.meta.dirname, '..', '..', 'pipelines', 'orders-avro.yaml');

  it('validates (schema files included) and plans to its golden text', async () => {
    const loaded = await withSqlChecks(loadSpecFile(file, { env: {} }));
    expect(loaded.diagnostics).toEqual([]);
    const plan = compilePlan(loaded.spec!);
    expect(plan.nodes.find((n) => n.id === 'decode')).toEqual({
      id: 'decode',
      kind: 'decode-avro',
      props: { format: 'avro', wireFormat: 'confluent', readerFile: 'pipelines/schemas/order.avsc', registry: { url: 'http://localhost:8081', basicAuthEnv: 'SCHEMA_REGISTRY_AUTH' } },
    });
    expectGolden('orders-avro.plan.txt', renderPlan(plan, 'text'));
  });
});

describe('pipelines/gold-rollup.yaml (a Delta table as the source)', () => {
  const file = join(import.meta.dirname, '..', '..', 'pipelines', 'gold-rollup.yaml');

  it('validates and plans to its golden text: one source-delta stream, no consumer group', async () => {
    const loaded = await withSqlChecks(loadSpecFile(file, { env: {} }));
    expect(loaded.diagnostics).toEqual([]);
    const plan = compilePlan(loaded.spec!);
    expect(plan.source.kafka).toBeUndefined();
    expect(plan.source.delta).toMatchObject({ specPath: './lake/analytics', removes: 'fail', startingVersion: 'earliest' });
    expect(plan.nodes[0]).toEqual({ id: 'source', kind: 'source-delta', props: { path: './lake/analytics', removes: 'fail', startingVersion: 'earliest', streams: 1 } });
    expectGolden('gold-rollup.plan.txt', renderPlan(plan, 'text'));
  });
});
