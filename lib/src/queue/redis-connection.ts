/**
 * Redis connections (ioredis). The only module that imports a Redis client library.
 * Every connection retries forever with a capped back-off: a Redis restart is survived, and requests
 * waiting meanwhile fail at their own deadline instead of piling up retries here.
 */
import { Redis } from 'ioredis';
import type { Logger } from '../logger.ts';

export type RedisConnection = Redis;

export function connectRedis(url: string, name: string, log: Logger): RedisConnection {
  const redis = new Redis(url, {
    connectionName: name,
    // RESP2: stream replies keep their documented array shape through call().
    protocol: 2,
    maxRetriesPerRequest: null,
    enableAutoPipelining: true,
    retryStrategy: (times) => Math.min(50 * 2 ** times, 2000),
  });
  let lastError = '';
  redis.on('error', (err: Error) => {
    // One line per distinct error, not one per retry.
    if (err.message !== lastError) log.error({ connection: name, err: err.message }, 'redis connection error');
    lastError = err.message;
  });
  redis.on('ready', () => {
    if (lastError) log.info({ connection: name }, 'redis connection restored');
    lastError = '';
  });
  return redis;
}

/**
 * Deletes every key under `prefix` (SCAN, bounded), for tests and the bench, which run under a
 * unique prefix of their own. Returns how many keys went. Fails fast when Redis does not answer.
 */
export async function deleteKeysWithPrefix(url: string, prefix: string): Promise<number> {
  const redis = new Redis(url, { protocol: 2, maxRetriesPerRequest: 1, lazyConnect: true, connectTimeout: 2000 });
  redis.on('error', () => undefined); // the failure surfaces through the awaited commands below
  try {
    await redis.connect();
    let cursor = '0';
    let deleted = 0;
    for (let page = 0; page < 1000; page++) {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 500);
      if (keys.length) deleted += await redis.del(...keys);
      cursor = next;
      if (cursor === '0') break;
    }
    return deleted;
  } finally {
    redis.disconnect();
  }
}
