/** A model worker process: loads its models, takes jobs from Redis, drains on SIGTERM. */
import { getPriority, setPriority } from 'node:os';
import { ConfigError, loadConfig, redisUrlOf } from '@icls/lib/config';
import { createLogger } from '@icls/lib/logger';
import { RedisConsumer } from '@icls/lib/queue/redis-consumer';
import { createShutdown, exitOnSignals } from '@icls/lib/shutdown';
import { startModelHost } from './model-host.ts';

export async function runWorker(): Promise<void> {
  const config = loadConfig();
  const log = createLogger(config.LOG_LEVEL, 'model');
  lowerPriority(config.WORKER_NICE, log);
  const host = await startModelHost(config, log, { embedded: false });
  const redisUrl = redisUrlOf(config);
  const consumer = new RedisConsumer({
    redisUrl,
    prefix: config.REDIS_PREFIX,
    resultTtlS: config.RESULT_TTL_S,
    log,
    models: host.models,
    concurrency: config.WORKER_CONCURRENCY,
    lockMs: config.WORKER_LOCK_MS,
    workerId: host.workerId,
    handler: host.handler,
  });
  await consumer.start();
  log.info({ worker: host.workerId, models: host.models, redis: redisUrl, concurrency: config.WORKER_CONCURRENCY }, 'worker ready');
  exitOnSignals(
    createShutdown(log, [
      ['stop taking jobs and drain', () => consumer.close()],
      ['release models', () => host.close()],
    ]),
    log,
  );
}

/**
 * Workers yield the CPU to the api when both want it: the api's work per request is small, and a
 * delayed api delays every client (and every refusal), while a delayed worker only delays its job.
 */
function lowerPriority(nice: number, log: ReturnType<typeof createLogger>): void {
  if (nice === 0) return;
  try {
    setPriority(Math.max(getPriority(), nice));
  } catch (err) {
    log.warn({ err: (err as Error).message, nice }, 'could not lower the worker priority; running at normal priority');
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  runWorker().catch((err: unknown) => {
    console.error(err instanceof ConfigError ? err.message : (err as Error).message ?? err);
    process.exit(1);
  });
}
