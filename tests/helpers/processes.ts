/**
 * Starts the project's real entry points, compiled as they ship (`npm run build`; the test runner builds
 * first), as child processes for end-to-end tests, with their logs kept so a failing test shows what the
 * service said. Each process gets an explicit environment: what the test passes, nothing inherited from
 * the shell but PATH.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_REDIS_URL } from '@icls/lib/config';
import { stopChild } from '@icls/lib/stop-child';
import { deleteKeysWithPrefix } from '@icls/lib/queue/redis-connection';
import { ROOT } from './fixtures.ts';

export interface Service {
  proc: ChildProcess;
  logs: () => string;
  /** Resolves when the process has printed a line matching `pattern`. */
  waitForLog: (pattern: RegExp, timeoutMs?: number) => Promise<string>;
  stop: (signal?: NodeJS.Signals) => Promise<void>;
}

/** node's arguments (flags and entry) of a package.json script of the form `node <flags> <entry>`. */
export function scriptArgs(name: string): string[] {
  const script = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts[name];
  // `exec node …`: the shell npm runs the script in becomes node, so a signal to npm's process reaches it.
  const command = script?.replace(/^exec /, '');
  if (!command?.startsWith('node ')) throw new Error(`package.json script "${name}" is not a plain node command`);
  return command.split(/\s+/).slice(1);
}

/** node's flags of a package.json script (`start:api`, `start:model`): what users' processes run with. */
export const scriptNodeFlags = (name: string): string[] => scriptArgs(name).slice(0, -1);

export const ENTRY = {
  start: join(ROOT, 'dist/start.js'),
  api: join(ROOT, 'api/dist/server.js'),
  worker: join(ROOT, 'model/dist/worker-main.js'),
  models: join(ROOT, 'model/dist/cli/models-cli.js'),
};

/**
 * The whole environment of a process a test starts: PATH (to find binaries) and what the test says.
 * Workers open no metrics port unless the test asks (the default port would clash between tests
 * and with other work on the machine).
 */
export function explicitEnv(env: Record<string, string>): Record<string, string> {
  return { PATH: process.env.PATH ?? '/usr/bin:/bin', LOG_LEVEL: 'info', WORKER_METRICS_PORT: '0', ...env };
}

/** `nodeFlags`: node's own flags before the entry (measuring scripts pass those of the npm scripts). */
export function startService(entry: string, env: Record<string, string>, nodeFlags: readonly string[] = []): Service {
  const proc = spawn(process.execPath, [...nodeFlags, entry], {
    cwd: ROOT,
    // No drain period by default: tests that stop a service do not wait for load balancers.
    env: explicitEnv({ SHUTDOWN_DRAIN_MS: '0', ...env }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const listeners = new Set<() => void>();
  const onData = (d: Buffer) => {
    out += d.toString();
    for (const l of listeners) l();
  };
  proc.stdout!.on('data', onData);
  proc.stderr!.on('data', onData);
  const waitForLog = (pattern: RegExp, timeoutMs = 20_000) =>
    new Promise<string>((resolve, reject) => {
      const check = () => {
        const m = out.match(pattern);
        if (m) {
          listeners.delete(check);
          clearTimeout(timer);
          resolve(m[0]);
        }
      };
      const timer = setTimeout(() => {
        listeners.delete(check);
        reject(new Error(`no log line matching ${pattern} within ${timeoutMs} ms; output:\n${out}`));
      }, timeoutMs);
      listeners.add(check);
      check();
    });
  const stop = (signal: NodeJS.Signals = 'SIGTERM') => stopChild(proc, { signal, graceMs: 10_000 });
  return { proc, logs: () => out, waitForLog, stop };
}

export { freePort, freePortRange } from '@icls/lib/free-port';

/** Fails loudly when Redis is missing: these tests never skip (CI starts Redis). */
export const REDIS_URL = process.env.TEST_REDIS_URL ?? DEFAULT_REDIS_URL;

/** Deletes every key of a test's prefix, so test runs leave nothing behind in a shared Redis. */
export async function deleteRedisPrefix(prefix: string): Promise<void> {
  await deleteKeysWithPrefix(REDIS_URL, prefix);
}

/** True while a process with this pid exists. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'; // exists, but is not ours to signal
  }
}

/** Polls `ok` until it holds; throws `message` after `timeoutMs`. */
export async function waitUntil(ok: () => boolean | Promise<boolean>, timeoutMs: number, message: string): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await ok())) {
    if (Date.now() > until) throw new Error(message);
    await new Promise((r) => setTimeout(r, 20));
  }
}
