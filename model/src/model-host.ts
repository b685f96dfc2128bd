/**
 * Loads the models a worker serves and builds its job handler. Shared by the worker process and
 * embedded mode, so both serve models the same way: on one inference pool, off the event loop.
 * Each model loads on its own: a folder ONNX Runtime cannot load is one model down, reported with
 * its reason, and the others are served.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { ConfigError, type Config } from '@icls/lib/config';
import type { BrokenModel, JobHandler, ParkedJobs } from '@icls/lib/job-contract';
import type { Logger } from '@icls/lib/logger';
import { createRegistry, type MetricsRegistry } from '@icls/lib/metrics/prometheus';
import { noTracing, type Tracing } from '@icls/lib/tracing/tracing';
import { workerPlan, type PlanConfig, type WorkerPlan } from '@icls/lib/worker-plan';
import { unsharedUploadLog } from '@icls/lib/unshared-upload-log';
import { Classifier } from './classifier.ts';
import { InferencePool } from './engine/inference-pool.ts';
import { DecodeBudget, type GiveUp } from './image/decode-budget.ts';
import { createJobHandler } from './job-handler.ts';
import { listModels, loadModelEntry, ModelNotFoundError, modelBuild, reasonForClients, type ModelEntry } from './repository/model-repository.ts';
import { JobTelemetry } from './telemetry/job-telemetry.ts';
import { WorkerMetrics } from './telemetry/worker-metrics.ts';

export interface ModelHost {
  workerId: string;
  /** Models loaded and served. */
  models: string[];
  /**
   * Each served model's build: its config's `version` and a digest of its files (see `modelBuild`), which
   * the heartbeat carries so the result cache never mixes two sets of files under one version.
   */
  versions: Record<string, string>;
  /** Models this host was meant to serve but could not load, with why (paths relative to MODELS_DIR: this goes to clients). */
  broken: BrokenModel[];
  handler: JobHandler;
  /** Jobs held here that wait for decode memory, not a core (see RedisConsumerOptions.parked). */
  parked: ParkedJobs;
  /** How this process divides its cores (lanes, threads, jobs at once). */
  plan: WorkerPlan;
  close(): Promise<void>;
}

export type ModelHostConfig = Pick<Config, 'MODELS' | 'MODELS_DIR' | 'MAX_PIXELS' | 'DECODE_MEMORY_BYTES' | 'UPLOAD_DIR'> & PlanConfig;

/** Where the host's metrics go (the process's registry) and its tracing; by default its own registry, no tracing. */
export interface ModelHostTelemetry {
  registry?: MetricsRegistry;
  tracing?: Tracing;
}

