/**
 * The api's view of live workers, from their heartbeats: which models are served (by how many
 * workers), and which some worker could not load (and why).
 *
 * Right after Redis comes back from a restart, the heartbeats it lost reappear only as each worker
 * reconnects (within a heartbeat interval). For that short grace the models served before the outage
 * still count as served, so readiness does not flap to "no worker" while every worker is alive.
 */
import type { WorkerView } from '../job-contract.ts';
import type { WorkerBeat } from './redis-keys.ts';

/** Reads `[id, beatJson, id, beatJson, …]` as the LIVE_BEATS script returns it. */
export function viewFromBeats(flat: string[]): WorkerView {
  const served = new Map<string, number>();
  const broken = new Map<string, string>();
  const versions = new Map<string, Set<string>>();
  for (let i = 1; i < flat.length; i += 2) {
    const beat = JSON.parse(flat[i]!) as WorkerBeat;
    if (beat.draining) continue;
    for (const m of beat.models) {
      served.set(m, (served.get(m) ?? 0) + 1);
      const v = beat.versions?.[m];
      if (v !== undefined) versions.set(m, (versions.get(m) ?? new Set()).add(v));
    }
    for (const b of beat.broken ?? []) broken.set(b.name, b.reason);
  }
  return { served, broken, versions };
}

export class WorkerViewMemory {
  private last?: WorkerView;
  private graceUntil = 0;

  /** Redis restarted: trust the last view for `ms` while workers re-register. */
  startGrace(ms: number): void {
    this.graceUntil = Date.now() + ms;
  }

  /** The fresh view, completed during the grace by models the last view had. */
  merge(fresh: WorkerView): WorkerView {
    if (Date.now() >= this.graceUntil || !this.last) {
      this.last = fresh;
      return fresh;
    }
    const served = new Map(this.last.served);
    for (const [m, n] of fresh.served) served.set(m, Math.max(n, served.get(m) ?? 0));
    const versions = new Map(this.last.versions);
    for (const [m, v] of fresh.versions ?? []) versions.set(m, v);
    return { served, broken: fresh.broken, versions };
  }
}
