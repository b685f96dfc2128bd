/**
 * Taking over a replaced worker's jobs at once, against a real Redis (fails, never skips, without one):
 * the replaced worker here keeps beating, so only being told it is dead can hand its job to another.
 */
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, it } from 'node:test';
import { DEFAULT_REDIS_URL } from '../config.ts';
import type { JobHandler, JobResult } from '../job-contract.ts';
import { createLogger } from '../logger.ts';
import { deleteRedisPrefix } from '../../../tests/helpers/processes.ts';
import { RedisConsumer } from './redis-consumer.ts';
import { RedisProducer } from './redis-producer.ts';

const REDIS_URL = process.env.TEST_REDIS_URL ?? DEFAULT_REDIS_URL;
const prefix = `test-${randomBytes(4).toString('hex')}`;
const log = createLogger('silent', 'test');
const answer = (worker: string): JobHandler => async (job) =>
  ({ id: job.id, model: job.model, modelVersion: '1', predictions: [{ label: 'x', score: 1 }], timings: { queueMs: 0, preprocessMs: 0, inferenceMs: 0 }, worker }) satisfies JobResult;
const consumer = (workerId: string, handler: JobHandler) =>
  new RedisConsumer({ redisUrl: REDIS_URL, prefix, resultTtlS: 60, models: ['m'], concurrency: 1, deadAfterMs: 2000, workerId, handler, log });

const producer = new RedisProducer({ redisUrl: REDIS_URL, prefix, maxQueued: 4, deadAfterMs: 2000, log });
after(async () => {
  await producer.close();
  await deleteRedisPrefix(prefix);
});

it('a worker known to have exited has its jobs taken over at the next sweep, however fresh its heartbeat', async () => {
  assert.ok(await producer.whenReady(5000), `Redis must answer at ${REDIS_URL}`);
  let release!: () => void;
  let taken!: () => void;
  const tookIt = new Promise<void>((r) => (taken = r));
  const stuck = consumer('replaced', async (job) => {
    taken();
    await new Promise<void>((r) => (release = r));
    return answer('replaced')(job);
  });
  const successor = consumer('successor', answer('successor'));
  try {
    await stuck.start();
    const reply = producer.submit({ id: randomUUID(), image: 'x.png', model: 'm', deadline: Date.now() + 8000, enqueuedAt: Date.now(), topK: 1 });
    await tookIt;
    await successor.start();
    const t0 = Date.now();
    successor.takeOverFrom('replaced');
    assert.equal((await reply).worker, 'successor');
    assert.ok(Date.now() - t0 < 1900, `took ${Date.now() - t0} ms: no later than WORKER_DEAD_AFTER_MS would have allowed`);
  } finally {
    release?.();
    await Promise.all([stuck.close(), successor.close()]);
  }
});
