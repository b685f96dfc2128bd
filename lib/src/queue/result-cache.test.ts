/**
 * The result cache: in process (embedded mode) by value, and through the Redis queue against a real
 * Redis (fails, never skips, without one): answers come back marked cached without the worker running,
 * the cache stays within its bounds, and images travel inside jobs byte for byte.
 */
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { DEFAULT_REDIS_URL } from '../config.ts';
import type { JobData, JobResult } from '../job-contract.ts';
import { createLogger } from '../logger.ts';
import { deleteRedisPrefix } from '../../../tests/helpers/processes.ts';
import { connectRedis } from './redis-connection.ts';
import { RedisConsumer } from './redis-consumer.ts';
import { cacheEntryPrefix, cacheKeys } from './redis-keys.ts';
import { RedisProducer, SCRIPT_IMAGE_MAX_BYTES } from './redis-producer.ts';
import { keepsAnswer, MemoryResultCache } from './result-cache.ts';

const result = (id: string, label = 'x'): JobResult => ({
  id, model: 'm', modelVersion: '1', predictions: [{ label, score: 1 }], timings: { queueMs: 1, preprocessMs: 2, inferenceMs: 3 }, worker: 'w',
});

describe('in-process result cache', () => {
  it('answers until the TTL, then forgets', () => {
    const cache = new MemoryResultCache({ ttlS: 10, maxEntries: 10, maxBytes: 10_000 });
    cache.put('a', result('1'), 1000);
    assert.equal(JSON.parse(cache.get('a', 10_999)!).id, '1');
    assert.equal(cache.get('a', 11_000), undefined);
    assert.equal(cache.size, 0);
  });

  it('holds at most maxEntries answers and maxBytes of them, the oldest going first', () => {
    const cache = new MemoryResultCache({ ttlS: 60, maxEntries: 2, maxBytes: 10_000 });
    for (const k of ['a', 'b', 'c']) cache.put(k, result(k), 0);
    assert.deepEqual(['a', 'b', 'c'].map((k) => cache.get(k, 1) !== undefined), [false, true, true]);
    const oneSize = JSON.stringify(result('d')).length;
    const small = new MemoryResultCache({ ttlS: 60, maxEntries: 100, maxBytes: 2 * oneSize + 1 });
    for (const k of ['d', 'e', 'f']) small.put(k, result(k), 0);
    assert.equal(small.size, 2);
    small.put('huge', result('x', 'y'.repeat(3 * oneSize)), 0);
    assert.equal(small.get('huge', 1), undefined, 'an answer over maxBytes is not kept');
  });
});

