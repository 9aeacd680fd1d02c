import { LosslessNumber } from 'lossless-json';
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

  it('sums exactly: any order and split gives the correctly rounded sum; big integers count', () => {
    const sum = m('sum(v)');
    const avg = m('avg(v)');
    const add = (measure: Measure, vs: unknown[]) => vs.reduce<ReturnType<typeof emptyPartial>>((p, v) => accumulate(measure, p, v), emptyPartial(measure));
    // (0.1 + 0.2) + 0.3 is 0.6000000000000001 in doubles; the exact sum rounds to 0.6.
    const tenths = [0.1, 0.2, 0.3, -0.7, 0.01, 123456.789];
    // The reference: each of these doubles times 2^70 is an integer, so BigInt adds them exactly and
    // Number() rounds the total once.
    const reference = Number(tenths.reduce((acc, v) => acc + BigInt(v * 2 ** 70), 0n)) / 2 ** 70;
    const orders = [tenths, [...tenths].reverse(), [tenths[2], tenths[0], tenths[5], tenths[1], tenths[4], tenths[3]]];
    for (const order of orders) {
      for (let cut = 0; cut <= order.length; cut++) {
        const partial = combine(sum, add(sum, order.slice(cut)), add(sum, order.slice(0, cut)));
        expect(partial).toBe(add(sum, tenths));
        expect(finish(sum, partial)).toBe(reference);
        expect(finish(avg, combine(avg, add(avg, order.slice(0, cut)), add(avg, order.slice(cut))))).toBe(reference / tenths.length);
      }
    }
    expect(finish(sum, add(sum, [0.1, 0.2, 0.3]))).toBe(0.6);
    // A big integer of a pretty-printed record is a lossless-json number (its valueOf a bigint):
    // it used to be skipped by sum, min and max.
    const big = new LosslessNumber('9223372036854775807');
    expect(add(sum, [big, big, 1])).toBe('18446744073709551615p0');
    expect(finish(sum, add(sum, [big, -1]))).toBe(9223372036854775806);
    expect(finish(m('max(v)'), add(m('max(v)'), [1, big]))).toBe(9223372036854775807);
    // Huge partials stay exact: no overflow on the way.
    expect(finish(sum, add(sum, [1e308, 1e308, -1e308]))).toBe(1e308);
    expect(finish(sum, add(sum, [5e-324, 5e-324]))).toBe(1e-323);
    // A partial held as a plain double (operator state of an older run) still adds exactly.
    expect(combine(sum, 0.5, add(sum, [0.25]))).toBe('3p-2');
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
