/**
 * Event-time state across a re-shard. A re-shard gives every new stream a synthetic committed
 * batch; without the old streams' operator state, the open `append` windows would be lost and
 * the partitions' clocks would start over. So the state moves with the partitions:
 *
 * - watermark: each partition's clock goes to the stream that now owns it; each new stream
 *   starts from the watermark its partitions' clocks give when they cover every partition it
 *   owns (a partition whose old stream never committed a batch has no clock and holds it back),
 *   never below the pipeline's (the least old one), so windows already written stay written and
 *   a stream without new records holds none back;
 * - append windows: partials merge exactly whichever stream holds them, so the old streams'
 *   cells, combined per window and group, go to new stream 0; every new stream closes windows
 *   from the least old `closedUntil` on, so no on-time record is refused.
 *
 * Counters (`late`, `unreadable`, `afterClose`) are summed into stream 0.
 */
import { streamWatermark, type WatermarkState, type PartitionClock } from '../operators/watermark.js';
import { alignWindowState, type WindowState } from '../operators/window.js';
import { windowChangedError, windowTableChanged } from '../operators/window-output.js';
import { NODE_IDS, type Plan } from './plan.js';
import { appendWindows, combineCells } from './window-emitter.js';

/** The least of values where null (not yet known) wins, or undefined when there are none. */
function leastKnown(values: (number | null)[]): number | null | undefined {
  if (values.length === 0) return undefined;
  return values.some((v) => v === null) ? null : Math.min(...(values as number[]));
}

const sum = (values: number[]): number => values.reduce((a, b) => a + b, 0);

/**
 * The operator state of each of `to` new streams, from the old streams' committed states.
 * `partitionCount` (the topic's, now) tells which partitions each new stream owns; without it
 * only a stream whose partitions all had a committed old stream knows its watermark.
 */
export function reshardState(plan: Plan, old: Record<string, unknown>[], to: number, partitionCount?: number): Record<string, unknown>[] {
  const out = Array.from({ length: to }, () => ({}) as Record<string, unknown>);
  const clocks = old.map((s) => s[NODE_IDS.watermark] as WatermarkState | undefined).filter((w): w is WatermarkState => w !== undefined);
  if (clocks.length > 0) {
    const complete = clocks.length === old.length;
    // The pipeline's watermark is the least over every old stream; one that never committed a
    // batch knows none yet, so neither does the pipeline (its partitions may still hold anything).
    const watermarkMs = complete ? (leastKnown(clocks.map((w) => w.watermarkMs ?? null)) ?? null) : null;
    out.forEach((state, j) => {
      const partitions: Record<string, PartitionClock> = {};
      for (const w of clocks) for (const [p, clock] of Object.entries(w.partitions ?? {})) if (Number(p) % to === j) partitions[p] = clock;
      const times = Object.values(partitions).flatMap((c) => (c.maxEventTimeMs === null ? [] : [c.maxEventTimeMs]));
      // When the clocks cover every partition this stream now owns, its watermark is theirs (never
      // below the pipeline's), as its first batch would compute it: a stream that gets no record
      // after the re-shard must not hold windows back. An owned partition without a clock (its
      // old stream never committed, or the topic grew) holds it back, as it would in a batch.
      const owned = partitionCount !== undefined
        ? Array.from({ length: partitionCount }, (_, p) => p).filter((p) => p % to === j)
        : complete ? Object.keys(partitions).map(Number) : undefined;
      const own = owned && plan.watermark ? streamWatermark(partitions, owned, plan.watermark.delayMs, Number.POSITIVE_INFINITY) : null;
      state[NODE_IDS.watermark] = {
        maxEventTimeMs: times.length > 0 ? Math.max(...times) : null,
        watermarkMs: own !== null && (watermarkMs === null || own > watermarkMs) ? own : watermarkMs,
        partitions,
        unreadable: j === 0 ? sum(clocks.map((w) => w.unreadable ?? 0)) : 0,
        late: j === 0 ? sum(clocks.map((w) => w.late ?? 0)) : 0,
        batchLate: 0,
      } satisfies WatermarkState;
    });
  }
  // Open append windows of an aggregation that now has update output would never be written.
  for (const w of plan.windows ?? []) {
    if (w.outputMode !== 'update') continue;
    const i = old.findIndex((s) => Object.keys((s[w.id] as WindowState | undefined)?.open ?? {}).length > 0);
    if (i >= 0) throw windowTableChanged(w, `the open windows of old stream ${i}`, 'output mode append → update');
  }
  for (const w of appendWindows(plan)) {
    const states = old.map((s) => alignWindowState(s[w.id] as WindowState | undefined, w.measures)).filter((s): s is WindowState => s !== undefined);
    if (states.length === 0) continue;
    // Cells counted under another definition cannot be combined under this one (nor carried).
    const other = states.find((s) => s.definition !== undefined && w.definition !== undefined && s.definition !== w.definition);
    if (other) throw windowChangedError(w, 'the open windows of the old streams', other.definition!);
    const closedUntil = leastKnown(states.map((s) => s.closedUntil ?? null)) ?? null;
    const definition = states.find((s) => s.definition !== undefined)?.definition;
    out.forEach((state, j) => {
      state[w.id] = {
        open: j === 0 ? combineCells(w.measures, states) : {},
        closedUntil,
        afterClose: j === 0 ? sum(states.map((s) => s.afterClose ?? 0)) : 0,
        ...(definition !== undefined ? { definition } : {}),
        measures: w.measures.map((m) => m.name),
      } satisfies WindowState;
    });
  }
  return out;
}