describe('result cache and image bytes through the Redis queue', () => {
  const REDIS_URL = process.env.TEST_REDIS_URL ?? DEFAULT_REDIS_URL;
  const prefix = `test-${randomBytes(4).toString('hex')}`;
  const log = createLogger('silent', 'test');
  const seen: JobData[] = [];
  const producer = new RedisProducer({ redisUrl: REDIS_URL, prefix, maxQueued: 8, deadAfterMs: 2000, cache: { ttlS: 30, maxEntries: 2, maxBytes: 100_000 }, log });
  const consumer = new RedisConsumer({
    redisUrl: REDIS_URL, prefix, resultTtlS: 60, models: ['m'], concurrency: 2, deadAfterMs: 2000, workerId: `w-${prefix}`, log,
    handler: async (job) => {
      seen.push(job);
      return result(job.id);
    },
  });
  const job = (cacheKey?: string, imageData?: Buffer, cacheVersion?: string): JobData => ({
    id: randomUUID(), image: 'x.png', model: 'm', deadline: Date.now() + 5000, enqueuedAt: Date.now(), topK: 1, cacheKey, imageData, cacheVersion,
  });

  before(async () => {
    assert.ok(await producer.whenReady(5000), `Redis must answer at ${REDIS_URL}`);
    await consumer.start();
  });
  after(async () => {
    await consumer.close();
    await producer.close();
    await deleteRedisPrefix(prefix);
  });

  it('an image travels inside its job byte for byte (every byte value, not UTF-8 text), through the add script or, larger, a plain XADD', async () => {
    for (const size of [100_000, SCRIPT_IMAGE_MAX_BYTES + 1, 1_500_000]) {
      const bytes = Buffer.concat([Buffer.from(Array.from({ length: 256 }, (_, i) => i)), randomBytes(size - 256)]);
      const r = await producer.submit(job(undefined, bytes));
      assert.equal(r.cached, undefined);
      assert.ok(seen.at(-1)!.imageData?.equals(bytes), `${size} bytes`);
    }
  });

  it('a job carrying a large image is answered from the cache too, and added to no stream', async () => {
    const bytes = randomBytes(SCRIPT_IMAGE_MAX_BYTES + 1);
    const computed = await producer.submit(job('kbig', bytes));
    await new Promise((r) => setTimeout(r, 50)); // the answer is stored beside the reply, not before it
    const before = seen.length;
    const again = await producer.submit(job('kbig', bytes));
    assert.equal(again.cached, true);
    assert.deepEqual(again.predictions, computed.predictions);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(seen.length, before, 'no worker ran');
  });

  it('the same cache key is answered from the cache, marked, with no model time; another key is computed', async () => {
    const computed = await producer.submit(job('k1'));
    await new Promise((r) => setTimeout(r, 50)); // the answer is stored beside the reply, not before it
    const before = seen.length;
    const again = await producer.submit(job('k1'));
    assert.equal(seen.length, before, 'no worker ran');
    assert.equal(again.cached, true);
    assert.deepEqual(again.predictions, computed.predictions);
    assert.deepEqual(again.timings, { queueMs: 0, preprocessMs: 0, inferenceMs: 0 });
    assert.notEqual(again.id, computed.id, 'the answer carries this request\'s job id');
    assert.equal((await producer.submit(job('k2'))).cached, undefined);
  });

  it('an answer is kept only when the model version its key names computed it', async () => {
    // The stand-in worker answers as version 1: a key naming version 2 (a worker of it was expected) keeps nothing.
    await producer.submit(job('v:2', undefined, '2'));
    await new Promise((r) => setTimeout(r, 50));
    assert.equal((await producer.submit(job('v:2', undefined, '2'))).cached, undefined);
    await producer.submit(job('v:1', undefined, '1'));
    await new Promise((r) => setTimeout(r, 50));
    assert.equal((await producer.submit(job('v:1', undefined, '1'))).cached, true);
  });

  it('stays within maxEntries (the oldest go) and keeps its byte count, each answer expiring after the TTL', async () => {
    for (const k of ['k3', 'k4']) await producer.submit(job(k));
    await new Promise((r) => setTimeout(r, 50));
    const redis = connectRedis(REDIS_URL, 'test-inspect', log);
    try {
      await new Promise((r) => redis.once('ready', r));
      const keys = cacheKeys(prefix);
      assert.deepEqual(await redis.zrange(keys.index, '0', '-1'), ['k3', 'k4']);
      const sizes = (await redis.hvals(keys.sizes)).map(Number);
      assert.equal(Number(await redis.get(keys.bytes)), sizes.reduce((a, b) => a + b, 0));
      assert.equal(await redis.exists(cacheEntryPrefix(prefix) + 'k1'), 0, 'evicted');
      const ttl = await redis.ttl(cacheEntryPrefix(prefix) + 'k4');
      assert.ok(ttl > 0 && ttl <= 30, `TTL ${ttl}`);
    } finally {
      redis.disconnect();
    }
    assert.equal((await producer.submit(job('k1'))).cached, undefined, 'an evicted answer is computed again');
  });
});

describe('keepsAnswer', () => {
  const answer = (modelBuild?: string) => ({ modelVersion: '1', ...(modelBuild ? { modelBuild } : {}) });

  it('keeps an answer only when the build its key names computed it: same version, other files, nothing kept', () => {
    assert.equal(keepsAnswer({ cacheVersion: '1+aaaaaaaaaaaa' }, answer('1+aaaaaaaaaaaa')), true);
    assert.equal(keepsAnswer({ cacheVersion: '1+aaaaaaaaaaaa' }, answer('1+bbbbbbbbbbbb')), false);
    assert.equal(keepsAnswer({ cacheVersion: '1+aaaaaaaaaaaa' }, answer()), false, 'a worker naming no build did not compute that build');
  });

  it('workers that name no build are checked by their version, as their heartbeats gave it', () => {
    assert.equal(keepsAnswer({ cacheVersion: '1' }, answer()), true);
    assert.equal(keepsAnswer({ cacheVersion: '2' }, answer()), false);
    assert.equal(keepsAnswer({}, answer('1+aaaaaaaaaaaa')), true, 'a key naming no build (embedded mode)');
  });
});
