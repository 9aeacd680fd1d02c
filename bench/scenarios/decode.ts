/**
 * decode: records/s per core of each supported record format's decoder, on one thread, over
 * generated commerce events (0.2% malformed, like the backfill). JSON today; other formats
 * join this table as they land.
 */
import { generateEvents } from '../../src/dev-broker/events.js';
import { decodeJsonValue } from '../../src/operators/decode-json.js';
import { round, say, writeResult } from '../lib.js';
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

/** Runs the decode micro-benchmark. */
export async function decode(): Promise<ScenarioReport> {
  const values = Array.from(generateEvents({ count: COUNT, seed: 7 }), (e) => e.value);
  const bytes = values.reduce((a, v) => a + v.length, 0);
  say(`decoding ${COUNT} values (${(bytes / COUNT).toFixed(0)} bytes average), best of ${ROUNDS}`);
  const json = measure(values, (b) => decodeJsonValue(b).ok);
  const formats = {
    json: { recordsPerSecond: Math.round(json.recordsPerSecond), mbPerSecond: round((json.recordsPerSecond * bytes) / COUNT / 1e6), decoded: json.ok, failed: COUNT - json.ok },
  };
  writeResult('decode', { parameters: { records: COUNT, rounds: ROUNDS, averageBytes: Math.round(bytes / COUNT) }, formats });
  const summary = [
    '| format | records/s per core | MB/s | decoded | failed (dead letter) |',
    '|---|---|---|---|---|',
    ...Object.entries(formats).map(([f, r]) => `| ${f} | ${r.recordsPerSecond.toLocaleString('en-US')} | ${r.mbPerSecond} | ${r.decoded} | ${r.failed} |`),
  ];
  // The generator's malformed share is 0.2%: decoding must reject about that many, no more.
  const correct = json.ok < COUNT && json.ok > COUNT * 0.99;
  return { correct, summary, targets: [] };
}
