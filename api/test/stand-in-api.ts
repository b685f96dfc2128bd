/**
 * The api listening on a real socket, on an in-process queue whose stand-in worker answers model "m" at
 * once: for tests about what happens on the connection (real sockets, no model). `close` cuts the test's
 * own sockets too, should an assertion have left some open.
 */
import type { AddressInfo } from 'node:net';
import { loadConfig } from '@icls/lib/config';
import type { JobData, JobResult } from '@icls/lib/job-contract';
import { createLogger } from '@icls/lib/logger';
import { MemoryQueue } from '@icls/lib/queue/memory-queue';
import { tempDir } from '../../tests/helpers/fixtures.ts';
import { buildApp, type BuiltApi } from '../src/app.ts';

export interface StandInApi {
  built: BuiltApi;
  port: number;
  close(): Promise<void>;
}

/** `env` is added to temporary UPLOAD_DIR and FEEDBACK_DIR and a silent log. */
export async function startStandInApi(env: Record<string, string> = {}): Promise<StandInApi> {
  const config = loadConfig({ UPLOAD_DIR: await tempDir('uploads'), FEEDBACK_DIR: await tempDir('feedback'), LOG_LEVEL: 'silent', ...env });
  const log = createLogger('silent', 'test');
  const handler = async (job: JobData): Promise<JobResult> => ({ id: job.id, model: job.model, modelVersion: '1', predictions: [{ label: 'x', score: 1 }], worker: 'stand-in', timings: { queueMs: 0, preprocessMs: 0, inferenceMs: 0 } });
  const queue = new MemoryQueue({ maxWaiting: 4, concurrency: 1, models: ['m'], handler, log });
  await queue.start();
  const built = await buildApp(config, queue, log);
  await built.app.listen({ port: 0, host: '127.0.0.1' });
  return {
    built,
    port: (built.app.server.address() as AddressInfo).port,
    close: async () => {
      built.app.server.closeAllConnections();
      await built.app.close();
      await queue.close();
    },
  };
}
