/**
 * The Kubernetes manifests in `deploy/kubernetes/`: every file parses, every object has the
 * fields its kind needs and no field the Kubernetes API does not know (checked against the
 * API's field names for the parts used here: a typo like `resource:` would be silently
 * ignored by a lenient apply), and the objects agree with each other and with the runner —
 * selectors match labels, the StatefulSet's replicas equal PIPELINE_INSTANCES, the spec in
 * the ConfigMap validates and has at least as many streams as instances, the metrics port
 * lines up from container to Service to ServiceMonitor, and the memory request covers the
 * peak RSS the performance notes (docs/operations/performance.md) measured.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import { loadSpecText } from '../../src/spec/index.js';
import { instanceStreams, resolveInstance } from '../../src/runtime/instances.js';

const root = join(import.meta.dirname, '..', '..');
const dir = join(root, 'deploy', 'kubernetes');
type Obj = Record<string, any>;

const objects: Obj[] = readdirSync(dir)
  .filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml')
  .flatMap((f) =>
    parseAllDocuments(readFileSync(join(dir, f), 'utf8')).map((doc) => {
      expect(doc.errors, f).toEqual([]);
      return doc.toJS() as Obj;
    }),
  );
const byKind = (kind: string): Obj => {
  const found = objects.filter((o) => o.kind === kind);
  expect(found, kind).toHaveLength(1);
  return found[0]!;
};

/** Field names of the Kubernetes API objects, for the levels these manifests use. */
const KNOWN_FIELDS: Record<string, string[]> = {
  object: ['apiVersion', 'kind', 'metadata', 'spec', 'data'],
  metadata: ['name', 'namespace', 'labels', 'annotations'],
  statefulSetSpec: ['serviceName', 'replicas', 'podManagementPolicy', 'updateStrategy', 'selector', 'template', 'volumeClaimTemplates', 'minReadySeconds', 'persistentVolumeClaimRetentionPolicy', 'revisionHistoryLimit', 'ordinals'],
  podSpec: ['terminationGracePeriodSeconds', 'securityContext', 'containers', 'initContainers', 'volumes', 'serviceAccountName', 'affinity', 'tolerations', 'nodeSelector', 'topologySpreadConstraints', 'priorityClassName'],
  container: ['name', 'image', 'imagePullPolicy', 'command', 'args', 'workingDir', 'env', 'envFrom', 'ports', 'readinessProbe', 'livenessProbe', 'startupProbe', 'resources', 'securityContext', 'volumeMounts', 'lifecycle'],
  serviceSpec: ['clusterIP', 'selector', 'ports', 'type'],
  servicePort: ['name', 'port', 'targetPort', 'protocol'],
  pdbSpec: ['maxUnavailable', 'minAvailable', 'selector'],
  pvcSpec: ['accessModes', 'resources', 'storageClassName'],
  serviceMonitorSpec: ['selector', 'endpoints', 'namespaceSelector'],
  serviceMonitorEndpoint: ['port', 'path', 'interval', 'scrapeTimeout'],
};

function unknownFields(value: Obj, level: string): string[] {
  return Object.keys(value).filter((k) => !KNOWN_FIELDS[level]!.includes(k)).map((k) => `${level}.${k}`);
}

const sts = byKind('StatefulSet');
const pod = sts.spec.template.spec;
const container = pod.containers[0];
const env = Object.fromEntries((container.env as Obj[]).map((e) => [e.name, e]));
const specText: string = byKind('ConfigMap').data['spec.yaml'];
const loaded = loadSpecText(specText, 'configmap', { env: { KAFKA_BROKERS: env.KAFKA_BROKERS.value, KAFKA_TOPIC: env.KAFKA_TOPIC.value } });

