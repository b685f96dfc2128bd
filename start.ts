/**
 * `npm start`: one command for a laptop or a server.
 * With Redis (REDIS_URL set, or one answering on localhost) it runs the api here and MODEL_WORKERS
 * worker processes beside it, talking through Redis. Without Redis it runs api and model in this one
 * process over an in-process queue. The code above the queue interface is the same in both.
 */
import { ConfigError, redisUrlOf, DEFAULT_REDIS_URL, loadConfig, type Config } from '@icls/lib/config';
import { startFailure } from '@icls/lib/start-failure';
import { workerProcessCount } from '@icls/lib/worker-plan';
import { createLogger, type Logger } from '@icls/lib/logger';
import { createRegistry } from '@icls/lib/metrics/prometheus';
import { MemoryQueue } from '@icls/lib/queue/memory-queue';
import { resultCacheBounds } from '@icls/lib/queue/result-cache';
import { redisAnswers } from '@icls/lib/redis-probe';
import { watchEventLoop } from '@icls/lib/loop-watchdog';
import { createShutdown, exitOnSignals } from '@icls/lib/shutdown';
import { createTracing } from '@icls/lib/tracing/tracing';
import { redactUrl } from '@icls/lib/redact-url';
import { WorkerSupervisor } from '@icls/model/worker-supervisor';
import { buildApp } from '@icls/api/app';
import { httpShutdownSteps, listeningPort, runApiServer } from '@icls/api/server';
import { ensureModels } from '@icls/model/ensure-models';

async function chooseMode(config: Config): Promise<'redis' | 'embedded'> {
  if (config.QUEUE_MODE !== 'auto') return config.QUEUE_MODE;
  if (config.REDIS_URL) return 'redis';
  return (await redisAnswers(DEFAULT_REDIS_URL)) ? 'redis' : 'embedded';
}

async function runEmbedded(config: Config, log: Logger): Promise<void> {
  const why = config.QUEUE_MODE === 'embedded' ? 'QUEUE_MODE=embedded' : 'no Redis configured or answering on localhost';
  log.info(`embedded mode: ${why}, so api and model run in this one process over an in-process queue`);
  // Loaded here only: in Redis mode the api process never holds ONNX Runtime or sharp (≈ 50 MB less).
  const { startModelHost } = await import('@icls/model/model-host');
  // One process, one registry: the api's /metrics shows the model's metrics too (no worker port).
  const telemetry = { registry: createRegistry(), tracing: await createTracing(config, 'icls', log) };
  const host = await startModelHost(config, log, { embedded: true }, telemetry);
  const queue = new MemoryQueue({
    maxWaiting: config.QUEUE_MAX_WAITING,
    concurrency: host.plan.concurrency,
    models: host.models,
    broken: host.broken,
    versions: host.versions,
    handler: host.handler,
    cache: resultCacheBounds(config),
    log,
  });
  await queue.start();
  const built = await buildApp(config, queue, log, telemetry);
  try {
    await built.app.listen({ port: config.PORT, host: config.HOST });
  } catch (err) {
    await Promise.allSettled([built.app.close(), queue.close(), host.close(), telemetry.tracing.shutdown()]);
    throw err;
  }
  const port = listeningPort(built.app);
  watchEventLoop(config.STUCK_EXIT_MS, 'start');
  log.info({ port, models: host.models }, `ready: open http://localhost:${port}/`);
  exitOnSignals(
    createShutdown(log, [
      ...httpShutdownSteps(built, () => config.SHUTDOWN_DRAIN_MS, config.REQUEST_TIMEOUT_MS),
      ['close queue', () => queue.close()],
      ['release models', () => host.close()],
      ['send the last spans', () => telemetry.tracing.shutdown()],
    ]),
    log,
  );
}

async function runWithRedis(config: Config, log: Logger): Promise<void> {
  const redisUrl = redisUrlOf(config);
  const workers = workerProcessCount(config);
  if (config.WORKER_METRICS_PORT && config.WORKER_METRICS_PORT + workers - 1 > 65535) {
    throw new ConfigError(`invalid configuration:\n  WORKER_METRICS_PORT ${config.WORKER_METRICS_PORT} leaves no room for ${workers} workers' ports (one each, up to 65535)`);
  }
  const metricsPorts = config.WORKER_METRICS_PORT ? `${config.WORKER_METRICS_PORT}-${config.WORKER_METRICS_PORT + workers - 1}` : 'off';
  log.info({ redis: redactUrl(redisUrl), workers, workerMetricsPorts: metricsPorts }, 'redis mode: api here, model workers in their own processes');
  const env = { ...process.env, REDIS_URL: redisUrl, QUEUE_MODE: 'redis' };
  // A worker that cannot start with these settings never served anything: no load balancer to drain.
  let unstartable = false;
  const supervisor = new WorkerSupervisor({
    count: workers,
    env,
    log,
    metricsPort: config.WORKER_METRICS_PORT,
    onUnstartable: (reason) => {
      log.fatal({ reason }, 'a model worker cannot start with this configuration: stopping');
      process.exitCode = 1;
      unstartable = true;
      process.kill(process.pid, 'SIGTERM'); // the same stop as a Ctrl-C, without the drain period
    },
  });
  // The api listens first: when it cannot (port in use), no worker was started to be left behind.
  // On shutdown HTTP drains first (in-flight requests still get their answers), then the workers stop.
  // While a worker that died is restarted, its models' requests wait for the successor instead of a 503.
  const port = await runApiServer(
    { ...config, REDIS_URL: redisUrl },
    [['stop model workers', () => supervisor.stop()]],
    { restartingModels: () => supervisor.restartingModels() },
    () => (unstartable ? 0 : config.SHUTDOWN_DRAIN_MS),
  );
  supervisor.start();
  log.info(`listening: open http://localhost:${port}/ (answers once Redis answers and a worker has loaded its model: /readyz says which is missing)`);
}

async function main(): Promise<void> {
  const config = loadConfig();
  const log = createLogger(config.LOG_LEVEL, 'start');
  await ensureModels(config, log);
  const mode = await chooseMode(config);
  if (mode === 'embedded') await runEmbedded(config, log);
  else await runWithRedis(config, log);
}

main().catch((err: unknown) => {
  console.error(startFailure(err));
  process.exit(1);
});
