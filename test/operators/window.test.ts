import { describe, expect, it } from 'vitest';
import { loadSpecText } from '../../src/spec/index.js';
import { withSqlChecks } from '../../src/planner/check-sql.js';
import { windowStarts } from '../../src/operators/window.js';
import { streamWatermark } from '../../src/operators/watermark.js';
import { accumulate, combine, emptyPartial, finish, parseMeasure, type Measure } from '../../src/operators/window-measures.js';

describe('window assignment', () => {
  it('puts an event time in one tumbling window and in size/slide sliding windows', () => {
    expect(windowStarts(90_000, 60_000, 60_000)).toEqual([60_000]);
    expect(windowStarts(60_000, 60_000, 60_000)).toEqual([60_000]); // a window holds its start, not its end
    expect(windowStarts(90_000, 60_000, 30_000)).toEqual([60_000, 90_000]);
    expect(windowStarts(89_999, 60_000, 30_000)).toEqual([30_000, 60_000]);
    expect(windowStarts(-1, 60_000, 20_000)).toEqual([-60_000, -40_000, -20_000]);
  });
});

describe('measures', () => {
  const m = (expr: string): Measure => {
    const parsed = parseMeasure('x', expr);
    if ('error' in parsed) throw new Error(parsed.error);
    return parsed;
  };

  it('parses the mergeable aggregates and refuses the rest', () => {
    expect(m('count(*)')).toEqual({ name: 'x', fn: 'count' });
    expect(m(' SUM( "Amount" ) ')).toEqual({ name: 'x', fn: 'sum', column: 'Amount' });
    for (const bad of ['count(DISTINCT a)', 'sum(a * b)', 'median(a)', 'sum(*)', 'count(a) + 1']) expect(parseMeasure('x', bad)).toHaveProperty('error');
  });

  it('merges partials exactly whatever the split (as SQL: nulls and wrong kinds skipped)', () => {
    const values: unknown[] = [3, null, 'abc', 7, -2, 10, undefined, 4.5];
    for (const expr of ['count(*)', 'count(v)', 'sum(v)', 'min(v)', 'max(v)', 'avg(v)']) {
      const measure = m(expr);
      const whole = values.reduce<ReturnType<typeof emptyPartial>>((p, v) => accumulate(measure, p, v), emptyPartial(measure));
      for (let cut = 0; cut <= values.length; cut++) {
        const a = values.slice(0, cut).reduce<ReturnType<typeof emptyPartial>>((p, v) => accumulate(measure, p, v), emptyPartial(measure));
        const b = values.slice(cut).reduce<ReturnType<typeof emptyPartial>>((p, v) => accumulate(measure, p, v), emptyPartial(measure));
        expect(finish(measure, combine(measure, b, a))).toEqual(finish(measure, whole));
      }
    }
    const all = (expr: string) => finish(m(expr), values.reduce<ReturnType<typeof emptyPartial>>((p, v) => accumulate(m(expr), p, v), emptyPartial(m(expr))));
    expect([all('count(*)'), all('count(v)'), all('sum(v)'), all('min(v)'), all('max(v)'), all('avg(v)')]).toEqual([8, 6, 22.5, -2, 'abc', 4.5]); // min/max: numbers before text
  });
});

describe('stream watermark', () => {
  const clocks = { 0: { maxEventTimeMs: 100_000, seenAt: 0 }, 1: { maxEventTimeMs: 50_000, seenAt: 0 }, 2: { maxEventTimeMs: null, seenAt: 9_000 } };
  it('is the least partition watermark; a partition without event time holds it back until idle', () => {
    expect(streamWatermark(clocks, [0, 1], 10_000, 10_000)).toBe(40_000);
    expect(streamWatermark(clocks, [0, 1, 2], 10_000, 10_000)).toBeNull();
    expect(streamWatermark(clocks, [0, 1, 2], 10_000, 10_000, 5_000)).toBeNull(); // 2 idle 1s only; 0 and 1 idle: 2 holds it
    expect(streamWatermark(clocks, [0, 1, 2], 10_000, 20_000, 5_000)).toBe(90_000); // every partition idle: greatest
    expect(streamWatermark({ ...clocks, 1: { maxEventTimeMs: 50_000, seenAt: 19_000 } }, [0, 1, 2], 10_000, 20_000, 5_000)).toBe(40_000);
  });
});

describe('measure checks', () => {
  const spec = (measure: string) => `apiVersion: pipeline/v1
name: shop
source: { kafka: { brokers: [localhost:9092], topic: t } }
watermark: { column: ts, delay: 1m }
routing: { field: type, routes: { o: orders } }
tables: { orders: { mode: append } }
aggregations:
  per_minute:
    from: [orders]
    window: { type: tumbling, size: 1m }
    measures: { m: "${measure}" }
output: { path: ./lake }
`;
  it('accepts mergeable aggregates and reports the rest at their line and column (PIPE0063)', async () => {
    expect((await withSqlChecks(loadSpecText(spec('avg(amount)'), 's.yaml'))).diagnostics).toEqual([]);
    const bad = await withSqlChecks(loadSpecText(spec('count(DISTINCT user)'), 's.yaml'));
    expect(bad.spec).toBeUndefined();
    expect(bad.diagnostics.map((d) => [d.code, d.line, d.col])).toEqual([['PIPE0063', 11, 20]]);
    expect(bad.diagnostics[0]!.message).toMatch(/per_minute\.measures\.m` is not a measure that merges across batches/);
  });
});
