import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync, readdirSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StreamCheckpoint, type OffsetsEntry } from '../../src/runtime/stream-checkpoint.js';
import { acquireLock } from '../../src/runtime/checkpoint-lock.js';
import { checkLayout, readCheckpointMetadata, streamsChangedError } from '../../src/runtime/checkpoint-layout.js';
import { collectPositions, reshardCheckpoint } from '../../src/runtime/reshard.js';

let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'ckpt-'));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

const entry = (batchId: number, ranges: Record<string, [number, number]>): OffsetsEntry => ({
  batchId,
  appId: `p/0`,
  topic: 't',
  ranges,
  schema: { orders: { id: 'BIGINT' } },
  createdAt: new Date(0).toISOString(),
});
const commit = (batchId: number) => ({ batchId, committedAt: '', records: 1, tables: {} });

describe('stream checkpoint (write-ahead log)', () => {
  it('starts fresh, then remembers resolved starting offsets', () => {
    const cp = new StreamCheckpoint(root, 0);
    const first = cp.recover();
    expect(first).toMatchObject({ nextBatchId: 0, fresh: true });
    expect(first.pending).toBeUndefined();
    cp.writeStart(new Map([[0, 42], [2, 7]]));
    const again = new StreamCheckpoint(root, 0).recover();
    expect(again.fresh).toBe(false);
    expect([...again.positions]).toEqual([[0, 42], [2, 7]]);
  });

  it('resumes after the last committed batch at its until offsets', () => {
    const cp = new StreamCheckpoint(root, 1);
    cp.writeOffsets(entry(0, { '1': [0, 10], '3': [5, 5] }));
    cp.writeCommit(commit(0));
    cp.writeOffsets(entry(1, { '1': [10, 25], '3': [5, 9] }));
    cp.writeCommit(commit(1));
    const state = cp.recover();
    expect(state.nextBatchId).toBe(2);
    expect(state.pending).toBeUndefined();
    expect(Object.fromEntries(state.positions)).toEqual({ 1: 25, 3: 9 });
  });

  it('returns a planned batch without commit as pending, positioned at its from offsets', () => {
    const cp = new StreamCheckpoint(root, 0);
    cp.writeOffsets(entry(0, { '0': [0, 10] }));
    cp.writeCommit(commit(0));
    cp.writeOffsets(entry(1, { '0': [10, 30] }));
    const decisions = { diverted: { orders: 'cannot widen BIGINT to BOOLEAN' }, rejected: { users: [{ row: 3, reason: 'value does not convert' }] } };
    cp.writeDecisions(1, decisions);
    const state = new StreamCheckpoint(root, 0).recover();
    expect(state.nextBatchId).toBe(1);
    expect(state.pending?.ranges).toEqual({ '0': [10, 30] });
    expect(state.pending?.schema).toEqual({ orders: { id: 'BIGINT' } });
    expect(Object.fromEntries(state.positions)).toEqual({ 0: 10 });
    expect(cp.readDecisions(1)).toEqual(decisions);
    expect(cp.readDecisions(0)).toEqual({ diverted: {}, rejected: {} });
    // A decisions file from before rejected rows existed holds the diverted tables alone.
    writeFileSync(join(root, '0', 'decisions', '2'), JSON.stringify({ orders: 'old' }));
    expect(cp.readDecisions(2)).toEqual({ diverted: { orders: 'old' }, rejected: {} });
  });

  it('writes atomically (no temp files left) and prunes old batches', () => {
    const cp = new StreamCheckpoint(root, 0);
    for (let i = 0; i < 8; i++) {
      cp.writeOffsets(entry(i, { '0': [i, i + 1] }));
      cp.writeCommit(commit(i));
    }
    cp.prune(7, 3);
    expect(cp.batchIds('offsets')).toEqual([5, 6, 7]);
    expect(cp.batchIds('commits')).toEqual([5, 6, 7]);
    expect(readdirSync(join(root, '0', 'offsets')).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    expect(cp.recover().nextBatchId).toBe(8);
  });
});

describe('checkpoint lock', () => {
  it('refuses a second holder while the first is alive, and frees on release', () => {
    const dir = join(root, '0');
    new StreamCheckpoint(root, 0);
    const held = acquireLock(dir, 'stream 0');
    const owner = JSON.parse(readFileSync(join(dir, 'lock'), 'utf8'));
    expect(owner).toMatchObject({ pid: process.pid, hostname: hostname() });
    // Our own pid counts as alive (and not stale) for another acquirer in this process.
    expect(() => acquireLock(dir, 'stream 0')).toThrow(/in use by pid/);
    held.release();
    expect(existsSync(join(dir, 'lock'))).toBe(false);
    acquireLock(dir, 'stream 0').release();
  });

  it('takes over a lock whose pid is dead on this host', () => {
    const dir = join(root, '0');
    new StreamCheckpoint(root, 0);
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString();
    writeFileSync(join(dir, 'lock'), JSON.stringify({ pid: Number(dead), hostname: hostname(), startedAt: 'then' }));
    const held = acquireLock(dir, 'stream 0');
    expect(JSON.parse(readFileSync(join(dir, 'lock'), 'utf8')).pid).toBe(process.pid);
    held.release();
  });

  it('never takes over a lock of another host', () => {
    const dir = join(root, '0');
    new StreamCheckpoint(root, 0);
    writeFileSync(join(dir, 'lock'), JSON.stringify({ pid: 1, hostname: 'elsewhere', startedAt: 'then' }));
    expect(() => acquireLock(dir, 'stream 0')).toThrow(/in use by pid 1 on elsewhere/);
  });
});

describe('checkpoint layout and re-shard', () => {
  const req = { root: '', pipeline: 'p', topic: 't', streams: 2 };

  it('records metadata on first use and reports a changed stream count with an explanation', () => {
    expect(checkLayout({ ...req, root }, undefined)).toEqual({ created: true });
    const meta = readCheckpointMetadata(root)!;
    expect(meta).toMatchObject({ pipeline: 'p', topic: 't', streams: 2 });
    expect(checkLayout({ ...req, root }, meta)).toEqual({ created: false });
    expect(checkLayout({ ...req, root, streams: 3 }, meta)).toEqual({ created: false, previousStreams: 2 });
    const err = streamsChangedError(root, 2, 3, '/out');
    expect(err.code).toBe('PIPE_CHECKPOINT_STREAMS');
    expect(err.toLine()).toMatch(/streams: 2.*streams: 3.*p % streams == i.*--reshard.*deleting/s);
    expect(() => checkLayout({ ...req, root, topic: 'other' }, meta)).toThrow(/positions of topic 't'/);
  });

  it('re-shards committed positions into the new layout above every old batch id', () => {
    checkLayout({ ...req, root }, undefined);
    const s0 = new StreamCheckpoint(root, 0);
    s0.writeOffsets(entry(4, { '0': [0, 10], '2': [0, 20] }));
    s0.writeCommit(commit(4));
    const s1 = new StreamCheckpoint(root, 1);
    s1.writeOffsets(entry(9, { '1': [0, 11], '3': [0, 33] }));
    s1.writeCommit(commit(9));
    reshardCheckpoint({ root, pipeline: 'p', topic: 't', from: 2, to: 3, meta: readCheckpointMetadata(root)!, logger: { info() {} } });
    expect(readCheckpointMetadata(root)?.streams).toBe(3);
    const next = [0, 1, 2].map((j) => new StreamCheckpoint(root, j).recover());
    expect(next.map((s) => s.nextBatchId)).toEqual([11, 11, 11]);
    expect(next.map((s) => Object.fromEntries(s.positions))).toEqual([{ 0: 10, 3: 33 }, { 1: 11 }, { 2: 20 }]);
    expect(collectPositions(root, 3).positions.size).toBe(4);
  });

  it('refuses to re-shard while a stream has an uncommitted batch', () => {
    checkLayout({ ...req, root }, undefined);
    new StreamCheckpoint(root, 0).writeOffsets(entry(0, { '0': [0, 10] }));
    expect(() => reshardCheckpoint({ root, pipeline: 'p', topic: 't', from: 2, to: 1, meta: readCheckpointMetadata(root)!, logger: { info() {} } })).toThrow(
      /planned but not committed/,
    );
    expect(readCheckpointMetadata(root)?.streams).toBe(2);
  });
});
