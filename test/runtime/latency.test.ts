import { describe, expect, it } from 'vitest';
import { LatencyHistogram, sampleLatency, sampleVisibility } from '../../src/runtime/latency.js';

describe('end-to-end latency histogram', () => {
  it('answers quantiles within one 5% bucket of the exact value', () => {
    const committedAt = 1_000_000;
    // Latencies 1..1000 ms, one record each.
    const timestamps = Array.from({ length: 1000 }, (_, i) => committedAt - (i + 1));
    const h = new LatencyHistogram();
    h.add(sampleLatency(timestamps.slice(0, 500), committedAt)!);
    h.add(sampleLatency(timestamps.slice(500), committedAt)!);
    expect(h.count).toBe(1000);
    expect(h.max).toBe(1000);
    for (const [q, exact] of [[0.5, 500], [0.99, 990], [0.9, 900]] as const) {
      const v = h.quantile(q);
      expect(v).toBeGreaterThanOrEqual(exact);
      expect(v).toBeLessThanOrEqual(exact * 1.05 + 1);
    }
    expect(h.quantile(1)).toBe(1000);
  });

  it('ignores records without a timestamp and is empty when none has one', () => {
    expect(sampleLatency([-1, 0], 5000)).toBeUndefined();
    const h = new LatencyHistogram();
    expect(h.quantile(0.5)).toBeNaN();
    h.add(sampleLatency([-1, 4990], 5000)!);
    expect(h.count).toBe(1);
    expect(h.quantile(0.5)).toBe(10);
  });

  it('measures each record to the moment its own table made it visible', () => {
    const h = new LatencyHistogram();
    // Records 0-1 in a table committed at 1,100; record 2 in one committed at 1,900.
    h.add(sampleVisibility(Float64Array.from([1_000, 1_050, 1_000]), Float64Array.from([1_100, 1_100, 1_900]))!);
    expect(h.count).toBe(3);
    expect(h.max).toBe(900);
    expect(h.quantile(0.5)).toBeLessThanOrEqual(105);
  });
});
