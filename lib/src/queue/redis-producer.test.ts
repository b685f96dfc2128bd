/** The api side of the Redis queue against a real Redis (fails, never skips, without one). */
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, it } from 'node:test';
import { sleep } from '../deadline.ts';
import { AppError } from '../errors.ts';
import { createLogger } from '../logger.ts';
import { redisAnswers } from '../redis-probe.ts';
import { DEFAULT_REDIS_URL } from '../config.ts';
import { deleteRedisPrefix } from '../../../tests/helpers/processes.ts';
import { startPrivateRedis } from '../../../tests/helpers/redis-server.ts';
import { connectRedis } from './redis-connection.ts';
import { GROUP, modelStreams } from './redis-keys.ts';
import { RedisConsumer } from './redis-consumer.ts';
import { RedisProducer, SCRIPT_IMAGE_MAX_BYTES } from './redis-producer.ts';

const REDIS_URL = process.env.TEST_REDIS_URL ?? DEFAULT_REDIS_URL;
const prefix = `test-${randomBytes(4).toString('hex')}`;
const producer = new RedisProducer({
  redisUrl: REDIS_URL,
  prefix,
  maxQueued: 1,
  deadAfterMs: 2000,
  log: createLogger('silent', 'test'),
});
const soon = () => Date.now() + 1000;
after(async () => {
  await producer.close();
  await deleteRedisPrefix(prefix);
});

const job = (deadlineMs: number) => ({
  id: randomUUID(),
  image: 'x.png',
  model: 'm',
  deadline: Date.now() + deadlineMs,
  enqueuedAt: Date.now(),
  topK: 1,
});

it('a full queue refuses the next job at once, and admits() says so before any upload is read', async () => {
  assert.ok(await redisAnswers(REDIS_URL, 1000), `Redis must answer at ${REDIS_URL}`);
  assert.ok(await producer.whenReady(5000));
  assert.equal(await producer.admits('m', soon()), true);
  // Uploads being read for the model count as queued: with the queue's one place taken by them, no.
  assert.equal(await producer.admits('m', soon(), 1), false);
  assert.equal(producer.lone('m'), true, 'nothing in flight, nothing queued');
  // No worker: the first job stays queued until its deadline.
  const first = producer.submit(job(1500)).catch((err: unknown) => err);
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(producer.lone('m'), false, 'a job in flight');
  await assert.rejects(producer.submit(job(1500)), (err: unknown) => err instanceof AppError && err.code === 'QUEUE_FULL' && err.retryAfterS === 1);
  // Another api's jobs meet the bound in Redis, a job whose image is too large for the add script too.
  const otherApi = new RedisProducer({ redisUrl: REDIS_URL, prefix, maxQueued: 1, deadAfterMs: 2000, log: createLogger('silent', 'test') });
  try {
    assert.ok(await otherApi.whenReady(5000));
    for (const imageData of [Buffer.alloc(1000), Buffer.alloc(SCRIPT_IMAGE_MAX_BYTES + 1)]) {
      await assert.rejects(otherApi.submit({ ...job(1500), imageData }), (err: unknown) => err instanceof AppError && err.code === 'QUEUE_FULL' && /: the queue for model m is full \(1 job queued or running\)$/.test(err.message));
    }
  } finally {
    await otherApi.close();
  }
  assert.equal(await producer.admits('m', soon()), false);
  assert.equal(await producer.admits('other-model', soon()), true);
  const firstOutcome = await first;
  assert.ok(firstOutcome instanceof AppError && firstOutcome.code === 'DEADLINE_EXCEEDED');
  // Its job timed out unanswered and is still queued: the next request is not lone (its image would have
  // joined it in Redis: two lone images per api, not one).
  assert.equal(producer.lone('m'), false);
});

it('a job added before any worker exists is answered once a worker starts', async () => {
  const consumer = new RedisConsumer({
    redisUrl: REDIS_URL,
    prefix,
    resultTtlS: 60,
    models: ['late'],
    concurrency: 1,
    deadAfterMs: 2000,
    workerId: 'late-worker',
    log: createLogger('silent', 'test'),
    handler: async (j) => ({ id: j.id, model: j.model, modelVersion: '1', predictions: [{ label: 'x', score: 1 }], timings: { queueMs: 0, preprocessMs: 0, inferenceMs: 0 }, worker: 'late-worker' }),
  });
  const answer = producer.submit({ ...job(5000), model: 'late' });
  await new Promise((r) => setTimeout(r, 100));
  await consumer.start();
  try {
    assert.equal((await answer).worker, 'late-worker');
  } finally {
    await consumer.close();
  }
});

