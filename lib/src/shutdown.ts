/**
 * Graceful shutdown: on SIGTERM/SIGINT run every step in order, each even if an earlier one failed,
 * then exit. Calling it twice (a second signal) does not run the steps twice.
 */
import type { Logger } from './logger.ts';

export type ShutdownStep = [name: string, run: () => Promise<unknown> | unknown];

export function createShutdown(log: Logger, steps: ShutdownStep[]): () => Promise<void> {
  let running: Promise<void> | undefined;
  const shutdown = () => {
    running ??= (async () => {
      let failed = false;
      for (const [name, run] of steps) {
        try {
          await run();
        } catch (err) {
          failed = true;
          log.error({ err, step: name }, 'shutdown step failed');
        }
      }
      log.info('stopped');
      // A stop asked for because of a failure (a worker that cannot start) has set its exit code already.
      if (failed) process.exitCode = 1;
      else process.exitCode ??= 0;
    })();
    return running;
  };
  return shutdown;
}

/**
 * A signal this soon after the first is the same stop, delivered twice: Ctrl-C (or systemd's stop, or
 * `timeout`) signals the whole process group, npm included, and npm forwards it to us again within a
 * few milliseconds. Counted as a second Ctrl-C, it skipped the drain of every `npm start`.
 */
export const SIGNAL_ECHO_MS = 500;

/**
 * Wires a shutdown function to the usual signals and exits when it is done. A second signal while
 * it runs (a second Ctrl-C) exits at once, skipping what is left (drain period included), unless it
 * comes within SIGNAL_ECHO_MS of the first.
 */
export function exitOnSignals(shutdown: () => Promise<void>, log: Logger): void {
  let firstAt: number | undefined;
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => {
      if (firstAt !== undefined) {
        if (performance.now() - firstAt < SIGNAL_ECHO_MS) {
          log.debug({ signal }, 'the same stop signalled again (npm forwards it): still shutting down gracefully');
          return;
        }
        log.warn({ signal }, 'second signal: stopping now');
        process.exit(1);
      }
      firstAt = performance.now();
      log.info({ signal }, 'shutting down');
      void shutdown().finally(() => process.exit());
    });
  }
}
