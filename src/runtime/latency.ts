/**
 * End-to-end latency: for every record of a committed batch, the time from its Kafka
 * timestamp (producer or broker time) to the moment it became visible in its table (the Delta
 * commit of that table, or of the dead-letter table for a failed record; records no table
 * keeps, such as requested drops, count at the batch's checkpoint commit). Kept as a sparse log-bucket histogram (5% wide buckets) so a
 * batch of 100K records costs one Math.log per record and a few hundred bytes to ship.
 */

const GROWTH = 1.05;
const LOG_GROWTH = Math.log(GROWTH);

/** Sparse histogram as shipped between threads: `[bucket, count]` pairs plus the exact max. */
export interface LatencySample {
  buckets: [number, number][];
  max: number;
}

/** Bucket index of a latency: 0 holds [0, 1) ms, bucket b ≥ 1 holds [1.05^(b-1), 1.05^b) ms. */
function bucketOf(ms: number): number {
  return ms < 1 ? 0 : Math.floor(Math.log(ms) / LOG_GROWTH) + 1;
}

/** Latencies of records with the given timestamps (ms) committed at `committedAt`. */
export function sampleLatency(timestamps: Iterable<number>, committedAt: number): LatencySample | undefined {
  const ts = Float64Array.from(timestamps);
  return sampleVisibility(ts, new Float64Array(ts.length).fill(committedAt));
}

/** Latencies of records with the given timestamps (ms), record i visible at `visibleAt[i]` (ms). */
export function sampleVisibility(timestamps: Float64Array, visibleAt: Float64Array): LatencySample | undefined {
  const counts = new Map<number, number>();
  let max = 0;
  for (let i = 0; i < timestamps.length; i++) {
    const ts = timestamps[i]!;
    if (!(ts > 0)) continue;
    const ms = Math.max(0, visibleAt[i]! - ts);
    if (ms > max) max = ms;
    const b = bucketOf(ms);
    counts.set(b, (counts.get(b) ?? 0) + 1);
  }
  return counts.size === 0 ? undefined : { buckets: [...counts], max };
}

/** Accumulates samples over a run and answers quantiles (upper bucket bound, capped at max). */
export class LatencyHistogram {
  private readonly counts = new Map<number, number>();
  private total = 0;
  private maxMs = 0;

  add(sample: LatencySample): void {
    for (const [b, n] of sample.buckets) {
      this.counts.set(b, (this.counts.get(b) ?? 0) + n);
      this.total += n;
    }
    this.maxMs = Math.max(this.maxMs, sample.max);
  }

  get count(): number {
    return this.total;
  }

  get max(): number {
    return this.maxMs;
  }

  /** The q-quantile (0 < q ≤ 1) in ms, accurate to one bucket (5%); NaN when empty. */
  quantile(q: number): number {
    if (this.total === 0) return NaN;
    const rank = Math.ceil(q * this.total);
    let seen = 0;
    for (const b of [...this.counts.keys()].sort((x, y) => x - y)) {
      seen += this.counts.get(b)!;
      if (seen >= rank) return Math.min(this.maxMs, b === 0 ? 1 : Math.round(GROWTH ** b));
    }
    return this.maxMs;
  }
}
