/**
 * The window emitter on its own: the pipeline watermark it writes up to (least committed
 * stream watermark; a stream silent for `idleTimeout` left out) and its exactly-once writes
 * into a real lake (each window row added once, whatever is emitted again or restarted).
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compilePlan } from '../../src/planner/compile.js';
import { loadSpecText } from '../../src/spec/index.js';
import { WindowEmitter, windowEmitterAppId } from '../../src/runtime/window-emitter.js';
import type { WindowCell } from '../../src/operators/window.js';
import { loggedRows, useLake } from '../support/tables.js';
import { tempDirs } from '../support/temp-dirs.js';

const lake = useLake();
const tempDir = tempDirs('emitter-');

const plan = (dir: string, idle = '') => {
  const loaded = loadSpecText(`apiVersion: pipeline/v1
name: em
source: { kafka: { brokers: [localhost:9092], topic: t } }
streams: 2
watermark: { column: ts, delay: 10s${idle} }
routing: { field: type, routes: { click: clicks } }
tables: { clicks: { mode: append } }
aggregations:
  per_minute:
    from: [clicks]
    window: { type: tumbling, size: 1m }
    groupBy: [g]
    measures: { n: "count(*)", hi: "max(v)" }
    outputMode: append
output: { path: ${join(dir, 'lake')} }
`, 'em.yaml');
  if (!loaded.spec) throw new Error(JSON.stringify(loaded.diagnostics));
  return compilePlan(loaded.spec, { cwd: dir });
};

const cell = (startMs: number, g: string, n: number, hi: number): WindowCell => ({ startMs, endMs: startMs + 60_000, groups: [g], partials: [n, hi] });
/** A stream's committed state: its watermark and its cells of the window operator. */
const state = (watermarkMs: number | null, cells: WindowCell[]) => ({
  watermark: { maxEventTimeMs: null, watermarkMs, partitions: {}, unreadable: 0, late: 0, batchLate: 0 },
  'window.per_minute': { open: Object.fromEntries(cells.map((c) => [JSON.stringify([c.startMs, ...c.groups]), c])), closedUntil: watermarkMs, afterClose: 0 },
});

describe('window emitter', () => {
  it('writes a window once the least stream watermark passes it, combining the streams\' partials, and never again', async () => {
    const dir = tempDir();
    const p = plan(dir);
    const path = join(dir, 'lake', 'per_minute');
    const emitter = new WindowEmitter({ plan: p, lake, streams: [0, 1] });
    emitter.observe(0, state(130_000, [cell(0, 'a', 2, 5), cell(60_000, 'a', 1, 9), cell(120_000, 'a', 1, 1)]));
    expect(await emitter.emit()).toEqual({ watermarkMs: null, rows: 0 }); // stream 1 has no watermark yet
    emitter.observe(1, state(70_000, [cell(0, 'a', 3, 7), cell(0, 'b', 1, 2)]));
    expect(await emitter.emit()).toEqual({ watermarkMs: 70_000, rows: 2 });
    emitter.observe(1, state(125_000, [cell(0, 'a', 3, 7), cell(0, 'b', 1, 2), cell(60_000, 'a', 4, 3)]));
    expect(await emitter.emit()).toEqual({ watermarkMs: 125_000, rows: 1 });
    // A new emitter (a restart) over the same states finds the table written up to 125 s.
    const again = new WindowEmitter({ plan: p, lake, streams: [0, 1] });
    again.observe(0, state(130_000, [cell(60_000, 'a', 1, 9)]));
    again.observe(1, state(125_000, [cell(60_000, 'a', 4, 3)]));
    expect(await again.emit()).toEqual({ watermarkMs: 125_000, rows: 0 });
    expect(await lake.txnVersion(path, windowEmitterAppId(p))).toBe(125_000);
    const rows = (await lake.scan(path)).map((r) => [new Date(r.window_start as string).getTime(), r.g, Number(r.n), Number(r.hi)]);
    expect(rows.sort()).toEqual([[0, 'a', 5, 7], [0, 'b', 1, 2], [60_000, 'a', 5, 9]].sort());
    expect(loggedRows(path)).toEqual({ added: 3, removes: 0 });
  });

  it('leaves out a stream that committed nothing for idleTimeout; when all are silent the greatest counts', () => {
    const dir = tempDir();
    let now = 1_000_000;
    const emitter = new WindowEmitter({ plan: plan(dir, ', idleTimeout: 30s'), lake, streams: [0, 1, 2], now: () => now });
    emitter.observe(0, state(200_000, []));
    emitter.observe(1, state(90_000, []));
    expect(emitter.pipelineWatermark()).toBeNull(); // stream 2 has none yet and is not idle
    now += 20_000;
    emitter.observe(0, state(260_000, []));
    expect(emitter.pipelineWatermark()).toBeNull();
    now += 15_000; // streams 1 and 2 silent for 35 s, stream 0 for 15 s
    expect(emitter.pipelineWatermark()).toBe(260_000);
    now += 30_000;
    emitter.observe(1, state(95_000, []));
    expect(emitter.pipelineWatermark()).toBe(95_000);
    now += 60_000; // everyone silent
    expect(emitter.pipelineWatermark()).toBe(260_000);
  });
});
