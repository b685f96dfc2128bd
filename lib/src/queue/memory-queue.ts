/**
 * The in-process queue of embedded mode: api and model in one process, no Redis.
 * It keeps the same promises as the Redis queue (bound → 503, deadline → 504, expired jobs skipped,
 * a failing job fails only its own request) so the code above the queue interface is the same. The
 * bound is the Redis queue's too: per model, jobs queued or running (a Redis stream holds an entry
 * until its reply is sent), and heavy jobs (images that decode to more than HEAVY_IMAGE_BYTES) wait in
 * their own line, one running at a time besides the others, and take at most heavyBound of the bound.
 */
import { AppError, heavyQueueFull, queueFull } from '../errors.ts';
import {
  heavyBound,
  JobRejectedError,
  type JobConsumer,
  type JobData,
  type JobHandler,
  type JobProducer,
  type JobResult,
  type BrokenModel,
  type QueueStats,
  type WorkerView,
} from '../job-contract.ts';
import type { Logger } from '../logger.ts';
import { fromCache, keepsAnswer, MemoryResultCache, type ResultCacheBounds } from './result-cache.ts';
import { WaiterRegistry } from './waiter-registry.ts';

export interface MemoryQueueOptions {
  /** Jobs queued or running per model before new ones are refused (QUEUE_MAX_WAITING). */
  maxWaiting: number;
  concurrency: number;
  models: string[];
  /** Models the host could not load, shown beside the served ones. */
  broken?: BrokenModel[];
  /** Each served model's build (see WorkerView.versions), as a worker's heartbeat says it. */
  versions?: Record<string, string>;
  handler: JobHandler;
  /** The result cache's bounds; absent: jobs' cacheKeys are ignored. */
  cache?: ResultCacheBounds;
  log: Logger;
}

export class MemoryQueue implements JobProducer, JobConsumer {
  private readonly waiting: JobData[] = [];
  /** Heavy jobs, in their own line: one runs at a time, besides the others. */
  private readonly heavyWaiting: JobData[] = [];
  private readonly waiters = new WaiterRegistry<JobResult>();
  /** Ordinary jobs running (the concurrency bounds them). */
  private running = 0;
  private heavyRunning = 0;
  /** Per model, jobs queued or running: what the bound counts. */
  private readonly held = new Map<string, number>();
  /** Per model, heavy jobs queued or running (part of `held`). */
  private readonly heldHeavy = new Map<string, number>();
  /** Running jobs per model, for queueStats. */
  private readonly runningByModel = new Map<string, number>();
  /** Handlers still running, so close() can let them finish (the JobConsumer contract). */
  private readonly inflight = new Set<Promise<unknown>>();
  private started = false;
  private closed = false;
  private readonly cache?: MemoryResultCache;

  constructor(private readonly opts: MemoryQueueOptions) {
    if (opts.cache) this.cache = new MemoryResultCache(opts.cache);
  }

  async start(): Promise<void> {
    this.started = true;
    this.pump();
  }

  async submit(job: JobData): Promise<JobResult> {
    if (this.closed) throw new AppError('NOT_READY', 'the service is shutting down');
    if (!this.opts.models.includes(job.model)) throw new AppError('UNKNOWN_MODEL', job.model);
    const hit = job.cacheKey ? this.cache?.get(job.cacheKey) : undefined;
    if (hit) return fromCache(hit, job.id);
    const held = this.held.get(job.model) ?? 0;
    if (held >= this.opts.maxWaiting) {
      throw queueFull(job.model, held);
    }
    const heavy = this.heldHeavy.get(job.model) ?? 0;
    if (job.heavy && heavy >= heavyBound(this.opts.maxWaiting)) throw heavyQueueFull(job.model, heavy);
    const result = this.waiters.wait(job.id, job.deadline);
    this.held.set(job.model, held + 1);
    if (job.heavy) {
      this.heldHeavy.set(job.model, heavy + 1);
      this.heavyWaiting.push(job);
    } else {
      this.waiting.push(job);
    }
    this.pump();
    return result;
  }

  async admits(model: string, _deadline?: number, incoming = 0): Promise<boolean> {
    return (this.held.get(model) ?? 0) + incoming < this.opts.maxWaiting;
  }

  private release(job: JobData): void {
    const less = (counts: Map<string, number>) => {
      const left = (counts.get(job.model) ?? 1) - 1;
      if (left > 0) counts.set(job.model, left);
      else counts.delete(job.model);
    };
    less(this.held);
    if (job.heavy) less(this.heldHeavy);
  }

  private pump(): void {
    if (!this.started || this.closed) return;
    while (this.running < this.opts.concurrency && this.waiting.length > 0) this.startNext(this.waiting);
    while (this.heavyRunning === 0 && this.heavyWaiting.length > 0) this.startNext(this.heavyWaiting);
  }

  /** Starts the first job of `line`, unless its deadline has passed (its request has had its 504). */
  private startNext(line: JobData[]): void {
    const job = line.shift()!;
    if (Date.now() > job.deadline) return this.release(job);
    const running = (by: number) => (job.heavy ? (this.heavyRunning += by) : (this.running += by));
    running(1);
    this.runningByModel.set(job.model, (this.runningByModel.get(job.model) ?? 0) + 1);
    const run: Promise<unknown> = this.opts
      .handler(job)
      .then(
        (result) => {
          if (job.cacheKey && keepsAnswer(job, result)) this.cache?.put(job.cacheKey, result);
          this.waiters.resolve(job.id, result);
        },
        (err: unknown) => this.waiters.reject(job.id, toAppError(err, this.opts.log, job)),
      )
      .finally(() => {
        running(-1);
        this.release(job);
        this.runningByModel.set(job.model, this.runningByModel.get(job.model)! - 1);
        this.inflight.delete(run);
        this.pump();
      });
    this.inflight.add(run);
  }

  async workerView(): Promise<WorkerView> {
    const live = this.started && !this.closed;
    return {
      served: new Map(live ? this.opts.models.map((m) => [m, 1]) : []),
      broken: new Map(live ? (this.opts.broken ?? []).map((b) => [b.name, b.reason]) : []),
      ...(this.opts.versions ? { versions: new Map(live ? Object.entries(this.opts.versions).map(([m, v]) => [m, new Set([v])]) : []) } : {}),
    };
  }

  async queueStats(models: string[]): Promise<Map<string, QueueStats>> {
    const stats = new Map(models.map((m) => [m, { length: 0, pending: this.runningByModel.get(m) ?? 0 }]));
    for (const job of [...this.waiting, ...this.heavyWaiting]) {
      const s = stats.get(job.model);
      if (s) s.length++;
    }
    for (const s of stats.values()) s.length += s.pending;
    return stats;
  }

  async ping(): Promise<boolean> {
    return !this.closed;
  }

  async close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      this.waiting.length = 0;
      this.heavyWaiting.length = 0;
      this.waiters.rejectAll(() => new AppError('NOT_READY', 'the service is shutting down'));
    }
    await Promise.allSettled([...this.inflight]);
  }
}

function toAppError(err: unknown, log: Logger, job: JobData): AppError {
  if (err instanceof JobRejectedError) return new AppError(err.failure.code, err.failure.detail);
  log.error({ err, jobId: job.id, requestId: job.requestId }, 'job failed');
  return new AppError('PREDICTION_FAILED', (err as Error).message);
}
