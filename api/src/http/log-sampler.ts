/**
 * Client errors and refusals are logged by sample: under load the same refusal can happen thousands
 * of times a second, and one line each would cost more than the request. Per key (an error code, a
 * bounded set) at most `perWindow` lines are written per window; the next line written says how many
 * were left out in between.
 */
import type { Logger } from '@icls/lib/logger';

export type SampledLevel = 'info' | 'warn' | 'error';

interface Window {
  startedAt: number;
  logged: number;
  suppressed: number;
}

export class LogSampler {
  private readonly windows = new Map<string, Window>();

  constructor(
    private readonly log: Logger,
    private readonly opts: { windowMs: number; perWindow: number } = { windowMs: 10_000, perWindow: 3 },
  ) {}

  /** `key` must come from a bounded set (error codes): it keys a map. */
  write(level: SampledLevel, key: string, fields: Record<string, unknown>, message: string): void {
    const now = Date.now();
    let w = this.windows.get(key);
    if (!w || now - w.startedAt >= this.opts.windowMs) {
      const suppressed = w?.suppressed ?? 0;
      w = { startedAt: now, logged: 0, suppressed };
      this.windows.set(key, w);
    }
    if (w.logged >= this.opts.perWindow) {
      w.suppressed++;
      return;
    }
    w.logged++;
    const extra = w.suppressed ? { similarNotLogged: w.suppressed } : {};
    w.suppressed = 0;
    this.log[level]({ ...fields, ...extra }, message);
  }
}
