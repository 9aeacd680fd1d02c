#!/usr/bin/env node
// Fetches the Kubernetes API's OpenAPI document (api/openapi-spec/swagger.json of the
// k8s.io/kubernetes Go module, served by the Go module proxy) into
// .cache/kubernetes-openapi/, where test/deploy/kubernetes-schema.test.ts validates the
// manifests in deploy/kubernetes/ against it. Idempotent; only the one file is kept.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { inflateRawSync } from 'node:zlib';

export const KUBERNETES_VERSION = 'v1.34.1';
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const target = join(root, '.cache', 'kubernetes-openapi', `swagger-${KUBERNETES_VERSION}.json`);
const entry = `k8s.io/kubernetes@${KUBERNETES_VERSION}/api/openapi-spec/swagger.json`;
const proxy = process.env.GOPROXY?.split(',').find((p) => p.startsWith('http')) ?? 'https://proxy.golang.org';

/** The bytes of one entry of a zip archive (stored or deflated), found via the central directory. */
function extract(zip, name) {
  let end = zip.length - 22;
  while (end >= 0 && zip.readUInt32LE(end) !== 0x06054b50) end--;
  if (end < 0) throw new Error('not a zip archive');
  const count = zip.readUInt16LE(end + 10);
  let at = zip.readUInt32LE(end + 16);
  for (let i = 0; i < count; i++) {
    const method = zip.readUInt16LE(at + 10);
    const size = zip.readUInt32LE(at + 20);
    const nameLength = zip.readUInt16LE(at + 28);
    const extraLength = zip.readUInt16LE(at + 30);
    const commentLength = zip.readUInt16LE(at + 32);
    const local = zip.readUInt32LE(at + 42);
    if (zip.toString('utf8', at + 46, at + 46 + nameLength) === name) {
      const start = local + 30 + zip.readUInt16LE(local + 26) + zip.readUInt16LE(local + 28);
      const data = zip.subarray(start, start + size);
      return method === 0 ? data : inflateRawSync(data);
    }
    at += 46 + nameLength + extraLength + commentLength;
  }
  throw new Error(`${name} is not in the archive`);
}

if (existsSync(target)) process.exit(0);
const url = `${proxy.replace(/\/$/, '')}/k8s.io/kubernetes/@v/${KUBERNETES_VERSION}.zip`;
console.error(`fetch-kubernetes-openapi: ${url}`);
const response = await fetch(url);
if (!response.ok) {
  console.error(`fetch-kubernetes-openapi: ${response.status} ${response.statusText}`);
  process.exit(1);
}
const json = extract(Buffer.from(await response.arrayBuffer()), entry);
JSON.parse(json.toString('utf8'));
mkdirSync(dirname(target), { recursive: true });
writeFileSync(target, json);
console.error(`fetch-kubernetes-openapi: wrote ${target} (${json.length} bytes)`);
