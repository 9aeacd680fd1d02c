/**
 * Secret redaction for anything that prints or stores a spec (plan output, logs, commit
 * info). Secrets are `source.kafka.sasl.password` and every value interpolated from an
 * environment variable whose name looks secret (PASS, SECRET, TOKEN, KEY).
 */
import type { PipelineSpec } from './types.js';
import type { SpecPath } from './yaml-tree.js';

/** What secrets are replaced with. */
export const REDACTED = '***';

// The loader records, per loaded spec object, which paths came from secret variables.
// A WeakMap keeps that knowledge off the spec's own shape (it stays plain JSON).
const secretPathsBySpec = new WeakMap<object, SpecPath[]>();

/** Records the secret paths of a freshly loaded spec (called by the loader). */
export function registerSecretPaths(spec: PipelineSpec, paths: SpecPath[]): void {
  secretPathsBySpec.set(spec, paths);
}

const alwaysSecret: SpecPath[] = [['source', 'kafka', 'sasl', 'password']];

function redactAt(root: unknown, path: SpecPath): void {
  let cur = root as Record<string | number, unknown> | undefined;
  for (const seg of path.slice(0, -1)) {
    const next = cur?.[seg];
    if (typeof next !== 'object' || next === null) return;
    cur = next as Record<string | number, unknown>;
  }
  const last = path[path.length - 1]!;
  if (cur === undefined || !(last in cur)) return;
  // A comma-separated string normalised to a list keeps its shape: each item is redacted.
  const value = cur[last];
  cur[last] = Array.isArray(value) ? value.map(() => REDACTED) : REDACTED;
}

/**
 * Returns a deep copy of `spec` with every secret replaced by `***`. Interpolated secrets are
 * known only for the object the loader returned (a copy made elsewhere keeps
 * `sasl.password` redaction but not the interpolation record).
 */
export function redactSpec(spec: PipelineSpec): PipelineSpec {
  const copy = structuredClone(spec);
  for (const path of [...alwaysSecret, ...(secretPathsBySpec.get(spec) ?? [])]) redactAt(copy, path);
  return copy;
}
