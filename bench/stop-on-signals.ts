/**
 * Stops what a load tool started when it is told to stop: Ctrl-C (SIGINT), or SIGTERM (`kill`, `timeout`,
 * a cancelled CI job: with SIGINT only, the started system, its temporary uploads and its Redis keys were
 * left behind). Once, whichever comes first; then exits 130 or 143, as a shell reports those signals.
 */
export function stopOnSignals(stop: (signal: NodeJS.Signals) => Promise<unknown>): void {
  let stopping = false;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      if (stopping) return;
      stopping = true;
      void stop(signal).finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
    });
  }
}
