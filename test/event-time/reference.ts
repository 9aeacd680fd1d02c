/**
 * The event-time reference model, written from docs/concepts/event-time.md (not from the
 * code): per partition, in offset order, a record is late when its event time is behind the
 * greatest event time seen earlier in the partition minus the delay (every record moves its
 * partition's clock, also one its table refuses); on-time records the aggregation's tables
 * accept fall into every window holding their event time; `update` tables hold
 * every window, `append` tables the windows that end at or before the final watermark (the
 * least partition watermark, every partition having delivered an event time).
 */

/** One produced record as the model sees it. */
export interface RefEvent {
  partition: number;
  /** Event time, ms. */
  ts: number;
  /** The routed table (`undefined`: unmatched). */
  table?: string;
  group: string;
  value: number | null;
  /** Produced with a value its table refuses (not a number for a DOUBLE column). */
  bad?: boolean;
}

/** One window row: window bounds, group and the measures n (count(*)), valued (count(value)), total, lo, hi, mean. */
export interface RefRow {
  start: number;
  end: number;
  group: string;
  n: number;
  valued: number;
  total: number | null;
  lo: number | null;
  hi: number | null;
  mean: number | null;
}

/** Which records are late (by index, records given in each partition's offset order). */
export function lateRecords(events: RefEvent[], delayMs: number): { late: Set<number>; maxPerPartition: Map<number, number> } {
  const max = new Map<number, number>();
  const late = new Set<number>();
  events.forEach((e, i) => {
    const m = max.get(e.partition);
    if (m !== undefined && e.ts < m - delayMs) late.add(i);
    else max.set(e.partition, Math.max(m ?? -Infinity, e.ts));
  });
  return { late, maxPerPartition: max };
}

/** Window rows over the on-time records of `tables`, sorted by start then group. */
export function referenceWindows(events: RefEvent[], o: { delayMs: number; sizeMs: number; slideMs: number; tables: string[]; partitions: number[]; append: boolean }): RefRow[] {
  const { late, maxPerPartition } = lateRecords(events, o.delayMs);
  // Sums are exact, rounded once (the page's rule). Values are tenths: every such double times
  // 2^60 is an integer, so BigInt adds them exactly and Number() rounds the total once.
  const cells = new Map<string, RefRow & { sum: bigint; count: number }>();
  const exact = (v: number) => BigInt(v * 2 ** 60);
  const rounded = (sum: bigint) => Number(sum) / 2 ** 60;
  events.forEach((e, i) => {
    // Only records the tables accept count: not late ones, nor ones their table refuses.
    if (late.has(i) || e.bad || e.table === undefined || !o.tables.includes(e.table)) return;
    // Every window [s, s + size) with s a multiple of slide and s <= ts < s + size.
    for (let s = Math.floor(e.ts / o.slideMs) * o.slideMs; s > e.ts - o.sizeMs; s -= o.slideMs) {
      const key = `${s}|${e.group}`;
      let c = cells.get(key);
      if (!c) cells.set(key, (c = { start: s, end: s + o.sizeMs, group: e.group, n: 0, valued: 0, total: null, lo: null, hi: null, mean: null, sum: 0n, count: 0 }));
      c.n++;
      if (e.value !== null) {
        c.valued++;
        c.lo = c.lo === null ? e.value : Math.min(c.lo, e.value);
        c.hi = c.hi === null ? e.value : Math.max(c.hi, e.value);
        c.sum += exact(e.value);
        c.count++;
        c.total = rounded(c.sum);
      }
    }
  });
  let rows = [...cells.values()].map(({ sum, count, ...r }) => ({ ...r, mean: count === 0 ? null : rounded(sum) / count }));
  if (o.append) {
    const maxes = o.partitions.map((p) => maxPerPartition.get(p));
    const watermark = maxes.some((m) => m === undefined) ? -Infinity : Math.min(...(maxes as number[])) - o.delayMs;
    rows = rows.filter((r) => r.end <= watermark);
  }
  return rows.sort((a, b) => a.start - b.start || a.group.localeCompare(b.group));
}
