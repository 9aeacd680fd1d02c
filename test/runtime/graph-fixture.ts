/** The plan graph the runtime executes, compiled from a minimal spec for transform tests. */
import { compilePlan } from '../../src/planner/compile.js';
import type { RoutingRules, TableRules } from '../../src/operators/api.js';
import type { TransformGraph } from '../../src/runtime/batch-transform.js';
import type { PipelineSpec } from '../../src/spec/types.js';

export function graphOf(routing: RoutingRules, tables: Record<string, TableRules>, watermark?: { column: string; delay: string }): TransformGraph {
  const spec: PipelineSpec = {
    apiVersion: 'pipeline/v1',
    name: 'fixture',
    source: { kafka: { brokers: ['localhost:9092'], topic: 't', startingOffsets: 'earliest', failOnDataLoss: true }, format: 'json' },
    streams: 1,
    trigger: { interval: '1s', maxRecordsPerBatch: 100 },
    routing,
    tables: Object.fromEntries(Object.entries(tables).map(([n, r]) => [n, { mode: r.mode, ...(r.mergeKeys.length ? { mergeKeys: r.mergeKeys } : {}), ...(r.sequenceBy ? { sequenceBy: r.sequenceBy } : {}) }])),
    deadLetter: { table: '_dead_letter' },
    output: { path: '/tmp/fixture-lake' },
    checkpoint: { path: '/tmp/fixture-lake/_checkpoints' },
    ...(watermark ? { watermark } : {}),
  };
  const plan = compilePlan(spec);
  return { nodes: plan.nodes, edges: plan.edges };
}
