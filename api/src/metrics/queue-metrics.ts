/**
 * Queue depth per model, read from the queue (Redis) when Prometheus scrapes, not kept up to date
 * on every job: one round trip per scrape (XLEN and XPENDING of both streams of each served model, pipelined, plus
 * the live workers' heartbeats the api already reads), bounded by a deadline. While Redis is away
 * the per-model series are absent and `icls_queue_up` is 0.
 */
import { isAppError } from '@icls/lib/errors';
import type { JobProducer, QueueStats } from '@icls/lib/job-contract';
import type { Logger } from '@icls/lib/logger';
import { Gauge, PREFIX, type MetricsRegistry } from '@icls/lib/metrics/prometheus';
import type { PredictService } from '../predict-service.ts';

/** A scrape waits this long for Redis at most. */
const READ_TIMEOUT_MS = 1000;
/** Concurrent collectors of one scrape share one read. */
const SHARE_MS = 250;
/** Models reported (the served ones; bounded whatever workers announce). */
const MAX_MODELS = 100;

interface Snapshot {
  stats: Map<string, QueueStats>;
  workers: Map<string, number>;
}

export function registerQueueMetrics(registry: MetricsRegistry, producer: JobProducer, predictor: PredictService, log: Logger): void {
  let last: { at: number; read: Promise<Snapshot | undefined> } | undefined;
  const snapshot = (): Promise<Snapshot | undefined> => {
    if (!last || Date.now() - last.at > SHARE_MS) last = { at: Date.now(), read: read() };
    return last.read;
  };
  const read = async (): Promise<Snapshot | undefined> => {
    const deadline = Date.now() + READ_TIMEOUT_MS;
    try {
      const view = await predictor.workerView(deadline, 0);
      const served = view.served;
      const models = [...new Set([...served.keys(), predictor.defaultIn(view)])]
        .filter((m): m is string => !!m)
        .slice(0, MAX_MODELS);
      return { stats: await producer.queueStats(models, deadline), workers: served };
    } catch (err) {
      // Redis away or slow (an AppError: NOT_READY, DEADLINE_EXCEEDED) is what icls_queue_up 0 says,
      // and the connection logs it; anything else is a fault of this code.
      if (!isAppError(err)) log.error({ err }, 'reading the queue for metrics failed');
      return undefined;
    }
  };

  const perModel = (name: string, help: string, value: (s: Snapshot, model: string) => number) =>
    new Gauge({
      name: `${PREFIX}${name}`,
      help,
      labelNames: ['model'],
      registers: [registry],
      async collect() {
        this.reset();
        const s = await snapshot();
        if (s) for (const model of s.stats.keys()) this.set({ model }, value(s, model));
      },
    });
  perModel('queue_length', 'Jobs in the model\'s queue: queued or running (the Redis stream\'s length; KEDA scales workers on it).', (s, m) => s.stats.get(m)!.length);
  perModel('queue_pending', 'Jobs a worker has taken and not yet answered (the consumer group\'s pending entries).', (s, m) => s.stats.get(m)!.pending);
  perModel('queue_workers', 'Live workers holding the model (by their heartbeats).', (s, m) => s.workers.get(m) ?? 0);
  new Gauge({
    name: `${PREFIX}queue_up`,
    help: '1 when the queue (Redis) answered this scrape\'s reads in time, else 0.',
    registers: [registry],
    async collect() {
      this.set((await snapshot()) ? 1 : 0);
    },
  });
}
