import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { BatchCollector } from '../../src/runtime/batch-collector.js';
import type { RecordChunk } from '../../src/runtime/record-chunk.js';

const msgs = (...offsets: number[]) => offsets.map((o) => ({ offset: String(o), timestamp: '0', value: null }));
const offsetsOf = (chunks: RecordChunk[] | undefined) => (chunks ?? []).flatMap((c) => Array.from({ length: c.length }, (_, i) => c.offset(i)));

describe('batch collector', () => {
  it('cuts contiguous ranges [from, until) and starts the next batch where the last ended', () => {
    const c = new BatchCollector({ partitions: [0, 2], positions: new Map([[0, 5], [2, 0]]), maxRecordsPerBatch: 100 });
    c.push(0, msgs(5, 6, 7));
    c.push(2, msgs(0, 1));
    const b1 = c.take();
    expect(b1.ranges).toEqual({ '0': [5, 8], '2': [0, 2] });
    expect(b1.count).toBe(5);
    c.push(0, msgs(8));
    const b2 = c.take();
    expect(b2.ranges).toEqual({ '0': [8, 9], '2': [2, 2] });
    expect(offsetsOf(b2.chunks.get(0))).toEqual([8]);
    expect(b2.chunks.has(2)).toBe(false);
  });

  it('ignores redelivered messages and keeps gaps inside the range', () => {
    const c = new BatchCollector({ partitions: [1], positions: new Map([[1, 10]]), maxRecordsPerBatch: 100 });
    expect(c.push(1, msgs(8, 9, 10, 11))).toBe(2);
    expect(c.push(1, msgs(10, 11, 14))).toBe(1);
    const b = c.take();
    expect(b.ranges).toEqual({ '1': [10, 15] });
    expect(offsetsOf(b.chunks.get(1))).toEqual([10, 11, 14]);
  });

  it('moves past a trailing gap (transaction marker) with an empty batch, never past an end or a replay', () => {
    const c = new BatchCollector({ partitions: [0], positions: new Map([[0, 0]]), maxRecordsPerBatch: 100, endOffsets: new Map([[0, 6]]) });
    c.push(0, msgs(0, 1, 2));
    c.skipTo(0, 4);
    expect(c.take().ranges).toEqual({ '0': [0, 4] });
    c.skipTo(0, 9);
    expect(c.position(0)).toBe(6);
    expect(c.pending()).toBe(true);
    expect(c.finished()).toBe(false);
    const empty = c.take();
    expect(empty).toMatchObject({ ranges: { '0': [4, 6] }, count: 0 });
    expect(c.finished()).toBe(true);
    const r = new BatchCollector({ partitions: [0], positions: new Map([[0, 0]]), maxRecordsPerBatch: 100 });
    r.setReplay({ '0': [0, 3] });
    r.push(0, msgs(0, 1));
    r.skipTo(0, 5);
    expect(r.replayReady()).toBe(true);
    expect(r.take().ranges).toEqual({ '0': [0, 3] });
  });

  it('caps a batch at maxRecordsPerBatch, shared fairly, and pauses when the next batch is full', () => {
    const c = new BatchCollector({ partitions: [0, 1, 2], positions: new Map([[0, 0], [1, 0], [2, 0]]), maxRecordsPerBatch: 10 });
    c.push(0, msgs(...Array.from({ length: 20 }, (_, i) => i)));
    c.push(1, msgs(0, 1));
    c.push(2, msgs(...Array.from({ length: 20 }, (_, i) => i)));
    expect(c.full()).toBe(true);
    expect(c.shouldPause(1)).toBe(true);
    const b = c.take();
    expect(b.count).toBe(10);
    expect(b.ranges).toEqual({ '0': [0, 4], '1': [0, 2], '2': [0, 4] });
    expect(c.buffered).toBe(32);
    const next = c.take();
    expect(next.ranges['0']).toEqual([4, 9]);
  });

  it('replays exactly the recorded ranges and keeps later messages for the next batch', () => {
    const c = new BatchCollector({ partitions: [0, 1], positions: new Map([[0, 100], [1, 50]]), maxRecordsPerBatch: 2 });
    c.setReplay({ '0': [100, 104], '1': [50, 50] });
    expect(c.replaying).toBe(true);
    c.push(0, msgs(100, 101));
    expect(c.replayReady()).toBe(false);
    expect(c.shouldPause(0)).toBe(false);
    // More than maxRecordsPerBatch and past `until`: the replay is not capped, the rest waits.
    c.push(0, msgs(102, 103, 104, 105));
    expect(c.replayReady()).toBe(true);
    expect(c.shouldPause(0)).toBe(true);
    const b = c.take();
    expect(b.ranges).toEqual({ '0': [100, 104], '1': [50, 50] });
    expect(offsetsOf(b.chunks.get(0))).toEqual([100, 101, 102, 103]);
    expect(c.replaying).toBe(false);
    expect(c.take().ranges).toEqual({ '0': [104, 106], '1': [50, 50] });
  });

  it('rejects a replay that does not start at the recovered position', () => {
    const c = new BatchCollector({ partitions: [0], positions: new Map([[0, 7]]), maxRecordsPerBatch: 10 });
    expect(() => c.setReplay({ '0': [5, 9] })).toThrow(/starts at 5/);
  });

  it('available-now: stops at the end offsets and finishes when drained', () => {
    const c = new BatchCollector({ partitions: [0, 1], positions: new Map([[0, 0], [1, 3]]), maxRecordsPerBatch: 100, endOffsets: new Map([[0, 3], [1, 3]]) });
    expect(c.isCaughtUp(1)).toBe(true);
    expect(c.allCaughtUp()).toBe(false);
    c.push(0, msgs(0, 1, 2, 3, 4));
    expect(c.allCaughtUp()).toBe(true);
    expect(c.finished()).toBe(false);
    expect(c.take().ranges).toEqual({ '0': [0, 3], '1': [3, 3] });
    expect(c.finished()).toBe(true);
  });

  it('property: any push/take sequence yields gap-free, non-overlapping ranges holding every message once', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 5 }), fc.boolean()), { maxLength: 40 }),
        fc.integer({ min: 1, max: 7 }),
        (steps, max) => {
          const c = new BatchCollector({ partitions: [0, 1, 2], positions: new Map([[0, 0], [1, 0], [2, 0]]), maxRecordsPerBatch: max });
          const produced = [0, 0, 0];
          const seen: number[][] = [[], [], []];
          const last = ['0', '1', '2'].map(() => 0);
          const check = (b: ReturnType<typeof c.take>) => {
            for (const p of [0, 1, 2]) {
              const [from, until] = b.ranges[String(p)]!;
              expect(from).toBe(last[p]);
              last[p] = until;
              const got = offsetsOf(b.chunks.get(p));
              expect(got.every((o) => o >= from && o < until)).toBe(true);
              seen[p]!.push(...got);
            }
            expect(b.count).toBeLessThanOrEqual(max);
          };
          for (const [p, n, take] of steps) {
            // Redeliver the last two offsets sometimes, then new ones.
            const start = Math.max(0, produced[p]! - 2);
            c.push(p, msgs(...Array.from({ length: produced[p]! - start + n }, (_, i) => start + i)));
            produced[p]! += n;
            if (take) check(c.take());
          }
          while (c.buffered > 0) check(c.take());
          for (const p of [0, 1, 2]) expect(seen[p]).toEqual(Array.from({ length: produced[p]! }, (_, i) => i));
        },
      ),
      { numRuns: 200 },
    );
  });
});
