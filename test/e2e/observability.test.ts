/**
 * Observability end to end against the test broker: `/metrics` scraped during real runs
 * (counters against the records produced, true lag while a backlog exists and 0 once caught
 * up), the health endpoints, and `pipeline status` against a live and a stopped pipeline.
 */
import { execFileSync } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateEvents } from '../../src/dev-broker/events.js';
import { commerceReferenceSpec, computeReference } from '../../src/dev-broker/reference.js';
import { E2E_TIMEOUT, runCli, startCli } from '../support/cli.js';
import { produce, writeCommerceSpec } from '../support/commerce.js';
import { findChromium, get, metricsPort, scrape, sum, type Sample } from './metrics-helpers.js';
import { useTestBroker } from '../support/broker.js';

let dir: string;
let spec: string;
const FIRST = 12_000;
const SECOND = 4_000;

const broker = useTestBroker([{ name: 'obs', partitions: 4 }]);
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'obs-e2e-'));
  spec = writeCommerceSpec(dir, { name: 'obs', topic: 'obs', bootstrap: broker.bootstrap, streams: 2, maxRecordsPerBatch: 300, interval: '100ms' });
  appendFileSync(spec, 'alerts:\n  maxLag: 1000\n');
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const metricsArgs = ['--metrics-port', '0', '--metrics-host', '127.0.0.1', '--log-level', 'info'];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function status(): Promise<{ code: number | null; json: any }> {
  const r = await runCli(['status', spec, '--format', 'json']);
  return { code: r.code, json: r.stdout ? JSON.parse(r.stdout) : undefined };
}

