/**
 * SCD2 ties through `pipeline run`: records of one key with equal sequence values from two
 * Kafka partitions. The history must be the one the README's tie rule gives (the lowest
 * partition, then offset, counts) whether the records meet in one batch or the winner arrives
 * in a later run, after the loser was committed.
 */
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeRecordFile } from '../../src/dev-broker/broker.js';
import { Lake } from '../../src/lake/index.js';
import { E2E_TIMEOUT, runAvailableNow } from '../support/cli.js';
import { useTestBroker } from '../support/broker.js';
import { tempDirs } from '../support/temp-dirs.js';

const murmur2 = createRequire(import.meta.url)('kafkajs/src/producer/partitioners/default/murmur2.js') as (key: Buffer) => number;
const partitionOf = (key: string) => (murmur2(Buffer.from(key)) & 0x7fffffff) % 2;

const broker = useTestBroker([{ name: 'history', partitions: 2 }]);
const tempDir = tempDirs('scd2-ties-');

/** A Kafka key the producer sends to `partition`. */
function keyFor(partition: number, n: number): string {
  for (let i = 0; ; i++) if (partitionOf(`k${n}-${i}`) === partition) return `k${n}-${i}`;
}

/** Partition 1's records (produced and committed first), then partition 0's, which win every tie. */
const P1 = [
  { id: 'h1', seq: 1, v: 'a' }, { id: 'h1', seq: 2, v: 'b' },
  { id: 'h2', seq: 1, v: 'a' }, { id: 'h2', seq: 3, v: 'a' },
  { id: 'h3', seq: 1, v: 'a' }, { id: 'h3', seq: 2, v: 'a', op: 'd' },
];
const P0 = [
  { id: 'h1', seq: 2, v: 'c' },
  { id: 'h2', seq: 3, v: 'z' },
  { id: 'h3', seq: 2, v: 'x' },
];

function writeSpec(dir: string, maxRecordsPerBatch: number, streams: number): string {
  const file = join(dir, 'spec.yaml');
  writeFileSync(file, `apiVersion: pipeline/v1
name: ties
source:
  kafka: { brokers: ["${broker.bootstrap}"], topic: history }
streams: ${streams}
trigger: { interval: 200ms, maxRecordsPerBatch: ${maxRecordsPerBatch} }
routing: { field: t, routes: { h: history } }
tables:
  history: { mode: scd2, mergeKeys: [id], sequenceBy: seq, deleteWhen: "op = 'd'" }
output: { path: ${join(dir, 'lake')} }
`);
  return file;
}

async function produce(partition: number, records: Record<string, unknown>[], n: number): Promise<void> {
  const file = join(tempDir(), `p${partition}.bin`);
  await writeRecordFile(file, records.map((r, i) => ({ key: keyFor(partition, n + i), value: JSON.stringify({ t: 'h', ...r }) })));
  expect(await broker.produceFile('history', file)).toBe(records.length);
}

async function history(dir: string): Promise<Record<string, unknown>[]> {
  const lake = await Lake.create({ threads: 1 });
  try {
    return await lake.scan(join(dir, 'lake', 'history'), {
      orderBy: 'id, __start_at NULLS FIRST',
      columns: ['id', 'v', '__start_at', '__end_at', '__is_current', '__seen_at', '__source_positions'],
    });
  } finally {
    lake.close();
  }
}

describe('scd2 ties through pipeline run', () => {
  it('the lowest partition wins an equal sequence whether it arrives with the other record or after it was committed', async () => {
    await produce(1, P1, 0);
    const late = tempDir();
    const first = await runAvailableNow(writeSpec(late, 1, 2), late);
    expect(first.code, first.stderr.slice(-2000)).toBe(0);
    await produce(0, P0, 100);
    const second = await runAvailableNow(writeSpec(late, 1, 2), late);
    expect(second.code, second.stderr.slice(-2000)).toBe(0);
    expect(second.summary!.records).toBe(P0.length);

    const whole = tempDir();
    const once = await runAvailableNow(writeSpec(whole, 100_000, 1), whole);
    expect(once.code, once.stderr.slice(-2000)).toBe(0);

    const rows = await history(late);
    expect(rows).toEqual(await history(whole));
    const at = (seq: number, partition: number, offset: number) => ({ seq, partition, offset });
    expect(rows).toEqual([
      { id: 'h1', v: 'a', __start_at: 1, __end_at: 2, __is_current: false, __seen_at: null, __source_positions: [at(1, 1, 0)] },
      { id: 'h1', v: 'c', __start_at: 2, __end_at: null, __is_current: true, __seen_at: null, __source_positions: [at(2, 0, 0)] },
      { id: 'h2', v: 'a', __start_at: 1, __end_at: 3, __is_current: false, __seen_at: null, __source_positions: [at(1, 1, 2)] },
      { id: 'h2', v: 'z', __start_at: 3, __end_at: null, __is_current: true, __seen_at: null, __source_positions: [at(3, 0, 1)] },
      { id: 'h3', v: 'a', __start_at: 1, __end_at: 2, __is_current: false, __seen_at: null, __source_positions: [at(1, 1, 4)] },
      { id: 'h3', v: 'x', __start_at: 2, __end_at: null, __is_current: true, __seen_at: null, __source_positions: [at(2, 0, 2)] },
    ]);
  }, E2E_TIMEOUT);
});
