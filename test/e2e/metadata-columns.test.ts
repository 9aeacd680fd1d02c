/**
 * `source.metadataColumns` and `source.keyFormat` through `pipeline run` against the test
 * broker (records produced with kafkajs, headers included): keys, headers, partition, offset,
 * timestamp and topic land as typed columns, usable as a merge key and in `derive`; a key that
 * is not JSON under `keyFormat: json`, or spells half a surrogate pair, fails its record alone.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { Lake } from '../../src/lake/index.js';
import { useTestBroker } from '../support/broker.js';
import { E2E_TIMEOUT, runAvailableNow } from '../support/cli.js';
import { tempDirs } from '../support/temp-dirs.js';

const broker = useTestBroker([{ name: 'keyed', partitions: 2 }]);
const dir = tempDirs('meta-')();

describe('Kafka metadata as columns', () => {
  it('writes key, headers, partition, offset, timestamp and topic; the key can be the merge key', async () => {
    const kafka = new Kafka({ clientId: 'meta', brokers: [broker.bootstrap], logLevel: logLevel.NOTHING });
    const producer = kafka.producer();
    await producer.connect();
    const at = 1_767_225_600_000; // 2026-01-01T00:00:00Z
    await producer.send({
      topic: 'keyed',
      messages: [
        { partition: 0, key: '{"id":1}', value: JSON.stringify({ t: 'u', name: 'ann' }), headers: { source: 'web', trace: 'a1' }, timestamp: String(at) },
        { partition: 1, key: '{"id":2}', value: JSON.stringify({ t: 'u', name: 'bob', _kafka_key: 'spoofed' }), timestamp: String(at + 1000) },
        { partition: 0, key: '{"id":1}', value: JSON.stringify({ t: 'u', name: 'ann v2' }), headers: { source: 'app' }, timestamp: String(at + 2000) },
        { partition: 1, key: 'not json', value: JSON.stringify({ t: 'u', name: 'eve' }), timestamp: String(at + 3000) },
        // JSON that spells half a surrogate pair: JSON.parse takes it, the JSON column does not
        // (it used to fail the whole batch on every replay).
        { partition: 1, key: '{"id":3,"n":"x\\ud800"}', value: JSON.stringify({ t: 'u', name: 'sam' }), timestamp: String(at + 4000) },
      ],
    });
    await producer.disconnect();

    const spec = join(dir, 'spec.yaml');
    writeFileSync(spec, `apiVersion: pipeline/v1
name: meta
source:
  kafka: { brokers: ["${broker.bootstrap}"], topic: keyed }
  metadataColumns: [key, headers, partition, offset, timestamp, topic]
  keyFormat: json
streams: 1
trigger: { interval: 200ms, maxRecordsPerBatch: 1000 }
routing: { field: t, routes: { u: users } }
tables:
  users:
    mergeKeys: [user_id]
    sequenceBy: _kafka_offset
    derive:
      user_id: "CAST(_kafka_key->>'id' AS BIGINT)"
      origin: "_kafka_headers->>'source'"
deadLetter: { table: _dead_letter }
output: { path: ${join(dir, 'lake')} }
`);
    const run = await runAvailableNow(spec, dir);
    expect(run.code, run.stderr.slice(-2000)).toBe(0);
    expect(run.summary).toMatchObject({ records: 5, deadLettered: 2 });

    const lake = await Lake.create({ threads: 1 });
    try {
      const path = join(dir, 'lake', 'users');
      const types = Object.fromEntries((await lake.columns(path)).map((c) => [c.name, c.type]));
      // Delta has no JSON type: JSON columns are stored as text (DuckDB's JSON functions read it).
      expect(types).toMatchObject({ _kafka_key: 'VARCHAR', _kafka_headers: 'VARCHAR', _kafka_partition: 'INTEGER', _kafka_offset: 'BIGINT', _kafka_timestamp: 'TIMESTAMPTZ', _kafka_topic: 'VARCHAR', user_id: 'BIGINT' });
      const rows = (await lake.scan(path)).map((r) => ({
        user_id: Number(r.user_id), name: r.name, key: String(r._kafka_key), origin: r.origin, partition: r._kafka_partition, offset: Number(r._kafka_offset), topic: r._kafka_topic,
        ts: new Date(r._kafka_timestamp as string).toISOString(),
      })).sort((a, b) => a.user_id - b.user_id);
      expect(rows).toEqual([
        { user_id: 1, name: 'ann v2', key: '{"id":1}', origin: 'app', partition: 0, offset: 1, topic: 'keyed', ts: '2026-01-01T00:00:02.000Z' },
        // The record's own `_kafka_key` field gives way to the real key.
        { user_id: 2, name: 'bob', key: '{"id":2}', origin: null, partition: 1, offset: 0, topic: 'keyed', ts: '2026-01-01T00:00:01.000Z' },
      ]);
      const dead = await lake.scan(join(dir, 'lake', '_dead_letter'));
      expect(dead.map((r) => [r.partition, Number(r.offset), r.stage, String(r.error).split(':')[0] + ':' + String(r.error).split(':')[1]]).sort()).toEqual([
        [1, 1, 'sink', "table 'users': key is not valid JSON (keyFormat"],
        [1, 2, 'sink', "table 'users': key holds an unpaired UTF-16 surrogate (a \\uD800-\\uDFFF escape without its pair), which is not text (keyFormat"],
      ]);
    } finally {
      lake.close();
    }
  }, E2E_TIMEOUT);
});
