import { describe, expect, it } from 'vitest';
import { compilePlan } from '../../src/planner/compile.js';
import { loadSpecText } from '../../src/spec/index.js';
import { reshardState } from '../../src/runtime/reshard-state.js';
import { NODE_IDS } from '../../src/runtime/plan.js';
import type { WatermarkState } from '../../src/operators/watermark.js';

const planWith = (aggregations = '') => {
  const loaded = loadSpecText(`apiVersion: pipeline/v1
name: w
source: { kafka: { brokers: [localhost:9092], topic: t } }
streams: 2
watermark: { column: ts, delay: 30s }
routing: { field: type, routes: { click: clicks } }
tables: { clicks: { mode: append } }
${aggregations}output: { path: /tmp/reshard-state-test }
`, 'w.yaml');
  return compilePlan(loaded.spec!, { cwd: '/tmp' });
};
const plan = planWith();

const clock = (maxEventTimeMs: number | null) => ({ maxEventTimeMs, seenAt: 0 });
const wm = (watermarkMs: number | null, partitions: Record<string, ReturnType<typeof clock>>) => ({
  [NODE_IDS.watermark]: { maxEventTimeMs: null, watermarkMs, partitions, unreadable: 0, late: 0, batchLate: 0 } satisfies WatermarkState,
});
const watermarkOf = (s: Record<string, unknown>) => (s[NODE_IDS.watermark] as WatermarkState).watermarkMs;

describe('reshardState: watermarks', () => {
  it('gives each new stream the watermark of the partition clocks it takes over, never below the pipeline\'s', () => {
    // Old stream 1 had not seen partition 1 yet: its watermark, and the pipeline's, were unknown.
    const old = [wm(660_000, { 0: clock(690_000), 2: clock(690_000) }), wm(null, { 1: clock(null), 3: clock(690_000) })];
    const out = reshardState(plan, old, 2);
    // New stream 0 owns partitions 0 and 2, both known: it must not wait for a batch to say so.
    expect(watermarkOf(out[0]!)).toBe(660_000);
    expect(watermarkOf(out[1]!)).toBeNull();
    const one = reshardState(plan, old, 1);
    expect(watermarkOf(one[0]!)).toBeNull();
  });

  it('gives no watermark when an old stream had no state: its partitions may hold anything, so the pipeline knew none', () => {
    // Before the re-shard the window emitter waited for old stream 1 (no commit, no watermark);
    // taking stream 0's 660,000 would close windows that stream 1's partitions may still fill.
    const out = reshardState(plan, [wm(660_000, { 0: clock(690_000), 2: clock(690_000) }), {}], 2);
    expect(out.map(watermarkOf)).toEqual([null, null]);
    expect(watermarkOf(reshardState(plan, [wm(660_000, { 0: clock(690_000), 3: clock(690_000) }), {}, {}], 1)[0]!)).toBeNull();
  });

  it('with the topic\'s partition count, a new stream whose partitions all have clocks knows its watermark although another old stream had no state', () => {
    // 3 → 2 streams over 4 partitions: old stream 2 (partition 2) never committed. New stream 1
    // owns partitions 1 and 3, both known; new stream 0 owns 0 and 2, and 2 has no clock.
    const old = [wm(660_000, { 0: clock(690_000), 3: clock(700_000) }), wm(650_000, { 1: clock(680_000) }), {}];
    expect(reshardState(plan, old, 2, 4).map(watermarkOf)).toEqual([null, 650_000]);
    // Without the count the new streams cannot tell whether a partition of old stream 2 is theirs.
    expect(reshardState(plan, old, 2).map(watermarkOf)).toEqual([null, null]);
    // A partition the topic gained since (4, owned by new stream 0 of 2) holds its stream back too.
    const complete = [wm(660_000, { 0: clock(690_000), 2: clock(690_000) }), wm(650_000, { 1: clock(680_000), 3: clock(700_000) })];
    expect(reshardState(plan, complete, 2, 5).map(watermarkOf)).toEqual([650_000, 650_000]);
    expect(reshardState(plan, complete, 2, 4).map(watermarkOf)).toEqual([660_000, 650_000]);
  });
});

describe('reshardState: windows', () => {
  const withWindows = (outputMode: string) =>
    planWith(`aggregations:\n  per_minute: { from: [clicks], window: { type: tumbling, size: 1m }, measures: { n: "count(*)" }, outputMode: ${outputMode} }\n`);

  it('refuses to drop open append windows of an aggregation that now has update output', () => {
    const id = withWindows('append').windows[0]!.id;
    const open = { [id]: { open: { '[0]': { startMs: 0, endMs: 60_000, groups: [], partials: [2] } }, closedUntil: null, afterClose: 0, measures: ['n'] } };
    expect(() => reshardState(withWindows('update'), [{}, open], 1)).toThrow(/the open windows of old stream 1\): output mode append → update/);
    // Nothing open: nothing to lose.
    expect(() => reshardState(withWindows('update'), [{ [id]: { ...open[id], open: {} } }], 1)).not.toThrow();
    expect(reshardState(withWindows('append'), [{}, open], 1)[0]![id]).toMatchObject({ open: { '[0]': { partials: [2] } } });
  });
});
