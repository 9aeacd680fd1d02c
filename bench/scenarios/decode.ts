/**
 * decode: records/s per core of each supported record format's decoder, on one thread, over
 * generated commerce events (0.2% malformed, like the backfill), then the same order records
 * encoded as JSON, Avro and Protobuf (Confluent framing; the example's Avro schema
 * pipelines/schemas/order.avsc and the equivalent .proto message), so the formats compare on
 * equal content. Each decode includes the conversion to table values (exact longs, decimal
 * and timestamp text for Avro, enum names and every field for Protobuf).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import protobuf from 'protobufjs';
import { generateEvents } from '../../src/dev-broker/events.js';
import { parseAvroSchema } from '../../src/operators/avro-types.js';
import { frameValue } from '../../src/operators/confluent-framing.js';
import { decodeAvroValue } from '../../src/operators/decode-avro.js';
import { decodeJsonValue } from '../../src/operators/decode-json.js';
import { decodeProtobufValue } from '../../src/operators/decode-protobuf.js';
import { repoRoot, round, say, writeResult } from '../lib.js';
import type { ScenarioReport } from '../main.js';

const COUNT = 500_000;
const ROUNDS = 3;

/** Best of `ROUNDS` timed passes over `values` with `decode`; returns records/s. */
function measure(values: Buffer[], decode: (b: Buffer) => boolean): { recordsPerSecond: number; ok: number } {
  let best = Infinity;
  let ok = 0;
  for (let r = 0; r < ROUNDS; r++) {
    ok = 0;
    const t0 = performance.now();
    for (const v of values) if (decode(v)) ok++;
    best = Math.min(best, performance.now() - t0);
  }
  return { recordsPerSecond: values.length / (best / 1000), ok };
}

const ORDERS = 200_000;
const ORDER_PROTO = `syntax = "proto3";
package shop;
message Order {
  string event_type = 1; int64 order_id = 2; int64 version = 3; string customer_id = 4;
  string amount = 5; int64 placed_at = 6; string channel = 7;
}`;

/** `count` orders as JSON, Avro and Protobuf values (Confluent-framed for the binary ones, schema id 1). */
export function orderValues(count = ORDERS): Record<'json' | 'avro' | 'protobuf', Buffer[]> {
  const avro = parseAvroSchema(readFileSync(join(repoRoot, 'pipelines', 'schemas', 'order.avsc'), 'utf8'));
  const Order = protobuf.parse(ORDER_PROTO).root.lookupType('shop.Order');
  const out = { json: [] as Buffer[], avro: [] as Buffer[], protobuf: [] as Buffer[] };
  let x = 7;
  const next = () => (x = (x * 1_103_515_245 + 12_345) % 2 ** 31);
  for (let i = 0; i < count; i++) {
    const cents = next() % 1_000_000;
    const placed = 1_767_225_600_000 + i * 37;
    const base = { event_type: 'order_placed', order_id: 1_000_000 + i, version: (next() % 5) + 1, customer_id: `cus-${String(next() % 100_000).padStart(6, '0')}`, channel: ['web', 'app', 'store'][i % 3]! };
    out.json.push(Buffer.from(JSON.stringify({ ...base, amount: (cents / 100).toFixed(2), placed_at: new Date(placed).toISOString() })));
    const unscaled = Buffer.alloc(4);
    unscaled.writeInt32BE(cents);
    out.avro.push(frameValue(1, avro.toBuffer({ ...base, amount: unscaled, placed_at: placed })));
    out.protobuf.push(frameValue(1, Buffer.from(Order.encode(Order.fromObject({ ...base, amount: (cents / 100).toFixed(2), placed_at: placed })).finish()), [0]));
  }
  return out;
}

/** Runs the decode micro-benchmark. */
export async function decode(): Promise<ScenarioReport> {
  const values = Array.from(generateEvents({ count: COUNT, seed: 7 }), (e) => e.value);
  const bytes = values.reduce((a, v) => a + v.length, 0);
  say(`decoding ${COUNT} values (${(bytes / COUNT).toFixed(0)} bytes average), best of ${ROUNDS}`);
  const json = measure(values, (b) => decodeJsonValue(b).ok);
  const formats: Record<string, { recordsPerSecond: number; mbPerSecond: number; decoded: number; failed: number; averageBytes: number }> = {
    json: { recordsPerSecond: Math.round(json.recordsPerSecond), mbPerSecond: round((json.recordsPerSecond * bytes) / COUNT / 1e6), decoded: json.ok, failed: COUNT - json.ok, averageBytes: Math.round(bytes / COUNT) },
  };
  const orders = orderValues();
  const avroOpts = { wireFormat: 'confluent' as const, writer: parseAvroSchema(readFileSync(join(repoRoot, 'pipelines', 'schemas', 'order.avsc'), 'utf8')) };
  const protoOpts = { wireFormat: 'confluent' as const, type: protobuf.parse(ORDER_PROTO).root.lookupType('shop.Order') };
  const decoders: Record<string, (b: Buffer) => boolean> = {
    'orders as json': (b) => decodeJsonValue(b).ok,
    'orders as avro': (b) => decodeAvroValue(b, 0, b.length, avroOpts).ok,
    'orders as protobuf': (b) => decodeProtobufValue(b, 0, b.length, protoOpts).ok,
  };
  for (const [name, decodeOne] of Object.entries(decoders)) {
    const values = orders[name.slice('orders as '.length) as keyof typeof orders];
    const size = values.reduce((a, v) => a + v.length, 0);
    const r = measure(values, decodeOne);
    formats[name] = { recordsPerSecond: Math.round(r.recordsPerSecond), mbPerSecond: round((r.recordsPerSecond * size) / values.length / 1e6), decoded: r.ok, failed: values.length - r.ok, averageBytes: Math.round(size / values.length) };
    say(`${name}: ${Math.round(r.recordsPerSecond).toLocaleString('en-US')} records/s`);
  }
  writeResult('decode', { parameters: { records: COUNT, orders: ORDERS, rounds: ROUNDS, averageBytes: Math.round(bytes / COUNT) }, formats });
  const summary = [
    '| format | records/s per core | MB/s | bytes/record | decoded | failed (dead letter) |',
    '|---|---|---|---|---|---|',
    ...Object.entries(formats).map(([f, r]) => `| ${f} | ${r.recordsPerSecond.toLocaleString('en-US')} | ${r.mbPerSecond} | ${r.averageBytes} | ${r.decoded} | ${r.failed} |`),
  ];
  // The generator's malformed share is 0.2%: decoding must reject about that many, no more.
  // The order values are all well-formed: every one must decode.
  const correct = json.ok < COUNT && json.ok > COUNT * 0.99 && ['orders as json', 'orders as avro', 'orders as protobuf'].every((f) => formats[f]!.failed === 0);
  return { correct, summary, targets: [] };
}
