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
      process.exitCode = failed ? 1 : 0;
    })();
    return running;
  };
  return shutdown;
}

/**
 * Wires a shutdown function to the usual signals and exits when it is done. A second signal while
 * it runs (a second Ctrl-C) exits at once, skipping what is left (drain period included).
 */
export function exitOnSignals(shutdown: () => Promise<void>, log: Logger): void {
  let signalled = false;
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => {
      if (signalled) {
        log.warn({ signal }, 'second signal: stopping now');
        process.exit(1);
      }
      signalled = true;
      log.info({ signal }, 'shutting down');
      void shutdown().finally(() => process.exit());
    });
  }
}
