/**
 * A Confluent-compatible schema registry client: `GET /schemas/ids/{id}`, cached by id
 * (a registered id never changes its schema), with basic auth or a bearer token read from
 * environment variables. Runs on the stream thread before a batch is decoded (decoders
 * are synchronous and may run on a decode thread).
 *
 * Never silent: an id the registry does not know (404) makes the records naming it fail
 * with that reason; an unreachable or failing registry (network error, 5xx, 429) is
 * retried with backoff, each failure reported, and after `retryForMs` the run stops with
 * a coded error before anything of the batch is committed (a restart replays it).
 * Authentication failures (401/403) stop at once: retrying cannot fix them.
 */
import { PipelineError } from '../errors.js';
import type { SchemaRegistrySpec } from '../spec/index.js';
import { envName, field, objectOf } from './schema-builder.js';

/** `source.schema.registry`, read by the decoders that take a registry (avro, protobuf). */
export const registryField = objectOf<SchemaRegistrySpec>(
  {
    description: 'A Confluent-compatible schema registry (avro, protobuf): schemas are fetched by the id in each value\'s header (cached by id). Credentials are read from environment variables named here.',
    examples: [{ url: 'http://schema-registry:8081', basicAuthEnv: 'SCHEMA_REGISTRY_AUTH' }],
  },
  {
    url: field({ description: 'Base URL of the registry; each schema id is fetched once per process (`GET /schemas/ids/{id}`). Use it or `schema.file`, not both.', examples: ['http://schema-registry:8081'] }, { type: 'string', pattern: '^(https?://|\\$\\{)' }),
    basicAuthEnv: field({ description: 'Name of the environment variable holding `user:password` for basic auth. Never write credentials in the URL (PIPE0060).', examples: ['SCHEMA_REGISTRY_AUTH'] }, envName),
    bearerTokenEnv: field({ description: 'Name of the environment variable holding a bearer token.', examples: ['SCHEMA_REGISTRY_TOKEN'] }, envName),
  },
  ['url'],
);

/** Where the registry is and how to authenticate (names of environment variables, not secrets). */
export interface RegistryConfig {
  url: string;
  /** Variable holding `user:password` for basic auth (Confluent's `basic.auth.user.info`). */
  basicAuthEnv?: string;
  /** Variable holding a bearer token. */
  bearerTokenEnv?: string;
}

/** A registered schema, or why the registry has none under that id. */
export type RegistrySchema = { schema: string; schemaType: string } | { missing: string };

/** What `fetchSchemas` needs besides the ids. */
export interface FetchOptions {
  retryForMs: number;
  warn(message: string, fields?: Record<string, unknown>): void;
  /** First backoff delay (doubles up to 30 s). */
  initialDelayMs?: number;
}

const MAX_DELAY_MS = 30_000;
/** Answers by `url#id`; in flight too, so batches prepared concurrently ask once. */
const cache = new Map<string, Promise<RegistrySchema>>();

/** The `Authorization` header value for `config`, if it asks for one. */
function authorization(config: RegistryConfig, env: NodeJS.ProcessEnv): string | undefined {
  const need = (name: string) => {
    const value = env[name];
    if (value === undefined || value === '') {
      throw new PipelineError('PIPE_RUN_REGISTRY_AUTH', `environment variable ${name} (schema registry credentials) is not set`, { hint: 'set it before `pipeline run`' });
    }
    return value;
  };
  if (config.bearerTokenEnv) return `Bearer ${need(config.bearerTokenEnv)}`;
  if (config.basicAuthEnv) return `Basic ${Buffer.from(need(config.basicAuthEnv)).toString('base64')}`;
  return undefined;
}

class Retriable extends Error {}

