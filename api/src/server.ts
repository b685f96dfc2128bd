/** The api process in Redis mode: listens, and shuts down gracefully. */
import { loadConfig, ConfigError, redisUrlOf, type Config } from '@icls/lib/config';
import { createLogger } from '@icls/lib/logger';
import { RedisProducer } from '@icls/lib/queue/redis-producer';
import { createShutdown, exitOnSignals, type ShutdownStep } from '@icls/lib/shutdown';
import { buildApp } from './app.ts';

/** Runs the api; `afterDrain` steps (e.g. stopping local workers) run once HTTP has drained. */
export async function runApiServer(config: Config, afterDrain: ShutdownStep[] = []): Promise<void> {
  const log = createLogger(config.LOG_LEVEL, 'api');
  const redisUrl = redisUrlOf(config);
  const producer = new RedisProducer({ redisUrl, prefix: config.REDIS_PREFIX, maxQueued: config.QUEUE_MAX_WAITING, log });
  await producer.start();
  const { app, beginShutdown } = await buildApp(config, producer, log);
  await app.listen({ port: config.PORT, host: config.HOST });
  log.info({ redis: redisUrl, port: config.PORT }, 'api ready (redis mode)');
  exitOnSignals(
    createShutdown(log, [
      ['stop readiness', () => beginShutdown()],
      ['drain http', () => app.close()],
      ['close queue', () => producer.close()],
      ...afterDrain,
    ]),
    log,
  );
}

if (import.meta.url === `file://${process.argv[1]}`) {
  Promise.resolve()
    .then(() => runApiServer(loadConfig()))
    .catch((err: unknown) => {
      console.error(err instanceof ConfigError ? err.message : err);
      process.exit(1);
    });
}
