/**
 * /readyz says why the queue cannot be used when Redis said so: a refused password names REDIS_URL,
 * where "does not answer" would send the operator to the network. A real private redis-server with
 * a password; the api built as the server builds it, on a Redis producer.
 */
import assert from 'node:assert/strict';
import { after, it } from 'node:test';
import { loadConfig } from '@icls/lib/config';
import { createLogger } from '@icls/lib/logger';
import { connectRedis } from '@icls/lib/queue/redis-connection';
import { RedisConsumer } from '@icls/lib/queue/redis-consumer';
import { RedisProducer } from '@icls/lib/queue/redis-producer';
import { solidPng, tempDir } from '../../tests/helpers/fixtures.ts';
import { multipartBody } from '../../tests/helpers/raw-http.ts';
import { startPrivateRedis } from '../../tests/helpers/redis-server.ts';
import { buildApp } from './app.ts';

const log = createLogger('silent', 'test');
const cleanups: (() => Promise<unknown> | unknown)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

async function readiness(redisUrl: string) {
  const producer = new RedisProducer({ redisUrl, prefix: 'readyz', maxQueued: 4, deadAfterMs: 2000, log });
  const config = loadConfig({ QUEUE_MODE: 'redis', REDIS_URL: redisUrl, UPLOAD_DIR: await tempDir('uploads'), FEEDBACK_DIR: await tempDir('feedback'), LOG_LEVEL: 'silent' });
  const { app } = await buildApp(config, producer, log);
  cleanups.push(() => app.close(), () => producer.close());
  const readyz = async () => (await app.inject({ url: '/readyz' })).json() as { status: string; reason?: string };
  const predict = async () => {
    const { body, contentType } = multipartBody([{ name: 'file', filename: 'p.png', value: await solidPng([9, 9, 9]) }]);
    const r = await app.inject({ method: 'POST', url: '/v1/predict', payload: body, headers: { 'content-type': contentType } });
    return { status: r.statusCode, body: r.json() as { error?: { code: string; message: string } } };
  };
  return Object.assign(readyz, { predict });
}

it('a password Redis refuses: /readyz names it and REDIS_URL; with the password, the queue answers', async () => {
  const redis = await startPrivateRedis();
  cleanups.push(() => redis.stop());
  redis.requirePassword('pw');

  const without = await readiness(redis.url);
  let body = await without();
  for (const until = Date.now() + 3000; !body.reason?.includes('NOAUTH') && Date.now() < until; body = await without()) await new Promise((r) => setTimeout(r, 50));
  assert.equal(body.status, 'not ready');
  assert.match(body.reason ?? '', /^the queue \(Redis\) cannot be used: NOAUTH .*set the user and password in REDIS_URL/);
  // A prediction says the same, not that Redis is unreachable: it answered, and said what to change.
  const refused = await without.predict();
  assert.equal(refused.status, 503, JSON.stringify(refused.body));
  assert.equal(refused.body.error?.code, 'NOT_READY', JSON.stringify(refused.body));
  assert.match(refused.body.error?.message ?? '', /the queue \(Redis\) cannot be used: NOAUTH .*set the user and password in REDIS_URL/);

  const withPassword = await readiness(redis.url.replace('redis://', 'redis://:pw@'));
  body = await withPassword();
  for (const until = Date.now() + 3000; body.reason?.startsWith('the queue') && Date.now() < until; body = await withPassword()) await new Promise((r) => setTimeout(r, 50));
  assert.equal(body.reason, 'no model worker is running (none has started yet, or every one has stopped)', 'the queue answers; only the workers are missing');
});

