/**
 * Where the next inference runs: on the solo session with every core (a lone job: latency), or on one
 * lane with one core's worth of threads (several jobs: throughput). Pure, so the policy is tested on
 * its own.
 *
 * ONNX Runtime fixes a session's thread count when it opens, so the pool holds both kinds: one
 * session per lane, and one solo session on lane 0's thread. A solo run takes every lane (it uses
 * every core); lanes run side by side. A job is "lone" when it is the only one the process holds (none
 * other is being decoded or waits), no lane runs and nothing is queued: then the cores would idle
 * anyway, and the solo session finishes it about `lanes` times sooner.
 */

/** How a caller wants a run placed: `auto` follows the load; the others force it (the bench's limits). */
export type RunShape = 'auto' | 'solo' | 'lane';

export interface PoolLoad {
  /** Busy flag per lane. */
  busyLanes: readonly boolean[];
  /** A solo run is in progress (it holds every lane). */
  soloBusy: boolean;
  /** Whether the pool has a solo session at all. */
  hasSolo: boolean;
  /** Jobs the process holds (decoding or inferring), this one included. */
  jobsInFlight: number;
  /** Runs waiting behind this one. */
  queuedBehind: number;
}

export type Placement = { kind: 'solo' } | { kind: 'lane'; lane: number };

/** The placement of the run at the head of the queue, or undefined when it must wait. */
export function chooseLane(load: PoolLoad, shape: RunShape): Placement | undefined {
  if (load.soloBusy) return undefined;
  const allIdle = load.busyLanes.every((b) => !b);
  const wantsSolo = shape === 'solo' || (shape === 'auto' && load.jobsInFlight <= 1 && load.queuedBehind === 0);
  if (wantsSolo && load.hasSolo) return allIdle ? { kind: 'solo' } : shape === 'solo' ? undefined : firstIdle(load.busyLanes);
  if (shape === 'solo') return allIdle ? { kind: 'lane', lane: 0 } : undefined; // no solo session: lane 0 is the best there is
  return firstIdle(load.busyLanes);
}

function firstIdle(busy: readonly boolean[]): Placement | undefined {
  const lane = busy.indexOf(false);
  return lane < 0 ? undefined : { kind: 'lane', lane };
}
