/**
 * `pipeline status`: where a pipeline stands, read without disturbing it — the checkpoint
 * files (read-only) and the broker's end offsets (ListOffsets). Works the same whether the
 * pipeline is running, stopped or crashed; `running` says whether a live process holds a
 * stream's checkpoint lock on this host.
 */
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { Plan } from './plan.js';
import { readJsonFile } from './atomic-file.js';
import { processAlive, type LockOwner } from './checkpoint-lock.js';
import { readCheckpointMetadata } from './checkpoint-layout.js';
import { readRecentEvents, type BatchEvent } from './event-log.js';
import { readStreamProgress, recentThroughput } from './checkpoint-positions.js';
import { ownedPartitions } from './kafka-assigner.js';
import type { TopicOffsets } from './kafka-client.js';
import { sourceName } from '../spec/index.js';

/** One stream's line in the status. */
export interface StreamStatus {
  stream: number;
  partitions: number[];
  /** Next offset per partition as committed (partition number as key). */
  committedOffsets: Record<string, number>;
  lag: number;
  /** ISO time of the last committed batch; null before the first. */
  lastBatchAt: string | null;
  /** The last batch's duration in ms (from the event log; else from planning it to its commit); null before the first. */
  lastBatchMs: number | null;
  recordsPerSec: number;
  /** A live process on this host holds the stream's lock (`null`: held on another host). */
  running: boolean | null;
}

/** The whole status document (`--format json`). */
export interface PipelineStatus {
  pipeline: string;
  topic: string;
  totalLag: number;
  /** No checkpoint yet: the pipeline has never run. */
  neverRun: boolean;
  streams: StreamStatus[];
  /** Limits from `alerts` that are exceeded, as sentences; empty when healthy. */
  alerts: string[];
}

function lockState(dir: string): boolean | null {
  const owner = readJsonFile<LockOwner>(join(dir, 'lock'));
  if (!owner) return false;
  if (owner.hostname !== hostname()) return null;
  return processAlive(owner.pid);
}

/** Builds the status of `plan` from its checkpoint and the topic's current offsets. */
export function buildStatus(plan: Plan, offsets: TopicOffsets, alerts: { maxLag?: number; maxLagSeconds?: number } = {}, nowMs = Date.now()): PipelineStatus {
  const root = plan.checkpointPath;
  const meta = readCheckpointMetadata(root);
  // The checkpoint's layout is what the positions mean; the spec's may have changed since.
  const streamCount = meta?.streams ?? plan.streams.length;
  const earliest = plan.source.kafka?.startingOffsets !== 'latest';
  // The event log knows how long each batch really took; the checkpoint only when it was planned.
  const logged = new Map<string, BatchEvent>();
  for (const e of readRecentEvents(root)) if (e.type === 'batch') logged.set(`${e.stream}/${e.batchId}`, e);
  const streams: StreamStatus[] = [];
  for (let i = 0; i < streamCount; i++) {
    const progress = readStreamProgress(root, i);
    const partitions = ownedPartitions(offsets.partitions, { streamIndex: i, streamCount });
    const committedOffsets: Record<string, number> = {};
    let lag = 0;
    for (const p of partitions) {
      const low = offsets.low.get(p) ?? 0;
      const end = offsets.high.get(p) ?? low;
      // A partition the checkpoint has not recorded starts where startingOffsets says.
      const position = progress.positions.get(p) ?? (earliest ? low : end);
      committedOffsets[String(p)] = position;
      lag += Math.max(0, end - Math.max(position, low));
    }
    const last = progress.recent.at(-1);
    streams.push({
      stream: i,
      partitions,
      committedOffsets,
      lag,
      lastBatchAt: last ? new Date(last.committedAtMs).toISOString() : null,
      lastBatchMs: last ? (logged.get(`${i}/${last.batchId}`)?.durationMs ?? Math.max(0, last.committedAtMs - last.plannedAtMs)) : null,
      recordsPerSec: recentThroughput(progress.recent),
      running: lockState(join(root, String(i))),
    });
  }
  const totalLag = streams.reduce((sum, s) => sum + s.lag, 0);
  const exceeded: string[] = [];
  if (alerts.maxLag !== undefined && totalLag > alerts.maxLag) exceeded.push(`lag ${totalLag} exceeds alerts.maxLag ${alerts.maxLag}`);
  if (alerts.maxLagSeconds !== undefined) {
    for (const s of streams) {
      if (s.lag === 0) continue;
      const since = s.lastBatchAt ? (nowMs - Date.parse(s.lastBatchAt)) / 1000 : Infinity;
      if (since > alerts.maxLagSeconds) {
        exceeded.push(`stream ${s.stream} has lag ${s.lag} and ${s.lastBatchAt ? `has not committed for ${Math.round(since)} s` : 'has never committed'} (alerts.maxLagSeconds ${alerts.maxLagSeconds})`);
      }
    }
  }
  return { pipeline: plan.pipeline, topic: sourceName(plan.source), totalLag, neverRun: meta === undefined, streams, alerts: exceeded };
}

/** The human rendering. */
export function formatStatus(s: PipelineStatus): string {
  const running = s.streams.some((st) => st.running === true) ? 'running' : s.neverRun ? 'never run' : 'not running';
  const lines = [`pipeline ${s.pipeline} (topic ${s.topic}): ${running}, lag ${s.totalLag}`];
  for (const st of s.streams) {
    const last = st.lastBatchAt ? `last batch ${st.lastBatchAt} (${st.lastBatchMs} ms), ${st.recordsPerSec} records/s` : 'no batch committed yet';
    lines.push(`  stream ${st.stream}: partitions [${st.partitions.join(',')}], lag ${st.lag}, ${last}`);
  }
  for (const a of s.alerts) lines.push(`  ALERT ${a}`);
  return lines.join('\n');
}