it('Redis refusing writes while no worker beats: /readyz says so, not that a worker is being restarted', async () => {
  const redis = await startPrivateRedis();
  cleanups.push(() => redis.stop());
  const admin = connectRedis(redis.url, 'test-admin', log);
  cleanups.push(() => admin.disconnect());
  if (admin.status !== 'ready') await new Promise((r) => admin.once('ready', r));
  const producer = new RedisProducer({ redisUrl: redis.url, prefix: 'refusing', maxQueued: 4, deadAfterMs: 1000, log });
  const config = loadConfig({ QUEUE_MODE: 'redis', REDIS_URL: redis.url, DEFAULT_MODEL: 'm', WORKER_RESTART_GRACE_MS: '2000', UPLOAD_DIR: await tempDir('uploads'), FEEDBACK_DIR: await tempDir('feedback'), LOG_LEVEL: 'silent' });
  const { app } = await buildApp(config, producer, log);
  cleanups.push(() => app.close(), () => producer.close());
  const ready = async () => (await app.inject({ url: '/readyz' })).json() as { status: string; workers: number; reason?: string };
  const until = async (what: string, check: (b: Awaited<ReturnType<typeof ready>>) => boolean) => {
    let body = await ready();
    for (const end = Date.now() + 5000; !check(body) && Date.now() < end; body = await ready()) await new Promise((r) => setTimeout(r, 50));
    assert.ok(check(body), `${what}: ${JSON.stringify(body)}`);
    return body;
  };

  const worker = new RedisConsumer({ redisUrl: redis.url, prefix: 'refusing', resultTtlS: 60, models: ['m'], concurrency: 1, deadAfterMs: 1000, workerId: 'w1', log, handler: async () => assert.fail('no job is sent') });
  await worker.start();
  await until('the worker serves m', (b) => b.status === 'ready' && b.workers === 1);
  await worker.close();
  const awaited = await until('its successor is awaited', (b) => b.workers === 0);
  assert.equal(awaited.status, 'ready');
  assert.match(awaited.reason ?? '', /queued for the worker being restarted/);

  await admin.config('SET', 'maxmemory-policy', 'noeviction');
  await admin.config('SET', 'maxmemory', '1');
  try {
    const refused = await until('not ready', (b) => b.status === 'not ready');
    assert.equal(refused.reason, 'the queue (Redis) refuses writes: it is out of memory (maxmemory)');
    // Past the grace, no model is served at all: still the refusal, for /readyz and for a prediction.
    await new Promise((r) => setTimeout(r, 2500));
    assert.equal((await ready()).reason, 'the queue (Redis) refuses writes: it is out of memory (maxmemory)');
    const predicted = await app.inject({ method: 'POST', url: '/v1/predict', headers: { 'content-type': 'image/png' }, payload: Buffer.alloc(10) });
    assert.equal(predicted.statusCode, 503);
    assert.equal(predicted.json().error.message, 'The service cannot take this request now: the queue (Redis) refuses writes: it is out of memory (maxmemory)');
  } finally {
    await admin.config('SET', 'maxmemory', '0');
  }
});

it('a hung Redis (SIGSTOP): /readyz gives the reason the refused requests are given', async () => {
  const redis = await startPrivateRedis();
  cleanups.push(() => redis.stop());
  const readyz = await readiness(redis.url);
  let body = await readyz();
  for (const until = Date.now() + 3000; body.reason?.startsWith('the queue') && Date.now() < until; body = await readyz()) await new Promise((r) => setTimeout(r, 50));
  redis.pause();
  cleanups.push(() => redis.resume());
  // The first unanswered call marks Redis as not answering (within about a second); then both are refused at once.
  let refused = await readyz.predict();
  for (const until = Date.now() + 5000; refused.body.error?.message !== 'The service cannot take this request now: the queue (Redis) did not answer in time' && Date.now() < until; refused = await readyz.predict()) await new Promise((r) => setTimeout(r, 50));
  assert.equal(refused.status, 503, JSON.stringify(refused.body));
  assert.equal(refused.body.error?.message, 'The service cannot take this request now: the queue (Redis) did not answer in time');
  body = await readyz();
  assert.equal(body.status, 'not ready');
  assert.equal(body.reason, 'the queue (Redis) did not answer in time');
});
