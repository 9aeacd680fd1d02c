import { describe, expect, it } from 'vitest';
import { diffSpecs } from '../../src/planner/diff.js';
import { commerceSpec, edit } from './fixtures.js';
import type { AggregationSpec } from '../../src/spec/types.js';

const agg = (): AggregationSpec => ({ from: ['orders'], window: { type: 'tumbling', size: '1m' }, groupBy: ['status'], measures: { n: 'count(*)' }, outputMode: 'update' });
const base = edit(commerceSpec(), (s) => (s.aggregations = { per_minute: agg() }));
const impacts = (change: Parameters<typeof edit>[1]) => diffSpecs(base, edit(base, change)).map((c) => [c.path, c.impact]);

describe('diffSpecs: event time', () => {
  it('late-data policy and idle timeout are safe; a new aggregation is safe, a removed one orphans its table', () => {
    expect(impacts((s) => Object.assign(s.watermark!, { lateData: 'keep', idleTimeout: '5m' }))).toEqual([['watermark.lateData', 'safe'], ['watermark.idleTimeout', 'safe']]);
    expect(impacts((s) => (s.aggregations!.second = agg()))).toEqual([['aggregations.second', 'safe']]);
    expect(impacts((s) => delete s.aggregations!.per_minute)).toEqual([['aggregations.per_minute', 'table']]);
  });

  it('what a window computes is a table change; its output mode a checkpoint change; nothing is unclassified', () => {
    expect(impacts((s) => (s.aggregations!.per_minute!.measures.total = 'sum(amount)'))).toEqual([['aggregations.per_minute.measures', 'table']]);
    expect(impacts((s) => (s.aggregations!.per_minute!.window = { type: 'sliding', size: '1m', slide: '30s' }))).toEqual([['aggregations.per_minute.window', 'table']]);
    expect(impacts((s) => (s.aggregations!.per_minute!.outputMode = 'append'))).toEqual([['aggregations.per_minute.outputMode', 'checkpoint']]);
    expect(impacts((s) => (s.aggregations!.per_minute!.partitionBy = ['window_date']))).toEqual([['aggregations.per_minute.partitionBy', 'table']]);
  });
});
