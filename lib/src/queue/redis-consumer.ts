/**
 * The worker's side of the Redis queue (Redis Streams with a consumer group).
 *
 * One blocking reader takes as many jobs as the worker has free slots, from every model stream it
 * serves; a second one takes a heavy job (see HEAVY_IMAGE_BYTES) from the models' heavy streams
 * whenever the worker holds none, besides its slots: huge images cost a worker one job at a time, and
 * the ordinary jobs behind them are not held up. With several models, a script takes the oldest jobs
 * across their streams, as many as there is room for (XREADGROUP's COUNT is per stream); a blocking read
 * waits only when none is queued, and what it brings beyond the room (jobs for several models added in
 * the same instant) waits here for a slot. A job stays in the group's pending list until its
 * reply is stored and published, then it is acknowledged and deleted. The worker beats every quarter of WORKER_DEAD_AFTER_MS (worker-presence);
 * when one stops beating, the others take its jobs over at once (job-takeover): at-least-once
 * delivery, and replies are idempotent by job id, so a job run twice is harmless.
 *
 * Redis away: nothing is queued in the client; the reader waits for the connection and this worker's
 * next heartbeat, recreates lost consumer groups, and a finished job's reply is retried until its
 * deadline.
 */
import { sleep } from '../deadline.ts';
import { every } from '../every.ts';
import { JobRejectedError, type BrokenModel, type JobFailure, type JobHandler, type JobConsumer, type ParkedJobs } from '../job-contract.ts';
import type { Logger } from '../logger.ts';
import { unsharedUploadLog } from '../unshared-upload-log.ts';
import { callForBuffers, closeConnection, connectRedis, execChecked, isReady, redisErrorText, waitUntilReady } from './redis-connection.ts';
import { ensureGroup, GROUP, heartbeatEvery, modelStreams, REPLY_TO_FIELD, resultKey, type Reply } from './redis-keys.ts';
import { withScripts, type ScriptedConnection } from './redis-scripts.ts';
import { JobTakeover } from './job-takeover.ts';
import { jobOf, parseReadReply, textField, type StreamEntry } from './stream-entry.ts';
import { WorkerPresence } from './worker-presence.ts';

export interface RedisConsumerOptions {
  redisUrl: string;
  prefix: string;
  resultTtlS: number;
  models: string[];
  /** Each model's build (version + digest of its files): shown to the api through the heartbeat (it keys the result cache by it). */
  versions?: Record<string, string>;
  /** Models this worker could not load: shown to the api through the heartbeat. */
  broken?: BrokenModel[];
  concurrency: number;
  /** Jobs held that wait for decode memory: they free their slots, up to `concurrency` of them. */
  parked?: ParkedJobs;
  /** A worker whose heartbeat is this old is dead; its jobs are taken over. */
  deadAfterMs: number;
  workerId: string;
  handler: JobHandler;
  log: Logger;
}

/** A reply that cannot be stored (Redis away) is retried until the job's deadline, or this long for entries without one. */
const UNREADABLE_ENTRY_RETRY_MS = 5000;
/** Shutdown waits for running jobs until the latest deadline among them, plus this. */
const DRAIN_MARGIN_MS = 1000;
/** How long a stop waits for the read loops, whose reads it has cut, to end. */
const READ_LOOP_END_MS = 500;
/** After Redis lost a stream, XACK/XDEL of an old entry have nothing to act on: that is fine. */
const GONE = /NOGROUP/;

/** One of the two read loops: the streams it reads, on its own blocking connection, and how many jobs it may take now. */
interface Lane {
  name: 'ordinary' | 'heavy';
  reader: ScriptedConnection;
  keys: string[];
  room: () => number;
}

