/**
 * Retries for object-store requests: 5xx answers, throttling, timeouts and refused or reset
 * connections are retried with capped exponential backoff and jitter until a deadline; a
 * refused credential or a missing bucket ends at once in one coded error. Nothing here
 * ever prints a credential: messages carry the service's error name, status and location.
 */
import { LakeError } from '../../errors.js';

/** One retried request, as reported to {@link watchStorageRetries} listeners. */
export interface StorageRetry {
  /** What was being done (`put s3://bucket/key`). */
  operation: string;
  attempt: number;
  delayMs: number;
  reason: string;
}

const listeners = new Set<(r: StorageRetry) => void>();
let retries = 0;

/** Calls `listener` on every retried request; returns the function that stops it. */
export function watchStorageRetries(listener: (r: StorageRetry) => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** Requests retried in this process so far. */
export function storageRetryCount(): number {
  return retries;
}

/** How long one operation keeps retrying: `PIPELINE_STORAGE_RETRY_SECONDS` (default 120 s). */
function retryDeadlineMs(): number {
  const v = Number(process.env.PIPELINE_STORAGE_RETRY_SECONDS);
  return (Number.isFinite(v) && v >= 0 ? v : 120) * 1000;
}

interface ServiceError {
  name?: string;
  code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
  $retryable?: unknown;
}

const AUTH_ERRORS = new Set(['InvalidAccessKeyId', 'SignatureDoesNotMatch', 'AccessDenied', 'InvalidToken', 'ExpiredToken', 'CredentialsProviderError']);
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EAI_AGAIN', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNABORTED']);
const RETRIABLE_NAMES = new Set(['TimeoutError', 'RequestTimeout', 'RequestTimeoutException', 'SlowDown', 'Throttling', 'ThrottlingException', 'InternalError', 'ServiceUnavailable', 'XMinioServerNotInitialized']);

/** The HTTP status of a service error, if it has one. */
export function statusOf(err: unknown): number | undefined {
  return (err as ServiceError)?.$metadata?.httpStatusCode;
}

/** Whether retrying the request can help. */
function isTransient(err: unknown): boolean {
  const e = err as ServiceError;
  const status = statusOf(err);
  if (status !== undefined && (status >= 500 || status === 429)) return true;
  if (e?.$retryable) return true;
  // The SDK may wrap a socket failure (no status): its errno or name is on the error or a cause.
  for (let c: unknown = err, depth = 0; c && depth < 8; c = (c as { cause?: unknown }).cause, depth++) {
    const { name, code } = c as ServiceError;
    if ((name && RETRIABLE_NAMES.has(name)) || (code && NETWORK_CODES.has(code))) return true;
  }
  return false;
}

/** A one-line description of a service error: name, status, first line of its message. */
function describe(err: unknown): string {
  const e = err as ServiceError;
  const status = statusOf(err);
  const name = e?.name && e.name !== 'Error' ? e.name : e?.code ?? 'error';
  const first = String(e?.message ?? err).split('\n')[0]!.slice(0, 200);
  return `${name}${status ? ` (HTTP ${status})` : ''}: ${first}`;
}

/** Turns a final failure into the coded error a user sees. */
function finalError(operation: string, err: unknown, transient: boolean): LakeError {
  if (err instanceof LakeError) return err;
  const e = err as ServiceError;
  if ((e?.name && AUTH_ERRORS.has(e.name)) || statusOf(err) === 403) {
    return new LakeError('PIPE_LAKE_STORAGE_AUTH', `${operation} was refused: ${describe(err)}`, {
      cause: err,
      hint: 'check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (or the AWS profile or role) and the bucket policy',
    });
  }
  if (e?.name === 'NoSuchBucket') {
    return new LakeError('PIPE_LAKE_STORAGE_NO_BUCKET', `${operation} failed: the bucket does not exist`, { cause: err, hint: 'create the bucket, or fix output.path' });
  }
  if (transient) {
    return new LakeError('PIPE_LAKE_STORAGE_UNAVAILABLE', `${operation} still failing after ${retryDeadlineMs() / 1000} s of retries: ${describe(err)}`, {
      cause: err,
      hint: 'check that the object store (AWS_ENDPOINT_URL) is reachable; nothing was committed half-way',
    });
  }
  return new LakeError('PIPE_LAKE_STORAGE_REQUEST', `${operation} failed: ${describe(err)}`, { cause: err });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Runs `fn` until it succeeds, fails for a reason retrying cannot fix, or the retry deadline
 * passes. `fn` receives the attempt number (0 first) and must be safe to repeat.
 */
export async function withRetry<T>(operation: string, fn: (attempt: number) => Promise<T>): Promise<T> {
  const deadline = Date.now() + retryDeadlineMs();
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (err) {
      const transient = !(err instanceof LakeError) && isTransient(err);
      const delayMs = Math.round(Math.min(5000, 100 * 2 ** attempt) * (0.5 + Math.random() / 2));
      if (!transient || Date.now() + delayMs > deadline) throw finalError(operation, err, transient);
      retries++;
      const report: StorageRetry = { operation, attempt: attempt + 1, delayMs, reason: describe(err) };
      for (const l of listeners) l(report);
      await sleep(delayMs);
    }
  }
}
