/** The api process in Redis mode: listens (even while Redis is away: not ready), and shuts down gracefully. */
import type { Server } from 'node:net';
import { configWarnings, loadConfig, redisUrlOf, type Config } from '@icls/lib/config';
import { watchEventLoop } from '@icls/lib/loop-watchdog';
import { startFailure } from '@icls/lib/start-failure';
import { sleep } from '@icls/lib/deadline';
import { createLogger } from '@icls/lib/logger';
import { createRegistry } from '@icls/lib/metrics/prometheus';
import { RedisProducer } from '@icls/lib/queue/redis-producer';
import { resultCacheBounds } from '@icls/lib/queue/result-cache';
import { createShutdown, exitOnSignals, type ShutdownStep } from '@icls/lib/shutdown';
import { createTracing } from '@icls/lib/tracing/tracing';
import { redactUrl } from '@icls/lib/redact-url';
import { buildApp, type ApiWorkerHints, type BuiltApi } from './app.ts';

/**
 * How the HTTP side stops: readiness turns false first; the api keeps serving for the drain period,
 * so a load balancer polling /readyz stops sending before anything is refused; then the listener
 * closes and in-flight requests finish, for `closeMs` at most (a prediction's deadline): connections
 * still open then are cut, so a stuck one cannot keep the process from stopping. `drainMs` is asked when
 * the stop begins (`npm start` skips the drain when its workers could never start).
 */
export function httpShutdownSteps(built: Pick<BuiltApi, 'app' | 'beginShutdown'>, drainMs: () => number, closeMs: number): ShutdownStep[] {
  return [
    ['stop readiness', () => built.beginShutdown()],
    ['drain period', () => sleep(drainMs())],
    ['close http', () => closeWithin(built.app, closeMs)],
  ];
}

async function closeWithin(app: BuiltApi['app'], closeMs: number): Promise<void> {
  const closing = app.close();
  const timer = setTimeout(() => {
    app.log.warn({ afterMs: closeMs }, 'connections still open at shutdown: closing them');
    app.server.closeAllConnections();
  }, closeMs);
  try {
    await closing;
  } finally {
    clearTimeout(timer);
  }
}

/** The port `app` listens on: the one PORT names, or the one the system chose for PORT=0. */
export function listeningPort(app: { server: Pick<Server, 'address'> }): number {
  const address = app.server.address();
  return typeof address === 'object' && address ? address.port : 0;
}

/** Runs the api and resolves with the port it listens on; `afterDrain` steps (e.g. stopping local workers) run once HTTP has closed. */
/** `drainMs`: the drain period when the api stops (SHUTDOWN_DRAIN_MS unless `npm start` says otherwise). */
export async function runApiServer(config: Config, afterDrain: ShutdownStep[] = [], hints: ApiWorkerHints = {}, drainMs: () => number = () => config.SHUTDOWN_DRAIN_MS): Promise<number> {
  const log = createLogger(config.LOG_LEVEL, 'api');
  const redisUrl = redisUrlOf(config);
  const producer = new RedisProducer({
    redisUrl,
    prefix: config.REDIS_PREFIX,
    maxQueued: config.QUEUE_MAX_WAITING,
    deadAfterMs: config.WORKER_DEAD_AFTER_MS,
    cache: resultCacheBounds(config),
    log,
  });
  const tracing = await createTracing(config, 'icls-api', log);
  const built = await buildApp(config, producer, log, { registry: createRegistry(), tracing }, hints);
  try {
    await built.app.listen({ port: config.PORT, host: config.HOST });
  } catch (err) {
    await Promise.allSettled([built.app.close(), producer.close(), tracing.shutdown()]);
    throw err;
  }
  const port = listeningPort(built.app);
  watchEventLoop(config.STUCK_EXIT_MS, 'api');
  log.info({ redis: redactUrl(redisUrl), port, redisReady: producer.ready, tracing: tracing.enabled }, 'api listening (redis mode)');
  for (const warning of configWarnings(config)) log.warn(warning);
  exitOnSignals(
    createShutdown(log, [
      ...httpShutdownSteps(built, drainMs, config.REQUEST_TIMEOUT_MS),
      ['close queue', () => producer.close()],
      ...afterDrain,
      ['send the last spans', () => tracing.shutdown()],
    ]),
    log,
  );
  return port;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  Promise.resolve()
    .then(() => runApiServer(loadConfig()))
    .catch((err: unknown) => {
      console.error(startFailure(err));
      process.exit(1);
    });
}
