/**
 * Tables in an S3-compatible bucket (AWS S3, MinIO, R2, …) through the AWS SDK v3.
 *
 * Credentials come from the SDK's default chain (environment, shared config and
 * credentials files, SSO, container or instance role) and are never read or printed here.
 * The endpoint comes from `AWS_ENDPOINT_URL_S3` / `AWS_ENDPOINT_URL` (read by the SDK),
 * the region from `AWS_REGION` (default `us-east-1`), and path-style addressing from
 * `AWS_S3_FORCE_PATH_STYLE` (default: on when a custom endpoint is set).
 *
 * Put-if-absent is `PutObject` with `If-None-Match: *`: the store itself refuses the second
 * writer of a version (412), the mechanism delta-rs and Spark use on S3. A store that
 * ignores the header would let two writers both win, so each bucket is probed once per
 * process and refused if it does not honour it.
 *
 * DuckDB reads and writes local files: data files are written into a local cache folder
 * and uploaded (multipart above 16 MiB); files read are downloaded into the same cache,
 * keyed by bucket and key. Data files are never modified once written, so a cached copy is
 * never stale.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import type { S3Client } from '@aws-sdk/client-s3';
import { LakeError } from '../../errors.js';
import type { StoredFile, TableStorage } from './index.js';
import { parseS3Url } from './location.js';
import { statusOf, withRetry } from './retry.js';

/** Files uploaded in one request below this size; multipart above it. */
const PART_SIZE = 16 * 1024 * 1024;
/** Transfers running at once per call. */
const PARALLEL = 8;

/** The local cache folder: `PIPELINE_OBJECT_CACHE`, or `pipeline-object-cache` in the temp folder. */
export function objectCacheDir(): string {
  return process.env.PIPELINE_OBJECT_CACHE ?? path.join(os.tmpdir(), 'pipeline-object-cache');
}

/** The SDK, loaded on first use: it costs a noticeable part of a second, and local tables never need it. */
interface Sdk {
  s3: typeof import('@aws-sdk/client-s3');
  Upload: typeof import('@aws-sdk/lib-storage').Upload;
  /** One client per process: the SDK pools connections per client. */
  client: S3Client;
}

let loaded: Promise<Sdk> | undefined;

function sdk(): Promise<Sdk> {
  loaded ??= (async () => {
    // The SDK warns on stderr about Node versions it will drop in future releases; a CLI whose
    // failures are one line each must not print it on every run.
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
    const [s3, storage] = await Promise.all([import('@aws-sdk/client-s3'), import('@aws-sdk/lib-storage')]);
    const endpoint = process.env.AWS_ENDPOINT_URL_S3 ?? process.env.AWS_ENDPOINT_URL;
    const pathStyle = process.env.AWS_S3_FORCE_PATH_STYLE;
    const client = new s3.S3Client({
      region: process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1',
      forcePathStyle: pathStyle === undefined ? endpoint !== undefined : /^(1|true|yes)$/i.test(pathStyle),
      // Retries are ours (withRetry): they outlast a restarting server and are counted.
      maxAttempts: 1,
      requestHandler: { connectionTimeout: 5000, requestTimeout: 60_000 },
    });
    return { s3, Upload: storage.Upload, client };
  })();
  return loaded;
}

const isNotFound = (err: unknown) => statusOf(err) === 404 || (err as Error)?.name === 'NoSuchKey' || (err as Error)?.name === 'NotFound';
/** 412: the key exists. 409: another conditional write of the key is in flight; one of them wins. */
const isPreconditionFailed = (err: unknown) => statusOf(err) === 412 || statusOf(err) === 409;

/** Buckets whose conditional writes were checked, by name. */
const probedBuckets = new Map<string, Promise<void>>();

/** A table under `s3://bucket/prefix`. */
export class S3Storage implements TableStorage {
  private readonly bucket: string;
  private readonly prefix: string;

