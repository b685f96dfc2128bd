/**
 * Loads the models a worker serves and builds its job handler. Shared by the worker process and
 * embedded mode, so both serve models the same way.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { ortThreadsPerSession, type Config } from '@icls/lib/config';
import type { JobHandler } from '@icls/lib/job-contract';
import type { Logger } from '@icls/lib/logger';
import { Classifier } from './classifier.ts';
import { createJobHandler } from './job-handler.ts';
import { listModels, loadModelEntry } from './repository/model-repository.ts';

export interface ModelHost {
  workerId: string;
  models: string[];
  handler: JobHandler;
  close(): Promise<void>;
}

/** `embedded`: the api shares this process (decides the default thread count). */
export async function startModelHost(config: Config, log: Logger, where: { embedded: boolean }): Promise<ModelHost> {
  const entries = config.MODELS.length
    ? await Promise.all(config.MODELS.map((name) => loadModelEntry(config.MODELS_DIR, name)))
    : await loadAll(config.MODELS_DIR, log);
  if (entries.length === 0) {
    throw new Error(`no model to serve in ${config.MODELS_DIR}: run "npm run models -- list" and "npm run models -- --help"`);
  }
  const classifiers = new Map<string, Classifier>();
  const threads = ortThreadsPerSession(config, where);
  for (const entry of entries) {
    const t0 = performance.now();
    classifiers.set(entry.name, await Classifier.load(entry, { threads, maxPixels: config.MAX_PIXELS }));
    log.info({ model: entry.name, ms: Math.round(performance.now() - t0), bytes: entry.sizeBytes, threads }, 'model loaded');
  }
  const workerId = `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
  let closed = false;
  return {
    workerId,
    models: [...classifiers.keys()],
    handler: createJobHandler({ classifiers, uploadDir: config.UPLOAD_DIR, workerId }),
    async close() {
      if (closed) return;
      closed = true;
      const results = await Promise.allSettled([...classifiers.values()].map((c) => c.close()));
      for (const r of results) if (r.status === 'rejected') log.warn({ err: r.reason }, 'model release failed');
    },
  };
}

async function loadAll(modelsDir: string, log: Logger) {
  const { models, broken } = await listModels(modelsDir);
  for (const b of broken) log.warn({ model: b.name, error: b.error }, 'skipping a model folder that does not load');
  return models;
}