/** `embedded`: the api shares this process (decides the default thread count). */
export async function startModelHost(
  config: ModelHostConfig,
  log: Logger,
  where: { embedded: boolean },
  telemetry: ModelHostTelemetry = {},
): Promise<ModelHost> {
  const metrics = new WorkerMetrics(telemetry.registry ?? createRegistry());
  const { entries, broken } = await findEntries(config);
  if (entries.length === 0 && broken.length === 0) {
    throw new ConfigError(`no model to serve in MODELS_DIR (${config.MODELS_DIR}): run "npm run models -- list" and "npm run models -- --help"`);
  }
  const plan = workerPlan(config, where);
  const pool = new InferencePool({
    lanes: plan.lanes,
    laneThreads: plan.laneThreads,
    soloThreads: plan.soloThreads,
    onThreadError: (err) => log.error({ err: err.message }, 'an inference thread stopped; it is replaced'),
  });
  // The api answers such a job's 504 itself, at the same deadline, naming busy workers: this says why.
  let lastGiveUpLog = Number.NEGATIVE_INFINITY;
  let unlogged = 0;
  const onGiveUp = (event: GiveUp): void => {
    if (Date.now() - lastGiveUpLog < 10_000) return void unlogged++;
    log.warn(
      { ...event, limitBytes: config.DECODE_MEMORY_BYTES, moreSinceLastLine: unlogged },
      "a job's deadline passed while it waited for memory to decode its image (DECODE_MEMORY_BYTES): huge images are taking turns; if they are legitimate, raise DECODE_MEMORY_BYTES (and the memory limit), else lower MAX_PIXELS or set RATE_LIMIT_PER_MINUTE",
    );
    lastGiveUpLog = Date.now();
    unlogged = 0;
  };
  const decodeBudget = new DecodeBudget(config.DECODE_MEMORY_BYTES, { onGiveUp });
  const classifiers = new Map<string, Classifier>();
  const builds = new Map<string, string>();
  for (const entry of entries) {
    const t0 = performance.now();
    try {
      // The digest is read while ONNX Runtime builds the sessions (on their threads, not this one).
      const [build, loaded] = await Promise.allSettled([modelBuild(entry), Classifier.load(entry, { threads: plan.laneThreads, maxPixels: config.MAX_PIXELS, pool, decodeBudget })]);
      if (loaded.status === 'rejected') throw loaded.reason;
      if (build.status === 'rejected') {
        await loaded.value.close();
        throw build.reason;
      }
      classifiers.set(entry.name, loaded.value);
      builds.set(entry.name, build.value);
      metrics.modelLoaded(entry.name, (performance.now() - t0) / 1000);
      log.info({ model: entry.name, ms: Math.round(performance.now() - t0), bytes: entry.sizeBytes, lanes: plan.lanes, laneThreads: plan.laneThreads, soloThreads: pool.hasSolo ? plan.soloThreads : 0 }, 'model loaded');
    } catch (err) {
      broken.push({ name: entry.name, reason: (err as Error).message });
    }
  }
  for (const b of broken) {
    log.error({ model: b.name, reason: b.reason }, 'model not served: it does not load');
    metrics.modelBroken(b.name);
  }
  const workerId = `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
  const jobs = new JobTelemetry(metrics, telemetry.tracing ?? noTracing, workerId, [...classifiers.keys()]);
  let closed = false;
  return {
    workerId,
    models: [...classifiers.keys()],
    versions: Object.fromEntries(builds),
    broken: broken.map((b) => ({ name: b.name, reason: reasonForClients(b.reason, config.MODELS_DIR) })),
    handler: jobs.wrap(createJobHandler({ classifiers, builds, uploadDir: config.UPLOAD_DIR, workerId, onStages: jobs.stagesDone, onUnshared: (job, detail) => unsharedUploadLog.report(log.child({ jobId: job.id }), detail) })),
    parked: { count: () => decodeBudget.queued, onChange: (listener) => decodeBudget.onQueueChange(listener) },
    plan,
    async close() {
      if (closed) return;
      closed = true;
      const results = await Promise.allSettled([...classifiers.values()].map((c) => c.close()));
      for (const r of results) if (r.status === 'rejected') log.warn({ err: r.reason }, 'model release failed');
      await pool.close();
    },
  };
}

/** The entries to load: MODELS by name, or every folder; folders that do not even parse are broken. */
async function findEntries(config: ModelHostConfig): Promise<{ entries: ModelEntry[]; broken: BrokenModel[] }> {
  if (config.MODELS.length === 0) {
    const { models, broken } = await listModels(config.MODELS_DIR);
    return { entries: models, broken: broken.map((b) => ({ name: b.name, reason: b.error })) };
  }
  const loaded = await Promise.allSettled(config.MODELS.map((name) => loadModelEntry(config.MODELS_DIR, name)));
  // A name with no folder at all is a wrong setting, not a broken model: the worker stops and says so.
  // (It started, reported healthy and served nothing: a typo in MODELS gave a green pod doing nothing.)
  const notFound = (r: PromiseSettledResult<ModelEntry>) => r.status === 'rejected' && r.reason instanceof ModelNotFoundError;
  const missing = config.MODELS.filter((_name, i) => notFound(loaded[i]!));
  if (missing.length > 0) {
    const present = await listModels(config.MODELS_DIR).then(
      ({ models, broken }) => `it has: ${[...models.map((m) => m.name), ...broken.map((b) => b.name)].sort().join(', ') || 'none'}`,
      (err: Error) => `it cannot be listed: ${err.message}`,
    );
    throw new ConfigError(`MODELS names ${missing.map((m) => `"${m}"`).join(', ')}, but ${config.MODELS_DIR} has no such model folder (${present}): fix MODELS, or install the model ("npm run models -- list")`);
  }
  const entries: ModelEntry[] = [];
  const broken: BrokenModel[] = [];
  loaded.forEach((r, i) => {
    if (r.status === 'fulfilled') entries.push(r.value);
    else broken.push({ name: config.MODELS[i]!, reason: (r.reason as Error).message });
  });
  return { entries, broken };
}
