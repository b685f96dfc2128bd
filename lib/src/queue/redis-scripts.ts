/**
 * The queue's Lua scripts: each does one thing atomically inside Redis. Liveness is judged by Redis's
 * own clock (TIME), never by a host's, so workers and apis on hosts with skewed clocks agree on it.
 */
import type { RedisConnection } from './redis-connection.ts';
import { ID_FIELD } from './redis-keys.ts';

const NOW_MS = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

/**
 * KEYS: stream, the model's other stream [, cache entry]. ARGV: max (the model's, both streams), max of
 * this stream. Returns the cached answer, -1 - length when the model's queue is full, or {length of this
 * stream} when it is; else sets `n`, the model's length.
 */
const CACHE_OR_BOUND = `
if KEYS[3] then
  local hit = redis.call('GET', KEYS[3])
  if hit then return hit end
end
local own = redis.call('XLEN', KEYS[1])
local n = own + redis.call('XLEN', KEYS[2])
if n >= tonumber(ARGV[1]) then return -1 - n end
if own >= tonumber(ARGV[2]) then return { own } end`;

/**
 * KEYS: stream, other stream [, cache entry]. ARGV: the two bounds, then the entry's fields. With a
 * cache entry that exists, returns it (the answer, no job added). Else adds unless full; returns the
 * length before, or what CACHE_OR_BOUND says when full. One round trip for the cache lookup, the bounds
 * and the add.
 */
const BOUNDED_ADD = `${CACHE_OR_BOUND}
redis.call('XADD', KEYS[1], '*', unpack(ARGV, 3))
return n`;

/**
 * BOUNDED_ADD without the add (ARGV: the bounds only), for a job whose image is too large to pass through a
 * script (see SCRIPT_IMAGE_MAX_BYTES): the caller then adds it with a plain XADD.
 */
const BOUNDED_CHECK = `${CACHE_OR_BOUND}
return n`;

/**
 * KEYS: stream, result key. ARGV: id, then the entry's fields. Adds a job again after Redis lost or
 * may have lost it; does nothing when it was answered or is still in the stream (so it is safe to
 * repeat). The scan is bounded by the stream's own bound. Returns 1 when added.
 */
const READD = `
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
for _, entry in ipairs(redis.call('XRANGE', KEYS[1], '-', '+')) do
  local f = entry[2]
  for i = 1, #f, 2 do
    if f[i] == '${ID_FIELD}' and f[i + 1] == ARGV[1] then return 0 end
  end
end
redis.call('XADD', KEYS[1], '*', unpack(ARGV, 2))
return 1`;

/**
 * KEYS: entry, index, sizes, bytes. ARGV: member, answer, ttlS, maxEntries, maxBytes, entry prefix.
 * Stores an answer for ttlS, then evicts expired members and, oldest first, members beyond the
 * bounds, so the cache never holds more than maxEntries answers or maxBytes of them. Returns 1 when
 * stored, 0 when the answer alone is over maxBytes.
 */
const CACHE_PUT = `
${NOW_MS}
local size = string.len(ARGV[2])
local maxEntries, maxBytes, ttl = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[3])
if size > maxBytes then return 0 end
local old = redis.call('HGET', KEYS[3], ARGV[1])
if old then redis.call('DECRBY', KEYS[4], old) end
redis.call('SET', KEYS[1], ARGV[2], 'EX', ttl)
redis.call('ZADD', KEYS[2], now, ARGV[1])
redis.call('HSET', KEYS[3], ARGV[1], size)
local total = redis.call('INCRBY', KEYS[4], size)
local function evict(m)
  total = redis.call('DECRBY', KEYS[4], tonumber(redis.call('HGET', KEYS[3], m) or '0'))
  redis.call('HDEL', KEYS[3], m)
  redis.call('ZREM', KEYS[2], m)
  redis.call('DEL', ARGV[6] .. m)
end
for _, m in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now - ttl * 1000, 'LIMIT', 0, 100)) do evict(m) end
while redis.call('ZCARD', KEYS[2]) > maxEntries or total > maxBytes do
  local oldest = redis.call('ZRANGE', KEYS[2], 0, 0)[1]
  if not oldest then break end
  evict(oldest)
end
return 1`;

/** KEYS: a model's two streams. Their lengths together, in one command (admission asks it often under load). */
const QUEUE_LENGTH = `return redis.call('XLEN', KEYS[1]) + redis.call('XLEN', KEYS[2])`;

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

/**
 * KEYS: streams. ARGV: group, consumer, count. Reads, for the consumer, the `count` oldest entries not
 * yet delivered across all the streams, no more (XREADGROUP's COUNT is per stream: a read of several
 * streams brought up to count of each). Answers as XREADGROUP does ({stream, entries} per stream read),
 * or a NOGROUP error when a stream or its group is missing (Redis lost its data).
 */
