/**
 * The system as compose or Kubernetes runs it: the api (`npm run start:api`) and one model worker
 * (`npm run start:model`) as separate processes, no `npm start` supervisor between them, and the worker
 * started again `restartDelayMs` after it dies, as an orchestrator's restart policy does. The api is not
 * told about restarts: what it does meanwhile is what the chaos run measures in this mode.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { DEFAULT_REDIS_URL } from '@icls/lib/config';
import { stopChild } from '@icls/lib/stop-child';
import { scriptArgs } from '../tests/helpers/processes.ts';
import { deleteRedisKeys, planSystem, readLines, ROOT, waitReady, type RunningSystem, type SystemOptions } from './system.ts';

export interface WorkerExit {
  at: number;
  pid: number;
  code: number | null;
  signal: string | null;
}

export interface OrchestratedSystem extends RunningSystem {
  /** The worker process running now (none between a death and its restart). */
  workerPids(): number[];
}

export async function startOrchestrated(
  opts: SystemOptions & { restartDelayMs: number; onWorkerExit: (exit: WorkerExit) => void },
): Promise<OrchestratedSystem> {
  const { port, work, prefix, env } = await planSystem(opts);
  const tail: string[] = [];
  const children = new Set<ChildProcess>();
  let stopping = false;
  const launch = (script: 'start:api' | 'start:model'): ChildProcess => {
    const child = spawn(process.execPath, scriptArgs(script), { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(child);
    child.once('exit', () => children.delete(child));
    readLines(child, (line) => opts.onLine?.(line), tail);
    return child;
  };
  let worker: ChildProcess | undefined;
  let restartTimer: NodeJS.Timeout | undefined;
  const startWorker = () => {
    const child = launch('start:model');
    worker = child;
    child.once('exit', (code, signal) => {
      worker = undefined;
      opts.onWorkerExit({ at: Date.now(), pid: child.pid!, code, signal });
      if (stopping) return;
      opts.log(`worker ${child.pid} exited (${code ?? signal}); the orchestrator starts another in ${opts.restartDelayMs} ms`);
      restartTimer = setTimeout(startWorker, opts.restartDelayMs);
    });
  };
  const api = launch('start:api');
  startWorker();
  const killAll = () => {
    for (const c of children) c.kill('SIGKILL');
  };
  process.once('exit', killAll);
  const url = `http://127.0.0.1:${port}`;
  opts.log(`starting the api and one worker as separate processes on ${url} (REDIS_PREFIX=${prefix}, MODELS=${opts.model}), restarting the worker ${opts.restartDelayMs} ms after it dies`);
  let stopped = false;
  const system: OrchestratedSystem = {
    url,
    pid: api.pid!,
    env,
    mode: 'redis',
    logTail: () => tail.join('\n'),
    workerPids: () => (worker?.pid !== undefined && worker.exitCode === null && worker.signalCode === null ? [worker.pid] : []),
    async stop() {
      if (stopped) return;
      stopped = stopping = true;
      clearTimeout(restartTimer);
      await stopChild(api, { graceMs: 20_000 });
      await Promise.all([...children].map((c) => stopChild(c, { graceMs: 20_000 })));
      process.removeListener('exit', killAll);
      await rm(work, { recursive: true, force: true });
      await deleteRedisKeys(env.REDIS_URL || process.env.REDIS_URL || DEFAULT_REDIS_URL, prefix, opts.log);
    },
  };
  try {
    await waitReady(url, opts.readyTimeoutMs, () => (api.exitCode !== null ? `the api exited (${api.exitCode}) during start-up; its last lines:\n${tail.join('\n')}` : undefined));
  } catch (err) {
    await system.stop();
    throw err;
  }
  return system;
}
