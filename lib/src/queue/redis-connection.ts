/**
 * Redis connections (ioredis). The only module that imports a Redis client library.
 *
 * Every connection reconnects forever, every 25–200 ms, so a restarted Redis is used again within
 * 0.2 s. While a connection is down nothing waits in it: a command fails at once (no offline queue,
 * no resend of commands in flight when it dropped), and callers decide: the api answers 503, workers
 * wait for `waitUntilReady`. So no queue inside the client grows during an outage.
 */
import { Redis } from 'ioredis';
import type { Logger } from '../logger.ts';

export type RedisConnection = Redis;

export interface ConnectOptions {
  /** Bound on every command but blocking reads (ms); a Redis that hangs then fails the command. */
  commandTimeoutMs?: number;
}

export function connectRedis(url: string, name: string, log: Logger, opts: ConnectOptions = {}): RedisConnection {
  const redis = new Redis(url, {
    connectionName: name,
    // RESP2: stream replies keep their documented array shape through call().
    protocol: 2,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    // Subscriptions are renewed by their owner on 'ready', where it can also note that they lapsed.
    autoResubscribe: false,
    enableAutoPipelining: true,
    connectTimeout: 2000,
    commandTimeout: opts.commandTimeoutMs,
    retryStrategy: (times) => Math.min(25 * times, 200),
  });
  redis.on('error', (err: Error) => {
    if (wrongDatabase.has(redis)) return;
    if (/DB index is out of range/i.test(err.message)) {
      // The client goes on, on database 0, with the keys of whoever uses it: this connection stops for good instead.
      const why = `REDIS_URL selects database ${redis.options.db ?? '?'}, which Redis at ${redisAddress(redis)} does not have (${err.message}; a default Redis has 0 to 15): fix REDIS_URL and restart`;
      wrongDatabase.add(redis);
      lastErrors.set(redis, why);
      log.error({ connection: name, err: why }, 'redis connection stopped');
      redis.disconnect();
      return;
    }
    // One line per distinct error, not one per retry.
    if (err.message !== lastErrors.get(redis)) log.error({ connection: name, err: err.message }, 'redis connection error');
    lastErrors.set(redis, err.message);
  });
  redis.on('close', () => {
    // Between a drop and the first failed reconnect (up to 25 ms, then a connect timeout) there is no
    // error yet: without this, the first refusals said only "unreachable", without where or why.
    if (!lastErrors.has(redis)) lastErrors.set(redis, `the connection to Redis at ${redisAddress(redis)} closed (it is retried every 0.2 s)`);
  });
  redis.on('ready', () => {
    if (lastErrors.delete(redis)) log.info({ connection: name }, 'redis connection restored');
  });
  return redis;
}

/**
 * An error of a command sent while the connection is down, in words an operator can act on: the
 * client's own ("Reached the max retries per request limit (which is 0). Refer to
 * \"maxRetriesPerRequest\"…", "Connection is closed.") named a client option, not Redis. Other
 * messages (Redis's own) pass unchanged.
 */
export function redisErrorText(redis: RedisConnection, err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  const down = /max retries per request|Connection is closed|Stream isn't writeable|enableOfflineQueue/i.test(message);
  return down ? `no connection to Redis at ${redisAddress(redis)} (it is retried every 0.2 s; check that Redis runs there, and REDIS_URL)` : message;
}

/** host:port of a connection: what REDIS_URL names, without its password. */
export const redisAddress = (redis: RedisConnection): string => `${redis.options.host ?? '?'}:${redis.options.port ?? '?'}`;

/** Each connection's last error since it was last ready. */
const lastErrors = new WeakMap<RedisConnection, string>();
/** Connections stopped because Redis has no database of REDIS_URL's number: their error stays. */
const wrongDatabase = new WeakSet<RedisConnection>();

/**
 * Why a connection is not ready, from its last error since it was: a refused password says what to
 * change; undefined when it has had no error (still connecting, or ready).
 */
export function whyNotReady(redis: RedisConnection): string | undefined {
  const error = lastErrors.get(redis);
  if (!error) return undefined;
  if (/^(NOAUTH|WRONGPASS)\b/.test(error)) return `${error} (set the user and password in REDIS_URL: redis://user:password@host:6379)`;
  // A plain Redis never answers the TLS handshake: the client says only "connect ETIMEDOUT".
  if (redis.options.tls && /ETIMEDOUT/.test(error)) return `${error} (REDIS_URL says rediss://, TLS: if Redis at ${redisAddress(redis)} does not speak TLS, use redis://)`;
  return error;
}

export type Transaction = ReturnType<RedisConnection['multi']>;

/**
 * Runs a command whose reply keeps its bulk strings as Buffers (a job's image must arrive byte for
 * byte). Through ioredis' generated `<command>Buffer` methods: its `callBuffer` loses the command
 * name when it auto-pipelines (ioredis 6.0).
 */
export function callForBuffers(redis: RedisConnection, command: 'xreadgroup' | 'xclaim' | 'readOldest', ...args: (string | number)[]): Promise<unknown> {
  const method = (redis as unknown as Record<string, (...a: (string | number)[]) => Promise<unknown>>)[`${command}Buffer`];
  if (!method) throw new Error(`this Redis client has no ${command}Buffer`);
  return method.apply(redis, args);
}

/**
 * Runs a MULTI and checks each command's result: a discarded transaction or a failed command throws,
 * except failures matching `tolerate` (e.g. NOGROUP after Redis lost a stream: nothing left to ack).
 */
export async function execChecked(tx: Transaction, tolerate?: RegExp): Promise<unknown[]> {
  const results = await tx.exec();
  if (!results) throw new Error('the Redis transaction was discarded');
  return results.map(([err, value]) => {
    if (err && !tolerate?.test(err.message)) throw err;
    return value;
  });
}

/** True when `redis` can take commands now. */
export const isReady = (redis: RedisConnection): boolean => redis.status === 'ready';

/** Resolves true once `redis` is ready (at once if it is), false after `timeoutMs` or when it ends. */
export function waitUntilReady(redis: RedisConnection, timeoutMs: number): Promise<boolean> {
  if (isReady(redis)) return Promise.resolve(true);
  return new Promise((resolve) => {
    const done = (ok: boolean) => {
      clearTimeout(timer);
      redis.off('ready', onReady);
      redis.off('end', onEnd);
      resolve(ok);
    };
    const onReady = () => done(true);
    const onEnd = () => done(false);
    const timer = setTimeout(() => done(false), timeoutMs);
    redis.on('ready', onReady);
    redis.on('end', onEnd);
  });
}

/** Closes a connection: politely (QUIT) when Redis answers, at once otherwise; never reconnects after. */
export async function closeConnection(redis: RedisConnection, timeoutMs = 1000): Promise<void> {
  if (!isReady(redis)) {
    redis.disconnect();
    return;
  }
  const quit = redis.quit().then(() => true, () => false);
  const timedOut = new Promise<boolean>((resolve) => setTimeout(() => resolve(false), timeoutMs).unref());
  if (!(await Promise.race([quit, timedOut]))) redis.disconnect();
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
