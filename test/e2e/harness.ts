/**
 * Helpers for end-to-end runs: a spec written to a temp dir pointing at the test broker,
 * the built CLI spawned as users run it, and table contents read back through the lake.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Lake } from '../../src/lake/index.js';
import { startBroker, writeRecordFile, type TestBroker } from '../../src/dev-broker/broker.js';
import type { GeneratedEvent } from '../../src/dev-broker/events.js';
import { startKafka } from '../../src/dev-broker/kafka-broker.js';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** Per-test timeout of end-to-end tests: several CLI runs each, on a shared 2-core machine. */
export const E2E_TIMEOUT = 240_000;
export const COMMERCE_TYPES = ['orders', 'users', 'payments', 'inventory', 'products', 'shipments', 'refunds', 'reviews', 'analytics'];

export interface SpecOptions {
  name?: string;
  topic: string;
  bootstrap: string;
  streams: number;
  interval?: string;
  maxRecordsPerBatch?: number;
  startingOffsets?: 'earliest' | 'latest';
  unmatched?: 'dead_letter' | 'drop';
  failOnDataLoss?: boolean;
  /** Where tables go (default `<dir>/lake`). */
  outputPath?: string;
  /** Where checkpoints go (default `<outputPath>/_checkpoints`). */
  checkpointPath?: string;
  /** Extra YAML lines under `source.kafka:` (indented here). */
  kafkaExtra?: string[];
  description?: string;
}

/** Writes the commerce spec (9 tables, analytics appended) as `<dir>/<file>`; returns its path. */
export function writeCommerceSpec(dir: string, o: SpecOptions, file = 'spec.yaml'): string {
  const output = o.outputPath ?? join(dir, 'lake');
  const tables = COMMERCE_TYPES.map((t) => (t === 'analytics' ? `  ${t}: { mode: append }` : `  ${t}: { mergeKeys: [id], sequenceBy: seq }`)).join('\n');
  const routes = COMMERCE_TYPES.map((t) => `    ${t}: ${t}`).join('\n');
  const kafka = [...(o.failOnDataLoss === undefined ? [] : [`failOnDataLoss: ${o.failOnDataLoss}`]), ...(o.kafkaExtra ?? [])].map((l) => `    ${l}\n`).join('');
  const text = `apiVersion: pipeline/v1
name: ${o.name ?? 'e2e'}
${o.description ? `description: "${o.description}"\n` : ''}source:
  kafka:
    brokers: ["${o.bootstrap}"]
    topic: ${o.topic}
    startingOffsets: ${o.startingOffsets ?? 'earliest'}
${kafka}  format: json
streams: ${o.streams}
trigger:
  interval: ${o.interval ?? '500ms'}
  maxRecordsPerBatch: ${o.maxRecordsPerBatch ?? 2000}
routing:
  field: event_type
  routes:
${routes}
  unmatched: ${o.unmatched ?? 'dead_letter'}
tables:
${tables}
deadLetter:
  table: _dead_letter
output:
  path: ${output}
checkpoint:
  path: ${o.checkpointPath ?? join(output, '_checkpoints')}
`;
  const path = join(dir, file);
  writeFileSync(path, text);
  return path;
}

/**
 * Whether the e2e files run on Apache Kafka: `PIPELINE_E2E_BROKER=kafka`, set by the real-broker
 * suite (vitest.kafka.config.ts) for the files it shares with `npm test`. Otherwise the mock.
 */
export const E2E_ON_KAFKA = process.env.PIPELINE_E2E_BROKER === 'kafka';

/** What the broker-agnostic e2e tests need of a broker. */
export type E2eBroker = Pick<TestBroker, 'bootstrap' | 'produceFile' | 'stop'>;

/** Starts the e2e broker with `topics`: the mock, or Apache Kafka under {@link E2E_ON_KAFKA}. */
export async function startE2eBroker(topics: { name: string; partitions: number }[]): Promise<E2eBroker> {
  return E2E_ON_KAFKA ? await startKafka({ topics }) : await startBroker({ topics });
}

