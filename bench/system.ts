/**
 * Starts and stops the system under test: `node dist/start.js` (the compiled entry of `npm start`) on a free port, bound to 127.0.0.1, with its own Redis key prefix and temporary
 * upload/feedback folders, serving only the benched model. Also the readiness/reachability checks
 * used when benching a system started elsewhere (`--url`).
 */
import { DEFAULT_REDIS_URL } from '@icls/lib/config';
import { freePort } from '@icls/lib/free-port';
import { stopChild } from '@icls/lib/stop-child';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deleteKeysWithPrefix } from '@icls/lib/queue/redis-connection';
import { HttpClient } from './http-client.ts';
import { childrenOf } from './proc-stats.ts';
import { scriptArgs } from '../tests/helpers/processes.ts';

export const ROOT = fileURLToPath(new URL('../', import.meta.url));
const START_ENTRY = join(ROOT, 'dist/start.js');
/** What `npm start` runs, node's flags included. */
const START_ARGS = scriptArgs('start');

export interface SystemOptions {
  modelsDir: string;
  model: string;
  /** MODEL_WORKERS; undefined keeps the environment's (default: one per host, using every core). */
  workers?: number;
  readyTimeoutMs: number;
  log: (msg: string) => void;
  /** More environment for start.ts (e.g. the chaos run's own REDIS_URL). */
  env?: Record<string, string>;
  /** Every line start.ts (api and workers) prints. */
  onLine?: (line: string) => void;
}

export interface RunningSystem {
  url: string;
  /** The start.ts process: the api, parent of the model workers. */
  pid: number;
  /** The environment it was given, minus what it inherited unchanged (for the report). */
  env: Record<string, string>;
  /** "redis" or "embedded", as start.ts logged it. */
  mode: string;
  /** The last lines it printed (api and workers share its stdout). */
  logTail(): string;
  /** SIGTERM, wait (SIGKILL after the grace period), delete temp folders and this run's Redis keys. */
  stop(): Promise<void>;
}

export { freePort };

/** Throws a one-line error when nothing answers HTTP at `url`. */
export async function checkReachable(url: string): Promise<void> {
  const client = new HttpClient(url);
  try {
    const r = await client.request('GET', '/healthz', { timeoutMs: 5000 });
    if (r.status === 0) throw new Error(`target ${url} is not reachable (${r.error})`);
    if (r.status !== 200) throw new Error(`target ${url} answered ${r.status} to GET /healthz; is it this service?`);
  } finally {
    client.close();
  }
}

/**
 * Polls GET /readyz until it answers 200 (start-up only). `alive` lets the caller stop waiting for
 * a process that already exited.
 */
export async function waitReady(url: string, timeoutMs: number, alive: () => string | undefined = () => undefined): Promise<void> {
  const client = new HttpClient(url);
  const until = Date.now() + timeoutMs;
  let last = 'no answer';
  try {
    while (Date.now() < until) {
      const dead = alive();
      if (dead) throw new Error(dead);
      const r = await client.request('GET', '/readyz', { timeoutMs: 3000 });
      if (r.status === 200) return;
      last = r.status ? `${r.status} ${r.body.slice(0, 200)}` : (r.error ?? 'no answer');
      await new Promise((res) => setTimeout(res, 250));
    }
    throw new Error(`${url}/readyz not 200 after ${Math.round(timeoutMs / 1000)} s (last: ${last})`);
  } finally {
    client.close();
  }
}

/** What every process of a benched system gets: its port, prefix and folders. */
export interface SystemPlan {
  port: number;
  /** A temporary folder (uploads, feedback) removed at stop. */
  work: string;
  prefix: string;
  env: Record<string, string>;
}

/** The port, Redis prefix, temporary folders and environment of one benched system. */
export async function planSystem(opts: Pick<SystemOptions, 'modelsDir' | 'model' | 'workers' | 'env'>): Promise<SystemPlan> {
  const port = await freePort();
  const work = await mkdtemp(join(tmpdir(), 'icls-bench-run-'));
  const prefix = `icls-bench-${Date.now().toString(36)}-${process.pid}`;
  const env: Record<string, string> = {
    PORT: String(port),
    // Only this machine can reach the benched instance.
    HOST: '127.0.0.1',
    REDIS_PREFIX: prefix,
    MODELS_DIR: opts.modelsDir,
    // Workers load only the benched model (memory and load time), and it is the default.
    MODELS: opts.model,
    DEFAULT_MODEL: opts.model,
    UPLOAD_DIR: join(work, 'uploads'),
    FEEDBACK_DIR: join(work, 'feedback'),
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'info',
    // Stopping the benched system waits for no load balancer.
    SHUTDOWN_DRAIN_MS: '0',
    // No worker metrics ports unless asked: they would clash with an `npm start` running beside.
    WORKER_METRICS_PORT: process.env.WORKER_METRICS_PORT ?? '0',
    ...opts.env,
  };
  if (opts.workers !== undefined) env.MODEL_WORKERS = String(opts.workers);
  return { port, work, prefix, env };
}

