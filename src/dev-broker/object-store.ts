/**
 * A real S3-compatible server for tests and benchmarks: MinIO, built from its Go module into
 * the ignored `.cache/bin` on first use (see {@link ensureMinio}), started on a free loopback
 * port with a temp data folder and random credentials, stopped and restarted on demand.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { CreateBucketCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { repoRoot } from './build.js';

// The SDK's warning about Node versions it will drop later is noise in test and bench output.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

/** The MinIO module version tests run: it builds with Go 1.26 and honours `If-None-Match: *` on PutObject. */
export const MINIO_MODULE = 'github.com/minio/minio@v0.0.0-20260212201848-7aac2a2c5b7c';
/** Where the built server is kept (git-ignored). */
export const MINIO_BIN = path.join(repoRoot(), '.cache', 'bin', 'minio');

/** Builds the server with the Go toolchain when it is not cached yet (about 5 minutes on two cores). */
export function ensureMinio(): string {
  if (fs.existsSync(MINIO_BIN)) return MINIO_BIN;
  process.stderr.write(`building MinIO (${MINIO_MODULE}) into ${path.dirname(MINIO_BIN)}\n`);
  execFileSync('go', ['install', MINIO_MODULE], {
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, GOBIN: path.dirname(MINIO_BIN), GOFLAGS: '-buildvcs=false' },
  });
  return MINIO_BIN;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

/** A running server. */
export interface Minio {
  endpoint: string;
  accessKey: string;
  secretKey: string;
  /** The environment a process needs to reach the server with the SDK's default chain. */
  env: Record<string, string>;
  /** A client for checks the lake does not make (listing the bucket). */
  client: S3Client;
  /** Stops the server (SIGTERM, then SIGKILL); the data folder stays. */
  stop(): Promise<void>;
  /** Starts it again on the same port and data folder. */
  restart(): Promise<void>;
  /** Stops it and deletes the data folder. */
  dispose(): Promise<void>;
  /** Keys under `prefix` in `bucket`. */
  keys(bucket: string, prefix?: string): Promise<string[]>;
}

/** Starts a server and creates `buckets`. */
export async function startMinio(buckets: string[] = ['lake']): Promise<Minio> {
  const bin = ensureMinio();
  const port = await freePort();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'minio-data-'));
  const accessKey = 'pipeline-test';
  const secretKey = randomBytes(18).toString('base64url');
  const endpoint = `http://127.0.0.1:${port}`;
  let proc: ChildProcess | undefined;
  let log = '';

  const start = async () => {
    const consolePort = await freePort();
    proc = spawn(bin, ['server', dataDir, '--address', `127.0.0.1:${port}`, '--console-address', `127.0.0.1:${consolePort}`, '--quiet'], {
      env: { ...process.env, MINIO_ROOT_USER: accessKey, MINIO_ROOT_PASSWORD: secretKey, MINIO_BROWSER: 'off', MINIO_UPDATE: 'off' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    proc.stdout!.on('data', (d) => (log += d));
    proc.stderr!.on('data', (d) => (log += d));
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      if (proc.exitCode !== null) throw new Error(`minio exited with ${proc.exitCode}: ${log}`);
      const ready = await fetch(`${endpoint}/minio/health/ready`).then((r) => r.ok, () => false);
      if (ready) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`minio did not become ready on ${endpoint}: ${log}`);
  };

  const stop = async () => {
    const p = proc;
    if (!p || p.exitCode !== null) return;
    const exited = new Promise<void>((r) => p.once('exit', () => r()));
    p.kill('SIGTERM');
    const timer = setTimeout(() => p.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  };

  await start();
  const env = { AWS_ENDPOINT_URL: endpoint, AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: accessKey, AWS_SECRET_ACCESS_KEY: secretKey };
  const client = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: accessKey, secretAccessKey: secretKey } });
  for (const b of buckets) await client.send(new CreateBucketCommand({ Bucket: b }));
  return {
    endpoint,
    accessKey,
    secretKey,
    env,
    client,
    stop,
    restart: start,
    dispose: async () => {
      await stop();
      client.destroy();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
    keys: async (bucket, prefix = '') => {
      const out: string[] = [];
      let token: string | undefined;
      do {
        const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
        for (const o of page.Contents ?? []) out.push(o.Key!);
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
      return out.sort();
    },
  };
}

/** Points this process's S3 client at `m` (read once, when the lake first talks to a bucket). */
export function useMinio(m: Minio): void {
  Object.assign(process.env, m.env, { PIPELINE_OBJECT_CACHE: fs.mkdtempSync(path.join(os.tmpdir(), 'object-cache-')) });
}
