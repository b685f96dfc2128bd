/**
 * Takes over the jobs of dead workers, and forgets dead workers once nothing of theirs is left.
 *
 * Every live worker sweeps every heartbeat interval: a consumer of its streams whose heartbeat is
 * missing or older than WORKER_DEAD_AFTER_MS is dead, whatever the model's inference time (inference
 * never delays a heartbeat). Its pending jobs are claimed (XCLAIM with a minimum idle time, so two
 * sweeping workers never both win one) and run here; a job that has already been delivered
 * MAX_DELIVERIES times is failed instead (it kills workers). A dead consumer with nothing pending is
 * deleted from the group, and its heartbeat is removed once it has nothing pending in any stream.
 *
 * A worker known to be dead before its heartbeat goes stale (the process that replaced it was told so
 * by its supervisor, which saw it exit) is taken over at the next sweep instead of after
 * WORKER_DEAD_AFTER_MS: with one worker process per host, its jobs then wait for the restart only.
 */
import { GROUP, modelStreams, MAX_DELIVERIES, beatsKey, heartbeatEvery, workersKey, type WorkerBeat } from './redis-keys.ts';
import type { ScriptedConnection } from './redis-scripts.ts';
import type { Logger } from '../logger.ts';
import { callForBuffers } from './redis-connection.ts';
import { parseClaimReply, type StreamEntry } from './stream-entry.ts';

export interface TakeoverOptions {
  prefix: string;
  workerId: string;
  /** The streams this worker serves: it takes over jobs of these only. */
  keys: string[];
  deadAfterMs: number;
  log: Logger;
  /** Runs a claimed job here. */
  run(key: string, entry: StreamEntry): void;
  /** Fails a job that has killed too many workers. */
  failPoison(key: string, entry: StreamEntry, deliveries: number): Promise<void>;
}

/** Pending entries read per dead consumer and sweep (a consumer holds at most its concurrency). */
const CLAIM_BATCH = 100;
/** Workers known to be dead remembered at most (their ids come from this worker's supervisor). */
const MAX_KNOWN_DEAD = 16;

/** XINFO CONSUMERS in RESP2: flat [name, x, pending, n, …] arrays. */
function parseConsumers(raw: unknown): { name: string; pending: number }[] {
  return (raw as (string | number)[][]).map((fields) => {
    const get = (k: string) => fields[fields.indexOf(k) + 1];
    return { name: String(get('name')), pending: Number(get('pending')) };
  });
}

export class JobTakeover {
  /** Workers whose process is known to have exited, whatever their last heartbeat says. */
  private readonly knownDead = new Set<string>();

  constructor(
    private readonly cmd: ScriptedConnection,
    private readonly opts: TakeoverOptions,
  ) {}

  /** Treats `id` as dead from the next sweep on (its process exited: its supervisor saw it). */
  markDead(id: string): void {
    if (id === this.opts.workerId) return;
    if (this.knownDead.size >= MAX_KNOWN_DEAD) this.knownDead.delete(this.knownDead.values().next().value!);
    this.knownDead.add(id);
  }

  async sweep(): Promise<void> {
    const { prefix, deadAfterMs, workerId } = this.opts;
    const [live, stale] = await this.cmd.liveness(beatsKey(prefix), deadAfterMs);
    const alive = new Set(live.filter((id) => !this.knownDead.has(id)));
    alive.add(workerId);
    for (const key of this.opts.keys) {
      const consumers = parseConsumers(await this.cmd.call('XINFO', 'CONSUMERS', key, GROUP).catch(noGroupIsEmpty));
      for (const c of consumers) {
        if (alive.has(c.name)) continue;
        if (c.pending > 0) await this.claimFrom(key, c.name);
        else await this.cmd.dropIdleConsumer(key, GROUP, c.name);
      }
    }
    for (const id of stale) if (id !== workerId) await this.forgetIfDone(id);
  }

  private async claimFrom(key: string, dead: string): Promise<void> {
    const minIdle = heartbeatEvery(this.opts.deadAfterMs);
    const pending = (await this.cmd.call('XPENDING', key, GROUP, 'IDLE', minIdle, '-', '+', CLAIM_BATCH, dead)) as [
      string,
      string,
      number,
      number,
    ][];
    for (const [entryId, , , deliveries] of pending) {
      // As Buffers, like every read of a job: its image must arrive byte for byte.
      const entry = parseClaimReply(await callForBuffers(this.cmd, 'xclaim', key, GROUP, this.opts.workerId, minIdle, entryId))[0];
      if (!entry || entry.fields.size === 0) continue; // another worker won it, or it was deleted meanwhile
      this.opts.log.warn({ entryId, from: dead, deliveries }, 'took over a job of a worker that stopped beating');
      if (deliveries >= MAX_DELIVERIES) await this.opts.failPoison(key, entry, deliveries);
      else this.opts.run(key, entry);
    }
  }

  /** Removes a stale worker's heartbeat and consumers once it has nothing pending in any of its streams. */
  private async forgetIfDone(id: string): Promise<void> {
    const { prefix, deadAfterMs } = this.opts;
    const raw = await this.cmd.hget(workersKey(prefix), id);
    const models = raw ? (JSON.parse(raw) as WorkerBeat).models : [];
    const keys = models.flatMap((m) => modelStreams(prefix, m));
    for (const key of keys) {
      const left = (await this.cmd.call('XPENDING', key, GROUP, '-', '+', 1, id).catch(noGroupIsEmpty)) as unknown[];
      if (left.length > 0) return; // a worker serving that model takes it over first
    }
    if ((await this.cmd.forget(workersKey(prefix), beatsKey(prefix), id, deadAfterMs)) === 0) return; // it came back
    for (const key of keys) await this.cmd.dropIdleConsumer(key, GROUP, id);
    this.opts.log.info({ worker: id }, 'forgot a dead worker');
  }
}

/** A stream or group that does not exist (yet, or since Redis lost its data) has no consumers. */
function noGroupIsEmpty(err: unknown): unknown[] {
  if (/NOGROUP|no such key/i.test((err as Error).message)) return [];
  throw err;
}
