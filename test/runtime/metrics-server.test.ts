/**
 * The metrics endpoint over real HTTP on loopback: Prometheus text with the run's counters,
 * health answers that follow the run's state, and a taken port as one coded error.
 */
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { startMetricsServer, type MetricsServer } from '../../src/runtime/metrics-server.js';
import { parsePrometheus, sumSamples } from '../../src/runtime/prometheus-text.js';
import { RunMetrics } from '../../src/runtime/run-metrics.js';
import type { BatchStats } from '../../src/runtime/stream-protocol.js';

const servers: MetricsServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
});

const batch = (stream: number, records: number): BatchStats => ({
  stream,
  batchId: 0,
  replay: false,
  records,
  deadLettered: 2, deadLetters: [],
  dropped: 0,
  tables: { orders: { status: 'committed', rowsIn: records - 2, inserted: records - 2, updated: 0, deleted: 0 } },
  durationMs: 120,
  decodeMs: 20,
  commitMs: 90,
  latency: { buckets: [[10, 5], [200, records - 5]], max: 20_000 },
});

describe('metrics server', () => {
  it('serves the counters, histograms and lag of the run, and health that follows its state', async () => {
    const metrics = new RunMetrics();
    const health = { healthy: true, ready: false };
    const server = await startMetricsServer(metrics, { healthy: () => health.healthy, ready: () => health.ready }, 0, '127.0.0.1');
    servers.push(server);
    metrics.onBatch(batch(0, 100));
    metrics.onBatch(batch(1, 50));
    metrics.onLag({ refreshedAtMs: Date.now(), total: 7, streams: [{ stream: 0, lag: 7, partitions: [{ partition: 0, end: 107, position: 100, lag: 7 }] }] });
    const res = await fetch(`http://127.0.0.1:${server.port}/metrics`);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0.0.4/);
    const samples = parsePrometheus(await res.text());
    expect(sumSamples(samples, 'pipeline_records_consumed_total')).toBe(150);
    expect(sumSamples(samples, 'pipeline_records_consumed_total', { stream: '1' })).toBe(50);
    expect(sumSamples(samples, 'pipeline_table_rows_written_total', { table: 'orders' })).toBe(146);
    expect(sumSamples(samples, 'pipeline_batch_phase_duration_seconds_count', { phase: 'commit' })).toBe(2);
    expect(sumSamples(samples, 'pipeline_end_to_end_latency_seconds_count')).toBe(150);
    // 5 records at ~1.6 ms, the rest at 1.05^200 ms ≈ 17 s: le=0.05 holds exactly the first 5 per stream.
    expect(sumSamples(samples, 'pipeline_end_to_end_latency_seconds_bucket', { le: '0.05' })).toBe(10);
    expect(sumSamples(samples, 'pipeline_end_to_end_latency_seconds_bucket', { le: '10' })).toBe(10);
    expect(sumSamples(samples, 'pipeline_end_to_end_latency_seconds_bucket', { le: '30' })).toBe(150);
    expect(sumSamples(samples, 'pipeline_partition_lag_records', { stream: '0', partition: '0' })).toBe(7);
    expect(sumSamples(samples, 'pipeline_process_resident_memory_bytes')).toBeGreaterThan(0);

    const status = async (path: string) => (await fetch(`http://127.0.0.1:${server.port}${path}`)).status;
    expect([await status('/healthz'), await status('/readyz')]).toEqual([200, 503]);
    health.ready = true;
    expect(await status('/readyz')).toBe(200);
    health.healthy = false;
    expect([await status('/healthz'), await status('/nope')]).toEqual([503, 404]);
  });

  it('a port in use is PIPE_METRICS_PORT with what to do', async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as AddressInfo).port;
    try {
      await expect(startMetricsServer(new RunMetrics({ processMetrics: false }), { healthy: () => true, ready: () => true }, port, '127.0.0.1')).rejects.toMatchObject({
        code: 'PIPE_METRICS_PORT',
        hint: expect.stringMatching(/another process uses the port/),
      });
    } finally {
      blocker.close();
    }
  });
});
