/**
 * pipelines/sensor-readings.yaml, the staged example: it validates, plans to its golden text
 * (three jobs, the tables between them), and runs against the test broker: gold holds, per
 * sensor and day, the reading with the greatest `measured_at_ms` — whatever the raw batch cuts.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { GeneratedEvent } from '../../src/dev-broker/events.js';
import { compilePlan } from '../../src/planner/compile.js';
import { renderPlan } from '../../src/planner/render.js';
import { loadSpecFile } from '../../src/spec/load.js';
import { expectGolden } from '../planner/golden.js';
import { useTestBroker } from '../support/broker.js';
import { ROOT } from '../support/build.js';
import { E2E_TIMEOUT, runCli } from '../support/cli.js';
import { produce } from '../support/commerce.js';
import { readTable } from '../support/tables.js';
import { tempDirs } from '../support/temp-dirs.js';

const SPEC = join(ROOT, 'pipelines', 'sensor-readings.yaml');
const TOPIC = 'iot.sensor-readings.v1';
const broker = useTestBroker([{ name: TOPIC, partitions: 3 }]);
const dir = tempDirs('sensors-e2e-')();

/** Readings of 12 sensors over 3 days, out of order, each sensor's times distinct. */
function readings(count: number): { events: GeneratedEvent[]; values: Record<string, unknown>[] } {
  const values: Record<string, unknown>[] = [];
  for (let i = 0; i < count; i++) {
    const sensor = `s-${(i * 7) % 12}`;
    const day = 1 + (Math.floor(i / 12) % 3);
    // A permutation of i: readings arrive out of time order.
    const t = Date.UTC(2026, 10, day) + ((i * 7919) % count) * 1000;
    values.push({ kind: 'reading', sensor_id: sensor, reading_date: `2026-11-0${day}`, measured_at_ms: t, value: Math.round(i * 1.5 * 100) / 100 });
  }
  const events = values.map((v) => ({ key: String(v.sensor_id), value: Buffer.from(JSON.stringify(v)), timestamp: Number(v.measured_at_ms) }));
  return { events, values };
}

describe('pipelines/sensor-readings.yaml', () => {
  it('validates and plans three jobs', async () => {
    const loaded = loadSpecFile(SPEC, { env: {} });
    expect(loaded.diagnostics).toEqual([]);
    const text = renderPlan(compilePlan(loaded.spec!), 'text');
    expect(text).toContain('jobs (mode: staged');
    expectGolden('sensor-readings.plan.txt', text);
  });

  it('runs staged: gold keeps the latest reading per sensor and day', async () => {
    const { events, values } = readings(2_400);
    await produce(broker, dir, TOPIC, events);
    const args = ['run', SPEC, '--available-now', '--log-level', 'warn', '--set', `output.path=${join(dir, 'lake')}`, '--set', `checkpoint.path=${join(dir, 'cp')}`, '--set', 'stages.raw.trigger.maxRecordsPerBatch=500'];
    const run = await runCli(args, { KAFKA_BROKERS: broker.bootstrap });
    expect(run.code, run.stdout + run.stderr.slice(-2000)).toBe(0);
    expect(run.stdout).toMatch(/raw\s+completed: 2400 records/);

    // The reference, from the documented semantics: greatest measured_at_ms per (sensor_id, reading_date).
    const latest = new Map<string, Record<string, unknown>>();
    for (const v of values) {
      const key = `${v.sensor_id}|${v.reading_date}`;
      const seen = latest.get(key);
      if (!seen || Number(v.measured_at_ms) > Number(seen.measured_at_ms)) latest.set(key, v);
    }
    const expected = [...latest.values()].map((v) => ({ sensor_id: v.sensor_id, reading_date: v.reading_date, measured_at_ms: v.measured_at_ms, value: v.value })).sort(byKey);
    const gold = (await readTable(join(dir, 'lake', 'readings'))).map((r) => ({ sensor_id: r.sensor_id, reading_date: r.reading_date, measured_at_ms: Number(r.measured_at_ms), value: r.value })).sort(byKey);
    expect(gold).toEqual(expected);
    expect(gold).toHaveLength(36);
  }, E2E_TIMEOUT);
});

function byKey(a: Record<string, unknown>, b: Record<string, unknown>): number {
  const x = `${a.sensor_id}|${a.reading_date}`;
  const y = `${b.sensor_id}|${b.reading_date}`;
  return x < y ? -1 : x > y ? 1 : 0;
}
