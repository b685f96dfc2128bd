/**
 * The api's side of the Redis queue (Redis Streams). A job is added to its model's stream by a Lua
 * script that enforces the bound atomically (503 at once when full). Replies come back on this api
 * process's own pub/sub channel: one subscription shared by every in-flight request, no polling and no
 * connection per request. Replies are also stored under the job id, so a reply published while the
 * subscription was reconnecting is picked up when it comes back.
 *
 * Faults: every Redis call is bounded by its request's deadline, and while the connection is down
 * nothing waits: calls fail at once with 503 NOT_READY. The api keeps every job it waits for
 * (held-jobs); when Redis comes back after a restart that lost them, it adds them again (idempotent
 * by job id), so a Redis restart loses no job even without persistence.
 *
 * Result cache: a job with a cacheKey is answered from `<p>:cache:<key>` when an answer is there (the
 * add script looks it up, so a miss costs no extra round trip); a computed answer is stored there,
 * bounded in entries and bytes (see redis-keys.ts), and shared by every api process of the prefix.
 */
import { randomUUID } from 'node:crypto';
import { sleep, withDeadline } from '../deadline.ts';
import { AppError, heavyQueueFull, isAppError, queueFull, queueNoAnswer, queueUnusable } from '../errors.ts';
import { heavyBound, type JobData, type JobProducer, type JobResult, type QueueStats, type WorkerView } from '../job-contract.ts';
import type { Logger } from '../logger.ts';
import { AnswerWatch, NoAnswerError } from './answer-watch.ts';
import { HeldJobs } from './held-jobs.ts';
import { closeConnection, connectRedis, isReady, whyNotReady, type RedisConnection } from './redis-connection.ts';
import { beatsKey, cacheEntryPrefix, cacheKeys, GROUP, modelStreams, repliesChannel, resultKey, workersKey, type Reply } from './redis-keys.ts';
import { fromCache, keepsAnswer, type ResultCacheBounds } from './result-cache.ts';
import { jobFields } from './stream-entry.ts';
import { withScripts, type BoundedAdd, type ScriptedConnection } from './redis-scripts.ts';
import { WaiterRegistry } from './waiter-registry.ts';
import { viewFromBeats, WorkerViewMemory } from './worker-view.ts';

export interface RedisProducerOptions {
  redisUrl: string;
  prefix: string;
  /** Jobs queued or running per model before new ones are refused. */
  maxQueued: number;
  /** A worker whose heartbeat is older than this is not counted (WORKER_DEAD_AFTER_MS). */
  deadAfterMs: number;
  /** The result cache's bounds; absent: jobs' cacheKeys are ignored. */
  cache?: ResultCacheBounds;
  log: Logger;
}

/** How long a queue length seen in a reply is trusted for admission without asking Redis again. */
const LENGTH_FRESH_MS = 100;
/** Queue lengths remembered (keys come from requests, so the map is bounded). */
const MAX_LENGTHS = 1024;
/**
 * Jobs whose image is larger are added in two steps, the bound and the cache checked by a script and the
 * entry added by a plain XADD: Redis copies a script's arguments into Lua and back, which made a 773 KiB
 * job's hand-over to a worker about 2 ms against 1 for a plain XADD on the 2026-12-02 VM
 * (scripts/measure-redis-transfer.ts). The price: adds running at the same moment can pass the bound by
 * their number, as each checks before the others add. Heavy jobs never take this path (their share of
 * the bound is small: 1 of QUEUE_MAX_WAITING 8).
 */
export const SCRIPT_IMAGE_MAX_BYTES = 256 * 1024;
/** A call unanswered for this long marks Redis as not answering (AnswerWatch). */
const SILENT_AFTER_MS = 250;
/** Bound on any single command, whatever the request's deadline. */
const COMMAND_TIMEOUT_MS = 2000;

const unreachable = (cause?: unknown) =>
  new AppError('NOT_READY', 'the queue (Redis) is unreachable', { retryAfterS: 1, cause });

