/**
 * `source.metadataColumns` and `source.keyFormat` through `pipeline run` against the test
 * broker (records produced with kafkajs, headers included): keys, headers, partition, offset,
 * timestamp and topic land as typed columns, usable as a merge key and in `derive`; a key that
 * is not JSON under `keyFormat: json`, or spells half a surrogate pair, fails its record alone.
 * Staged (raw → bronze → gold) and a replay from raw give the same table and dead letters.
 */
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { Lake } from '../../src/lake/index.js';
import { useTestBroker } from '../support/broker.js';
import { E2E_TIMEOUT, runAvailableNow, runCli } from '../support/cli.js';
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

    const writeSpec = (file: string, out: string, extra = '') => writeFileSync(file, `apiVersion: pipeline/v1
name: meta
${extra}source:
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
output: { path: ${out} }
`);
    const spec = join(dir, 'spec.yaml');
    writeSpec(spec, join(dir, 'lake'));
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

      // Staged (raw → bronze → gold) over the same records gives the same table and dead
      // letters: bronze keeps each record's metadata values for gold; so does a replay from raw.
      const stagedSpec = join(dir, 'staged.yaml');
      writeSpec(stagedSpec, join(dir, 'staged-lake'), 'mode: staged\n');
      const staged = await runAvailableNow(stagedSpec, dir);
      expect(staged.code, staged.stderr.slice(-2000)).toBe(0);
      const stagedPath = join(dir, 'staged-lake', 'users');
      const ordered = async (p: string) => (await lake.scan(p)).map((r) => JSON.stringify(r, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v))).sort();
      const deadOf = async (root: string) => (await lake.scan(join(root, '_dead_letter'))).map((r) => [r.partition, Number(r.offset), r.stage, r.error]).sort();
      expect(Object.fromEntries((await lake.columns(stagedPath)).map((c) => [c.name, c.type]))).toEqual(types);
      expect(await ordered(stagedPath)).toEqual(await ordered(path));
      expect(await deadOf(join(dir, 'staged-lake'))).toEqual(await deadOf(join(dir, 'lake')));
      rmSync(stagedPath, { recursive: true });
      const replay = await runCli(['replay', stagedSpec, '--table', 'users', '--from-raw']);
      expect(replay.code, replay.stderr.slice(-2000)).toBe(0);
      expect(replay.stdout).toContain('2 refused (in _dead_letter: 0 new rows');
      expect(await ordered(stagedPath)).toEqual(await ordered(path));

      // Bronze rows written before metadataColumns was added have no values to give: gold
      // dead-letters them with the reason, never merges them with a NULL key.
      const late = join(dir, 'late.yaml');
      writeFileSync(late, `apiVersion: pipeline/v1
name: meta
mode: staged
source:
  kafka: { brokers: ["${broker.bootstrap}"], topic: keyed }
routing: { field: t, routes: { u: users } }
tables:
  users: { mode: append }
output: { path: ${join(dir, 'late-lake')} }
`);
      for (const job of ['raw', 'bronze']) {
        const r = await runCli(['run', late, '--available-now', '--job', job]);
        expect(r.code, r.stderr.slice(-2000)).toBe(0);
      }
      writeSpec(late, join(dir, 'late-lake'), 'mode: staged\n');
      const caughtUp = await runAvailableNow(late, dir);
      // Every row it read went to the dead-letter table: past deadLetter.maxRatio, gold fails loudly.
      expect(caughtUp.code).toBe(1);
      expect(caughtUp.stderr).toContain('gold: 5 records went to the dead-letter table');
      expect(await lake.exists(join(dir, 'late-lake', 'users')) ? await lake.scan(join(dir, 'late-lake', 'users')) : []).toEqual([]);
      const lateDead = await lake.scan(join(dir, 'late-lake', '_dead_letter'));
      expect(lateDead.filter((r) => String(r.error).includes('written without its Kafka metadata columns'))).toHaveLength(5);
    } finally {
      lake.close();
    }
  }, E2E_TIMEOUT);
});