export class RedisConsumer implements JobConsumer {
  private readonly lanes: Lane[];
  private readonly cmd: ScriptedConnection;
  /** Every stream this worker reads: both lanes of each model. */
  private readonly keys: string[];
  private readonly heavyKeys: Set<string>;
  /** Heavy jobs held here, by stream and entry id as `running`. */
  private readonly heavy = new Set<string>();
  private readonly presence: WorkerPresence;
  private readonly takeover: JobTakeover;
  /**
   * Jobs running here, by stream and entry id (`<key> <id>`: ids are per stream, and two streams give the
   * same id to entries added in the same millisecond), with their deadline.
   */
  private readonly running = new Map<string, number>();
  /**
   * Jobs delivered to this worker that wait for room in their lane, in arrival order: taken over from
   * dead workers, or read beyond the room (COUNT is per stream). They go before new reads; Redis cannot
   * take them back, and if this worker stops first, they are taken over from its pending list.
   */
  private readonly waiting: [key: string, entry: StreamEntry][] = [];
  private readonly stop = new AbortController();
  private stopSweeping?: () => void;
  /** Read loops waiting for room, woken when a job ends or parks. */
  private readonly roomWaiters = new Set<() => void>();
  private drained?: () => void;
  /** The last failure of a read, so a Redis outage is logged once, not per read or per loop. */
  private lastReadError = '';
  private loop?: Promise<void>;
  private closing?: Promise<void>;

  constructor(private readonly opts: RedisConsumerOptions) {
    this.cmd = withScripts(connectRedis(opts.redisUrl, `worker-commands-${opts.workerId}`, opts.log, { commandTimeoutMs: 5000 }));
    const lanes = opts.models.map((m) => modelStreams(opts.prefix, m));
    this.keys = lanes.flat();
    this.heavyKeys = new Set(lanes.map(([, heavy]) => heavy));
    this.lanes = [
      { name: 'ordinary', reader: withScripts(connectRedis(opts.redisUrl, `worker-reader-${opts.workerId}`, opts.log)), keys: lanes.map(([ordinary]) => ordinary), room: () => this.freeSlots() - this.waitingIn(false) },
      { name: 'heavy', reader: withScripts(connectRedis(opts.redisUrl, `worker-heavy-reader-${opts.workerId}`, opts.log)), keys: [...this.heavyKeys], room: () => 1 - this.heavy.size - this.waitingIn(true) },
    ];
    const { prefix, workerId, deadAfterMs, log } = opts;
    this.presence = new WorkerPresence(this.cmd, { prefix, workerId, deadAfterMs, log, models: opts.models, versions: opts.versions, broken: opts.broken ?? [] });
    this.takeover = new JobTakeover(this.cmd, {
      prefix, workerId, deadAfterMs, log, keys: this.keys,
      run: (key, entry) => this.take([[key, entry]]),
      failPoison: (key, entry, deliveries) => {
        const job = jobOf(entry);
        const reply: Reply = { id: job?.id ?? entry.id, ok: false, failure: { code: 'PREDICTION_FAILED', detail: `${deliveries} workers stopped while handling this image` } };
        return this.deliver(key, entry.id, { reply, replyTo: textField(entry, REPLY_TO_FIELD) ?? '' }, job?.deadline);
      },
    });
    // Deferred: the count changes inside a handler's own call, which must not start other jobs from there.
    opts.parked?.onChange(() => queueMicrotask(() => this.slotsChanged()));
  }

  /** A job ended, parked or went on: jobs waiting here run if they fit now, and the read loops look again. */
  private slotsChanged(): void {
    this.runWaiting();
    for (const wake of this.roomWaiters) wake();
    this.roomWaiters.clear();
  }

  /** Jobs delivered here: each runs now if its lane has room, else waits its turn. */
  private take(jobs: [key: string, entry: StreamEntry][]): void {
    this.waiting.push(...jobs);
    this.runWaiting();
  }

  /** Starts the waiting jobs that fit, oldest first in each lane (a heavy job does not hold up ordinary ones). */
  private runWaiting(): void {
    for (let i = 0; i < this.waiting.length && !this.stop.signal.aborted; ) {
      const [key, entry] = this.waiting[i]!;
      const fits = this.heavyKeys.has(key) ? this.heavy.size === 0 : this.freeSlots() > 0;
      if (!fits) {
        i++;
        continue;
      }
      this.waiting.splice(i, 1);
      this.run(key, entry);
    }
  }

  private waitingIn(heavy: boolean): number {
    return this.waiting.reduce((n, [key]) => n + (this.heavyKeys.has(key) === heavy ? 1 : 0), 0);
  }