/** Redis answered but would not take the command, by its error's first word: what to tell the client and the log. */
const REFUSALS: Record<string, string> = {
  OOM: 'it is out of memory (maxmemory)',
  READONLY: 'it is a read-only replica',
  MISCONF: 'it cannot save to disk, and refuses writes until it can',
  LOADING: 'it is still loading its data',
  BUSY: 'a script is running too long',
};

/** Why Redis refused a command, from its error reply's first word; undefined for any other failure. */
const refusalOf = (err: unknown): string | undefined => REFUSALS[/^[A-Z]+/.exec(err instanceof Error ? err.message : '')?.[0] ?? ''];

/** ioredis's error for a command that got no answer within its commandTimeout, or one given up for another's (AnswerWatch). */
const isCommandTimeout = (err: unknown): boolean => err instanceof NoAnswerError || (err instanceof Error && /^Command timed out/.test(err.message));

/** A failed Redis call as the client sees it: refused for a stated reason, not answered in time, or the queue unreachable. */
function queueFailure(err: unknown): AppError {
  const reason = refusalOf(err);
  if (reason) return new AppError('NOT_READY', `the queue (Redis) refused the job: ${reason}`, { retryAfterS: 1, cause: err });
  return isCommandTimeout(err) ? queueNoAnswer() : unreachable(err);
}

export class RedisProducer implements JobProducer {
  private readonly cmd: ScriptedConnection;
  private readonly sub: RedisConnection;
  private readonly channel: string;
  private readonly waiters = new WaiterRegistry<JobResult>();
  private readonly held: HeldJobs;
  private readonly views = new WorkerViewMemory();
  /** Per model, the last queue length seen (from adds or XLEN) and when. */
  private readonly lastLength = new Map<string, { length: number; at: number }>();
  /**
   * Models whose job timed out since their length was last seen: it may still be queued (a stopped
   * worker), so requests for them are not lone. Only served models get jobs: bounded by them.
   */
  private readonly unanswered = new Set<string>();
  private subscribed = false;
  /** Redis's run_id: a new one after a reconnect means Redis restarted and may have lost every job. */
  private runId?: string;
  private closed = false;
  /** Whether Redis answers: once a call goes unanswered, the next ones fail at once until it does again. */
  private readonly answers: AnswerWatch;
  /** The result cache's keys under this prefix (entries are `<entryPrefix><cacheKey>`). */
  private readonly cacheKeys: ReturnType<typeof cacheKeys> & { entryPrefix: string };

  constructor(private readonly opts: RedisProducerOptions) {
    this.channel = repliesChannel(opts.prefix, randomUUID());
    this.cacheKeys = { ...cacheKeys(opts.prefix), entryPrefix: cacheEntryPrefix(opts.prefix) };
    this.held = new HeldJobs(opts.maxQueued);
    this.cmd = withScripts(connectRedis(opts.redisUrl, 'api-commands', opts.log, { commandTimeoutMs: COMMAND_TIMEOUT_MS }));
    this.answers = new AnswerWatch(() => this.cmd.ping(), opts.log);
    this.cmd.on('ready', () => {
      this.answers.answered();
      void this.afterReconnect();
    });
    this.sub = connectRedis(opts.redisUrl, 'api-replies', opts.log);
    this.sub.on('message', (_channel: string, message: string) => this.onReply(message));
    this.sub.on('close', () => (this.subscribed = false));
    this.sub.on('ready', () => void this.subscribe());
  }

  /** True when jobs can be submitted now: commands and the reply subscription are both up. */
  get ready(): boolean {
    return !this.closed && this.subscribed && isReady(this.cmd);
  }

  /** Resolves true once ready (for tools and tests that want to submit right after starting), false after `timeoutMs`. */
  async whenReady(timeoutMs: number): Promise<boolean> {
    const until = Date.now() + timeoutMs;
    while (!this.ready && !this.closed && Date.now() < until) await sleep(20);
    return this.ready;
  }

