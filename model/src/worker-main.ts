/** A model worker process: loads its models, takes jobs from Redis, drains on SIGTERM. */
import { existsSync, readdirSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';
import { ConfigError, loadConfig, redisUrlOf } from '@icls/lib/config';
import { startFailure } from '@icls/lib/start-failure';
import { createLogger, type Logger } from '@icls/lib/logger';
import { startMetricsServer, type MetricsServer } from '@icls/lib/metrics/metrics-server';
import { createRegistry, type MetricsRegistry } from '@icls/lib/metrics/prometheus';
import { RedisConsumer } from '@icls/lib/queue/redis-consumer';
import { watchEventLoop } from '@icls/lib/loop-watchdog';
import { createShutdown, exitOnSignals } from '@icls/lib/shutdown';
import { createTracing } from '@icls/lib/tracing/tracing';
import { redactUrl } from '@icls/lib/redact-url';
import { startModelHost } from './model-host.ts';
import { ALIVE_EVERY_MS } from './worker-supervisor.ts';

export async function runWorker(): Promise<void> {
  const config = loadConfig();
  const log = createLogger(config.LOG_LEVEL, 'model');
  const supervisor = followSupervisor(log);
  lowerPriority(config.WORKER_NICE, log);
  const registry = createRegistry();
  const tracing = await createTracing(config, 'icls-model', log);
  const host = await startModelHost(config, log, { embedded: false }, { registry, tracing });
  const redisUrl = redisUrlOf(config);
  const consumer = new RedisConsumer({
    redisUrl,
    prefix: config.REDIS_PREFIX,
    resultTtlS: config.RESULT_TTL_S,
    log,
    models: host.models,
    versions: host.versions,
    broken: host.broken,
    concurrency: host.plan.concurrency,
    parked: host.parked,
    deadAfterMs: config.WORKER_DEAD_AFTER_MS,
    workerId: host.workerId,
    handler: host.handler,
  });
  const metrics = await serveMetrics(config, registry, log);
  supervisor.onReplaces((dead) => {
    log.info({ replaces: dead }, 'taking over the jobs of the worker this one replaces');
    consumer.takeOverFrom(dead);
  });
  const shutdown = createShutdown(log, [
    ['stop taking jobs and drain', () => consumer.close()],
    ['release models', () => host.close()],
    ['send the last spans', () => tracing.shutdown()],
    ['close the metrics port', () => metrics?.close()],
  ]);
  exitOnSignals(shutdown, log);
  supervisor.stopWith(shutdown);
  await consumer.start();
  // From here a stuck event loop ends the process, for a runtime to restart (loop-watchdog.ts).
  watchEventLoop(config.STUCK_EXIT_MS, 'model');
  log.info(
    {
      worker: host.workerId,
      models: host.models,
      broken: host.broken.map((b) => b.name),
      redis: redactUrl(redisUrl),
      ...host.plan,
      metricsPort: metrics?.port,
      tracing: tracing.enabled,
    },
    'worker ready',
  );
  supervisor.ready(host.workerId, host.models);
}

/**
 * The worker's metrics port. A port that cannot be opened (taken by another program) is logged and
 * the worker serves jobs without it: Prometheus then reports the target down, which is the alert,
 * while the service itself keeps answering.
 */
async function serveMetrics(config: ReturnType<typeof loadConfig>, registry: MetricsRegistry, log: Logger): Promise<MetricsServer | undefined> {
  if (config.WORKER_METRICS_PORT === 0) return undefined;
  try {
    return await startMetricsServer({ registry, host: config.HOST, port: config.WORKER_METRICS_PORT, adminToken: config.ADMIN_TOKEN, log });
  } catch (err) {
    log.error({ err: (err as Error).message, port: config.WORKER_METRICS_PORT }, 'cannot open the metrics port (WORKER_METRICS_PORT); serving jobs without it');
    return undefined;
  }
}

/**
 * Under `npm start` a supervisor started this worker over an IPC channel. It learns from a message
 * that the worker is ready, and its id (a worker that dies before it is backed off; one that dies
 * after is restarted at once, and the new one is told the dead one's id, so it takes its jobs over
 * without waiting for its heartbeat to go stale). When the supervisor's process goes away, even by
 * SIGKILL, the channel closes and the worker stops (draining once it takes jobs) instead of lingering.
 */
function followSupervisor(log: Logger) {
  let stop: () => Promise<void> = async () => undefined;
  let replaces: string | undefined;
  let onReplaces: (dead: string) => void = (dead) => (replaces = dead); // until the queue exists
  process.once('disconnect', () => {
    log.info('the supervising process is gone; stopping');
    void stop().finally(() => process.exit());
  });
  process.on('message', (m: { type?: string; workerId?: unknown }) => {
    if (m?.type === 'replaces' && typeof m.workerId === 'string') onReplaces(m.workerId);
  });
  return {
    stopWith: (shutdown: () => Promise<void>) => (stop = shutdown),
    onReplaces: (handler: (dead: string) => void) => {
      onReplaces = handler;
      if (replaces) handler(replaces);
    },
    ready: (workerId: string, models: readonly string[]) => {
      if (!process.connected) return;
      process.send?.({ type: 'ready', workerId, models });
      // From this thread, so a worker whose event loop is stuck falls silent (see HUNG_AFTER_MS).
      setInterval(() => {
        if (process.connected) process.send?.({ type: 'alive' });
      }, ALIVE_EVERY_MS).unref();
    },
  };
}

/**
 * Workers yield the CPU to the api when both want it: the api's work per request is small, and a
 * delayed api delays every client (and every refusal), while a delayed worker only delays its job.
 * On Linux a nice value belongs to a thread, and setPriority sets one: the threads started before this
 * call (V8's, and libuv's pool, which runs sharp's decodes and starts libvips's threads) kept 0, so
 * decoding competed with the api at full weight (under overload the api's thread waited for a core as
 * long as it ran). Every thread is lowered; threads started later inherit it from theirs.
 */
function lowerPriority(nice: number, log: Logger): void {
  if (nice === 0) return;
  const failed: string[] = [];
  for (const tid of processThreads()) {
    try {
      setPriority(tid, Math.max(getPriority(tid), nice));
    } catch (err) {
      // A thread that ended meanwhile has nothing to lower.
      if ((err as { info?: { code?: string } }).info?.code !== 'ESRCH') failed.push((err as Error).message);
    }
  }
  if (failed.length > 0) log.warn({ err: failed[0], threads: failed.length, nice }, 'could not lower the worker priority; running at normal priority');
}

/** The ids of this process's threads (Linux); elsewhere 0, the calling thread, as setPriority takes it. */
function processThreads(): number[] {
  if (!existsSync('/proc/self/task')) return [0];
  return readdirSync('/proc/self/task').map(Number);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  runWorker().catch((err: unknown) => {
    const reason = startFailure(err);
    console.error(reason);
    // Under `npm start`: a wrong setting is not fixed by a restart, so its supervisor stops too.
    if (err instanceof ConfigError && process.send && process.connected) process.send({ type: 'unstartable', reason }, () => process.exit(1));
    else process.exit(1);
  });
}