/** Produces events through a broker (the mock's fast path or Apache Kafka's producer); resolves with the delivered count. */
export async function produce(broker: Pick<TestBroker, 'produceFile'>, dir: string, topic: string, events: GeneratedEvent[], tag = 'batch'): Promise<number> {
  const file = join(dir, `${tag}-${Date.now()}.bin`);
  await writeRecordFile(file, events);
  return broker.produceFile(topic, file);
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Starts the built CLI (`node bin/pipeline.js …`); `done` resolves when it exits. */
export function startCli(args: string[], env: Record<string, string> = {}, timeoutMs = 120_000): { child: ChildProcess; done: Promise<CliResult> } {
  const child = spawn(process.execPath, [join(ROOT, 'bin/pipeline.js'), ...args], {
    cwd: ROOT,
    env: { ...process.env, PIPELINE_KAFKA_SESSION_TIMEOUT_MS: '6000', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const done = new Promise<CliResult>((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d) => (stdout += d));
    child.stderr!.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`pipeline ${args.join(' ')} timed out; stderr tail:\n${stderr.slice(-3000)}`));
    }, timeoutMs);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
  return { child, done };
}

/** Runs the built CLI to completion. */
export function runCli(args: string[], env: Record<string, string> = {}, timeoutMs = 120_000): Promise<CliResult> {
  return startCli(args, env, timeoutMs).done;
}

/** `pipeline run <spec> --available-now --summary-json` and the parsed summary. */
export async function runAvailableNow(spec: string, dir: string, env: Record<string, string> = {}, extra: string[] = []) {
  const summaryFile = join(dir, `summary-${Date.now()}.json`);
  const result = await runCli(['run', spec, '--available-now', '--log-level', 'warn', '--summary-json', summaryFile, ...extra], env);
  let summary: Record<string, any> | undefined;
  try {
    summary = JSON.parse(readFileSync(summaryFile, 'utf8'));
  } catch {
    summary = undefined;
  }
  return { ...result, summary };
}

/** Every row of a table (plain JS values). */
export async function readTable(path: string): Promise<Record<string, unknown>[]> {
  const lake = await Lake.create({ threads: 1 });
  try {
    if (!(await lake.exists(path))) return [];
    return await lake.scan(path);
  } finally {
    lake.close();
  }
}

/** Drops null-valued fields: a column another record introduced is null here, absent there. */
function normalize(row: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(row)) {
    if (v === null || v === undefined || k === '__source_partition' || k === '__source_offset') continue;
    out[k] = v !== null && typeof v === 'object' && !Array.isArray(v) ? normalize(v as Record<string, unknown>) : v;
  }
  return out;
}

/** Gold tables and dead-letter count of `dir/lake` (or of `output`, a bucket location), normalised for comparison with the reference. */
export async function readGold(dir: string, output = join(dir, 'lake')): Promise<{ tables: Record<string, Record<string, unknown>[]>; deadLetter: Record<string, unknown>[] }> {
  const tables: Record<string, Record<string, unknown>[]> = {};
  for (const t of COMMERCE_TYPES) {
    const rows = (await readTable(`${output}/${t}`)).map(normalize);
    tables[t] = t === 'analytics' ? sortByJson(rows) : rows.sort((a, b) => String(a.id).localeCompare(String(b.id)));
  }
  return { tables, deadLetter: await readTable(`${output}/_dead_letter`) };
}

/** Reference rows in the same normalised order as {@link readGold}. */
export function normalizeReference(tables: Record<string, { rows: Record<string, unknown>[] }>): Record<string, Record<string, unknown>[]> {
  const out: Record<string, Record<string, unknown>[]> = {};
  for (const t of COMMERCE_TYPES) {
    const rows = (tables[t]?.rows ?? []).map(normalize);
    out[t] = t === 'analytics' ? sortByJson(rows) : rows.sort((a, b) => String(a.id).localeCompare(String(b.id)));
  }
  return out;
}

function sortByJson(rows: Record<string, unknown>[]): Record<string, unknown>[] {
  return rows.map((r) => [JSON.stringify(r), r] as const).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).map(([, r]) => r);
}

/** Every `offsets/<id>` range of every stream: `{stream, batchId, partition, from, until}`. */
export function readOffsetRanges(dir: string): { stream: number; batchId: number; partition: number; from: number; until: number }[] {
  const root = join(dir, 'lake', '_checkpoints');
  const out: { stream: number; batchId: number; partition: number; from: number; until: number }[] = [];
  for (const s of readdirSync(root).filter((n) => /^\d+$/.test(n))) {
    const offsetsDir = join(root, s, 'offsets');
    if (!existsSync(offsetsDir)) continue;
    for (const f of readdirSync(offsetsDir).filter((n) => /^\d+$/.test(n))) {
      const entry = JSON.parse(readFileSync(join(offsetsDir, f), 'utf8')) as { ranges: Record<string, [number, number]> };
      for (const [p, [from, until]] of Object.entries(entry.ranges)) out.push({ stream: Number(s), batchId: Number(f), partition: Number(p), from, until });
    }
  }
  return out;
}
