/**
 * Whether a Redis connection that is up still answers. A Redis that hangs (SIGSTOP, a network black
 * hole) keeps its connection open, so every call waited out its own bound: under load, outside QA saw
 * one request refused after 4.0 s (a queue-length read and then the add, 2 s each) and the others
 * after 2 s each. Once one call goes unanswered the connection is "silent": the calls waiting then stop
 * waiting, and new ones fail at once, until a PING, sent every PROBE_EVERY_MS, is answered again.
 */
import { sleep, withDeadline } from '../deadline.ts';
import type { Logger } from '../logger.ts';

/** How often a silent connection is probed; a Redis that answers again is used again within this (plus its answer). */
export const PROBE_EVERY_MS = 250;
/** A probe not answered within this counts as no answer. */
const PROBE_TIMEOUT_MS = 1000;

/** A call given up because another one on the same connection went unanswered. */
export class NoAnswerError extends Error {
  override name = 'NoAnswerError';
}

export class AnswerWatch {
  private silentSince: number | undefined;
  /** When a call last got its answer (epoch ms). */
  private lastAnswerAt = 0;
  /** Calls in flight, each with how to give it up. */
  private readonly inFlight = new Set<(err: Error) => void>();
  private probing = false;
  private closed = false;

  constructor(
    private readonly ping: () => Promise<unknown>,
    private readonly log: Logger,
  ) {}

  /** True from a call that went unanswered until Redis answers a probe (or the connection is made again). */
  get silent(): boolean {
    return this.silentSince !== undefined;
  }

  /**
   * A call got no answer in time: fail the next ones at once, and probe until Redis answers. Unless
   * Redis answered something meanwhile: a timer that fires after this process's own thread was held
   * up (garbage collection, a CPU shared with the workers) runs before the replies that came in the
   * meantime are read, so the verdict waits for those to be read (setImmediate runs after them).
   */
  noAnswer(): void {
    if (this.closed || this.silent) return;
    const at = Date.now();
    setImmediate(() => {
      if (this.lastAnswerAt < at) this.markSilent();
    });
  }

  private markSilent(): void {
    if (this.closed) return;
    if (this.silentSince === undefined) {
      this.silentSince = Date.now();
      this.log.warn('Redis did not answer in time; requests are refused at once (503) until it answers a PING again');
      const giveUp = [...this.inFlight];
      this.inFlight.clear();
      for (const reject of giveUp) reject(new NoAnswerError('Redis did not answer another call in time'));
    }
    if (!this.probing) void this.probe();
  }

  /**
   * `call`, or a NoAnswerError as soon as another call is found unanswered: nothing it waits for will
   * come sooner than that one's answer.
   */
  cut<T>(call: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.inFlight.add(reject);
      call.then(
        (value) => {
          this.lastAnswerAt = Date.now();
          this.inFlight.delete(reject);
          resolve(value);
        },
        (err: unknown) => {
          this.inFlight.delete(reject);
          reject(err);
        },
      );
    });
  }

  /** Redis answered (a probe, or a new connection is ready). */
  answered(): void {
    if (this.silentSince === undefined) return;
    this.log.info({ silentMs: Date.now() - this.silentSince }, 'Redis answers again');
    this.silentSince = undefined;
  }

  close(): void {
    this.closed = true;
  }

  private async probe(): Promise<void> {
    this.probing = true;
    try {
      while (this.silent && !this.closed) {
        await sleep(PROBE_EVERY_MS);
        const ok = await withDeadline(this.ping(), Date.now() + PROBE_TIMEOUT_MS, () => new Error('no answer')).then(
          () => true,
          () => false,
        );
        if (ok) this.answered();
      }
    } finally {
      this.probing = false;
    }
  }
}
