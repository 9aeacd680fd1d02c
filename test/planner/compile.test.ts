import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { compilePlan, ownedPartitions } from '../../src/planner/compile.js';
import { PLAN_FORMATS, renderPlan } from '../../src/planner/render.js';
import { SpecError } from '../../src/errors.js';
import { commerceSpec, edit, smallAvroSpec } from './fixtures.js';

describe('compilePlan', () => {
  it('builds the DAG with deterministic ids in data-flow order', () => {
    const plan = compilePlan(commerceSpec(), { cwd: '/work/x' });
    expect(plan.nodes.map((n) => n.id)).toEqual([
      'source', 'decode', 'watermark', 'route',
      'sink.analytics', 'sink.inventory', 'sink.orders', 'sink.payments', 'sink.products',
      'sink.refunds', 'sink.reviews', 'sink.shipments', 'sink.users',
      'sink._dead_letter',
    ]);
    expect(plan.nodes.map((n) => n.kind).slice(0, 4)).toEqual(['source-kafka', 'decode-json', 'watermark', 'route']);
    expect(plan.nodes.at(-1)!.kind).toBe('sink-dead-letter');
    expect(plan.edges.slice(0, 5)).toEqual([
      { from: 'source', to: 'decode' },
      { from: 'decode', to: 'sink._dead_letter', port: 'error' },
      { from: 'decode', to: 'watermark' },
      { from: 'watermark', to: 'sink._dead_letter', port: 'late' },
      { from: 'watermark', to: 'route' },
    ]);
    expect(plan.edges).toContainEqual({ from: 'route', to: 'sink.orders', port: 'orders' });
    expect(plan.edges).toContainEqual({ from: 'route', to: 'sink._dead_letter', port: 'unmatched' });
    expect(plan.edges.at(-1)).toEqual({ from: 'sink.users', to: 'sink._dead_letter', port: 'error' });
    // One edge per route value; source, decode error, the watermark pair and its late edge, unmatched, route error; one error edge per table.
    expect(plan.edges).toHaveLength(9 + 7 + 9);
  });

  it('resolves paths against cwd for the runtime but keeps them as written in node props', () => {
    const plan = compilePlan(commerceSpec(), { cwd: '/work/x' });
    expect(plan.outputPath).toBe('/work/x/lake');
    expect(plan.checkpointPath).toBe('/work/x/lake/_checkpoints');
    expect(plan.deadLetter).toEqual({ id: 'sink._dead_letter', table: '_dead_letter', path: '/work/x/lake/_dead_letter', maxRatio: 0.5 });
    expect(plan.sinks.find((s) => s.table === 'orders')).toEqual({
      id: 'sink.orders', table: 'orders', path: '/work/x/lake/orders', mode: 'upsert', mergeKeys: ['id'], sequenceBy: 'seq', partitionBy: [], maxColumns: 1000,
    });
    expect(plan.sinks.find((s) => s.table === 'analytics')).toMatchObject({ mode: 'append', mergeKeys: [], partitionBy: [] });
    expect(plan.nodes.find((n) => n.id === 'sink.orders')!.props.path).toBe('./lake/orders');
  });

  it('resolves durations, streams, app ids and group ids', () => {
    const plan = compilePlan(commerceSpec());
    expect(plan.trigger).toEqual({ intervalMs: 5000, maxRecordsPerBatch: 100000 });
    expect(plan.watermark).toEqual({ column: 'event_time', delayMs: 60000, lateData: 'dead_letter' });
    expect(plan.streams[3]).toEqual({ index: 3, appId: 'commerce-events/3', groupId: 'pipeline-commerce-events-3' });
    const small = compilePlan(smallAvroSpec(), { partitions: 3 });
    expect(small.streams).toEqual([{ index: 0, appId: 'billing/0', groupId: 'billing-lake-0', partitions: [0, 1, 2] }]);
    expect(small.nodes[1]!.kind).toBe('decode-avro');
  });

  it('assigns each partition to exactly one stream, p % streams', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 16 }), fc.integer({ min: 1, max: 64 }), (streams, partitions) => {
        const plan = compilePlan(edit(commerceSpec(), (s) => (s.streams = streams)), { partitions });
        const seen = plan.streams.flatMap((s) => s.partitions!.map((p) => [p, s.index] as const));
        expect(seen.map(([p]) => p).sort((a, b) => a - b)).toEqual([...Array(partitions).keys()]);
        for (const [p, index] of seen) expect(p % streams).toBe(index);
      }),
      { numRuns: 60 },
    );
    expect(ownedPartitions(1, 4, 12)).toEqual([1, 5, 9]);
    expect(ownedPartitions(5, 8, 4)).toEqual([]);
  });

  it('draws no unmatched edge when unmatched records are dropped', () => {
    const plan = compilePlan(smallAvroSpec());
    expect(plan.edges.filter((e) => e.port === 'unmatched')).toEqual([]);
    expect(plan.edges.filter((e) => e.to === 'sink.invoices').map((e) => e.port)).toEqual(['invoice_created', 'invoice_paid']);
  });

  it('renders identically whatever the key order of the spec', () => {
    const spec = commerceSpec();
    const shuffled = edit(spec, (s) => {
      s.tables = Object.fromEntries(Object.entries(s.tables).reverse());
      s.routing.routes = Object.fromEntries(Object.entries(s.routing.routes).reverse());
    });
    for (const format of PLAN_FORMATS) {
      expect(renderPlan(compilePlan(shuffled, { partitions: 12 }), format)).toBe(renderPlan(compilePlan(spec, { partitions: 12 }), format));
    }
  });

  it('never renders secrets', () => {
    const spec = edit(smallAvroSpec(), (s) => s.source.kafka!.brokers.push('SASL_SSL://svc:pa55word@kafka-3.internal:9093'));
    for (const format of PLAN_FORMATS) {
      const out = renderPlan(compilePlan(spec), format);
      expect(out).not.toContain('hunter2-secret');
      expect(out).not.toContain('pa55word');
      if (format === 'text' || format === 'json') expect(out).toContain('kafka-3.internal:9093');
    }
  });

  it('rejects specs whose routes name undeclared tables or clash with the dead-letter table', () => {
    const dangling = edit(commerceSpec(), (s) => (s.routing.routes.returns = 'returns'));
    expect(() => compilePlan(dangling)).toThrow(SpecError);
    expect(() => compilePlan(dangling)).toThrow("route 'returns' targets table 'returns'");
    const clash = edit(commerceSpec(), (s) => (s.deadLetter.table = 'orders'));
    expect(() => compilePlan(clash)).toThrow(/same name as the dead-letter table/);
    expect(() => compilePlan(commerceSpec(), { partitions: 0 })).toThrow(/positive integer/);
  });
});
