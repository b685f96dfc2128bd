/**
 * A command sent while Redis is away is reported in words an operator can act on (Redis's address and
 * REDIS_URL), not the client library's own ("Reached the max retries per request limit (which is 0)…").
 * A real client against a port where nothing listens.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { createLogger } from '../logger.ts';
import { closeConnection, connectRedis, isReady, redisErrorText, waitUntilReady, whyNotReady } from './redis-connection.ts';
import { freePort } from '../free-port.ts';
import { startPrivateRedis } from '../../../tests/helpers/redis-server.ts';

it('a command while the connection is down names the address and REDIS_URL; Redis\'s own errors pass unchanged', async () => {
  const port = await freePort();
  const redis = connectRedis(`redis://127.0.0.1:${port}`, 'test', createLogger('silent', 'test'));
  try {
    const err = await redis.ping().then(
      () => assert.fail('PING answered with nothing listening'),
      (e: unknown) => e,
    );
    assert.doesNotMatch(redisErrorText(redis, err), /maxRetriesPerRequest|offline queue/i);
    assert.equal(redisErrorText(redis, err), `no connection to Redis at 127.0.0.1:${port} (it is retried every 0.2 s; check that Redis runs there, and REDIS_URL)`);
    assert.equal(redisErrorText(redis, new Error('WRONGTYPE Operation against a key holding the wrong kind of value')), 'WRONGTYPE Operation against a key holding the wrong kind of value');
  } finally {
    await closeConnection(redis);
  }
});

it('from the moment a connection drops, why it is down names Redis\'s address (it was undefined until a reconnect failed)', async () => {
  const server = await startPrivateRedis();
  const redis = connectRedis(server.url, 'test', createLogger('silent', 'test'));
  try {
    assert.ok(await waitUntilReady(redis, 5000));
    await server.kill();
    const until = Date.now() + 5000;
    while (isReady(redis) && Date.now() < until) await new Promise((r) => setImmediate(r));
    assert.ok(!isReady(redis), 'the connection still says ready 5 s after Redis was killed');
    // Polled through the reconnect attempts: it is never unknown, first the drop, then the refusal.
    for (const stop = Date.now() + 300; Date.now() < stop; ) {
      assert.match(whyNotReady(redis) ?? 'undefined', new RegExp(`127\\.0\\.0\\.1:${server.port}`));
      await new Promise((r) => setTimeout(r, 1));
    }
  } finally {
    await closeConnection(redis);
    await server.stop();
  }
});

it('a database Redis does not have stops the connection, saying so, instead of using database 0', async () => {
  const server = await startPrivateRedis();
  const redis = connectRedis(`${server.url}/99`, 'test', createLogger('silent', 'test'));
  try {
    assert.equal(await waitUntilReady(redis, 3000), false, 'the connection became ready on another database');
    assert.equal(whyNotReady(redis), `REDIS_URL selects database 99, which Redis at 127.0.0.1:${server.port} does not have (ERR DB index is out of range; a default Redis has 0 to 15): fix REDIS_URL and restart`);
    await assert.rejects(redis.set('k', 'v'));
    assert.equal(whyNotReady(redis)?.startsWith('REDIS_URL selects database 99'), true, 'a later error replaced the reason');
  } finally {
    await closeConnection(redis);
    await server.stop();
  }
});

it('rediss:// to a Redis without TLS times out naming the likely cause', async () => {
  const server = await startPrivateRedis();
  const redis = connectRedis(server.url.replace('redis://', 'rediss://'), 'test', createLogger('silent', 'test'));
  try {
    assert.equal(await waitUntilReady(redis, 3000), false);
    assert.equal(whyNotReady(redis), `connect ETIMEDOUT (REDIS_URL says rediss://, TLS: if Redis at 127.0.0.1:${server.port} does not speak TLS, use redis://)`);
  } finally {
    await closeConnection(redis);
    await server.stop();
  }
});