describe('pipeline run --metrics-port', () => {
  it('counts what it commits and shows true lag while a backlog exists, 0 after --available-now', async () => {
    const events = [...generateEvents({ count: FIRST, seed: 31, malformedRate: 0.01 })];
    await produce(broker, dir, 'obs', events);
    // Slow the broker a little so a backlog outlives several scrapes.
    await broker.rtt(1, 15);
    const summaryFile = join(dir, 'summary-1.json');
    const run = startCli(['run', spec, '--available-now', '--summary-json', summaryFile, ...metricsArgs]);
    const port = await metricsPort(run.child);
    const scrapes: Sample[][] = [];
    let exited = false;
    void run.done.finally(() => (exited = true));
    while (!exited) {
      try {
        scrapes.push(await scrape(port));
      } catch {
        // the run ended between the check and the request
      }
      await sleep(100);
    }
    await broker.rtt(1, 0);
    const result = await run.done;
    expect(result.code, result.stderr.slice(-2000)).toBe(0);

    const lagged = scrapes.filter((s) => sum(s, 'pipeline_lag_records') > 0);
    expect(lagged.length).toBeGreaterThan(0);
    // Lag is the whole backlog from the first reading on, not only what has been fetched.
    expect(sum(scrapes.find((s) => sum(s, 'pipeline_lag_refreshed_timestamp_seconds') > 0)!, 'pipeline_lag_records')).toBe(FIRST);
    for (const s of scrapes) {
      const consumed = sum(s, 'pipeline_records_consumed_total');
      // A stream's checkpoint can be ahead of the counters (its next commit landed before the
      // main thread heard of the last), never behind.
      expect(consumed + sum(s, 'pipeline_lag_records')).toBeLessThanOrEqual(FIRST);
      expect(sum(s, 'pipeline_stream_lag_records')).toBe(sum(s, 'pipeline_lag_records'));
      expect(sum(s, 'pipeline_partition_lag_records')).toBe(sum(s, 'pipeline_lag_records'));
    }
    expect(sum(scrapes.at(-1)!, 'pipeline_records_consumed_total')).toBeGreaterThan(0);
    expect(scrapes.at(-1)!.some((s) => s.name === 'pipeline_process_resident_memory_bytes')).toBe(true);

    const summary = JSON.parse(readFileSync(summaryFile, 'utf8'));
    expect(summary.records).toBe(FIRST);
    expect(summary.metrics.pipeline_lag_records).toBe(0);
    expect(summary.timeline.at(-1).lag).toBe(0);
    // Off a terminal there is no progress block: stderr is JSON lines only.
    for (const l of result.stderr.split('\n').filter(Boolean)) expect(() => JSON.parse(l), l).not.toThrow();
    // One structured line per committed batch, with its lag.
    const batchLines = result.stderr.split('\n').filter((l) => l.includes('"msg":"batch committed"')).map((l) => JSON.parse(l));
    expect(batchLines.length).toBe(summary.batches);
    expect(batchLines.reduce((n, l) => n + l.records, 0)).toBe(FIRST);
    expect(batchLines.every((l) => typeof l.lag === 'number' && typeof l.durationMs === 'number' && l.phasesMs)).toBe(true);
    // Where each batch's time went: the phases a record lives through, and the lake's (summed over tables).
    for (const phase of ['wait', 'queue', 'decode', 'commit', 'checkpoint']) {
      expect(batchLines.every((l) => typeof l.phasesMs[phase] === 'number' && l.phasesMs[phase] >= 0), phase).toBe(true);
    }
    for (const phase of ['load', 'merge', 'files', 'log']) expect(batchLines.some((l) => l.phasesMs[phase] > 0), phase).toBe(true);
  }, E2E_TIMEOUT);

  it('a live run: counters equal the records produced, lag reaches 0, status sees it live and stopped', async () => {
    const events = [...generateEvents({ count: SECOND, seed: 32, malformedRate: 0.02 })];
    await produce(broker, dir, 'obs', events, 'second');
    const deadLetters = computeReference(events, commerceReferenceSpec()).deadLetter;

    // Stopped, with a backlog over alerts.maxLag: exit 1 and the lag of exactly the new records.
    const before = await status();
    expect(before.code).toBe(1);
    expect(before.json.totalLag).toBe(SECOND);
    expect(before.json.alerts[0]).toMatch(/exceeds alerts.maxLag 1000/);
    expect(before.json.streams.map((s: any) => s.partitions)).toEqual([[0, 2], [1, 3]]);
    expect(before.json.streams.every((s: any) => s.running === false && s.lastBatchAt !== null && s.lastBatchMs >= 0)).toBe(true);
    const committed = before.json.streams.flatMap((s: any) => Object.values(s.committedOffsets) as number[]).reduce((a: number, b: number) => a + b, 0);
    expect(committed).toBe(FIRST);

    const run = startCli(['run', spec, ...metricsArgs]);
    const port = await metricsPort(run.child);
    let last: Sample[] = [];
    for (let t = 0; t < 600; t++) {
      last = await scrape(port);
      if (sum(last, 'pipeline_records_consumed_total') >= SECOND && sum(last, 'pipeline_lag_records') === 0) break;
      await sleep(100);
    }
    expect(sum(last, 'pipeline_records_consumed_total')).toBe(SECOND);
    expect(sum(last, 'pipeline_records_dead_lettered_total')).toBe(deadLetters);
    expect(sum(last, 'pipeline_lag_records')).toBe(0);
    expect(sum(last, 'pipeline_batch_duration_seconds_count')).toBe(sum(last, 'pipeline_batches_committed_total'));
    expect(sum(last, 'pipeline_end_to_end_latency_seconds_count')).toBe(SECOND);
    expect((await get(port, '/healthz')).status).toBe(200);
    expect((await get(port, '/readyz')).status).toBe(200);

    const live = await status();
    expect(live.code).toBe(0);
    expect(live.json.totalLag).toBe(0);
    expect(live.json.streams.every((s: any) => s.running === true)).toBe(true);

    // pipeline top follows it from the checkpoint and from the metrics endpoint alike.
    for (const source of [[], ['--metrics-url', `http://127.0.0.1:${port}/metrics`]]) {
      const top = await runCli(['top', spec, '--frames', '2', '--interval', '0.3', ...source]);
      expect(top.code, top.stderr).toBe(0);
      const frame = top.stdout.trim().split('\n\n').at(-1)!.split('\n');
      expect(frame.filter((l) => /^stream [01] +\d+\/s +lag +0 +last batch \d+s ago$/.test(l))).toHaveLength(2);
      expect(frame.at(-1)).toMatch(/^total +\d+\/s +lag +0$/);
    }

    run.child.kill('SIGTERM');
    expect((await run.done).code).toBe(0);
    const after = await status();
    expect(after.code).toBe(0);
    expect(after.json.streams.every((s: any) => s.running === false)).toBe(true);
    expect(after.json.totalLag).toBe(0);
  }, E2E_TIMEOUT);

  const chromium = findChromium();
  // CI installs chromium (.ci/run); elsewhere the test needs it on PATH.
  it.skipIf(!chromium && !process.env.CI)('pipeline report renders both runs as a page whose charts draw in a browser', async () => {
    const out = join(dir, 'report.html');
    const r = await runCli(['report', spec, '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`${FIRST + SECOND} records, 2 runs`));
    const html = readFileSync(out, 'utf8');
    expect(html).not.toMatch(/<script|https?:\/\//); // self-contained: nothing runs, nothing is fetched
    expect(html).toMatch(/<td>orders<\/td><td>[\d,]+<\/td>/);

    // Measure what the browser drew: the probe writes each chart's drawn line lengths into the DOM.
    const probe = `<script>document.addEventListener('DOMContentLoaded',()=>{const r=[...document.querySelectorAll('figure')].map(f=>({title:f.querySelector('figcaption').textContent,lines:[...f.querySelectorAll('polyline')].map(p=>Math.round(p.getTotalLength())),width:f.querySelector('svg')?.getBoundingClientRect().width??0}));const pre=document.createElement('pre');pre.id='probe';pre.textContent=JSON.stringify(r);document.body.append(pre)})</script>`;
    const probed = join(dir, 'probed.html');
    writeFileSync(probed, html.replace('</body>', `${probe}</body>`));
    const dom = execFileSync(chromium!, ['--headless', '--no-sandbox', '--disable-gpu', '--dump-dom', `file://${probed}`], { encoding: 'utf8', timeout: 60_000, stdio: ['ignore', 'pipe', 'ignore'] });
    const charts = JSON.parse(/<pre id="probe">(.*?)<\/pre>/s.exec(dom)![1]!.replace(/&quot;/g, '"').replace(/&amp;/g, '&')) as { title: string; lines: number[]; width: number }[];
    for (const title of ['Throughput', 'Lag', 'End-to-end latency', 'Dead letters', 'Batch phases']) {
      const chart = charts.find((c) => c.title.startsWith(title));
      expect(chart, title).toBeDefined();
      expect(chart!.width, title).toBeGreaterThan(500);
      expect(Math.max(...chart!.lines), title).toBeGreaterThan(100);
    }
  }, E2E_TIMEOUT);

  it('a restart after a crash says at info level why it waits: lock takeover and group join', async () => {
    await produce(broker, dir, 'obs', [...generateEvents({ count: 3_000, seed: 33 })], 'third');
    await broker.rtt(1, 15);
    const crashed = startCli(['run', spec, '--log-level', 'info']);
    await new Promise<void>((resolve) => crashed.child.stderr!.on('data', (d: Buffer) => d.includes('"msg":"batch committed"') && resolve()));
    crashed.child.kill('SIGKILL');
    await crashed.done;
    await broker.rtt(1, 0);
    const restart = await runCli(['run', spec, '--available-now', '--log-level', 'info']);
    expect(restart.code, restart.stderr.slice(-2000)).toBe(0);
    const messages = restart.stderr.split('\n').filter(Boolean).map((l) => JSON.parse(l)).filter((l) => l.level === 30).map((l) => l.msg as string);
    expect(messages.filter((m) => m.startsWith('taking over the lock'))).toHaveLength(2);
    expect(messages.filter((m) => m.startsWith('joining consumer group'))).toHaveLength(2);
    expect(messages.filter((m) => m === 'joined consumer group')).toHaveLength(2);
    const final = await status();
    expect(final.json.totalLag).toBe(0);
  }, E2E_TIMEOUT);
});
