/**
 * `pipeline top`: the live block of `pipeline run` for a pipeline running elsewhere. Two
 * sources: its checkpoint and the broker (what `pipeline status` reads; needs the checkpoint's
 * filesystem), or its `/metrics` endpoint (needs only the network). Either way a frame is
 * per stream: committed progress, its rate since the last frame, lag and last batch.
 */
import type { Admin } from 'kafkajs';
import type { Plan } from './plan.js';
import { readTopicOffsets } from './kafka-client.js';
import { parsePrometheus, sumSamples } from './prometheus-text.js';
import { buildStatus } from './status.js';
import { kafkaSource, sourceName } from '../spec/index.js';

/** One stream in a reading. `progress` only grows: committed offsets or consumed records. */
export interface TopStream {
  stream: number;
  progress: number;
  lag: number;
  lastBatchAtMs?: number;
}

/** Where readings come from. */
export interface TopSource {
  describe: string;
  read(): Promise<TopStream[]>;
  close(): Promise<void>;
}

/** Readings from the checkpoint and the broker's end offsets. */
export function checkpointSource(plan: Plan, admin: Admin): TopSource {
  return {
    describe: `checkpoint ${plan.checkpointPath} and topic ${sourceName(plan.source)}`,
    async read() {
      const status = buildStatus(plan, await readTopicOffsets(admin, kafkaSource(plan.source, 'pipeline top', plan.pipeline).topic));
      return status.streams.map((s) => ({
        stream: s.stream,
        progress: Object.values(s.committedOffsets).reduce((a, b) => a + b, 0),
        lag: s.lag,
        lastBatchAtMs: s.lastBatchAt ? Date.parse(s.lastBatchAt) : undefined,
      }));
    },
    close: () => admin.disconnect(),
  };
}

/** Readings scraped from a run's `/metrics`. */
export function metricsSource(url: string): TopSource {
  return {
    describe: url,
    async read() {
      const res = await fetch(url, { signal: AbortSignal.timeout(5_000) });
      if (!res.ok) throw new Error(`${url} answered ${res.status}`);
      const samples = parsePrometheus(await res.text());
      const streams = [...new Set(samples.filter((s) => s.name === 'pipeline_stream_lag_records').map((s) => s.labels.stream!))].sort((a, b) => Number(a) - Number(b));
      return streams.map((stream) => {
        const last = sumSamples(samples, 'pipeline_last_batch_timestamp_seconds', { stream });
        return {
          stream: Number(stream),
          progress: sumSamples(samples, 'pipeline_records_consumed_total', { stream }),
          lag: sumSamples(samples, 'pipeline_stream_lag_records', { stream }),
          lastBatchAtMs: last > 0 ? last * 1000 : undefined,
        };
      });
    },
    close: async () => {},
  };
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

/** The frame's lines: one per stream and a total, rates from the previous reading. */
export function renderTop(title: string, now: TopStream[], before: TopStream[] | undefined, seconds: number, atMs = Date.now()): string[] {
  const prev = new Map((before ?? []).map((s) => [s.stream, s.progress]));
  let totalRate = 0;
  let totalLag = 0;
  const lines = [title];
  for (const s of now) {
    const rate = before ? Math.max(0, (s.progress - (prev.get(s.stream) ?? s.progress)) / seconds) : 0;
    totalRate += rate;
    totalLag += s.lag;
    const last = s.lastBatchAtMs ? `last batch ${fmt((atMs - s.lastBatchAtMs) / 1000)}s ago` : 'no batch yet';
    lines.push(`stream ${String(s.stream).padEnd(3)} ${fmt(rate).padStart(9)}/s  lag ${fmt(s.lag).padStart(11)}  ${last}`);
  }
  lines.push(`total      ${fmt(totalRate).padStart(9)}/s  lag ${fmt(totalLag).padStart(11)}`);
  return lines;
}