  constructor(readonly root: string) {
    const loc = parseS3Url(root);
    this.bucket = loc.bucket;
    this.prefix = loc.prefix;
  }

  private key(rel: string): string {
    return this.prefix === '' ? rel : rel === '' ? this.prefix : `${this.prefix}/${rel}`;
  }

  private url(rel: string): string {
    return `s3://${this.bucket}/${this.key(rel)}`;
  }

  localPath(rel: string): string {
    return path.join(objectCacheDir(), this.bucket, ...this.key(rel).split('/'));
  }

  async read(rel: string): Promise<Buffer | undefined> {
    return withRetry(`read ${this.url(rel)}`, async () => {
      try {
        const { s3, client } = await sdk();
        const out = await client.send(new s3.GetObjectCommand({ Bucket: this.bucket, Key: this.key(rel) }));
        return Buffer.from(await out.Body!.transformToByteArray());
      } catch (err) {
        if (isNotFound(err)) return undefined;
        throw err;
      }
    });
  }

  async exists(rel: string): Promise<boolean> {
    return withRetry(`stat ${this.url(rel)}`, async () => {
      try {
        const { s3, client } = await sdk();
        await client.send(new s3.HeadObjectCommand({ Bucket: this.bucket, Key: this.key(rel) }));
        return true;
      } catch (err) {
        if (isNotFound(err)) return false;
        throw err;
      }
    });
  }

  async list(rel: string): Promise<string[]> {
    const dir = rel === '' ? this.key('') : this.key(rel);
    const files = await this.listKeys(dir === '' ? '' : `${dir}/`, true);
    return files.map((f) => f.path);
  }

  async listAll(): Promise<StoredFile[]> {
    const root = this.key('');
    return this.listKeys(root === '' ? '' : `${root}/`, false);
  }

  /** Keys under `prefix` (only direct children when `shallow`), relative to it. */
  private async listKeys(prefix: string, shallow: boolean): Promise<StoredFile[]> {
    const out: StoredFile[] = [];
    let token: string | undefined;
    do {
      const { s3, client } = await sdk();
      const page = await withRetry(`list s3://${this.bucket}/${prefix}`, () =>
        client.send(new s3.ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token, ...(shallow ? { Delimiter: '/' } : {}) })),
      );
      for (const o of page.Contents ?? []) {
        if (!o.Key || o.Key.endsWith('/')) continue;
        out.push({ path: o.Key.slice(prefix.length), size: Number(o.Size ?? 0), mtimeMs: o.LastModified?.getTime() ?? 0 });
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return out;
  }

  async putIfAbsent(rel: string, body: string): Promise<boolean> {
    await this.checkConditionalWrites();
    return withRetry(`commit ${this.url(rel)}`, async (attempt) => {
      try {
        const { s3, client } = await sdk();
        await client.send(new s3.PutObjectCommand({ Bucket: this.bucket, Key: this.key(rel), Body: body, IfNoneMatch: '*', ContentType: 'application/json' }));
        return true;
      } catch (err) {
        if (!isPreconditionFailed(err)) throw err;
        // An earlier attempt that timed out may have been stored after all: then the file
        // holds exactly our bytes (commits name fresh data files), and the version is ours.
        if (attempt > 0 && (await this.read(rel))?.toString('utf8') === body) return true;
        return false;
      }
    });
  }