  /** Registers (waiting for Redis if needed), then starts reading and sweeping. */
  async start(): Promise<void> {
    await this.presence.start();
    await this.ensureGroups();
    this.stopSweeping = every(heartbeatEvery(this.opts.deadAfterMs), () => this.sweep(), (err) =>
      this.opts.log.warn({ err: (err as Error).message }, 'taking over jobs of dead workers failed; retrying'),
    );
    await this.sweep().catch((err: unknown) => this.opts.log.warn({ err }, 'first takeover sweep failed'));
    this.loop = Promise.all(this.lanes.map((lane) => this.readLoop(lane))).then(() => undefined);
  }

  /**
   * A worker whose process is known to have exited (this one replaces it): its jobs are taken over at
   * once instead of after WORKER_DEAD_AFTER_MS.
   */
  takeOverFrom(workerId: string): void {
    this.takeover.markDead(workerId);
    this.sweep().catch((err: unknown) => this.opts.log.warn({ err: (err as Error).message }, 'taking over the jobs of the replaced worker failed; retrying'));
  }

  private ensureGroups(): Promise<unknown> {
    return Promise.all(this.keys.map((k) => ensureGroup(this.cmd, k)));
  }

  private async sweep(): Promise<void> {
    if (isReady(this.cmd) && this.presence.isRegistered && !this.stop.signal.aborted) await this.takeover.sweep();
  }

  private async readLoop({ name, reader, keys, room }: Lane): Promise<void> {
    const signal = this.stop.signal;
    while (!signal.aborted) {
      const free = room();
      if (free <= 0 || keys.length === 0) {
        await new Promise<void>((resolve) => this.roomWaiters.add(resolve));
        continue;
      }
      if (!isReady(reader)) {
        await waitUntilReady(reader, 1000);
        continue;
      }
      if (!this.presence.isRegistered) {
        await this.presence.whenRegistered(1000);
        continue;
      }
      let result: [key: string, entries: StreamEntry[]][];
      try {
        // As Buffers: an image travelling with its job must arrive byte for byte. Several streams: the
        // oldest queued first, exactly as many as there is room for; one stream: its COUNT is exact.
        result = keys.length > 1 ? parseReadReply(await callForBuffers(reader, 'readOldest', keys.length, ...keys, GROUP, this.opts.workerId, free)) : [];
        // None queued: wait for the next. Each stream gives its share of the room (COUNT is per stream).
        if (result.length === 0) {
          result = parseReadReply(await callForBuffers(reader, 'xreadgroup',
            'GROUP', GROUP, this.opts.workerId, 'COUNT', Math.ceil(free / keys.length), 'BLOCK', 2000,
            'STREAMS', ...keys, ...keys.map(() => '>'),
          ));
        }
        this.lastReadError = '';
      } catch (err) {
        if (signal.aborted) return;
        const message = String((err as Error).message);
        if (message.includes('NOGROUP')) {
          // Redis lost its data (restart without persistence): recreate the groups and go on.
          await this.ensureGroups().catch((e: unknown) => this.opts.log.warn({ err: e }, 'could not recreate consumer groups'));
        } else {
          // Both loops fail alike while Redis is away: one line says it.
          if (message !== this.lastReadError) this.opts.log.warn({ err: redisErrorText(reader, err), lane: name }, 'reading jobs failed; retrying once Redis answers');
          this.lastReadError = message;
          await sleep(100, signal);
        }
        continue;
      }
      // Oldest first across the models' streams (an entry id begins with the millisecond it was added).
      this.take(result.flatMap(([key, entries]) => entries.map((entry) => [key, entry] as [string, StreamEntry])).sort(([, a], [, b]) => byEntryId(a.id, b.id)));
    }
  }

  /**
   * Slots for more jobs: the concurrency, less the ordinary jobs held that are not parked (at most
   * `concurrency` parked count as free). Heavy jobs take none: they have their own lane.
   */
  private freeSlots(): number {
    const parked = Math.min(this.opts.parked?.count() ?? 0, this.opts.concurrency);
    return this.opts.concurrency - (this.running.size - this.heavy.size - parked);
  }