const READ_OLDEST = `
local count = tonumber(ARGV[3])
local function older(a, b)
  local am, as = string.match(a, '(%d+)-(%d+)')
  local bm, bs = string.match(b, '(%d+)-(%d+)')
  if tonumber(am) ~= tonumber(bm) then return tonumber(am) < tonumber(bm) end
  return tonumber(as) < tonumber(bs)
end
local heads, taken = {}, {}
for k = 1, #KEYS do
  local ok, groups = pcall(redis.call, 'XINFO', 'GROUPS', KEYS[k])
  local last
  if ok then
    for _, g in ipairs(groups) do
      local name, id
      for i = 1, #g, 2 do
        if g[i] == 'name' then name = g[i + 1] elseif g[i] == 'last-delivered-id' then id = g[i + 1] end
      end
      if name == ARGV[1] then last = id end
    end
  end
  if not last then return redis.error_reply('NOGROUP no group ' .. ARGV[1] .. ' on ' .. KEYS[k]) end
  heads[k] = redis.call('XRANGE', KEYS[k], '(' .. last, '+', 'COUNT', count)
  taken[k] = 0
end
for _ = 1, count do
  local best
  for k = 1, #KEYS do
    local e = heads[k][taken[k] + 1]
    if e and (not best or older(e[1], heads[best][taken[best] + 1][1])) then best = k end
  end
  if not best then break end
  taken[best] = taken[best] + 1
end
local out = {}
for k = 1, #KEYS do
  if taken[k] > 0 then
    out[#out + 1] = redis.call('XREADGROUP', 'GROUP', ARGV[1], ARGV[2], 'COUNT', taken[k], 'STREAMS', KEYS[k], '>')[1]
  end
end
return out`;

/** What boundedAdd answers: the model's length before (-1 - length when full), a cached answer, or [the stream's length] when its own bound is reached. */
export type BoundedAdd = number | string | [number];

export type ScriptedConnection = RedisConnection & {
  /**
   * numKeys: 2 (stream, other stream) or 3 (and cache entry); then the keys, the two bounds, and the
   * fields. A length, the cached answer, or [length] when the stream's own bound is reached.
   */
  boundedAdd(numKeys: 2 | 3, ...keysAndArgs: (string | number | Buffer)[]): Promise<BoundedAdd>;
  /** As boundedAdd, without the fields: nothing is added. */
  boundedCheck(numKeys: 2 | 3, ...keysAndArgs: (string | number)[]): Promise<BoundedAdd>;
  readd(stream: string, resultKey: string, id: string, ...fields: (string | Buffer)[]): Promise<number>;
  queueLength(ordinary: string, heavy: string): Promise<number>;
  cachePut(entry: string, index: string, sizes: string, bytes: string, member: string, answer: string, ttlS: number, maxEntries: number, maxBytes: number, entryPrefix: string): Promise<number>;
  beat(workers: string, beats: string, id: string, beat: string): Promise<number>;
  liveBeats(workers: string, beats: string, staleMs: number): Promise<string[]>;
  liveness(beats: string, staleMs: number): Promise<[live: string[], stale: string[]]>;
  forget(workers: string, beats: string, id: string, staleMs: number): Promise<number>;
  dropIdleConsumer(stream: string, group: string, consumer: string): Promise<number>;
  /** numKeys streams, then group, consumer, count: see READ_OLDEST (as Buffers: readOldestBuffer). */
  readOldest(numKeys: number, ...keysAndArgs: (string | number)[]): Promise<unknown>;
};

/** Registers the scripts on a connection (loaded once per connection, then called by their hash). */
export function withScripts(redis: RedisConnection): ScriptedConnection {
  redis.defineCommand('boundedAdd', { lua: BOUNDED_ADD });
  redis.defineCommand('boundedCheck', { lua: BOUNDED_CHECK });
  redis.defineCommand('cachePut', { numberOfKeys: 4, lua: CACHE_PUT });
  redis.defineCommand('readd', { numberOfKeys: 2, lua: READD });
  redis.defineCommand('queueLength', { numberOfKeys: 2, lua: QUEUE_LENGTH });
  redis.defineCommand('beat', { numberOfKeys: 2, lua: BEAT });
  redis.defineCommand('liveBeats', { numberOfKeys: 2, lua: LIVE_BEATS });
  redis.defineCommand('liveness', { numberOfKeys: 1, lua: LIVENESS });
  redis.defineCommand('forget', { numberOfKeys: 2, lua: FORGET });
  redis.defineCommand('dropIdleConsumer', { numberOfKeys: 1, lua: DROP_IDLE_CONSUMER });
  redis.defineCommand('readOldest', { lua: READ_OLDEST });
  return redis as ScriptedConnection;
}
