import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { startBroker, writeRecordFile, type TestBroker } from '../../src/dev-broker/broker.js';
import { ensureMockBroker } from '../../src/dev-broker/build.js';
import { consumeUntil, fastGroup, kafkaClient } from './kafka-helpers.js';

// kafkajs' Java-compatible murmur2, to check that the launcher partitions keys like Java does.
const murmur2 = createRequire(import.meta.url)('kafkajs/src/producer/partitioners/default/murmur2.js') as (key: Buffer) => number;
const javaPartition = (key: string, partitions: number) => (murmur2(Buffer.from(key)) & 0x7fffffff) % partitions;

const PARTITIONS = 8;
const RECORDS = 3000;

describe('test broker', () => {
  let broker: TestBroker;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'broker-test-'));
    broker = await startBroker({ topics: [{ name: 'smoke', partitions: PARTITIONS }, { name: 'packed', partitions: 2 }, { name: 'paced', partitions: 2 }] });
  });
  afterAll(async () => {
    await broker?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('prints a loopback bootstrap address', () => {
    expect(broker.bootstrap).toMatch(/^127\.0\.0\.1:\d+$/);
  });

  it('produces a record file that a kafkajs consumer reads back exactly', async () => {
    const records = Array.from({ length: RECORDS }, (_, i) => ({
      key: i % 50 === 49 ? null : `key-${i % 300}`,
      value: JSON.stringify({ i, text: 'é'.repeat(i % 7) }),
      timestamp: 1_700_000_000_000 + i,
    }));
    const file = join(dir, 'smoke.bin');
    expect(await writeRecordFile(file, records)).toBe(RECORDS);
    expect(await broker.produceFile('smoke', file)).toBe(RECORDS);

    const seen = await consumeUntil(kafkaClient(broker.bootstrap).consumer({ groupId: 'smoke-reader', ...fastGroup }), 'smoke', RECORDS);
    expect(seen).toHaveLength(RECORDS);
    expect(seen.map((r) => JSON.parse(r.value).i).sort((a, b) => a - b)).toEqual(records.map((_, i) => i));

    const partitionOfKey = new Map<string, number>();
    const nullKeysPerPartition = new Array<number>(PARTITIONS).fill(0);
    for (const r of seen) {
      const i = JSON.parse(r.value).i as number;
      expect(r.key).toBe(records[i]!.key);
      if (r.key === null) {
        nullKeysPerPartition[r.partition]!++;
        continue;
      }
      expect(r.partition).toBe(javaPartition(r.key, PARTITIONS));
      expect(partitionOfKey.get(r.key) ?? r.partition).toBe(r.partition);
      partitionOfKey.set(r.key, r.partition);
    }
    // Null keys go round-robin: 60 records over 8 partitions is 7 or 8 each.
    expect(nullKeysPerPartition.every((n) => n === 7 || n === 8)).toBe(true);
    // Within a partition, file order is kept (the producer is idempotent).
    const lastIndex = new Map<number, number>();
    for (const r of [...seen].sort((a, b) => a.partition - b.partition || a.offset - b.offset)) {
      const i = JSON.parse(r.value).i as number;
      expect(i).toBeGreaterThan(lastIndex.get(r.partition) ?? -1);
      lastIndex.set(r.partition, i);
    }
  });

  it('produces gzip-compressed batches that kafkajs decodes', async () => {
    const file = join(dir, 'packed.bin');
    const values = Array.from({ length: 500 }, (_, i) => `{"n":${i},"pad":"${'ab'.repeat(50)}"}`);
    await writeRecordFile(file, values.map((value, i) => ({ key: `k${i}`, value })));
    expect(await broker.produceFile('packed', file, { compression: 'gzip' })).toBe(500);
    const seen = await consumeUntil(kafkaClient(broker.bootstrap).consumer({ groupId: 'packed-reader', ...fastGroup }), 'packed', 500);
    expect(seen.map((r) => r.value).sort()).toEqual([...values].sort());
    await expect(broker.command(`produce packed ${file} brotli`)).rejects.toThrow(/unknown compression/);
  });

  it('paces a produce at the given rate and stamps records with their send time', async () => {
    const file = join(dir, 'paced.bin');
    // Timestamps in the file are old; a paced (live) produce replaces them with send times.
    await writeRecordFile(file, Array.from({ length: 300 }, (_, i) => ({ key: `k${i}`, value: `{"n":${i}}`, timestamp: 1_000 })));
    const started = Date.now();
    expect(await broker.produceFile('paced', file, { rate: 200 })).toBe(300);
    // 300 records at 200/s cannot be sent in much less than 1.5 s.
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_300);
    const seen = await consumeUntil(kafkaClient(broker.bootstrap).consumer({ groupId: 'paced-reader', ...fastGroup }), 'paced', 300);
    for (const r of seen) expect(r.timestamp ?? 0).toBeGreaterThanOrEqual(started - 1_000);
    await expect(broker.command(`produce paced ${file} none -5`)).rejects.toThrow(/rate must be >= 0/);
  });

  it('answers ERR for bad commands without dying', async () => {
    await expect(broker.command('produce smoke /does/not/exist')).rejects.toThrow(/cannot open/);
    await expect(broker.command('nonsense')).rejects.toThrow(/unknown command/);
    await expect(broker.produceFile('no_such_topic', '/dev/null')).rejects.toThrow(/unknown topic/);
    await expect(broker.down(99)).rejects.toThrow(/down/);
    expect(await broker.command('rtt 1 0')).toBe('OK rtt');
  });

  it('serves a fixed port by forwarding to the mock listener', async () => {
    const fixed = await startBroker({ topics: [{ name: 'fixed', partitions: 2 }], port: 0 });
    try {
      expect(fixed.bootstrap).toMatch(/^localhost:\d+$/);
      const file = join(dir, 'fixed.bin');
      await writeRecordFile(file, [{ key: 'a', value: 'one' }, { key: 'b', value: 'two' }]);
      await fixed.produceFile('fixed', file);
      const seen = await consumeUntil(kafkaClient(fixed.bootstrap).consumer({ groupId: 'fixed-reader', ...fastGroup }), 'fixed', 2);
      expect(seen.map((r) => r.value).sort()).toEqual(['one', 'two']);
    } finally {
      await fixed.stop();
    }
  });

  it('launcher exits by itself when its stdin closes (a dead parent leaks no broker)', async () => {
    const child = spawn(await ensureMockBroker(), ['--topic', 'orphan:1'], { stdio: ['pipe', 'pipe', 'ignore'] });
    const [first] = (await once(child.stdout, 'data')) as [Buffer];
    expect(first.toString()).toMatch(/^READY 127\.0\.0\.1:\d+/);
    child.stdin.end();
    const [code] = await once(child, 'exit');
    expect(code).toBe(0);
  });
});
