/**
 * Equal `sequenceBy` values for one key, read from several partitions: the winner is the
 * record with the lowest partition, then offset — whatever the batch size or the number of
 * streams, so three runs over the same topic leave identical tables.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeRecordFile } from '../../src/dev-broker/broker.js';
import { E2E_TIMEOUT, runAvailableNow } from '../support/cli.js';
import { readTable } from '../support/tables.js';
import { useTestBroker } from '../support/broker.js';
import { tempDirs } from '../support/temp-dirs.js';

const broker = useTestBroker([{ name: 'ties', partitions: 4 }]);
const tempDir = tempDirs('ties-');

function writeSpec(dir: string, streams: number, maxRecordsPerBatch: number): string {
  const file = join(dir, 'spec.yaml');
  writeFileSync(
    file,
    `apiVersion: pipeline/v1
name: ties
source:
  kafka: { brokers: ["${broker.bootstrap}"], topic: ties }
streams: ${streams}
trigger: { interval: 100ms, maxRecordsPerBatch: ${maxRecordsPerBatch} }
routing: { field: t, routes: { item: items } }
tables:
  items: { mergeKeys: [id], sequenceBy: seq }
output: { path: ${join(dir, 'lake')} }
`,
  );
  return file;
}

describe('sequenceBy ties through pipeline run', () => {
  it('the same winner for one record per batch, several streams, and one batch', async () => {
    // 8 keys, each written with seq 1 and seq 2 by many producers (Kafka keys spread them over partitions).
    const records = [];
    for (let n = 0; n < 160; n++) {
      const id = n % 8;
      records.push({ key: `producer-${n}`, value: JSON.stringify({ t: 'item', id, seq: 1 + (n % 3 === 0 ? 1 : 0), writer: n }), timestamp: 1_700_000_000_000 + n });
    }
    const file = join(tempDir(), 'records.bin');
    await writeRecordFile(file, records);
    expect(await broker.produceFile('ties', file)).toBe(records.length);

    const tables = [];
    for (const [streams, max] of [[1, 100_000], [4, 1], [2, 3]] as const) {
      const dir = tempDir();
      const run = await runAvailableNow(writeSpec(dir, streams, max), dir);
      expect(run.code, run.stderr.slice(-2000)).toBe(0);
      tables.push((await readTable(join(dir, 'lake', 'items'))).sort((a, b) => Number(a.id) - Number(b.id)));
    }
    expect(tables[0]).toHaveLength(8);
    // Ties really span partitions: the winners do not all come from one.
    expect(new Set(tables[0]!.map((r) => r.__source_partition)).size).toBeGreaterThan(1);
    for (const r of tables[0]!) expect(r.seq).toBe(2);
    expect(tables[1]).toEqual(tables[0]);
    expect(tables[2]).toEqual(tables[0]);
  }, E2E_TIMEOUT);
});
