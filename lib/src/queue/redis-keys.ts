/**
 * The Redis layout of the queue, shared by api and workers. All keys start with REDIS_PREFIX; on a
 * Redis Cluster use a hash tag prefix such as `{icls}` so a model's keys share one slot.
 *
 * - `<p>:jobs:<model>`  stream of jobs; consumer group `workers`; entries are deleted once answered
 * - `<p>:heavy:<model>` the same for jobs whose image decodes to more than HEAVY_IMAGE_BYTES: a worker
 *                       holds one of them at a time, so ordinary images never queue behind them
 * - `<p>:result:<id>`   the reply of a finished job (expires after RESULT_TTL_S); makes replies idempotent
 * - `<p>:replies:<api>` pub/sub channel of one api process, where workers publish replies
 * - `<p>:workers`       hash: worker id → what it holds (models served, models broken, draining)
 * - `<p>:beats`         sorted set: worker id → time of its last heartbeat, by Redis's clock (so
 *                       hosts with skewed clocks agree on who is alive)
 * - `<p>:cache:<key>`   a cached answer (`<key>` = `<md5>:<model>:<topK>`), expires after RESULT_CACHE_TTL_S;
 *   `<p>:cache-index` (sorted set: key → when stored), `<p>:cache-sizes` (hash: key → bytes) and
 *   `<p>:cache-bytes` (their sum) bound the cache in entries and bytes
 */
import type { BrokenModel, JobFailure, JobResult } from '../job-contract.ts';
import type { RedisConnection } from './redis-connection.ts';

export const GROUP = 'workers';
export const jobsKey = (prefix: string, model: string) => `${prefix}:jobs:${model}`;
export const heavyJobsKey = (prefix: string, model: string) => `${prefix}:heavy:${model}`;
/** A model's two streams, ordinary then heavy: its queue is both together (the bound, the lengths shown). */
export const modelStreams = (prefix: string, model: string): [string, string] => [jobsKey(prefix, model), heavyJobsKey(prefix, model)];
export const resultKey = (prefix: string, id: string) => `${prefix}:result:${id}`;
export const repliesChannel = (prefix: string, apiId: string) => `${prefix}:replies:${apiId}`;
export const workersKey = (prefix: string) => `${prefix}:workers`;
export const beatsKey = (prefix: string) => `${prefix}:beats`;
export const cacheEntryPrefix = (prefix: string) => `${prefix}:cache:`;
export const cacheKeys = (prefix: string) => ({
  index: `${prefix}:cache-index`,
  sizes: `${prefix}:cache-sizes`,
  bytes: `${prefix}:cache-bytes`,
});

/** What a worker sends back for one job. */
export type Reply = { id: string; ok: true; result: JobResult } | { id: string; ok: false; failure: JobFailure };

/** A job as it sits in the stream (stream-entry.ts): the job, where to reply, its id, and its image bytes when they travel with it. */
export const JOB_FIELD = 'job';
export const REPLY_TO_FIELD = 'replyTo';
export const ID_FIELD = 'id';
export const IMAGE_FIELD = 'image';

/** What a worker says of itself with each heartbeat. */
export interface WorkerBeat {
  models: string[];
  /** Each model's build: its version and a digest of its files (workers from before this field send none). */
  versions?: Record<string, string>;
  broken: BrokenModel[];
  host: string;
  pid: number;
  /** Finishing its jobs before it stops: alive, but takes no new ones. */
  draining?: boolean;
}
/** Heartbeats per WORKER_DEAD_AFTER_MS: four, so one or two late beats never look like a death. */
export const heartbeatEvery = (deadAfterMs: number): number => Math.max(50, Math.floor(deadAfterMs / 4));
/** A job whose workers died this many times is failed instead of being delivered again (a poison image). */
export const MAX_DELIVERIES = 3;

/** Creates the consumer group (and the stream) when missing; a group that exists is fine. */
export async function ensureGroup(redis: RedisConnection, key: string): Promise<void> {
  try {
    await redis.xgroup('CREATE', key, GROUP, '0', 'MKSTREAM');
  } catch (err) {
    if (!String((err as Error).message).includes('BUSYGROUP')) throw err;
  }
}
