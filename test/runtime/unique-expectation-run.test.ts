/**
 * A `unique` expectation from the spec through the batch processor `pipeline run` uses (one
 * batch, one stream): duplicates of a derived key after the first are quarantined with the
 * expectation's name, records of other keys and NULL keys land, and the quality record counts it.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lake } from '../../src/lake/index.js';
import { compilePlan } from '../../src/planner/compile.js';
import { loadSpecText } from '../../src/spec/index.js';
import { runCutting, type PlanFactory } from '../../src/runtime/test-runner.js';
import type { TestRecord } from '../../src/runtime/test-case.js';

let lake: Lake;
beforeAll(async () => {
  lake = await Lake.create({ threads: 1 });
});
afterAll(() => lake.close());

const SPEC = `apiVersion: pipeline/v1
name: uniq
source:
  kafka: { brokers: [localhost:9092], topic: payments }
routing:
  field: kind
  routes: { payment: payments }
tables:
  payments:
    mode: append
    derive: { ref: "upper(reference)" }
    expectations:
      - { name: positive, expr: "amount > 0", action: drop }
      - { name: one_per_ref, unique: [ref], action: quarantine }
output: { path: ./lake }
`;

describe('unique expectation in a pipeline', () => {
  it('quarantines later records of a key, after earlier rules', async () => {
    const loaded = loadSpecText(SPEC, 'spec.yaml');
    expect(loaded.diagnostics).toEqual([]);
    const planFor: PlanFactory = (streams, root) => compilePlan({ ...loaded.spec!, streams, output: { path: join(root, 'lake') }, checkpoint: { path: join(root, 'checkpoints') } }, { cwd: root });
    const values = [
      { id: 1, reference: 'a', amount: 5 },
      { id: 2, reference: 'A', amount: 3 }, // same derived key as id 1
      { id: 3, reference: 'b', amount: -1 }, // dropped first: does not hold key B
      { id: 4, reference: 'b', amount: 2 },
      { id: 5, amount: 2 }, // NULL key: never a duplicate
      { id: 6, amount: 4 },
      { id: 7, reference: 'a', amount: 1 },
    ];
    const records: TestRecord[] = values.map((v, i) => ({ partition: 0, offset: i, key: null, value: Buffer.from(JSON.stringify({ kind: 'payment', ...v })), timestampMs: 1_700_000_000_000 + i, headers: {} }));
    const tables = await runCutting(lake, planFor, records, { streams: 1, batchSize: Infinity });
    expect(tables.payments!.map((r) => Number(r.id)).sort()).toEqual([1, 4, 5, 6]);
    expect(tables._dead_letter!.map((r) => [r.offset, r.error])).toEqual([
      [1, "table 'payments': expectation 'one_per_ref' failed: unique (ref)"],
      [6, "table 'payments': expectation 'one_per_ref' failed: unique (ref)"],
    ]);
  });
});