describe('deploy/kubernetes', () => {
  it('holds the objects a scaled-out pipeline needs, each with a known apiVersion and only known fields', () => {
    const kinds = objects.map((o) => `${o.apiVersion} ${o.kind}`).sort();
    expect(kinds).toEqual([
      'apps/v1 StatefulSet',
      'monitoring.coreos.com/v1 ServiceMonitor',
      'policy/v1 PodDisruptionBudget',
      'v1 ConfigMap',
      'v1 PersistentVolumeClaim',
      'v1 Service',
    ]);
    const problems = objects.flatMap((o) => [...unknownFields(o, 'object'), ...unknownFields(o.metadata, 'metadata')]);
    problems.push(...unknownFields(sts.spec, 'statefulSetSpec'), ...unknownFields(pod, 'podSpec'), ...unknownFields(container, 'container'));
    problems.push(...unknownFields(byKind('Service').spec, 'serviceSpec'), ...byKind('Service').spec.ports.flatMap((p: Obj) => unknownFields(p, 'servicePort')));
    problems.push(...unknownFields(byKind('PodDisruptionBudget').spec, 'pdbSpec'), ...unknownFields(byKind('PersistentVolumeClaim').spec, 'pvcSpec'));
    problems.push(...unknownFields(byKind('ServiceMonitor').spec, 'serviceMonitorSpec'), ...byKind('ServiceMonitor').spec.endpoints.flatMap((e: Obj) => unknownFields(e, 'serviceMonitorEndpoint')));
    expect(problems).toEqual([]);
    for (const o of objects) expect(o.metadata.name, o.kind).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
    const listed = (parseAllDocuments(readFileSync(join(dir, 'kustomization.yaml'), 'utf8'))[0]!.toJS() as Obj).resources;
    expect([...listed].sort()).toEqual(readdirSync(dir).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml').sort());
  });

  it('makes the pod ordinal the instance: replicas = PIPELINE_INSTANCES, HOSTNAME = pod name', () => {
    expect(env.PIPELINE_INSTANCES.value).toBe(String(sts.spec.replicas));
    expect(env.HOSTNAME.valueFrom.fieldRef.fieldPath).toBe('metadata.name');
    for (let ordinal = 0; ordinal < sts.spec.replicas; ordinal++) {
      const podName = `${sts.metadata.name}-${ordinal}`;
      expect(resolveInstance({ env: { PIPELINE_INSTANCES: env.PIPELINE_INSTANCES.value, HOSTNAME: podName } })).toMatchObject({ index: ordinal, count: sts.spec.replicas });
    }
    expect(sts.spec.podManagementPolicy).toBe('Parallel');
    expect(sts.spec.selector.matchLabels).toEqual(sts.spec.template.metadata.labels);
    expect(sts.spec.serviceName).toBe(byKind('Service').metadata.name);
    expect(container.args.slice(0, 2)).toEqual(['run', '/etc/pipeline/spec.yaml']);
    expect(container.args).not.toContain('--reshard');
  });

  it('mounts a spec that validates and gives every instance the same number of streams', () => {
    const cm = byKind('ConfigMap');
    const mount = (container.volumeMounts as Obj[]).find((m) => m.mountPath === '/etc/pipeline')!;
    expect((pod.volumes as Obj[]).find((v) => v.name === mount.name)!.configMap.name).toBe(cm.metadata.name);
    expect(loaded.diagnostics).toEqual([]);
    const spec = loaded.spec!;
    const perInstance = Array.from({ length: sts.spec.replicas }, (_, i) => instanceStreams({ index: i, count: sts.spec.replicas }, spec.streams).length);
    expect(new Set(perInstance).size).toBe(1);
    // Tables and checkpoints on the one volume all pods share.
    const data = (container.volumeMounts as Obj[]).find((m) => m.name === 'data')!;
    expect(spec.output.path.startsWith(`${data.mountPath}/`)).toBe(true);
    expect(spec.checkpoint.path.startsWith(`${data.mountPath}/`)).toBe(true);
    const claim = (pod.volumes as Obj[]).find((v) => v.name === 'data')!.persistentVolumeClaim.claimName;
    expect(byKind('PersistentVolumeClaim').metadata.name).toBe(claim);
    expect(byKind('PersistentVolumeClaim').spec.accessModes).toEqual(['ReadWriteMany']);
    expect(sts.spec.volumeClaimTemplates).toBeUndefined();
  });

  it('exposes the metrics port from container to Service to ServiceMonitor, and the PDB covers the pods', () => {
    const port = (container.ports as Obj[]).find((p) => p.name === 'metrics')!;
    expect(port.containerPort).toBe(9464);
    expect(container.args.join(' ')).toContain(`--metrics-port ${port.containerPort}`);
    const svc = byKind('Service');
    expect(svc.spec.clusterIP).toBe('None');
    expect(svc.spec.selector).toEqual(sts.spec.template.metadata.labels);
    expect(svc.spec.ports).toContainEqual(expect.objectContaining({ name: 'metrics', port: 9464, targetPort: 'metrics' }));
    const monitor = byKind('ServiceMonitor');
    expect(Object.entries(monitor.spec.selector.matchLabels).every(([k, v]) => svc.metadata.labels[k] === v)).toBe(true);
    expect(monitor.spec.endpoints.map((e: Obj) => e.port)).toEqual(['metrics']);
    const pdb = byKind('PodDisruptionBudget');
    expect(pdb.spec.selector.matchLabels).toEqual(sts.spec.template.metadata.labels);
    expect(pdb.spec.maxUnavailable).toBe(1);
  });

  it('requests at least the memory the performance notes measured for the streams a pod runs', () => {
    const readme = readFileSync(join(root, 'docs', 'operations', 'performance.md'), 'utf8');
    const streamsPerPod = loaded.spec!.streams / sts.spec.replicas;
    const row = new RegExp(`^\\| pipeline, streams ${streamsPerPod} \\|[^|]+\\|[^|]+\\|[^|]+\\| (\\d+) \\|`, 'm').exec(readme);
    expect(row, 'performance notes row').not.toBeNull();
    const peakMiB = Number(row![1]);
    const mebibytes = (q: string) => (q.endsWith('Gi') ? Number(q.slice(0, -2)) * 1024 : Number(q.slice(0, -2)));
    expect(mebibytes(container.resources.requests.memory)).toBeGreaterThanOrEqual(peakMiB);
    expect(mebibytes(container.resources.limits.memory)).toBeGreaterThan(mebibytes(container.resources.requests.memory));
    expect(Number(container.resources.requests.cpu)).toBeGreaterThanOrEqual(1);
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(60);
  });
});