/**
 * Hands each whole line a child prints to `onLine` (a line split across chunks is one line), keeping the
 * last 60 for error reports. The pipes are drained whatever happens, or a chatty child blocks on a full pipe.
 */
export function readLines(child: ChildProcess, onLine: (line: string) => void, tail: string[]): void {
  for (const stream of [child.stdout!, child.stderr!]) {
    let partial = '';
    stream.on('data', (d: Buffer) => {
      const lines = (partial + d.toString()).split('\n');
      partial = lines.pop()!;
      for (const line of lines) {
        if (!line) continue;
        onLine(line);
        tail.push(line);
        if (tail.length > 60) tail.shift();
      }
    });
  }
}

/** Starts start.ts and waits until it is ready to classify with the benched model. */
export async function startSystem(opts: SystemOptions): Promise<RunningSystem> {
  const { port, work, prefix, env } = await planSystem(opts);
  if (!existsSync(START_ENTRY)) throw new Error(`${START_ENTRY} is missing: run \`npm run build\` first`);
  const child = spawn(process.execPath, START_ARGS, {
    cwd: ROOT, // START_ARGS are relative to the root, as npm runs them
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const tail: string[] = [];
  let mode = 'unknown';
  readLines(
    child,
    (line) => {
      if (line.includes('embedded mode')) mode = 'embedded';
      else if (line.includes('redis mode')) mode = 'redis';
      opts.onLine?.(line);
    },
    tail,
  );
  const killOnExit = () => killTree(child, 'SIGKILL');
  process.once('exit', killOnExit);

  const url = `http://127.0.0.1:${port}`;
  const exited = () =>
    child.exitCode !== null || child.signalCode !== null
      ? `the system exited (${child.exitCode ?? child.signalCode}) during start-up; its last lines:\n${tail.join('\n')}`
      : undefined;
  opts.log(`starting the system: node ${START_ARGS.join(' ')} on ${url} (REDIS_PREFIX=${prefix}, MODELS=${opts.model})`);
  let stopped = false;
  const system: RunningSystem = {
    url,
    pid: child.pid!,
    env,
    get mode() {
      return mode;
    },
    logTail: () => tail.join('\n'),
    async stop() {
      if (stopped) return;
      stopped = true;
      // SIGTERM: start.ts drains HTTP, then stops its workers; their whole tree is killed if it hangs.
      await stopChild(child, { graceMs: 20_000, forceKill: () => killTree(child, 'SIGKILL') });
      process.removeListener('exit', killOnExit);
      await rm(work, { recursive: true, force: true });
      if (mode === 'redis') await deleteRedisKeys(env.REDIS_URL || process.env.REDIS_URL || DEFAULT_REDIS_URL, prefix, opts.log);
    },
  };
  try {
    await waitReady(url, opts.readyTimeoutMs, exited);
  } catch (err) {
    await system.stop();
    throw new Error(`${(err as Error).message}\n--- system output ---\n${tail.join('\n')}`);
  }
  return system;
}

export interface ExtraApi {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

/**
 * One more api process beside a started system (what `npm run start:api` runs), on the same Redis,
 * prefix and folders: the scaling measurement's second api replica.
 */
export async function startExtraApi(system: RunningSystem, opts: { readyTimeoutMs: number; log: (msg: string) => void }): Promise<ExtraApi> {
  const port = await freePort();
  const child = spawn(process.execPath, scriptArgs('start:api'), {
    cwd: ROOT,
    env: { ...process.env, ...system.env, PORT: String(port) },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    await stopChild(child, { graceMs: 10_000 });
    process.removeListener('exit', killOnExit);
  };
  try {
    await waitReady(url, opts.readyTimeoutMs, () => (child.exitCode !== null ? `the extra api exited (${child.exitCode})` : undefined));
  } catch (err) {
    await stop();
    throw err;
  }
  opts.log(`extra api ready on ${url} (pid ${child.pid})`);
  return { url, pid: child.pid!, stop };
}

/** SIGKILLs a child and the workers it started (by pid: only processes this bench started). */
function killTree(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  for (const pid of childrenOf(child.pid)) {
    try {
      process.kill(pid, signal);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
    }
  }
  child.kill(signal);
}

/** Deletes this run's keys (its prefix is unique), so repeated runs do not litter a shared Redis. */
export async function deleteRedisKeys(redisUrl: string, prefix: string, log: (msg: string) => void): Promise<void> {
  try {
    log(`deleted ${await deleteKeysWithPrefix(redisUrl, prefix)} Redis keys of prefix ${prefix}`);
  } catch (err) {
    log(`warning: could not delete Redis keys of prefix ${prefix}: ${(err as Error).message}`);
  }
}