  /** Runs one job and replies; never throws (a failure becomes that job's reply). */
  private run(key: string, entry: StreamEntry): void {
    const entryId = entry.id;
    const job = jobOf(entry);
    if (!job) {
      this.opts.log.error({ entryId }, 'dropping an unreadable job entry');
      this.deliver(key, entryId, undefined, Date.now() + UNREADABLE_ENTRY_RETRY_MS).catch((err: unknown) =>
        this.opts.log.error({ err, entryId }, 'could not drop an unreadable job entry'),
      );
      return;
    }
    const replyTo = textField(entry, REPLY_TO_FIELD) ?? '';
    const held = `${key} ${entryId}`;
    this.running.set(held, job.deadline);
    if (this.heavyKeys.has(key)) this.heavy.add(held);
    // Every line about this job names it and the api request it serves, as the api's lines do.
    const log = this.opts.log.child({ jobId: job.id, requestId: job.requestId });
    log.debug({ model: job.model }, 'job started');
    void (async () => {
      let reply: Reply;
      try {
        reply = { id: job.id, ok: true, result: await this.opts.handler(job) };
      } catch (err) {
        reply = { id: job.id, ok: false, failure: toFailure(err) };
        if (!(err instanceof JobRejectedError)) log.error({ err }, 'job failed');
        else if (err.failure.code === 'UPLOAD_NOT_SHARED') unsharedUploadLog.report(log, err.failure.detail);
      }
      // An expired job's client has already had its 504: nobody listens, so just drop it.
      const expired = !reply.ok && reply.failure.code === 'DEADLINE_EXCEEDED';
      try {
        await this.deliver(key, entryId, expired ? undefined : { reply, replyTo }, job.deadline);
        log.debug({ outcome: reply.ok ? 'ok' : reply.failure.code }, 'job answered');
      } catch (err) {
        log.error({ err: (err as Error).message }, 'could not deliver a reply before the deadline');
      } finally {
        this.running.delete(held);
        this.heavy.delete(held);
        this.slotsChanged();
        if (this.running.size === 0) this.drained?.();
      }
    })();
  }

  /** Stores and publishes the reply, then acknowledges and deletes the entry; retried until `deadline`. */
  private async deliver(key: string, entryId: string, answer: { reply: Reply; replyTo: string } | undefined, deadline = 0): Promise<void> {
    for (;;) {
      try {
        const tx = this.cmd.multi();
        if (answer) {
          const text = JSON.stringify(answer.reply);
          tx.set(resultKey(this.opts.prefix, answer.reply.id), text, 'EX', this.opts.resultTtlS);
          if (answer.replyTo) tx.publish(answer.replyTo, text);
        }
        tx.xack(key, GROUP, entryId).xdel(key, entryId);
        await execChecked(tx, GONE);
        return;
      } catch (err) {
        if (Date.now() >= deadline) throw err;
        await waitUntilReady(this.cmd, Math.max(0, deadline - Date.now()));
        await sleep(50);
      }
    }
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    // Stop being counted as serving, stop reading and sweeping; keep beating while jobs finish, so
    // nobody takes them over.
    await this.presence.drain();
    this.stop.abort();
    this.stopSweeping?.();
    for (const lane of this.lanes) lane.reader.disconnect();
    this.slotsChanged();
    // A read in flight ends when its connection closes, which a hung Redis never confirms (it took 2 s,
    // ioredis' connect timeout). Nothing read after the stop runs: it stays pending, taken over by others.
    await Promise.race([this.loop?.catch(() => undefined), sleep(READ_LOOP_END_MS)]);
    if (this.running.size > 0) {
      const until = Math.max(...this.running.values()) + DRAIN_MARGIN_MS;
      const drained = new Promise<void>((resolve) => (this.drained = resolve));
      await Promise.race([drained, sleep(Math.max(0, until - Date.now()))]);
      if (this.running.size > 0) this.opts.log.warn({ jobs: this.running.size }, 'stopping with jobs still running; other workers take them over');
    }
    // Jobs delivered but never started stay pending under this worker: once its heartbeat is gone,
    // another worker takes them over at once.
    await this.presence.stop().catch((err: unknown) => this.opts.log.warn({ err: redisErrorText(this.cmd, err) }, 'could not remove the worker heartbeat'));
    await closeConnection(this.cmd);
  }
}

/** Stream entry ids (`<ms>-<seq>`) in the order they were added. */
function byEntryId(a: string, b: string): number {
  const [am = 0, as = 0] = a.split('-').map(Number);
  const [bm = 0, bs = 0] = b.split('-').map(Number);
  return am - bm || as - bs;
}

function toFailure(err: unknown): JobFailure {
  if (err instanceof JobRejectedError) return err.failure;
  return { code: 'PREDICTION_FAILED', detail: (err as Error).message ?? String(err) };
}