  private async subscribe(): Promise<void> {
    try {
      await this.sub.subscribe(this.channel);
      this.subscribed = true;
    } catch (err) {
      this.opts.log.warn({ err }, 'could not subscribe to the reply channel; retrying on the next reconnect');
      return;
    }
    // Replies published while the subscription was down are in their result keys.
    const ids = this.waiters.ids();
    if (ids.length === 0 || !isReady(this.cmd)) return;
    try {
      const stored = await this.cmd.mget(...ids.map((id) => resultKey(this.opts.prefix, id)));
      for (const raw of stored) if (raw) this.onReply(raw);
    } catch (err) {
      this.opts.log.warn({ err }, 'could not check for replies missed while reconnecting');
    }
  }

  private onReply(message: string): void {
    let reply: Reply;
    try {
      reply = JSON.parse(message) as Reply;
    } catch (err) {
      this.opts.log.error({ err, message: message.slice(0, 200) }, 'unreadable reply on the reply channel');
      return;
    }
    if (reply.ok) {
      const job = this.held.get(reply.id);
      if (job?.cacheKey && keepsAnswer(job, reply.result)) this.cache(job.cacheKey, reply.result);
      this.waiters.resolve(reply.id, reply.result);
    } else this.waiters.reject(reply.id, new AppError(reply.failure.code, reply.failure.detail));
  }

  /** Stores an answer in the result cache; the request does not wait for it (a failure is only logged). */
  private cache(cacheKey: string, result: JobResult): void {
    const bounds = this.opts.cache;
    if (!bounds || !isReady(this.cmd)) return;
    const k = this.cacheKeys;
    this.cmd
      .cachePut(k.entryPrefix + cacheKey, k.index, k.sizes, k.bytes, cacheKey, JSON.stringify(result), bounds.ttlS, bounds.maxEntries, bounds.maxBytes, k.entryPrefix)
      .catch((err: unknown) => this.opts.log.warn({ err: (err as Error).message }, 'could not store an answer in the result cache'));
  }

  /** After every (re)connect: notice a Redis restart, and add again the jobs it may have lost. */
  private async afterReconnect(): Promise<void> {
    try {
      const info = await this.cmd.info('server');
      const runId = /run_id:(\w+)/.exec(info)?.[1];
      if (this.runId && runId !== this.runId) {
        this.opts.log.warn({ waiting: this.held.size }, 'Redis restarted: adding again the jobs this api waits for');
        this.held.forgetAdds();
        this.views.startGrace(this.opts.deadAfterMs);
      }
      this.runId = runId;
      let readded = 0;
      for (const job of this.held.toReadd()) {
        readded += await this.cmd.readd(this.lanes(job)[0], resultKey(this.opts.prefix, job.id), job.id, ...jobFields(job, this.channel));
        this.held.confirm(job.id);
      }
      if (readded) this.opts.log.info({ readded }, 'jobs added again after reconnecting');
    } catch (err) {
      this.opts.log.warn({ err }, 'could not add jobs again after reconnecting; retrying on the next reconnect');
    }
  }

