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
