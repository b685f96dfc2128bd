/**
 * The Redis queue, on BullMQ. The only module that imports bullmq.
 *
 * One BullMQ queue per model (`predict-<model>`), so workers holding different models can share a Redis.
 * The api waits for results through one QueueEvents subscription per model queue, shared by every
 * in-flight request of the process (no polling, no connection per request). Workers that die mid-job
 * stop renewing their lock; BullMQ's stalled-job check hands the job to another worker.
 */
import { Queue, QueueEvents, Worker, UnrecoverableError, type ConnectionOptions, type Job } from 'bullmq';
import { hostname } from 'node:os';
import { AppError } from '../errors.ts';
import {
  decodeFailure,
  encodeFailure,
  JobRejectedError,
  type JobConsumer,
  type JobData,
  type JobHandler,
  type JobProducer,
  type JobResult,
} from '../job-contract.ts';
import type { Logger } from '../logger.ts';
import { WaiterRegistry } from './waiter-registry.ts';

export interface RedisQueueOptions {
  redisUrl: string;
  prefix: string;
  resultTtlS: number;
  maxWaiting: number;
  log: Logger;
}

const queueName = (model: string) => `predict-${model}`;
const workersKey = (prefix: string) => `${prefix}:workers`;
const HEARTBEAT_MS = 2000;
/** A worker that has not beaten for this long is presumed dead. */
const HEARTBEAT_STALE_MS = 3 * HEARTBEAT_MS;

/** BullMQ takes ioredis options, not a URL. */
export function connectionFromUrl(redisUrl: string): ConnectionOptions {
  const u = new URL(redisUrl);
  return {
    host: u.hostname || '127.0.0.1',
    port: u.port ? Number(u.port) : 6379,
    username: u.username ? decodeURIComponent(u.username) : undefined,
    password: u.password ? decodeURIComponent(u.password) : undefined,
    db: u.pathname.length > 1 ? Number(u.pathname.slice(1)) : 0,
    tls: u.protocol === 'rediss:' ? {} : undefined,
    // BullMQ's blocking commands need this; the api fails requests itself at their deadline.
    maxRetriesPerRequest: null,
  };
}

interface WorkerBeat {
  models: string[];
  host: string;
  pid: number;
  at: number;
}

export class BullmqProducer implements JobProducer {
  private readonly connection: ConnectionOptions;
  private readonly queues = new Map<string, Promise<Queue>>();
  private readonly events: QueueEvents[] = [];
  private readonly waiters = new WaiterRegistry<JobResult>();
  private closed = false;

  constructor(private readonly opts: RedisQueueOptions) {
    this.connection = connectionFromUrl(opts.redisUrl);
  }

  /** The queue of a model, with its result subscription ready before the first job is added. */
  private queueFor(model: string): Promise<Queue> {
    let q = this.queues.get(model);
    if (!q) {
      q = this.openQueue(model);
      this.queues.set(model, q);
      q.catch(() => this.queues.delete(model));
    }
    return q;
  }

  private async openQueue(model: string): Promise<Queue> {
    const name = queueName(model);
    const queue = new Queue(name, { connection: this.connection, prefix: this.opts.prefix });
    queue.on('error', (err) => this.opts.log.error({ err, queue: name }, 'queue connection error'));
    const events = new QueueEvents(name, { connection: this.connection, prefix: this.opts.prefix });
    events.on('error', (err) => this.opts.log.error({ err, queue: name }, 'queue events connection error'));
    events.on('completed', ({ jobId, returnvalue }) => {
      const result = (typeof returnvalue === 'string' ? JSON.parse(returnvalue) : returnvalue) as JobResult;
      this.waiters.resolve(jobId, result);
    });
    events.on('failed', ({ jobId, failedReason }) => {
      const f = decodeFailure(failedReason);
      this.waiters.reject(jobId, new AppError(f.code, f.detail));
    });
    this.events.push(events);
    await Promise.all([queue.waitUntilReady(), events.waitUntilReady()]);
    return queue;
  }

