import { describe, expect, it } from 'vitest';
import { resolveStartPositions } from '../../src/runtime/start-positions.js';
import { TableLockClient, TableLockServer } from '../../src/runtime/table-locks.js';
import { parseFailpoint } from '../../src/runtime/failpoints.js';
import type { RecoveredState } from '../../src/runtime/stream-checkpoint.js';

const quiet = { warn() {} };
const state = (over: Partial<RecoveredState>): RecoveredState => ({ nextBatchId: 0, positions: new Map(), fresh: true, ...over });
const low = new Map([[0, 5], [1, 0], [2, 0]]);
const high = new Map([[0, 50], [1, 40], [2, 30]]);

describe('start positions', () => {
  it('first run: earliest = log start, latest = log end', () => {
    const base = { partitions: [0, 1], low, high, failOnDataLoss: true, logger: quiet };
    expect([...resolveStartPositions({ ...base, state: state({}), startingOffsets: 'earliest' })]).toEqual([[0, 5], [1, 0]]);
    expect([...resolveStartPositions({ ...base, state: state({}), startingOffsets: 'latest' })]).toEqual([[0, 50], [1, 40]]);
  });

  it('later runs resume from the checkpoint; a partition it never saw starts at earliest', () => {
    const positions = resolveStartPositions({
      partitions: [0, 1, 2], low, high, failOnDataLoss: true, logger: quiet, startingOffsets: 'latest',
      state: state({ fresh: false, positions: new Map([[0, 20], [1, 33]]) }),
    });
    expect([...positions]).toEqual([[0, 20], [1, 33], [2, 0]]);
  });

  it('a position retention already deleted stops the run, or skips ahead (and moves a pending replay) when allowed', () => {
    const lost = () => state({ fresh: false, positions: new Map([[0, 2]]), pending: { batchId: 3, appId: 'p/0', topic: 't', ranges: { '0': [2, 9] }, schema: {}, createdAt: '' } });
    const base = { partitions: [0], low, high, logger: quiet, startingOffsets: 'earliest' as const };
    expect(() => resolveStartPositions({ ...base, failOnDataLoss: true, state: lost() })).toThrow(/offsets 2\.\.4 of partition 0 were deleted by retention/);
    const s = lost();
    const skipped: [number, number][] = [];
    expect([...resolveStartPositions({ ...base, failOnDataLoss: false, state: s, onLost: (p, n) => skipped.push([p, n]) })]).toEqual([[0, 5]]);
    expect(s.pending?.ranges['0']).toEqual([5, 9]);
    expect(skipped).toEqual([[0, 3]]);
  });
});

describe('table locks across threads', () => {
  it('grants one holder per table at a time, in request order, and frees a closed port\'s locks', async () => {
    const server = new TableLockServer();
    const a = new TableLockClient(server.connect());
    const b = new TableLockClient(server.connect());
    const order: string[] = [];
    let releaseA!: () => void;
    const aHolds = a.withLock('/t/orders', () => new Promise<void>((r) => { order.push('a-in'); releaseA = () => { order.push('a-out'); r(); }; }));
    await new Promise((r) => setTimeout(r, 20));
    const bWaits = b.withLock('/t/orders', async () => { order.push('b-in'); });
    const otherTable = b.withLock('/t/users', async () => { order.push('b-users'); });
    await otherTable;
    await new Promise((r) => setTimeout(r, 20));
    expect(order).toEqual(['a-in', 'b-users']);
    releaseA();
    await aHolds;
    await bWaits;
    expect(order).toEqual(['a-in', 'b-users', 'a-out', 'b-in']);

    // A client that goes away while holding a lock does not block the others forever.
    const c = new TableLockClient(server.connect());
    let held!: () => void;
    void c.withLock('/t/x', () => new Promise<void>((r) => (held = r)));
    await new Promise((r) => setTimeout(r, 20));
    c.close();
    await a.withLock('/t/x', async () => {});
    held();
    a.close();
    b.close();
  });
});

describe('fail points', () => {
  it('parses name[:n], ignores other layers\' points, rejects malformed counts', () => {
    expect(parseFailpoint(undefined)).toBeUndefined();
    expect(parseFailpoint('batch.after-offsets')).toEqual({ name: 'batch.after-offsets', n: 1 });
    expect(parseFailpoint('batch.after-table-commit:7')).toEqual({ name: 'batch.after-table-commit', n: 7 });
    expect(parseFailpoint('lake.before-commit')).toBeUndefined();
    expect(() => parseFailpoint('batch.after-offsets:0')).toThrow(/malformed PIPELINE_FAILPOINT/);
    expect(() => parseFailpoint('batch.after-offsets:x')).toThrow(/malformed/);
  });
});
