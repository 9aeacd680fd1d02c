/**
 * Operator state is committed with each batch and restored on restart: the watermark
 * operator's greatest event time survives a SIGKILL between the table commits and the
 * checkpoint commit, so the restarted run ends with the same state as an uninterrupted one.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeRecordFile } from '../../src/dev-broker/broker.js';
import { E2E_TIMEOUT, runAvailableNow } from '../support/cli.js';
import { useTestBroker } from '../support/broker.js';
import { tempDirs } from '../support/temp-dirs.js';

const broker = useTestBroker([{ name: 'timed', partitions: 1 }]);
const tempDir = tempDirs('state-');

function writeSpec(dir: string): string {
  const file = join(dir, 'spec.yaml');
  writeFileSync(file, `apiVersion: pipeline/v1
name: timed
source: { kafka: { brokers: ["${broker.bootstrap}"], topic: timed } }
trigger: { interval: 200ms, maxRecordsPerBatch: 50 }
watermark: { column: event_time, delay: 1m, lateData: keep }
routing: { field: t, routes: { e: events } }
tables: { events: { mode: append } }
output: { path: ${join(dir, 'lake')} }
`);
  return file;
}

/** The state committed with the stream's newest batch. */
function lastCommittedState(dir: string): Record<string, unknown> {
  const commits = join(dir, 'lake', '_checkpoints', '0', 'commits');
  const last = Math.max(...readdirSync(commits).filter((f) => /^\d+$/.test(f)).map(Number));
  return (JSON.parse(readFileSync(join(commits, String(last)), 'utf8')) as { state: Record<string, unknown> }).state;
}

describe('operator state', () => {
  it('survives a SIGKILL before the checkpoint commit: the restart ends with the uninterrupted state', async () => {
    // The greatest event time comes first; after the crash only later batches are read again.
    const future = Date.parse('2030-01-01T00:00:00.000Z');
    const records = Array.from({ length: 300 }, (_, i) => JSON.stringify({ t: 'e', i, event_time: new Date(i === 0 ? future : Date.parse('2026-01-01T00:00:00Z') + i * 1000).toISOString() }));
    records.push(JSON.stringify({ t: 'e', i: 300 })); // no event time: counted, not failed
    const file = join(tempDir(), 'r.bin');
    await writeRecordFile(file, records.map((value, i) => ({ key: `k${i}`, value })));
    await broker.produceFile('timed', file);

    const whole = tempDir();
    const clean = await runAvailableNow(writeSpec(whole), whole);
    expect(clean.code, clean.stderr.slice(-1500)).toBe(0);
    // Every record after the first is late (kept), and counted once even across a replay.
    const expected = { watermark: { maxEventTimeMs: future, watermarkMs: future - 60_000, partitions: { 0: { maxEventTimeMs: future } }, unreadable: 1, late: 299 } };
    expect(lastCommittedState(whole)).toMatchObject(expected);
    expect(clean.summary!.late).toBe(299);
    // The record without an event time is stored, in no window, and the summary says so.
    expect(clean.summary!.noEventTime).toBe(1);
    expect(clean.stdout).toContain('late (behind the watermark): 299, pipeline watermark 2029-12-31T23:59:00.000Z; no readable event time (stored, in no window): 1');
    expect(clean.summary!.streams[0].watermark).toBe('2029-12-31T23:59:00.000Z');

    const dir = tempDir();
    const crashed = await runAvailableNow(writeSpec(dir), dir, { PIPELINE_FAILPOINT: 'batch.before-checkpoint-commit:3' });
    expect(crashed.signal).toBe('SIGKILL');
    const restarted = await runAvailableNow(writeSpec(dir), dir);
    expect(restarted.code, restarted.stderr.slice(-1500)).toBe(0);
    expect(restarted.summary!.streams[0].replayedBatchId).toBe(2);
    expect(lastCommittedState(dir)).toMatchObject(expected);
    expect(restarted.summary!.streams[0].watermark).toBe('2029-12-31T23:59:00.000Z');
  }, E2E_TIMEOUT);
});