  async submit(job: JobData): Promise<JobResult> {
    const queue = await this.queueFor(job.model);
    const waiting = await queue.getWaitingCount();
    if (waiting >= this.opts.maxWaiting) {
      throw new AppError('QUEUE_FULL', `${waiting} jobs are waiting for model ${job.model}`, { retryAfterS: 1 });
    }
    const result = this.waiters.wait(job.id, job.deadline, () => {
      // Nobody will read the answer: drop the job if no worker has taken it yet.
      queue.remove(job.id).catch((err: unknown) => this.opts.log.warn({ err, jobId: job.id }, 'could not drop expired job'));
    });
    const added = queue
      .add('predict', job, {
        jobId: job.id,
        attempts: 1,
        removeOnComplete: { age: this.opts.resultTtlS },
        removeOnFail: { age: this.opts.resultTtlS },
      })
      .then(
        () => undefined,
        (err: unknown) => this.waiters.reject(job.id, new AppError('NOT_READY', 'the queue did not accept the job', { cause: err, retryAfterS: 1 })),
      );
    // Both settle through one handler: the deadline may pass while the add is still in flight.
    const [answer] = await Promise.all([result, added]);
    return answer;
  }

  async servedModels(): Promise<Map<string, number>> {
    const queue = await this.queueFor('_registry');
    const client = await queue.getBackend().client;
    const beats = await client.hgetall(workersKey(this.opts.prefix));
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
    try {
      const queue = await this.queueFor('_registry');
      const client = await queue.getBackend().client;
      await client.get(`${this.opts.prefix}:ping`);
      return true;
    } catch {
      return false; // readiness reports the failure; the connection logs its own errors
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.waiters.rejectAll(() => new AppError('NOT_READY', 'the api is shutting down'));
    const queues = await Promise.allSettled([...this.queues.values()]);
    await Promise.allSettled([
      ...this.events.map((e) => e.close()),
      ...queues.flatMap((q) => (q.status === 'fulfilled' ? [q.value.close()] : [])),
    ]);
  }
}

export interface RedisConsumerOptions extends RedisQueueOptions {
  models: string[];
  concurrency: number;
  lockMs: number;
  workerId: string;
  handler: JobHandler;
}

export class BullmqConsumer implements JobConsumer {
  private readonly workers: Worker[] = [];
  private heartbeat?: NodeJS.Timeout;
  private registry?: Queue;
  private closing?: Promise<void>;

  constructor(private readonly opts: RedisConsumerOptions) {}

  async start(): Promise<void> {
    const connection = connectionFromUrl(this.opts.redisUrl);
    for (const model of this.opts.models) {
      const worker = new Worker(queueName(model), (job: Job<JobData>) => this.process(job), {
        connection,
        prefix: this.opts.prefix,
        concurrency: this.opts.concurrency,
        lockDuration: this.opts.lockMs,
        stalledInterval: Math.max(250, Math.floor(this.opts.lockMs / 2)),
        maxStalledCount: 2,
        autorun: true,
      });
      worker.on('error', (err) => this.opts.log.error({ err, model }, 'worker connection error'));
      this.workers.push(worker);
    }
    await Promise.all(this.workers.map((w) => w.waitUntilReady()));
    this.registry = new Queue(queueName('_registry'), { connection, prefix: this.opts.prefix });
    await this.beat();
    this.heartbeat = setInterval(() => {
      this.beat().catch((err: unknown) => this.opts.log.warn({ err }, 'heartbeat failed'));
    }, HEARTBEAT_MS);
    this.heartbeat.unref();
  }

  private async process(job: Job<JobData>): Promise<JobResult> {
    this.opts.log.debug({ jobId: job.id, model: job.data.model, attempt: job.attemptsStarted }, 'job started');
    try {
      return await this.opts.handler(job.data);
    } catch (err) {
      if (err instanceof JobRejectedError) throw new UnrecoverableError(encodeFailure(err.failure));
      throw err;
    }
  }

  private async beat(): Promise<void> {
    const client = await this.registry!.getBackend().client;
    const beat: WorkerBeat = { models: this.opts.models, host: hostname(), pid: process.pid, at: Date.now() };
    await client.hset(workersKey(this.opts.prefix), { [this.opts.workerId]: JSON.stringify(beat) });
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    if (this.heartbeat) clearInterval(this.heartbeat);
    // Stop advertising first so readiness turns false, then drain running jobs.
    const steps: Promise<unknown>[] = [];
    if (this.registry) {
      steps.push(
        this.registry.getBackend().client
          .then((c: { hdel(k: string, f: string): Promise<number> }) => c.hdel(workersKey(this.opts.prefix), this.opts.workerId))
          .catch((err: unknown) => this.opts.log.warn({ err }, 'could not remove worker heartbeat')),
      );
    }
    await Promise.allSettled(steps);
    await Promise.allSettled(this.workers.map((w) => w.close()));
    if (this.registry) await this.registry.close().catch((err: unknown) => this.opts.log.warn({ err }, 'registry close failed'));
  }
}