it('a job parked (waiting for decode memory) frees its slot: the job behind it runs meanwhile', async () => {
  let parked = 0;
  let changed = () => {};
  let secondDone!: () => void;
  const secondRan = new Promise<void>((resolve) => (secondDone = resolve));
  const answer = (j: { id: string; model: string }) => ({ id: j.id, model: j.model, modelVersion: '1', predictions: [{ label: 'x', score: 1 }], timings: { queueMs: 0, preprocessMs: 0, inferenceMs: 0 }, worker: 'parking' });
  const consumer = new RedisConsumer({
    redisUrl: REDIS_URL, prefix, resultTtlS: 60, models: ['parking'], concurrency: 1, deadAfterMs: 2000, workerId: 'parking', log: createLogger('silent', 'test'),
    parked: { count: () => parked, onChange: (listener) => (changed = listener) },
    handler: async (j) => {
      if (j.topK === 1) {
        // The first job waits for room that only comes once the second has run: without parking, with one slot, never.
        parked++;
        changed();
        await secondRan;
        parked--;
        changed();
      } else {
        secondDone();
      }
      return answer(j);
    },
  });
  // The shared producer holds one job per model; this one two.
  const api = new RedisProducer({ redisUrl: REDIS_URL, prefix, maxQueued: 2, deadAfterMs: 2000, log: createLogger('silent', 'test') });
  await consumer.start();
  try {
    assert.ok(await api.whenReady(5000));
    const first = api.submit({ ...job(5000), model: 'parking', topK: 1 });
    await new Promise((r) => setTimeout(r, 100));
    const second = api.submit({ ...job(5000), model: 'parking', topK: 2 });
    const [a, b] = await Promise.allSettled([first, second]);
    assert.equal(b.status === 'fulfilled' && b.value.worker, 'parking', `the second job was answered: ${b.status === 'rejected' ? b.reason : ''}`);
    assert.equal(a.status === 'fulfilled' && a.value.worker, 'parking', `the first one too: ${a.status === 'rejected' ? a.reason : ''}`);
  } finally {
    await consumer.close();
    await api.close();
  }
});

