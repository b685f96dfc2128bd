/**
 * The queue's own hand-over cost: one client submits jobs that a worker answers with no work, through
 * the real RedisProducer and RedisConsumer, and prints the round-trip percentiles.
 *   node --conditions=source --import tsx bench/queue-roundtrip.ts [--jobs 1000] [--redis redis://127.0.0.1:6379]
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { DEFAULT_REDIS_URL } from '@icls/lib/config';
import type { JobResult } from '@icls/lib/job-contract';
import { createLogger } from '@icls/lib/logger';
import { RedisConsumer } from '@icls/lib/queue/redis-consumer';
import { deleteKeysWithPrefix } from '@icls/lib/queue/redis-connection';
import { RedisProducer } from '@icls/lib/queue/redis-producer';
import { percentileSorted } from './stats.ts';

const { values } = parseArgs({
  options: { jobs: { type: 'string', default: '1000' }, redis: { type: 'string', default: process.env.REDIS_URL ?? DEFAULT_REDIS_URL } },
});
const jobs = Number(values.jobs);
const prefix = `icls-roundtrip-${randomBytes(4).toString('hex')}`;
const log = createLogger('warn', 'roundtrip');
const producer = new RedisProducer({ redisUrl: values.redis!, prefix, maxQueued: 100, deadAfterMs: 2000, log });
const consumer = new RedisConsumer({
  redisUrl: values.redis!,
  prefix,
  resultTtlS: 60,
  models: ['noop'],
  concurrency: 2,
  deadAfterMs: 2000,
  workerId: 'roundtrip-worker',
  log,
  handler: async (job): Promise<JobResult> => ({
    id: job.id,
    model: job.model,
    modelVersion: '1',
    predictions: [],
    timings: { queueMs: 0, preprocessMs: 0, inferenceMs: 0 },
    worker: 'roundtrip-worker',
  }),
});
try {
  await consumer.start();
  if (!(await producer.whenReady(5000))) throw new Error(`Redis at ${values.redis} did not answer`);
  const ms: number[] = [];
  for (let i = 0; i < jobs; i++) {
    const t0 = performance.now();
    await producer.submit({ id: randomUUID(), image: 'none', model: 'noop', deadline: Date.now() + 5000, enqueuedAt: Date.now(), topK: 1 });
    if (i >= 50) ms.push(performance.now() - t0); // the first ones warm up connections and scripts
  }
  ms.sort((a, b) => a - b);
  const at = (p: number) => percentileSorted(ms, p).toFixed(3);
  console.log(`queue round trip, ${ms.length} jobs after warm-up: p50 ${at(50)} ms, p90 ${at(90)} ms, p99 ${at(99)} ms`);
} finally {
  await consumer.close();
  await producer.close();
  await deleteKeysWithPrefix(values.redis!, prefix);
}
