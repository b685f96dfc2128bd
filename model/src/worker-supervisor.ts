/**
 * Runs model worker processes beside the api for `npm start` in Redis mode, and restarts one that
 * dies (with a back-off, so a worker that cannot start does not spin).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { Logger } from '@icls/lib/logger';
import { siblingModule } from '@icls/lib/module-path';

const WORKER_ENTRY = siblingModule(import.meta.url, './worker-main');

export class WorkerSupervisor {
  private readonly children = new Set<ChildProcess>();
  private stopping = false;

  constructor(
    private readonly count: number,
    private readonly env: NodeJS.ProcessEnv,
    private readonly log: Logger,
  ) {}

  start(): void {
    for (let i = 0; i < this.count; i++) this.spawnOne(i, 0);
  }

  private spawnOne(slot: number, restarts: number): void {
    const child = spawn(process.execPath, [...process.execArgv, WORKER_ENTRY], { env: this.env, stdio: 'inherit' });
    this.children.add(child);
    const startedAt = Date.now();
    child.on('exit', (code, signal) => {
      this.children.delete(child);
      if (this.stopping) return;
      // A worker that ran a while earns a fresh back-off; one that dies at once waits longer each time.
      const again = Date.now() - startedAt > 30_000 ? 0 : restarts + 1;
      const delay = Math.min(30_000, 500 * 2 ** again);
      this.log.error({ slot, code, signal, restartInMs: delay }, 'model worker exited; restarting');
      setTimeout(() => this.spawnOne(slot, again), delay).unref();
    });
  }

  /** Asks every worker to drain and waits for them (SIGKILL after the grace period). Safe to call twice. */
  async stop(graceMs = 15_000): Promise<void> {
    this.stopping = true;
    await Promise.all(
      [...this.children].map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            const kill = setTimeout(() => child.kill('SIGKILL'), graceMs);
            child.once('exit', () => {
              clearTimeout(kill);
              resolve();
            });
            child.kill('SIGTERM');
          }),
      ),
    );
  }
}
