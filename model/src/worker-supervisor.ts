/**
 * Runs model worker processes beside the api for `npm start` in Redis mode, and restarts one that
 * stops. A worker tells it "ready" over IPC once it takes jobs: one that stopped after that is
 * restarted at once (it served; a crash or a kill is not a reason to starve the service), one that
 * dies before it is backed off (0.5 s, 1 s, 2 s, … up to 30 s) so a worker that cannot start does not
 * spin. A worker restarted after a ready one died is told the dead one's id (which it sent with
 * "ready"), so it takes over that worker's jobs at once; until it is ready (RESTART_GRACE_MS at most),
 * and READY_OVERLAP_MS after, `restartingModels()` names the models the dead one held, so the api
 * beside it keeps accepting jobs for them (they wait in the stream for the successor) instead of
 * refusing 503 for that second.
 * A ready worker says "alive" over IPC every ALIVE_EVERY_MS from its main thread (the one that reads
 * jobs and beats in Redis); one silent for HUNG_AFTER_MS (stopped, or stuck in a loop) is killed, and
 * so restarted as any ready worker that died. Before, a hung worker stayed hung: its process was there,
 * so nothing replaced it, and with no other worker every request was refused until someone stepped in.
 * Workers run in their own process group, so a Ctrl-C in the terminal reaches only `npm start`,
 * which drains HTTP first and then stops them; if `npm start` itself dies, their IPC channel closes and
 * they stop too.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { Logger } from '@icls/lib/logger';
import { siblingModule } from '@icls/lib/module-path';
import { stopChild } from '@icls/lib/stop-child';

const WORKER_ENTRY = siblingModule(import.meta.url, './worker-main');
const FIRST_BACKOFF_MS = 500;
const MAX_BACKOFF_MS = 30_000;
/** How long the models of a worker that died after ready count as "restarting" without its successor being ready. */
export const RESTART_GRACE_MS = 10_000;
/**
 * How long they still count once the successor is ready: the api's view of live workers is cached
 * (250 ms) and their heartbeats come every quarter of WORKER_DEAD_AFTER_MS, so the successor may not be
 * in it yet. Without this, a request in that moment was refused (503 NOT_READY, seen in tests).
 */
export const READY_OVERLAP_MS = 1000;
/** How often a ready worker says "alive" to its supervisor. */
export const ALIVE_EVERY_MS = 1000;
/**
 * How long a ready worker may be silent before it is taken for hung: four missed "alive"s, far beyond
 * any pause a busy 2-core host gives a process (its main thread only reads jobs and passes them to its
 * inference threads; its Redis heartbeat goes stale after WORKER_DEAD_AFTER_MS, 2 s, and other workers
 * take its jobs over then). Short enough that the successor of a lone worker (the default) answers a
 * request in flight before its deadline (REQUEST_TIMEOUT_MS, 10 s): with 8 s, a stopped worker's
 * requests were answered after 8.5 s with one model and 9.4 s with two (the successor loads each), and
 * a third model would have made them 504s.
 */
export const HUNG_AFTER_MS = 4000;

export interface SupervisorOptions {
  count: number;
  env: NodeJS.ProcessEnv;
  log: Logger;
  /**
   * WORKER_METRICS_PORT: workers on one host cannot share a port, so worker i (from 0) gets this
   * port + i, the same slot keeping its port across restarts. 0: no metrics port.
   */
  metricsPort?: number;
  /** The worker program (tests use small stand-ins), and the node options it needs. */
  entry?: string;
  nodeArgs?: string[];
  /** HUNG_AFTER_MS (tests shorten it). */
  hungAfterMs?: number;
  /**
   * Told once when a worker stops before ready because of a setting no restart can fix (MODELS names
   * a folder that is not there, MODELS_DIR holds no model), with its reason: restarting it forever
   * left the service up and never ready, saying only that no worker ran. No restart follows.
   */
  onUnstartable?: (reason: string) => void;
}

interface Slot {
  child?: ChildProcess;
  /** The id the slot's last ready worker reported: its successor takes over its jobs. */
  workerId?: string;
  /** The models that worker held (as it reported them with "ready"). */
  models: readonly string[];
  /** While a ready worker of this slot died and its successor is starting: until when its models count as restarting. */
  restartingUntil?: number;
  /** Consecutive deaths before "ready". */
  failedStarts: number;
  /** When the slot's ready worker last said anything; unset until it is ready (a start is not watched). */
  heardAt?: number;
  restartTimer?: NodeJS.Timeout;
}

export class WorkerSupervisor {
  private readonly slots: Slot[] = [];
  private stopping = false;
  private unstartable = false;
  private watch?: NodeJS.Timeout;
  private readonly hungAfterMs: number;
  private readonly watchEveryMs: number;
  private lastWatch = Date.now();

  constructor(private readonly opts: SupervisorOptions) {
    this.hungAfterMs = opts.hungAfterMs ?? HUNG_AFTER_MS;
    this.watchEveryMs = Math.min(ALIVE_EVERY_MS, this.hungAfterMs / 4);
  }

