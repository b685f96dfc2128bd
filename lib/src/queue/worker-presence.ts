/**
 * A worker's heartbeat: every quarter of WORKER_DEAD_AFTER_MS it tells Redis it is alive and what
 * it holds. Inference runs off the event loop, so beats keep flowing during the longest inference,
 * and another worker can take over the jobs of one that stops beating within WORKER_DEAD_AFTER_MS.
 * After a reconnect (even to a Redis that lost everything) it beats at once, and the worker reads no
 * job before that beat went through, so nobody mistakes it for a dead one.
 */
import { hostname } from 'node:os';
import { withDeadline } from '../deadline.ts';
import { every } from '../every.ts';
import type { BrokenModel } from '../job-contract.ts';
import type { Logger } from '../logger.ts';
import { execChecked, isReady, redisAddress, redisErrorText, waitUntilReady, whyNotReady } from './redis-connection.ts';
import { beatsKey, heartbeatEvery, workersKey, type WorkerBeat } from './redis-keys.ts';
import type { ScriptedConnection } from './redis-scripts.ts';

/** How long a stopping worker waits for Redis to take each of its last words. */
const SHUTDOWN_WORD_MS = 1000;

export interface PresenceOptions {
  prefix: string;
  workerId: string;
  deadAfterMs: number;
  models: string[];
  /** Each model's build (version + digest of its files), told with every beat (the api keys the result cache by it). */
  versions?: Record<string, string>;
  broken: BrokenModel[];
  log: Logger;
}

export class WorkerPresence {
  private registered = false;
  private draining = false;
  private stopBeating?: () => void;
  private waiters = new Set<() => void>();

  constructor(
    private readonly cmd: ScriptedConnection,
    private readonly opts: PresenceOptions,
  ) {
    cmd.on('close', () => (this.registered = false));
    cmd.on('ready', () => void this.beat().catch((err: unknown) => this.opts.log.warn({ err }, 'heartbeat after reconnect failed')));
  }

  /** Beats now (waiting for Redis as long as it takes), then every quarter of deadAfterMs. */
  async start(): Promise<void> {
    while (!this.registered) {
      if (!(await waitUntilReady(this.cmd, 5000))) {
        // Why, each time: a refused password or a missing database is logged once, when it first happens.
        this.opts.log.warn({ redis: redisAddress(this.cmd), reason: whyNotReady(this.cmd) }, 'waiting for Redis before taking jobs');
        continue;
      }
      await this.beat().catch((err: unknown) => this.opts.log.warn({ err }, 'first heartbeat failed; retrying'));
    }
    this.stopBeating = every(heartbeatEvery(this.opts.deadAfterMs), () => this.beat(), (err) =>
      this.opts.log.warn({ err: redisErrorText(this.cmd, err) }, 'heartbeat failed'),
    );
  }

  /** True once a beat went through on the current connection. */
  get isRegistered(): boolean {
    return this.registered;
  }

  /** Resolves when registered, or after `timeoutMs`. */
  whenRegistered(timeoutMs: number): Promise<void> {
    if (this.registered) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      this.waiters.add(done);
    });
  }

  private async beat(): Promise<void> {
    if (!isReady(this.cmd)) return;
    const beat: WorkerBeat = {
      models: this.opts.models,
      ...(this.opts.versions ? { versions: this.opts.versions } : {}),
      broken: this.opts.broken,
      host: hostname(),
      pid: process.pid,
      ...(this.draining ? { draining: true } : {}),
    };
    await this.cmd.beat(workersKey(this.opts.prefix), beatsKey(this.opts.prefix), this.opts.workerId, JSON.stringify(beat));
    this.registered = true;
    for (const w of [...this.waiters]) w();
  }

  /** Still alive (its jobs are not taken over) but no longer counted as serving its models. */
  async drain(): Promise<void> {
    this.draining = true;
    await this.atShutdown(this.beat()).catch((err: unknown) => this.opts.log.warn({ err: redisErrorText(this.cmd, err) }, 'could not announce draining'));
  }

  /** Stops beating and removes the beat: other workers take over whatever this one still holds. */
  async stop(): Promise<void> {
    this.stopBeating?.();
    if (!isReady(this.cmd)) return;
    await this.atShutdown(
      execChecked(this.cmd.multi().hdel(workersKey(this.opts.prefix), this.opts.workerId).zrem(beatsKey(this.opts.prefix), this.opts.workerId)),
    );
  }

  /**
   * A shutdown's word to Redis, bounded well below the command timeout: with Redis hung, each waited
   * 5 s, and a worker asked to stop took 21 s, past the supervisor's grace (and compose's 10 s). What is
   * not said is learnt anyway: a silent worker's jobs are taken over after WORKER_DEAD_AFTER_MS.
   */
  private atShutdown<T>(work: Promise<T>): Promise<T> {
    return withDeadline(work, Date.now() + SHUTDOWN_WORD_MS, () => new Error(`Redis at ${redisAddress(this.cmd)} did not answer within ${SHUTDOWN_WORD_MS} ms`));
  }
}