  /**
   * Writes a probe key twice with `If-None-Match: *`; a store that accepts the second write
   * would let two writers both commit a version, so it is refused.
   */
  private checkConditionalWrites(): Promise<void> {
    let probe = probedBuckets.get(this.bucket);
    if (!probe) {
      probe = (async () => {
        const rel = `_delta_log/.conditional-write-probe-${randomUUID()}`;
        const { s3, client } = await sdk();
        const put = () => client.send(new s3.PutObjectCommand({ Bucket: this.bucket, Key: this.key(rel), Body: 'probe', IfNoneMatch: '*' }));
        await withRetry(`probe ${this.url(rel)}`, put);
        const second = await withRetry(`probe ${this.url(rel)}`, () => put().then(() => 'stored', (err: unknown) => {
          if (isPreconditionFailed(err)) return 'refused';
          throw err;
        }));
        await this.delete(rel);
        if (second === 'stored') {
          throw new LakeError('PIPE_LAKE_STORAGE_NO_CONDITIONAL_WRITES', `the object store holding s3://${this.bucket} ignores If-None-Match on PutObject, so two writers could both commit one table version`, {
            hint: 'use a store with conditional writes (AWS S3, MinIO, R2, …), or keep the tables on a local or shared file system',
          });
        }
      })();
      probedBuckets.set(this.bucket, probe);
      probe.catch(() => probedBuckets.delete(this.bucket));
    }
    return probe;
  }

  async put(rel: string, body: string): Promise<void> {
    const { s3, client } = await sdk();
    await withRetry(`write ${this.url(rel)}`, () => client.send(new s3.PutObjectCommand({ Bucket: this.bucket, Key: this.key(rel), Body: body })));
  }

  async delete(rel: string): Promise<void> {
    const { s3, client } = await sdk();
    await withRetry(`delete ${this.url(rel)}`, () => client.send(new s3.DeleteObjectCommand({ Bucket: this.bucket, Key: this.key(rel) })));
    await fsp.rm(this.localPath(rel), { force: true });
  }

  async fetch(rels: string[], opts: { refresh?: boolean } = {}): Promise<void> {
    await eachLimited(rels, async (rel) => {
      const local = this.localPath(rel);
      if (!opts.refresh && (await fsp.access(local).then(() => true, () => false))) return;
      const tmp = await this.stagingPath(rel);
      try {
        await withRetry(`read ${this.url(rel)}`, async () => {
          const { s3, client } = await sdk();
          let out;
          try {
            out = await client.send(new s3.GetObjectCommand({ Bucket: this.bucket, Key: this.key(rel) }));
          } catch (err) {
            if (isNotFound(err)) throw new LakeError('PIPE_LAKE_DATA_MISSING', `data file ${this.url(rel)} is missing`, { hint: 'the log references a file that was deleted from the bucket' });
            throw err;
          }
          await pipeline(out.Body as Readable, fs.createWriteStream(tmp));
        });
        // Complete copies only: a reader never sees a half-downloaded file.
        await fsp.rename(tmp, local);
      } finally {
        await fsp.rm(tmp, { force: true });
      }
    });
  }

  async forget(rels: string[]): Promise<void> {
    // An open reader keeps its handle; a later read of an older version downloads again.
    await Promise.all(rels.map((rel) => fsp.rm(this.localPath(rel), { force: true })));
  }

  async upload(rels: string[]): Promise<void> {
    await eachLimited(rels, (rel) => this.uploadFile(this.localPath(rel), rel));
  }

  private async uploadFile(local: string, rel: string): Promise<void> {
    const { Upload, client } = await sdk();
    await withRetry(`upload ${this.url(rel)}`, async () => {
      // A fresh stream per attempt: a failed attempt has consumed the previous one.
      const upload = new Upload({
        client,
        params: { Bucket: this.bucket, Key: this.key(rel), Body: fs.createReadStream(local) },
        partSize: PART_SIZE,
        queueSize: 4,
        leavePartsOnError: false,
      });
      await upload.done();
    });
  }

  async stagingPath(rel: string): Promise<string> {
    const local = this.localPath(rel);
    await fsp.mkdir(path.dirname(local), { recursive: true });
    return path.join(path.dirname(local), `.${path.basename(local)}.${randomUUID()}.tmp`);
  }

  async publish(staged: string, rel: string): Promise<void> {
    await this.uploadFile(staged, rel);
    await fsp.rename(staged, this.localPath(rel));
  }
}

/** Runs `fn` over `items`, at most {@link PARALLEL} at a time; fails with the first failure. */
async function eachLimited<T>(items: T[], fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(PARALLEL, items.length) }, worker));
}
