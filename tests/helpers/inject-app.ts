/**
 * The api as inject tests use it: built by buildApp, on a real in-process queue and the generated
 * tiny-rgb model on ONNX Runtime (embedded, as `npm start` without Redis runs it).
 */
import type { FastifyInstance } from 'fastify';
import { loadConfig, type Config } from '@icls/lib/config';
import { createLogger, type Logger } from '@icls/lib/logger';
import { MemoryQueue } from '@icls/lib/queue/memory-queue';
import { startModelHost } from '@icls/model/model-host';
import { buildApp } from '../../api/src/app.ts';
import { fixtureModels, tempDir } from './fixtures.ts';

export interface InjectApi {
  app: FastifyInstance;
  config: Config;
  log: Logger;
  queue: MemoryQueue;
  close(): Promise<void>;
}

/** `env` is added to temporary UPLOAD_DIR and FEEDBACK_DIR, the tiny-rgb model, and a silent log. */
export async function startInjectApi(env: Record<string, string> = {}): Promise<InjectApi> {
  const config = loadConfig({
    MODELS_DIR: await fixtureModels(['tiny-rgb']),
    UPLOAD_DIR: await tempDir('uploads'),
    FEEDBACK_DIR: await tempDir('feedback'),
    LOG_LEVEL: 'silent',
    ...env,
  });
  const log = createLogger('silent', 'test');
  const host = await startModelHost(config, log, { embedded: true });
  const queue = new MemoryQueue({ maxWaiting: 10, concurrency: 2, models: host.models, handler: host.handler, log });
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
