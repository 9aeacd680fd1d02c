/**
 * Runtime settings: every `PIPELINE_*` tuning variable the runner reads, resolved once (by
 * the runner, at start) into one object that travels to the stream threads with their
 * worker data. Stream threads never read the environment for these.
 *
 * Not here: `PIPELINE_FAILPOINT` (crash tests, read where the fail points are),
 * `PIPELINE_INSTANCE(S)` (resolved by the CLI, instances.ts), and the lake's own
 * `PIPELINE_STORAGE_RETRY_SECONDS` / `PIPELINE_OBJECT_CACHE` (the lake knows no runner).
 */

/** Kafka consumer tuning. */
export interface SourceTuning {
  sessionTimeoutMs: number;
  heartbeatIntervalMs: number;
  maxBytes: number;
  maxBytesPerPartition: number;
  maxWaitTimeInMs: number;
}

/** The resolved settings of one run. */
export interface RuntimeSettings {
  /** Decode threads per stream (0: decode on the stream thread). */
  decodeThreads: number;
  /** Tables of one batch committed at once. */
  tableConcurrency: number;
  /** DuckDB threads and memory limit per stream. */
  duckdbThreads: number;
  duckdbMemoryLimit: string;
  /**
   * `PIPELINE_DUCKDB_FLUSH_THRESHOLD` in bytes: while a batch whose record values take at least
   * this many bytes commits, DuckDB returns its unused memory to the OS after freeing more than
   * this at once (smaller batches run with DuckDB's default, 512 MiB).
   */
  duckdbFlushBytes: number;
  source: SourceTuning;
  /** How long an unreachable schema registry is retried before the run stops (`PIPELINE_REGISTRY_RETRY_SECONDS`, default 300). */
  registryRetryMs: number;
}

/**
 * Decode threads per stream: by default one while there are more cores than streams; once
 * streams fill the cores a thread more per stream only adds a V8 heap and context switches
 * (measured: less CPU and ~100–200 MB less RSS inline with 4 and 8 streams on 2 cores).
 */
export function decodeThreadsFromEnv(streams: number, cores: number, env: NodeJS.ProcessEnv = process.env): number {
  const fallback = streams < cores ? 1 : 0;
  const raw = env.PIPELINE_DECODE_THREADS;
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  return Number.isInteger(n) && n >= 0 ? n : fallback;
}

const BYTE_UNITS: Record<string, number> = { '': 1, b: 1, kb: 1e3, mb: 1e6, gb: 1e9, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3 };

/** Bytes of a size in DuckDB's syntax (`16MB` = 16·10^6, `16MiB` = 16·2^20); 16 MB when unset or unreadable. */
function flushBytes(raw: string | undefined): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(raw ?? '');
  const unit = m ? BYTE_UNITS[m[2]!.toLowerCase()] : undefined;
  return m && unit !== undefined ? Number(m[1]) * unit : 16e6;
}

/**
 * DuckDB's flush threshold (bytes) while a batch with `valueBytes` of record values commits:
 * the set one for a batch at least that large, DuckDB's default (undefined) for a smaller one.
 */
export function flushBytesFor(valueBytes: number, settings: Pick<RuntimeSettings, 'duckdbFlushBytes'>): number | undefined {
  return valueBytes >= settings.duckdbFlushBytes ? settings.duckdbFlushBytes : undefined;
}

/** Resolves the settings of a run of `streams` streams on `cores` cores. */
export function resolveRuntimeSettings(env: NodeJS.ProcessEnv, streams: number, cores: number): RuntimeSettings {
  const positive = (name: string, fallback: number) => {
    const value = Number(env[name]);
    return Number.isFinite(value) && value > 0 ? value : fallback;
  };
  return {
    decodeThreads: decodeThreadsFromEnv(streams, cores, env),
    tableConcurrency: Math.floor(positive('PIPELINE_TABLE_CONCURRENCY', 16)),
    // One thread per stream's DuckDB unless set: a batch's table merges already run
    // concurrently (each on its own connection), and for batch-sized statements DuckDB's
    // extra threads cost more CPU in coordination than they save.
    duckdbThreads: Math.floor(positive('PIPELINE_DUCKDB_THREADS', 1)),
    duckdbMemoryLimit: env.PIPELINE_DUCKDB_MEMORY || '2GB',
    // DuckDB's own default (512 MiB) kept ~200 MB of freed pages resident in a backfill;
    // 16MB hands them back for ~3% fewer records/s. Small commits that rewrite a file can pay
    // far more for it (+37% CPU over four concurrent 150-row upserts), so only large batches
    // get it (docs/operations/performance.md).
    duckdbFlushBytes: flushBytes(env.PIPELINE_DUCKDB_FLUSH_THRESHOLD),
    registryRetryMs: positive('PIPELINE_REGISTRY_RETRY_SECONDS', 300) * 1000,
    source: {
      sessionTimeoutMs: positive('PIPELINE_KAFKA_SESSION_TIMEOUT_MS', 10_000),
      heartbeatIntervalMs: positive('PIPELINE_KAFKA_HEARTBEAT_INTERVAL_MS', 1_000),
      // kafkajs decodes a whole fetch response into message objects at once, so the fetch size
      // is transient memory per stream: 8 MiB fetches measured ~100 MB less peak RSS than 32 MiB
      // with streams 2, at the same records/s (a record larger than these is still fetched).
      maxBytes: positive('PIPELINE_KAFKA_MAX_BYTES', 8 << 20),
      maxBytesPerPartition: positive('PIPELINE_KAFKA_MAX_BYTES_PER_PARTITION', 1 << 20),
      maxWaitTimeInMs: positive('PIPELINE_KAFKA_MAX_WAIT_MS', 200),
    },
  };
}
