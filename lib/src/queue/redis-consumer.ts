/**
 * The worker's side of the Redis queue (Redis Streams with a consumer group).
 *
 * One blocking reader takes as many jobs as the worker has free slots, from every model stream it
 * serves. A job stays in the group's pending list until its reply is stored and published, then it is
 * acknowledged and deleted. While a job runs, the worker keeps touching it (XCLAIM to itself), so its
 * idle time stays low; a worker that dies stops touching its jobs, and any other worker claims those
 * that sit idle longer than WORKER_LOCK_MS (at-least-once delivery; replies are idempotent by job id).
 */
import { hostname } from 'node:os';
import { JobRejectedError, type JobData, type JobFailure, type JobHandler, type JobConsumer } from '../job-contract.ts';
import type { Logger } from '../logger.ts';
import { connectRedis, type RedisConnection } from './redis-connection.ts';
import {
  ensureGroup,
  GROUP,
  HEARTBEAT_MS,
  JOB_FIELD,
  jobsKey,
  MAX_DELIVERIES,
  REPLY_TO_FIELD,
  resultKey,
  workersKey,
  type Reply,
  type WorkerBeat,
} from './redis-keys.ts';

export interface RedisConsumerOptions {
  redisUrl: string;
  prefix: string;
  resultTtlS: number;
  models: string[];
  concurrency: number;
  /** A job idle this long in another consumer's hands is presumed abandoned and claimed. */
  lockMs: number;
  workerId: string;
  handler: JobHandler;
  log: Logger;
}

type StreamEntry = [id: string, fields: string[]];
type ReadResult = [key: string, entries: StreamEntry[]][] | null;

interface Running {
  key: string;
  entryId: string;
}

export class RedisConsumer implements JobConsumer {
  private readonly reader: RedisConnection;
  private readonly cmd: RedisConnection;
  private readonly keys: string[];
  private readonly running = new Map<string, Running>();
  private readonly timers: NodeJS.Timeout[] = [];
  private slotFreed?: () => void;
  private drained?: () => void;
  private loop?: Promise<void>;
  private closing?: Promise<void>;

  constructor(private readonly opts: RedisConsumerOptions) {
    this.reader = connectRedis(opts.redisUrl, `worker-reader-${opts.workerId}`, opts.log);
    this.cmd = connectRedis(opts.redisUrl, `worker-commands-${opts.workerId}`, opts.log);
    this.keys = opts.models.map((m) => jobsKey(opts.prefix, m));
  }

  async start(): Promise<void> {
    await Promise.all(this.keys.map((k) => ensureGroup(this.cmd, k)));
    await this.beat();
    const every = (ms: number, what: string, fn: () => Promise<void>) => {
      const t = setInterval(() => fn().catch((err: unknown) => this.opts.log.warn({ err }, `${what} failed`)), ms);
      t.unref();
      this.timers.push(t);
    };
    every(HEARTBEAT_MS, 'heartbeat', () => this.beat());
    every(Math.max(100, Math.floor(this.opts.lockMs / 3)), 'touching running jobs', () => this.touchRunning());
    every(Math.max(200, Math.floor(this.opts.lockMs / 2)), 'claiming abandoned jobs', () => this.claimAbandoned());
    await this.claimAbandoned();
    this.loop = this.readLoop();
  }

  private async readLoop(): Promise<void> {
    while (!this.closing) {
      const free = this.opts.concurrency - this.running.size;
      if (free <= 0) {
        await new Promise<void>((resolve) => (this.slotFreed = resolve));
        continue;
      }
      let result: ReadResult;
      try {
        result = (await this.reader.call(
          'XREADGROUP', 'GROUP', GROUP, this.opts.workerId, 'COUNT', free, 'BLOCK', 2000,
          'STREAMS', ...this.keys, ...this.keys.map(() => '>'),
        )) as ReadResult;
      } catch (err) {
        if (this.closing) return;
        if (String((err as Error).message).includes('NOGROUP')) {
          // Redis lost its data (restart without persistence): recreate the groups and go on.
          await Promise.all(this.keys.map((k) => ensureGroup(this.cmd, k))).catch(() => undefined);
        } else {
          this.opts.log.error({ err: (err as Error).message }, 'reading jobs failed; retrying');
          await new Promise((r) => setTimeout(r, 500));
        }
        continue;
      }
      for (const [key, entries] of result ?? []) for (const [entryId, fields] of entries) this.run(key, entryId, fields);
    }
  }

