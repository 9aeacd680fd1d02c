/**
 * `pipeline status` from a checkpoint written by the real StreamCheckpoint: committed
 * positions (a planned batch without its commit does not count), lag against end offsets,
 * the stream layout the checkpoint was written with, and the `alerts` limits.
 */
import { appendFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Plan } from '../../src/runtime/plan.js';
import { StreamCheckpoint } from '../../src/runtime/stream-checkpoint.js';
import { writeCheckpointMetadata } from '../../src/runtime/checkpoint-layout.js';
import { EventLogWriter } from '../../src/runtime/event-log.js';
import type { TopicOffsets } from '../../src/runtime/kafka-client.js';
import { buildStatus, formatStatus } from '../../src/runtime/status.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A checkpoint of 2 streams over 4 partitions; returns the plan fields status reads. */
function setup(): { plan: Plan; root: string } {
  const root = mkdtempSync(join(tmpdir(), 'status-'));
  dirs.push(root);
  writeCheckpointMetadata(root, { formatVersion: 1, pipeline: 'p', topic: 't', streams: 2, createdAt: new Date().toISOString() });
  const plan = { pipeline: 'p', checkpointPath: root, streams: [{}, {}], source: { kafka: { topic: 't', startingOffsets: 'earliest' } } } as unknown as Plan;
  return { plan, root };
}

function offsets(high: number[], low: number[] = high.map(() => 0)): TopicOffsets {
  return { partitions: high.length, low: new Map(low.map((o, p) => [p, o])), high: new Map(high.map((o, p) => [p, o])) };
}

function commitBatch(cp: StreamCheckpoint, batchId: number, ranges: Record<string, [number, number]>, plannedAt: Date, committedAt: Date, commit = true): void {
  cp.writeOffsets({ batchId, appId: 'p/0', topic: 't', ranges, schema: {}, createdAt: plannedAt.toISOString() });
  const records = Object.values(ranges).reduce((n, [from, until]) => n + until - from, 0);
  if (commit) cp.writeCommit({ batchId, committedAt: committedAt.toISOString(), records, tables: {} });
}

describe('buildStatus', () => {
  it('counts lag from committed positions only, per the checkpoint layout', () => {
    const { plan, root } = setup();
    const s0 = new StreamCheckpoint(root, 0);
    const t = Date.parse('2026-01-01T00:00:00Z');
    commitBatch(s0, 0, { 0: [0, 100], 2: [0, 50] }, new Date(t), new Date(t + 400));
    commitBatch(s0, 1, { 0: [100, 300], 2: [50, 50] }, new Date(t + 1000), new Date(t + 1250));
    // Planned, never committed: its records are still lag.
    commitBatch(s0, 2, { 0: [300, 400], 2: [50, 90] }, new Date(t + 2000), new Date(t + 2000), false);
    const status = buildStatus(plan, offsets([500, 10, 90, 20]), {}, t + 3000);

    const [st0, st1] = status.streams;
    expect(st0!.partitions).toEqual([0, 2]);
    expect(st0!.committedOffsets).toEqual({ 0: 300, 2: 50 });
    expect(st0!.lag).toBe(200 + 40);
    expect(st0!.lastBatchAt).toBe(new Date(t + 1250).toISOString());
    expect(st0!.lastBatchMs).toBe(250);
    expect(st0!.recordsPerSec).toBe(Math.round(200 / 0.85)); // batch 1's 200 records over 850 ms between commits
    // Stream 1 never committed and startingOffsets is earliest: everything is lag.
    expect(st1!.committedOffsets).toEqual({ 1: 0, 3: 0 });
    expect(st1!.lag).toBe(30);
    expect(status.totalLag).toBe(270);
    expect(status.alerts).toEqual([]);
    expect(formatStatus(status)).toMatch(/^pipeline p \(topic t\): not running, lag 270\n  stream 0: partitions \[0,2\], lag 240, last batch/);
  });

  it('does not count records retention deleted as lag', () => {
    const { plan } = setup();
    expect(buildStatus(plan, offsets([100, 100], [60, 0])).streams[0]!.lag).toBe(40);
  });

  it('reports maxLag and maxLagSeconds when exceeded, and only then', () => {
    const { plan, root } = setup();
    const t = Date.parse('2026-01-01T00:00:00Z');
    commitBatch(new StreamCheckpoint(root, 0), 0, { 0: [0, 10], 2: [0, 10] }, new Date(t), new Date(t + 100));
    commitBatch(new StreamCheckpoint(root, 1), 0, { 1: [0, 10], 3: [0, 10] }, new Date(t), new Date(t + 100));
    const caughtUp = offsets([10, 10, 10, 10]);
    const behind = offsets([10, 510, 10, 10]);
    const later = t + 600_000;
    expect(buildStatus(plan, caughtUp, { maxLag: 0, maxLagSeconds: 60 }, later).alerts).toEqual([]);
    expect(buildStatus(plan, behind, { maxLag: 500 }, later).alerts).toEqual([]);
    expect(buildStatus(plan, behind, { maxLag: 499 }, later).alerts).toEqual(['lag 500 exceeds alerts.maxLag 499']);
    expect(buildStatus(plan, behind, { maxLagSeconds: 601 }, later).alerts).toEqual([]);
    expect(buildStatus(plan, behind, { maxLagSeconds: 300 }, later).alerts).toEqual(['stream 1 has lag 500 and has not committed for 600 s (alerts.maxLagSeconds 300)']);
  });

  it('says a pipeline without a checkpoint has never run', () => {
    const root = mkdtempSync(join(tmpdir(), 'status-'));
    dirs.push(root);
    const plan = { pipeline: 'p', checkpointPath: join(root, 'none'), streams: [{}], source: { kafka: { topic: 't', startingOffsets: 'latest' } } } as unknown as Plan;
    const status = buildStatus(plan, offsets([5, 7]));
    expect(status.neverRun).toBe(true);
    expect(status.totalLag).toBe(0); // latest: a first run starts at the end
    expect(formatStatus(status)).toMatch(/never run/);
  });
});

describe('buildStatus with an event log', () => {
  it('takes the last batch duration from the log when it has the batch', () => {
    const { plan, root } = setup();
    const t = Date.parse('2026-01-01T00:00:00Z');
    commitBatch(new StreamCheckpoint(root, 0), 4, { 0: [0, 10], 2: [0, 10] }, new Date(t), new Date(t + 900));
    const log = new EventLogWriter(root);
    log.append({ type: 'batch', atMs: t + 900, stream: 0, batchId: 4, replay: false, records: 20, deadLettered: 0, dropped: 0, durationMs: 321, phasesMs: {}, tables: {} });
    // A torn last line (a crash mid-append) is skipped, not an error.
    appendFileSync(join(root, 'events.jsonl'), '{"type":"batch","atMs":');
    expect(buildStatus(plan, offsets([10, 0, 10, 0])).streams[0]!.lastBatchMs).toBe(321);
  });
});
