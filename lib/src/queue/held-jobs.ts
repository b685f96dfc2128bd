/**
 * The jobs an api process is waiting for, kept in full until each is answered or expires, so that a
 * Redis that lost them (restart without persistence, or an add cut off by a dropped connection) can
 * be given them again. Bounded: at most `maxPerModel` per model, the same bound as the model's queue
 * in Redis (an api cannot wait for more jobs of a model than the queue holds).
 */
import type { JobData } from '../job-contract.ts';

interface Held {
  job: JobData;
  /** True once Redis confirmed the add; false when it must be (re-)added. */
  added: boolean;
}

export class HeldJobs {
  private readonly jobs = new Map<string, Held>();
  private readonly perModel = new Map<string, number>();

  constructor(private readonly maxPerModel: number) {}

  /** Holds the job; false when the model already has `maxPerModel` jobs held. */
  hold(job: JobData): boolean {
    const n = this.perModel.get(job.model) ?? 0;
    if (n >= this.maxPerModel) return false;
    this.perModel.set(job.model, n + 1);
    this.jobs.set(job.id, { job, added: false });
    return true;
  }

  /** A held job, while it is awaited. */
  get(id: string): JobData | undefined {
    return this.jobs.get(id)?.job;
  }

  countFor(model: string): number {
    return this.perModel.get(model) ?? 0;
  }

  confirm(id: string): void {
    const h = this.jobs.get(id);
    if (h) h.added = true;
  }

  release(id: string): void {
    const h = this.jobs.get(id);
    if (!h) return;
    this.jobs.delete(id);
    const n = (this.perModel.get(h.job.model) ?? 1) - 1;
    if (n > 0) this.perModel.set(h.job.model, n);
    else this.perModel.delete(h.job.model);
  }

  /** After Redis restarted, no add can be trusted any more. */
  forgetAdds(): void {
    for (const h of this.jobs.values()) h.added = false;
  }

  /** Jobs to add again: not confirmed, and still awaited (deadline not passed). */
  toReadd(now = Date.now()): JobData[] {
    return [...this.jobs.values()].filter((h) => !h.added && h.job.deadline > now).map((h) => h.job);
  }

  get size(): number {
    return this.jobs.size;
  }
}
