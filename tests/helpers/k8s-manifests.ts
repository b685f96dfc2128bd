/**
 * The Kubernetes manifests of deploy/k8s as tests read them: every document of the base and the
 * monitoring overlay, the validating model of each kind, and small lookups (Deployments, their
 * containers, a container's configuration as lib/src/config.ts reads it, a Dockerfile's runtime stage).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml, parseAllDocuments } from 'yaml';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { Namespace } from 'kubernetes-models/v1/Namespace';
import { PersistentVolumeClaim } from 'kubernetes-models/v1/PersistentVolumeClaim';
import { Service } from 'kubernetes-models/v1/Service';
import { ScaledObject } from '@kubernetes-models/keda/keda.sh/v1alpha1/ScaledObject';
import { PodMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PodMonitor';
import { describeConfig, loadConfig, type Config } from '@icls/lib/config';
import { ROOT } from './fixtures.ts';

export const read = (rel: string) => readFileSync(join(ROOT, rel), 'utf8');
/** A YAML file of the repository (one document). */
export const readYaml = <T>(rel: string): T => parseYaml(read(rel)) as T;
export const K8S = 'deploy/k8s/base';
export const MONITORING = 'deploy/k8s/monitoring';
export const CONFIG_NAMES = new Set(describeConfig().map((v) => v.name));

/** A validating model per kind: `validate()` throws on a schema violation. */
export const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  'v1/Namespace': Namespace,
  'v1/Service': Service,
  'v1/PersistentVolumeClaim': PersistentVolumeClaim,
  'apps/v1/Deployment': Deployment,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'keda.sh/v1alpha1/ScaledObject': ScaledObject,
  'monitoring.coreos.com/v1/PodMonitor': PodMonitor,
};

// Just the fields these checks read; the schemas check the rest.
export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: { name: string; key: string } };
}
export interface Probe {
  httpGet?: { path: string; port: string | number };
}
export interface Container {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  env?: EnvVar[];
  ports?: { name?: string; containerPort: number }[];
  readinessProbe?: Probe;
  livenessProbe?: Probe;
  lifecycle?: { preStop?: { exec?: { command: string[] } } };
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  volumeMounts?: { name: string; mountPath: string }[];
}
export interface Manifest {
  file: string;
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  spec: {
    replicas?: number;
    selector?: { matchLabels?: Record<string, string> } | Record<string, string>;
    template?: {
      metadata: { labels: Record<string, string> };
      spec: {
        containers: Container[];
        terminationGracePeriodSeconds?: number;
        securityContext?: { runAsUser?: number; runAsNonRoot?: boolean };
        volumes?: { name: string; persistentVolumeClaim?: { claimName: string } }[];
      };
    };
    ports?: { port: number; targetPort: string | number }[];
    scaleTargetRef?: { name: string; kind?: string };
    minReplicaCount?: number;
    maxReplicaCount?: number;
    triggers?: { type: string; metadata: Record<string, string> }[];
    jobLabel?: string;
    podMetricsEndpoints?: { port: string; path: string; authorization?: { type: string; credentials: { name: string; key: string } } }[];
  };
}

export interface Kustomization {
  namespace: string;
  resources: string[];
  images?: { name: string }[];
}
export const kustomizationOf = (dir: string) => readYaml<Kustomization>(`${dir}/kustomization.yaml`);
export const kustomization = kustomizationOf(K8S);
/** The documents of a kustomization's own files (the monitoring overlay's base is read as K8S). */
const documentsOf = (dir: string): Manifest[] =>
  kustomizationOf(dir)
    .resources.filter((r) => /\.ya?ml$/.test(r))
    .flatMap((file) => parseAllDocuments(read(`${dir}/${file}`)).map((doc) => ({ ...(doc.toJS() as Omit<Manifest, 'file'>), file: `${dir}/${file}` })));
export const manifests: Manifest[] = [...documentsOf(K8S), ...documentsOf(MONITORING)];
export const kindOf = (m: Manifest) => `${m.apiVersion}/${m.kind}`;
export const all = (kind: string) => manifests.filter((m) => m.kind === kind);
export const named = (kind: string, name: string) => {
  const m = all(kind).find((x) => x.metadata.name === name);
  assert.ok(m, `no ${kind} "${name}" in ${K8S}`);
  return m;
};
export const containers = (d: Manifest) => d.spec.template!.spec.containers;
/** Containers running the project's images (not Redis), with the image they run. */
export const ourContainers = () =>
  all('Deployment').flatMap((d) => containers(d).filter((c) => c.image.startsWith('icls-')).map((c) => ({ deployment: d, container: c })));
/** A container's configuration as its process sees it (a secret stands in as a valid token). */
export const configOf = (c: Container): Config =>
  loadConfig(Object.fromEntries((c.env ?? []).map((e) => [e.name, e.valueFrom?.secretKeyRef ? 'x'.repeat(32) : (e.value ?? '')])));
export const matches = (selector: Record<string, string>, labels: Record<string, string>) => Object.entries(selector).every(([k, v]) => labels[k] === v);
export const workerDeployments = () => all('Deployment').filter((d) => containers(d).some((c) => c.image === 'icls-model'));
export const apiDeployment = () => named('Deployment', 'icls-api');
export const apiContainer = () => containers(apiDeployment()).find((c) => c.image === 'icls-api')!;

/** The runtime stage of a Dockerfile: its ENV, EXPOSE and USER (continuation lines joined). */
export function runtimeOf(dockerfile: string) {
  const text = read(dockerfile).replace(/\\\n/g, ' ');
  const runtime = text.slice(text.lastIndexOf('\nFROM '));
  const env = new Map([...runtime.matchAll(/^ENV (.*)$/gm)].flatMap((m) => [...m[1]!.matchAll(/(\w+)=(\S+)/g)].map((e) => [e[1]!, e[2]!] as const)));
  const expose = [...runtime.matchAll(/^EXPOSE (.*)$/gm)].flatMap((m) => m[1]!.split(/\s+/).map(Number));
  return { env, expose, user: /^USER (\S+)$/m.exec(runtime)?.[1], from: /^FROM (\S+)/m.exec(runtime.trim())?.[1] };
}