  /**
   * Bounds a Redis call by the request's deadline; fails at once (503) while Redis is away. A Redis that
   * does not answer in time (hung, or a network black hole) is a 503 too: nothing was queued, so the
   * client may retry, where a 504 would blame the image.
   */
  private guarded<T>(deadline: number, work: () => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new AppError('NOT_READY', 'the api is shutting down', { retryAfterS: 1 }));
    if (!isReady(this.cmd)) return Promise.reject(this.notReady());
    if (this.answers.silent) return Promise.reject(queueNoAnswer());
    const call = this.answers.cut(work()).catch((err: unknown) => {
      throw isAppError(err) ? err : this.failure(err);
    });
    const sent = Date.now();
    return withDeadline(call, deadline, () => {
      // A call whose caller left it almost no time says little about Redis.
      if (Date.now() - sent >= SILENT_AFTER_MS) this.answers.noAnswer();
      return queueNoAnswer();
    });
  }

  /** queueFailure, noting a command that went unanswered so the next calls do not wait for theirs. */
  private failure(err: unknown): AppError {
    if (isCommandTimeout(err)) this.answers.noAnswer();
    return queueFailure(err);
  }

  /**
   * While Redis cannot be used: what it said when it did (a refused password names REDIS_URL), as
   * /readyz says it, else that it is unreachable.
   */
  private notReady(): AppError {
    const why = whyNotReady(this.cmd);
    return why ? queueUnusable(why) : unreachable();
  }

  async submit(job: JobData): Promise<JobResult> {
    if (this.closed) throw new AppError('NOT_READY', 'the api is shutting down', { retryAfterS: 1 });
    if (!this.ready) throw this.notReady();
    if (this.answers.silent) throw queueNoAnswer();
    if (!this.held.hold(job)) {
      throw queueFull(job.model, this.opts.maxQueued);
    }
    const result = this.waiters.wait(job.id, job.deadline);
    const release = () => this.held.release(job.id);
    result.then(release, (err: unknown) => {
      // Unanswered: the job may still be queued, so the model's queue is not known to be empty (see lone).
      if (isAppError(err) && err.code === 'DEADLINE_EXCEEDED') this.unanswered.add(job.model);
      release();
    });
    // The add settles the waiter itself on failure; the caller waits for the answer, never past the deadline.
    void this.add(job);
    return result;
  }

  private async add(job: JobData): Promise<void> {
    try {
      // No consumer group is made here: workers create it reading from the stream's start, so jobs
      // added before any worker ran are still delivered.
      const { prefix, maxQueued } = this.opts;
      const cacheEntry = job.cacheKey && this.opts.cache ? [this.cacheKeys.entryPrefix + job.cacheKey] : [];
      const [stream, otherLane] = this.lanes(job);
      const numKeys = cacheEntry.length ? 3 : 2;
      const bounds = [maxQueued, job.heavy ? heavyBound(maxQueued) : maxQueued];
      let before: BoundedAdd;
      // A heavy job always goes through the script: checked and added in one step, so adds at the same
      // moment cannot pass its small share of the bound (1 ms more for a job that takes seconds).
      if (!job.heavy && (job.imageData?.length ?? 0) > SCRIPT_IMAGE_MAX_BYTES) {
        before = await this.answers.cut(this.cmd.boundedCheck(numKeys, stream, otherLane, ...cacheEntry, ...bounds));
        if (typeof before === 'number' && before >= 0) await this.answers.cut(this.cmd.xadd(stream, '*', ...jobFields(job, this.channel)));
      } else {
        before = await this.answers.cut(this.cmd.boundedAdd(numKeys, stream, otherLane, ...cacheEntry, ...bounds, ...jobFields(job, this.channel)));
      }
      if (typeof before === 'string') {
        this.waiters.resolve(job.id, fromCache(before, job.id));
        return;
      }
      if (Array.isArray(before)) {
        this.waiters.reject(job.id, heavyQueueFull(job.model, before[0]));
        return;
      }
      this.rememberLength(job.model, before < 0 ? -1 - before : before + 1);
      if (before < 0) {
        this.waiters.reject(job.id, queueFull(job.model, -1 - before));
      } else {
        this.held.confirm(job.id);
      }
    } catch (err) {
      // The connection dropped mid-add: the job may or may not be in Redis. It stays held and is
      // added again (idempotently) on reconnect; its deadline still bounds the wait.
      if (!isReady(this.cmd)) this.opts.log.warn({ jobId: job.id }, 'Redis dropped while adding a job; it is added again on reconnect');
      else this.waiters.reject(job.id, this.failure(err));
    }
  }

  /** The job's lane (its stream), then the model's other one. */
  private lanes(job: JobData): [lane: string, other: string] {
    const [ordinary, heavy] = modelStreams(this.opts.prefix, job.model);
    return job.heavy ? [heavy, ordinary] : [ordinary, heavy];
  }

  private rememberLength(model: string, length: number): void {
    if (this.lastLength.size >= MAX_LENGTHS && !this.lastLength.has(model)) this.lastLength.clear();
    this.lastLength.set(model, { length, at: Date.now() });
    this.unanswered.delete(model);
  }

  lone(model: string): boolean {
    return this.held.countFor(model) === 0 && !this.unanswered.has(model) && (this.lastLength.get(model)?.length ?? 0) <= 1;
  }

  /**
   * A recent length settles it without a round trip (full, or less than half full); near the bound, or
   * when nothing recent is known, one XLEN decides, which costs far less than reading an upload.
   */
  async admits(model: string, deadline: number, incoming = 0): Promise<boolean> {
    if (!this.ready) throw this.notReady();
    const { maxQueued } = this.opts;
    if (this.held.countFor(model) + incoming >= maxQueued) return false;
    const seen = this.lastLength.get(model);
    if (seen && Date.now() - seen.at < LENGTH_FRESH_MS) {
      if (seen.length + incoming >= maxQueued) return false;
      if (seen.length + incoming < maxQueued / 2) return true;
    }
    const length = await this.guarded(deadline, () => this.cmd.queueLength(...modelStreams(this.opts.prefix, model)));
    this.rememberLength(model, length);
    return length + incoming < maxQueued;
  }

  async workerView(deadline: number): Promise<WorkerView> {
    const { prefix, deadAfterMs } = this.opts;
    const flat = await this.guarded(deadline, () => this.cmd.liveBeats(workersKey(prefix), beatsKey(prefix), deadAfterMs));
    return this.views.merge(viewFromBeats(flat));
  }

  async queueStats(models: string[], deadline: number): Promise<Map<string, QueueStats>> {
    return this.guarded(deadline, async () => {
      const pipeline = this.cmd.pipeline();
      const streams = models.flatMap((model) => modelStreams(this.opts.prefix, model));
      for (const stream of streams) pipeline.xlen(stream).xpending(stream, GROUP);
      const results = (await pipeline.exec()) ?? [];
      const stats = new Map<string, QueueStats>();
      streams.forEach((_, i) => {
        const [lengthErr, length] = results[2 * i] ?? [new Error('no reply')];
        const [pendingErr, pending] = results[2 * i + 1] ?? [new Error('no reply')];
        if (lengthErr) throw lengthErr;
        // NOGROUP: no worker has read this stream yet, so nothing is pending.
        if (pendingErr && !/NOGROUP/.test(pendingErr.message)) throw pendingErr;
        const model = models[Math.floor(i / 2)]!;
        const sum = stats.get(model) ?? { length: 0, pending: 0 };
        stats.set(model, { length: sum.length + Number(length), pending: sum.pending + (pendingErr ? 0 : Number((pending as [number])[0])) });
      });
      return stats;
    });
  }

  downReason(): string | undefined {
    return isReady(this.cmd) ? undefined : whyNotReady(this.cmd);
  }

  async writeRefusal(deadline: number): Promise<string | undefined> {
    try {
      await this.guarded(deadline, () => this.cmd.set(`${this.opts.prefix}:write-probe`, '1', 'PX', 1000));
      return undefined;
    } catch (err) {
      // guarded() wrapped Redis's reply (queueFailure): its own words are the cause.
      const reason = refusalOf(isAppError(err) ? err.cause : undefined);
      if (reason) return reason;
      throw err;
    }
  }

  async ping(deadline: number): Promise<boolean> {
    if (!this.ready) return false;
    return (await this.guarded(deadline, () => this.cmd.ping()).catch(() => '')) === 'PONG';
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.answers.close();
    this.waiters.rejectAll(() => new AppError('NOT_READY', 'the api is shutting down', { retryAfterS: 1 }));
    await Promise.all([closeConnection(this.sub), closeConnection(this.cmd)]);
  }
}
