/**
 * A derive expression that errors on one record, through `pipeline run` on the test broker:
 * the record is dead-lettered (stage `derive`, the column and DuckDB's error), never stored
 * with a silent NULL, while a `TRY_CAST` the user wrote keeps its NULL. The dead-letter row
 * keeps the record's Kafka headers, so after the spec is fixed `pipeline deadletter replay`
 * lands it with the same `_kafka_headers` a first run of the fixed spec gives; a second
 * replay is a no-op.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { useTestBroker } from '../support/broker.js';
import { E2E_TIMEOUT, runAvailableNow, runCli } from '../support/cli.js';
import { readTable } from '../support/tables.js';
import { tempDirs } from '../support/temp-dirs.js';

const broker = useTestBroker([{ name: 'units', partitions: 1 }]);
const tempDir = tempDirs('derive-err-');

function writeSpec(dir: string, units: string): string {
  const file = join(dir, 'spec.yaml');
  writeFileSync(file, `apiVersion: pipeline/v1
name: units
source:
  kafka: { brokers: ["${broker.bootstrap}"], topic: units }
  metadataColumns: [headers]
streams: 1
trigger: { interval: 200ms, maxRecordsPerBatch: 100 }
routing: { field: kind, routes: { order: orders } }
tables:
  orders:
    mode: append
    derive:
      units: "${units}"
      code: "TRY_CAST(ref AS INTEGER)"
deadLetter: { table: _dead_letter, maxRatio: 1 }
output: { path: ${join(dir, 'lake')} }
`);
  return file;
}

const byId = (rows: Record<string, unknown>[]) => Object.fromEntries(rows.map((r) => [Number(r.id), r]));

describe('derive expression errors', () => {
  it('dead-letter the record with its headers; the fixed spec replays it with the same headers, once', async () => {
    const kafka = new Kafka({ clientId: 'derive-err', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING });
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({
      topic: 'units',
      messages: [
        { partition: 0, value: JSON.stringify({ kind: 'order', id: 1, qty: '3', ref: '12' }), headers: { trace: 't1' } },
        { partition: 0, value: JSON.stringify({ kind: 'order', id: 2, qty: 'many', ref: '7' }), headers: { trace: 't2', tag: ['a', 'b'] } },
        { partition: 0, value: JSON.stringify({ kind: 'order', id: 3, qty: '4', ref: 'x' }) },
      ],
    });
    await producer.disconnect();

    const dir = tempDir();
    const run = await runAvailableNow(writeSpec(dir, 'CAST(qty AS INTEGER)'), dir);
    expect(run.code, run.stderr.slice(-2000)).toBe(0);
    expect(run.summary).toMatchObject({ records: 3, deadLettered: 1, dropped: 0 });
    const orders = byId(await readTable(join(dir, 'lake', 'orders')));
    expect(Object.keys(orders).map(Number).sort()).toEqual([1, 3]);
    // The user's TRY_CAST: NULL is theirs, the record is kept.
    expect([orders[1]!.code, orders[3]!.code]).toEqual([12, null]);
    const [dead] = await readTable(join(dir, 'lake', '_dead_letter'));
    expect(dead).toMatchObject({ offset: 1, stage: 'derive' });
    expect(String(dead!.error)).toMatch(/^table 'orders': derive units = CAST\(qty AS INTEGER\) failed: Conversion Error: Could not convert string 'many' to INT32/);
    expect(JSON.parse(String(dead!.headers))).toEqual({ trace: 't2', tag: ['a', 'b'] });

    // Fixed: the replay lands the record with its headers; a second replay changes nothing.
    const fixed = "coalesce(TRY_CAST(qty AS INTEGER), -1)";
    writeSpec(dir, fixed);
    const replay = await runCli(['deadletter', 'replay', join(dir, 'spec.yaml'), '--format', 'json']);
    expect(replay.code, replay.stderr).toBe(0);
    expect(JSON.parse(replay.stdout)).toMatchObject({ replayed: 1, landed: 1, failedAgain: 0 });
    const again = await runCli(['deadletter', 'replay', join(dir, 'spec.yaml'), '--format', 'json']);
    expect(JSON.parse(again.stdout)).toMatchObject({ replayed: 0, landed: 0 });
    const replayed = byId(await readTable(join(dir, 'lake', 'orders')));
    expect(Object.keys(replayed).map(Number).sort()).toEqual([1, 2, 3]);
    expect(Number(replayed[2]!.units)).toBe(-1);

    // The same record read from Kafka by the fixed spec: the replayed row's headers match.
    const direct = tempDir();
    const first = await runAvailableNow(writeSpec(direct, fixed), direct);
    expect(first.code, first.stderr.slice(-2000)).toBe(0);
    const reference = byId(await readTable(join(direct, 'lake', 'orders')));
    expect(replayed[2]!._kafka_headers).toBe(reference[2]!._kafka_headers);
    expect(JSON.parse(String(replayed[2]!._kafka_headers))).toEqual({ trace: 't2', tag: ['a', 'b'] });
    expect(replayed[3]!._kafka_headers).toBe(reference[3]!._kafka_headers);
  }, E2E_TIMEOUT);
});
