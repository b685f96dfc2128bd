/**
 * The api as inject tests use it, as embedded mode runs it: built by buildApp on a real in-process
 * queue and the generated tiny-rgb model on ONNX Runtime. `close` stops all three, in order.
 */
import type { FastifyInstance } from 'fastify';
import { loadConfig, type Config } from '@icls/lib/config';
import type { JobHandler } from '@icls/lib/job-contract';
import { createLogger, type Logger } from '@icls/lib/logger';
import { MemoryQueue } from '@icls/lib/queue/memory-queue';
import { resultCacheBounds } from '@icls/lib/queue/result-cache';
import { startModelHost } from '@icls/model/model-host';
import { fixtureModels, tempDir } from '../../tests/helpers/fixtures.ts';
import { buildApp } from '../src/app.ts';

export interface InjectApi {
  app: FastifyInstance;
  config: Config;
  log: Logger;
  queue: MemoryQueue;
  close(): Promise<void>;
}

export interface InjectOptions {
  /** The queue's result cache (off by default, so each test's requests reach the model). */
  cache?: boolean;
  /** Wraps the model host's handler, e.g. to record the jobs that reached it. */
  wrap?: (handler: JobHandler) => JobHandler;
  /** The api's log (default: silent), e.g. one that keeps its lines for a test to read. */
  log?: Logger;
}

/** `env` is added to temporary UPLOAD_DIR and FEEDBACK_DIR, the tiny-rgb model, and a silent log. */
export async function startInjectApi(env: Record<string, string> = {}, opts: InjectOptions = {}): Promise<InjectApi> {
  const config = loadConfig({
    MODELS_DIR: await fixtureModels(['tiny-rgb']),
    UPLOAD_DIR: await tempDir('uploads'),
    FEEDBACK_DIR: await tempDir('feedback'),
    LOG_LEVEL: 'silent',
    ...env,
  });
  const log = opts.log ?? createLogger('silent', 'test');
  const host = await startModelHost(config, log, { embedded: true });
  const handler = opts.wrap ? opts.wrap(host.handler) : host.handler;
  const cache = opts.cache ? resultCacheBounds(config) : undefined;
  const queue = new MemoryQueue({ maxWaiting: 10, concurrency: 2, models: host.models, broken: host.broken, versions: host.versions, handler, cache, log });
  await queue.start();
  const { app } = await buildApp(config, queue, log);
  return {
    app,
    config,
    log,
    queue,
    close: async () => {
      await app.close();
      await queue.close();
      await host.close();
    },
  };
}
