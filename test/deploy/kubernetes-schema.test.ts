/**
 * The manifests in `deploy/kubernetes/` against the Kubernetes API's own OpenAPI document
 * (fetched by `node scripts/fetch-kubernetes-openapi.mjs` into `.cache/`; `.ci/run` fetches
 * it): each built-in object validates against its definition, strictly — an unknown field is
 * an error, as with `kubeconform -strict` — so a typo is caught here rather than silently
 * dropped by the API server. The ServiceMonitor is a CRD the document does not hold; its
 * fields are checked in kubernetes.test.ts. Without the document (a developer machine
 * offline) the test is skipped; in CI it is required.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');
const cache = join(root, '.cache', 'kubernetes-openapi');
const documentFile = existsSync(cache) ? readdirSync(cache).find((f) => /^swagger-v[\d.]+\.json$/.test(f)) : undefined;
const manifests = join(root, 'deploy', 'kubernetes');
type Schema = Record<string, any>;

/**
 * Swagger 2 definitions as JSON Schema: int-or-string may be either, and every object with
 * declared properties admits no others.
 */
function strictDefinitions(definitions: Record<string, Schema>): Record<string, Schema> {
  const fix = (s: Schema): Schema => {
    if (s.format === 'int-or-string') return { anyOf: [{ type: 'string' }, { type: 'integer' }] };
    const out: Schema = { ...s };
    if (out.properties) {
      out.properties = Object.fromEntries(Object.entries(out.properties as Record<string, Schema>).map(([k, v]) => [k, fix(v)]));
      out.additionalProperties ??= false;
    }
    if (out.items) out.items = fix(out.items);
    if (typeof out.additionalProperties === 'object') out.additionalProperties = fix(out.additionalProperties);
    if (typeof out.$ref === 'string') return { $ref: out.$ref };
    return out;
  };
  return Object.fromEntries(Object.entries(definitions).map(([name, s]) => [name, fix(s)]));
}

describe.skipIf(!documentFile && process.env.CI !== 'true')('deploy/kubernetes against the Kubernetes OpenAPI document', () => {
  it('validates every built-in object strictly', () => {
    expect(documentFile, 'run node scripts/fetch-kubernetes-openapi.mjs').toBeDefined();
    const openapi = JSON.parse(readFileSync(join(cache, documentFile!), 'utf8')) as { definitions: Record<string, Schema> };
    const byKind = new Map<string, string>();
    for (const [name, s] of Object.entries(openapi.definitions)) {
      for (const gvk of (s['x-kubernetes-group-version-kind'] ?? []) as { group: string; version: string; kind: string }[]) {
        byKind.set(`${gvk.group ? `${gvk.group}/` : ''}${gvk.version} ${gvk.kind}`, name);
      }
    }
    const ajv = new Ajv({ strict: false, validateFormats: false, allErrors: true });
    ajv.addSchema({ $id: 'k8s', definitions: strictDefinitions(openapi.definitions) });
    const checked: string[] = [];
    const problems: string[] = [];
    for (const file of readdirSync(manifests).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml')) {
      for (const doc of parseAllDocuments(readFileSync(join(manifests, file), 'utf8'))) {
        const obj = doc.toJS() as Schema;
        const definition = byKind.get(`${obj.apiVersion} ${obj.kind}`);
        if (!definition) {
          if (obj.apiVersion !== 'monitoring.coreos.com/v1') problems.push(`${file}: ${obj.apiVersion} ${obj.kind} is not in the Kubernetes API`);
          continue;
        }
        const validate = ajv.compile<unknown>({ $ref: `k8s#/definitions/${definition}` });
        const kind = String(obj.kind);
        if (!validate(obj)) problems.push(...validate.errors!.map((e) => `${file}: ${kind}${e.instancePath} ${e.message} ${JSON.stringify(e.params)}`));
        checked.push(kind);
      }
    }
    expect(problems).toEqual([]);
    expect(checked.sort()).toEqual(['ConfigMap', 'PersistentVolumeClaim', 'PodDisruptionBudget', 'Service', 'StatefulSet']);
  });
});