  start(): void {
    for (let i = 0; i < this.opts.count; i++) {
      this.slots.push({ failedStarts: 0, models: [] });
      this.spawnOne(i);
    }
    this.lastWatch = Date.now();
    this.watch = setInterval(() => this.killHung(), this.watchEveryMs);
    this.watch.unref();
  }

  /** Kills each ready worker silent for longer than hungAfterMs: its exit restarts it, as any death after ready. */
  private killHung(): void {
    const now = Date.now();
    const late = now - this.lastWatch > 2 * this.watchEveryMs;
    this.lastWatch = now;
    for (const [i, slot] of this.slots.entries()) {
      if (!slot.child || slot.heardAt === undefined) continue;
      // This process's own event loop was held up: the workers' messages may be waiting behind it.
      if (late) {
        slot.heardAt = now;
        continue;
      }
      const silentMs = now - slot.heardAt;
      if (silentMs <= this.hungAfterMs) continue;
      slot.heardAt = undefined;
      this.opts.log.error({ slot: i, workerPid: slot.child.pid, silentMs }, 'model worker stopped answering (hung); killing it so that it is restarted');
      slot.child.kill('SIGKILL');
    }
  }

  private spawnOne(i: number, replaces?: string): void {
    const slot = this.slots[i]!;
    slot.restartTimer = undefined;
    if (this.stopping) return;
    const child = spawn(process.execPath, [...(this.opts.nodeArgs ?? process.execArgv), this.opts.entry ?? WORKER_ENTRY], {
      env: { ...this.opts.env, WORKER_METRICS_PORT: String(this.opts.metricsPort ? this.opts.metricsPort + i : 0) },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      detached: true,
    });
    slot.child = child;
    slot.heardAt = undefined;
    if (replaces) child.send({ type: 'replaces', workerId: replaces }, (err) => err && this.opts.log.warn({ slot: i, err: err.message }, 'could not tell a new worker whom it replaces'));
    let ready = false;
    child.on('message', (m: { type?: string; workerId?: unknown; models?: unknown; reason?: unknown }) => {
      if (ready && slot.child === child) slot.heardAt = Date.now();
      if (m?.type === 'unstartable' && !ready) {
        if (this.unstartable) return;
        this.unstartable = true;
        this.opts.onUnstartable?.(typeof m.reason === 'string' ? m.reason : 'a setting is wrong');
        return;
      }
      if (m?.type !== 'ready') return;
      ready = true;
      if (slot.child === child) slot.heardAt = Date.now();
      slot.failedStarts = 0;
      if (slot.restartingUntil !== undefined) slot.restartingUntil = Math.min(slot.restartingUntil, Date.now() + READY_OVERLAP_MS);
      slot.workerId = typeof m.workerId === 'string' ? m.workerId : undefined;
      slot.models = Array.isArray(m.models) ? m.models.filter((x): x is string => typeof x === 'string') : [];
    });
    child.on('error', (err) => this.opts.log.error({ slot: i, err: err.message }, 'could not start a model worker'));
    child.once('exit', (code, signal) => {
      if (slot.child === child) slot.child = undefined;
      if (this.stopping || this.unstartable) return;
      const delay = ready ? 0 : Math.min(MAX_BACKOFF_MS, FIRST_BACKOFF_MS * 2 ** slot.failedStarts++);
      // A successor that dies before it is ready ends the grace: the models are really down now.
      slot.restartingUntil = ready ? Date.now() + RESTART_GRACE_MS : undefined;
      const fields = { slot: i, workerPid: child.pid, code, signal, restartInMs: delay };
      if (code === 0) this.opts.log.info(fields, 'model worker exited cleanly; restarting it');
      else if (ready) this.opts.log.error(fields, 'model worker died; restarting it at once');
      else this.opts.log.error(fields, 'model worker died before it was ready; restarting it after a back-off');
      slot.restartTimer = setTimeout(() => this.spawnOne(i, ready ? slot.workerId : undefined), delay);
    });
  }

  /**
   * Models held by a worker that died after ready and whose successor is starting (for at most
   * RESTART_GRACE_MS), or ready for less than READY_OVERLAP_MS.
   */
  restartingModels(now = Date.now()): ReadonlySet<string> {
    const models = new Set<string>();
    if (this.stopping) return models;
    for (const slot of this.slots) {
      if (slot.restartingUntil !== undefined && now < slot.restartingUntil) for (const m of slot.models) models.add(m);
    }
    return models;
  }

  /**
   * Stops restarting, asks every worker to drain, and waits for them (SIGKILL after `graceMs`).
   * Safe to call twice, and before start().
   */
  async stop(graceMs = 15_000): Promise<void> {
    this.stopping = true;
    clearInterval(this.watch);
    for (const slot of this.slots) clearTimeout(slot.restartTimer);
    await Promise.all(
      this.slots.map(({ child }) =>
        child
          ? stopChild(child, {
              graceMs,
              forceKill: () => {
                // Else the stop looked clean in the log, though the worker's jobs were cut short.
                this.opts.log.error({ workerPid: child.pid, graceMs }, 'model worker did not stop within the grace period: killed (SIGKILL)');
                child.kill('SIGKILL');
              },
            })
          : undefined,
      ),
    );
  }
}
