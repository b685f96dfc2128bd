/**
 * The api's side of the Redis queue (Redis Streams). A job is added to its model's stream by a Lua
 * script that enforces the bound atomically (503 at once when full). Replies come back on this api
 * process's own pub/sub channel: one subscription shared by every in-flight request, no polling and no
 * connection per request. Replies are also stored under the job id, so a reply published while the
 * subscription was reconnecting is picked up when it comes back.
 */
import { randomUUID } from 'node:crypto';
import { AppError } from '../errors.ts';
import type { JobData, JobProducer, JobResult } from '../job-contract.ts';
import type { Logger } from '../logger.ts';
import { connectRedis, type RedisConnection } from './redis-connection.ts';
import {
  HEARTBEAT_STALE_MS,
  JOB_FIELD,
  jobsKey,
  repliesChannel,
  REPLY_TO_FIELD,
  resultKey,
  workersKey,
  type Reply,
  type WorkerBeat,
} from './redis-keys.ts';
import { WaiterRegistry } from './waiter-registry.ts';

export interface RedisProducerOptions {
  redisUrl: string;
  prefix: string;
  /** Jobs queued or running per model before new ones are refused. */
  maxQueued: number;
  log: Logger;
}

/** Adds the job unless the stream already holds `max` entries; returns the length before, or -1 when full. */
const BOUNDED_ADD = `
local n = redis.call('XLEN', KEYS[1])
if n >= tonumber(ARGV[1]) then return -1 - n end
redis.call('XADD', KEYS[1], '*', '${JOB_FIELD}', ARGV[2], '${REPLY_TO_FIELD}', ARGV[3])
return n`;

/** How long a queue length seen in a reply is trusted for admission without asking Redis again. */
const LENGTH_FRESH_MS = 100;

type BoundedAdd = RedisConnection & { boundedAdd(key: string, max: number, job: string, replyTo: string): Promise<number> };

export class RedisProducer implements JobProducer {
  private readonly cmd: BoundedAdd;
  private readonly sub: RedisConnection;
  private readonly channel: string;
  private readonly waiters = new WaiterRegistry<JobResult>();
  /** Per model, the last queue length seen (from adds or XLEN) and when. */
  private readonly lastLength = new Map<string, { length: number; at: number }>();
  private subscribed?: Promise<unknown>;
  private closed = false;

  constructor(private readonly opts: RedisProducerOptions) {
    this.channel = repliesChannel(opts.prefix, randomUUID());
    this.cmd = connectRedis(opts.redisUrl, 'api-commands', opts.log) as BoundedAdd;
    this.cmd.defineCommand('boundedAdd', { numberOfKeys: 1, lua: BOUNDED_ADD });
    this.sub = connectRedis(opts.redisUrl, 'api-replies', opts.log);
    this.sub.on('message', (_channel: string, message: string) => this.onReply(message));
    // After a reconnect ioredis resubscribes by itself; replies sent in the gap are in result keys.
    this.sub.on('ready', () => void this.recoverMissedReplies());
  }

  /** Subscribes to this process's reply channel; call before serving. */
  start(): Promise<unknown> {
    this.subscribed ??= this.sub.subscribe(this.channel);
    return this.subscribed;
  }

  private onReply(message: string): void {
    let reply: Reply;
    try {
      reply = JSON.parse(message) as Reply;
    } catch (err) {
      this.opts.log.error({ err, message: message.slice(0, 200) }, 'unreadable reply on the reply channel');
      return;
    }
    if (reply.ok) this.waiters.resolve(reply.id, reply.result);
    else this.waiters.reject(reply.id, new AppError(reply.failure.code, reply.failure.detail));
  }

  private async recoverMissedReplies(): Promise<void> {
    const ids = this.waiters.ids();
    if (ids.length === 0) return;
    try {
      const stored = await this.cmd.mget(...ids.map((id) => resultKey(this.opts.prefix, id)));
      for (const raw of stored) if (raw) this.onReply(raw);
    } catch (err) {
      this.opts.log.warn({ err }, 'could not check for replies missed while reconnecting');
    }
  }

  async submit(job: JobData): Promise<JobResult> {
    if (this.closed) throw new AppError('NOT_READY', 'the api is shutting down');
    // No consumer group is made here: workers create it reading from the stream's start, so jobs
    // added before any worker ran are still delivered.
    await this.start();
    const result = this.waiters.wait(job.id, job.deadline);
    const added = this.cmd.boundedAdd(jobsKey(this.opts.prefix, job.model), this.opts.maxQueued, JSON.stringify(job), this.channel).then(
      (before) => {
        this.lastLength.set(job.model, { length: before < 0 ? -1 - before : before + 1, at: Date.now() });
        if (before < 0) {
          const queued = -1 - before;
          this.waiters.reject(job.id, new AppError('QUEUE_FULL', `${queued} jobs are queued or running for model ${job.model}`, { retryAfterS: 1 }));
        }
      },
      (err: unknown) => this.waiters.reject(job.id, new AppError('NOT_READY', 'the queue did not accept the job', { cause: err, retryAfterS: 1 })),
    );
    // One handler for both: the deadline may pass while the add is still in flight.
    const [answer] = await Promise.all([result, added]);
    return answer;
  }

  /**
   * A recent length settles it without a round trip (full, or less than half full); near the bound, or
   * when nothing recent is known, one XLEN decides, which costs far less than reading an upload.
   */
  async admits(model: string): Promise<boolean> {
    const seen = this.lastLength.get(model);
    const now = Date.now();
    if (seen && now - seen.at < LENGTH_FRESH_MS) {
      if (seen.length >= this.opts.maxQueued) return false;
      if (seen.length < this.opts.maxQueued / 2) return true;
    }
    const length = await this.cmd.xlen(jobsKey(this.opts.prefix, model));
    this.lastLength.set(model, { length, at: Date.now() });
    return length < this.opts.maxQueued;
  }

  async servedModels(): Promise<Map<string, number>> {
    const beats = await this.cmd.hgetall(workersKey(this.opts.prefix));
    const now = Date.now();
    const served = new Map<string, number>();
    for (const raw of Object.values(beats)) {
      const beat = JSON.parse(raw) as WorkerBeat;
      if (now - beat.at > HEARTBEAT_STALE_MS) continue;
      for (const m of beat.models) served.set(m, (served.get(m) ?? 0) + 1);
    }
    return served;
  }

  async ping(): Promise<boolean> {
    if (this.cmd.status !== 'ready') return false;
    return (await this.cmd.ping().catch(() => '')) === 'PONG';
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.waiters.rejectAll(() => new AppError('NOT_READY', 'the api is shutting down'));
    await Promise.allSettled([this.sub.quit(), this.cmd.quit()]);
  }
}
