/**
 * Models whose last live worker has just gone, died or stopped. An orchestrator (compose's `restart:`,
 * Kubernetes, systemd) brings a new worker up within seconds, but the api cannot know one is coming:
 * without this, every request for the model in those seconds got 503 NOT_READY. For WORKER_RESTART_GRACE_MS
 * after the api last saw the model served, it still counts as served (by 0 workers), so its requests are
 * queued for the successor; none waits past its own deadline, and once the grace is over without a worker
 * they are refused at once again. `npm start`'s supervisor says exactly when it restarts a worker; this is
 * for every other way of running workers.
 */
import type { WorkerView } from '@icls/lib/job-contract';

/** Models remembered at most: their names come from workers' heartbeats, not from clients, but stay bounded. */
const MAX_MODELS = 1000;

export class RestartGrace {
  /** Model → when it was last seen served (epoch ms); oldest first. */
  private readonly lastServed = new Map<string, number>();

  constructor(private readonly graceMs: number) {}

  /**
   * Notes what `view` serves, then names the models it does not serve but did within the grace. A model
   * that a live worker reports broken, and none serves, leaves the grace at once: that worker came back
   * without it, so waiting for it would only turn quick 503s into 504s.
   */
  missing(view: Pick<WorkerView, 'served' | 'broken'>, now = Date.now()): string[] {
    if (this.graceMs <= 0) return [];
    for (const m of view.broken.keys()) if (!view.served.has(m)) this.lastServed.delete(m);
    for (const m of view.served.keys()) {
      this.lastServed.delete(m);
      this.lastServed.set(m, now);
    }
    for (const m of this.lastServed.keys()) {
      if (this.lastServed.size <= MAX_MODELS) break;
      this.lastServed.delete(m);
    }
    const missing: string[] = [];
    for (const [m, at] of this.lastServed) {
      if (view.served.has(m)) continue;
      if (now - at < this.graceMs) missing.push(m);
      else this.lastServed.delete(m);
    }
    return missing;
  }
}
