/**
 * A command sent while Redis is away is reported in words an operator can act on (Redis's address and
 * REDIS_URL), not the client library's own ("Reached the max retries per request limit (which is 0)…").
 * A real client against a port where nothing listens.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { createLogger } from '../logger.ts';
import { closeConnection, connectRedis, redisErrorText } from './redis-connection.ts';
import { freePort } from '../free-port.ts';

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
