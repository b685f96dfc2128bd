/**
 * The faults of the chaos run: a SIGKILL of a random model worker at fixed intervals, and one Redis
 * kill and restart (empty) once enough requests were sent. Every fault is recorded with its time,
 * and worker deaths are collected (from the supervisor's log, or from the run's own orchestrator), so
 * the report can tell the test's kills from deaths the service caused itself.
 */
import type { Rng } from '@icls/lib/seeded-random';
import type { PrivateRedis } from '../tests/helpers/redis-server.ts';

export interface FaultLog {
  kills: { at: number; pid: number }[];
  redis?: { downAt: number; upAt: number };
  /** Worker exits the supervisor logged. */
  deaths: { at: number; pid: number; code: number | null; signal: string | null }[];
}

export class FaultInjector {
  readonly log: FaultLog = { kills: [], deaths: [] };
  private timer?: NodeJS.Timeout;
  private redisRestart?: Promise<void>;

  constructor(
    /** `victims`: the model workers running now, one of which each kill picks. */
    private readonly opts: { victims: () => number[]; killEveryS: number; redis: PrivateRedis; redisRestartAfter: number; redisDownS: number; rng: Rng; say: (msg: string) => void },
  ) {}

  start(): void {
    if (this.opts.killEveryS > 0) this.timer = setInterval(() => this.killAWorker(), this.opts.killEveryS * 1000);
  }

  private killAWorker(): void {
    const workers = this.opts.victims();
    if (workers.length === 0) return;
    const pid = workers[Math.floor(this.opts.rng() * workers.length)]!;
    try {
      process.kill(pid, 'SIGKILL');
      this.log.kills.push({ at: Date.now(), pid });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err; // it had just exited
    }
  }

  /** Called after each request is sent: restarts Redis once when the count is reached. */
  onSent(sent: number): void {
    if (this.redisRestart || this.opts.redisRestartAfter <= 0 || sent < this.opts.redisRestartAfter) return;
    this.redisRestart = (async () => {
      const downAt = Date.now();
      await this.opts.redis.kill();
      this.opts.say(`Redis killed after ${sent} requests; restarting it in ${this.opts.redisDownS} s`);
      await new Promise((r) => setTimeout(r, this.opts.redisDownS * 1000));
      await this.opts.redis.restart();
      this.log.redis = { downAt, upAt: Date.now() };
      this.opts.say('Redis is back (empty)');
    })();
  }

  /** Reads the supervisor's lines about worker exits. */
  onLine(line: string): void {
    if (!line.includes('"workerPid"')) return;
    try {
      const entry = JSON.parse(line) as { time: number; workerPid: number; code: number | null; signal: string | null };
      this.noteDeath({ at: entry.time, pid: entry.workerPid, code: entry.code, signal: entry.signal });
    } catch {
      // a line that merely mentions the field is not a supervisor record
    }
  }

  noteDeath(death: FaultLog['deaths'][number]): void {
    this.log.deaths.push(death);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.redisRestart;
  }
}
