/**
 * The queue's Lua scripts: each does one thing atomically inside Redis. Liveness is judged by Redis's
 * own clock (TIME), never by a host's, so workers and apis on hosts with skewed clocks agree on it.
 */
import type { RedisConnection } from './redis-connection.ts';
import { ID_FIELD, JOB_FIELD, REPLY_TO_FIELD } from './redis-keys.ts';

const NOW_MS = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

/** KEYS: stream. ARGV: max, job, replyTo, id. Adds unless full; returns the length before, or -1 - length when full. */
const BOUNDED_ADD = `
local n = redis.call('XLEN', KEYS[1])
if n >= tonumber(ARGV[1]) then return -1 - n end
redis.call('XADD', KEYS[1], '*', '${JOB_FIELD}', ARGV[2], '${REPLY_TO_FIELD}', ARGV[3], '${ID_FIELD}', ARGV[4])
return n`;

/**
 * KEYS: stream, result key. ARGV: job, replyTo, id. Adds a job again after Redis lost or may have
 * lost it; does nothing when it was answered or is still in the stream (so it is safe to repeat).
 * The scan is bounded by the stream's own bound. Returns 1 when added.
 */
const READD = `
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
for _, entry in ipairs(redis.call('XRANGE', KEYS[1], '-', '+')) do
  local f = entry[2]
  for i = 1, #f, 2 do
    if f[i] == '${ID_FIELD}' and f[i + 1] == ARGV[3] then return 0 end
  end
end
redis.call('XADD', KEYS[1], '*', '${JOB_FIELD}', ARGV[1], '${REPLY_TO_FIELD}', ARGV[2], '${ID_FIELD}', ARGV[3])
return 1`;

/** KEYS: workers, beats. ARGV: id, beat JSON. */
const BEAT = `
${NOW_MS}
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[2], now, ARGV[1])
return now`;

/** KEYS: workers, beats. ARGV: staleMs. Returns id, beat JSON, id, beat JSON… of live workers. */
const LIVE_BEATS = `
${NOW_MS}
local ids = redis.call('ZRANGEBYSCORE', KEYS[2], now - tonumber(ARGV[1]), '+inf')
local out = {}
for _, id in ipairs(ids) do
  local beat = redis.call('HGET', KEYS[1], id)
  if beat then out[#out + 1] = id; out[#out + 1] = beat end
end
return out`;

/** KEYS: beats. ARGV: staleMs. Returns {live ids, stale ids}. */
const LIVENESS = `
${NOW_MS}
local edge = now - tonumber(ARGV[1])
return { redis.call('ZRANGEBYSCORE', KEYS[1], edge, '+inf'), redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. edge) }`;

/** KEYS: workers, beats. ARGV: id, staleMs. Forgets a worker, unless it beat again meanwhile. */
const FORGET = `
${NOW_MS}
local at = redis.call('ZSCORE', KEYS[2], ARGV[1])
if at and tonumber(at) >= now - tonumber(ARGV[2]) then return 0 end
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[1], ARGV[1])
return 1`;

/**
 * KEYS: stream. ARGV: group, consumer. Deletes the consumer only if nothing is pending for it, in one
 * step: deleting a consumer drops its pending entries, which would then never be delivered again.
 * Returns 1 when deleted; 0 when something is pending or there is no such group.
 */
const DROP_IDLE_CONSUMER = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local ok, pending = pcall(redis.call, 'XPENDING', KEYS[1], ARGV[1], '-', '+', 1, ARGV[2])
if not ok or #pending > 0 then return 0 end
redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], ARGV[2])
return 1`;

export type ScriptedConnection = RedisConnection & {
  boundedAdd(stream: string, max: number, job: string, replyTo: string, id: string): Promise<number>;
  readd(stream: string, resultKey: string, job: string, replyTo: string, id: string): Promise<number>;
  beat(workers: string, beats: string, id: string, beat: string): Promise<number>;
  liveBeats(workers: string, beats: string, staleMs: number): Promise<string[]>;
  liveness(beats: string, staleMs: number): Promise<[live: string[], stale: string[]]>;
  forget(workers: string, beats: string, id: string, staleMs: number): Promise<number>;
  dropIdleConsumer(stream: string, group: string, consumer: string): Promise<number>;
};

/** Registers the scripts on a connection (loaded once per connection, then called by their hash). */
export function withScripts(redis: RedisConnection): ScriptedConnection {
  redis.defineCommand('boundedAdd', { numberOfKeys: 1, lua: BOUNDED_ADD });
  redis.defineCommand('readd', { numberOfKeys: 2, lua: READD });
  redis.defineCommand('beat', { numberOfKeys: 2, lua: BEAT });
  redis.defineCommand('liveBeats', { numberOfKeys: 2, lua: LIVE_BEATS });
  redis.defineCommand('liveness', { numberOfKeys: 1, lua: LIVENESS });
  redis.defineCommand('forget', { numberOfKeys: 2, lua: FORGET });
  redis.defineCommand('dropIdleConsumer', { numberOfKeys: 1, lua: DROP_IDLE_CONSUMER });
  return redis as ScriptedConnection;
}
