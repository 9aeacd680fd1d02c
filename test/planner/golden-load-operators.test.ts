/**
 * Plans of a spec with computed columns, row filters and expectations at the source and per
 * table: each table's derive, filter and expect nodes sit between route and its sink (source
 * parts first), with error and quarantine edges to the dead-letter sink; the renders are
 * golden files, and the runtime reads each table's load program from exactly those nodes.
 */
import { describe, expect, it } from 'vitest';
import { compilePlan } from '../../src/planner/compile.js';
import { PLAN_FORMAT_EXTENSIONS, PLAN_FORMATS, renderPlan } from '../../src/planner/render.js';
import { tablePrograms } from '../../src/runtime/table-program.js';
import { loadSpecText } from '../../src/spec/index.js';
import { expectGolden } from './golden.js';

const SPEC = `apiVersion: pipeline/v1
name: quality
source:
  kafka: { brokers: [localhost:9092], topic: events }
  derive:
    day: "CAST(event_time AS DATE)"
  where: "coalesce(test, false) = false"
  expectations:
    - { name: has_id, expr: "id IS NOT NULL", action: warn }
routing:
  field: kind
  routes: { order: orders, click: clicks }
tables:
  orders:
    mergeKeys: [id]
    sequenceBy: seq
    partitionBy: [day]
    derive:
      cents: "CAST(round(amount * 100) AS BIGINT)"
    where: "status <> 'draft'"
    expectations:
      - { name: amount_non_negative, expr: "amount >= 0", action: quarantine }
      - { name: one_per_id, unique: [id], action: drop }
  clicks: { mode: append }
output: { path: ./lake }
`;

const plan = () => {
  const loaded = loadSpecText(SPEC, 'quality.yaml');
  expect(loaded.diagnostics).toEqual([]);
  return compilePlan(loaded.spec!, { partitions: 2, cwd: '/work' });
};

describe('golden plans with derive, filter and expect nodes', () => {
  for (const format of PLAN_FORMATS) {
    it(`renders ${format}`, () => {
      expectGolden(`quality.plan.${PLAN_FORMAT_EXTENSIONS[format]}`, renderPlan(plan(), format));
    });
  }

  it('routes through the load-time nodes, and the runtime runs what they carry, in order', () => {
    const p = plan();
    expect(p.edges.filter((e) => e.from === 'route' || e.from.endsWith('.orders'))).toEqual([
      { from: 'route', to: 'derive.clicks', port: 'click' },
      { from: 'route', to: 'derive.orders', port: 'order' },
      { from: 'route', to: 'sink._dead_letter', port: 'unmatched' },
      { from: 'route', to: 'sink._dead_letter', port: 'error' },
      { from: 'derive.orders', to: 'filter.orders' },
      { from: 'filter.orders', to: 'expect.orders' },
      { from: 'expect.orders', to: 'sink.orders' },
      { from: 'derive.orders', to: 'sink._dead_letter', port: 'error' },
      { from: 'expect.orders', to: 'sink._dead_letter', port: 'quarantine' },
      { from: 'sink.orders', to: 'sink._dead_letter', port: 'error' },
    ]);
    // A sink's own config carries no load program: only the nodes do.
    expect(p.sinks.find((s) => s.table === 'orders')).not.toHaveProperty('derive');
    const orders = tablePrograms(p).get('orders')!;
    expect(orders.nodes.map((n) => n.id)).toEqual(['derive.orders', 'filter.orders', 'expect.orders']);
    expect(orders.sink.derive).toEqual([{ column: 'day', sql: 'CAST(event_time AS DATE)' }, { column: 'cents', sql: 'CAST(round(amount * 100) AS BIGINT)' }]);
    expect(orders.sink.where).toBe("(coalesce(test, false) = false) AND (status <> 'draft')");
    expect(orders.sink.expectations!.map((e) => [e.name, e.action])).toEqual([['has_id', 'warn'], ['amount_non_negative', 'quarantine'], ['one_per_id', 'drop']]);
    // Editing a node is what changes the load: the plan is the program.
    const edited = { ...p, nodes: p.nodes.map((n) => (n.id === 'filter.orders' ? { ...n, props: { ...n.props, where: 'amount > 1' } } : n)) };
    expect(tablePrograms(edited).get('orders')!.sink.where).toBe('amount > 1');
    expect(tablePrograms(p).get('clicks')!.sink.where).toBe('coalesce(test, false) = false');
    // Nodes in an order the load cannot run are refused, not run in another order.
    const swapped = { ...p, edges: p.edges.map((e) => (e.from === 'route' && e.to === 'derive.orders' ? { ...e, to: 'filter.orders' }
      : e.from === 'filter.orders' ? { ...e, to: 'derive.orders' }
        : e.from === 'derive.orders' && e.to === 'filter.orders' ? { ...e, to: 'expect.orders' } : e)) };
    expect(() => tablePrograms(swapped)).toThrow(/node derive.orders \(derive\) comes after/);
  });
});
