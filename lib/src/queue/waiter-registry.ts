/**
 * Requests waiting for their job's result, keyed by job id. One registry serves every in-flight
 * request of a process: results arrive through a single subscription and are handed to the waiter.
 * Each waiter carries its deadline; when it passes the request fails with 504 and is forgotten,
 * so a late result is dropped instead of leaking.
 */
import { AppError } from '../errors.ts';

interface Waiter<T> {
  resolve: (value: T) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

export class WaiterRegistry<T> {
  private readonly waiters = new Map<string, Waiter<T>>();

  /** Registers a waiter for `id` that fails with DEADLINE_EXCEEDED at `deadline` (epoch ms). */
  wait(id: string, deadline: number, onExpire?: () => void): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(
        () => {
          this.waiters.delete(id);
          onExpire?.();
          reject(new AppError('DEADLINE_EXCEEDED', 'no worker answered in time; the workers may be busy or restarting: try again in a moment'));
        },
        Math.max(0, deadline - Date.now()),
      );
      this.waiters.set(id, { resolve, reject, timer });
    });
  }

  resolve(id: string, value: T): void {
    const w = this.take(id);
    w?.resolve(value);
  }

  reject(id: string, err: Error): void {
    const w = this.take(id);
    w?.reject(err);
  }

  rejectAll(make: () => Error): void {
    for (const id of [...this.waiters.keys()]) this.reject(id, make());
  }

  /** Ids of every request still waiting. */
  ids(): string[] {
    return [...this.waiters.keys()];
  }

  get size(): number {
    return this.waiters.size;
  }

  private take(id: string): Waiter<T> | undefined {
    const w = this.waiters.get(id);
    if (!w) return undefined;
    clearTimeout(w.timer);
    this.waiters.delete(id);
    return w;
  }
}