/** One GET of `/schemas/ids/{id}`; throws Retriable for what a retry may fix. */
async function fetchOnce(config: RegistryConfig, id: number, auth: string | undefined): Promise<RegistrySchema> {
  const url = `${config.url.replace(/\/+$/, '')}/schemas/ids/${id}`;
  let res: Response;
  try {
    res = await fetch(url, { headers: { Accept: 'application/vnd.schemaregistry.v1+json, application/json', ...(auth ? { Authorization: auth } : {}) }, signal: AbortSignal.timeout(10_000) });
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    throw new Retriable(cause?.code ?? cause?.message ?? (err as Error).message);
  }
  const text = await res.text();
  if (res.status === 404) return { missing: `unknown schema id ${id} (the schema registry has no such schema)` };
  if (res.status === 401 || res.status === 403) {
    throw new PipelineError('PIPE_RUN_REGISTRY_AUTH', `schema registry ${config.url} refused the credentials (HTTP ${res.status})`, { hint: 'check source.schema.registry.basicAuthEnv / bearerTokenEnv and the variable they name' });
  }
  if (res.status >= 500 || res.status === 429) throw new Retriable(`HTTP ${res.status}`);
  if (res.status !== 200) throw new PipelineError('PIPE_RUN_REGISTRY', `schema registry ${config.url} answered HTTP ${res.status} for schema id ${id}: ${text.slice(0, 200)}`);
  let body: { schema?: unknown; schemaType?: unknown };
  try {
    body = JSON.parse(text) as typeof body;
  } catch {
    throw new PipelineError('PIPE_RUN_REGISTRY', `schema registry ${config.url} answered schema id ${id} with text that is not JSON`);
  }
  if (typeof body.schema !== 'string') throw new PipelineError('PIPE_RUN_REGISTRY', `schema registry ${config.url} answered schema id ${id} without a schema`);
  return { schema: body.schema, schemaType: typeof body.schemaType === 'string' ? body.schemaType : 'AVRO' };
}

/**
 * The schemas of `ids` (from the cache, else from the registry; see the module comment for
 * what happens when it fails).
 */
export async function fetchSchemas(config: RegistryConfig, ids: number[], opts: FetchOptions, env: NodeJS.ProcessEnv = process.env): Promise<Record<number, RegistrySchema>> {
  const out: Record<number, RegistrySchema> = {};
  const auth = ids.some((id) => !cache.has(`${config.url}#${id}`)) ? authorization(config, env) : undefined;
  for (const id of ids) {
    const key = `${config.url}#${id}`;
    let hit = cache.get(key);
    if (!hit) {
      hit = withRetry(() => fetchOnce(config, id, auth), config, id, opts);
      cache.set(key, hit);
      // Failures are not cached, nor is a missing id: it may be registered later, and the next batch asks again.
      hit.then((found) => 'missing' in found && cache.delete(key), () => cache.delete(key));
    }
    out[id] = await hit;
  }
  return out;
}

async function withRetry<T>(attempt: () => Promise<T>, config: RegistryConfig, id: number, opts: FetchOptions): Promise<T> {
  const started = Date.now();
  let delay = opts.initialDelayMs ?? 500;
  for (let tries = 1; ; tries++) {
    try {
      return await attempt();
    } catch (err) {
      if (!(err instanceof Retriable)) throw err;
      const waited = Date.now() - started;
      if (waited >= opts.retryForMs) {
        throw new PipelineError('PIPE_RUN_REGISTRY_UNAVAILABLE', `schema registry ${config.url} unreachable for ${Math.round(waited / 1000)}s (${tries} attempts, last: ${err.message}) while fetching schema id ${id}`, {
          hint: 'nothing of the batch was committed; restart once the registry is up and the batch is replayed',
        });
      }
      opts.warn('schema registry unreachable; retrying', { url: config.url, schemaId: id, attempt: tries, error: err.message, retryInMs: delay });
      await new Promise((r) => setTimeout(r, Math.min(delay, Math.max(0, opts.retryForMs - waited))));
      delay = Math.min(delay * 2, MAX_DELAY_MS);
    }
  }
}
