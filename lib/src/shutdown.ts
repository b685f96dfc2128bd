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

/** Wires a shutdown function to the usual signals and exits when it is done. */
export function exitOnSignals(shutdown: () => Promise<void>, log: Logger): void {
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => {
      log.info({ signal }, 'shutting down');
      void shutdown().finally(() => process.exit());
    });
  }
}
