/**
 * Avro, Protobuf and JSON with a JSON Schema through `pipeline run` against the test broker
 * and real DuckDB: an Avro file schema, a schema registry with two writer-schema versions
 * resolving to one table, Protobuf with Confluent framing (file and registry schemas), and a
 * poison set per format (every record accounted for, the run completes).
 *
 * The registry is a small HTTP server implementing the documented Confluent REST endpoints
 * the runner uses (`GET /schemas/ids/{id}`, plus `GET /subjects/{subject}/versions/{version}`):
 * a stand-in, because no schema registry runs on this machine: Confluent's is not published
 * on Maven Central, Apicurio's artifacts there are modules of a Quarkus application rather
 * than a server that starts from one jar, and Karapace is not among the PyPI packages here.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBroker, writeRecordFile, type TestBroker } from '../../src/dev-broker/broker.js';
import { Lake } from '../../src/lake/index.js';
import { parseAvroSchema } from '../../src/operators/avro-types.js';
import { frameValue } from '../../src/operators/confluent-framing.js';
import { protobufFileType } from '../../src/operators/decode-protobuf.js';
import { E2E_TIMEOUT, ROOT, readTable, runAvailableNow } from './harness.js';

const SCHEMAS = join(ROOT, 'test/operators/schemas');
const text = (name: string) => readFileSync(join(SCHEMAS, name), 'utf8');
const v1 = parseAvroSchema(text('order-v1.avsc'));
const v2 = parseAvroSchema(text('order-v2.avsc'));

let broker: TestBroker;
const dirs: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'formats-'));
  dirs.push(d);
  return d;
};

beforeAll(async () => {
  if (!existsSync(join(ROOT, 'dist/src/cli/main.js'))) throw new Error('build first: npx tsc -p tsconfig.build.json');
  broker = await startBroker({ topics: ['avro-file', 'avro-registry', 'avro-late', 'proto', 'proto-registry', 'json-schema'].map((name) => ({ name, partitions: 1 })) });
});
afterAll(async () => {
  await broker?.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const decimal = (unscaled: bigint) => {
  const b = Buffer.alloc(8);
  b.writeBigInt64BE(unscaled);
  return b;
};
const orderV1 = (id: bigint | number, cents: bigint, note: string | null = null) => v1.toBuffer({ type: 'order', id, amount: decimal(cents), placed_at: 1_714_564_800_000 + Number(id) % 1000, note });
const orderV2 = (id: number, channel: string) =>
  v2.toBuffer({ type: 'order', id, amount: decimal(99n), placed_at: 1_714_564_800_000, channel, day: 19_844, ref: '123e4567-e89b-12d3-a456-426614174000', seen_at: 0, blob: Buffer.from('x'), ratio: 0.5 });

async function produce(topic: string, values: Buffer[]): Promise<void> {
  const file = join(tempDir(), `${topic}.bin`);
  await writeRecordFile(file, values.map((value, i) => ({ key: `k${i}`, value })));
  expect(await broker.produceFile(topic, file)).toBe(values.length);
}

function writeSpec(dir: string, topic: string, source: string, columns = '', batch = 3): string {
  const file = join(dir, 'spec.yaml');
  writeFileSync(file, `apiVersion: pipeline/v1
name: formats
source:
  kafka: { brokers: ["${broker.bootstrap}"], topic: ${topic} }
${source}
trigger: { interval: 200ms, maxRecordsPerBatch: ${batch} }
routing: { field: type, routes: { order: orders } }
deadLetter: { maxRatio: 1 }
tables:
  orders: { mode: append${columns} }
output: { path: ${join(dir, 'lake')} }
`);
  return file;
}

const deadLetters = async (dir: string) => (await readTable(join(dir, 'lake', '_dead_letter'))).map((r) => `${r.stage}: ${r.error}`).sort();
const orders = async (dir: string) => (await readTable(join(dir, 'lake', 'orders'))).sort((a, b) => (BigInt(a.id as bigint) < BigInt(b.id as bigint) ? -1 : 1));

/** A stand-in Confluent schema registry (see the module comment); counts requests per path. */
async function startRegistry(schemas: Record<number, string | { schema: string; schemaType: string }>, port = 0): Promise<{ server: Server; url: string; hits: Map<string, number> }> {
  const hits = new Map<string, number>();
  const server = createServer((req, res) => {
    hits.set(req.url!, (hits.get(req.url!) ?? 0) + 1);
    const json = (status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/vnd.schemaregistry.v1+json' }).end(JSON.stringify(body));
    const byId = /^\/schemas\/ids\/(\d+)$/.exec(req.url!);
    const byVersion = /^\/subjects\/([^/]+)\/versions\/(\d+|latest)$/.exec(req.url!);
    const ids = Object.keys(schemas).map(Number).sort((a, b) => a - b);
    const entry = byId ? schemas[Number(byId[1])] : undefined;
    if (entry) return json(200, typeof entry === 'string' ? { schema: entry } : entry);
    if (byId) return json(404, { error_code: 40403, message: 'Schema not found' });
    if (byVersion && byVersion[1] === 'orders-value') {
      const version = byVersion[2] === 'latest' ? ids.length : Number(byVersion[2]);
      const id = ids[version - 1];
      const found = id === undefined ? undefined : schemas[id];
      if (found !== undefined) return json(200, { subject: 'orders-value', version, id, ...(typeof found === 'string' ? { schema: found } : found) });
    }
    json(404, { error_code: 40401, message: 'Subject not found' });
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, hits };
}

describe('avro, protobuf and json schema through pipeline run', () => {
  it('avro with a file schema: exact longs, logical types into typed columns, poison dead-lettered', async () => {
    const good = [orderV1(1, 1230n, 'first'), orderV1(2n ** 62n + 1n, -5n), orderV1(3, 100000n, 'ünïcödé')];
    const badUtf8 = orderV1(4, 1n, 'abc');
    badUtf8[badUtf8.length - 2] = 0xff; // inside the note's bytes
    const poison = [
      Buffer.from('{"type":"order","id":5}'), // JSON, not Avro: wrong magic byte
      Buffer.from([0, 0, 0]), // truncated header
      frameValue(1, orderV1(6, 1n).subarray(0, 4)), // truncated value
      frameValue(1, badUtf8),
    ];
    await produce('avro-file', [...good.map((g) => frameValue(1, g)), ...poison]);
    const dir = tempDir();
    const spec = writeSpec(dir, 'avro-file', `  format: avro\n  schema: { file: ${join(SCHEMAS, 'order-v1.avsc')} }`);
    const run = await runAvailableNow(spec, dir, { TZ: 'UTC' });
    expect(run.code, run.stderr.slice(-2000)).toBe(0);
    expect(run.summary).toMatchObject({ records: 7, deadLettered: 4 });
    // Logical types give the columns their types (no declaration in the spec).
    const lake = await Lake.create({ threads: 1 });
    try {
      expect((await lake.columns(join(dir, 'lake', 'orders'))).map((c) => `${c.name}:${c.type}`)).toEqual(
        expect.arrayContaining(['amount:DECIMAL(12,2)', 'placed_at:TIMESTAMPTZ', 'id:BIGINT', 'note:VARCHAR']),
      );
    } finally {
      lake.close();
    }
    const rows = await orders(dir);
    expect(rows.map((r) => [String(r.id), String(r.amount), r.note])).toEqual([
      ['1', '12.30', 'first'], ['3', '1000.00', 'ünïcödé'], [String(2n ** 62n + 1n), '-0.05', null],
    ]);
    expect(new Date(rows[0]!.placed_at as string | Date).toISOString()).toBe('2024-05-01T12:00:00.001Z');
    expect(await deadLetters(dir)).toEqual([
      'decode: a string field is not valid UTF-8',
      'decode: truncated: the Avro value ends early for the writer schema',
      'decode: truncated: the Confluent wire format needs a 5-byte header, the value has 3 bytes',
      'decode: wrong magic byte 0x7b (the Confluent wire format starts with 0x00)',
    ]);
  }, E2E_TIMEOUT);

  it('avro from a registry: two writer versions resolve to one table, schemas fetched once per id, unknown ids dead-lettered', async () => {
    const registry = await startRegistry({ 1: text('order-v1.avsc'), 2: text('order-v2.avsc') });
    try {
      await produce('avro-registry', [
        frameValue(1, orderV1(1, 100n)), frameValue(2, orderV2(2, 'app')), frameValue(1, orderV1(3, 300n)),
        frameValue(2, orderV2(4, 'store')), frameValue(99, orderV1(5, 1n)), frameValue(2, orderV2(6, 'app')), frameValue(1, orderV1(7, 700n)),
      ]);
      const dir = tempDir();
      const spec = writeSpec(dir, 'avro-registry', `  format: avro\n  schema:\n    registry: { url: "${registry.url}" }\n    reader: ${join(SCHEMAS, 'order-reader.avsc')}`);
      const run = await runAvailableNow(spec, dir);
      expect(run.code, run.stderr.slice(-2000)).toBe(0);
      expect(run.summary).toMatchObject({ records: 7, deadLettered: 1 });
      const rows = await orders(dir);
      // One table shape: the reader's fields, v1 records taking the reader's default channel.
      expect(Object.keys(rows[0]!).sort()).toEqual(['amount', 'channel', 'id', 'placed_at', 'type']);
      expect(rows.map((r) => [Number(r.id), r.channel, String(r.amount)])).toEqual([
        [1, 'web', '1.00'], [2, 'app', '0.99'], [3, 'web', '3.00'], [4, 'store', '0.99'], [6, 'app', '0.99'], [7, 'web', '7.00'],
      ]);
      expect(await deadLetters(dir)).toEqual(['decode: unknown schema id 99 (the schema registry has no such schema)']);
      // Cached by id across the run's three batches.
      expect(registry.hits.get('/schemas/ids/1')).toBe(1);
      expect(registry.hits.get('/schemas/ids/2')).toBe(1);
    } finally {
      registry.server.close();
    }
  }, E2E_TIMEOUT);

  it('a registry that is down stops the run without committing; once it is up the same records land', async () => {
    await produce('avro-late', [frameValue(1, orderV1(1, 100n)), frameValue(1, orderV1(2, 200n))]);
    const probe = await startRegistry({});
    const port = (probe.server.address() as AddressInfo).port;
    await new Promise((r) => probe.server.close(r)); // nothing listens on the port now
    const dir = tempDir();
    const spec = writeSpec(dir, 'avro-late', `  format: avro\n  schema: { registry: { url: "http://127.0.0.1:${port}" } }`);
    const down = await runAvailableNow(spec, dir, { PIPELINE_REGISTRY_RETRY_SECONDS: '2' });
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(/error PIPE_RUN_REGISTRY_UNAVAILABLE stream 0: schema registry http:\/\/127\.0\.0\.1:\d+ unreachable for \d+s \(\d+ attempts, last: ECONNREFUSED\)/);
    expect(down.stderr).toMatch(/schema registry unreachable; retrying/);
    expect(await readTable(join(dir, 'lake', 'orders'))).toEqual([]);
    expect(await readTable(join(dir, 'lake', '_dead_letter'))).toEqual([]);

    const registry = await startRegistry({ 1: text('order-v1.avsc') }, port);
    try {
      const up = await runAvailableNow(spec, dir);
      expect(up.code, up.stderr.slice(-2000)).toBe(0);
      expect((await orders(dir)).map((r) => Number(r.id))).toEqual([1, 2]);
    } finally {
      registry.server.close();
    }
  }, E2E_TIMEOUT);

  it('json with a JSON Schema: matching records land, violations are dead-lettered with their reason', async () => {
    const values = [
      '{"type":"order","id":1,"amount":2.5}', '{"type":"order","id":2}', '{"type":"order","id":3,"amount":-1}',
      '{"type":"order","id":1234567890123456789,"amount":1,"note":"big id"}', '{"type":"order","id":5,"amount":1,"extra":1}',
    ];
    await produce('json-schema', values.map((v) => Buffer.from(v)));
    const dir = tempDir();
    const spec = writeSpec(dir, 'json-schema', `  schema: { file: ${join(SCHEMAS, 'order.schema.json')} }`);
    const run = await runAvailableNow(spec, dir);
    expect(run.code, run.stderr.slice(-2000)).toBe(0);
    expect(run.summary).toMatchObject({ records: 5, deadLettered: 3 });
    expect((await readTable(join(dir, 'lake', 'orders'))).map((r) => String(r.id)).sort()).toEqual(['1', '1234567890123456789']);
    expect(await deadLetters(dir)).toEqual([
      "decode: does not match the JSON Schema: 'amount' must be >= 0",
      "decode: does not match the JSON Schema: the record must NOT have additional properties ('extra')",
      "decode: does not match the JSON Schema: the record must have required property 'amount'",
    ]);
  }, E2E_TIMEOUT);

  it('protobuf with Confluent framing: exact int64, enums, nested messages; poison dead-lettered', async () => {
    const Order = protobufFileType(join(SCHEMAS, 'order.proto'), 'shop.Order');
    const msg = (o: Record<string, unknown>) => Buffer.from(Order.encode(Order.fromObject({ type: 'order', ...o })).finish());
    const good = msg({ id: '9007199254740993', total: { units: 5, currency: 'EUR' }, status: 'PLACED', tags: ['a'] });
    await produce('proto', [
      frameValue(7, good, [1]),
      frameValue(7, msg({ id: 2, status: 'SHIPPED' }), [1]),
      frameValue(7, good.subarray(0, good.length - 2), [1]), // truncated message
      Buffer.concat([frameValue(7, Buffer.alloc(0)), Buffer.from([6])]), // truncated index array
      Buffer.from([9, 0, 0, 0, 7, 0]), // wrong magic byte
    ]);
    const dir = tempDir();
    const spec = writeSpec(dir, 'proto', `  format: protobuf\n  schema: { file: ${join(SCHEMAS, 'order.proto')}, messageType: shop.Order }`);
    const run = await runAvailableNow(spec, dir);
    expect(run.code, run.stderr.slice(-2000)).toBe(0);
    expect(run.summary).toMatchObject({ records: 5, deadLettered: 3 });
    const rows = await orders(dir);
    expect(rows.map((r) => [String(r.id), r.status, r.big])).toEqual([['2', 'SHIPPED', 0], ['9007199254740993', 'PLACED', 0]]);
    expect(JSON.parse(String(rows[1]!.total))).toEqual({ units: 5, currency: 'EUR' });
    expect(await deadLetters(dir)).toEqual([
      'decode: truncated: the Order message ends early',
      'decode: truncated: the message-index array ends early',
      'decode: wrong magic byte 0x09 (the Confluent wire format starts with 0x00)',
    ]);
  }, E2E_TIMEOUT);

  it('protobuf from a registry: the message-index array picks the message of each schema id', async () => {
    const proto = readFileSync(join(SCHEMAS, 'order.proto'), 'utf8'); // Money is message 0, Order message 1
    const registry = await startRegistry({ 11: { schema: proto, schemaType: 'PROTOBUF' }, 12: text('order-v1.avsc') });
    try {
      const Order = protobufFileType(join(SCHEMAS, 'order.proto'), 'shop.Order');
      const msg = Buffer.from(Order.encode(Order.fromObject({ type: 'order', id: '9223372036854775807', status: 'PLACED' })).finish());
      await produce('proto-registry', [frameValue(11, msg, [1]), frameValue(11, msg, [5]), frameValue(12, msg, [0]), frameValue(13, msg, [1])]);
      const dir = tempDir();
      const spec = writeSpec(dir, 'proto-registry', `  format: protobuf\n  schema: { registry: { url: "${registry.url}" } }`);
      const run = await runAvailableNow(spec, dir);
      expect(run.code, run.stderr.slice(-2000)).toBe(0);
      expect(run.summary).toMatchObject({ records: 4, deadLettered: 3 });
      expect((await orders(dir)).map((r) => [String(r.id), r.status])).toEqual([['9223372036854775807', 'PLACED']]);
      expect(await deadLetters(dir)).toEqual([
        'decode: message index [5] names no message of schema id 11',
        'decode: schema id 12 is an AVRO schema, not Protobuf',
        'decode: unknown schema id 13 (the schema registry has no such schema)',
      ]);
    } finally {
      registry.server.close();
    }
  }, E2E_TIMEOUT);
});
