import { describe, expect, it } from 'vitest';
import { splitReason, summariseDeadLetters } from '../../src/runtime/dead-letter-summary.js';
import { parseSince } from '../../src/cli/commands/deadletter.js';

const row = (partition: number, offset: number, stage: string, error: string, timestamp: string) => ({ partition, offset, stage, error, timestamp });
const rows = [
  row(0, 5, 'expectation', "table 'orders': expectation 'positive' failed: amount > 0", '2026-03-01T10:00:00Z'),
  row(1, 2, 'expectation', "table 'orders': expectation 'positive' failed: amount > 0", '2026-03-02T10:00:00Z'),
  row(0, 1, 'expectation', "table 'orders': expectation 'positive' failed: amount > 0", '2026-03-03T10:00:00Z'),
  row(0, 3, 'decode', 'invalid JSON: Unexpected token', '2026-03-02T00:00:00Z'),
  row(1, 9, 'sink', "table 'users': value does not convert to the column type: age (INTEGER)", '2026-03-04T00:00:00Z'),
];

describe('dead-letter summary', () => {
  it('counts by table, stage and reason, most frequent first, with the first and last record', () => {
    const { total, groups } = summariseDeadLetters(rows, {});
    expect(total).toBe(5);
    expect(groups.map((g) => [g.count, g.table, g.stage, g.reason])).toEqual([
      [3, 'orders', 'expectation', "expectation 'positive' failed: amount > 0"],
      [1, '', 'decode', 'invalid JSON: Unexpected token'],
      [1, 'users', 'sink', 'value does not convert to the column type: age (INTEGER)'],
    ]);
    expect([groups[0]!.first, groups[0]!.last].map((a) => `p${a.partition}@${a.offset}`)).toEqual(['p0@1', 'p1@2']);
  });

  it('filters by stage, reason text and record time', () => {
    expect(summariseDeadLetters(rows, { stage: 'decode' }).total).toBe(1);
    expect(summariseDeadLetters(rows, { reason: 'POSITIVE' }).total).toBe(3);
    expect(summariseDeadLetters(rows, { sinceMs: Date.parse('2026-03-02T05:00:00Z') }).total).toBe(3);
    expect(summariseDeadLetters(rows, { stage: 'route' }).groups).toEqual([]);
  });

  it('reads the table out of a reason, and --since as a time or a duration back from now', () => {
    expect(splitReason("table 'a-b': boom")).toEqual({ table: 'a-b', reason: 'boom' });
    expect(splitReason('no table here')).toEqual({ table: '', reason: 'no table here' });
    const now = Date.parse('2026-03-10T00:00:00Z');
    expect(parseSince('7d', now)).toBe(Date.parse('2026-03-03T00:00:00Z'));
    expect(parseSince('24h', now)).toBe(Date.parse('2026-03-09T00:00:00Z'));
    expect(parseSince('2026-03-01T00:00:00Z', now)).toBe(Date.parse('2026-03-01T00:00:00Z'));
    expect(() => parseSince('yesterday', now)).toThrow(/--since must be/);
  });
});