it('heavy jobs have their own lane: a worker holds one at a time, ordinary jobs go past them; the bound counts both, heavy ones take an eighth of it', async () => {
  const model = 'lanes';
  const api = new RedisProducer({ redisUrl: REDIS_URL, prefix, maxQueued: 16, deadAfterMs: 2000, log: createLogger('silent', 'test') });
  const heavyNow = { running: 0, most: 0 };
  let letHeavyGo!: () => void;
  const heavyMayGo = new Promise<void>((resolve) => (letHeavyGo = resolve));
  const consumer = new RedisConsumer({
    redisUrl: REDIS_URL, prefix, resultTtlS: 60, models: [model], concurrency: 1, deadAfterMs: 2000, workerId: 'lanes', log: createLogger('silent', 'test'),
    handler: async (j) => {
      if (j.heavy) {
        heavyNow.most = Math.max(heavyNow.most, ++heavyNow.running);
        await heavyMayGo;
        heavyNow.running--;
      }
      return { id: j.id, model: j.model, modelVersion: '1', predictions: [{ label: j.heavy ? 'heavy' : 'ordinary', score: 1 }], timings: { queueMs: 0, preprocessMs: 0, inferenceMs: 0 }, worker: 'lanes' };
    },
  });
  try {
    assert.ok(await api.whenReady(5000));
    // No worker yet: of five heavy jobs sent at once, two fill their share of the bound (16 / 8), however
    // large their images (over SCRIPT_IMAGE_MAX_BYTES, checked and added apart, all five went in); ordinary
    // ones still go in, and with them the model's bound of 16 is full.
    const tries = Array.from({ length: 5 }, () => api.submit({ ...job(8000), model, heavy: true, imageData: Buffer.alloc(SCRIPT_IMAGE_MAX_BYTES + 1) }));
    const refused = new Map<number, unknown>();
    tries.forEach((t, i) => t.catch((err: unknown) => void refused.set(i, err)));
    await sleep(200);
    const refusals = [...refused.values()];
    assert.equal(refusals.length, 3, 'three refused');
    const heavy = tries.filter((_, i) => !refused.has(i));
    for (const err of refusals) {
      assert.ok(err instanceof AppError && err.code === 'QUEUE_FULL' && err.retryAfterS === 2 && /model lanes holds as many very large images .* as it takes \(2 queued or running\); smaller images are still taken$/.test(err.message), String(err));
    }
    const ordinary = Array.from({ length: 14 }, () => api.submit({ ...job(8000), model }));
    await sleep(100);
    assert.deepEqual((await api.queueStats([model], soon())).get(model), { length: 16, pending: 0 });
    await assert.rejects(api.submit({ ...job(8000), model }), (err: unknown) => err instanceof AppError && err.code === 'QUEUE_FULL' && /is full \(16 jobs/.test(err.message));
    assert.equal(await api.admits(model, soon()), false);

    await consumer.start();
    // With one slot, the ordinary jobs are answered while the first heavy one is held, the second waiting in Redis.
    for (const answer of await Promise.all(ordinary)) assert.equal(answer.predictions[0]!.label, 'ordinary');
    assert.equal(heavyNow.running, 1);
    assert.deepEqual((await api.queueStats([model], soon())).get(model), { length: 2, pending: 1 });
    letHeavyGo();
    for (const answer of await Promise.all(heavy)) assert.equal(answer.predictions[0]!.label, 'heavy');
    assert.equal(heavyNow.most, 1, 'one heavy job at a time');
  } finally {
    letHeavyGo();
    await consumer.close();
    await api.close();
  }
});

it('a worker serving several models holds no more jobs than its slots, and takes them oldest first across the models', async () => {
  const models = ['many-a', 'many-b', 'many-c'];
  const api = new RedisProducer({ redisUrl: REDIS_URL, prefix, maxQueued: 4, deadAfterMs: 2000, log: createLogger('silent', 'test') });
  const now = { running: 0, most: 0, held: 0 };
  const order: string[] = [];
  const redis = connectRedis(REDIS_URL, 'test-pending', createLogger('silent', 'test'));
  // Delivered to the worker and not yet answered: its pending entries in the models' streams.
  const held = async () => {
    let n = 0;
    for (const key of models.map((m) => modelStreams(prefix, m)[0])) n += ((await redis.call('XPENDING', key, GROUP, '-', '+', 100, 'many')) as unknown[]).length;
    return n;
  };
  const consumer = new RedisConsumer({
    redisUrl: REDIS_URL, prefix, resultTtlS: 60, models, concurrency: 1, deadAfterMs: 2000, workerId: 'many', log: createLogger('silent', 'test'),
    handler: async (j) => {
      now.most = Math.max(now.most, ++now.running);
      now.held = Math.max(now.held, await held());
      order.push(j.id);
      await sleep(20);
      now.running--;
      return { id: j.id, model: j.model, modelVersion: '1', predictions: [{ label: 'x', score: 1 }], timings: { queueMs: 0, preprocessMs: 0, inferenceMs: 0 }, worker: 'many' };
    },
  });
  try {
    assert.ok(await api.whenReady(5000));
    // Queued before the worker starts, each model's stream holding three: one XREADGROUP of the three
    // streams with COUNT 1 (COUNT is per stream) brings three jobs for one slot.
    const sent: string[] = [];
    const answers: Promise<unknown>[] = [];
    for (let round = 0; round < 3; round++) {
      for (const model of models) {
        const j = { ...job(8000), model };
        sent.push(j.id);
        answers.push(api.submit(j));
        await sleep(2); // distinct milliseconds: the order is the entries' ids
      }
    }
    await sleep(100);
    await consumer.start();
    await Promise.all(answers);
    assert.equal(now.most, 1, 'one slot, one job at a time');
    assert.equal(now.held, 1, 'no job taken from Redis beyond the slot (another worker may run it)');
    assert.deepEqual(order, sent, 'oldest first, whichever model');
  } finally {
    await consumer.close();
    await api.close();
    redis.disconnect();
  }
});

it('a worker serving several models reads on after Redis restarted empty (its groups made again)', async () => {
  const redis = await startPrivateRedis();
  const log = createLogger('silent', 'test');
  const api = new RedisProducer({ redisUrl: redis.url, prefix: 'regroup', maxQueued: 4, deadAfterMs: 2000, log });
  const consumer = new RedisConsumer({
    redisUrl: redis.url, prefix: 'regroup', resultTtlS: 60, models: ['m', 'other'], concurrency: 1, deadAfterMs: 2000, workerId: 'regroup', log,
    handler: async (j) => ({ id: j.id, model: j.model, modelVersion: '1', predictions: [{ label: 'x', score: 1 }], timings: { queueMs: 0, preprocessMs: 0, inferenceMs: 0 }, worker: 'regroup' }),
  });
  try {
    assert.ok(await api.whenReady(5000));
    await consumer.start();
    assert.equal((await api.submit(job(5000))).worker, 'regroup');
    await redis.kill();
    await redis.restart(); // empty: no stream, no group
    assert.ok(await api.whenReady(5000));
    for (const model of ['m', 'other']) assert.equal((await api.submit({ ...job(8000), model })).worker, 'regroup', model);
  } finally {
    await consumer.close();
    await api.close();
    await redis.stop();
  }
});

it('a job Redis lost in a restart is added again on reconnect, and answered by a worker that starts after', async () => {
  const redis = await startPrivateRedis();
  const log = createLogger('silent', 'test');
  const api = new RedisProducer({ redisUrl: redis.url, prefix: 'readd', maxQueued: 4, deadAfterMs: 2000, log });
  const consumer = new RedisConsumer({
    redisUrl: redis.url, prefix: 'readd', resultTtlS: 60, models: ['m'], concurrency: 1, deadAfterMs: 2000, workerId: 'after-restart', log,
    handler: async (j) => ({ id: j.id, model: j.model, modelVersion: '1', predictions: [{ label: 'x', score: 1 }], timings: { queueMs: 0, preprocessMs: 0, inferenceMs: 0 }, worker: 'after-restart' }),
  });
  try {
    assert.ok(await api.whenReady(5000));
    const answer = api.submit(job(8000));
    await new Promise((r) => setTimeout(r, 100)); // added to the stream, and nobody reads it yet
    await redis.kill();
    await assert.rejects(api.submit(job(8000)), (err: unknown) => err instanceof AppError && err.code === 'NOT_READY' && err.retryAfterS === 1);
    await redis.restart(); // empty: the stream and the job in it are gone
    assert.ok(await api.whenReady(5000));
    await consumer.start();
    assert.equal((await answer).worker, 'after-restart');
  } finally {
    await consumer.close();
    await api.close();
    await redis.stop();
  }
});

it('Redis out of memory (maxmemory): a job is refused with 503 NOT_READY that says so, not "unreachable"', async () => {
  const redis = await startPrivateRedis();
  const log = createLogger('silent', 'test');
  const api = new RedisProducer({ redisUrl: redis.url, prefix: 'oom', maxQueued: 4, deadAfterMs: 2000, log });
  const admin = connectRedis(redis.url, 'test-admin', log);
  try {
    assert.ok(await api.whenReady(5000));
    if (admin.status !== 'ready') await new Promise((r) => admin.once('ready', r));
    assert.equal(await api.writeRefusal(Date.now() + 1000), undefined, 'writes are taken');
    // 1 MiB of data, then a limit below what Redis already uses: every write is refused from then on.
    for (let i = 0; i < 64; i++) await admin.set(`fill-${i}`, 'x'.repeat(16 * 1024));
    const used = Number(/used_memory:(\d+)/.exec(await admin.info('memory'))![1]);
    await admin.config('SET', 'maxmemory-policy', 'noeviction');
    await admin.config('SET', 'maxmemory', String(used - 256 * 1024));
    await assert.rejects(admin.set('one-more', 'x'), /^ReplyError: OOM/);
    assert.equal(await api.writeRefusal(Date.now() + 1000), 'it is out of memory (maxmemory)', 'what /readyz says instead of a worker being restarted');
    await assert.rejects(api.submit(job(2000)), (err: unknown) => {
      assert.ok(err instanceof AppError, String(err));
      assert.equal(err.code, 'NOT_READY');
      assert.equal(err.retryAfterS, 1);
      assert.match(err.message, /the queue \(Redis\) refused the job: it is out of memory \(maxmemory\)/);
      return true;
    });
  } finally {
    admin.disconnect();
    await api.close();
    await redis.stop();
  }
});

it('a Redis that stops answering (hung, a network black hole): 503 NOT_READY with Retry-After at the lookup\'s bound, not a 504', async () => {
  const redis = await startPrivateRedis();
  const api = new RedisProducer({ redisUrl: redis.url, prefix: 'hung', maxQueued: 4, deadAfterMs: 2000, log: createLogger('silent', 'test') });
  try {
    assert.ok(await api.whenReady(5000));
    redis.pause();
    const t0 = Date.now();
    for (const call of [() => api.workerView(Date.now() + 300), () => api.admits('m', Date.now() + 300)]) {
      await assert.rejects(call(), (err: unknown) => {
        assert.ok(err instanceof AppError, String(err));
        assert.equal(err.code, 'NOT_READY');
        assert.equal(err.retryAfterS, 1);
        assert.match(err.message, /the queue \(Redis\) did not answer in time/);
        return true;
      });
    }
    assert.ok(Date.now() - t0 < 2000, 'each bounded by its deadline');
    // The first call that went unanswered tells the next ones: they fail at once, not at their own bound.
    const t1 = Date.now();
    await assert.rejects(api.admits('m', Date.now() + 5000), /the queue \(Redis\) did not answer in time/);
    await assert.rejects(api.submit(job(5000)), /the queue \(Redis\) did not answer in time/);
    assert.ok(Date.now() - t1 < 100, `refused at once while Redis is silent (${Date.now() - t1} ms)`);
    // Redis answers again: used again within a probe's period.
    redis.resume();
    const t2 = Date.now();
    while (Date.now() - t2 < 3000) {
      if (await api.admits('m', Date.now() + 1000).then(() => true, () => false)) break;
      await sleep(20);
    }
    assert.equal(await api.admits('m', Date.now() + 1000), true, 'used again once it answers');
    assert.ok(Date.now() - t2 < 1000, `used again ${Date.now() - t2} ms after it answered`);
  } finally {
    redis.resume();
    await api.close();
    await redis.stop();
  }
});

it('calls already waiting on a Redis that stopped answering give up with the first one to go unanswered', async () => {
  const redis = await startPrivateRedis();
  const api = new RedisProducer({ redisUrl: redis.url, prefix: 'hung-cut', maxQueued: 4, deadAfterMs: 2000, log: createLogger('silent', 'test') });
  try {
    assert.ok(await api.whenReady(5000));
    redis.pause();
    const t0 = Date.now();
    // The queue-length read would wait for its 2 s command bound, the job's add for the same; the lookup's 300 ms deadline comes first.
    const waiting = [api.admits('m', Date.now() + 10_000), api.submit(job(10_000))].map((p) => p.then(() => 'answered', (err: Error) => err.message));
    await assert.rejects(api.workerView(Date.now() + 300), /did not answer in time/);
    for (const message of await Promise.all(waiting)) assert.match(message, /the queue \(Redis\) did not answer in time/);
    assert.ok(Date.now() - t0 < 1000, `all given up with the lookup, ${Date.now() - t0} ms after the pause`);
  } finally {
    redis.resume();
    await api.close();
    await redis.stop();
  }
});

it('a deadline that passes while the api itself was held up (its answer already in) does not mark a Redis that answers as silent', async () => {
  const redis = await startPrivateRedis();
  const api = new RedisProducer({ redisUrl: redis.url, prefix: 'stalled-loop', maxQueued: 4, deadAfterMs: 2000, log: createLogger('silent', 'test') });
  try {
    assert.ok(await api.whenReady(5000));
    const late = api.workerView(Date.now() + 300);
    // The call is sent; the thread is then held for longer than its deadline (a GC pause, a CPU taken by the workers).
    setImmediate(() => {
      const until = Date.now() + 500;
      while (Date.now() < until);
    });
    await assert.rejects(late, /did not answer in time/, 'its timer fires before its answer is read');
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(await api.admits('m', Date.now() + 1000), true, 'Redis answered meanwhile: the next calls go through');
  } finally {
    await api.close();
    await redis.stop();
  }
});

it('a job added as Redis stops answering: 503 "did not answer in time" at the command bound (it said "unreachable")', async () => {
  const redis = await startPrivateRedis();
  const api = new RedisProducer({ redisUrl: redis.url, prefix: 'hung-add', maxQueued: 4, deadAfterMs: 2000, log: createLogger('silent', 'test') });
  try {
    assert.ok(await api.whenReady(5000));
    redis.pause();
    const t0 = Date.now();
    await assert.rejects(api.submit(job(10_000)), (err: unknown) => {
      assert.ok(err instanceof AppError, String(err));
      assert.equal(err.code, 'NOT_READY');
      assert.match(err.message, /the queue \(Redis\) did not answer in time/);
      return true;
    });
    assert.ok(Date.now() - t0 < 3000, 'at the 2 s command bound, not the job deadline');
  } finally {
    redis.resume();
    await api.close();
    await redis.stop();
  }
});
