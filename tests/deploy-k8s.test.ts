/**
 * Keeps the Kubernetes manifests (deploy/k8s) and the Prometheus configuration (deploy/prometheus)
 * valid and in step with the code, offline: every manifest against the Kubernetes, KEDA and
 * Prometheus Operator schemas (kubernetes-models, @kubernetes-models/keda and /prometheus-operator)
 * with no field its kind lacks; every variable one of
 * lib/src/config.ts, with values it accepts; the images, ports and users those of the Dockerfiles;
 * the queue-driven scaling pointed at the streams the workers read; shutdown times that fit the
 * settings. As tests/deploy-compose.test.ts does for compose.
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { loadConfig } from '@icls/lib/config';
import { modelStreams } from '@icls/lib/queue/redis-keys';
import { ROOT } from './helpers/fixtures.ts';
import { KIND_TYPES, unknownFieldChecker, type FieldChecker } from './helpers/k8s-fields.ts';
import {
  all,
  apiContainer,
  apiDeployment,
  CONFIG_NAMES,
  configOf,
  containers,
  K8S,
  kindOf,
  kustomization,
  kustomizationOf,
  manifests,
  matches,
  MODELS,
  MONITORING,
  named,
  ourContainers,
  read,
  readYaml,
  runtimeOf,
  workerDeployments,
  type Manifest,
} from './helpers/k8s-manifests.ts';
import { promtool } from './helpers/prometheus.ts';

describe('Kubernetes manifests (deploy/k8s)', () => {
  let unknownFields: FieldChecker;
  before(() => {
    unknownFields = unknownFieldChecker();
  });

  it('each kustomization.yaml lists every manifest file beside it, and only existing ones; the overlay builds on the base', () => {
    for (const dir of [K8S, MONITORING]) {
      const files = readdirSync(join(ROOT, dir)).filter((f) => /\.ya?ml$/.test(f) && f !== 'kustomization.yaml');
      assert.deepEqual(kustomizationOf(dir).resources.filter((r) => /\.ya?ml$/.test(r)).sort(), files.sort(), dir);
    }
    assert.deepEqual(kustomizationOf(MONITORING).resources.filter((r) => !/\.ya?ml$/.test(r)), ['../base']);
    assert.equal(kustomizationOf(MONITORING).namespace, kustomization.namespace);
  });

  it('every manifest validates against its kind\'s schema, with no field the kind lacks', () => {
    assert.ok(manifests.length >= 10);
    for (const m of manifests) {
      const where = `${m.file}: ${m.kind} ${m.metadata?.name}`;
      const Model = MODELS[kindOf(m)];
      assert.ok(Model && KIND_TYPES[kindOf(m)], `${where}: no schema known for ${kindOf(m)} (add it to MODELS and KIND_TYPES)`);
      const { file: _file, ...doc } = m;
      assert.doesNotThrow(() => new Model(doc as never).validate(), `${where} fails its schema`);
      assert.deepEqual(unknownFields(kindOf(m), doc), [], `${where} has fields its kind does not`);
    }
  });

  it('sets only variables lib/src/config.ts declares, with values it accepts', () => {
    for (const { deployment, container } of ourContainers()) {
      for (const e of container.env ?? []) {
        assert.ok(CONFIG_NAMES.has(e.name), `${deployment.file}: ${e.name} is not a lib/src/config.ts variable`);
        assert.ok(e.value !== undefined || e.valueFrom?.secretKeyRef, `${deployment.file}: ${e.name} has a value or a secret`);
      }
      assert.doesNotThrow(() => configOf(container), `${deployment.file}: the environment of ${container.name} fails lib/src/config.ts`);
    }
  });

  it('runs the images of api/Dockerfile and model/Dockerfile as they are built: their command, user, ports and model folder', () => {
    const images = new Set(ourContainers().map(({ container }) => container.image));
    assert.deepEqual([...images].sort(), ['icls-api', 'icls-model']);
    assert.deepEqual((kustomization.images ?? []).map((i) => i.name).sort(), ['icls-api', 'icls-model'], 'kustomization.yaml names both images');
    const api = runtimeOf('api/Dockerfile');
    const model = runtimeOf('model/Dockerfile');
    for (const { deployment, container } of ourContainers()) {
      const image = container.image === 'icls-api' ? api : model;
      assert.ok(!container.command && !container.args, `${deployment.file}: runs the image's own CMD (the npm script's command)`);
      assert.equal(image.user, 'node', 'the images run as the node user');
      assert.equal(deployment.spec.template!.spec.securityContext?.runAsUser, 1000, `${deployment.file}: runAsUser is the image's node user (uid 1000)`);
      for (const p of container.ports ?? []) assert.ok(image.expose.includes(p.containerPort), `${deployment.file}: port ${p.containerPort} is EXPOSEd by the image`);
    }
    assert.equal(apiContainer().ports?.[0]?.containerPort, configOf(apiContainer()).PORT, 'the api listens on its container port');
    for (const d of workerDeployments()) {
      const c = containers(d).find((x) => x.image === 'icls-model')!;
      const config = configOf(c);
      assert.equal(config.MODELS_DIR, model.env.get('MODELS_DIR'), `${d.file}: MODELS_DIR is where the image keeps its models`);
      assert.equal(c.ports?.find((p) => p.name === 'metrics')?.containerPort, config.WORKER_METRICS_PORT, `${d.file}: the metrics port is WORKER_METRICS_PORT`);
      assert.equal(config.HOST, '0.0.0.0', `${d.file}: the metrics port listens beyond loopback, for Prometheus`);
    }
    const redisImage = readYaml<{ services: { redis: { image: string } } }>('docker-compose.yml').services.redis.image;
    assert.equal(containers(named('Deployment', 'icls-redis'))[0]!.image, redisImage, 'the Redis of compose');
  });

  it('the api: readiness on /readyz, liveness on /healthz, a preStop and a grace period that cover the drain', () => {
    const c = apiContainer();
    assert.equal(c.readinessProbe?.httpGet?.path, '/readyz');
    assert.equal(c.livenessProbe?.httpGet?.path, '/healthz');
    const stop = c.lifecycle?.preStop?.exec?.command ?? [];
    assert.equal(stop[0], 'sleep', 'preStop sleeps while proxies learn the pod is going');
    assert.match(runtimeOf('api/Dockerfile').from ?? '', /bookworm/, 'the image is Debian: it has sleep');
    const preStopS = Number(stop[1]);
    assert.ok(preStopS >= 2, 'a preStop of a few seconds');
    const config = configOf(c);
    const needed = preStopS + config.SHUTDOWN_DRAIN_MS / 1000 + config.REQUEST_TIMEOUT_MS / 1000 + 3;
    const grace = apiDeployment().spec.template!.spec.terminationGracePeriodSeconds ?? 30;
    assert.ok(grace >= needed, `api: terminationGracePeriodSeconds ${grace} < preStop ${preStopS} + drain + request timeout + span flush = ${needed}`);
  });

  it('workers: liveness on their metrics port, a grace period that covers their drain, one core each', () => {
    for (const d of workerDeployments()) {
      const c = containers(d).find((x) => x.image === 'icls-model')!;
      const config = configOf(c);
      assert.equal(c.livenessProbe?.httpGet?.path, '/healthz');
      assert.equal(c.livenessProbe?.httpGet?.port, 'metrics');
      const grace = d.spec.template!.spec.terminationGracePeriodSeconds ?? 30;
      assert.ok(grace >= config.REQUEST_TIMEOUT_MS / 1000 + 1 + 3, `${d.file}: the grace period covers a job's deadline, the drain margin and the span flush`);
      assert.equal(c.resources?.requests?.cpu, '1', `${d.file}: one core per worker`);
      assert.equal(config.ORT_THREADS * config.INFERENCE_THREADS, 1, `${d.file}: one inference thread of one ONNX Runtime thread for its core`);
      assert.ok(!('replicas' in d.spec), `${d.file}: KEDA owns the replica count`);
    }
    assert.ok(!('replicas' in apiDeployment().spec), 'the HPA owns the api replica count');
  });

  it('every container asks for CPU and memory and is bounded in memory; none runs as root', () => {
    for (const d of all('Deployment')) {
      assert.equal(d.spec.template!.spec.securityContext?.runAsNonRoot, true, `${d.file}: runAsNonRoot`);
      for (const c of containers(d)) {
        assert.ok(c.resources?.requests?.cpu && c.resources.requests.memory, `${d.file} ${c.name}: CPU and memory requests`);
        assert.ok(c.resources.limits?.memory, `${d.file} ${c.name}: a memory limit`);
      }
    }
  });

  it('Services, PodDisruptionBudgets, the HPA and the ScaledObjects select Deployments that exist', () => {
    const podLabels = (d: Manifest) => d.spec.template!.metadata.labels;
    for (const d of all('Deployment')) {
      assert.ok(matches((d.spec.selector as { matchLabels: Record<string, string> }).matchLabels, podLabels(d)), `${d.metadata.name}: its selector matches its pods`);
    }
    const selecting = (selector: Record<string, string>) => all('Deployment').filter((d) => matches(selector, podLabels(d)));
    for (const s of all('Service')) assert.equal(selecting(s.spec.selector as Record<string, string>).length, 1, `Service ${s.metadata.name} selects one Deployment's pods`);
    for (const p of all('PodDisruptionBudget')) {
      assert.equal(selecting((p.spec.selector as { matchLabels: Record<string, string> }).matchLabels).length, 1, `PDB ${p.metadata.name} selects one Deployment's pods`);
    }
    assert.equal(all('PodDisruptionBudget').length, 1 + workerDeployments().length, 'a PDB for the api and each worker Deployment');
    const hpa = named('HorizontalPodAutoscaler', 'icls-api');
    assert.equal(hpa.spec.scaleTargetRef?.name, 'icls-api');
    const scaled = all('ScaledObject').map((s) => s.spec.scaleTargetRef!.name).sort();
    assert.deepEqual(scaled, workerDeployments().map((d) => d.metadata.name).sort(), 'one ScaledObject per worker Deployment');
    assert.equal(named('Service', 'icls-api').spec.ports?.[0]?.targetPort, 'http');
  });

  it('KEDA scales each model\'s workers on the length of the stream those workers read', () => {
    const api = configOf(apiContainer());
    const redis = named('Service', 'icls-redis');
    const redisPort = redis.spec.ports![0]!.port;
    for (const so of all('ScaledObject')) {
      const d = named('Deployment', so.spec.scaleTargetRef!.name);
      const worker = configOf(containers(d).find((c) => c.image === 'icls-model')!);
      assert.equal(worker.MODELS.length, 1, `${d.metadata.name}: one model per scaled Deployment`);
      assert.equal(worker.REDIS_PREFIX, api.REDIS_PREFIX, 'api and workers share REDIS_PREFIX');
      assert.equal(worker.REDIS_URL, api.REDIS_URL, 'api and workers share REDIS_URL');
      assert.equal(new URL(worker.REDIS_URL!).host, `${redis.metadata.name}:${redisPort}`, 'REDIS_URL is the Redis Service');
      // Both of the model's streams (ordinary, heavy), each with a target of at least what a worker holds of it at once.
      assert.deepEqual(so.spec.triggers?.map((t) => t.metadata.stream), modelStreams(worker.REDIS_PREFIX, worker.MODELS[0]!), `${so.metadata.name}: the model's streams (lib/src/queue/redis-keys.ts)`);
      const [trigger, heavy] = so.spec.triggers!;
      for (const t of [trigger!, heavy!]) {
        assert.equal(t.type, 'redis-streams');
        assert.equal(t.metadata.address, `${redis.metadata.name}.${kustomization.namespace}.svc.cluster.local:${redisPort}`, 'KEDA reaches Redis by its full name');
        // With a consumerGroup, KEDA scales on pending entries (running jobs only) or on the lag; the
        // stream's length is queued + running, since workers delete what they answered.
        assert.ok(!('consumerGroup' in t.metadata) && !('lagCount' in t.metadata), `${so.metadata.name}: scales on streamLength`);
      }
      assert.ok(Number(heavy!.metadata.streamLength) >= 1, `${so.metadata.name}: a worker holds one heavy job at a time`);
      const target = Number(trigger!.metadata.streamLength);
      assert.ok(target >= worker.WORKER_CONCURRENCY, `${so.metadata.name}: the target per worker is at least the jobs a worker runs at once`);
      assert.ok((so.spec.minReplicaCount ?? 0) >= 1, `${so.metadata.name}: never 0 workers (the api routes to models a live worker holds)`);
      assert.ok(so.spec.maxReplicaCount! * target >= api.QUEUE_MAX_WAITING, `${so.metadata.name}: a full queue (QUEUE_MAX_WAITING) can be given its workers`);
    }
  });

  it('the api stores uploads on the shared volume; workers get images inside the jobs', () => {
    const c = apiContainer();
    const config = configOf(c);
    assert.equal(config.IMAGE_TRANSPORT, 'bytes', 'workers have no uploads volume');
    const claims = new Map((apiDeployment().spec.template!.spec.volumes ?? []).map((v) => [v.name, v.persistentVolumeClaim?.claimName]));
    for (const dir of [config.UPLOAD_DIR, config.FEEDBACK_DIR]) {
      const mount = (c.volumeMounts ?? []).find((m) => dir.startsWith(`${m.mountPath}/`));
      assert.ok(mount && claims.get(mount.name), `${dir} is on a persistent volume`);
      assert.ok(all('PersistentVolumeClaim').some((p) => p.metadata.name === claims.get(mount.name)), `the claim ${claims.get(mount.name)} is in ${K8S}`);
    }
  });

  it('the PodMonitor scrapes every api and worker pod on its metrics port, with the token the pods read, as the jobs the dashboard shows', () => {
    const monitor = named('PodMonitor', 'icls');
    const selector = monitor.spec.selector as { matchExpressions: { key: string; operator: string; values: string[] }[] };
    const selected = all('Deployment').filter((d) =>
      selector.matchExpressions.every((e) => e.operator === 'In' && e.values.includes(d.spec.template!.metadata.labels[e.key] ?? '')),
    );
    assert.deepEqual(selected.map((d) => d.metadata.name).sort(), [apiDeployment(), ...workerDeployments()].map((d) => d.metadata.name).sort());
    const jobs = new Set(selected.map((d) => d.spec.template!.metadata.labels[monitor.spec.jobLabel!]));
    const local = readYaml<{ scrape_configs: { job_name: string }[] }>('deploy/prometheus/prometheus.yml');
    assert.deepEqual([...jobs].sort(), local.scrape_configs.map((j) => j.job_name).sort(), 'the same job names as deploy/prometheus/prometheus.yml');
    const token = apiContainer().env!.find((e) => e.name === 'ADMIN_TOKEN')!.valueFrom!.secretKeyRef!;
    for (const d of selected) {
      const ports = new Set(containers(d).flatMap((c) => (c.ports ?? []).map((p) => p.name)));
      const endpoint = monitor.spec.podMetricsEndpoints!.find((e) => ports.has(e.port));
      assert.ok(endpoint, `${d.metadata.name}: scraped on one of its ports`);
      assert.equal(endpoint.path, '/metrics');
      assert.deepEqual(endpoint.authorization, { type: 'Bearer', credentials: token }, 'with the admin token');
    }
  });

  it('docs/deploy.md says how to create every secret the manifests read', () => {
    const secrets = new Set(ourContainers().flatMap(({ container }) => (container.env ?? []).flatMap((e) => e.valueFrom?.secretKeyRef?.name ?? [])));
    const docs = read('docs/deploy.md');
    for (const s of secrets) assert.match(docs, new RegExp(`kubectl -n ${kustomization.namespace} create secret generic ${s} `), `docs/deploy.md creates the secret ${s}`);
  });
});

describe('Prometheus configuration for npm start (deploy/prometheus/prometheus.yml)', () => {
  it('promtool check config accepts it; it scrapes the api\'s PORT and the workers\' ports from WORKER_METRICS_PORT on', () => {
    const { status, output } = promtool(['check', 'config', join(ROOT, 'deploy/prometheus/prometheus.yml')]);
    assert.equal(status, 0, `promtool check config:\n${output}`);
    const config = readYaml<{ scrape_configs: { job_name: string; static_configs: { targets: string[] }[] }[] }>('deploy/prometheus/prometheus.yml');
    const targets = (job: string) => config.scrape_configs.find((j) => j.job_name === job)!.static_configs.flatMap((s) => s.targets);
    const defaults = loadConfig({});
    assert.deepEqual(targets('icls-api'), [`127.0.0.1:${defaults.PORT}`]);
    assert.equal(targets('icls-model')[0], `127.0.0.1:${defaults.WORKER_METRICS_PORT}`);
  });
});