  /** Runs one job and replies; never throws (a failure becomes that job's reply). */
  private run(key: string, entryId: string, fields: string[]): void {
    const field = (name: string) => fields[fields.indexOf(name) + 1];
    let job: JobData;
    try {
      job = JSON.parse(field(JOB_FIELD) ?? '') as JobData;
    } catch (err) {
      this.opts.log.error({ err, entryId }, 'dropping an unreadable job entry');
      void this.finish(key, entryId);
      return;
    }
    const replyTo = field(REPLY_TO_FIELD) ?? '';
    this.running.set(job.id, { key, entryId });
    this.opts.log.debug({ jobId: job.id, model: job.model }, 'job started');
    void (async () => {
      let reply: Reply;
      try {
        reply = { id: job.id, ok: true, result: await this.opts.handler(job) };
      } catch (err) {
        reply = { id: job.id, ok: false, failure: toFailure(err) };
        if (!(err instanceof JobRejectedError)) this.opts.log.error({ err, jobId: job.id }, 'job failed');
      }
      // An expired job's client has already had its 504: nobody listens, so just drop it.
      const expired = !reply.ok && reply.failure.code === 'DEADLINE_EXCEEDED';
      await this.finish(key, entryId, expired ? undefined : { reply, replyTo }).catch((err: unknown) =>
        this.opts.log.error({ err, jobId: job.id }, 'could not deliver a reply; the job will be claimed again'),
      );
      this.running.delete(job.id);
      this.slotFreed?.();
      this.slotFreed = undefined;
      if (this.running.size === 0) this.drained?.();
    })();
  }

  /** Stores and publishes the reply, then acknowledges and deletes the entry, in one round trip. */
  private async finish(key: string, entryId: string, answer?: { reply: Reply; replyTo: string }): Promise<void> {
    const tx = this.cmd.multi();
    if (answer) {
      const text = JSON.stringify(answer.reply);
      tx.set(resultKey(this.opts.prefix, answer.reply.id), text, 'EX', this.opts.resultTtlS);
      if (answer.replyTo) tx.publish(answer.replyTo, text);
    }
    tx.xack(key, GROUP, entryId).xdel(key, entryId);
    await tx.exec();
  }

  /** Resets the idle time of our running jobs, so nobody mistakes them for abandoned. */
  private async touchRunning(): Promise<void> {
    const byKey = new Map<string, string[]>();
    for (const r of this.running.values()) byKey.set(r.key, [...(byKey.get(r.key) ?? []), r.entryId]);
    await Promise.all(
      [...byKey].map(([key, ids]) => this.cmd.call('XCLAIM', key, GROUP, this.opts.workerId, 0, ...ids, 'JUSTID')),
    );
  }

  /** Claims jobs left idle by dead workers; fails those that have already killed too many workers. */
  private async claimAbandoned(): Promise<void> {
    for (const key of this.keys) {
      const free = this.opts.concurrency - this.running.size;
      if (free <= 0 || this.closing) return;
      const pending = (await this.cmd.call('XPENDING', key, GROUP, 'IDLE', this.opts.lockMs, '-', '+', free)) as [
        string,
        string,
        number,
        number,
      ][];
      for (const [entryId, consumer, , deliveries] of pending) {
        // Our own job looks idle when a long inference delayed the touch timer: it is still running here.
        if (consumer === this.opts.workerId && [...this.running.values()].some((r) => r.entryId === entryId)) continue;
        const claimed = (await this.cmd.call('XCLAIM', key, GROUP, this.opts.workerId, this.opts.lockMs, entryId)) as StreamEntry[];
        const entry = claimed[0];
        if (!entry || !entry[1]) continue; // someone else claimed it first, or it was deleted meanwhile
        this.opts.log.warn({ entryId, from: consumer, deliveries }, 'claimed a job abandoned by another worker');
        if (deliveries >= MAX_DELIVERIES) {
          const fields = entry[1];
          const job = JSON.parse(fields[fields.indexOf(JOB_FIELD) + 1] ?? '{}') as JobData;
          const reply: Reply = {
            id: job.id,
            ok: false,
            failure: { code: 'PREDICTION_FAILED', detail: `${deliveries} workers stopped while handling this image` },
          };
          await this.finish(key, entryId, { reply, replyTo: fields[fields.indexOf(REPLY_TO_FIELD) + 1] ?? '' });
          continue;
        }
        this.run(key, entryId, entry[1]);
      }
    }
  }

  private async beat(): Promise<void> {
    const beat: WorkerBeat = { models: this.opts.models, host: hostname(), pid: process.pid, at: Date.now() };
    await this.cmd.hset(workersKey(this.opts.prefix), this.opts.workerId, JSON.stringify(beat));
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    // Readiness first: stop advertising, stop reading; then let running jobs finish and reply.
    await this.cmd.hdel(workersKey(this.opts.prefix), this.opts.workerId).catch((err: unknown) =>
      this.opts.log.warn({ err }, 'could not remove the worker heartbeat'),
    );
    this.reader.disconnect();
    this.slotFreed?.();
    await this.loop?.catch(() => undefined);
    if (this.running.size > 0) await new Promise<void>((resolve) => (this.drained = resolve));
    // The consumer name stays in the group: deleting it would also delete any entry delivered to it
    // in the instant before the reader closed, which must stay claimable by other workers.
    await this.cmd.quit().catch((err: unknown) => this.opts.log.warn({ err }, 'redis quit failed'));
  }
}

function toFailure(err: unknown): JobFailure {
  if (err instanceof JobRejectedError) return err.failure;
  return { code: 'PREDICTION_FAILED', detail: (err as Error).message ?? String(err) };
}
