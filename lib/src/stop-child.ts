/**
 * Stopping a child process the one way every part of the project does it: a signal that asks it to
 * drain (SIGTERM by default), then SIGKILL if it has not exited after a grace period.
 */
import type { ChildProcess } from 'node:child_process';

export interface StopOptions {
  signal?: NodeJS.Signals;
  graceMs: number;
  /** Called instead of a plain SIGKILL of the child when the grace period ends (e.g. to kill its tree). */
  forceKill?: () => void;
}

/** Resolves once the child has exited; at once if it already had. */
export function stopChild(child: ChildProcess, opts: StopOptions): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const kill = setTimeout(opts.forceKill ?? (() => child.kill('SIGKILL')), opts.graceMs);
    child.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    child.kill(opts.signal ?? 'SIGTERM');
  });
}
